"""A validated submission → the graph, inside the caller's ONE write transaction.

The graph shape is exactly the one `graph.writer.write_study` gives an IDR study, so every read
(the query compiler, GraphQL types, counts, phenotype-with-subterms filters) works unchanged:

    (:Study {accession, source: 'submission', owner, ...})-[:HAS_DATASET]->(:Dataset {id: '<acc>-<dataset id>'})
    (:Dataset)-[:IMAGED_BY]->(:OntologyTerm FBbi)          (:Dataset)-[:HAS_IMAGE]->(:Image {id: '<dataset id>/<path>'})
    (:Dataset)-[:HAS_PLATE]->(:Plate {id: '<dataset id>/<plate>'})-[:HAS_WELL]->(:Well {id: '<plate id>:<well>'})-[:HAS_IMAGE]->(:Image)
    (:Image)-[:OF_ORGANISM]->(:Organism)  (:Image)-[:HAS_GENE]->(:Gene)-[:OF_ORGANISM]->(:Organism)
    (:Image)-[:HAS_REAGENT]->(:Reagent:SiRNA|Compound|Antibody {id: '<kind>:<id>'})
    (:Image)-[:HAS_PHENOTYPE]->(:Phenotype {id: '<acc>:<name>'})-[:MAPPED_TO]->(:OntologyTerm)
    (:Study)-[:HAS_PHENOTYPE_DEFINITION]->(:Phenotype)  (:Study)-[:OF_ORGANISM]->(:Organism)
    (:Study)-[:PUBLISHED_IN]->(:Publication {id: 'doi:<doi>' | 'pubmed:<pmid>'})

Resubmission replaces the study's content as `write_study` does (its PRUNE_STUDY / PRUNE_IMAGES
statements are reused): what the new document no longer has is deleted, the links of what it
keeps are rebuilt. Shared nodes (Gene, Reagent, Organism, Publication) are merged and only ever
gain information (`coalesce`), so a submission never erases what an IDR import knows about them.
All rows go in batched `UNWIND`s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import neo4j

from bioimage_hub.graph import writer as graph_writer
from bioimage_hub.graph.writer import BATCH_SIZE, IMAGE_LINKS, REAGENT_LABELS, SET_REAGENT_LABEL, batches
from bioimage_hub.importers.idr.reader import parse_well
from bioimage_hub.models.submission import LICENCES, Submission
from bioimage_hub.submission.validate import ValidSubmission

Progress = Callable[[int], None]

STUDY = """
MERGE (s:Study {accession: $study.accession})
SET s.name = $study.accession, s.title = $study.title, s.description = $study.description,
    s.type = null, s.license = $study.license, s.licenseUrl = $study.licenseUrl,
    s.releaseDate = date($study.releaseDate), s.externalUrl = null, s.source = 'submission',
    s.owner = coalesce(s.owner, $study.owner), s.keywords = $study.keywords, s.authors = $study.authors,
    s.authorOrcids = $study.authorOrcids, s.crossReferences = $study.crossReferences, s.funding = $study.funding
WITH s
OPTIONAL MATCH (s)-[r:PUBLISHED_IN|OF_ORGANISM]->()
DELETE r
"""

PUBLICATIONS = """
MATCH (s:Study {accession: $accession})
UNWIND $rows AS row
MERGE (p:Publication {id: row.id})
SET p.doi = coalesce(row.doi, p.doi), p.pmid = coalesce(row.pmid, p.pmid), p.pmcid = coalesce(row.pmcid, p.pmcid),
    p.title = coalesce(row.title, p.title),
    p.authors = CASE WHEN size(row.authors) > 0 THEN row.authors ELSE coalesce(p.authors, []) END
MERGE (s)-[:PUBLISHED_IN]->(p)
"""

REAGENTS = f"""
UNWIND $rows AS row
MERGE (r:Reagent {{id: row.id}})
SET r.kind = row.kind, r.name = coalesce(row.name, r.name, row.identifier),
    r.properties = coalesce(row.properties, r.properties)
{SET_REAGENT_LABEL}
"""

DATASETS = """
MATCH (s:Study {accession: $accession})
UNWIND $rows AS row
MERGE (d:Dataset {id: row.id})
SET d.name = row.name, d.kind = row.kind, d.description = row.description,
    d.technologyType = row.technologyType, d.sampleType = row.sampleType, d.study = s.accession,
    d.instrument = row.instrument, d.biologicalEntity = row.biologicalEntity,
    d.preparationProtocol = row.preparationProtocol, d.annotationType = row.annotationType,
    d.annotationSource = row.annotationSource
