"""Mixed load (issue 8): many concurrent clients reading, searching, reading pixels and submitting.

    export EMBEDDED_HOME=$PWD/var/neo4j-load EMBEDDED_BOLT_PORT=7702 EMBEDDED_HEAP=3g PIXELS_ROOT=$PWD/var/pixels-load
    .venv/bin/python bench/load.py                 # demo data set up (idempotent), 64 clients, 60 s
    .venv/bin/python bench/load.py --reuse --json  # the demo data is already there; JSON on stdout

1. setup: what `bioimage-hub demo --no-serve` does (the same function: Neo4j, migrate, CMPO + FBbi,
   the IDR studies, demo pixels); skipped with --reuse.
2. targets drawn from the graph: IDR studies, images, genes, phenotype terms with annotated
   subterms, CMPO/FBbi terms (their labels give the search prefixes), images with pixels.
3. the real app under uvicorn on 127.0.0.1 (an ephemeral port, `run.serve`); `--clients` httpx
   clients, each its own connection, for `--seconds`, each request drawn from a weighted mix
   (`MIX`). Submissions go through `submitStudy` with a submitter token made for this run: the
   example document with a unique marker in its title, and revisions of a few base studies.
4. checks against the graph (Cypher through the driver): every acknowledged submission is there
   exactly once at the acknowledged accession and version, nothing is there that was not
   acknowledged, version counts and current content match the acknowledged revisions.
Exit code 1 when any request failed or any check failed. Report: table on stderr, JSON in
bench/results/load.json (--output), on stdout with --json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import copy
import json
import os
import random
import re
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import neo4j
import yaml

from bioimage_hub.config import PROJECT_ROOT, Settings, get_settings

RESULTS = PROJECT_ROOT / "bench" / "results"
EXAMPLE = PROJECT_ROOT / "examples" / "submission.yaml"
IDR = PROJECT_ROOT.parent / "shared" / "data" / "idr"
MARKER = re.compile(r"\[(load-[0-9a-f]+-[a-z0-9-]+)\]$")

# Relative weights of the operation kinds (reads dominate, as on a public archive).
MIX: dict[str, int] = {
    "study": 9, "images": 9, "genes": 7, "phenotype": 8, "term": 6, "node": 6,
    "search": 14, "region": 10, "thumbnail": 6, "submit": 4, "resubmit": 2,
}


# =========================================================================== setup and targets


def prepare_demo(idr: Path = IDR) -> None:
    """The demo's own setup (`bioimage-hub demo --no-serve`), its messages sent to stderr."""
    import typer

    from bioimage_hub import cli

    with contextlib.redirect_stdout(sys.stderr):
        try:
            cli.demo(idr=idr, serve_after=False, port=0)
        except typer.Exit as exc:
            if exc.exit_code:
                raise RuntimeError(f"demo setup failed (exit code {exc.exit_code})") from None


@dataclass
class PixelTarget:
    image: str
    levels: list[dict[str, int]]  # per level: axis name -> size


@dataclass
class Plan:
    """What the clients ask for: ids and arguments drawn from the real graph."""

    studies: list[str]
    images: list[str]
    genes: list[str]
    phenotypes: list[str]
    terms: list[str]
    prefixes: list[str]
    nodes: list[str]
    pixels: list[PixelTarget]
    document: dict[str, Any]


def _column(driver: neo4j.Driver, db: str, cypher: str, **params: Any) -> list[Any]:
    records, _, _ = driver.execute_query(cypher, params, database_=db, routing_=neo4j.RoutingControl.READ)
    return [r[0] for r in records]


def _prefixes(labels: list[str], rng: random.Random, n: int) -> list[str]:
    """Search strings users type: the start of a label or of one of its words (3–12 characters)."""
    out: list[str] = []
    for label in rng.sample(labels, min(n, len(labels))):
        words = [w for w in re.split(r"[\s_/,()-]+", label) if len(w) >= 3]
        text = label if not words or rng.random() < 0.5 else rng.choice(words)
        out.append(text[: rng.randint(3, min(12, len(text)))])
    return out


def example_document() -> dict[str, Any]:
    """examples/submission.yaml as JSON values (dates as strings)."""
    return json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), default=str))


