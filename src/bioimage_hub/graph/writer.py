"""The one place that owns write Cypher.

Every unit of work (one study, one ontology) is one transaction: either all of it is in the graph
or none of it is. Rows are sent in `UNWIND` batches. Writes `MERGE` on natural keys and `SET`
(never `+=`) whole property sets, and a study's own relationships are replaced rather than added
to, so writing the same input twice leaves the graph exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import neo4j

from bioimage_hub.models import idr
from bioimage_hub.models.ontology import ParsedOntology
from bioimage_hub.ontology.closure import ancestor_distances
from bioimage_hub.ontology.curie import term_id
from bioimage_hub.xrefs.graph import write_links
from bioimage_hub.xrefs.idr import xrefs_from_parsed_study

if TYPE_CHECKING:
    from bioimage_hub.ontology.upgrade import UpgradeReport

BATCH_SIZE = 2000
# Labels and relationship types that may be written; user input never becomes a label.
REAGENT_LABELS: dict[str, str] = {"SiRNA": "SiRNA", "Compound": "Compound", "Antibody": "Antibody"}

Progress = Callable[[int], None]
T = TypeVar("T")


def batches(items: list[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _run_batched(
    tx: neo4j.ManagedTransaction,
    query: str,
    rows: list[dict[str, Any]],
    progress: Progress | None = None,
    **params: Any,
) -> None:
    for chunk in batches(rows):
        tx.run(query, rows=chunk, **params).consume()
        if progress:
            progress(len(chunk))


def _term_stub_rows(terms: Iterable[idr.TermRef]) -> list[dict[str, Any]]:
    rows = {}
    for term in terms:
        tid = term_id(term.id)
        rows[tid.curie] = {
            "id": tid.curie,
            "iri": tid.iri,
            "shortForm": tid.short_form,
            "ontology": tid.prefix.lower(),
            "label": term.label,
        }
    return list(rows.values())


MERGE_TERM_STUBS = """
UNWIND $rows AS row
MERGE (t:OntologyTerm {id: row.id})
ON CREATE SET t.iri = row.iri, t.shortForm = row.shortForm, t.ontology = row.ontology,
              t.label = row.label, t.stub = true, t.obsolete = false
"""

# --------------------------------------------------------------------------- IDR studies

STUDY = """
OPTIONAL MATCH (old:Study {accession: $study.accession})
WITH old IS NOT NULL AS existed
MERGE (s:Study {accession: $study.accession})
SET s.name = $study.name, s.title = $study.title, s.description = $study.description,
    s.type = $study.type, s.license = $study.license, s.licenseUrl = $study.license_url,
    s.releaseDate = CASE WHEN $study.release_date IS NULL THEN null ELSE date($study.release_date) END,
    s.externalUrl = $study.external_url, s.source = 'IDR'
WITH s, existed
CALL (s) {
  OPTIONAL MATCH (s)-[r:PUBLISHED_IN|OF_ORGANISM]->()
  DELETE r
}
RETURN existed
"""

ORGANISMS = """
UNWIND $rows AS row
MERGE (o:Organism {id: row.id})
SET o.name = coalesce(row.name, o.name)
"""

STUDY_ORGANISMS = """
MATCH (s:Study {accession: $accession})
UNWIND $ids AS oid
MATCH (o:Organism {id: oid})
MERGE (s)-[:OF_ORGANISM]->(o)
"""

PUBLICATIONS = """
MATCH (s:Study {accession: $accession})
UNWIND $rows AS row
MERGE (p:Publication {id: row.id})
SET p.doi = row.doi, p.pmid = row.pmid, p.pmcid = row.pmcid, p.title = row.title,
    p.authors = row.authors
MERGE (s)-[:PUBLISHED_IN]->(p)
"""

# Remove what this study owns and the input no longer has, and the links of what it keeps.
PRUNE_STUDY = """
MATCH (s:Study {accession: $accession})
OPTIONAL MATCH (s)-[:HAS_DATASET]->(d:Dataset) WHERE NOT d.id IN $dataset_ids
WITH s, collect(d) AS stale
CALL (stale) {
  UNWIND stale AS d
  OPTIONAL MATCH (d)-[:HAS_PLATE]->(p:Plate)
  OPTIONAL MATCH (p)-[:HAS_WELL]->(w:Well)
  DETACH DELETE w, p, d
}
WITH s
OPTIONAL MATCH (s)-[:HAS_PHENOTYPE_DEFINITION]->(ph:Phenotype) WHERE NOT ph.id IN $phenotype_ids
DETACH DELETE ph
"""

PRUNE_IMAGES = """
MATCH (i:Image {study: $accession})
WHERE NOT i.id IN $image_ids
DETACH DELETE i
"""

UNLINK_IMAGES = """
UNWIND $ids AS iid
MATCH (i:Image {id: iid})-[r:HAS_GENE|HAS_REAGENT|HAS_PHENOTYPE|OF_ORGANISM]->()
DELETE r
"""

DATASETS = """
MATCH (s:Study {accession: $accession})
UNWIND $rows AS row
MERGE (d:Dataset {id: row.id})
SET d.name = row.name, d.kind = row.kind, d.description = row.description,
    d.technologyType = row.technology_type, d.sampleType = row.sample_type, d.study = s.accession
