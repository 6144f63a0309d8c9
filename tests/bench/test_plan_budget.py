"""Query-plan regression budget (issue 7): the fixed benchmark query set (bench/run.py) on a small
seeded synthetic archive must not cost more Cypher statements or db hits (PROFILE of the statement
the hub generated) than recorded in `budgets.json`.

The synthetic studies (accessions `syn…`, ~3,000 images, CMPO/FBbi phenotypes only) are written
into the session's graph next to the real IDR data through the hub's writer, and removed again
(with the genes, reagents, publications and cross-references they created), so the other tests'
counts stay valid. Re-record after a deliberate change with
`UPDATE_BUDGETS=1 .venv/bin/python -m pytest tests/bench/test_plan_budget.py` (measured + 20 %).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bioimage_hub.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import generate as gen  # noqa: E402
import run as bench  # noqa: E402

pytestmark = pytest.mark.asyncio

BUDGETS = Path(__file__).with_name("budgets.json")
CFG = gen.Config(images=3000, studies=30, genes=300, seed=7, prefix="syn", hp=False)
HEADROOM = 1.2


def _hits(plan: Any) -> int:
    return bench._sum_hits(plan)


@pytest.fixture(scope="module")
def synthetic(loaded, driver):  # noqa: ANN001, ANN201
    db = loaded.neo4j_database
    before = gen.existing_ids(driver, db, gen.shared_ids(CFG))
    counts_before = gen.graph_counts(driver, db)
    try:
        gen.load(driver, db, CFG, show_progress=False)
        driver.execute_query("CALL db.awaitIndexes(120)", database_=db)
        yield bench.targets(driver, db, CFG)
    finally:
        gen.remove(driver, db, CFG, keep=before)
    assert gen.graph_counts(driver, db) == counts_before, "the synthetic archive was not removed completely"


async def test_query_set_within_budget(synthetic, client, driver, loaded) -> None:  # noqa: ANN001
    db = loaded.neo4j_database
    measured: dict[str, dict[str, int]] = {}
    for case in bench.cases(synthetic):
        response = await client.post("/graphql", json={"query": case.query, "variables": case.variables})
        body = response.json()
        assert not body.get("errors"), (case.name, body.get("errors"))
        statements = int(response.headers["x-cypher-statements"])
        hits = 0
        for stmt in body["extensions"]["cypher"]:
            with driver.session(database=db) as session:
                summary = session.run("PROFILE " + stmt["query"], stmt["params"]).consume()
            hits += _hits(summary.profile)
        measured[case.name] = {"statements": statements, "db_hits": hits}

    if os.environ.get("UPDATE_BUDGETS"):
        BUDGETS.write_text(json.dumps(
            {name: {"statements": m["statements"], "db_hits": int(m["db_hits"] * HEADROOM) + 10, "measured": m["db_hits"]}
             for name, m in measured.items()}, indent=2) + "\n")
        return
    budgets = json.loads(BUDGETS.read_text())
    over = []
    for name, m in measured.items():
        budget = budgets.get(name)
        assert budget is not None, f"no budget recorded for {name}; run with UPDATE_BUDGETS=1"
        if m["statements"] > budget["statements"] or m["db_hits"] > budget["db_hits"]:
            over.append(f"{name}: {m['statements']} statements / {m['db_hits']} db hits "
                        f"(budget {budget['statements']} / {budget['db_hits']})")
    assert not over, "query plans over budget:\n" + "\n".join(over)
    assert all(m["statements"] == 1 for m in measured.values()), measured