def make_plan(driver: neo4j.Driver, db: str, seed: int = 8, exclude_prefix: str | None = None) -> Plan:
    """Draw the targets from the graph (released IDR studies only; submissions excluded)."""
    rng = random.Random(seed)
    q = lambda c, **p: _column(driver, db, c, **p)  # noqa: E731
    studies = q("MATCH (s:Study) WHERE coalesce(s.source, '') <> 'submission' AND NOT s.releaseDate > date() "
                "RETURN s.accession ORDER BY s.accession")
    images = q("MATCH (i:Image) WHERE i.study IN $s RETURN i.id ORDER BY i.id", s=studies)
    genes = driver.execute_query(
        "MATCH (g:Gene)<-[:HAS_GENE]-(i:Image) WHERE i.study IN $s AND g.symbol IS NOT NULL WITH DISTINCT g "
        "RETURN g.id AS id, g.symbol AS symbol ORDER BY id", s=studies, database_=db, routing_=neo4j.RoutingControl.READ)[0]
    phenotypes = q("MATCH (p:Phenotype)-[:MAPPED_TO]->(t:OntologyTerm) WHERE p.study IN $s "
                   "OPTIONAL MATCH (t)-[:IS_A_CLOSURE]->(a:OntologyTerm) "
                   "WITH collect(DISTINCT t.id) + collect(DISTINCT a.id) AS ids UNWIND ids AS id "
                   "RETURN DISTINCT id ORDER BY id", s=studies)
    terms = driver.execute_query(
        "MATCH (t:OntologyTerm) WHERE t.ontology IN ['cmpo', 'fbbi'] AND NOT coalesce(t.stub, false) "
        "AND NOT coalesce(t.obsolete, false) AND t.label IS NOT NULL RETURN t.id AS id, t.label AS label ORDER BY id",
        database_=db, routing_=neo4j.RoutingControl.READ)[0]
    pixels = driver.execute_query(
        "MATCH (i:Image)-[:HAS_PIXELS]->(p:PixelRepresentation) WHERE i.study IN $s "
        "RETURN i.id AS id, p.axes AS axes, p.levels AS levels ORDER BY id",
        s=studies, database_=db, routing_=neo4j.RoutingControl.READ)[0]
    if exclude_prefix:
        studies = [s for s in studies if not s.startswith(exclude_prefix)]
    if not (studies and images and genes and phenotypes and terms):
        raise RuntimeError("the graph holds no demo data (studies, images, genes, phenotypes, terms): run without --reuse")
    targets = []
    for row in pixels:
        names = [a["name"] for a in json.loads(row["axes"])]
        levels = [dict(zip(names, lv["shape"], strict=True)) for lv in json.loads(row["levels"])]
        targets.append(PixelTarget(row["id"], levels))
    sample = lambda xs, n: rng.sample(xs, min(n, len(xs)))  # noqa: E731
    picked_images, picked_genes = sample(images, 500), sample(genes, 300)
    gene_symbols, gene_ids = [g["symbol"] for g in picked_genes], [g["id"] for g in picked_genes]
    term_ids = [t["id"] for t in terms]
    return Plan(
        studies=studies, images=picked_images, genes=gene_symbols, phenotypes=phenotypes,
        terms=sample(term_ids, 400), prefixes=_prefixes([t["label"] for t in terms], rng, 400),
        nodes=studies + picked_images[:100] + gene_ids[:50] + sample(term_ids, 50),
        pixels=targets, document=example_document(),
    )


# =========================================================================== the clients

STUDY = """query($a: String!) { study(accession: $a) { accession title imageCount source
  datasets { id name } phenotypes { name term { id label } } publications { doi } organisms { name } } }"""
IMAGES = """query($s: String!, $n: Int, $after: String) { images(first: $n, after: $after, filter: {study: $s}) {
  pageInfo { hasNextPage endCursor } nodes { id name genes { symbol } phenotypes { name } } } }"""
GENES = """query($g: String!) { genes(symbol: $g) { nodes { id symbol organism { name }
  images(first: 5) { totalCount nodes { id } } phenotypes { name } studies { accession } } } }"""