MERGE (s)-[:HAS_DATASET]->(d)
WITH d, row
OPTIONAL MATCH (d)-[old:IMAGED_BY]->()
DELETE old
WITH d, row
MATCH (t:OntologyTerm {id: row.imaging_method})
MERGE (d)-[:IMAGED_BY]->(t)
"""

PRUNE_PLATES_AND_WELLS = """
CALL () { MATCH (w:Well {study: $accession}) WHERE NOT w.id IN $well_ids DETACH DELETE w }
CALL () { MATCH (p:Plate {study: $accession}) WHERE NOT p.id IN $plate_ids DETACH DELETE p }
"""

# Resubmission: a kept image whose row changed loses the links the new row no longer has (links it
# keeps stay; IMAGES MERGEs the missing ones). Unchanged rows (same `rowHash`) are not touched.
UNLINK_CHANGED = """
UNWIND $rows AS row
MATCH (i:Image {id: row.id}) WHERE i.rowHash IS NULL OR i.rowHash <> row.hash
CALL (i, row) { MATCH (i)-[r:HAS_GENE]->(g:Gene) WHERE NOT g.id IN row.gene_ids DELETE r }
CALL (i, row) { MATCH (i)-[r:HAS_REAGENT]->(x:Reagent) WHERE NOT x.id IN row.reagent_ids DELETE r }
CALL (i, row) { MATCH (i)-[r:HAS_PHENOTYPE]->(p:Phenotype) WHERE NOT p.id IN row.phenotype_ids DELETE r }
CALL (i, row) { MATCH (i)-[r:OF_ORGANISM]->(o:Organism) WHERE o.id <> row.organism_id DELETE r }
CALL (i, row) { MATCH (w:Well)-[r:HAS_IMAGE]->(i) WHERE row.well_id IS NULL OR w.id <> row.well_id DELETE r }
"""

IMAGES = """
UNWIND $ids AS iid
MATCH (i:Image {id: iid})
CALL (i) { MATCH (i)-[r:HAS_GENE|HAS_REAGENT|HAS_PHENOTYPE|OF_ORGANISM]->() DELETE r }
CALL (i) { MATCH (:Well)-[r:HAS_IMAGE]->(i) DELETE r }
"""

IMAGES = """
UNWIND $rows AS row
MATCH (d:Dataset {id: row.dataset})
MERGE (i:Image {id: row.id})
WITH d, i, row WHERE i.rowHash IS NULL OR i.rowHash <> row.hash
SET i.rowHash = row.hash, i.name = row.name, i.datasetName = null, i.study = d.study, i.annotated = true,
    i.controlType = row.control_type, i.comments = row.comments, i.attributes = row.attributes,
    i.path = row.path, i.format = row.format, i.sizeBytes = row.size_bytes, i.checksum = row.checksum,
    i.omeZarrUrl = row.ome_zarr_url
