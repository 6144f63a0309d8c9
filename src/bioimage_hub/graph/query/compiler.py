"""Compile a GraphQL selection tree into ONE Cypher statement.

The approach of the Neo4j GraphQL Library, without its known traps:
- every relation becomes a `COLLECT { ... }` (or `COUNT { ... }`) subquery inside the parent's
  map projection, so a whole response costs one statement whatever its size;
- connections page by keyset (`WHERE key > $after ORDER BY key LIMIT first+1`), never by offset,
  and order/limit before projecting;
- `totalCount` is a `COUNT {}` subquery emitted only when selected; nothing collects all matches.
Values only ever enter the statement as parameters; labels, types and property names come from
`catalog.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bioimage_hub.api.selection import Field
from bioimage_hub.graph.query.catalog import TYPES, NodeType, Relation
from bioimage_hub.graph.query.cursor import decode_cursor

CURSOR_KEY = "__cursor"
# Fields computed in Python from a raw projected value.
DERIVED: dict[str, dict[str, str]] = {
    "Image": {"attributes": "attributesJson"},
    "Reagent": {"properties": "propertiesJson"},
}


class QueryError(ValueError):
    """A request the API refuses (bad page size, bad cursor, bad identifier), with the reason."""


@dataclass
class Compiled:
    cypher: str
    params: dict[str, Any]


@dataclass
class Compiler:
    max_page_size: int = 100
    default_page_size: int = 20
    params: dict[str, Any] = field(default_factory=dict)
    _counter: int = 0

    # -- naming -------------------------------------------------------------------------
    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def var(self) -> str:
        self._counter += 1
        return f"v{self._counter}"

    # -- projections --------------------------------------------------------------------
    def project(self, type_name: str, var: str, fields: list[Field], cursor: bool = False) -> str:
        node_type = TYPES[type_name]
        parts = [f"__typename: '{type_name}'"]
        if cursor:
            parts.append(f"{CURSOR_KEY}: {var}.{node_type.key}")
        seen: set[str] = set()
        for f in fields:
            if f.name == "__typename":
                continue
            if f.name in node_type.scalars and callable(node_type.scalars[f.name]):
                # A scalar with arguments: projected under the response key (aliases may differ).
                expr = node_type.scalars[f.name](f.args).replace("{v}", var)
                parts.append(f"`{f.key}`: {expr}")
            elif f.name in node_type.scalars:
                key = node_type.python_key(f.name)
                if key not in seen:
                    seen.add(key)
                    parts.append(f"{key}: {node_type.scalars[f.name].replace("{v}", var)}")
            elif f.name in DERIVED.get(type_name, {}):
                raw = DERIVED[type_name][f.name]
                key = node_type.python_key(raw)
                if key not in seen:
                    seen.add(key)
                    parts.append(f"{key}: {node_type.scalars[raw].replace("{v}", var)}")
            elif f.name in node_type.relations:
                expr = self.relation(node_type.relations[f.name], var, f)
                parts.append(f"`{f.key}`: {expr}")
            else:
                raise QueryError(f"{type_name}.{f.name} cannot be compiled")
        return f"{var} {{{', '.join(parts)}}}"

    def relation(self, rel: Relation, src: str, f: Field) -> str:
        dst = self.var()
        pattern = rel.pattern(f.args).replace("{src}", src).replace("{dst}", dst)
        if rel.kind == "connection":
            return self.connection(rel.target, dst, [pattern], f, distinct=rel.distinct)
        if rel.kind == "one":
            return self.one(rel.target, dst, [pattern], f)
        if rel.kind == "distance":
            return self.distance_list(rel, src, dst, f)
        return self.list(rel.target, dst, [pattern], f, distinct=rel.distinct, limit=rel.limit)

    # -- shapes -------------------------------------------------------------------------
    @staticmethod
    def _body(matches: list[str], where: list[str] | None = None) -> str:
        # Entries are MATCH patterns, or whole clauses (CALL subqueries anchoring a filter).
        body = " ".join(m if m.startswith(("CALL ", "MATCH ")) else f"MATCH {m}" for m in matches)
        if where:
            body += " WHERE " + " AND ".join(where)
        return body

    def one(self, target: str, dst: str, matches: list[str], f: Field, where: list[str] | None = None) -> str:
        fields = f.for_type(target)
        return (
            f"head(COLLECT {{ {self._body(matches, where)} "
            f"RETURN {self.project(target, dst, fields)} LIMIT 1 }})"
        )

    def list(
        self,
        target: str,
        dst: str,
        matches: list[str],
        f: Field,
        distinct: bool = False,
        limit: int = 1000,
        where: list[str] | None = None,
    ) -> str:
        key = TYPES[target].key
        body = self._body(matches, where)
        rows = self.distinct_rows(body, dst) if distinct else f"{body} WITH {dst}"
        return (
            f"COLLECT {{ {rows} "
            f"ORDER BY {dst}.{key} LIMIT {int(limit)} "
            f"RETURN {self.project(target, dst, f.for_type(target))} }}"
        )

    @staticmethod
    def distinct_rows(body: str, dst: str, keyset: str = "") -> str:
        """`body`'s distinct `dst` rows (after the optional keyset WHERE), ready for ORDER BY.

        The DISTINCT is the RETURN of a `CALL (*)` subquery, never a `WITH DISTINCT` inside a
        subquery expression: there Neo4j makes every outer variable part of the distinct key,
        `hidden` (the embargo list) included, so each row held a copy of it — 360 MB for one
        gene's 53k images at 1M images and 94 embargoed studies, 1.6 MB this way
        (docs/benchmarks.md)."""
        return f"CALL (*) {{ {body} WITH {dst}{keyset} RETURN DISTINCT {dst} }} WITH {dst}"

    def distance_list(self, rel: Relation, src: str, dst: str, f: Field) -> str:
        """Closure neighbours with their (shortest) distance, nearest first."""
        edge = self.var()
        pattern = rel.pattern(f.args).replace("{src}", src).replace("{dst}", dst).replace("{rel}", edge)
        term_fields: list[Field] = []
        for term in f.children_named("term"):
            term_fields.extend(term.for_type(rel.target))
        holder = Field("term", "term", {}, None, term_fields)
        key = TYPES[rel.target].key
        return (
            # grouped in a CALL (*) for the same reason as distinct_rows: outer variables stay out of the key
            f"COLLECT {{ CALL (*) {{ MATCH {pattern} RETURN {dst}, min({edge}.distance) AS distance }} "
            f"WITH {dst}, distance ORDER BY distance, {dst}.{key} LIMIT {int(rel.limit)} "
            f"RETURN {{distance: distance, term: {self.project(rel.target, dst, holder.for_type(rel.target))}}} }}"
        )

    def page_size(self, f: Field) -> int:
        first = f.args.get("first")
        if first is None:
            return self.default_page_size
        if not isinstance(first, int) or first < 0 or first > self.max_page_size:
            raise QueryError(
                f"{f.name}: `first` must be between 0 and {self.max_page_size}, got {first!r}"
            )
        return first

    def connection(
        self,
        target: str,
        dst: str,
        matches: list[str],
        f: Field,
        distinct: bool = False,
        where: list[str] | None = None,
        order: list[str] | None = None,
    ) -> str:
        """`order`: expressions fixed by the filter (equalities) put before the key in ORDER BY, so
        the planner can read a composite index (e.g. Image(study, id)) in order and stop at the page."""
        node_type: NodeType = TYPES[target]
        first = self.page_size(f)
        nodes = f.node_selection()
        wants_page = any(c.name in ("nodes", "edges", "pageInfo") for c in f.children)
        wants_total = any(c.name == "totalCount" for c in f.children)
        body = self._body(matches, where)
        parts = []
        if wants_page:
            after = f.args.get("after")
            keyset = ""
            if after is not None:
                keyset = f" WHERE {dst}.{node_type.key} > {self.param(decode_cursor(after))}"
            projection = self.project(target, dst, nodes.for_type(target), cursor=True)
            order_by = ", ".join([*(order or []), f"{dst}.{node_type.key}"])
            rows = self.distinct_rows(body, dst, keyset) if distinct else f"{body} WITH {dst}{keyset}"
            parts.append(f"page: COLLECT {{ {rows} ORDER BY {order_by} LIMIT {first + 1} RETURN {projection} }}")
        if wants_total:
            rows = self.distinct_rows(body, dst) if distinct else f"{body} WITH {dst}"
            parts.append(f"totalCount: COUNT {{ {rows} RETURN {dst} }}")
        parts.append(f"first: {first}")
        return "{" + ", ".join(parts) + "}"


def compile_root(
    compiler: Compiler,
    target: str,
    kind: str,
    matches: list[str],
    f: Field,
    dst: str,
    distinct: bool = False,
    where: list[str] | None = None,
    order: list[str] | None = None,
) -> Compiled:
    """Wrap one root field's expression as a statement returning a single `result` column."""
    if kind == "connection":
        expr = compiler.connection(target, dst, matches, f, distinct=distinct, where=where, order=order)
    elif kind == "one":
        expr = compiler.one(target, dst, matches, f, where=where)
    else:
        expr = compiler.list(target, dst, matches, f, distinct=distinct, where=where)
    return Compiled(f"RETURN {expr} AS result", compiler.params)
