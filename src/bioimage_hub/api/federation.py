"""Apollo Federation v2: `_entities` resolved in ONE Cypher statement per request.

strawberry's built-in resolver calls `resolve_reference` once per representation (one query
each, the Neo4j GraphQL Library's failure) and raises AttributeError on malformed input. Here
representations are validated first (a clear error per bad item, at its index), grouped by type,
and fetched with one `UNWIND` lookup per type, all inside a single statement.
"""

from __future__ import annotations

from typing import Any

import strawberry.federation
from graphql import GraphQLError
from strawberry.federation.schema import FederationAny
from strawberry.types import Info

from bioimage_hub.api.selection import Field
from bioimage_hub.graph.query.catalog import TYPES
from bioimage_hub.graph.query.compiler import CURSOR_KEY, Compiled, Compiler, QueryError
from bioimage_hub.ontology.curie import InvalidIdentifier, normalize_curie

# federated type -> the @key field clients send
ENTITY_KEYS: dict[str, str] = {
    "Study": "accession",
    "Image": "id",
    "Gene": "id",
    "OntologyTerm": "id",
    "Publication": "id",
    "CrossReference": "id",
}
MAX_REPRESENTATIONS = 500


def _key(type_name: str, raw: Any) -> str:
    value = str(raw)
    if type_name == "CrossReference":
        from bioimage_hub.xrefs.identifiers import InvalidCrossReference, parse_xref

        try:
            return parse_xref(value).curie
        except (InvalidCrossReference, ValueError) as exc:
            raise QueryError(str(exc)) from exc
    if type_name == "OntologyTerm":
        try:
            return normalize_curie(value)
        except InvalidIdentifier as exc:
            raise QueryError(str(exc)) from exc
    return value


def compile_entities(c: Compiler, f: Field, groups: dict[str, list[str]]) -> Compiled:
    parts = []
    for type_name, keys in groups.items():
        node_type = TYPES[type_name]
        dst = c.var()
        holder = Field("entity", "entity", {}, None, f.for_type(type_name))
        projection = c.project(type_name, dst, holder.for_type(type_name), cursor=True)
        parts.append(
            f"`{type_name}`: COLLECT {{ UNWIND {c.param(keys)} AS k "
            f"MATCH ({dst}:{node_type.label} {{{node_type.key}: k}}) RETURN {projection} }}"
        )
    return Compiled("RETURN {" + ", ".join(parts) + "} AS result", c.params)


class FederatedSchema(strawberry.federation.Schema):
    async def entities_resolver(  # type: ignore[override]
        self, info: Info, representations: list[FederationAny]
    ) -> list[Any]:
        if len(representations) > MAX_REPRESENTATIONS:
            raise GraphQLError(
                f"representations: at most {MAX_REPRESENTATIONS} per request, got {len(representations)}"
            )
        wanted: list[tuple[str, str] | GraphQLError] = []
        groups: dict[str, list[str]] = {}
        for index, rep in enumerate(representations):
            problem = None
            if not isinstance(rep, dict):
                problem = "must be an object with __typename and its key field"
            elif rep.get("__typename") not in ENTITY_KEYS:
                problem = f"__typename must be one of {', '.join(sorted(ENTITY_KEYS))}"
            else:
                type_name = rep["__typename"]
                key_field = ENTITY_KEYS[type_name]
                raw = rep.get(key_field)
                if not isinstance(raw, (str, int)) or isinstance(raw, bool) or str(raw) == "":
                    problem = f"{type_name} needs its key field `{key_field}` as a non-empty string"
                else:
                    try:
                        key = _key(type_name, raw)
                    except QueryError as exc:
                        problem = str(exc)
                    else:
                        wanted.append((type_name, key))
                        groups.setdefault(type_name, [])
                        if key not in groups[type_name]:
                            groups[type_name].append(key)
                        continue
            wanted.append(GraphQLError(f"representations[{index}]: {problem}"))
        found: dict[str, dict[str, Any]] = {}
        if groups:
            # the same path as every root field: cost charge, compile, embargo, one statement
            from bioimage_hub.api.schema import execute

            result = await execute(info, lambda c, f: compile_entities(c, f, groups))
            for type_name, items in (result or {}).items():
                found[type_name] = {item[CURSOR_KEY]: item for item in items}
        out: list[Any] = []
        for item in wanted:
            if isinstance(item, GraphQLError):
                out.append(item)
            else:
                out.append(found.get(item[0], {}).get(item[1]))
        return out