MERGE (d)-[:HAS_IMAGE]->(i)
WITH i, row
""" + IMAGE_LINKS


@dataclass
class Rows:
    study: dict[str, Any]
    organisms: list[dict[str, Any]]
    study_organisms: list[str]
    publications: list[dict[str, Any]]
    datasets: list[dict[str, Any]]
    genes: list[dict[str, Any]]
    reagents: list[dict[str, Any]]
    phenotypes: list[dict[str, Any]]
    wells: list[dict[str, Any]]
    images: list[dict[str, Any]]


def dataset_id(accession: str, local: str) -> str:
    return f"{accession}-{local}"


def build_rows(accession: str, valid: ValidSubmission, owner: str) -> Rows:
    """Every node and link of the submission as UNWIND rows (pure; no database)."""
    sub: Submission = valid.submission
    labels = valid.term_labels
    st = sub.study
    biosamples = {b.id: b for b in sub.biosamples}
    specimens = {s.id: s for s in sub.specimens}
    acquisitions = {a.id: a for a in sub.acquisitions}
    methods = {m.id: m for m in sub.annotation_methods}

    organisms: dict[str, dict[str, Any]] = {}

    def organism(taxon: Any) -> str:
        known = organisms.setdefault(taxon.id, {"id": taxon.id, "name": taxon.name})
        known["name"] = known["name"] or taxon.name
        return taxon.id

    study_organisms = list(dict.fromkeys(organism(b.organism) for b in sub.biosamples))
    datasets, genes, reagents, phenotypes, wells, images = [], {}, {}, {}, {}, []
    for ds in sub.datasets:
        did = dataset_id(accession, ds.id)
        bio, spec, acq = biosamples[ds.biosample], specimens[ds.specimen], acquisitions[ds.acquisition]
        method = methods.get(ds.annotation_method) if ds.annotation_method else None
        datasets.append({
            "id": did, "name": ds.name or ds.id, "kind": ds.kind, "description": ds.description,
            "technologyType": labels.get(acq.imaging_method), "sampleType": bio.biological_entity,
            "imaging_method": acq.imaging_method, "instrument": acq.instrument,
            "biologicalEntity": bio.biological_entity, "preparationProtocol": spec.preparation_protocol,
            "annotationType": method.method_type if method else None,
            "annotationSource": method.source if method else None,
        })
        image_organism = bio.organism.id
        for img in ds.images:
            well_id = None
            if img.plate is not None and img.well is not None:
                plate_id = f"{did}/{img.plate}"
                well, row, column = parse_well(img.well)
                well_id = f"{plate_id}:{well}"
                wells.setdefault(well_id, {"dataset": did, "plate_id": plate_id, "plate": img.plate, "well_id": well_id,
                                           "well": well, "row": row, "column": column})
            gene_ids = []
            for g in img.genes:
                gene_ids.append(g.id)
                if g.id not in genes:
                    genes[g.id] = {"id": g.id, "symbol": g.symbol, "synonyms": [],
                                   "organism_id": organism(g.organism) if g.organism else image_organism}
            reagent_ids = []
            for r in img.reagents:
                reagent_ids.append(r.key)
                reagents.setdefault(r.key, {"id": r.key, "kind": r.kind, "identifier": r.id, "name": r.name,
                                            "properties": json.dumps(r.properties, sort_keys=True) if r.properties else None,
                                            "label": REAGENT_LABELS.get(r.kind)})
            phenotype_ids = []
            for p in img.phenotypes:
                name = p.name or labels.get(p.term) or p.term
                pid = f"{accession}:{name}"
                phenotype_ids.append(pid)
                phenotypes.setdefault(pid, {"id": pid, "name": name, "term": p.term})
            images.append({
                "id": f"{did}/{img.path}", "dataset": did, "name": img.name or img.path, "path": img.path,
                "format": img.format, "size_bytes": img.size_bytes, "checksum": img.checksum,
                "ome_zarr_url": img.ome_zarr_url, "well_id": well_id, "organism_id": image_organism,
                "gene_ids": list(dict.fromkeys(gene_ids)), "reagent_ids": list(dict.fromkeys(reagent_ids)),
                "phenotype_ids": list(dict.fromkeys(phenotype_ids)), "control_type": img.control_type,
                "comments": img.comments,
                "attributes": json.dumps(img.attributes, sort_keys=True) if img.attributes else None,
            })
    study = {
        "accession": accession, "title": st.title, "description": st.description, "license": st.licence,
        "licenseUrl": LICENCES[st.licence], "releaseDate": st.release_date.isoformat(), "owner": owner,
        "keywords": list(st.keywords), "authors": [a.name for a in st.authors],
        "authorOrcids": [a.orcid or "" for a in st.authors], "crossReferences": list(st.cross_references),
        "funding": json.dumps([f.model_dump(exclude_none=True) for f in st.funding]) if st.funding else None,
    }
    publications = [
        {"id": p.key, "doi": p.doi, "pmid": p.pmid, "pmcid": p.pmcid, "title": p.title, "authors": list(p.authors)}
        for p in st.publications
    ]
    for row in images:
        row["hash"] = hashlib.sha1(json.dumps(row, sort_keys=True).encode("utf-8")).hexdigest()
    return Rows(study, list(organisms.values()), study_organisms, list({p["id"]: p for p in publications}.values()),
                datasets, list(genes.values()), list(reagents.values()), list(phenotypes.values()),
                list(wells.values()), images)


def write(
    tx: neo4j.ManagedTransaction,
    rows: Rows,
    *,
    replace: bool,
    progress: Progress | None = None,
) -> None:
    """Write the rows in the caller's transaction; `replace` prunes what a previous version had."""
    accession = rows.study["accession"]
    tx.run(STUDY, study=rows.study).consume()
    image_ids = [r["id"] for r in rows.images]
    if replace:
        tx.run(graph_writer.PRUNE_STUDY, accession=accession, dataset_ids=[d["id"] for d in rows.datasets],
               phenotype_ids=[p["id"] for p in rows.phenotypes]).consume()
        tx.run(graph_writer.PRUNE_IMAGES, accession=accession, image_ids=image_ids).consume()
        tx.run(PRUNE_PLATES_AND_WELLS, accession=accession, well_ids=[w["well_id"] for w in rows.wells],
               plate_ids=sorted({w["plate_id"] for w in rows.wells})).consume()
        for chunk in batches(rows.images):
            tx.run(UNLINK_CHANGED, rows=chunk).consume()
    for chunk in batches(rows.organisms):
        tx.run(graph_writer.ORGANISMS, rows=chunk).consume()
    tx.run(graph_writer.STUDY_ORGANISMS, accession=accession, ids=rows.study_organisms).consume()
    tx.run(PUBLICATIONS, accession=accession, rows=rows.publications).consume()
    tx.run(DATASETS, accession=accession, rows=rows.datasets).consume()
    for chunk in batches(rows.genes):
        tx.run(graph_writer.GENES, rows=chunk).consume()
    for chunk in batches(rows.reagents):
        tx.run(REAGENTS, rows=chunk).consume()
    for chunk in batches(rows.phenotypes):
        tx.run(graph_writer.PHENOTYPES, accession=accession, rows=chunk).consume()
    for chunk in batches(rows.wells):
        tx.run(graph_writer.PLATES_AND_WELLS, rows=chunk).consume()
    for chunk in batches(rows.images, BATCH_SIZE):
        tx.run(IMAGES, rows=chunk).consume()
        if progress:
            progress(len(chunk))
