"""The benchmark's peer (bench/peer.py, bench/js): the Neo4j GraphQL Library over our graph must give
the same answers as the hub and as the hand-written Cypher, for every query it can express.

Seeds the same small synthetic archive as test_plan_budget (through the hub's writer, removed
afterwards), starts the real Node peer (`npm ci` in bench/js when needed) against the session's
Neo4j, and compares ids / totals three ways. Skipped without node and npm.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any

import httpx
import pytest

from bioimage_hub.config import PROJECT_ROOT
from tests.bench.test_plan_budget import synthetic  # noqa: F401  (the seeded archive fixture)

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import peer as peer_mod  # noqa: E402
import run as bench  # noqa: E402

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def peer_url(loaded):  # noqa: ANN001, ANN201
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the Neo4j GraphQL peer")
    proc, url = peer_mod.serve_peer(loaded.uri, loaded.neo4j_database)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def _hidden(driver: Any, db: str) -> list[str]:
    records, _, _ = driver.execute_query("MATCH (s:Study) WHERE s.releaseDate > date() RETURN s.accession AS a", database_=db)
    return [r["a"] for r in records]


async def test_peer_answers_as_hub_and_cypher(synthetic, peer_url, client, driver, loaded) -> None:  # noqa: ANN001, F811
    db = loaded.neo4j_database
    pcs = peer_mod.peer_cases(synthetic, _hidden(driver, db))
    answered = []
    for case in bench.cases(synthetic):
        pc = pcs.get(case.name)
        if pc is None:
            assert case.name in peer_mod.NOT_EXPRESSIBLE, f"{case.name}: no peer query and no reason given"
            continue
        hub = (await client.post("/graphql", json={"query": case.query, "variables": case.variables})).json()
        assert not hub.get("errors"), (case.name, hub.get("errors"))
        peer = httpx.post(peer_url, json={"query": pc.query, "variables": pc.variables}, timeout=120).json()
        assert not peer.get("errors"), (case.name, peer.get("errors"))
        records, _, _ = driver.execute_query(case.cypher, case.params, database_=db)
        cypher = case.base_ids(records[0]["result"])
        assert pc.ids(peer["data"]) == case.hub_ids(hub["data"]) == cypher, case.name
        answered.append(case.name)
    assert "term-search" not in answered and len(answered) >= 7, answered


async def test_capture_counts_the_library_statements(synthetic, loaded, driver) -> None:  # noqa: ANN001, F811
    """One statement per root field; `_entities` resolves each representation with its own statement."""
    pcs = peer_mod.peer_cases(synthetic, _hidden(driver, loaded.neo4j_database))
    picked = {name: pcs[name] for name in ("gene-images-page1", "entities-50-images", "term-descendants-counts")}
    got = peer_mod.capture_statements(loaded.uri, loaded.neo4j_database, driver, picked)
    assert got["gene-images-page1"]["statements"] == 1
    assert got["term-descendants-counts"]["statements"] == 3
    assert got["entities-50-images"]["statements"] == len(synthetic["entities"])
    assert all(v["db_hits"] > 0 for v in got.values()), got
