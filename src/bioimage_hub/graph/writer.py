"""The one place that owns write Cypher.

Every unit of work (one study, one ontology) is one transaction: either all of it is in the graph
or none of it is. Rows are sent in `UNWIND` batches. Writes `MERGE` on natural keys and `SET`
(never `+=`) whole property sets, and a study's own relationships are replaced rather than added
to, so writing the same input twice leaves the graph exactly as it was.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import neo4j

from bioimage_hub.models import idr
from bioimage_hub.models.ontology import ParsedOntology
from bioimage_hub.ontology.curie import term_id

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
MERGE (s:Study {accession: $study.accession})
SET s.name = $study.name, s.title = $study.title, s.description = $study.description,
    s.type = $study.type, s.license = $study.license, s.licenseUrl = $study.license_url,
    s.releaseDate = CASE WHEN $study.release_date IS NULL THEN null ELSE date($study.release_date) END,
    s.externalUrl = $study.external_url, s.source = 'IDR'
WITH s
OPTIONAL MATCH (s)-[r:PUBLISHED_IN|OF_ORGANISM]->()
DELETE r
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

REAGENTS = """
UNWIND $rows AS row
MERGE (r:Reagent {id: row.id})
SET r.kind = row.kind, r.name = row.name, r.properties = row.properties
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

IMAGES = """
UNWIND $rows AS row
MATCH (d:Dataset {id: row.dataset})
MERGE (i:Image {id: row.id})
SET i.name = row.name, i.datasetName = row.dataset_name, i.study = d.study,
    i.annotated = row.annotated, i.controlType = row.control_type, i.comments = row.comments,
    i.attributes = row.attributes
MERGE (d)-[:HAS_IMAGE]->(i)
WITH i, row
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
        tx.run(STUDY, study=parsed.study.model_dump(mode="json")).consume()
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
            [{**r.model_dump(exclude={"properties"}), "properties": json.dumps(r.properties, sort_keys=True)} for r in parsed.reagents],
        )
        for kind, label in REAGENT_LABELS.items():
            ids = [r.id for r in parsed.reagents if r.kind == kind]
            if ids:
                tx.run(f"UNWIND $ids AS rid MATCH (r:Reagent {{id: rid}}) SET r:{label}", ids=ids).consume()
        tx.run(
            PHENOTYPES,
            accession=accession,
            rows=[{"id": p.id, "name": p.name, "term": p.term.id if p.term else None} for p in parsed.phenotypes],
        ).consume()
        _run_batched(tx, PLATES_AND_WELLS, well_rows)
        _run_batched(tx, IMAGES, image_rows, progress)

    with driver.session(database=database) as session:
        session.execute_write(work)


# --------------------------------------------------------------------------- ontologies

TERMS = """
UNWIND $rows AS row
MERGE (t:OntologyTerm {id: row.id})
SET t.iri = row.iri, t.shortForm = row.shortForm, t.ontology = row.ontology, t.label = row.label,
    t.definition = row.definition, t.synonyms = row.synonyms, t.synonymScopes = row.synonymScopes,
    t.synonymTexts = row.synonymTexts, t.obsolete = row.obsolete, t.stub = false,
    t.definedBy = $ontology
"""

STUB_TERMS = """
UNWIND $rows AS row
MERGE (t:OntologyTerm {id: row.id})
ON CREATE SET t.iri = row.iri, t.shortForm = row.shortForm, t.ontology = row.ontology,
              t.stub = true, t.obsolete = row.obsolete
SET t.label = CASE WHEN t.stub THEN coalesce(row.label, t.label) ELSE t.label END
"""

IS_A = """
UNWIND $rows AS row
MATCH (c:OntologyTerm {id: row.child}), (p:OntologyTerm {id: row.parent})
MERGE (c)-[r:IS_A {source: $ontology}]->(p)
"""

CLOSURE = """
UNWIND $rows AS row
MATCH (d:OntologyTerm {id: row.descendant}), (a:OntologyTerm {id: row.ancestor})
MERGE (d)-[r:IS_A_CLOSURE {source: $ontology}]->(a)
SET r.distance = row.distance
"""

ONTOLOGY = """
MERGE (o:Ontology {id: $id})
SET o.prefix = $prefix, o.title = $title, o.version = $version, o.loadedAt = datetime(),
    o.termCount = $term_count
"""


def write_ontology(
    driver: neo4j.Driver,
    database: str,
    ontology: ParsedOntology,
    progress: Progress | None = None,
) -> None:
    """Write a parsed ontology in ONE transaction: terms, direct is_a edges, is_a closure."""
    own = [t for t in ontology.terms if not t.stub]
    stubs = [t for t in ontology.terms if t.stub]

    def term_row(t: Any) -> dict[str, Any]:
        return {
            "id": t.id,
            "iri": t.iri,
            "shortForm": t.short_form,
            "ontology": t.ontology,
            "label": t.label,
            "definition": t.definition,
            "synonyms": [s.text for s in t.synonyms],
            "synonymScopes": [s.scope for s in t.synonyms],
            "synonymTexts": " | ".join(s.text for s in t.synonyms) or None,
            "obsolete": t.obsolete,
        }

    closure = [
        {"descendant": r.descendant, "ancestor": r.ancestor, "distance": r.distance}
        for r in ontology.closure
        if r.distance > 0
    ]
    edges = [e.model_dump() for e in ontology.is_a]

    def work(tx: neo4j.ManagedTransaction) -> None:
        _run_batched(tx, TERMS, [term_row(t) for t in own], progress, ontology=ontology.id)
        for chunk in batches([term_row(t) for t in stubs]):
            tx.run(STUB_TERMS, rows=chunk).consume()
        tx.run(
            "MATCH (t:OntologyTerm)-[r:IS_A|IS_A_CLOSURE {source: $ontology}]->() DELETE r",
            ontology=ontology.id,
        ).consume()
        for chunk in batches(edges):
            tx.run(IS_A, rows=chunk, ontology=ontology.id).consume()
        for chunk in batches(closure, 5000):
            tx.run(CLOSURE, rows=chunk, ontology=ontology.id).consume()
        tx.run(
            ONTOLOGY,
            id=ontology.id,
            prefix=ontology.prefix,
            title=ontology.title,
            version=ontology.version,
            term_count=len(own),
        ).consume()

    with driver.session(database=database) as session:
        session.execute_write(work)


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
