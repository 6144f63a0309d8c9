"""The GraphQL schema: root fields, each compiled to one Cypher statement.

Where a root field is resolved: `Query` below. Where its Cypher comes from:
`bioimage_hub.graph.query.roots` (start and filters) and `compiler.py` (the selection).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from bioimage_hub.api import mutations, ontology_types
from bioimage_hub.api import types as t
from bioimage_hub.api.execution import FastCompletion
from bioimage_hub.api.pixels_types import LONG_SCALAR, Long
from bioimage_hub.api.selection import root_field
from bioimage_hub.config import PROJECT_ROOT, get_settings
from bioimage_hub.graph.driver import UNAVAILABLE_MESSAGE, GraphUnavailable, QueryTimeout
from bioimage_hub.graph.query import access, roots
from bioimage_hub.graph.query.compiler import Compiled, Compiler, QueryError
from bioimage_hub.graph.query.cost import QueryTooExpensive, request_field_cost
from bioimage_hub.graph.query.cursor import InvalidCursor
from bioimage_hub.models.identifiers import InvalidDOI

SCHEMA_FILE = PROJECT_ROOT / "schema.graphql"
Builder = Callable[[Compiler, Any], Compiled]


class ClientError(GraphQLError):
    """An error the client can act on; its message is shown as is."""


def charge(info: Info, selection: Any) -> None:
    """Add this root field's cost to the request's; refuse it when over the limit."""
    settings = info.context.settings
    field_cost = request_field_cost(selection, settings.default_page_size)
    info.context.cost += field_cost
    if info.context.cost > settings.max_query_cost:
        raise QueryTooExpensive(
            f"query cost {info.context.cost} exceeds the limit of {settings.max_query_cost} "
            f"(cost = page size x nested cost); lower `first` or select fewer nested lists"
        )


async def execute(info: Info, build: Builder) -> Any:
    """Compile the root field's whole selection and run it as ONE statement."""
    settings = info.context.settings
    compiler = Compiler(max_page_size=settings.max_page_size, default_page_size=settings.default_page_size)
    try:
        selection = root_field(info._raw_info)
        charge(info, selection)
        compiled = build(compiler, selection)
    except (QueryError, InvalidCursor, QueryTooExpensive, InvalidDOI) as exc:  # InvalidDOI: publication(doi:)
        raise ClientError(str(exc)) from exc
    compiled = access.apply(compiled, info.context.viewer)
    try:
        rows = await info.context.run(compiled.cypher, compiled.params)
    except GraphUnavailable as exc:  # api/ops.GraphQLObserver turns the response into a 503
        raise ClientError(str(exc) or UNAVAILABLE_MESSAGE, extensions={"code": "SERVICE_UNAVAILABLE"}) from exc
    except QueryTimeout as exc:
        raise ClientError(f"{exc}; narrow the filters or lower `first`", extensions={"code": "TIMEOUT"}) from exc
    return rows[0]["result"] if rows else None


