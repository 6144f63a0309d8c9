"""Archive-scale benchmark (issue 7): load rate, query latency and throughput, side by side.

    .venv/bin/python bench/run.py --quick                 # ~50k images, a few minutes
    .venv/bin/python bench/run.py                         # 1,000,000 images (hours on 2 cores)
    .venv/bin/python bench/run.py --images 200000 --reuse # reuse a graph already generated with these args

WRITES (wipes the database unless --reuse): point it at its own Neo4j, e.g.
    export EMBEDDED_HOME=$PWD/var/neo4j-scale EMBEDDED_BOLT_PORT=7698 EMBEDDED_HEAP=4g
    .venv/bin/bioimage-hub neo4j start

In one run:
1. load: the synthetic archive (bench/generate.py) through the hub's writer (`write_study`, one
   transaction per study); then a sample of studies written twice more, interleaved, under two
   other accession prefixes: by the hub's writer and by a minimal hand-written batched-UNWIND
   script doing the same writes (CREATE for what is new, MERGE for shared nodes) through the same
   driver. Rate = (nodes + relationships written) / write seconds, from the count store.
2. latency: a fixed set of GraphQL queries over HTTP to the hub served by uvicorn on 127.0.0.1
   (EXPOSE_CYPHER=true) vs the best hand-written Cypher for the same answer through the async
   driver; interleaved; p50/p95/p99, statements per request, db hits (PROFILE of the statement the
   hub generated and of the baseline), same answer checked.
3. throughput: 32 concurrent clients for 30 s against the hub and against a bare Starlette endpoint
   running the SAME Cypher (bench/bare_app.py); requests/s and errors.
4. the peer (unless --no-peer): the Neo4j GraphQL Library (@neo4j/graphql + @apollo/server in Node,
   bench/js, started by bench/peer.py) over the same Neo4j, answering the cases it can express;
   its latency is interleaved with the hub's and Cypher's in step 2, its answers compared with the
   hub's, and its throughput measured on that subset of queries next to the hub's on the same subset.
Report: a table on stderr, JSON to bench/results/scale-<images>.json (--output).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import neo4j
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # noqa: E402
import peer as peer_mod  # noqa: E402

from bioimage_hub.config import PROJECT_ROOT, get_settings  # noqa: E402
from bioimage_hub.graph.driver import sync_driver  # noqa: E402

console = Console(stderr=True)
RESULTS = PROJECT_ROOT / "bench" / "results"
HIDDEN = "CALL () { OPTIONAL MATCH (h:Study) WHERE h.releaseDate > date() RETURN collect(h.accession) AS hidden } "

# =========================================================================== 1. load


BASE_STUDY = """
MATCH (o:Organism {id: $org})
CREATE (s:Study {accession: $study.accession, name: $study.name, title: $study.title,
  description: $study.description, type: $study.type, license: $study.license,
  licenseUrl: $study.license_url, releaseDate: date($study.release_date),
  externalUrl: $study.external_url, source: 'IDR'})
CREATE (s)-[:OF_ORGANISM]->(o)
"""
BASE_ORGANISMS = "UNWIND $rows AS row MERGE (o:Organism {id: row.id}) SET o.name = coalesce(row.name, o.name)"
BASE_PUBS = """
MATCH (s:Study {accession: $acc})
UNWIND $rows AS row
MERGE (p:Publication {id: row.id})
SET p.doi = row.doi, p.pmid = row.pmid, p.pmcid = row.pmcid, p.title = row.title, p.authors = row.authors
CREATE (s)-[:PUBLISHED_IN]->(p)
"""
BASE_TERMS = """
UNWIND $rows AS row MERGE (t:OntologyTerm {id: row.id})
ON CREATE SET t.iri = row.iri, t.shortForm = row.shortForm, t.ontology = row.ontology, t.label = row.label,
              t.stub = true, t.obsolete = false
"""
BASE_DATASETS = """
MATCH (s:Study {accession: $acc})
UNWIND $rows AS row
CREATE (d:Dataset {id: row.id, name: row.name, kind: row.kind, description: row.description,
  technologyType: row.technology_type, sampleType: row.sample_type, study: $acc})
CREATE (s)-[:HAS_DATASET]->(d)
WITH d, row MATCH (t:OntologyTerm {id: row.imaging_method}) CREATE (d)-[:IMAGED_BY]->(t)
"""
BASE_GENES = """
UNWIND $rows AS row
MERGE (g:Gene {id: row.id})
SET g.symbol = coalesce(row.symbol, g.symbol), g.symbolLower = toLower(coalesce(row.symbol, g.symbol)),
    g.synonyms = CASE WHEN size(row.synonyms) > 0 THEN row.synonyms ELSE coalesce(g.synonyms, []) END
