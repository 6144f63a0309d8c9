"""Benchmark the GraphQL hub against hand-written Cypher on the same graph, in the same run.

    .venv/bin/python bench/bench_api.py [--json] [--repeat N] [--warmup N] [--no-plans]

Reads the hub's settings from the environment (NEO4J_URI, or EMBEDDED_BOLT_PORT for the embedded
Neo4j) and assumes the graph is loaded (`migrate`, `ontology load` cmpo + fbbi, `import idr` of the
8 studies in /work/shared/data/idr).

For each case it measures:
  * hub: one POST /graphql through the ASGI app in-process (httpx.ASGITransport): the whole
    strawberry + compiler + driver + JSON path, without a socket;
  * the Cypher statements each request ran (`X-Cypher-Statements`; must be 1 per root field);
  * baseline: a hand-written Cypher query returning the same data, run directly with the async
    neo4j driver (`execute_query`, read routing, same database);
and checks that both return the same ids. Hub and baseline runs are interleaved (alternating
order every repeat) so drift in the machine affects both equally. With plans on (default) it
also PROFILEs the statement the hub generated and the baseline, and flags label/all-node scans.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import neo4j
from rich.console import Console
from rich.table import Table

from bioimage_hub.api.app import create_app
from bioimage_hub.config import get_settings
from bioimage_hub.graph.driver import GraphReader, async_driver

console = Console(stderr=True)

# --------------------------------------------------------------------------- capture hub Cypher

CAPTURED: list[tuple[str, dict[str, Any]]] = []
_orig_run = GraphReader.run


async def _capturing_run(self: GraphReader, query: str, params: dict[str, Any] | None = None) -> Any:
    CAPTURED.append((query, dict(params or {})))
    return await _orig_run(self, query, params)


GraphReader.run = _capturing_run  # type: ignore[method-assign]

# --------------------------------------------------------------------------- cases


@dataclass
class HubResult:
    data: Any  # normalised answer
    statements: list[int]  # X-Cypher-Statements of each HTTP request
    cypher_ms: float  # X-Cypher-Time-Ms summed over requests
    requests: int
    bytes: int
    errors: list[Any] = field(default_factory=list)


@dataclass
class Case:
    name: str
    group: str
    description: str
    hub: Callable[[httpx.AsyncClient], Awaitable[HubResult]]
    baseline: Callable[[neo4j.AsyncDriver, str], Awaitable[Any]]
    root_fields: int = 1
    repeat_scale: float = 1.0  # fewer repeats for multi-request cases


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> tuple[dict, httpx.Response]:
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    r.raise_for_status()
    return r.json(), r


def _hub_single(query: str, variables: dict[str, Any], normalise: Callable[[dict], Any]) -> Callable[[httpx.AsyncClient], Awaitable[HubResult]]:
    async def run(client: httpx.AsyncClient) -> HubResult:
        body, r = await post(client, query, variables)
        return HubResult(
            data=normalise(body.get("data") or {}),
            statements=[int(r.headers.get("x-cypher-statements", "-1"))],
            cypher_ms=float(r.headers.get("x-cypher-time-ms", "nan")),
            requests=1,
            bytes=len(r.content),
            errors=body.get("errors") or [],
        )

    return run


async def cypher(driver: neo4j.AsyncDriver, db: str, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = await driver.execute_query(query, params, database_=db, routing_=neo4j.RoutingControl.READ)
    return [r.data() for r in records]


# (a) study page ------------------------------------------------------------------------------

STUDY_GQL = """query($acc: String!, $n: Int) { study(accession: $acc) { title publications { doi }
  datasets { name images(first: $n) { edges { node { id genes { symbol } phenotypes { name term { id } } } } } } } }"""

STUDY_CYPHER = """
MATCH (s:Study {accession: $acc})
RETURN s.title AS title,
  [(s)-[:PUBLISHED_IN]->(p:Publication) | p.doi] AS dois,
  COLLECT {
    MATCH (s)-[:HAS_DATASET]->(d:Dataset) WITH d ORDER BY d.id
    RETURN {name: d.name, images: COLLECT {
      MATCH (d)-[:HAS_IMAGE]->(i:Image) WITH i ORDER BY i.id LIMIT $n
      RETURN {id: i.id,
              genes: [(i)-[:HAS_GENE]->(g:Gene) | g.symbol],
              phenotypes: [(i)-[:HAS_PHENOTYPE]->(ph:Phenotype) |
                           [ph.name, head([(ph)-[:MAPPED_TO]->(t:OntologyTerm) | t.id])]]}
    }}
  } AS datasets