MERGE (s)-[:HAS_DATASET]->(d)
WITH d, row
OPTIONAL MATCH (d)-[old:IMAGED_BY]->()
DELETE old
WITH d, row WHERE row.imaging_method IS NOT NULL
MATCH (t:OntologyTerm {id: row.imaging_method})
MERGE (d)-[:IMAGED_BY]->(t)
"""

GENES = """
UNWIND $rows AS row
MERGE (g:Gene {id: row.id})
// Genes are shared across studies: a study that names no symbol/synonyms keeps the others'.
SET g.symbol = coalesce(row.symbol, g.symbol),
    g.symbolLower = toLower(coalesce(row.symbol, g.symbol)),
    g.synonyms = CASE WHEN size(row.synonyms) > 0 THEN row.synonyms ELSE coalesce(g.synonyms, []) END
WITH g, row WHERE row.organism_id IS NOT NULL
MATCH (o:Organism {id: row.organism_id})
MERGE (g)-[:OF_ORGANISM]->(o)
"""

# Each reagent row carries `label` (REAGENT_LABELS[kind] or null): the label is set in the same
# statement as the node (a dynamic label), not by one more statement per kind.
SET_REAGENT_LABEL = "FOREACH (_ IN CASE WHEN row.label IS NULL THEN [] ELSE [1] END | SET r:$(row.label))"

REAGENTS = f"""
UNWIND $rows AS row
MERGE (r:Reagent {{id: row.id}})
SET r.kind = row.kind, r.name = row.name, r.properties = row.properties
{SET_REAGENT_LABEL}
"""

PHENOTYPES = """
MATCH (s:Study {accession: $accession})
UNWIND $rows AS row
MERGE (p:Phenotype {id: row.id})
SET p.name = row.name, p.study = s.accession
MERGE (s)-[:HAS_PHENOTYPE_DEFINITION]->(p)
WITH p, row
OPTIONAL MATCH (p)-[old:MAPPED_TO]->()
DELETE old
WITH p, row WHERE row.term IS NOT NULL
MATCH (t:OntologyTerm {id: row.term})
MERGE (p)-[:MAPPED_TO]->(t)
"""

PLATES_AND_WELLS = """
UNWIND $rows AS row
MATCH (d:Dataset {id: row.dataset})
MERGE (p:Plate {id: row.plate_id})
SET p.name = row.plate, p.study = d.study
MERGE (d)-[:HAS_PLATE]->(p)
MERGE (w:Well {id: row.well_id})
SET w.name = row.well, w.row = row.row, w.column = row.column, w.study = d.study
MERGE (p)-[:HAS_WELL]->(w)
"""

# Links of each image row (well, organism, genes, reagents, phenotypes); shared with the
# submission writer, which creates images the same way.
IMAGE_LINKS = """
CALL (i, row) {
  WITH i, row WHERE row.well_id IS NOT NULL
  MATCH (w:Well {id: row.well_id})
  MERGE (w)-[:HAS_IMAGE]->(i)
}
CALL (i, row) {
  WITH i, row WHERE row.organism_id IS NOT NULL
  MATCH (o:Organism {id: row.organism_id})
  MERGE (i)-[:OF_ORGANISM]->(o)
}
CALL (i, row) {
  UNWIND row.gene_ids AS gid
  MATCH (g:Gene {id: gid})
  MERGE (i)-[:HAS_GENE]->(g)
}
CALL (i, row) {
  UNWIND row.reagent_ids AS rid
  MATCH (r:Reagent {id: rid})
  MERGE (i)-[:HAS_REAGENT]->(r)
}
CALL (i, row) {
  UNWIND row.phenotype_ids AS pid
  MATCH (p:Phenotype {id: pid})
  MERGE (i)-[:HAS_PHENOTYPE]->(p)
}
"""

IMAGES = """
UNWIND $rows AS row
MATCH (d:Dataset {id: row.dataset})
MERGE (i:Image {id: row.id})
SET i.name = row.name, i.datasetName = row.dataset_name, i.study = d.study,
    i.annotated = row.annotated, i.controlType = row.control_type, i.comments = row.comments,
    i.attributes = row.attributes