WITH g, row MATCH (o:Organism {id: row.organism_id}) MERGE (g)-[:OF_ORGANISM]->(o)
"""
BASE_REAGENTS = """
UNWIND $rows AS row
MERGE (r:Reagent {id: row.id}) SET r.kind = row.kind, r.name = row.name, r.properties = row.properties, r:SiRNA
"""
BASE_PHENOTYPES = """
MATCH (s:Study {accession: $acc})
UNWIND $rows AS row
CREATE (p:Phenotype {id: row.id, name: row.name, study: $acc})
CREATE (s)-[:HAS_PHENOTYPE_DEFINITION]->(p)
WITH p, row MATCH (t:OntologyTerm {id: row.term}) CREATE (p)-[:MAPPED_TO]->(t)
"""
BASE_PLATES = """
UNWIND $rows AS row
MATCH (d:Dataset {id: row.dataset})
CREATE (p:Plate {id: row.id, name: row.name, study: $acc})
CREATE (d)-[:HAS_PLATE]->(p)
WITH p, row
UNWIND row.wells AS w
CREATE (x:Well {id: w.id, name: w.name, row: w.row, column: w.column, study: $acc})
CREATE (p)-[:HAS_WELL]->(x)
"""
BASE_IMAGES = """
UNWIND $rows AS row
MATCH (d:Dataset {id: row.dataset})
CREATE (i:Image {id: row.id, name: row.name, datasetName: row.dataset_name, study: $acc, annotated: row.annotated,
  controlType: row.control_type, comments: row.comments, attributes: row.attributes})
