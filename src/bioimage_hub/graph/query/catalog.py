"""How each GraphQL type maps onto the graph: its label, its scalar fields and its relations.

This is the only place that knows labels, relationship types and property names for reads.
`compiler.py` walks a selection tree against this catalog to build ONE Cypher statement per
root field. Patterns use `{src}` (the parent node's variable) and `{dst}` (the related node's).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strawberry.utils.str_converters import to_camel_case

Args = dict[str, Any]
# A relation's MATCH pattern may depend on the field's arguments (e.g. includeSubterms).
PatternFn = Callable[[Args], str]


@dataclass(frozen=True)
class Relation:
    target: str
    pattern: PatternFn
    kind: str = "list"  # "one" | "list" | "connection" | "distance" (list of {distance, term})
    distinct: bool = False  # the pattern can reach one node by several paths
    limit: int = 1000  # cap for plain lists

    @staticmethod
    def fixed(target: str, pattern: str, kind: str = "list", **kw: Any) -> "Relation":
        return Relation(target, lambda _args: pattern, kind, **kw)


@dataclass(frozen=True)
class NodeType:
    name: str
    label: str
    key: str  # natural-key property; also the keyset sort key
    # GraphQL field name -> Cypher expression over {v}; a callable takes the field's arguments
    scalars: dict[str, Any]
    relations: dict[str, Relation] = field(default_factory=dict)

    def python_key(self, graphql_name: str) -> str:
        return _PY_NAMES[graphql_name]


_PY_NAMES: dict[str, str] = {}


def _scalars(**fields: Any) -> dict[str, Any]:
    """Scalar fields by python name -> expression; stored under their GraphQL (camelCase) name."""
    out = {}
    for py, expr in fields.items():
        gql = to_camel_case(py)
        _PY_NAMES[gql] = py
        out[gql] = expr
    return out


def term_link(rel_type: str, args: Args, term: str = "({src})") -> str:
    """`-[:REL]->` to `term` itself or, with includeSubterms (default), to any is_a descendant.

    The closure holds distances >= 1 only, so `*0..1` adds the term itself.
    """
    if args.get("includeSubterms", True):
        return f"-[:{rel_type}]->(:OntologyTerm)-[:IS_A_CLOSURE*0..1]->" + term
    return f"-[:{rel_type}]->" + term


def mapped_to(args: Args, term: str = "({src})") -> str:
    """A phenotype's mapping to `term` (or, with includeSubterms, to any of its descendants)."""
    return term_link("MAPPED_TO", args, term)


STUDY = NodeType(
    "Study",
    "Study",
    "accession",
    _scalars(
        id="{v}.accession",
        accession="{v}.accession",
        name="{v}.name",
        title="{v}.title",
        description="{v}.description",
        type="{v}.type",
        license="{v}.license",
        license_url="{v}.licenseUrl",
        release_date="toString({v}.releaseDate)",
        external_url="{v}.externalUrl",
        source="{v}.source",
        image_count="COUNT { ({v})-[:HAS_DATASET]->(:Dataset)-[:HAS_IMAGE]->(:Image) }",
    ),
    {
        "datasets": Relation.fixed("Dataset", "({src})-[:HAS_DATASET]->({dst}:Dataset)"),
        "publications": Relation.fixed("Publication", "({src})-[:PUBLISHED_IN]->({dst}:Publication)"),
        "organisms": Relation.fixed("Organism", "({src})-[:OF_ORGANISM]->({dst}:Organism)"),
        "phenotypes": Relation.fixed(
            "Phenotype", "({src})-[:HAS_PHENOTYPE_DEFINITION]->({dst}:Phenotype)"
        ),
        "images": Relation.fixed(
            "Image", "({src})-[:HAS_DATASET]->(:Dataset)-[:HAS_IMAGE]->({dst}:Image)", "connection"
        ),
        "genes": Relation.fixed(
            "Gene",
            "({src})-[:HAS_DATASET]->(:Dataset)-[:HAS_IMAGE]->(:Image)-[:HAS_GENE]->({dst}:Gene)",
            "connection",
            distinct=True,
        ),
    },
)