MERGE (d)-[:HAS_IMAGE]->(i)
WITH i, row
""" + IMAGE_LINKS


def _image_rows(parsed: idr.ParsedStudy) -> list[dict[str, Any]]:
    rows = []
    for dataset_id, images in parsed.images.items():
        for image in images:
            plate_id = f"{dataset_id}/{image.plate}" if image.plate is not None else None
            rows.append(
                {
                    "id": image.id,
                    "dataset": dataset_id,
                    "name": image.name,
                    "dataset_name": image.dataset_name,
                    "plate": image.plate,
                    "plate_id": plate_id,
                    "well": image.well,
                    # ":" keeps well ids apart from the ids of their images ("<plate id>/<well>")
                    "well_id": f"{plate_id}:{image.well}" if plate_id and image.well else None,
                    "row": image.well_row,
                    "column": image.well_column,
                    "organism_id": image.organism_id,
                    "gene_ids": image.gene_ids,
                    "reagent_ids": image.reagent_ids,
                    "phenotype_ids": image.phenotype_ids,
                    "annotated": image.annotated,
                    "control_type": image.control_type,
                    "comments": image.comments,
                    "attributes": json.dumps(image.attributes, sort_keys=True)
                    if image.attributes
                    else None,
                }
            )
    return rows


def write_study(
    driver: neo4j.Driver,
    database: str,
    parsed: idr.ParsedStudy,
    progress: Progress | None = None,
) -> None:
    """Write one parsed IDR study in ONE transaction (all or nothing)."""
    image_rows = _image_rows(parsed)
    well_rows = list({r["well_id"]: r for r in image_rows if r["well_id"]}.values())
    term_refs = [p.term for p in parsed.phenotypes if p.term] + [
        d.imaging_method for d in parsed.datasets if d.imaging_method
    ]
    accession = parsed.study.accession

    def work(tx: neo4j.ManagedTransaction) -> None:
        existed = tx.run(STUDY, study=parsed.study.model_dump(mode="json")).single(strict=True)["existed"]
        if existed:  # a new study has no previous datasets, phenotypes or images to prune
            tx.run(
                PRUNE_STUDY,
                accession=accession,
                dataset_ids=[d.id for d in parsed.datasets],
                phenotype_ids=[p.id for p in parsed.phenotypes],
            ).consume()
            tx.run(PRUNE_IMAGES, accession=accession, image_ids=[r["id"] for r in image_rows]).consume()
        for chunk in batches([r["id"] for r in image_rows]):
            tx.run(UNLINK_IMAGES, ids=chunk).consume()
        organisms = {o.id: o for o in [*parsed.study.organisms, *parsed.organisms]}
        _run_batched(tx, ORGANISMS, [o.model_dump() for o in organisms.values()])
        tx.run(STUDY_ORGANISMS, accession=accession, ids=[o.id for o in parsed.study.organisms]).consume()
        tx.run(
            PUBLICATIONS, accession=accession, rows=[p.model_dump() for p in parsed.publications]
        ).consume()
        _run_batched(tx, MERGE_TERM_STUBS, _term_stub_rows(term_refs))
        tx.run(
            DATASETS,
            accession=accession,
            rows=[
                {
                    **d.model_dump(exclude={"imaging_method"}),
                    "imaging_method": d.imaging_method.id if d.imaging_method else None,
                }
                for d in parsed.datasets
            ],
        ).consume()
        _run_batched(tx, GENES, [g.model_dump() for g in parsed.genes])
        _run_batched(
            tx,
            REAGENTS,
            [
                {**r.model_dump(exclude={"properties"}), "properties": json.dumps(r.properties, sort_keys=True),
                 "label": REAGENT_LABELS.get(r.kind)}
                for r in parsed.reagents
            ],
        )
        tx.run(
            PHENOTYPES,
            accession=accession,
            rows=[{"id": p.id, "name": p.name, "term": p.term.id if p.term else None} for p in parsed.phenotypes],
        ).consume()
        _run_batched(tx, PLATES_AND_WELLS, well_rows)
        _run_batched(tx, IMAGES, image_rows, progress)
        xrefs = xrefs_from_parsed_study(parsed)
        if existed or xrefs:  # a new study without cross-references has no links to write or replace
            write_links(tx, "Study", accession, xrefs, source="idr", subject_exists=True)

    with driver.session(database=database) as session:
        session.execute_write(work)


# --------------------------------------------------------------------------- ontologies
#
# An ontology is written as a *delta* against what the graph holds for it, in ONE transaction:
# the before-state (own terms, direct edges and names sourced by this ontology) is read first,
# the closures of the before-state are recomputed from its direct edges, and only what differs
# is deleted / created / set. So reloading the same file writes nothing, an upgrade touches only
# what the release changed (an hp release: a few thousand relationships instead of ~430k), and a
# first load creates everything with CREATE (no MERGE scans on dense terms).
#
# Storage (see docs/graph-model.md): (:OntologyTerm) own terms with definedBy = the ontology id;
# IS_A / PART_OF / RELATED {relation, relationId} / REPLACED_BY / CONSIDER {source} direct edges;
# IS_A_CLOSURE / HIERARCHICAL_CLOSURE {distance >= 1, source} closures; (:TermName)-[:NAMES]->
# per label and synonym; (:Ontology) and, for an upgrade, (:OntologyUpgrade)-[:UPGRADES]->.

# Bumped whenever what write_ontology stores changes shape: an ontology written by another
# storage version is rewritten in full instead of diffed (its stored state cannot be trusted to
# be what the before-snapshot implies).
ONTOLOGY_STORAGE_VERSION = 2

DIRECT_TYPES = ("IS_A", "PART_OF", "RELATED", "REPLACED_BY", "CONSIDER")
CLOSURE_TYPES = ("IS_A_CLOSURE", "HIERARCHICAL_CLOSURE")
ONTOLOGY_STATE = "MATCH (o:Ontology {id: $id}) RETURN properties(o) AS o"

# The before-state comes back as a few big lists in ONE record: the Python driver decodes a
# list ~7x faster than the same values as records (hp: 0.2 s instead of 1.3 s per query).
OWN_TERMS = """
MATCH (t:OntologyTerm {definedBy: $source})
RETURN collect([t.id, t.label, t.obsolete, t.contentHash]) AS terms
"""

# One relationship-type scan per direct type (tens of thousands of rows at most), never over the
# closures: those are recomputed from the direct edges.
DIRECT_EDGES = """
CALL () { MATCH (c)-[r:IS_A]->(p) WHERE r.source = $source RETURN collect([c.id, p.id]) AS isA }
CALL () { MATCH (c)-[r:PART_OF]->(p) WHERE r.source = $source RETURN collect([c.id, p.id]) AS partOf }
CALL () {
  MATCH (c)-[r:RELATED]->(p) WHERE r.source = $source
  RETURN collect([c.id, p.id, r.relation, r.relationId]) AS related
}
CALL () { MATCH (c)-[r:REPLACED_BY]->(p) WHERE r.source = $source RETURN collect([c.id, p.id]) AS replacedBy }
CALL () { MATCH (c)-[r:CONSIDER]->(p) WHERE r.source = $source RETURN collect([c.id, p.id]) AS consider }
RETURN isA, partOf, related, replacedBy, consider
"""

# Storage written by an older version of this code: drop everything sourced by the ontology.
DROP_SOURCED = {
    rel: f"MATCH ()-[r:{rel}]->() WHERE r.source = $source DELETE r" for rel in DIRECT_TYPES + CLOSURE_TYPES
}
DROP_OWN_TERM_NAMES = "MATCH (:OntologyTerm {definedBy: $source})<-[:NAMES]-(n:TermName) DETACH DELETE n"

SET_TERMS = """
UNWIND $rows AS row
MERGE (t:OntologyTerm {id: row.id})
SET t.iri = row.iri, t.shortForm = row.shortForm, t.ontology = row.ontology, t.label = row.label,
    t.labelLower = row.labelLower, t.definition = row.definition, t.synonyms = row.synonyms,
    t.synonymScopes = row.synonymScopes, t.synonymTypes = row.synonymTypes,
    t.synonymTexts = row.synonymTexts, t.obsolete = row.obsolete, t.stub = false,
    t.definedBy = row.definedBy, t.xrefs = row.xrefs, t.subsets = row.subsets,
    t.namespace = row.namespace, t.contentHash = row.contentHash