"""


def _norm_study_hub(d: dict) -> Any:
    s = d.get("study")
    if s is None:
        return None
    return (
        s["title"],
        sorted(p["doi"] or "" for p in s["publications"]),
        [
            (
                ds["name"],
                [
                    (
                        e["node"]["id"],
                        sorted(g["symbol"] or "" for g in e["node"]["genes"]),
                        sorted((p["name"], (p["term"] or {}).get("id")) for p in e["node"]["phenotypes"]),
                    )
                    for e in ds["images"]["edges"]
                ],
            )
            for ds in s["datasets"]
        ],
    )


def _study_baseline(acc: str, n: int) -> Callable[[neo4j.AsyncDriver, str], Awaitable[Any]]:
    async def run(driver: neo4j.AsyncDriver, db: str) -> Any:
        rows = await cypher(driver, db, STUDY_CYPHER, acc=acc, n=n)
        if not rows:
            return None
        r = rows[0]
        return (
            r["title"],
            sorted(x or "" for x in r["dois"]),
            [
                (
                    ds["name"],
                    [(i["id"], sorted(g or "" for g in i["genes"]), sorted(tuple(p) for p in i["phenotypes"])) for i in ds["images"]],
                )
                for ds in r["datasets"]
            ],
        )

    return run


# (b) phenotype-centric ----------------------------------------------------------------------

PHENO_GQL = """query($t: String!, $n: Int) { images(first: $n, filter: {phenotype: $t, includeSubterms: true}) {
  totalCount nodes { id study { accession } genes { symbol } } } }"""

# Hand-written: start at the term, walk down the closure (*0..1: the closure has distance >= 1
# only), collect the distinct images once, then page and count from that list.
PHENO_CYPHER = """
MATCH (t:OntologyTerm {id: $t})<-[:IS_A_CLOSURE*0..1]-(:OntologyTerm)<-[:MAPPED_TO]-(:Phenotype)<-[:HAS_PHENOTYPE]-(i:Image)
WITH DISTINCT i ORDER BY i.id
WITH collect(i) AS imgs
RETURN size(imgs) AS total,
  [i IN imgs[0..$n] | {id: i.id,
     study: head([(i)<-[:HAS_IMAGE]-(:Dataset)<-[:HAS_DATASET]-(s:Study) | s.accession]),
     genes: [(i)-[:HAS_GENE]->(g:Gene) | g.symbol]}] AS page
"""


def _norm_pheno_hub(d: dict) -> Any:
    c = d["images"]
    return (
        c["totalCount"],
        [(n["id"], (n["study"] or {}).get("accession"), sorted(g["symbol"] or "" for g in n["genes"])) for n in c["nodes"]],
    )


def _pheno_baseline(term: str, n: int) -> Callable[[neo4j.AsyncDriver, str], Awaitable[Any]]:
    async def run(driver: neo4j.AsyncDriver, db: str) -> Any:
        rows = await cypher(driver, db, PHENO_CYPHER, t=term, n=n)
        if not rows:
            return (0, [])
        r = rows[0]
        return (r["total"], [(i["id"], i["study"], sorted(g or "" for g in i["genes"])) for i in r["page"]])

    return run


# (c) gene lookup -----------------------------------------------------------------------------

GENE_GQL = """query($s: String!) { genes(symbol: $s) { nodes { id images(first: 20) { totalCount nodes { id } }
  phenotypes { name } } } }"""

GENE_CYPHER = """
MATCH (g:Gene) WHERE g.symbolLower = toLower($s)
WITH g ORDER BY g.id LIMIT 20
RETURN g.id AS id,
  COUNT { (g)<-[:HAS_GENE]-(:Image) } AS total,
  COLLECT { MATCH (g)<-[:HAS_GENE]-(i:Image) RETURN i.id AS iid ORDER BY iid LIMIT 20 } AS images,
  COLLECT { MATCH (g)<-[:HAS_GENE]-(:Image)-[:HAS_PHENOTYPE]->(p:Phenotype) RETURN DISTINCT p.name } AS phenotypes