DATASET = NodeType(
    "Dataset",
    "Dataset",
    "id",
    _scalars(
        id="{v}.id",
        name="{v}.name",
        kind="{v}.kind",
        description="{v}.description",
        technology_type="{v}.technologyType",
        sample_type="{v}.sampleType",
        image_count="COUNT { ({v})-[:HAS_IMAGE]->(:Image) }",
    ),
    {
        "study": Relation.fixed("Study", "({src})<-[:HAS_DATASET]-({dst}:Study)", "one"),
        "imagingMethod": Relation.fixed("OntologyTerm", "({src})-[:IMAGED_BY]->({dst}:OntologyTerm)", "one"),
        "plates": Relation.fixed("Plate", "({src})-[:HAS_PLATE]->({dst}:Plate)", "connection"),
        "images": Relation.fixed("Image", "({src})-[:HAS_IMAGE]->({dst}:Image)", "connection"),
    },
)

PLATE = NodeType(
    "Plate",
    "Plate",
    "id",
    _scalars(id="{v}.id", name="{v}.name", well_count="COUNT { ({v})-[:HAS_WELL]->(:Well) }"),
    {
        "dataset": Relation.fixed("Dataset", "({src})<-[:HAS_PLATE]-({dst}:Dataset)", "one"),
        "wells": Relation.fixed("Well", "({src})-[:HAS_WELL]->({dst}:Well)", "connection"),
    },
)

WELL = NodeType(
    "Well",
    "Well",
    "id",
    _scalars(id="{v}.id", name="{v}.name", row="{v}.row", column="{v}.column"),
    {
        "plate": Relation.fixed("Plate", "({src})<-[:HAS_WELL]-({dst}:Plate)", "one"),
        "images": Relation.fixed("Image", "({src})-[:HAS_IMAGE]->({dst}:Image)"),
    },
)

IMAGE = NodeType(
    "Image",
    "Image",
    "id",
    _scalars(
        id="{v}.id",
        name="{v}.name",
        dataset_name="{v}.datasetName",
        annotated="{v}.annotated",
        control_type="{v}.controlType",
        comments="{v}.comments",
        attributes_json="{v}.attributes",
    ),
    {
        # Every image carries its study's accession (written by both writers): a unique-index
        # seek instead of two expands per image (issue 7: _entities, deep lists).
        "study": Relation.fixed("Study", "({dst}:Study {accession: {src}.study})", "one"),
        "dataset": Relation.fixed("Dataset", "({src})<-[:HAS_IMAGE]-({dst}:Dataset)", "one"),
        "well": Relation.fixed("Well", "({src})<-[:HAS_IMAGE]-({dst}:Well)", "one"),
        "organism": Relation.fixed("Organism", "({src})-[:OF_ORGANISM]->({dst}:Organism)", "one"),
        "genes": Relation.fixed("Gene", "({src})-[:HAS_GENE]->({dst}:Gene)"),
        "reagents": Relation.fixed("Reagent", "({src})-[:HAS_REAGENT]->({dst}:Reagent)"),
        "phenotypes": Relation.fixed("Phenotype", "({src})-[:HAS_PHENOTYPE]->({dst}:Phenotype)"),
        "imagingMethod": Relation.fixed(
            "OntologyTerm", "({src})<-[:HAS_IMAGE]-(:Dataset)-[:IMAGED_BY]->({dst}:OntologyTerm)", "one"
        ),
    },
)

ORGANISM = NodeType(
    "Organism",
    "Organism",
    "id",
    _scalars(id="{v}.id", name="{v}.name"),
    {
        "images": Relation.fixed("Image", "({src})<-[:OF_ORGANISM]-({dst}:Image)", "connection"),
        "genes": Relation.fixed("Gene", "({src})<-[:OF_ORGANISM]-({dst}:Gene)", "connection"),
        "studies": Relation.fixed("Study", "({src})<-[:OF_ORGANISM]-({dst}:Study)"),
    },
)

GENE = NodeType(
    "Gene",
    "Gene",
    "id",
    _scalars(id="{v}.id", symbol="{v}.symbol", synonyms="coalesce({v}.synonyms, [])"),
    {
        "organism": Relation.fixed("Organism", "({src})-[:OF_ORGANISM]->({dst}:Organism)", "one"),
        "images": Relation.fixed("Image", "({src})<-[:HAS_GENE]-({dst}:Image)", "connection"),
        "phenotypes": Relation.fixed(
            "Phenotype", "({src})<-[:HAS_GENE]-(:Image)-[:HAS_PHENOTYPE]->({dst}:Phenotype)", distinct=True
        ),
        "studies": Relation.fixed(
            "Study",
            "({src})<-[:HAS_GENE]-(:Image)<-[:HAS_IMAGE]-(:Dataset)<-[:HAS_DATASET]-({dst}:Study)",
            distinct=True,
        ),
    },
)