"""

STUB_TERMS = """
UNWIND $rows AS row
MERGE (t:OntologyTerm {id: row.id})
ON CREATE SET t.iri = row.iri, t.shortForm = row.shortForm, t.ontology = row.ontology,
              t.stub = true, t.obsolete = row.obsolete
WITH t, row WHERE t.stub
SET t.label = coalesce(row.label, t.label), t.labelLower = toLower(coalesce(row.label, t.label))
"""

# A term this ontology no longer defines: a stub if anything still points at it, else deleted.
UNDEFINE_TERMS = """
UNWIND $ids AS id
MATCH (t:OntologyTerm {id: id, definedBy: $source})
SET t.stub = true, t.definedBy = null
WITH t WHERE NOT EXISTS { (t)--() }
DELETE t
"""

CREATE_DIRECT = {
    rel: f"""
UNWIND $rows AS row
MATCH (c:OntologyTerm {{id: row.child}}), (p:OntologyTerm {{id: row.parent}})
CREATE (c)-[:{rel} {{source: $source}}]->(p)
"""
    for rel in ("IS_A", "PART_OF", "REPLACED_BY", "CONSIDER")
}
CREATE_DIRECT["RELATED"] = """
UNWIND $rows AS row
MATCH (c:OntologyTerm {id: row.child}), (p:OntologyTerm {id: row.parent})
CREATE (c)-[:RELATED {relation: row.relation, relationId: row.relationId, source: $source}]->(p)
"""
DELETE_DIRECT = {
    rel: f"""
UNWIND $rows AS row
MATCH (c:OntologyTerm {{id: row.child}})-[r:{rel} {{source: $source}}]->(p:OntologyTerm {{id: row.parent}})
DELETE r
"""
    for rel in ("IS_A", "PART_OF", "REPLACED_BY", "CONSIDER")
}
DELETE_DIRECT["RELATED"] = """
UNWIND $rows AS row
MATCH (c:OntologyTerm {id: row.child})-[r:RELATED {source: $source}]->(p:OntologyTerm {id: row.parent})
WHERE r.relationId = row.relationId
DELETE r
"""

# Closure rows go per descendant with parallel lists of ancestors and distances: one index seek
# for the descendant, one per ancestor, and a tenth of the Bolt maps of a row per pair.
_CREATE_CLOSURE = """
UNWIND $rows AS row
MATCH (d:OntologyTerm {{id: row.d}})
UNWIND range(0, size(row.a) - 1) AS i
MATCH (a:OntologyTerm {{id: row.a[i]}})
CREATE {creates}
"""
CREATE_CLOSURE = {
    ("IS_A_CLOSURE",): _CREATE_CLOSURE.format(
        creates="(d)-[:IS_A_CLOSURE {distance: row.n[i], source: $source}]->(a)"
    ),
    ("HIERARCHICAL_CLOSURE",): _CREATE_CLOSURE.format(
        creates="(d)-[:HIERARCHICAL_CLOSURE {distance: row.n[i], source: $source}]->(a)"
    ),
    # the pair is in both closures at the same distance (every pair, without part_of)
    ("IS_A_CLOSURE", "HIERARCHICAL_CLOSURE"): _CREATE_CLOSURE.format(
        creates="(d)-[:IS_A_CLOSURE {distance: row.n[i], source: $source}]->(a), "
        "(d)-[:HIERARCHICAL_CLOSURE {distance: row.n[i], source: $source}]->(a)"
    ),
}
DELETE_CLOSURE = {
    rel: f"""
