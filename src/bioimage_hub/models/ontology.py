"""Pydantic models of an ontology as read from a file (OBO / OBO Graphs JSON / RDF-XML) by pronto."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Synonym(BaseModel):
    text: str
    scope: str = Field(description="EXACT, BROAD, NARROW or RELATED")


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


class Edge(BaseModel):
    child: str
    parent: str


class ClosureRow(BaseModel):
    """`descendant` is a subclass of `ancestor` at `distance` is_a steps (0 = itself)."""

    descendant: str
    ancestor: str
    distance: int


class ParsedOntology(BaseModel):
    id: str = Field(description="lower-case ontology id, e.g. cmpo")
    prefix: str = Field(description="CURIE prefix, e.g. CMPO")
    version: str | None = None
    title: str | None = None
    terms: list[Term]
    is_a: list[Edge]
    closure: list[ClosureRow]
    data_version: str | None = Field(
        default=None, description="the file's raw `data-version` header (IRI or path), if any"
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="problems the reader worked around: skipped identifiers, parser warnings",
    )