REAGENT = NodeType(
    "Reagent",
    "Reagent",
    "id",
    _scalars(id="{v}.id", kind="{v}.kind", name="{v}.name", properties_json="{v}.properties"),
    {"images": Relation.fixed("Image", "({src})<-[:HAS_REAGENT]-({dst}:Image)", "connection")},
)

PHENOTYPE = NodeType(
    "Phenotype",
    "Phenotype",
    "id",
    _scalars(id="{v}.id", name="{v}.name"),
    {
        "term": Relation.fixed("OntologyTerm", "({src})-[:MAPPED_TO]->({dst}:OntologyTerm)", "one"),
        "study": Relation.fixed("Study", "({src})<-[:HAS_PHENOTYPE_DEFINITION]-({dst}:Study)", "one"),
        "images": Relation.fixed("Image", "({src})<-[:HAS_PHENOTYPE]-({dst}:Image)", "connection"),
    },
)

PUBLICATION = NodeType(
    "Publication",
    "Publication",
    "id",
    _scalars(
        id="{v}.id",
        doi="{v}.doi",
        pmid="{v}.pmid",
        pmcid="{v}.pmcid",
        title="{v}.title",
        authors="coalesce({v}.authors, [])",
    ),
    {"studies": Relation.fixed("Study", "({src})<-[:PUBLISHED_IN]-({dst}:Study)")},
)

def _closure(args: Args) -> str:
    """is_a closure, or with `hierarchical` the is_a + part_of closure (OLS4's "hierarchical")."""
    return "HIERARCHICAL_CLOSURE" if args.get("hierarchical") else "IS_A_CLOSURE"


def _annotated_images(args: Args) -> str:
    """Images annotated with {src} (or a subterm): by phenotype mapping or by imaging method.

    UNION ALL: the relation is `distinct`, and the compiler deduplicates in a `CALL (*)` (see
    `Compiler.distinct_rows`); a UNION's own distinct keeps the embargo list in its key."""
    return (
        "CALL ({src}) { "
        "MATCH ({dst}:Image)-[:HAS_PHENOTYPE]->(:Phenotype)" + mapped_to(args) + " RETURN {dst} "
        "UNION ALL "
        "MATCH ({dst}:Image)<-[:HAS_IMAGE]-(:Dataset)" + term_link("IMAGED_BY", args) + " RETURN {dst} }"
    )


def _count_images(args: Args) -> str:
    body = _annotated_images(args).replace("{src}", "{v}").replace("{dst}", "ci")
    return f"COUNT {{ CALL (*) {{ {body} RETURN DISTINCT ci }} RETURN ci }}"


def _count_studies(args: Args) -> str:
    """Studies with a phenotype mapped to, or a dataset imaged by, the term (or a subterm)."""
    return (
        "COUNT { CALL (*) { CALL ({v}) { "
        "MATCH (cp:Phenotype)" + mapped_to(args, "({v})") + " RETURN cp.study AS cs "
        "UNION ALL "
        "MATCH (cd:Dataset)" + term_link("IMAGED_BY", args, "({v})") + " RETURN cd.study AS cs } "
        "RETURN DISTINCT cs } RETURN cs }"
    )


TERM = NodeType(
    "OntologyTerm",
    "OntologyTerm",
    "id",
    _scalars(
        id="{v}.id",
        iri="{v}.iri",
        short_form="{v}.shortForm",
        ontology="{v}.ontology",
        label="{v}.label",
        definition="{v}.definition",
        namespace="{v}.namespace",
        obsolete="coalesce({v}.obsolete, false)",
        is_stub="coalesce({v}.stub, false)",
        synonyms=(
            "[i IN range(0, size(coalesce({v}.synonyms, [])) - 1) "
            "| {text: {v}.synonyms[i], scope: {v}.synonymScopes[i], "
            "type: CASE WHEN {v}.synonymTypes[i] = '' THEN null ELSE {v}.synonymTypes[i] END}]"
        ),
        xrefs="coalesce({v}.xrefs, [])",
        subsets="coalesce({v}.subsets, [])",
        is_leaf="NOT EXISTS { ({v})<-[:IS_A]-(:OntologyTerm) }",
        image_count=_count_images,
        study_count=_count_studies,
    ),
    {
        "parents": Relation.fixed("OntologyTerm", "({src})-[:IS_A]->({dst}:OntologyTerm)", distinct=True),
        "children": Relation.fixed("OntologyTerm", "({src})<-[:IS_A]-({dst}:OntologyTerm)", distinct=True),
        "partOf": Relation.fixed("OntologyTerm", "({src})-[:PART_OF]->({dst}:OntologyTerm)", distinct=True),
        "hasParts": Relation.fixed("OntologyTerm", "({src})<-[:PART_OF]-({dst}:OntologyTerm)", distinct=True),
        "replacedBy": Relation.fixed("OntologyTerm", "({src})-[:REPLACED_BY]->({dst}:OntologyTerm)", distinct=True),
        "consider": Relation.fixed("OntologyTerm", "({src})-[:CONSIDER]->({dst}:OntologyTerm)", distinct=True),
        "ancestors": Relation(
            "OntologyTerm",
            lambda a: "({src})-[{rel}:" + _closure(a) + "]->({dst}:OntologyTerm)",
            "distance",
            limit=20000,
        ),
        "descendants": Relation(
            "OntologyTerm",
            lambda a: "({src})<-[{rel}:" + _closure(a) + "]-({dst}:OntologyTerm)",
            "distance",
            limit=20000,
        ),
        "phenotypes": Relation(
            "Phenotype",
            lambda a: "({dst}:Phenotype)" + mapped_to(a),
            distinct=True,
        ),
        "images": Relation("Image", _annotated_images, "connection", distinct=True),
    },
)