UNWIND $rows AS row
MATCH (d:OntologyTerm {{id: row.d}})-[r:{rel} {{source: $source}}]->(a:OntologyTerm)
WHERE a.id IN row.a
DELETE r
"""
    for rel in CLOSURE_TYPES
}

CREATE_TERM_NAMES = """
UNWIND $rows AS row
MATCH (t:OntologyTerm {id: row.term})
CREATE (n:TermName {id: row.id, text: row.text, textLower: row.textLower, kind: row.kind,
                    scope: row.scope, ontology: row.ontology, obsolete: row.obsolete})
CREATE (n)-[:NAMES]->(t)
"""
# The names of every term (re)written are replaced; an unchanged term keeps its names.
DELETE_TERM_NAMES = """
UNWIND $ids AS id
MATCH (:OntologyTerm {id: id})<-[:NAMES]-(n:TermName)
DETACH DELETE n
"""

# Annotations in the hub on the given terms (those the upgrade obsoleted or removed).
ANNOTATIONS_ON = """
UNWIND $ids AS tid
MATCH (t:OntologyTerm {id: tid})
CALL (t) {
  MATCH (p:Phenotype)-[:MAPPED_TO]->(t)
  RETURN 'phenotype' AS kind, 'MAPPED_TO' AS relationship, p.id AS id, p.name AS name,
         p.study AS study, COUNT { (:Image)-[:HAS_PHENOTYPE]->(p) } AS images
  UNION ALL
  MATCH (d:Dataset)-[:IMAGED_BY]->(t)
  RETURN 'dataset' AS kind, 'IMAGED_BY' AS relationship, d.id AS id, d.name AS name,
         d.study AS study, COUNT { (d)-[:HAS_IMAGE]->(:Image) } AS images
}
RETURN kind, relationship, id, name, study, images, t.id AS term, t.label AS termLabel
"""

# Move an annotation to the replacement term, keeping the term it had for provenance.
APPLY_REPLACEMENT = {
    rel: f"""
UNWIND $rows AS row
MATCH (x:{label} {{id: row.id}})-[r:{rel}]->(:OntologyTerm {{id: row.term}})
MATCH (new:OntologyTerm {{id: row.replacement}})
MERGE (x)-[moved:{rel}]->(new)
SET moved.originalTerm = coalesce(r.originalTerm, row.term), moved.replacedAt = $at
DELETE r
RETURN row.id AS id, row.term AS term
"""
    for rel, label in (("MAPPED_TO", "Phenotype"), ("IMAGED_BY", "Dataset"))
}

SET_ONTOLOGY = """
MERGE (o:Ontology {id: $id})
SET o.prefix = $prefix, o.title = $title, o.version = $version, o.loadedAt = datetime(),
    o.termCount = $term_count, o.obsoleteCount = $obsolete_count, o.fileChecksum = $checksum,
    o.storageVersion = $storage_version
