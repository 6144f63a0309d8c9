"""Read-side mapping of cross-references for the query compiler (NOT installed automatically).

The GraphQL wiring belongs to `graph/query/catalog.py` + `api/`. This module holds the catalog
entries that match the graph written by `xrefs.graph`, ready to be installed with one call at
the bottom of `graph/query/catalog.py`::

    from bioimage_hub.xrefs.catalog import install as _install_xrefs
    _install_xrefs(sys.modules[__name__])

It adds the `CrossReference` type (label `CrossReference`, key `id`) to `TYPES` and `NODE_TYPES`,
and `crossReferences` relations on Study, Dataset and Image. Reverse questions
(`crossLinks(id: "EMPIAR-10028")`: who links to it) start at the node found by
`parse_xref(id).curie` and follow `studies` / `datasets` / `images`; `crossLinks(resource: EMDB)`
is an index lookup on `CrossReference.resource` (graph_schema/008_xrefs.cypher).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

# RELATED_TO relations exposed as their own fields (allow-listed literals; never user input).
RELATION_FIELDS: dict[str, tuple[str, str]] = {
    # field: (relation, direction)  "out": (this)-[:RELATED_TO]->(other), "in": the reverse
    "maps": ("map", "out"),
    "fittedModels": ("fitted_model", "out"),
    "rawData": ("raw_data", "out"),
    "relatedEntries": ("related_entry", "out"),
    "imageData": ("image_data", "out"),
    "studiesInArchives": ("study", "out"),
    "publications": ("publication", "out"),
    "sameAs": ("same_as", "out"),
    "mapOf": ("fitted_model", "in"),  # PDB model -> the EMDB maps it is fitted into
    "rawDataOf": ("map", "in"),  # EMDB map -> EMPIAR entries (and PDB entries) pointing at it
}


def cross_reference_type(catalog: ModuleType) -> Any:
    NodeType, Relation, _scalars = catalog.NodeType, catalog.Relation, catalog._scalars
    relations: dict[str, Any] = {
        "studies": Relation.fixed("Study", "({src})<-[:LINKS_TO]-({dst}:Study)", distinct=True),
        "datasets": Relation.fixed("Dataset", "({src})<-[:LINKS_TO]-({dst}:Dataset)", distinct=True),
        "images": Relation.fixed("Image", "({src})<-[:LINKS_TO]-({dst}:Image)", "connection", distinct=True),
        "related": Relation.fixed("CrossReference", "({src})-[:RELATED_TO]-({dst}:CrossReference)", distinct=True),
    }
    for field, (relation, direction) in RELATION_FIELDS.items():
        arrow = ("-[:RELATED_TO {relation: '%s'}]->" if direction == "out" else "<-[:RELATED_TO {relation: '%s'}]-")
        relations[field] = Relation.fixed(
            "CrossReference", "({src})" + arrow % relation + "({dst}:CrossReference)", distinct=True
        )
    return NodeType(
        "CrossReference",
        "CrossReference",
        "id",
        _scalars(
            id="{v}.id",
            resource="{v}.resource",
            accession="{v}.accession",
            url="{v}.url",
            title="{v}.title",
            method="{v}.method",
            resolution="{v}.resolution",
            experiment_type="{v}.experimentType",
            journal="{v}.journal",
            year="{v}.year",
            authors="coalesce({v}.authors, [])",
            fetched_at="toString({v}.fetchedAt)",
            attempted_at="toString({v}.attemptedAt)",
            fetched_status="{v}.fetchedStatus",
            fetch_error="{v}.fetchError",
            # age of the cached metadata, so clients can tell how stale it is
            age_seconds="CASE WHEN {v}.fetchedAt IS NULL THEN null "
                        "ELSE duration.inSeconds({v}.fetchedAt, datetime()).seconds END",
            # per label, so the embargo guard applies to each linking node
            link_count=(
                "COUNT { ({v})<-[:LINKS_TO]-(:Study) } + COUNT { ({v})<-[:LINKS_TO]-(:Dataset) } "
                "+ COUNT { ({v})<-[:LINKS_TO]-(:Image) }"
            ),
        ),
        relations,
    )


def install(catalog: ModuleType) -> None:
    """Register CrossReference and the `crossReferences` relations in a catalog module."""
    xref = cross_reference_type(catalog)
    catalog.TYPES[xref.name] = xref
    if "CrossReference" not in catalog.NODE_TYPES:
        catalog.NODE_TYPES = (*catalog.NODE_TYPES, "CrossReference")
    for node_type in (catalog.STUDY, catalog.DATASET, catalog.IMAGE):
        node_type.relations["crossReferences"] = catalog.Relation.fixed(
            "CrossReference", "({src})-[:LINKS_TO]->({dst}:CrossReference)", distinct=True
        )