PHENOTYPE = """query($t: String!, $n: Int) { images(first: $n, filter: {phenotype: $t, includeSubterms: true}) {
  totalCount nodes { id study { accession } phenotypes { name term { id } } } } }"""
TERM = """query($t: ID!) { term(id: $t) { id label parents { id } children { id }
  descendants { distance term { id } } imageCount studyCount } }"""
NODE = """query($id: ID!) { node(id: $id) { __typename id ... on Study { title } ... on Image { name }
  ... on Gene { symbol } ... on OntologyTerm { label } } }"""
SEARCH = """query($q: String!, $n: Int) { searchTerms(query: $q, ontologies: ["cmpo", "fbbi"], first: $n) {
  nodes { matchType matchedText term { id label } } } }"""
SUBMIT = """mutation($doc: JSON!, $acc: String) { submitStudy(document: $doc, accession: $acc) {
  ok accession version created changed errors { path message } } }"""


class RequestFailed(Exception):
    """A response that is not a success: non-2xx, GraphQL errors, or an unexpected body."""


@dataclass
class Ack:
    """A submission the server acknowledged (ok: true)."""

    marker: str
    accession: str
    version: int
    created: bool
    changed: bool
    revision_of: str | None  # the accession a revision was sent for


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: list[str] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)  # markers of submissions that failed in flight

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 30:
            self.samples.append(f"{kind}: {message[:300]}")


@dataclass
class Session:
    """What one simulated client needs: the plan, the run's token and marker, its own random stream."""

    plan: Plan
    run_id: str
    token: str
    bases: list[str]
    tally: Tally
    rng: random.Random
    client: int
    seq: int = 0
    cursors: dict[str, str] = field(default_factory=dict)

    def marker(self, what: str) -> str:
        self.seq += 1
        return f"load-{self.run_id}-{what}-c{self.client}-n{self.seq}"


def document_with(plan: Plan, marker: str) -> dict[str, Any]:
    doc = copy.deepcopy(plan.document)
    doc["study"]["title"] = f"{doc['study']['title']} [{marker}]"
    return doc


