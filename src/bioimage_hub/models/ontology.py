"""Pydantic models of an ontology as read from a file (OBO / OBO Graphs JSON / RDF-XML) by pronto."""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

from pydantic import BaseModel, Field


class Synonym(BaseModel):
    text: str
    scope: str = Field(description="EXACT, BROAD, NARROW or RELATED")
    type: str | None = Field(default=None, description="synonym type id as written (`layperson`), if any")


class Term(BaseModel):
    id: str = Field(description="canonical CURIE, e.g. CMPO:0000426")
    iri: str
    short_form: str = Field(description="e.g. CMPO_0000426")
    ontology: str = Field(description="lower-case ontology id of the term's own prefix, e.g. cmpo, go")
    label: str | None = None
    definition: str | None = None
    synonyms: list[Synonym] = Field(default_factory=list)
    obsolete: bool = False
    stub: bool = Field(default=False, description="mentioned by the file but defined elsewhere")
    namespace: str | None = None
    xrefs: list[str] = Field(default_factory=list, description="cross-reference ids as written, sorted")
    subsets: list[str] = Field(default_factory=list, description="subset names as written, sorted")
    replaced_by: list[str] = Field(default_factory=list, description="canonical CURIEs, sorted")
    consider: list[str] = Field(default_factory=list, description="canonical CURIEs, sorted")


class Edge(BaseModel):
    child: str
    parent: str


class RelationEdge(BaseModel):
    """An OBO relationship other than is_a / part_of, kept by name."""

    child: str
    parent: str
    relation: str = Field(description="the relationship's name if it has one, else its id")
    relation_id: str = Field(description="the relationship's id as written in the file")


class ClosureRow(NamedTuple):
    """`descendant` reaches `ancestor` in `distance` steps (0 = itself)."""

    descendant: str
    ancestor: str
    distance: int


class ParsedOntology(BaseModel):
    id: str = Field(description="lower-case ontology id, e.g. cmpo")
    prefix: str = Field(description="CURIE prefix, e.g. CMPO")
    version: str | None = None
    title: str | None = None
    terms: list[Term]
    is_a: list[Edge] = Field(description="direct is_a (subclass) edges")
    part_of: list[Edge] = Field(default_factory=list, description="direct part_of (BFO:0000050) edges")
    relations: list[RelationEdge] = Field(default_factory=list, description="other OBO relationships")
    data_version: str | None = Field(
        default=None, description="the file's raw `data-version` header (IRI or path), if any"
    )
    file_checksum: str | None = Field(default=None, description="sha256 of the file's bytes")
    warnings: list[str] = Field(
        default_factory=list,
        description="problems the reader worked around: skipped identifiers, parser warnings",
    )

    # Closures are derived from the edges on first use (hp: ~215k rows each), not validated.

    @cached_property
    def is_a_ancestors(self) -> dict[str, dict[str, int]]:
        """term -> {ancestor: shortest is_a distance}, itself at 0, for every term."""
        from bioimage_hub.ontology.closure import ancestor_distances

        return ancestor_distances([t.id for t in self.terms], [(e.child, e.parent) for e in self.is_a])

    @cached_property
    def hierarchical_ancestors(self) -> dict[str, dict[str, int]]:
        """term -> {ancestor: shortest distance over is_a + part_of}, itself at 0."""
        from bioimage_hub.ontology.closure import ancestor_distances

        if not self.part_of:
            return self.is_a_ancestors
        edges = [(e.child, e.parent) for e in self.is_a] + [(e.child, e.parent) for e in self.part_of]
        return ancestor_distances([t.id for t in self.terms], edges)

    @property
    def closure(self) -> list[ClosureRow]:
        """is_a closure rows, ordered by descendant, then distance, then ancestor id."""
        return _rows(self.is_a_ancestors)

    @property
    def hierarchical_closure(self) -> list[ClosureRow]:
        """is_a + part_of closure rows (OLS4's "hierarchical" ancestors), same order."""
        return _rows(self.hierarchical_ancestors)


def _rows(ancestors: dict[str, dict[str, int]]) -> list[ClosureRow]:
    return [
        ClosureRow(d, a, n)
        for d in sorted(ancestors)
        for a, n in sorted(ancestors[d].items(), key=lambda kv: (kv[1], kv[0]))
    ]