ONTOLOGY = NodeType(
    "Ontology",
    "Ontology",
    "id",
    _scalars(
        id="{v}.id",
        prefix="{v}.prefix",
        title="{v}.title",
        version="{v}.version",
        term_count="{v}.termCount",
        obsolete_count="{v}.obsoleteCount",
        loaded_at="toString({v}.loadedAt)",
    ),
)

STUDY_VERSION = NodeType(
    "StudyVersion",
    "StudyVersion",
    "version",  # lists order by version number
    _scalars(
        accession="{v}.accession",
        version="{v}.version",
        checksum="{v}.checksum",
        created_at="toString({v}.createdAt)",
        submitted_by="{v}.submittedBy",
        current="EXISTS { ({v})-[:VERSION_OF]->(cs:Study) WHERE cs.version = {v}.version }",
    ),
)
STUDY.relations["versions"] = Relation.fixed(
    "StudyVersion", "({src})<-[:VERSION_OF]-({dst}:StudyVersion)", limit=10000
)

TYPES: dict[str, NodeType] = {
    t.name: t
    for t in (STUDY, DATASET, PLATE, WELL, IMAGE, ORGANISM, GENE, REAGENT, PHENOTYPE, PUBLICATION, TERM, ONTOLOGY,
              STUDY_VERSION)
}

# Types reachable by `node(id)`, in the order their keys are tried.
NODE_TYPES: tuple[str, ...] = (
    "Study", "Dataset", "Plate", "Well", "Image", "Gene", "OntologyTerm", "Organism",
    "Publication", "Phenotype", "Reagent",
)


# --------------------------------------------------------------------------- pixels (OME-Zarr)


def _pixels_node(_args: Args) -> str:
    """Fields of `Pixels` computed in Python (JSON summaries, URLs, chunk lists) read the node's
    properties, projected under the field's response key."""
    return "{v} {.*}"


PIXELS = NodeType(
    "Pixels",
    "PixelRepresentation",
    "id",
    _scalars(
        url="{v}.url",
        format="{v}.format",
        version="{v}.version",
        kind="{v}.kind",
        name="{v}.name",
        dtype="{v}.dtype",
        size_x="{v}.sizeX",
        size_y="{v}.sizeY",
        size_z="{v}.sizeZ",
        size_c="{v}.sizeC",
        size_t="{v}.sizeT",
        level_count="{v}.levelCount",
        labels="coalesce({v}.labels, [])",
        registered_at="toString({v}.registeredAt)",
        axes=_pixels_node,
        levels=_pixels_node,
        channels=_pixels_node,
        plate=_pixels_node,
        http_url=_pixels_node,
        presigned_url=_pixels_node,
        chunk_urls=_pixels_node,
        viewer_links=_pixels_node,
        thumbnail_url=_pixels_node,
        region_url=_pixels_node,
    ),
)
TYPES[PIXELS.name] = PIXELS
IMAGE.relations["pixels"] = Relation.fixed("Pixels", "({src})-[:HAS_PIXELS]->({dst}:PixelRepresentation)", "one")
IMAGE.scalars.update(_scalars(has_pixels="EXISTS { ({v})-[:HAS_PIXELS]->(:PixelRepresentation) }"))


# Cross-references (PDB, EMDB, EMPIAR, ...) — their mapping lives with the xrefs package.
from bioimage_hub.xrefs.catalog import install as _install_xrefs  # noqa: E402

_install_xrefs(sys.modules[__name__])