"""


def _norm_gene_hub(d: dict) -> Any:
    return [
        (n["id"], n["images"]["totalCount"], [i["id"] for i in n["images"]["nodes"]], sorted(p["name"] or "" for p in n["phenotypes"]))
        for n in d["genes"]["nodes"]
    ]


def _gene_baseline(symbol: str) -> Callable[[neo4j.AsyncDriver, str], Awaitable[Any]]:
    async def run(driver: neo4j.AsyncDriver, db: str) -> Any:
        rows = await cypher(driver, db, GENE_CYPHER, s=symbol)
        return [(r["id"], r["total"], r["images"], sorted(p or "" for p in r["phenotypes"])) for r in rows]

    return run


# (d) paging all images of a study ----------------------------------------------------------------

PAGE_GQL = """query($study: String!, $n: Int, $after: String) { images(first: $n, after: $after, filter: {study: $study}) {
  pageInfo { endCursor hasNextPage } nodes { id } } }"""

PAGE_FIRST_CYPHER = """
MATCH (i:Image {study: $study})
RETURN i.id AS id ORDER BY id LIMIT $n
"""
PAGE_AFTER_CYPHER = """
MATCH (i:Image {study: $study}) WHERE i.id > $after
RETURN i.id AS id ORDER BY id LIMIT $n
"""


def _hub_pages(study: str, n: int) -> Callable[[httpx.AsyncClient], Awaitable[HubResult]]:
    async def run(client: httpx.AsyncClient) -> HubResult:
        ids: list[str] = []
        statements: list[int] = []
        cypher_ms = 0.0
        size = 0
        errors: list[Any] = []
        after = None
        while True:
            body, r = await post(client, PAGE_GQL, {"study": study, "n": n, "after": after})
            statements.append(int(r.headers.get("x-cypher-statements", "-1")))
            cypher_ms += float(r.headers.get("x-cypher-time-ms", "nan"))
            size += len(r.content)
            errors.extend(body.get("errors") or [])
            conn = (body.get("data") or {}).get("images")
            if not conn:
                break
            ids.extend(x["id"] for x in conn["nodes"])
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        return HubResult(ids, statements, cypher_ms, len(statements), size, errors)

    return run


def _pages_baseline(study: str, n: int) -> Callable[[neo4j.AsyncDriver, str], Awaitable[Any]]:
    async def run(driver: neo4j.AsyncDriver, db: str) -> Any:
        ids: list[str] = []
        after = None
        while True:
            if after is None:
                rows = await cypher(driver, db, PAGE_FIRST_CYPHER, study=study, n=n)
            else:
                rows = await cypher(driver, db, PAGE_AFTER_CYPHER, study=study, n=n, after=after)
            ids.extend(r["id"] for r in rows)
            if len(rows) < n:
                break
            after = rows[-1]["id"]
        return ids

    return run


# (e) term with ancestors and descendants -------------------------------------------------------

TERM_GQL = """query($id: ID!) { term(id: $id) { id label parents { id } ancestors { distance term { id label } } descendants { distance term { id label } } } }"""

TERM_CYPHER = """
MATCH (t:OntologyTerm {id: $id})
RETURN t.id AS id, t.label AS label,
  [(t)-[:IS_A]->(p:OntologyTerm) | p.id] AS parents,
  [(t)-[:IS_A_CLOSURE]->(a:OntologyTerm) | [a.id, a.label]] AS ancestors,
  [(t)<-[:IS_A_CLOSURE]-(d:OntologyTerm) | [d.id, d.label]] AS descendants
