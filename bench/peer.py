"""The benchmark's peer: the Neo4j GraphQL Library (`@neo4j/graphql` + `@apollo/server`, in Node).

What a user would otherwise pick to put GraphQL over this graph. `bench/js/neo4j-graphql-peer.mjs`
serves type definitions for OUR graph (same labels, relationship types, properties) over the same
Neo4j; this module installs it (`npm ci`), starts it, and holds, for each case of `run.py`, the
query the library can answer it with, or None (with the reason) when it cannot.

Fairness choices (all in the peer's favour):
- each query is written in the cheapest shape the library offers, e.g. a gene's images are asked
  from the gene (`genes(where: {symbolLower}) { imagesConnection }`, an index seek) rather than as
  `imagesConnection(where: {genes: {some: ...}})`, which scans every image;
- the embargo: the hub computes the hidden (embargoed) studies inside each statement; the peer has
  no such rule, so it gets the hidden accessions as a variable (`$hidden`, computed once per run)
  and filters `NOT: {study: {in: $hidden}}` on the indexed `study` property;
- the library's cursors are offsets (`base64("arrayconnection:<n>")`), so the "page 100" and
  "page 6" cursors are the offsets of the same rows the hub's keyset cursors point after.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

JS_DIR = Path(__file__).resolve().parent / "js"
SERVER = JS_DIR / "neo4j-graphql-peer.mjs"


class PeerUnavailable(RuntimeError):
    """The peer cannot be installed or started (no npm/node, npm ci failed, server exited)."""


def versions() -> dict[str, str]:
    """Installed versions of the peer's packages and of Node (for the report)."""
    import json

    out = {}
    for pkg in ("@neo4j/graphql", "@apollo/server", "neo4j-driver", "graphql"):
        meta = JS_DIR / "node_modules" / pkg / "package.json"
        if meta.exists():
            out[pkg] = json.loads(meta.read_text())["version"]
    node = shutil.which("node")
    if node:
        out["node"] = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return out