CREATE (d)-[:HAS_IMAGE]->(i)
WITH i, row
CALL (i, row) { WITH i, row WHERE row.well_id IS NOT NULL MATCH (w:Well {id: row.well_id}) CREATE (w)-[:HAS_IMAGE]->(i) }
CALL (i, row) { MATCH (o:Organism {id: row.organism_id}) CREATE (i)-[:OF_ORGANISM]->(o) }
CALL (i, row) { UNWIND row.gene_ids AS gid MATCH (g:Gene {id: gid}) CREATE (i)-[:HAS_GENE]->(g) }
CALL (i, row) { UNWIND row.reagent_ids AS rid MATCH (r:Reagent {id: rid}) CREATE (i)-[:HAS_REAGENT]->(r) }
CALL (i, row) { UNWIND row.phenotype_ids AS pid MATCH (p:Phenotype {id: pid}) CREATE (i)-[:HAS_PHENOTYPE]->(p) }
"""
BASE_XREFS = """
MATCH (s:Study {accession: $acc})
UNWIND $rows AS row
MERGE (x:CrossReference {id: row.id}) SET x.resource = row.resource, x.accession = row.accession, x.url = row.url
CREATE (s)-[:LINKS_TO {source: 'idr'}]->(x)
"""


def baseline_write(driver: neo4j.Driver, db: str, parsed: Any) -> None:
    """The same writes as `write_study` for a NEW study, hand-written: one transaction, batched UNWIND."""
    from bioimage_hub.graph import writer
    from bioimage_hub.ontology.curie import term_id

    acc = parsed.study.accession
    rows = writer._image_rows(parsed)
    plates: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["plate_id"]:
            p = plates.setdefault(r["plate_id"], {"id": r["plate_id"], "name": r["plate"], "dataset": r["dataset"], "wells": {}})
            p["wells"][r["well_id"]] = {"id": r["well_id"], "name": r["well"], "row": r["row"], "column": r["column"]}
    plate_rows = [{**p, "wells": list(p["wells"].values())} for p in plates.values()]
    terms = {}
    for ref in [p.term for p in parsed.phenotypes if p.term] + [d.imaging_method for d in parsed.datasets if d.imaging_method]:
        t = term_id(ref.id)
        terms[t.curie] = {"id": t.curie, "iri": t.iri, "shortForm": t.short_form, "ontology": t.prefix.lower(), "label": ref.label}
    xrefs = [{"id": x.curie, "resource": x.resource, "accession": x.accession, "url": x.url}
             for x in writer.xrefs_from_parsed_study(parsed)]

    def work(tx: neo4j.ManagedTransaction) -> None:
        tx.run(BASE_ORGANISMS, rows=[o.model_dump() for o in parsed.organisms]).consume()
        tx.run(BASE_STUDY, study=parsed.study.model_dump(mode="json"), org=parsed.study.organisms[0].id).consume()
        tx.run(BASE_PUBS, acc=acc, rows=[p.model_dump() for p in parsed.publications]).consume()
        tx.run(BASE_TERMS, rows=list(terms.values())).consume()
        tx.run(BASE_DATASETS, acc=acc, rows=[{**d.model_dump(exclude={"imaging_method"}),
                                              "imaging_method": d.imaging_method.id if d.imaging_method else None}
                                             for d in parsed.datasets]).consume()
        for chunk in writer.batches([g.model_dump() for g in parsed.genes]):
            tx.run(BASE_GENES, rows=chunk).consume()
        for chunk in writer.batches([{**r.model_dump(exclude={"properties"}), "properties": json.dumps(r.properties, sort_keys=True)}
                                     for r in parsed.reagents]):
            tx.run(BASE_REAGENTS, rows=chunk).consume()
        tx.run(BASE_PHENOTYPES, acc=acc, rows=[{"id": p.id, "name": p.name, "term": p.term.id if p.term else None}
                                               for p in parsed.phenotypes]).consume()
        for chunk in writer.batches(plate_rows, 50):
            tx.run(BASE_PLATES, acc=acc, rows=chunk).consume()
        for chunk in writer.batches(rows):
            tx.run(BASE_IMAGES, acc=acc, rows=chunk).consume()
        if xrefs:
            tx.run(BASE_XREFS, acc=acc, rows=xrefs).consume()

    with driver.session(database=db) as session:
        session.execute_write(work)


def load_comparison(driver: neo4j.Driver, db: str, cfg: gen.Config, sample_images: int) -> dict[str, Any]:
    """Write a sample of the archive's studies again, hub writer vs baseline, interleaved."""
    from bioimage_hub.graph.writer import write_study

    gen._patch_xrefs()
    arc = gen.Archive.build(cfg)
    step = max(1, cfg.n_studies // 200)
    indexes, total = [], 0
    for i in range(0, cfg.n_studies, step):
        indexes.append(i)
        total += arc.sizes[i]
        if total >= sample_images:
            break
    side = {"hub": {"s": 0.0, "written": 0}, "baseline": {"s": 0.0, "written": 0}}
    mismatched = []
    for n, index in enumerate(indexes):
        order = [("hub", "lwh"), ("baseline", "lwb")]
        if n % 2:
            order.reverse()
        got = {}
        for name, prefix in order:
            parsed = gen.make_study(arc, index, prefix)
            before = gen.graph_counts(driver, db)
            t0 = time.perf_counter()
            (write_study if name == "hub" else baseline_write)(driver, db, parsed)
            side[name]["s"] += time.perf_counter() - t0
            got[name] = gen.graph_counts(driver, db) - before
            side[name]["written"] += got[name]
        # the second writer of a study finds shared nodes (publication, xrefs) the first created
        if abs(got["hub"] - got["baseline"]) > 10:
            mismatched.append({"study": index, **got})
    for prefix in ("lwh", "lwb"):
        gen.delete_prefix(driver, db, prefix)
    out: dict[str, Any] = {"studies": len(indexes), "images": total, "mismatched_counts": mismatched}
    for name, v in side.items():
        out[name] = {"seconds": round(v["s"], 2), "written": v["written"], "rate_per_s": round(v["written"] / v["s"], 1)}
    out["ratio"] = round(out["hub"]["rate_per_s"] / out["baseline"]["rate_per_s"], 2)
    return out


# =========================================================================== 2. queries


def _cursor(key: Any) -> str:
    from bioimage_hub.graph.query.cursor import encode_cursor

    return encode_cursor(key)


@dataclass
class Case:
    name: str
    query: str
    variables: dict[str, Any]
    cypher: str  # hand-written baseline; `hidden` (embargoed accessions) is computed first
    params: dict[str, Any]
    hub_ids: Callable[[dict[str, Any]], Any]
    base_ids: Callable[[dict[str, Any]], Any]
    stats: dict[str, Any] = field(default_factory=dict)


def targets(driver: neo4j.Driver, db: str, cfg: gen.Config) -> dict[str, Any]:
    """The queries' arguments, picked from the generator's seeded distributions and the graph."""
    arc = gen.Archive.build(cfg)
    human = "NCBITaxon:9606"
    gene = arc.gene(human, arc.genes[human].rank(0))
    q = lambda c, **p: driver.execute_query(c, p, database_=db)[0]  # noqa: E731
    # phenotype: the direct is_a parent of the most frequently drawn CMPO term
    top = arc.cmpo.rank(0)  # type: ignore[union-attr]
    parent = q("MATCH (:OntologyTerm {id: $t})-[:IS_A]->(p:OntologyTerm) RETURN p.id AS id ORDER BY id LIMIT 1", t=top)
    pheno = parent[0]["id"] if parent else top
    big = q("MATCH (d:Dataset {kind: 'screen'}) WHERE d.study STARTS WITH $prefix "
            "WITH d.study AS s, COUNT { (d)-[:HAS_PLATE]->() } AS n "
            "MATCH (st:Study {accession: s}) WHERE NOT st.releaseDate > date() "
            "RETURN s ORDER BY n DESC, s LIMIT 1", prefix=cfg.prefix)[0]["s"]
    images = q("MATCH (i:Image {study: $s}) RETURN i.id AS id ORDER BY id", s=big)
    accs = [arc.accession(i) for i in range(0, cfg.n_studies, max(1, cfg.n_studies // 25))]
    reps = q("UNWIND $accs AS a CALL (a) { MATCH (i:Image {study: a}) RETURN i.id AS id ORDER BY id LIMIT 2 } "
             "MATCH (s:Study {accession: a}) WHERE NOT s.releaseDate > date() RETURN id LIMIT 50", accs=accs)
    gene_ids = q("MATCH (:Gene {symbolLower: toLower($s)})<-[:HAS_GENE]-(i:Image) RETURN i.id AS id ORDER BY id", s=gene.symbol)
    return {
        "phenotype": pheno, "organism": "Homo sapiens", "gene": gene.symbol, "gene_images": len(gene_ids),
        "gene_page100_after": gene_ids[99 * 20 - 1]["id"] if len(gene_ids) >= 99 * 20 else None,
        "study": big, "study_images": len(images), "study_page_after": images[min(len(images) - 1, 249)]["id"],
        "entities": [r["id"] for r in reps], "search": "nucleus", "xref_resource": "empiar",
    }


def _ids(items: list[dict[str, Any]] | None, key: str = "id") -> list[Any]:
    return [i[key] for i in items or []]


def cases(t: dict[str, Any]) -> list[Case]:
    out = []
    out.append(Case(
        "phenotype+subterms+organism",
        """query($t: String!, $o: String!) { images(first: 20, filter: {phenotype: $t, organism: $o}) {
             totalCount nodes { id study { accession } phenotypes { name term { id } } } } }""",
        {"t": t["phenotype"], "o": t["organism"]},
        HIDDEN + """MATCH (:OntologyTerm {id: $t})<-[:IS_A_CLOSURE*0..1]-(:OntologyTerm)<-[:MAPPED_TO]-(:Phenotype)<-[:HAS_PHENOTYPE]-(i:Image)
        WHERE NOT i.study IN hidden AND EXISTS { (i)-[:OF_ORGANISM]->(:Organism {name: $o}) }
        WITH DISTINCT i ORDER BY i.id
        WITH collect(i) AS found
        RETURN {total: size(found), ids: [i IN found[0..20] | i.id], page: [i IN found[0..21] | i {.id, study: i.study,
          phenotypes: COLLECT { MATCH (i)-[:HAS_PHENOTYPE]->(p:Phenotype) RETURN {name: p.name,
            term: head(COLLECT { MATCH (p)-[:MAPPED_TO]->(x) RETURN x.id })} }}]} AS result""",
        {"t": t["phenotype"], "o": t["organism"]},
        lambda d: (d["images"]["totalCount"], _ids(d["images"]["nodes"])),
        lambda r: (r["total"], r["ids"]),
    ))
    gene_base = HIDDEN + """MATCH (g:Gene {symbolLower: toLower($g)})
        CALL (g, hidden) { MATCH (g)<-[:HAS_GENE]-(i:Image) WHERE NOT i.study IN hidden RETURN count(i) AS total }
        CALL (g, hidden) { MATCH (g)<-[:HAS_GENE]-(i:Image) WHERE NOT i.study IN hidden AND ($after IS NULL OR i.id > $after)
                           WITH i ORDER BY i.id LIMIT 21 RETURN collect(i.id) AS ids }
        RETURN {total: total, ids: ids[0..20]} AS result"""
    out.append(Case(
        "gene-images-page1",
        """query($g: String!) { images(first: 20, filter: {gene: $g}) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }""",
        {"g": t["gene"]}, gene_base, {"g": t["gene"], "after": None},
        lambda d: (d["images"]["totalCount"], _ids(d["images"]["nodes"])), lambda r: (r["total"], r["ids"]),
    ))
    if t["gene_page100_after"]:
        out.append(Case(
            "gene-images-page100",
            """query($g: String!, $a: String) { images(first: 20, after: $a, filter: {gene: $g}) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }""",
            {"g": t["gene"], "a": _cursor(t["gene_page100_after"])}, gene_base, {"g": t["gene"], "after": t["gene_page100_after"]},
            lambda d: (d["images"]["totalCount"], _ids(d["images"]["nodes"])), lambda r: (r["total"], r["ids"]),
        ))
    out.append(Case(
        "study-datasets-plates-wells-images",
        """query($s: String!) { study(accession: $s) { title datasets { name
             plates(first: 5) { nodes { name wells(first: 10) { nodes { name images { id name } } } } } } } }""",
        {"s": t["study"]},
        HIDDEN + """MATCH (s:Study {accession: $s}) WHERE NOT s.accession IN hidden
        RETURN s {.title, datasets: COLLECT { MATCH (s)-[:HAS_DATASET]->(d:Dataset) WITH d ORDER BY d.id RETURN d {.name,
          plates: COLLECT { MATCH (d)-[:HAS_PLATE]->(p:Plate) WITH p ORDER BY p.id LIMIT 5 RETURN p {.name,
            wells: COLLECT { MATCH (p)-[:HAS_WELL]->(w:Well) WITH w ORDER BY w.id LIMIT 10 RETURN w {.name,
              images: COLLECT { MATCH (w)-[:HAS_IMAGE]->(i:Image) RETURN i {.id, .name} } } } } } } } } AS result""",
        {"s": t["study"]},
        lambda d: [i["id"] for ds in d["study"]["datasets"] for p in ds["plates"]["nodes"] for w in p["wells"]["nodes"] for i in w["images"]],
        lambda r: [i["id"] for ds in r["datasets"] for p in ds["plates"] for w in p["wells"] for i in w["images"]],
    ))
    out.append(Case(
        "study-images-page6",
        """query($s: String!, $a: String) { images(first: 50, after: $a, filter: {study: $s}) { pageInfo { hasNextPage endCursor } nodes { id name } } }""",
        {"s": t["study"], "a": _cursor(t["study_page_after"])},
        HIDDEN + """MATCH (i:Image {study: $s}) WHERE NOT i.study IN hidden AND i.id > $a
        WITH i ORDER BY i.id LIMIT 51 RETURN {ids: collect(i.id)[0..50]} AS result""",
        {"s": t["study"], "a": t["study_page_after"]},
        lambda d: _ids(d["images"]["nodes"]), lambda r: r["ids"],
    ))
    out.append(Case(
        "term-search",
        """query($q: String!) { searchTerms(query: $q, first: 20) { nodes { matchType matchedText term { id label } } } }""",
        {"q": t["search"]}, "", {},  # baseline: the statement itself (filled in from the hub's, see run_latency)
        lambda d: [n["term"]["id"] for n in d["searchTerms"]["nodes"]], lambda r: [n["term"]["id"] for n in r["page"][:20]],
    ))
    out.append(Case(
        "crosslinks-resource",
        """query($r: String!) { crossLinks(resource: $r, first: 20) { nodes { id accession studies { accession title } } } }""",
        {"r": t["xref_resource"]},
        HIDDEN + """MATCH (x:CrossReference {resource: $r}) WITH x, hidden ORDER BY x.id LIMIT 21
        RETURN {ids: collect(x.id)[0..20], page: collect(x {.id, .accession, studies: COLLECT { MATCH (x)<-[:LINKS_TO]-(s:Study)
          WHERE NOT s.accession IN hidden WITH DISTINCT s ORDER BY s.accession RETURN s {.accession, .title} }})} AS result""",
        {"r": t["xref_resource"]},
        lambda d: _ids(d["crossLinks"]["nodes"]), lambda r: r["ids"],
    ))
    out.append(Case(
        "entities-50-images",
        """query($r: [_Any!]!) { _entities(representations: $r) { ... on Image { id name study { accession } genes { symbol } } } }""",
        {"r": [{"__typename": "Image", "id": i} for i in t["entities"]]},
        HIDDEN + """UNWIND $ids AS k MATCH (i:Image {id: k}) WHERE NOT i.study IN hidden
        RETURN collect(i {.id, .name, study: i.study, genes: COLLECT { MATCH (i)-[:HAS_GENE]->(g:Gene) RETURN g.symbol }}) AS result""",
        {"ids": t["entities"]},
        lambda d: sorted(e["id"] for e in d["_entities"] if e), lambda r: sorted(_ids(r)),
    ))
    out.append(Case(
        "deep-nested",
        """query($g: String!) { genes(symbol: $g) { nodes { id symbol organism { name }
             images(first: 10) { nodes { id phenotypes { name term { id label parents { id } } }
               dataset { name imagingMethod { label } study { accession publications { doi } } } } } } } }""",
        {"g": t["gene"]},
        HIDDEN + """MATCH (g:Gene {symbolLower: toLower($g)})
        RETURN collect(g {.id, .symbol, organism: head(COLLECT { MATCH (g)-[:OF_ORGANISM]->(o) RETURN o.name }),
          images: COLLECT { MATCH (g)<-[:HAS_GENE]-(i:Image) WHERE NOT i.study IN hidden WITH i ORDER BY i.id LIMIT 10
            RETURN i {.id, phenotypes: COLLECT { MATCH (i)-[:HAS_PHENOTYPE]->(p:Phenotype) RETURN p {.name,
                term: head(COLLECT { MATCH (p)-[:MAPPED_TO]->(x) RETURN x {.id, .label, parents: COLLECT { MATCH (x)-[:IS_A]->(y) RETURN y.id }} }) } },
              dataset: head(COLLECT { MATCH (i)<-[:HAS_IMAGE]-(d:Dataset) RETURN d {.name,
                imagingMethod: head(COLLECT { MATCH (d)-[:IMAGED_BY]->(m) RETURN m.label }),
                study: head(COLLECT { MATCH (d)<-[:HAS_DATASET]-(s:Study) RETURN s {.accession,
                  publications: COLLECT { MATCH (s)-[:PUBLISHED_IN]->(pb) RETURN pb.doi } } }) } }) } } }) AS result""",
        {"g": t["gene"]},
        lambda d: [i["id"] for g in d["genes"]["nodes"] for i in g["images"]["nodes"]],
        lambda r: [i["id"] for g in r for i in g["images"]],
    ))
    out.append(Case(
        "term-descendants-counts",
        """query($t: ID!) { term(id: $t) { label descendants { distance term { id } } imageCount studyCount } }""",
        {"t": t["phenotype"]},
        HIDDEN + """MATCH (t:OntologyTerm {id: $t})
        CALL (t, hidden) { MATCH (t)<-[:IS_A_CLOSURE*0..1]-(:OntologyTerm)<-[:MAPPED_TO]-(p:Phenotype)<-[:HAS_PHENOTYPE]-(i:Image)
                           WHERE NOT i.study IN hidden RETURN count(DISTINCT i) AS images, count(DISTINCT i.study) AS studies }
        RETURN {label: t.label, images: images, studies: studies,
                descendants: COLLECT { MATCH (t)<-[r:IS_A_CLOSURE]-(d) RETURN {distance: r.distance, id: d.id} }} AS result""",
        {"t": t["phenotype"]},
        lambda d: (d["term"]["imageCount"], len(d["term"]["descendants"])),
        lambda r: (r["images"], len(r["descendants"])),
    ))
    return out


def _sum_hits(plan: Any) -> int:
    if plan is None:
        return 0
    hits = plan.get("dbHits", 0) if isinstance(plan, dict) else getattr(plan, "db_hits", 0)
    children = plan.get("children", []) if isinstance(plan, dict) else getattr(plan, "children", [])
    return int(hits) + sum(_sum_hits(c) for c in children)


async def db_hits(driver: neo4j.AsyncDriver, db: str, cypher: str, params: dict[str, Any]) -> int:
    async with driver.session(database=db, default_access_mode=neo4j.READ_ACCESS) as session:
        result = await session.run("PROFILE " + cypher, params)
        summary = await result.consume()
        return _sum_hits(summary.profile)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, int(round(q / 100 * len(s))) - 1))], 2)