@strawberry.type
class Query:
    @strawberry.field(description="A study by accession (e.g. idr0004).")
    async def study(self, info: Info, accession: str) -> t.Study | None:
        return await execute(info, roots.study)

    @strawberry.field(description="Studies ordered by accession.")
    async def studies(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: t.StudyFilter | None = None,
    ) -> t.Connection[t.Study]:
        return t.make_connection(await execute(info, roots.studies), after)

    @strawberry.field(description="An image by id.")
    async def image(self, info: Info, id: strawberry.ID) -> t.Image | None:
        return await execute(info, roots.image)

    @strawberry.field(description="Images ordered by id, filtered by phenotype (with subterms), gene, organism, imaging method, study.")
    async def images(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: t.ImageFilter | None = None,
    ) -> t.Connection[t.Image]:
        return t.make_connection(await execute(info, roots.images), after)

    @strawberry.field(description="A gene by identifier.")
    async def gene(self, info: Info, id: strawberry.ID) -> t.Gene | None:
        return await execute(info, roots.gene)

    @strawberry.field(description="Genes by symbol (case-insensitive) and/or organism.")
    async def genes(
        self,
        info: Info,
        symbol: str | None = None,
        organism: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> t.Connection[t.Gene]:
        return t.make_connection(await execute(info, roots.genes), after)

    @strawberry.field(description="An ontology term by CURIE (CMPO:0000426), short form (CMPO_0000426) or IRI.")
    async def term(self, info: Info, id: strawberry.ID) -> t.OntologyTerm | None:
        return await execute(info, roots.term)

    @strawberry.field(
        description="Search term labels and synonyms: exact label, exact synonym, label prefix, "
        "every word, substring — best first, case-insensitive."
    )
    async def search_terms(
        self,
        info: Info,
        query: str,
        ontologies: list[str] | None = None,
        include_obsolete: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> t.Connection[t.TermSearchHit]:
        raw = await execute(info, roots.search_terms)
        for row in (raw or {}).get("page") or []:
            row["match_type"] = t.MatchType(row["rank"])
        return t.make_connection(raw, after)

    @strawberry.field(description="A publication by DOI (bare or URL) or PubMed ID.")
    async def publication(
        self, info: Info, doi: str | None = None, pmid: str | None = None
    ) -> t.Publication | None:
        return await execute(info, roots.publication)

    @strawberry.field(
        description="Cross-referenced entries and what links to them: one entry by `id` "
        "(EMPIAR-10028, emdb:EMD-2660, a PDB id or URL), or every entry of a `resource` (emdb, pdb, ...)."
    )
    async def cross_links(
        self,
        info: Info,
        id: str | None = None,
        resource: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> t.Connection[t.CrossReference]:
        return t.make_connection(await execute(info, roots.cross_links), after)

    @strawberry.field(description="Every accepted version of a submitted study, oldest first.")
    async def study_versions(self, info: Info, accession: str) -> list[mutations.StudyVersion]:
        return await mutations.study_versions(info, accession)

    @strawberry.field(description="One version of a submitted study, with its document as accepted.")
    async def study_version(self, info: Info, accession: str, version: int) -> mutations.StudyVersion | None:
        return await mutations.study_version(info, accession, version)

    @strawberry.field(description="What changed between two versions of a submitted study.")
    async def study_version_diff(
        self, info: Info, accession: str, from_version: int, to_version: int
    ) -> list[mutations.VersionChange] | None:
        return await mutations.study_version_diff(info, accession, from_version, to_version)

    @strawberry.field(description="Reports of ontology upgrades (newest first): what changed and which annotations it affects.")
    async def ontology_upgrades(self, info: Info, ontology: str | None = None) -> list[ontology_types.OntologyUpgrade]:
        return await ontology_types.ontology_upgrades(info, ontology)

    @strawberry.field(description="All organisms.")
    async def organisms(self, info: Info) -> list[t.Organism]:
        return await execute(info, roots.organisms)

    @strawberry.field(description="Loaded ontologies with version and term count.")
    async def ontologies(self, info: Info) -> list[t.Ontology]:
        return await execute(info, roots.ontologies)

    @strawberry.field(description="Any object by its id.")
    async def node(self, info: Info, id: strawberry.ID) -> t.Node | None:
        return await execute(info, roots.node)


class StatementCount(SchemaExtension):
    """Report the request's Cypher cost: `X-Cypher-Statements` / `X-Cypher-Time-Ms` headers and
    `extensions.cost`; with the `expose_cypher` setting, also the statements themselves."""

    def on_execute(self):  # type: ignore[override]
        yield
        context = self.execution_context.context
        response = getattr(context, "response", None)
        if response is not None:
            response.headers["X-Cypher-Statements"] = str(context.log.count)
            response.headers["X-Cypher-Time-Ms"] = f"{context.log.elapsed_ms:.1f}"
            response.headers["X-Query-Cost"] = str(context.cost)

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        log = getattr(context, "log", None)
        if log is None:
            return {}
        result: dict[str, Any] = {
            "cost": {"statements": log.count, "ms": round(log.elapsed_ms, 1), "queryCost": context.cost}
        }
        if context.settings.expose_cypher:
            result["cypher"] = [{"query": q, "params": p} for q, p in log.statements]
        return result


class TextValidationCache(SchemaExtension):
    """Validate each distinct query text once.

    strawberry's `ValidationCache` keys on the document AST (hashed node by node on every
    request) and on the rule objects, which differ per request because `QueryDepthLimiter` builds
    its rule when constructed; so it missed every time. The rules here are the same for every
    request of a schema (only the depth limit is configured, at start), so the text is the key.
    """

    _cache: OrderedDict[tuple[int, str], list[GraphQLError]] = OrderedDict()
    maxsize = 1000

    def on_validate(self):  # type: ignore[override]
        context = self.execution_context
        query = context.query
        if query is None or context.graphql_document is None:
            yield
            return
        key = (id(context.schema), query)
        cached = self._cache.get(key)
        if cached is None:
            from strawberry.schema.schema import validate_document

            cached = validate_document(context.schema._schema, context.graphql_document, context.validation_rules)
            self._cache[key] = cached
            if len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        context.pre_execution_errors = cached
        yield


def _client_visible(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, (GraphQLError, QueryError, InvalidCursor, QueryTooExpensive))


def build_schema(fast_completion: bool | None = None) -> strawberry.Schema:
    """The schema; `fast_completion` (default: the setting) picks api/execution.FastCompletion."""
    settings = get_settings()
    if fast_completion is None:
        fast_completion = settings.fast_completion
    from bioimage_hub.api.federation import FederatedSchema
    from bioimage_hub.api.ops import GraphQLObserver

    return FederatedSchema(
        query=Query,
        mutation=mutations.Mutation,
        federation_version="2.9",  # @theguild/federation-composition accepts up to 2.9
        types=[t.Study, t.Dataset, t.Plate, t.Well, t.Image, t.Organism, t.Gene, t.Reagent, t.Phenotype, t.Publication, t.OntologyTerm, t.CrossReference],
        config=StrawberryConfig(default_resolver=t.dict_resolver, scalar_map={Long: LONG_SCALAR}),
        execution_context_class=FastCompletion if fast_completion else None,
        extensions=[
            # parse and validate each distinct query text once (module-level LRU caches)
            lambda: ParserCache(maxsize=1000),
            TextValidationCache,
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaskErrors(should_mask_error=lambda e: not _client_visible(e)),
            StatementCount,  # class, not instance: one per request
            GraphQLObserver,  # operation/root fields/errors for logs and metrics; 503 when Neo4j is down
        ],
    )


schema = build_schema()


def export_sdl(path: Path = SCHEMA_FILE) -> str:
    sdl = schema.as_str() + "\n"
    path.write_text(sdl, encoding="utf-8")
    return sdl
