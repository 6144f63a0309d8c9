"""How much of the hub's latency on small queries is HTTP itself (issue 7's latency goal).

For each small query of `bench/run.py`, the hub's OWN generated statement (from
`bench/results/statements-<images>.json`, written by a run.py run) is timed three ways,
interleaved: through the async driver alone; through `bench/bare_app.py` (HTTP, the same driver,
no GraphQL); and through the hub (GraphQL over HTTP). Prints medians and ratios; `--json` for a
report. Run against the graph run.py measured (`--images`, same env as run.py, `--reuse` data).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import httpx

import generate as gen
import run as R
from bioimage_hub.config import get_settings
from bioimage_hub.graph.driver import async_driver, sync_driver

SMALL = ["study-datasets-plates-wells-images", "study-images-page6", "term-search", "crosslinks-resource", "entities-50-images"]


async def measure(cases: dict[str, R.Case], statements: dict[str, Any], hub_url: str, bare_url: str, repeat: int) -> dict[str, dict[str, float]]:
    driver = async_driver(get_settings())
    out: dict[str, dict[str, float]] = {}
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            for name in SMALL:
                case, st = cases[name], statements[name]
                calls = {
                    "driver": lambda: driver.execute_query(st["query"], st["params"], routing_="r"),
                    "bare": lambda: client.post(bare_url + "/cypher", json={"case": name}),
                    "hub": lambda: client.post(hub_url + "/graphql", json={"query": case.query, "variables": case.variables}),
                }
                times: dict[str, list[float]] = {k: [] for k in calls}
                for i in range(repeat + 3):
                    for kind, call in (calls.items() if i % 2 else reversed(list(calls.items()))):
                        started = time.perf_counter()
                        await call()
                        if i >= 3:
                            times[kind].append((time.perf_counter() - started) * 1000)
                med = {k: round(statistics.median(v), 2) for k, v in times.items()}
                out[name] = {**med, "bare_over_driver": round(med["bare"] / med["driver"], 2), "hub_over_bare": round(med["hub"] / med["bare"], 2)}
                print(f"{name}: driver {med['driver']} ms, bare HTTP {med['bare']} ms, hub {med['hub']} ms; "
                      f"bare/driver {out[name]['bare_over_driver']}, hub/bare {out[name]['hub_over_bare']}", flush=True)
    finally:
        await driver.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    stmt_file = R.RESULTS / f"statements-{args.images}.json"
    if not stmt_file.exists():
        print(f"{stmt_file} is missing: run bench/run.py --images {args.images} first", file=sys.stderr)
        return 2
    statements = json.loads(stmt_file.read_text())
    settings = get_settings()
    with sync_driver(settings) as driver:
        targets = R.targets(driver, settings.neo4j_database, gen.Config(images=args.images, seed=args.seed))
    cases = {c.name: c for c in R.cases(targets)}
    hub, hub_url = R.serve("bioimage_hub.api.app:create_app", {"MAX_QUERY_COST": "100000000"})
    bare, bare_url = R.serve("bare_app:create_app", {"BENCH_STATEMENTS": str(stmt_file), "PYTHONPATH": str(R.PROJECT_ROOT / "bench")})
    try:
        report = asyncio.run(measure(cases, statements, hub_url, bare_url, args.repeat))
    finally:
        R.stop(hub)
        R.stop(bare)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
