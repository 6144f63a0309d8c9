"""Strawberry types of the read API.

Objects arrive as plain dicts already shaped by the query compiler (one Cypher statement per root
field). Scalar fields are read by the schema's default resolver; relation fields read the value
the compiler stored under the field's response key (so aliases with different arguments work).
"""

from __future__ import annotations

import enum
import json
from typing import Annotated, Any, Generic, TypeVar

import strawberry
import strawberry.federation
from strawberry.types import Info

from bioimage_hub.api.execution import CONNECTION, KEY_VALUES, RELATION, shape
from bioimage_hub.api.pixels_types import Pixels
from bioimage_hub.graph.query.compiler import CURSOR_KEY
from bioimage_hub.graph.query.cursor import encode_cursor

T = TypeVar("T")


def dict_resolver(obj: Any, name: str) -> Any:
    """Schema-wide default resolver: our objects are dicts."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _related(root: dict[str, Any], info: Info) -> Any:
    return root.get(info.path.key)


class _FromGraph:
    """Mixin: recognise a compiled dict by the `__typename` the compiler put in it."""

    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, dict) and obj.get("__typename") == cls.__name__


# --------------------------------------------------------------------------- connections


@strawberry.type(description="Relay page information; cursors are opaque keyset positions.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A Relay connection; `totalCount` costs a count and is only computed when selected.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    total_count: int


def make_connection(raw: dict[str, Any] | None, after: str | None) -> Connection[Any]:
    raw = raw or {}
    page = raw.get("page") or []
    first = raw.get("first", len(page))
    rows = page[:first]
    cursors = [encode_cursor(r[CURSOR_KEY]) for r in rows]
    return Connection(
        edges=[Edge(cursor=c, node=r) for c, r in zip(cursors, rows)],
        nodes=rows,
        page_info=PageInfo(
            has_next_page=len(page) > first,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        total_count=raw.get("totalCount", -1),
    )


# --------------------------------------------------------------------------- nodes


@strawberry.interface(description="An object with a stable natural-key `id`, fetchable with `node(id)`.")
class Node:
    id: strawberry.ID


@strawberry.type
class KeyValue:
    key: str
    value: str


def key_values(raw: str | None) -> list[KeyValue]:
    if not raw:
        return []
    return [KeyValue(key=k, value=str(v)) for k, v in sorted(json.loads(raw).items())]


@strawberry.federation.type(keys=["accession"], description="A study: one IDR study or one hub submission, with a citable accession.")
class Study(_FromGraph, Node):
    id: strawberry.ID
    accession: str
    name: str | None
    title: str | None
    description: str | None
    type: str | None
    license: str | None
    license_url: str | None
    release_date: str | None
    external_url: str | None
    source: str | None
    image_count: int

    @strawberry.field
    @shape(RELATION)
    def datasets(self, root: strawberry.Parent[dict], info: Info) -> list["Dataset"]:
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def publications(self, root: strawberry.Parent[dict], info: Info) -> list["Publication"]:
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def organisms(self, root: strawberry.Parent[dict], info: Info) -> list["Organism"]:
        return _related(root, info)

    @strawberry.field(description="Accepted versions (submitted studies; empty for imports), oldest first by id.")
    @shape(RELATION)
    def versions(
        self, root: strawberry.Parent[dict], info: Info
    ) -> list[Annotated["StudyVersion", strawberry.lazy("bioimage_hub.api.mutations")]]:
        return _related(root, info)

    @strawberry.field(description="The study's author-named phenotypes and their ontology mappings.")
    @shape(RELATION)
    def phenotypes(self, root: strawberry.Parent[dict], info: Info) -> list["Phenotype"]:
        return _related(root, info)

    @strawberry.field(description="Cross-references (PDB, EMDB, EMPIAR, BioStudies, publications, ...).")
    @shape(RELATION)
    def cross_references(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field(description="Images of every dataset of the study.")
    @shape(CONNECTION)
    def images(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)

    @strawberry.field(description="Genes linked to any image of the study.")
    @shape(CONNECTION)
    def genes(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Gene"]:
        return make_connection(_related(root, info), after)



@strawberry.type(description="One screen or experiment of a study.")
class Dataset(_FromGraph, Node):
    id: strawberry.ID
    name: str | None
    kind: str | None
    description: str | None
    technology_type: str | None
    sample_type: str | None
    image_count: int

    @strawberry.field
    @shape(RELATION)
    def study(self, root: strawberry.Parent[dict], info: Info) -> "Study | None":
        return _related(root, info)

    @strawberry.field(description="FBbi imaging method term.")
    @shape(RELATION)
    def imaging_method(self, root: strawberry.Parent[dict], info: Info) -> "OntologyTerm | None":
        return _related(root, info)

    @strawberry.field(description="Cross-references (PDB, EMDB, EMPIAR, BioStudies, publications, ...).")
    @shape(RELATION)
    def cross_references(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field(description="Plates of a screen.")
    @shape(CONNECTION)
    def plates(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Plate"]:
        return make_connection(_related(root, info), after)

    @strawberry.field(description="Images of the dataset.")
    @shape(CONNECTION)
    def images(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)



@strawberry.type
class Plate(_FromGraph, Node):
    id: strawberry.ID
    name: str | None
    well_count: int

    @strawberry.field
    @shape(RELATION)
    def dataset(self, root: strawberry.Parent[dict], info: Info) -> "Dataset | None":
        return _related(root, info)

    @strawberry.field(description="Wells of the plate.")
    @shape(CONNECTION)
    def wells(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Well"]:
        return make_connection(_related(root, info), after)



@strawberry.type
class Well(_FromGraph, Node):
    id: strawberry.ID
    name: str | None
    row: int | None = strawberry.field(description="0-based row index (A = 0)")
    column: int | None = strawberry.field(description="column number as printed on the plate")

    @strawberry.field
    @shape(RELATION)
    def plate(self, root: strawberry.Parent[dict], info: Info) -> "Plate | None":
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def images(self, root: strawberry.Parent[dict], info: Info) -> list["Image"]:
        return _related(root, info)


@strawberry.federation.type(keys=["id"], description="An image (for screens: the image of one well).")
class Image(_FromGraph, Node):
    id: strawberry.ID
    name: str | None
    dataset_name: str | None
    annotated: bool | None
    control_type: str | None
    comments: str | None

    @strawberry.field(description="Other annotation columns of the source (IDR bulk-annotation columns).")
    @shape(KEY_VALUES, "attributes_json")
    def attributes(self, root: strawberry.Parent[dict]) -> list[KeyValue]:
        return key_values(root.get("attributes_json"))

    @strawberry.field
    @shape(RELATION)
    def study(self, root: strawberry.Parent[dict], info: Info) -> "Study | None":
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def dataset(self, root: strawberry.Parent[dict], info: Info) -> "Dataset | None":
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def well(self, root: strawberry.Parent[dict], info: Info) -> "Well | None":
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def organism(self, root: strawberry.Parent[dict], info: Info) -> "Organism | None":
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def imaging_method(self, root: strawberry.Parent[dict], info: Info) -> "OntologyTerm | None":
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def genes(self, root: strawberry.Parent[dict], info: Info) -> list["Gene"]:
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def reagents(self, root: strawberry.Parent[dict], info: Info) -> list["Reagent"]:
        return _related(root, info)

    @strawberry.field(description="Cross-references (PDB, EMDB, EMPIAR, BioStudies, publications, ...).")
    @shape(RELATION)
    def cross_references(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def phenotypes(self, root: strawberry.Parent[dict], info: Info) -> list["Phenotype"]:
        return _related(root, info)

    has_pixels: bool | None = strawberry.field(default=None, description="whether pixels (OME-Zarr) are registered")

    @strawberry.field(description="The image's pixels (OME-Zarr), when registered: levels, channels, chunk URLs.")
    @shape(RELATION)
    def pixels(self, root: strawberry.Parent[dict], info: Info) -> Pixels | None:
        return _related(root, info)


@strawberry.type
class Organism(_FromGraph, Node):
    id: strawberry.ID = strawberry.field(description="NCBITaxon CURIE")
    name: str | None

    @strawberry.field(description="Images of this organism.")
    @shape(CONNECTION)
    def images(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)

    @strawberry.field(description="Genes of this organism.")
    @shape(CONNECTION)
    def genes(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Gene"]:
        return make_connection(_related(root, info), after)


    @strawberry.field
    @shape(RELATION)
    def studies(self, root: strawberry.Parent[dict], info: Info) -> list["Study"]:
        return _related(root, info)


@strawberry.federation.type(keys=["id"])
class Gene(_FromGraph, Node):
    id: strawberry.ID = strawberry.field(description="identifier as published (Ensembl, SGD, TAIR, ...)")
    symbol: str | None
    synonyms: list[str]

    @strawberry.field
    @shape(RELATION)
    def organism(self, root: strawberry.Parent[dict], info: Info) -> "Organism | None":
        return _related(root, info)

    @strawberry.field(description="Images where this gene was targeted.")
    @shape(CONNECTION)
    def images(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)


    @strawberry.field(description="Phenotypes seen on images of this gene, across studies.")
    @shape(RELATION)
    def phenotypes(self, root: strawberry.Parent[dict], info: Info) -> list["Phenotype"]:
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def studies(self, root: strawberry.Parent[dict], info: Info) -> list["Study"]:
        return _related(root, info)


@strawberry.type(description="A siRNA, compound or antibody used on images.")
class Reagent(_FromGraph, Node):
    id: strawberry.ID
    kind: str
    name: str | None

    @strawberry.field
    @shape(KEY_VALUES, "properties_json")
    def properties(self, root: strawberry.Parent[dict]) -> list[KeyValue]:
        return key_values(root.get("properties_json"))

    @strawberry.field(description="Images treated with this reagent.")
    @shape(CONNECTION)
    def images(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)



@strawberry.type(description="A phenotype as its study's authors named it, mapped to an ontology term when they did.")
class Phenotype(_FromGraph, Node):
    id: strawberry.ID
    name: str

    @strawberry.field
    @shape(RELATION)
    def term(self, root: strawberry.Parent[dict], info: Info) -> "OntologyTerm | None":
        return _related(root, info)

    @strawberry.field
    @shape(RELATION)
    def study(self, root: strawberry.Parent[dict], info: Info) -> "Study | None":
        return _related(root, info)

    @strawberry.field(description="Images showing this phenotype.")
    @shape(CONNECTION)
    def images(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)



@strawberry.federation.type(keys=["id"])
class Publication(_FromGraph, Node):
    id: strawberry.ID
    doi: str | None
    pmid: str | None
    pmcid: str | None
    title: str | None
    authors: list[str]

    @strawberry.field
    @shape(RELATION)
    def studies(self, root: strawberry.Parent[dict], info: Info) -> list["Study"]:
        return _related(root, info)


@strawberry.federation.type(keys=["id"], description="An entry of an external resource (PDB, EMDB, EMPIAR, IDR, BioStudies, PubMed, DOI, Ensembl, UniProt, ...), with cached metadata.")
class CrossReference(_FromGraph, Node):
    id: strawberry.ID = strawberry.field(description="canonical CURIE, e.g. emdb:EMD-2660, pdb:3j79")
    resource: str
    accession: str
    url: str | None = strawberry.field(description="resolvable URL of the entry")
    title: str | None
    method: str | None
    resolution: float | None
    experiment_type: str | None
    journal: str | None
    year: int | None
    authors: list[str]
    fetched_at: str | None = strawberry.field(description="when the cached metadata was fetched")
    attempted_at: str | None = strawberry.field(description="last fetch attempt (successful or not)")
    fetched_status: str | None
    fetch_error: str | None
    age_seconds: int | None = strawberry.field(description="age of the cached metadata")
    link_count: int = strawberry.field(description="studies, datasets and images linking here")

    @strawberry.field(description="Studies linking to this entry.")
    @shape(RELATION)
    def studies(self, root: strawberry.Parent[dict], info: Info) -> list["Study"]:
        return _related(root, info)

    @strawberry.field(description="Datasets linking to this entry.")
    @shape(RELATION)
    def datasets(self, root: strawberry.Parent[dict], info: Info) -> list["Dataset"]:
        return _related(root, info)

    @strawberry.field(description="Images linking to this entry.")
    @shape(CONNECTION)
    def images(
        self, root: strawberry.Parent[dict], info: Info, first: int | None = None, after: str | None = None
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)

    @strawberry.field(description="Entries linked either way (maps, fitted models, raw data, ...).")
    @shape(RELATION)
    def related(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field(description="EMDB maps of this entry (EMPIAR → EMDB).")
    @shape(RELATION)
    def maps(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field(description="PDB models fitted into this map (EMDB → PDB).")
    @shape(RELATION)
    def fitted_models(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field(description="Maps this model is fitted into (PDB → EMDB).")
    @shape(RELATION)
    def map_of(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field(description="Entries whose raw data this is, or that point at this map (EMDB → EMPIAR).")
    @shape(RELATION)
    def raw_data_of(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)

    @strawberry.field(description="Publications of this entry.")
    @shape(RELATION)
    def publications(self, root: strawberry.Parent[dict], info: Info) -> list["CrossReference"]:
        return _related(root, info)


@strawberry.type
class Synonym:
    text: str
    scope: str | None = strawberry.field(description="EXACT, BROAD, NARROW or RELATED")
    type: str | None = strawberry.field(description="synonym type (OBO synonymtypedef), if any")


@strawberry.type(description="A term reached through the precomputed closure, with its shortest distance.")
class TermAtDistance:
    distance: int
    term: "OntologyTerm"


@strawberry.federation.type(keys=["id"], description="An ontology term (CMPO phenotype, FBbi imaging method, ...).")
class OntologyTerm(_FromGraph, Node):
    id: strawberry.ID = strawberry.field(description="canonical CURIE, e.g. CMPO:0000426")
    iri: str | None
    short_form: str | None
    ontology: str | None
    label: str | None
    definition: str | None
    namespace: str | None
    obsolete: bool
    is_stub: bool = strawberry.field(description="mentioned by data or another ontology, not loaded itself")
    is_leaf: bool
    synonyms: list[Synonym]
    xrefs: list[str]
    subsets: list[str]

    @strawberry.field(description="Direct is_a parents.")
    @shape(RELATION)
    def parents(self, root: strawberry.Parent[dict], info: Info) -> list["OntologyTerm"]:
        return _related(root, info)

    @strawberry.field(description="Direct is_a children.")
    @shape(RELATION)
    def children(self, root: strawberry.Parent[dict], info: Info) -> list["OntologyTerm"]:
        return _related(root, info)

    @strawberry.field(description="Direct part_of targets.")
    @shape(RELATION)
    def part_of(self, root: strawberry.Parent[dict], info: Info) -> list["OntologyTerm"]:
        return _related(root, info)

    @strawberry.field(description="Terms that are part_of this one.")
    @shape(RELATION)
    def has_parts(self, root: strawberry.Parent[dict], info: Info) -> list["OntologyTerm"]:
        return _related(root, info)

    @strawberry.field(description="For an obsolete term: the term(s) the ontology says replace it.")
    @shape(RELATION)
    def replaced_by(self, root: strawberry.Parent[dict], info: Info) -> list["OntologyTerm"]:
        return _related(root, info)

    @strawberry.field(description="For an obsolete term: terms the ontology suggests considering.")
    @shape(RELATION)
    def consider(self, root: strawberry.Parent[dict], info: Info) -> list["OntologyTerm"]:
        return _related(root, info)

    @strawberry.field(description="All ancestors with shortest distance, from the precomputed closure; `hierarchical` adds part_of.")
    @shape(RELATION)
    def ancestors(
        self, root: strawberry.Parent[dict], info: Info, hierarchical: bool = False
    ) -> list[TermAtDistance]:
        return _related(root, info)

    @strawberry.field(description="All descendants with shortest distance, from the precomputed closure; `hierarchical` adds part_of.")
    @shape(RELATION)
    def descendants(
        self, root: strawberry.Parent[dict], info: Info, hierarchical: bool = False
    ) -> list[TermAtDistance]:
        return _related(root, info)

    @strawberry.field(description="Images annotated with this term (phenotype or imaging method) or, by default, any subterm.")
    @shape(RELATION)
    def image_count(self, root: strawberry.Parent[dict], info: Info, include_subterms: bool = True) -> int:
        return _related(root, info)

    @strawberry.field(description="Studies with an annotation on this term or, by default, any subterm.")
    @shape(RELATION)
    def study_count(self, root: strawberry.Parent[dict], info: Info, include_subterms: bool = True) -> int:
        return _related(root, info)

    @strawberry.field(description="Study phenotypes mapped to this term (or a subterm).")
    @shape(RELATION)
    def phenotypes(
        self, root: strawberry.Parent[dict], info: Info, include_subterms: bool = True
    ) -> list["Phenotype"]:
        return _related(root, info)

    @strawberry.field(description="Images annotated with this term or (includeSubterms) any subterm.")
    @shape(CONNECTION)
    def images(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_subterms: bool = True,
    ) -> Connection["Image"]:
        return make_connection(_related(root, info), after)


@strawberry.type
class Ontology(_FromGraph):
    id: str
    prefix: str | None
    title: str | None
    version: str | None
    term_count: int | None
    obsolete_count: int | None
    loaded_at: str | None


@strawberry.enum(description="Why a term matched a search, best first.")
class MatchType(enum.Enum):
    EXACT_LABEL = 0
    EXACT_SYNONYM = 1
    LABEL_PREFIX = 2
    WORD = 3
    SUBSTRING = 4


@strawberry.type(description="A search hit: the term, the text that matched and why.")
class TermSearchHit:
    term: OntologyTerm
    matched_text: str
    match_type: MatchType
    synonym_scope: str | None

    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, dict) and "matched_text" in obj


@strawberry.input(description="Filters are ANDed. Terms accept a CURIE, short form or IRI.")
class ImageFilter:
    phenotype: str | None = strawberry.field(default=None, description="CMPO (or other) phenotype term")
    include_subterms: bool = strawberry.field(default=True, description="also match is_a descendants")
    gene: str | None = strawberry.field(default=None, description="gene identifier or symbol")
    organism: str | None = strawberry.field(default=None, description="NCBITaxon CURIE or name")
    imaging_method: str | None = strawberry.field(default=None, description="FBbi term (with subterms)")
    study: str | None = strawberry.field(default=None, description="study accession")


@strawberry.input
class StudyFilter:
    organism: str | None = None
    phenotype: str | None = None
    include_subterms: bool = True
    gene: str | None = None
    text: str | None = strawberry.field(default=None, description="substring of title or description")