async def _peer_call(client: httpx.AsyncClient, url: str, pc: Any) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    resp = await client.post(url, json={"query": pc.query, "variables": pc.variables})
    return (time.perf_counter() - t0) * 1000, resp


def _peer_error(resp: httpx.Response) -> str | None:
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"
    errors = resp.json().get("errors")
    return str(errors)[:500] if errors else None


async def run_latency(base_url: str, driver: neo4j.AsyncDriver, db: str, cs: list[Case], repeat: int, warmup: int,
                      peer_url: str | None = None, peer_cases: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Hub over HTTP vs hand-written Cypher (and the Neo4j GraphQL peer, when given), interleaved."""
    statements: dict[str, dict[str, Any]] = {}
    peer_cases = peer_cases or {}
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client, httpx.AsyncClient(timeout=300) as pclient:
        for case in cs:
            async def hub() -> tuple[float, httpx.Response]:
                t0 = time.perf_counter()
                resp = await client.post("/graphql", json={"query": case.query, "variables": case.variables})
                return (time.perf_counter() - t0) * 1000, resp

            async def base() -> tuple[float, Any]:
                t0 = time.perf_counter()
                records, _, _ = await driver.execute_query(case.cypher, case.params, database_=db, routing_=neo4j.RoutingControl.READ)
                return (time.perf_counter() - t0) * 1000, records[0]["result"] if records else None

            pc = peer_cases.get(case.name)

            async def peer() -> tuple[float, httpx.Response]:
                return await _peer_call(pclient, peer_url or "", pc)

            _, resp = await hub()
            body = resp.json()
            if body.get("errors"):
                raise RuntimeError(f"{case.name}: {body['errors']}")
            stmts = body["extensions"]["cypher"]
            statements[case.name] = {"query": stmts[0]["query"], "params": stmts[0]["params"]}
            if not case.cypher:  # no simpler hand-written query gives the same ranking: the statement itself
                case.cypher = stmts[0]["query"]
                case.params = stmts[0]["params"]
            fns: list[Callable[[], Any]] = [hub, base]
            if pc is not None and peer_url:
                _, presp = await peer()
                err = _peer_error(presp)
                if err:  # a query the library refuses or fails: recorded, not fatal
                    pc.stats = {"error": err}
                    console.print(f"  [red]{case.name}: peer error {err[:200]}[/]")
                    pc = None
                else:
                    fns.append(peer)
            hub_ms, base_ms, peer_ms, sts = [], [], [], set()
            for i in range(warmup + repeat):
                k = i % len(fns)
                for fn in fns[k:] + fns[:k]:  # rotate who goes first
                    ms, out = await fn()
                    if i < warmup:
                        continue
                    if fn is hub:
                        hub_ms.append(ms)
                        sts.add(int(out.headers.get("x-cypher-statements", -1)))
                        last_hub = out
                    elif fn is base:
                        base_ms.append(ms)
                        last_base = out
                    else:
                        peer_ms.append(ms)
                        last_peer = out
            data = last_hub.json()["data"]
            same = case.hub_ids(data) == case.base_ids(last_base)
            hub_hits = await db_hits(driver, db, stmts[0]["query"], stmts[0]["params"])
            base_hits = await db_hits(driver, db, case.cypher, case.params)
            case.stats = {
                "hub_p50": pct(hub_ms, 50), "hub_p95": pct(hub_ms, 95), "hub_p99": pct(hub_ms, 99),
                "hub_cypher_ms": float(last_hub.headers.get("x-cypher-time-ms", "nan")),
                "cypher_p50": pct(base_ms, 50), "cypher_p95": pct(base_ms, 95), "cypher_p99": pct(base_ms, 99),
                "ratio": round(statistics.median(hub_ms) / statistics.median(base_ms), 2),
                "statements": sorted(sts), "db_hits_hub": hub_hits, "db_hits_cypher": base_hits,
                "same_answer": same, "response_bytes": len(last_hub.content),
            }
            if not same:
                case.stats["hub_answer"] = str(case.hub_ids(data))[:300]
                case.stats["cypher_answer"] = str(case.base_ids(last_base))[:300]
            line = (f"  {case.name}: hub p50 {case.stats['hub_p50']} ms, cypher p50 {case.stats['cypher_p50']} ms, "
                    f"ratio {case.stats['ratio']}, hits {hub_hits}/{base_hits}, same={same}")
            if pc is not None and peer_ms:
                perr = _peer_error(last_peer)
                peer_same = perr is None and pc.ids(last_peer.json()["data"]) == case.hub_ids(data)
                pc.stats = {
                    "peer_p50": pct(peer_ms, 50), "peer_p95": pct(peer_ms, 95), "peer_p99": pct(peer_ms, 99),
                    "hub_over_peer": round(statistics.median(hub_ms) / statistics.median(peer_ms), 2),
                    "same_answer_as_hub": peer_same, "response_bytes": len(last_peer.content),
                }
                if perr:
                    pc.stats["error"] = perr
                elif not peer_same:
                    pc.stats["peer_answer"] = str(pc.ids(last_peer.json()["data"]))[:300]
                    pc.stats["hub_answer"] = str(case.hub_ids(data))[:300]
                line += f"; peer p50 {pc.stats['peer_p50']} ms, hub/peer {pc.stats['hub_over_peer']}, same={peer_same}"
            console.print(line)
    return statements


# =========================================================================== 3. throughput


async def throughput(url: str, bodies: list[dict[str, Any]], clients: int, seconds: float) -> dict[str, Any]:
    done = errors = 0
    lat: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def worker(k: int) -> None:
            nonlocal done, errors
            i = k
            while time.perf_counter() < stop:
                body = bodies[i % len(bodies)]
                i += 1
                t0 = time.perf_counter()
                try:
                    resp = await client.post(url, json=body)
                    ok = resp.status_code == 200 and not resp.json().get("errors")
                except httpx.HTTPError:
                    ok = False
                lat.append((time.perf_counter() - t0) * 1000)
                if ok:
                    done += 1
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        elapsed = time.perf_counter() - started
    return {"requests": done, "errors": errors, "seconds": round(elapsed, 1), "rps": round(done / elapsed, 1),
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


# =========================================================================== servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(target: str, env: dict[str, str], factory: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
           "--log-level", "warning"] + (["--factory"] if factory else [])
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=PROJECT_ROOT, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/", timeout=1)
            return proc, url
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"{target} did not start: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.1)
    raise RuntimeError(f"{target} did not start")


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


# =========================================================================== main


def machine(settings: Any) -> dict[str, Any]:
    import neo4j as n
    import strawberry

    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")), "0")
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "cpu": cpu, "ram_gib": round(int(mem) / 1024 / 1024, 1), "python": platform.python_version(),
            "neo4j_driver": n.__version__, "strawberry": getattr(strawberry, "__version__", "?"),
            "embedded_heap": settings.embedded_heap, "load_average": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50,000 images")
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="the graph already holds this archive: do not wipe/load")
    ap.add_argument("--load-sample", type=int, default=None, help="images in the hub-vs-baseline load comparison")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--output", type=Path, default=None)
    ap.add_argument("--no-peer", action="store_true", help="skip the Neo4j GraphQL Library peer (bench/js, needs Node + npm)")
    args = ap.parse_args(argv)
    images = args.images or (50_000 if args.quick else 1_000_000)
    cfg = gen.Config(images=images, seed=args.seed)
    settings = get_settings()
    db = settings.neo4j_database
    report: dict[str, Any] = {"command": " ".join(["bench/run.py", *(argv or sys.argv[1:])]), "config": cfg.__dict__,
                              "machine": machine(settings), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with sync_driver(settings) as driver:
        if not args.reuse:
            console.print(f"[bold]wiping and loading {images:,} images[/]")
            with driver.session(database=db) as session:
                session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
            from bioimage_hub.graph.migrations import migrate

            migrate(driver, db)
            report["ontologies_s"] = gen.load_ontologies(driver, db, cfg.hp)
            report["load"] = gen.load(driver, db, cfg)
            console.print(f"  full load: {report['load']}")
        sample = args.load_sample or min(20_000, max(2_000, images // 10))
        console.print(f"[bold]load rate: hub writer vs hand-written UNWIND on ~{sample:,} images[/]")
        report["load_comparison"] = load_comparison(driver, db, cfg, sample)
        console.print(f"  {report['load_comparison']}")
        report["graph"] = {k: v for k, v in driver.execute_query(
            "CALL () { MATCH (n) RETURN count(n) AS nodes } CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships } "
            "CALL () { MATCH (i:Image) RETURN count(i) AS images } RETURN nodes, relationships, images", database_=db)[0][0].data().items()}
        t = targets(driver, db, cfg)
        hidden = [r["a"] for r in driver.execute_query(
            "MATCH (s:Study) WHERE s.releaseDate > date() RETURN s.accession AS a ORDER BY a", database_=db)[0]]
    report["targets"] = {k: v for k, v in t.items() if k != "entities"}
    cs = cases(t)
    pcs: dict[str, Any] = {}
    peer_proc: subprocess.Popen[bytes] | None = None
    peer_url: str | None = None
    if not args.no_peer:
        pcs = peer_mod.peer_cases(t, hidden)
        try:
            peer_proc, peer_url = peer_mod.serve_peer(settings.uri, db)
            report["peer"] = {"versions": peer_mod.versions(), "hidden_studies": len(hidden),
                              "not_expressible": peer_mod.NOT_EXPRESSIBLE}
        except peer_mod.PeerUnavailable as exc:
            console.print(f"[red]peer unavailable, measuring without it: {exc}[/]")
            report["peer"] = {"error": str(exc)}

    env = {"EXPOSE_CYPHER": "true", "MAX_QUERY_COST": "100000000"}
    hub_proc, hub_url = serve("bioimage_hub.api.app:create_app", env)
    try:
        async def latency() -> dict[str, Any]:
            from bioimage_hub.graph.driver import async_driver

            adrv = async_driver(settings)
            try:
                return await run_latency(hub_url, adrv, db, cs, args.repeat, args.warmup, peer_url, pcs)
            finally:
                await adrv.close()

        console.print(f"[bold]latency: {len(cs)} queries x {args.repeat} (hub over HTTP vs Cypher through the driver)[/]")
        statements = asyncio.run(latency())
        report["queries"] = {c.name: {"graphql": " ".join(c.query.split()), "cypher": " ".join(c.cypher.split()), **c.stats} for c in cs}
        if peer_url:
            console.print("[bold]peer: statements per request and db hits (a separate capturing peer, one request each)[/]")
            with sync_driver(settings) as sdrv:
                captured = peer_mod.capture_statements(settings.uri, db, sdrv, {n: pc for n, pc in pcs.items() if pc is not None and pc.stats.get("peer_p50") is not None})
            for name, cap in captured.items():
                pcs[name].stats.update({"statements": cap.get("statements"), "db_hits_peer": cap.get("db_hits"),
                                        "cypher": cap.get("cypher"), **({"capture_error": cap["error"]} if "error" in cap else {})})
            for c in cs:
                pc = pcs.get(c.name)
                report["queries"][c.name]["peer"] = (
                    {"graphql": " ".join(pc.query.split()), **pc.stats} if pc is not None
                    else {"not_expressible": peer_mod.NOT_EXPRESSIBLE.get(c.name, "no query written")})
        stmt_file = RESULTS / f"statements-{images}.json"
        stmt_file.write_text(json.dumps(statements, indent=1, default=str))
        bare_proc, bare_url = serve("bare_app:create_app", {"BENCH_STATEMENTS": str(stmt_file), "PYTHONPATH": str(PROJECT_ROOT / "bench")})
        try:
            console.print(f"[bold]throughput: {args.clients} clients x {args.seconds:.0f} s, hub then bare endpoint[/]")
            hub_bodies = [{"query": c.query, "variables": c.variables} for c in cs]
            bare_bodies = [{"case": c.name} for c in cs]
            report["throughput"] = {
                "hub": asyncio.run(throughput(hub_url + "/graphql", hub_bodies, args.clients, args.seconds)),
                "bare": asyncio.run(throughput(bare_url + "/cypher", bare_bodies, args.clients, args.seconds)),
            }
            report["throughput"]["ratio"] = round(report["throughput"]["hub"]["rps"] / report["throughput"]["bare"]["rps"], 2)
            report["throughput"]["bare_peak_rss_mb"] = peak_rss_mb(bare_proc.pid)
            console.print(f"  {report['throughput']}")
            # the peer on the queries it answers (agreeing with the hub), and the hub on that same subset
            subset = [c for c in cs if pcs.get(c.name) is not None and pcs[c.name].stats.get("same_answer_as_hub")]
            if peer_url and subset:
                console.print(f"[bold]throughput on the peer's subset ({len(subset)} queries): hub then peer[/]")
                tp = {"queries": [c.name for c in subset],
                      "hub": asyncio.run(throughput(hub_url + "/graphql", [{"query": c.query, "variables": c.variables} for c in subset],
                                                    args.clients, args.seconds)),
                      "peer": asyncio.run(throughput(peer_url, [{"query": pcs[c.name].query, "variables": pcs[c.name].variables}
                                                                for c in subset], args.clients, args.seconds))}
                tp["hub_over_peer"] = round(tp["hub"]["rps"] / tp["peer"]["rps"], 2) if tp["peer"]["rps"] else None
                report["throughput"]["peer_subset"] = tp
                console.print(f"  {tp}")
        finally:
            stop(bare_proc)
        report["hub_peak_rss_mb"] = peak_rss_mb(hub_proc.pid)
        if peer_proc is not None:
            report["peer"]["peak_rss_mb"] = peak_rss_mb(peer_proc.pid)
    finally:
        stop(hub_proc)
        if peer_proc is not None:
            stop(peer_proc)

    table = Table(title=f"{images:,} images")
    for col in ("query", "stmts", "hub p50", "p95", "p99", "cypher p50", "p95", "p99", "ratio", "db hits hub / cypher", "same"):
        table.add_column(col)
    for c in cs:
        s = c.stats
        table.add_row(c.name, ",".join(map(str, s["statements"])), str(s["hub_p50"]), str(s["hub_p95"]), str(s["hub_p99"]),
                      str(s["cypher_p50"]), str(s["cypher_p95"]), str(s["cypher_p99"]), str(s["ratio"]),
                      f"{s['db_hits_hub']:,} / {s['db_hits_cypher']:,}", "yes" if s["same_answer"] else "NO")
    console.print(table)
    if peer_url:
        ptable = Table(title=f"{images:,} images: hub vs Neo4j GraphQL Library (same run)")
        for col in ("query", "hub p50", "p95", "p99", "peer p50", "p95", "p99", "hub/peer", "peer stmts", "db hits hub / peer", "same answer"):
            ptable.add_column(col)
        for c in cs:
            pc, s = pcs.get(c.name), c.stats
            if pc is None or "peer_p50" not in pc.stats:
                why = pc.stats.get("error", "error") if pc is not None else "not expressible"
                ptable.add_row(c.name, str(s["hub_p50"]), str(s["hub_p95"]), str(s["hub_p99"]), "-", "-", "-", "-", "-", "-", why[:40])
                continue
            p = pc.stats
            ptable.add_row(c.name, str(s["hub_p50"]), str(s["hub_p95"]), str(s["hub_p99"]), str(p["peer_p50"]), str(p["peer_p95"]),
                           str(p["peer_p99"]), str(p["hub_over_peer"]), str(p.get("statements", "?")),
                           f"{s['db_hits_hub']:,} / {p.get('db_hits_peer') or 0:,}", "yes" if p["same_answer_as_hub"] else "NO")
        console.print(ptable)
    out = args.output or RESULTS / f"scale-{images}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    console.print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