def ensure_installed() -> None:
    """`npm ci` in bench/js when node_modules is missing (exact versions from package-lock.json)."""
    if (JS_DIR / "node_modules" / "@neo4j" / "graphql").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PeerUnavailable("the Neo4j GraphQL peer needs Node >= 20 and npm on PATH (or run bench/run.py --no-peer)")
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PeerUnavailable(f"npm ci in {JS_DIR} failed:\n{proc.stderr[-2000:]}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_peer(bolt_uri: str, database: str = "neo4j", capture: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start the Node server on a free port; returns the process and its GraphQL URL (ready).

    `capture`: the server appends every Cypher statement it runs to this file (JSON lines); for
    `capture_statements` only, never for the timed runs.
    """
    ensure_installed()
    node = shutil.which("node")
    if node is None:
        raise PeerUnavailable("node is not on PATH")
    port = _free_port()
    env = {**os.environ, "NODE_ENV": "production", "NEO4J_URI": bolt_uri, "NEO4J_DATABASE": database, "PORT": str(port)}
    env.pop("DEBUG", None)  # the library logs its Cypher through `debug`: keep it off
    env.pop("PEER_CAPTURE", None)
    if capture is not None:
        env["PEER_CAPTURE"] = str(capture)
    proc = subprocess.Popen([node, str(SERVER)], cwd=JS_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            if httpx.post(url, json={"query": "{ __typename }"}, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise PeerUnavailable(f"the peer exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.1)
    proc.kill()
    raise PeerUnavailable("the peer did not answer within 60 s")


def offset_cursor(offset: int) -> str:
    """The library's (graphql-relay) cursor of row `offset`: `after` it starts at offset + 1."""
    return base64.b64encode(f"arrayconnection:{offset}".encode()).decode()


@dataclass
class PeerCase:
    query: str
    variables: dict[str, Any]
    ids: Callable[[dict[str, Any]], Any]  # the same shape as run.Case.hub_ids, from the peer's data
    stats: dict[str, Any] = field(default_factory=dict)


def _edge_ids(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in conn["edges"]]


def _gene_page(d: dict[str, Any]) -> tuple[int, list[str]]:
    """A symbol can name several genes (organisms): merge their pages as the hub's filter does."""
    conns = [g["imagesConnection"] for g in d["genes"]]
    return sum(c["totalCount"] for c in conns), sorted(i for c in conns for i in _edge_ids(c))[:20]


# "this term or any subterm": the term itself, or a term whose precomputed IS_A_CLOSURE reaches it
# (the library can filter through the closure relationship; it cannot use a *0..1 pattern).
SUBSUMED = "{OR: [{id: {eq: $t}}, {ancestors: {some: {id: {eq: $t}}}}]}"
VISIBLE = "NOT: {study: {in: $hidden}}"

# Cases the library cannot answer, and why.
NOT_EXPRESSIBLE = {
    "term-search": "the hub ranks matches in 5 tiers (exact label, exact synonym, prefix, word, substring) over "
                   "TermName nodes with the matched text; the library has filters and a Lucene @fulltext score, "
                   "not this ranking, so no query gives the same ordered answer",
}


def peer_cases(t: dict[str, Any], hidden: list[str]) -> dict[str, PeerCase | None]:
    """The library's query for each run.py case (by name); None when it cannot express it."""
    gene = str(t["gene"]).lower()  # the hub's gene filter is case-insensitive (symbolLower)
    out: dict[str, PeerCase | None] = {name: None for name in NOT_EXPRESSIBLE}
    out["phenotype+subterms+organism"] = PeerCase(
        f"""query($t: String!, $o: String!, $hidden: [String!]!) {{
          imagesConnection(first: 20, sort: [{{id: ASC}}], where: {{{VISIBLE}, organism: {{some: {{name: {{eq: $o}}}}}},
            phenotypes: {{some: {{term: {{some: {SUBSUMED}}}}}}}}}) {{
            totalCount edges {{ node {{ id study phenotypes {{ name term {{ id }} }} }} }} }} }}""",
        {"t": t["phenotype"], "o": t["organism"], "hidden": hidden},
        lambda d: (d["imagesConnection"]["totalCount"], _edge_ids(d["imagesConnection"])),
    )
    gene_q = f"""query($g: String!, $a: String, $hidden: [String!]!) {{ genes(where: {{symbolLower: {{eq: $g}}}}) {{
          imagesConnection(first: 20, after: $a, sort: [{{node: {{id: ASC}}}}], where: {{node: {{{VISIBLE}}}}}) {{
            totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id }} }} }} }} }}"""
    out["gene-images-page1"] = PeerCase(gene_q, {"g": gene, "a": None, "hidden": hidden}, _gene_page)
    if t.get("gene_page100_after"):
        out["gene-images-page100"] = PeerCase(gene_q, {"g": gene, "a": offset_cursor(99 * 20 - 1), "hidden": hidden}, _gene_page)
    out["study-datasets-plates-wells-images"] = PeerCase(
        """query($s: String!, $hidden: [String!]!) {
          studies(where: {accession: {eq: $s}, NOT: {accession: {in: $hidden}}}) { title
            datasets(sort: [{id: ASC}]) { name
              plates(limit: 5, sort: [{id: ASC}]) { name
                wells(limit: 10, sort: [{id: ASC}]) { name images { id name } } } } } }""",
        {"s": t["study"], "hidden": hidden},
        lambda d: [i["id"] for s in d["studies"] for ds in s["datasets"] for p in ds["plates"] for w in p["wells"] for i in w["images"]],
    )
    out["study-images-page6"] = PeerCase(
        f"""query($s: String!, $a: String, $hidden: [String!]!) {{
          imagesConnection(first: 50, after: $a, sort: [{{id: ASC}}], where: {{study: {{eq: $s}}, {VISIBLE}}}) {{
            pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id name }} }} }} }}""",
        {"s": t["study"], "a": offset_cursor(min(t["study_images"] - 1, 249)), "hidden": hidden},
        lambda d: _edge_ids(d["imagesConnection"]),
    )
    out["crosslinks-resource"] = PeerCase(
        """query($r: String!, $hidden: [String!]!) {
          crossReferences(where: {resource: {eq: $r}}, sort: [{id: ASC}], limit: 20) { id accession
            studies(where: {NOT: {accession: {in: $hidden}}}, sort: [{accession: ASC}]) { accession title } } }""",
        {"r": t["xref_resource"], "hidden": hidden},
        lambda d: [x["id"] for x in d["crossReferences"]],
    )
    # Federation: the peer is served as a subgraph (getSubgraphSchema), so `_entities` exists; the
    # embargo is not applied to it (no way to filter a reference resolver), so the representations
    # are of visible studies only (run.targets picks them so).
    out["entities-50-images"] = PeerCase(
        """query($r: [_Any!]!) { _entities(representations: $r) { ... on Image { id name study genes { symbol } } } }""",
        {"r": [{"__typename": "Image", "id": i} for i in t["entities"]]},
        lambda d: sorted(e["id"] for e in d["_entities"] if e),
    )
    out["deep-nested"] = PeerCase(
        f"""query($g: String!, $hidden: [String!]!) {{ genes(where: {{symbolLower: {{eq: $g}}}}) {{ id symbol organism {{ name }}
          images(limit: 10, sort: [{{id: ASC}}], where: {{{VISIBLE}}}) {{ id
            phenotypes {{ name term {{ id label parents {{ id }} }} }}
            dataset {{ name imagingMethod {{ label }} owner {{ accession publications {{ doi }} }} }} }} }} }}""",
        {"g": gene, "hidden": hidden},
        lambda d: [i["id"] for g in d["genes"] for i in g["images"]],
    )
    # imageCount / studyCount through the closure: three root fields in one request (the library
    # compiles each root field to its own statement).
    out["term-descendants-counts"] = PeerCase(
        f"""query($t: String!, $hidden: [String!]!) {{
          ontologyTerms(where: {{id: {{eq: $t}}}}) {{ label descendantsConnection {{ edges {{ properties {{ distance }} node {{ id }} }} }} }}
          imagesConnection(where: {{{VISIBLE}, phenotypes: {{some: {{term: {{some: {SUBSUMED}}}}}}}}}) {{ totalCount }}
          studiesConnection(where: {{NOT: {{accession: {{in: $hidden}}}},
            phenotypeDefinitions: {{some: {{term: {{some: {SUBSUMED}}}, images: {{some: {{{VISIBLE}}}}}}}}}}}) {{ totalCount }} }}""",
        {"t": t["phenotype"], "hidden": hidden},
        lambda d: (d["imagesConnection"]["totalCount"], len(d["ontologyTerms"][0]["descendantsConnection"]["edges"])),
    )
    return out


def _sum_hits(plan: dict[str, Any] | None) -> int:
    if not plan:
        return 0
    return int(plan.get("dbHits", 0)) + sum(_sum_hits(c) for c in plan.get("children", []))


def _profiled(query: str) -> str:
    """PROFILE goes after the library's `CYPHER 5` version prefix."""
    head, sep, rest = query.partition("\n")
    return f"{head}\nPROFILE {rest}" if head.startswith("CYPHER") and sep else "PROFILE " + query


def capture_statements(bolt_uri: str, database: str, driver: Any, cases: dict[str, PeerCase | None]) -> dict[str, dict[str, Any]]:
    """Per case: how many statements the library ran for one request, their db hits (PROFILE) and text.

    A separate peer process with capture on (a driver proxy writing each statement to a file), run
    once per query after the timed runs, so capture costs nothing in the measurements.
    """
    import json
    import tempfile

    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "statements.jsonl"
        log.touch()
        proc, url = serve_peer(bolt_uri, database, capture=log)
        try:
            for name, pc in cases.items():
                if pc is None:
                    continue
                log.write_text("")
                resp = httpx.post(url, json={"query": pc.query, "variables": pc.variables}, timeout=300)
                if resp.status_code != 200 or resp.json().get("errors"):
                    out[name] = {"error": resp.text[:300]}
                    continue
                stmts = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
                # the library asks the server's version once per process (its first request): not the query's
                stmts = [st for st in stmts if "dbms.components()" not in st["query"]]
                hits = 0
                for st in stmts:
                    with driver.session(database=database, default_access_mode="READ") as session:
                        hits += _sum_hits(session.run(_profiled(st["query"]), st["params"]).consume().profile)
                out[name] = {"statements": len(stmts), "db_hits": hits, "cypher": stmts[0]["query"] if stmts else None}
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return out