async def _graphql(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    if not response.is_success:
        raise RequestFailed(f"HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    if body.get("errors"):
        raise RequestFailed(f"GraphQL errors: {json.dumps(body['errors'])[:200]}")
    if not isinstance(body.get("data"), dict):
        raise RequestFailed("no data in the response")
    return body["data"]


async def _get(client: httpx.AsyncClient, url: str, content_type: str) -> None:
    response = await client.get(url)
    if not response.is_success:
        raise RequestFailed(f"HTTP {response.status_code} for {url}: {response.text[:200]}")
    if not response.headers.get("content-type", "").startswith(content_type) or not response.content:
        raise RequestFailed(f"{url}: {response.headers.get('content-type')} ({len(response.content)} bytes)")


async def op_study(c: httpx.AsyncClient, s: Session) -> None:
    acc = s.rng.choice(s.plan.studies)
    data = await _graphql(c, STUDY, {"a": acc})
    if (data["study"] or {}).get("accession") != acc:
        raise RequestFailed(f"study {acc} not returned")


async def op_images(c: httpx.AsyncClient, s: Session) -> None:
    study = s.rng.choice(s.plan.studies)
    after = s.cursors.pop(study, None) if s.rng.random() < 0.7 else None  # follow on from an earlier page
    data = await _graphql(c, IMAGES, {"s": study, "n": s.rng.choice((10, 20, 50, 100)), "after": after})
    page = data["images"]["pageInfo"]
    if page["hasNextPage"] and page["endCursor"]:
        s.cursors[study] = page["endCursor"]


async def op_genes(c: httpx.AsyncClient, s: Session) -> None:
    symbol = s.rng.choice(s.plan.genes)
    symbol = symbol.lower() if s.rng.random() < 0.3 else symbol
    data = await _graphql(c, GENES, {"g": symbol})
    if not data["genes"]["nodes"]:
        raise RequestFailed(f"gene {symbol} not found")


async def op_phenotype(c: httpx.AsyncClient, s: Session) -> None:
    data = await _graphql(c, PHENOTYPE, {"t": s.rng.choice(s.plan.phenotypes), "n": s.rng.choice((5, 20, 50))})
    if data["images"]["totalCount"] < 1:
        raise RequestFailed("an annotated phenotype term found no image")


async def op_term(c: httpx.AsyncClient, s: Session) -> None:
    term = s.rng.choice(s.plan.terms)
    data = await _graphql(c, TERM, {"t": term})
    if (data["term"] or {}).get("id") != term:
        raise RequestFailed(f"term {term} not returned")


async def op_node(c: httpx.AsyncClient, s: Session) -> None:
    node = s.rng.choice(s.plan.nodes)
    data = await _graphql(c, NODE, {"id": node})
    if data["node"] is None:
        raise RequestFailed(f"node {node} not found")


async def op_search(c: httpx.AsyncClient, s: Session) -> None:
    await _graphql(c, SEARCH, {"q": s.rng.choice(s.plan.prefixes), "n": s.rng.choice((5, 10, 20))})


def _pixel_path(image: str) -> str:
    return "/pixels/" + urllib.parse.quote(image, safe="/")


async def op_region(c: httpx.AsyncClient, s: Session) -> None:
    target = s.rng.choice(s.plan.pixels)
    level = s.rng.randrange(len(target.levels))
    size = target.levels[level]
    width, height = size.get("x", 1), size.get("y", 1)
    w, h = s.rng.randint(min(32, width), min(512, width)), s.rng.randint(min(32, height), min(512, height))
    params = {"level": level, "x": s.rng.randint(0, width - w), "y": s.rng.randint(0, height - h), "w": w, "h": h,
              "z": s.rng.randrange(size.get("z", 1)), "t": s.rng.randrange(size.get("t", 1))}
    npy = s.rng.random() < 0.25
    if npy:
        params["format"] = "npy"
    url = f"{_pixel_path(target.image)}/region?{urllib.parse.urlencode(params)}"
    await _get(c, url, "application/x-npy" if npy else "image/png")


async def op_thumbnail(c: httpx.AsyncClient, s: Session) -> None:
    target = s.rng.choice(s.plan.pixels)
    size = s.rng.choice((64, 96, 128, 256))
    await _get(c, f"{_pixel_path(target.image)}/thumbnail.png?size={size}", "image/png")


async def _submit(c: httpx.AsyncClient, s: Session, marker: str, accession: str | None) -> Ack:
    try:
        data = await _graphql(c, SUBMIT, {"doc": document_with(s.plan, marker), "acc": accession}, s.token)
    except BaseException:
        s.tally.uncertain.append(marker)  # it may or may not have been written
        raise
    result = data["submitStudy"]
    if not result["ok"]:
        raise RequestFailed(f"submission refused: {result['errors']}")
    ack = Ack(marker, result["accession"], result["version"], result["created"], result["changed"], accession)
    s.tally.acks.append(ack)
    return ack


async def op_submit(c: httpx.AsyncClient, s: Session) -> None:
    await _submit(c, s, s.marker("new"), None)


async def op_resubmit(c: httpx.AsyncClient, s: Session) -> None:
    await _submit(c, s, s.marker("rev"), s.rng.choice(s.bases))


OPS: dict[str, Callable[[httpx.AsyncClient, Session], Awaitable[None]]] = {
    "study": op_study, "images": op_images, "genes": op_genes, "phenotype": op_phenotype, "term": op_term,
    "node": op_node, "search": op_search, "region": op_region, "thumbnail": op_thumbnail,
    "submit": op_submit, "resubmit": op_resubmit,
}


async def _timed(kind: str, work: Awaitable[None], tally: Tally) -> None:
    started = time.perf_counter()
    try:
        await work
    except (RequestFailed, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        tally.error(kind, f"{type(exc).__name__}: {exc}")
    tally.latencies[kind].append((time.perf_counter() - started) * 1000)


ClientFactory = Callable[[], httpx.AsyncClient]


async def run_load(
    make_client: ClientFactory,
    plan: Plan,
    token: str,
    *,
    clients: int = 64,
    seconds: float = 60.0,
    bases: int = 4,
    seed: int = 8,
    mix: dict[str, int] | None = None,
    warmup: int = 3,
) -> tuple[Tally, float, str]:
    """Run the mix; returns the tally, the wall time of the timed part and the run id (markers).

    Before the clock starts, one client creates the base studies the revisions go to and runs
    every read kind `warmup` times (cold plan caches and first imports are not what is measured;
    its failures still count as errors)."""
    mix = dict(mix or MIX)
    if not plan.pixels:  # no demo pixels: the pixel kinds cannot run
        mix.pop("region", None)
        mix.pop("thumbnail", None)
    if bases < 1:  # no studies to revise
        mix.pop("resubmit", None)
    kinds, weights = list(mix), list(mix.values())
    run_id = secrets.token_hex(4)
    tally = Tally()
    base_accessions: list[str] = []
    async with make_client() as c:  # the studies the revisions go to, acknowledged like any other
        setup = Session(plan, run_id, token, [], tally, random.Random(seed), client=0)
        for _ in range(bases if "resubmit" in mix else 0):
            base_accessions.append((await _submit(c, setup, setup.marker("base"), None)).accession)
        for _ in range(warmup):
            for kind in kinds:
                if kind not in ("submit", "resubmit"):
                    try:
                        await OPS[kind](c, setup)
                    except (RequestFailed, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                        tally.error(f"warmup-{kind}", f"{type(exc).__name__}: {exc}")
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        session = Session(plan, run_id, token, base_accessions, tally, random.Random(seed * 1000 + k), client=k)
        async with make_client() as c:
            while time.perf_counter() < deadline:
                kind = session.rng.choices(kinds, weights)[0]
                await _timed(kind, OPS[kind](c, session), tally)

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(1, clients + 1)))
    return tally, time.perf_counter() - started, run_id


# =========================================================================== checks

VERSIONS = """
MATCH (v:StudyVersion) WHERE v.submittedBy = $who
RETURN v.accession AS accession, v.version AS version, v.document AS document
"""
STUDIES = """
MATCH (s:Study) WHERE s.owner = $who
RETURN s.accession AS accession, s.version AS version, s.title AS title,
       COUNT { (s)-[:HAS_DATASET]->(:Dataset)-[:HAS_IMAGE]->(:Image) } AS images,
       COUNT { (:StudyVersion)-[:VERSION_OF]->(s) } AS versions
"""


def _marker(title: str | None) -> str | None:
    found = MARKER.search(title or "")
    return found.group(1) if found else None


def verify(driver: neo4j.Driver, db: str, who: str, tally: Tally, images_per_study: int) -> dict[str, Any]:
    """Compare what the clients saw acknowledged with what the graph holds (submitter `who`)."""
    rows, _, _ = driver.execute_query(VERSIONS, who=who, database_=db)
    found: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
    for r in rows:
        found[_marker(json.loads(r["document"])["study"]["title"]) or "?"].append((r["accession"], r["version"]))
    acked = {a.marker: a for a in tally.acks}
    lost = sorted(m for m in acked if m not in found)
    duplicated = sorted(m for m, places in found.items() if len(places) > 1)
    phantom = sorted(m for m in found if m not in acked and m not in tally.uncertain)
    misplaced = sorted(m for m, a in acked.items() if m in found and found[m] != [(a.accession, a.version)])
    created = [a.accession for a in tally.acks if a.created]
    not_new = sorted(a.marker for a in tally.acks if not a.changed or (a.revision_of is None) != a.created)
    wrong_study = sorted(a.marker for a in tally.acks if a.revision_of is not None and a.accession != a.revision_of)
    per_study: dict[str, list[int]] = collections.defaultdict(list)
    for a in tally.acks:
        per_study[a.accession].append(a.version)
    studies, _, _ = driver.execute_query(STUDIES, who=who, database_=db)
    by_acc = {r["accession"]: r for r in studies}
    bad_versions, bad_current, bad_images = [], [], []
    for acc, versions in per_study.items():
        row = by_acc.get(acc)
        if row is None:
            continue  # reported as lost
        if sorted(versions) != list(range(1, len(versions) + 1)) or row["versions"] != len(versions) or row["version"] != len(versions):
            bad_versions.append({"accession": acc, "acknowledged": sorted(versions), "graph": row["versions"], "current": row["version"]})
        latest = next(a.marker for a in tally.acks if a.accession == acc and a.version == max(versions))
        if _marker(row["title"]) != latest:
            bad_current.append(acc)
        if row["images"] != images_per_study:
            bad_images.append({"accession": acc, "images": row["images"]})
    checks = {
        "no_lost": not lost, "no_duplicated": not duplicated, "no_phantom": not phantom, "no_misplaced": not misplaced,
        "accessions_unique": len(created) == len(set(created)),
        "studies_match_acknowledged": set(by_acc) == set(created),
        "every_ack_a_new_version": not not_new and not wrong_study,
        "version_counts_match": not bad_versions, "current_is_latest_ack": not bad_current,
        "images_complete": not bad_images,
    }
    return {
        "acknowledged_new": len(created), "acknowledged_revisions": sum(1 for a in tally.acks if a.revision_of),
        "failed_in_flight": len(tally.uncertain), "versions_in_graph": len(rows), "studies_in_graph": len(by_acc),
        "lost": lost[:20], "duplicated": duplicated[:20], "phantom": phantom[:20], "misplaced": misplaced[:20],
        "not_new": not_new[:20], "bad_versions": bad_versions[:20], "bad_current": bad_current[:20],
        "bad_images": bad_images[:20], "checks": checks,
    }


def images_in(document: dict[str, Any]) -> int:
    return sum(len(d.get("images") or []) for d in document.get("datasets") or [])


# =========================================================================== report


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the same definition as bench/run.py)."""
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, int(round(q / 100 * len(s))) - 1))], 1)


def summarise(tally: Tally, elapsed: float) -> dict[str, Any]:
    kinds = {}
    for kind in sorted(tally.latencies, key=lambda k: list(OPS).index(k)):
        lat = tally.latencies[kind]
        kinds[kind] = {"requests": len(lat), "errors": tally.errors[kind], "rps": round(len(lat) / elapsed, 1),
                       "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95), "p99_ms": percentile(lat, 99),
                       "max_ms": round(max(lat), 1)}
    every = [x for lat in tally.latencies.values() for x in lat]
    total = len(every)
    return {"elapsed_s": round(elapsed, 1), "requests": total, "rps": round(total / elapsed, 1),
            "errors": sum(tally.errors.values()), "p50_ms": percentile(every, 50) if every else None,
            "p95_ms": percentile(every, 95) if every else None, "p99_ms": percentile(every, 99) if every else None,
            "kinds": kinds, "error_samples": tally.samples}


async def load_and_verify(
    make_client: ClientFactory, plan: Plan, driver: neo4j.Driver, db: str, *, clients: int, seconds: float, seed: int = 8,
    mix: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Create a submitter token, run the load, verify the graph, revoke the token: the whole report.
    The caller removes the submitted studies (owner `report["submitter"]`)."""
    from bioimage_hub.auth.tokens import create_token, revoke_token

    name = f"load-{secrets.token_hex(4)}"
    created = create_token(driver, db, name, "submitter", created_by="bench/load.py")
    try:
        tally, elapsed, run_id = await run_load(make_client, plan, created.secret, clients=clients, seconds=seconds, seed=seed,
                                                 mix=mix)
    finally:
        revoke_token(driver, db, created.info.id)
    report = {"clients": clients, "seconds": seconds, "run_id": run_id, "submitter": name, **summarise(tally, elapsed)}
    report["submissions"] = verify(driver, db, name, tally, images_in(plan.document))
    report["ok"] = report["errors"] == 0 and all(report["submissions"]["checks"].values())
    return report


def remove_studies(driver: neo4j.Driver, db: str, owner: str, document: dict[str, Any]) -> int:
    """Delete the studies a run submitted (content, versions), and the document's genes and
    reagents when nothing else uses them, so repeated runs leave the graph as it was."""
    accs = _column(driver, db, "MATCH (s:Study {owner: $o}) RETURN s.accession", o=owner)
    for label in ("Image", "Well", "Plate", "Dataset", "Phenotype"):
        driver.execute_query(f"MATCH (n:{label}) WHERE n.study IN $a DETACH DELETE n", a=accs, database_=db)
    driver.execute_query("MATCH (s:Study) WHERE s.accession IN $a OPTIONAL MATCH (v:StudyVersion)-[:VERSION_OF]->(s) "
                         "DETACH DELETE v, s", a=accs, database_=db)
    images = [i for d in document.get("datasets") or [] for i in d.get("images") or []]
    genes = sorted({g["id"] for i in images for g in i.get("genes") or []})
    reagents = sorted({f"{r['kind']}:{r['id']}" for i in images for r in i.get("reagents") or []})
    driver.execute_query("MATCH (g:Gene) WHERE g.id IN $ids AND NOT EXISTS { (g)<-[:HAS_GENE]-() } DETACH DELETE g",
                         ids=genes, database_=db)
    driver.execute_query("MATCH (r:Reagent) WHERE r.id IN $ids AND NOT EXISTS { (r)<-[:HAS_REAGENT]-() } DETACH DELETE r",
                         ids=reagents, database_=db)
    return len(accs)


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['clients']} clients, {report['elapsed_s']} s: {report['requests']} requests, "
                        f"{report['rps']} req/s, {report['errors']} errors")
    for col in ("kind", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right" if col != "kind" else "left")
    for kind, k in report["kinds"].items():
        table.add_row(kind, str(k["requests"]), str(k["errors"]), str(k["rps"]), str(k["p50_ms"]), str(k["p95_ms"]),
                      str(k["p99_ms"]), str(k["max_ms"]))
    console = Console(stderr=True)
    console.print(table)
    sub = report["submissions"]
    console.print(f"submissions: {sub['acknowledged_new']} new + {sub['acknowledged_revisions']} revisions acknowledged; "
                  f"graph: {sub['studies_in_graph']} studies, {sub['versions_in_graph']} versions; checks: "
                  + ", ".join(f"{k}={'ok' if v else 'FAILED'}" for k, v in sub["checks"].items()))
    for sample in report["error_samples"][:10]:
        console.print(f"  error {sample}", markup=False, highlight=False)


# =========================================================================== main


def _drain(stream: Any, keep: collections.deque[str]) -> None:
    """Read the server's stderr so it never blocks on a full pipe; keep the tail for the report."""
    for line in iter(stream.readline, b""):
        keep.append(line.decode("utf-8", "replace").rstrip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reuse", action="store_true", help="the demo data is already loaded: skip the setup")
    ap.add_argument("--idr", type=Path, default=IDR, help="IDR study folders for the setup")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--app", default="bioimage_hub.api.app:create_app", help="uvicorn app factory to serve (variants)")
    ap.add_argument("--keep", action="store_true", help="keep the submitted studies (default: removed after the checks)")
    ap.add_argument("--output", type=Path, default=RESULTS / "load.json")
    ap.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run as bench  # noqa: PLC0415 - serve/stop/machine of the scale benchmark

    from bioimage_hub.graph.driver import sync_driver

    settings: Settings = get_settings()
    if not args.reuse:
        prepare_demo(args.idr)
    db = settings.neo4j_database
    with sync_driver(settings) as driver:
        plan = make_plan(driver, db, args.seed)
        load_before = os.getloadavg()  # other jobs on the machine change every figure
        proc, url = bench.serve(args.app, {})
        server_log: collections.deque[str] = collections.deque(maxlen=50)
        threading.Thread(target=_drain, args=(proc.stderr, server_log), daemon=True).start()
        try:
            report = asyncio.run(load_and_verify(lambda: httpx.AsyncClient(base_url=url, timeout=60.0), plan, driver, db,
                                                 clients=args.clients, seconds=args.seconds, seed=args.seed))
        finally:
            rss = bench.peak_rss_mb(proc.pid)
            bench.stop(proc)
        report["server"] = {"peak_rss_mb": rss, "stderr_tail": list(server_log)[-20:]}
        report["targets"] = {"studies": len(plan.studies), "images": len(plan.images), "genes": len(plan.genes),
                             "phenotype_terms": len(plan.phenotypes), "terms": len(plan.terms),
                             "search_prefixes": len(plan.prefixes), "pixel_images": [p.image for p in plan.pixels]}
        report["mix"] = MIX
        report["machine"] = {**bench.machine(settings), "load_average_before": load_before}
        if not args.keep:
            report["removed_studies"] = remove_studies(driver, db, report["submitter"], plan.document)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_table(report)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
