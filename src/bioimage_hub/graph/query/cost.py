"""Query cost, as the Open Targets Platform computes it: a connection costs its page size times
the cost of what is selected under it; plain lists count as a nominal size.

Computed from the selection tree before anything runs, reported in `X-Query-Cost`, and a
request over the configured maximum is refused with the figure and how to lower it.
"""

from __future__ import annotations

from bioimage_hub.api.selection import Field
from bioimage_hub.graph.query.catalog import TYPES

LIST_SIZE = 5  # nominal size of a plain (unpaginated) list


class QueryTooExpensive(ValueError):
    """The request's estimated cost exceeds the limit."""


def field_cost(type_name: str, f: Field, default_page_size: int) -> int:
    """1 for the object itself plus what its relations multiply in."""
    node_type = TYPES.get(type_name)
    if node_type is None:
        return 1
    total = 1
    for child in f.for_type(type_name, frozenset({"Node"})):
        rel = node_type.relations.get(child.name)
        if rel is None:
            continue
        if rel.kind == "connection":
            size = child.args.get("first") or default_page_size
            total += 1 + int(size) * field_cost(rel.target, child.node_selection(), default_page_size)
        elif rel.kind == "one":
            total += field_cost(rel.target, child, default_page_size)
        else:
            holder = child
            if rel.kind == "distance":
                terms = child.children_named("term")
                holder = Field(child.name, child.key, child.args, None, [g for t in terms for g in t.children])
            total += LIST_SIZE * field_cost(rel.target, holder, default_page_size)
    return total


def root_cost(target: str | None, kind: str, f: Field, default_page_size: int) -> int:
    if target is None:
        return 1
    if kind == "connection":
        size = f.args.get("first") or default_page_size
        return 1 + int(size) * field_cost(target, f.node_selection(), default_page_size)
    if kind == "list":
        return LIST_SIZE * field_cost(target, f, default_page_size)
    return field_cost(target, f, default_page_size)


# root field -> (target type, shape)
ROOT_SHAPES: dict[str, tuple[str, str]] = {
    "study": ("Study", "one"),
    "studies": ("Study", "connection"),
    "image": ("Image", "one"),
    "images": ("Image", "connection"),
    "gene": ("Gene", "one"),
    "genes": ("Gene", "connection"),
    "term": ("OntologyTerm", "one"),
    "publication": ("Publication", "one"),
    "organisms": ("Organism", "list"),
    "ontologies": ("Ontology", "list"),
    "crossLinks": ("CrossReference", "connection"),
}


def request_field_cost(f: Field, default_page_size: int) -> int:
    """Cost of one root field of the request."""
    if f.name in ROOT_SHAPES:
        target, kind = ROOT_SHAPES[f.name]
        return root_cost(target, kind, f, default_page_size)
    if f.name == "node":
        return max(field_cost(t, f, default_page_size) for t in TYPES)
    if f.name == "searchTerms":
        size = f.args.get("first") or default_page_size
        terms = Field("term", "term", {}, None, [
            g for hit in f.node_selection().children_named("term") for g in hit.children
        ])
        return 1 + int(size) * (1 + field_cost("OntologyTerm", terms, default_page_size))
    if f.name == "_entities":
        count = len(f.args.get("representations") or [])
        return 1 + count * max(field_cost(t, f, default_page_size) for t in ("Study", "Image", "Gene", "OntologyTerm", "Publication"))
    return 1