"""


def _norm_term_hub(d: dict) -> Any:
    t = d.get("term")
    if t is None:
        return None
    return (
        t["id"],
        t["label"],
        sorted({p["id"] for p in t["parents"]}),
        sorted((a["term"]["id"], a["term"]["label"]) for a in t["ancestors"]),
        sorted((x["term"]["id"], x["term"]["label"]) for x in t["descendants"]),
    )


def _term_baseline(tid: str) -> Callable[[neo4j.AsyncDriver, str], Awaitable[Any]]:
    async def run(driver: neo4j.AsyncDriver, db: str) -> Any:
        rows = await cypher(driver, db, TERM_CYPHER, id=tid)
        if not rows:
            return None
        r = rows[0]
        return (r["id"], r["label"], sorted(set(r["parents"])),
                sorted({tuple(a) for a in r["ancestors"]}), sorted({tuple(d) for d in r["descendants"]}))

    return run


# ----------------------------------------------------------------------------------------------

# Terms chosen from the data (see docs/benchmarks.md): CMPO:0000398 "protein localized in nucleus
# phenotype" has 6 phenotype-mapped descendants used by idr0023 + idr0025 (565 images);
# CMPO:0000003 "cellular phenotype" is near the root: 20 mapped terms, 5 studies, 1846 images.
PHENO_TERM = "CMPO:0000398"
BROAD_TERM = "CMPO:0000003"


def build_cases() -> list[Case]:
    cases: list[Case] = []
    for n in (10, 50, 100):
        cases.append(Case(
            f"study-idr0004-N{n}", "a", f"study page idr0004, images(first:{n}) per dataset with genes+phenotypes",
            _hub_single(STUDY_GQL, {"acc": "idr0004", "n": n}, _norm_study_hub), _study_baseline("idr0004", n)))
    cases.append(Case(
        "study-idr0011-N100", "a", "study page idr0011 (5 datasets), images(first:100) each",
        _hub_single(STUDY_GQL, {"acc": "idr0011", "n": 100}, _norm_study_hub), _study_baseline("idr0011", 100)))
    for n in (10, 50, 100):
        cases.append(Case(
            f"pheno-{PHENO_TERM}-N{n}", "b", f"images by phenotype {PHENO_TERM} + subterms, first:{n}, totalCount",
            _hub_single(PHENO_GQL, {"t": PHENO_TERM, "n": n}, _norm_pheno_hub), _pheno_baseline(PHENO_TERM, n)))
    cases.append(Case(
        f"pheno-{BROAD_TERM}-N100", "b", f"images by phenotype {BROAD_TERM} (near root) + subterms, first:100",
        _hub_single(PHENO_GQL, {"t": BROAD_TERM, "n": 100}, _norm_pheno_hub), _pheno_baseline(BROAD_TERM, 100)))
    cases.append(Case(
        "gene-RAD52", "c", "genes(symbol:RAD52) with images(first:20){totalCount} and phenotypes",
        _hub_single(GENE_GQL, {"s": "RAD52"}, _norm_gene_hub), _gene_baseline("RAD52")))
    cases.append(Case(
        "gene-NUP107", "c", "genes(symbol:NUP107) (idr0023, many images per gene)",
        _hub_single(GENE_GQL, {"s": "NUP107"}, _norm_gene_hub), _gene_baseline("NUP107")))
    cases.append(Case(
        "page-idr0011-all", "d", "all images of idr0011, first:100 following endCursor",
        _hub_pages("idr0011", 100), _pages_baseline("idr0011", 100), repeat_scale=0.25))
    cases.append(Case(
        f"term-{PHENO_TERM}", "e", f"term {PHENO_TERM} with parents, ancestors, descendants",
        _hub_single(TERM_GQL, {"id": PHENO_TERM}, _norm_term_hub), _term_baseline(PHENO_TERM)))
    cases.append(Case(
        f"term-{BROAD_TERM}", "e", f"term {BROAD_TERM} (398 descendants) with ancestors/descendants",
        _hub_single(TERM_GQL, {"id": BROAD_TERM}, _norm_term_hub), _term_baseline(BROAD_TERM)))
    return cases


# --------------------------------------------------------------------------- measurement


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def first_difference(a: Any, b: Any, path: str = "") -> str:
    if type(a) is not type(b):
        return f"{path or '.'}: hub {type(a).__name__} vs baseline {type(b).__name__}"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path or '.'}: hub has {len(a)} items, baseline {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path or '.'}: hub {a!r:.120} vs baseline {b!r:.120}"


SCANS = ("AllNodesScan", "NodeByLabelScan", "NodeIndexScan", "UnionNodeByLabelsScan", "DirectedAllRelationshipsScan",
         "UndirectedAllRelationshipsScan", "DirectedRelationshipTypeScan", "UndirectedRelationshipTypeScan")


def _plan_ops(plan: dict[str, Any]) -> list[dict[str, Any]]:
    ops = [plan]
    for c in plan.get("children", []):
        ops.extend(_plan_ops(c))
    return ops


async def profile(driver: neo4j.AsyncDriver, db: str, query: str, params: dict[str, Any]) -> dict[str, Any]:
    async with driver.session(database=db, default_access_mode=neo4j.READ_ACCESS) as s:
        result = await s.run("PROFILE " + query, params)
        await result.consume()
        summary = await result.consume()
    prof = summary.profile or {}
    ops = _plan_ops(prof)
    scans = []
    for op in ops:
        name = op.get("operatorType", "").split("@")[0]
        if name in SCANS:
            args = op.get("args", {})
            scans.append(f"{name}({args.get('Details', '')[:80]} rows={op.get('rows')})")
    return {
        "dbHits": sum(op.get("dbHits", 0) for op in ops),
        "rows": prof.get("rows"),
        "operators": len(ops),
        "scans": scans,
    }


async def measure(case: Case, client: httpx.AsyncClient, driver: neo4j.AsyncDriver, db: str, repeat: int, warmup: int, plans: bool) -> dict[str, Any]:
    n = max(3, int(round(repeat * case.repeat_scale)))
    for _ in range(warmup):
        await case.hub(client)
        await case.baseline(driver, db)
    hub_ms: list[float] = []
    base_ms: list[float] = []
    cypher_ms: list[float] = []
    last: HubResult | None = None
    base_data: Any = None
    statements: set[int] = set()
    for i in range(n):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            if which == 0:
                CAPTURED.clear()
                t0 = time.perf_counter()
                last = await case.hub(client)
                hub_ms.append((time.perf_counter() - t0) * 1000)
                cypher_ms.append(last.cypher_ms)
                statements.update(last.statements)
            else:
                t0 = time.perf_counter()
                base_data = await case.baseline(driver, db)
                base_ms.append((time.perf_counter() - t0) * 1000)
    assert last is not None
    agree = last.data == base_data
    out: dict[str, Any] = {
        "case": case.name,
        "group": case.group,
        "description": case.description,
        "repeats": n,
        "requests": last.requests,
        "responseBytes": last.bytes,
        "statementsPerRequest": sorted(statements),
        "statementsTotal": sum(last.statements),
        "oneStatementPerRootField": statements == {case.root_fields},
        "hubMedianMs": statistics.median(hub_ms),
        "hubP95Ms": pct(hub_ms, 95),
        "hubMinMs": min(hub_ms),
        "hubCypherMedianMs": statistics.median(cypher_ms),
        "baselineMedianMs": statistics.median(base_ms),
        "baselineP95Ms": pct(base_ms, 95),
        "baselineMinMs": min(base_ms),
        "ratio": statistics.median(hub_ms) / statistics.median(base_ms),
        "agree": agree,
        "difference": None if agree else first_difference(last.data, base_data),
        "errors": last.errors[:3],
        "items": _count_items(base_data),
    }
    if plans and CAPTURED:
        query, params = CAPTURED[-1]
        out["hubCypher"] = query
        out["hubPlan"] = await profile(driver, db, query, params)
        out["baselinePlan"] = await _baseline_profile(case, driver, db)
    return out


def _count_items(data: Any) -> int | None:
    if isinstance(data, list):
        return len(data)
    if isinstance(data, tuple) and data and isinstance(data[0], int):
        return data[0]
    return None


async def _baseline_profile(case: Case, driver: neo4j.AsyncDriver, db: str) -> dict[str, Any] | None:
    """PROFILE the baseline's (last) statement, by re-running it through a capturing driver."""
    seen: list[tuple[str, dict[str, Any]]] = []
    orig = driver.execute_query

    async def capture(query: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        seen.append((query, dict(params or {})))
        return await orig(query, params, **kw)

    driver.execute_query = capture  # type: ignore[method-assign]
    try:
        await case.baseline(driver, db)
    finally:
        driver.execute_query = orig  # type: ignore[method-assign]
    if not seen:
        return None
    query, params = seen[-1]
    return await profile(driver, db, query, params)


async def environment(driver: neo4j.AsyncDriver, db: str) -> dict[str, Any]:
    import os

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/meminfo") as fh:
            info["memTotalGiB"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    rows = await cypher(driver, db, "CALL dbms.components() YIELD name, versions, edition RETURN name, versions[0] AS version, edition")
    if rows:
        info["neo4j"] = f"{rows[0]['name']} {rows[0]['version']} {rows[0]['edition']}"
    counts = await cypher(driver, db, "MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS n ORDER BY l")
    info["graph"] = {r["l"]: r["n"] for r in counts}
    info["relationships"] = (await cypher(driver, db, "MATCH ()-[r]->() RETURN count(r) AS n"))[0]["n"]
    return info


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    app = create_app(settings)
    driver = async_driver(settings)
    db = settings.neo4j_database
    results = []
    try:
        env = await environment(driver, db)
        if not env["graph"].get("Image"):
            console.print("[red]the graph has no images: import the IDR studies first[/red]")
            sys.exit(1)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
                cases = build_cases()
                if args.only:
                    cases = [c for c in cases if any(o in c.name for o in args.only)]
                for case in cases:
                    console.print(f"[dim]measuring {case.name} ...[/dim]")
                    results.append(await measure(case, client, driver, db, args.repeat, args.warmup, not args.no_plans))
    finally:
        await driver.close()
    return {"settings": {"uri": settings.uri, "database": db, "repeat": args.repeat, "warmup": args.warmup},
            "environment": env, "results": results}


def render(report: dict[str, Any]) -> None:
    out = Console(width=max(Console().width, 150))
    env = report["environment"]
    out.print(f"{env.get('neo4j')} | Python {env['python']} | {env['cpus']} CPUs | {env.get('memTotalGiB')} GiB | "
              f"repeat={report['settings']['repeat']} warmup={report['settings']['warmup']}")
    table = Table(title="GraphQL hub vs hand-written Cypher (ms; hub = in-process ASGI, baseline = async driver)")
    for col, just in (("case", "left"), ("req", "right"), ("stmts/req", "right"), ("hub med", "right"),
                      ("hub p95", "right"), ("hub cypher", "right"), ("base med", "right"), ("base p95", "right"),
                      ("ratio", "right"), ("dbHits hub/base", "right"), ("same ids", "center")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in report["results"]:
        hp, bp = r.get("hubPlan"), r.get("baselinePlan")
        hits = f"{hp['dbHits']}/{bp['dbHits']}" if hp and bp else "-"
        stm = ",".join(map(str, r["statementsPerRequest"]))
        table.add_row(
            r["case"], str(r["requests"]),
            stm if r["oneStatementPerRootField"] else f"[red]{stm}[/red]",
            f"{r['hubMedianMs']:.1f}", f"{r['hubP95Ms']:.1f}", f"{r['hubCypherMedianMs']:.1f}",
            f"{r['baselineMedianMs']:.1f}", f"{r['baselineP95Ms']:.1f}",
            f"{r['ratio']:.2f}", hits,
            "[green]yes[/green]" if r["agree"] else "[red]NO[/red]",
        )
    out.print(table)
    for r in report["results"]:
        if not r["agree"]:
            console.print(f"[yellow]WARNING[/yellow] {r['case']}: hub and baseline answers differ: {r['difference']}")
        if not r["oneStatementPerRootField"]:
            console.print(f"[yellow]WARNING[/yellow] {r['case']}: statements per request {r['statementsPerRequest']} (expected 1)")
        if r["errors"]:
            console.print(f"[yellow]WARNING[/yellow] {r['case']}: GraphQL errors {r['errors']}")
        for side in ("hubPlan", "baselinePlan"):
            plan = r.get(side)
            if plan and plan["scans"]:
                console.print(f"[yellow]plan[/yellow] {r['case']} {side}: {'; '.join(plan['scans'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="also print the full report as JSON on stdout")
    parser.add_argument("--repeat", type=int, default=30, help="timed repeats per case (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs per case (default 3)")
    parser.add_argument("--no-plans", action="store_true", help="skip PROFILE of hub and baseline statements")
    parser.add_argument("--only", action="append", help="run only cases whose name contains this (repeatable)")
    parser.add_argument("--output", help="write the JSON report to this file")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    if args.output:
        with open(args.output, "w") as fh:
            json.dump(report, fh, indent=2, default=str)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        render(report)


if __name__ == "__main__":
    main()