"""

CREATE_UPGRADE = """
MATCH (o:Ontology {id: $props.ontology})
CREATE (u:OntologyUpgrade)-[:UPGRADES]->(o)
SET u = $props
"""


class OntologyWriteError(RuntimeError):
    """The ontology could not be written (the transaction was rolled back)."""


@dataclass
class OntologyWrite:
    """What `write_ontology` did."""

    # "loaded" (first load), "upgraded", "reloaded" (same version, rewritten), "unchanged", or
    # "applied" (unchanged file; the pending replacements of its upgrade were applied)
    status: str
    report: UpgradeReport | None = None
    created: dict[str, int] = field(default_factory=dict)  # per label / relationship type
    deleted: dict[str, int] = field(default_factory=dict)


def _term_rows(ontology: ParsedOntology) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Own terms as property rows (id -> row), and stub rows."""
    own: dict[str, dict[str, Any]] = {}
    stubs: list[dict[str, Any]] = []
    for t in ontology.terms:
        if t.stub:
            stubs.append(
                {"id": t.id, "iri": t.iri, "shortForm": t.short_form, "ontology": t.ontology,
                 "label": t.label, "obsolete": t.obsolete}
            )
            continue
        texts = [s.text for s in t.synonyms]
        own[t.id] = {
            "id": t.id,
            "iri": t.iri,
            "shortForm": t.short_form,
            "ontology": t.ontology,
            "label": t.label,
            "labelLower": t.label.lower() if t.label else None,
            "definition": t.definition,
            "synonyms": texts,
            "synonymScopes": [s.scope for s in t.synonyms],
            "synonymTypes": [s.type or "" for s in t.synonyms],
            "synonymTexts": " | ".join(texts) or None,
            "obsolete": t.obsolete,
            "stub": False,
            "definedBy": ontology.id,
            "xrefs": t.xrefs,
            "subsets": t.subsets,
            "namespace": t.namespace,
        }
        row = own[t.id]
        row["contentHash"] = hashlib.sha1(
            json.dumps(row, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:20]
    return own, stubs


def _term_name_rows(own: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One TermName per label and per (synonym, scope) of the given term rows, keyed by id."""
    names: dict[str, dict[str, Any]] = {}

    def add(term: dict[str, Any], text: str, kind: str, scope: str | None) -> None:
        lower = text.lower()
        nid = f"{term['id']}|{kind}|{scope or ''}|{lower}"
        if nid not in names:  # "Foo" and "foo" with one scope: one name, the first spelling
            names[nid] = {
                "id": nid, "term": term["id"], "text": text, "textLower": lower, "kind": kind,
                "scope": scope, "ontology": term["ontology"], "obsolete": term["obsolete"],
            }

    for term in own:
        if term["label"]:
            add(term, term["label"], "label", None)
        for text, scope in zip(term["synonyms"], term["synonymScopes"], strict=True):
            add(term, text, "synonym", scope)
    return names


def _closure_delta(
    old: Mapping[str, Mapping[str, int]], new: Mapping[str, Mapping[str, int]]
) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """(pairs to create: d -> {a: distance}, pairs to delete: d -> [a]); distance 0 ignored."""
    create: dict[str, dict[str, int]] = {}
    delete: dict[str, list[str]] = {}
    empty: Mapping[str, int] = {}
    for d in old.keys() | new.keys():
        o, n = old.get(d, empty), new.get(d, empty)
        if o == n:
            continue
        for a, dist in n.items():
            if dist and o.get(a) != dist:
                create.setdefault(d, {})[a] = dist
        for a, dist in o.items():
            if dist and n.get(a) != dist:
                delete.setdefault(d, []).append(a)
    return create, delete


def _closure_rows(pairs: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    rows = []
    for d in sorted(pairs):
        items = sorted(pairs[d].items(), key=lambda kv: (kv[1], kv[0]))
        rows.append({"d": d, "a": [a for a, _ in items], "n": [n for _, n in items]})
    return rows


def _edge_key(type_: str, row: Mapping[str, Any]) -> tuple[str, ...]:
    if type_ == "RELATED":
        return (row["child"], row["parent"], row.get("relation") or "", row.get("relationId") or "")
    return (row["child"], row["parent"])


def _new_direct_edges(ontology: ParsedOntology) -> dict[str, dict[tuple[str, ...], dict[str, Any]]]:
    edges: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {t: {} for t in DIRECT_TYPES}
    for e in ontology.is_a:
        edges["IS_A"][(e.child, e.parent)] = {"child": e.child, "parent": e.parent}
    for e in ontology.part_of:
        edges["PART_OF"][(e.child, e.parent)] = {"child": e.child, "parent": e.parent}
    for r in ontology.relations:
        row = {"child": r.child, "parent": r.parent, "relation": r.relation, "relationId": r.relation_id}
        edges["RELATED"][_edge_key("RELATED", row)] = row
    for t in ontology.terms:
        for target in t.replaced_by:
            edges["REPLACED_BY"][(t.id, target)] = {"child": t.id, "parent": target}
        for target in t.consider:
            edges["CONSIDER"][(t.id, target)] = {"child": t.id, "parent": target}
    return edges


def write_ontology(
    driver: neo4j.Driver,
    database: str,
    ontology: ParsedOntology,
    progress: Callable[[int, int], None] | None = None,
    *,
    apply_replacements: bool = False,
    force: bool = False,
) -> OntologyWrite:
    """Write a parsed ontology in ONE transaction (all or nothing); see the section comment.

    * Same ontology id, version and file checksum as what is stored (and the same storage
      version): nothing is written, status "unchanged" (unless `force`).
    * Already loaded with another version or checksum: an upgrade. The report (`UpgradeReport`)
      is computed against the graph in the same transaction, stored as `(:OntologyUpgrade)`,
      and returned. With `apply_replacements`, every affected annotation whose obsolete term has
      a single `replaced_by` is moved to it (keeping `originalTerm`).
    * `progress(done, total)` counts rows written.
    """
    from bioimage_hub.ontology import upgrade as up

    source = ontology.id
    own, stubs = _term_rows(ontology)
    new_edges = _new_direct_edges(ontology)
    result = OntologyWrite(status="loaded")

    def work(tx: neo4j.Transaction) -> None:
        record = tx.run(ONTOLOGY_STATE, id=source).single()
        stored = dict(record["o"]) if record else None
        trusted = stored is not None and stored.get("storageVersion") == ONTOLOGY_STORAGE_VERSION
        if (
            not force
            and trusted
            and stored is not None
            and stored.get("fileChecksum") == ontology.file_checksum
            and stored.get("version") == ontology.version
        ):
            result.status = "unchanged"
            if apply_replacements:
                result.report = _apply_pending(tx, source, ontology.file_checksum)
                if result.report is not None:
                    result.status = "applied"
            return
        is_upgrade = stored is not None and (
            stored.get("version") != ontology.version
            or (stored.get("fileChecksum") or ontology.file_checksum) != ontology.file_checksum
        )
        if stored is not None:
            result.status = "upgraded" if is_upgrade else "reloaded"

        # ---- before-state (same transaction) ----------------------------------------------------
        old_terms: dict[str, dict[str, Any]] = {}
        old_edges: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {t: {} for t in DIRECT_TYPES}
        if stored is not None:
            record = tx.run(OWN_TERMS, source=source).single()
            for tid, label, obsolete, content in record["terms"] if record else []:
                old_terms[tid] = {"id": tid, "label": label, "obsolete": obsolete, "contentHash": content}
            record = tx.run(DIRECT_EDGES, source=source).single()
            for key, rel in (("isA", "IS_A"), ("partOf", "PART_OF"), ("replacedBy", "REPLACED_BY"),
                             ("consider", "CONSIDER"), ("related", "RELATED")):
                for values in record[key]:
                    row = dict(zip(("child", "parent", "relation", "relationId"), values, strict=False))
                    old_edges[rel][_edge_key(rel, row)] = row
        before = up.snapshot_from_rows(
            old_terms.values(), [(e["child"], e["parent"]) for e in old_edges["IS_A"].values()]
        )
        if stored is not None and not trusted:
            # written by another storage version: its edges, closures and names are dropped and
            # rewritten in full (the term diff for the report still uses what was read above)
            for rel, query in DROP_SOURCED.items():
                n = tx.run(query, source=source).consume().counters.relationships_deleted
                result.deleted[rel] = result.deleted.get(rel, 0) + n
            tx.run(DROP_OWN_TERM_NAMES, source=source).consume()
            old_edges = {t: {} for t in DIRECT_TYPES}
            for row in old_terms.values():
                row["contentHash"] = None

        # ---- the report ------------------------------------------------------------------------
        report = None
        if is_upgrade:
            after = up.snapshot_from_parsed(ontology)
            changes = up.diff(before, after)
            hit = changes.obsoleted + changes.removed
            rows = [r.data() for r in tx.run(ANNOTATIONS_ON, ids=hit)] if hit else []
            at = datetime.now(UTC)
            report = up.UpgradeReport(
                id=f"{source}@{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}",
                ontology=source,
                fromVersion=stored.get("version") if stored else None,
                toVersion=ontology.version,
                fromChecksum=stored.get("fileChecksum") if stored else None,
                toChecksum=ontology.file_checksum,
                at=at,
                changes=changes,
                affected=up.plan_replacements(rows, after, changes),
                applied=apply_replacements,
            )

        # ---- what to write -----------------------------------------------------------------------
        term_rows = [
            row for tid, row in own.items()
            if tid not in old_terms or old_terms[tid]["contentHash"] != row["contentHash"]
        ]
        removed_terms = sorted(set(old_terms) - set(own))
        edge_creates = {t: [row for k, row in new_edges[t].items() if k not in old_edges[t]] for t in DIRECT_TYPES}
        edge_deletes = {t: [row for k, row in old_edges[t].items() if k not in new_edges[t]] for t in DIRECT_TYPES}
        old_parents = [(e["child"], e["parent"]) for e in old_edges["IS_A"].values()]
        old_isa = ancestor_distances((), old_parents) if old_parents else {}
        old_part = [(e["child"], e["parent"]) for e in old_edges["PART_OF"].values()]
        old_hier = ancestor_distances((), old_parents + old_part) if old_part else old_isa
        isa_create, isa_delete = _closure_delta(old_isa, ontology.is_a_ancestors)
        hier_create, hier_delete = _closure_delta(old_hier, ontology.hierarchical_ancestors)
        both: dict[str, dict[str, int]] = {}
        for d, pairs in isa_create.items():
            other = hier_create.get(d)
            if not other:
                continue
            shared = {a: n for a, n in pairs.items() if other.get(a) == n}
            if shared:
                both[d] = shared
                for a in shared:
                    del pairs[a]
                    del other[a]
        # names of every term (re)written or removed are replaced; unchanged terms keep theirs
        name_deletes = [row["id"] for row in term_rows] + removed_terms
        name_creates = list(_term_name_rows(term_rows).values())
        closure_total = sum(
            len(p) for m in (isa_create, hier_create, both) for p in m.values()
        )
        total = (
            len(term_rows) + len(stubs) + sum(map(len, edge_creates.values()))
            + sum(map(len, edge_deletes.values())) + closure_total + len(name_creates)
        )
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        def run(query: str, rows: list[Any], key: str = "rows", size: int = BATCH_SIZE, **params: Any) -> None:
            for chunk in batches(rows, size):
                summary = tx.run(query, {key: chunk, "source": source, **params}).consume()
                c = summary.counters
                for label, n in (("nodes", c.nodes_created), ("relationships", c.relationships_created)):
                    if n:
                        result.created[label] = result.created.get(label, 0) + n
                for label, n in (("nodes", c.nodes_deleted), ("relationships", c.relationships_deleted)):
                    if n:
                        result.deleted[label] = result.deleted.get(label, 0) + n
                advance(len(chunk) if key == "rows" else 0)

        # ---- writes --------------------------------------------------------------------------------
        run(SET_TERMS, term_rows, size=5000)
        run(STUB_TERMS, stubs)
        if stored is not None:
            run(DELETE_TERM_NAMES, name_deletes, key="ids", size=10000)
        for rel in DIRECT_TYPES:
            run(DELETE_DIRECT[rel], edge_deletes[rel], size=10000)
        for rel, pairs in (("IS_A_CLOSURE", isa_delete), ("HIERARCHICAL_CLOSURE", hier_delete)):
            run(DELETE_CLOSURE[rel], [{"d": d, "a": a} for d, a in sorted(pairs.items())], size=5000)
        for rel in DIRECT_TYPES:
            run(CREATE_DIRECT[rel], edge_creates[rel], size=10000)
        for types, pairs in (
            (("IS_A_CLOSURE", "HIERARCHICAL_CLOSURE"), both),
            (("IS_A_CLOSURE",), isa_create),
            (("HIERARCHICAL_CLOSURE",), hier_create),
        ):
            rows = _closure_rows(pairs)
            for chunk in batches(rows, 2000):
                n = tx.run(CREATE_CLOSURE[types], rows=chunk, source=source).consume().counters
                result.created["relationships"] = result.created.get("relationships", 0) + n.relationships_created
                advance(sum(len(r["a"]) for r in chunk))
        run(CREATE_TERM_NAMES, name_creates, size=10000)
        if removed_terms:
            tx.run(UNDEFINE_TERMS, ids=removed_terms, source=source).consume()
        if report is not None and apply_replacements:
            _apply_replacements(tx, report, report.at)
        tx.run(
            SET_ONTOLOGY,
            id=source,
            prefix=ontology.prefix,
            title=ontology.title,
            version=ontology.version,
            term_count=len(own),
            obsolete_count=sum(1 for t in own.values() if t["obsolete"]),
            checksum=ontology.file_checksum,
            storage_version=ONTOLOGY_STORAGE_VERSION,
        ).consume()
        if report is not None:
            tx.run(CREATE_UPGRADE, props=report.node_properties()).consume()
        result.report = report

    _in_one_transaction(driver, database, work)
    return result


def _apply_replacements(tx: neo4j.Transaction, report: UpgradeReport, at: datetime) -> None:
    """Move every affected annotation that has a single replacement; mark what moved."""
    for rel in ("MAPPED_TO", "IMAGED_BY"):
        todo = [
            {"id": a.id, "term": a.term, "replacement": a.replacement}
            for a in report.affected
            if a.relationship == rel and a.replacement and not a.applied
        ]
        if not todo:
            continue
        moved = {(r["id"], r["term"]) for r in tx.run(APPLY_REPLACEMENT[rel], rows=todo, at=at)}
        for a in report.affected:
            if a.relationship == rel and (a.id, a.term) in moved:
                a.applied = True


PENDING_UPGRADE = """
MATCH (u:OntologyUpgrade {ontology: $source})
WHERE u.toChecksum = $checksum AND NOT u.applied
RETURN properties(u) AS u ORDER BY u.at DESC LIMIT 1
"""
MARK_APPLIED = "MATCH (u:OntologyUpgrade {id: $id}) SET u.applied = true, u.affected = $affected"


def _apply_pending(tx: neo4j.Transaction, source: str, checksum: str | None) -> UpgradeReport | None:
    """The file is already loaded, but its upgrade's replacements were not applied (the curator
    reviewed the report first): apply them now and mark the stored report applied. Returns that
    report, or None when there is nothing pending."""
    from bioimage_hub.ontology.upgrade import UpgradeReport

    record = tx.run(PENDING_UPGRADE, source=source, checksum=checksum).single()
    if record is None:
        return None
    report = UpgradeReport.from_node(record["u"])
    _apply_replacements(tx, report, datetime.now(UTC))
    report.applied = True
    tx.run(MARK_APPLIED, id=report.id, affected=report.node_properties()["affected"]).consume()
    return report


def _in_one_transaction(
    driver: neo4j.Driver, database: str, work: Callable[[neo4j.Transaction], None]
) -> None:
    """Run `work` in one explicit transaction; commit if it returns, roll back if it raises.

    Not `execute_write`: it retries transient errors for 30 s, and the one a big ontology meets,
    the server's transaction memory cap, fails again every time.
    """
    with driver.session(database=database) as session:
        tx = session.begin_transaction()
        try:
            work(tx)
            tx.commit()
        except neo4j.exceptions.Neo4jError as exc:
            if tx.closed() is False:
                tx.rollback()
            if "MemoryPoolOutOfMemoryError" in (exc.code or ""):
                raise OntologyWriteError(
                    "the ontology needs more transaction memory than the server allows "
                    f"({exc.message}); raise dbms.memory.transaction.total.max (embedded: "
                    "EMBEDDED_TX_MEMORY) and EMBEDDED_HEAP. Nothing was written."
                ) from exc
            raise
        except BaseException:
            if tx.closed() is False:
                tx.rollback()
            raise


def upgrade_reports(driver: neo4j.Driver, database: str, ontology: str | None = None) -> list[UpgradeReport]:
    """Stored upgrade reports, newest first (of one ontology, or all)."""
    from bioimage_hub.ontology.upgrade import UpgradeReport

    records, _, _ = driver.execute_query(
        "MATCH (u:OntologyUpgrade) WHERE $ontology IS NULL OR u.ontology = $ontology "
        "RETURN properties(u) AS u ORDER BY u.at DESC",
        ontology=ontology,
        database_=database,
    )
    return [UpgradeReport.from_node(r["u"]) for r in records]


STUDY_OWNED_LABELS = ("Dataset", "Plate", "Well", "Image", "Phenotype")


def label_counts(driver: neo4j.Driver, database: str, accession: str | None = None) -> Counter[str]:
    """Node counts per label: the whole graph, or (with `accession`) one study's own nodes.

    A study's nodes carry a `study` property, indexed per label, so this stays an index lookup
    per label instead of a scan of every node.
    """
    if accession is None:
        query = "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n"
        records, _, _ = driver.execute_query(query, database_=database)
        return Counter({r["label"]: r["n"] for r in records})
    parts = ["MATCH (n:Study {accession: $acc}) RETURN 'Study' AS label, count(n) AS n"]
    parts += [
        f"MATCH (n:{label} {{study: $acc}}) RETURN '{label}' AS label, count(n) AS n"
        for label in STUDY_OWNED_LABELS
    ]
    query = " UNION ALL ".join(parts)
    records, _, _ = driver.execute_query(query, acc=accession, database_=database)
    return Counter({r["label"]: r["n"] for r in records if r["n"]})
