"""Time the write side: `bioimage-hub import idr` (first run + idempotent re-run), `ontology load`,
and the ontology baseline: pronto's parse alone and the hub's reader (parse + closure, no writes).

    .venv/bin/python bench/bench_import.py [--json] [--idr DIR] [--ontologies DIR] [--parse-repeat N]

Runs the real CLI as subprocesses with the current environment (EMBEDDED_HOME /
EMBEDDED_BOLT_PORT or NEO4J_URI), so the figures include CLI start-up; that start-up
(`bioimage-hub --help`) is measured separately. "run 1" is a first import only if the graph was
empty; on a loaded graph both runs are idempotent re-runs. WARNING: it writes to the configured graph
(idempotently): point it at a benchmark instance, not a shared one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / ".venv" / "bin" / "bioimage-hub")
console = Console(stderr=True)


def run_cli(*args: str) -> tuple[float, Any]:
    started = time.perf_counter()
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        console.print(f"[red]{' '.join(args)} failed ({proc.returncode})[/red]\n{proc.stderr[-2000:]}")
        sys.exit(1)
    try:
        return seconds, json.loads(proc.stdout)
    except json.JSONDecodeError:
        return seconds, None


def parse_times(path: Path, repeat: int) -> dict[str, float]:
    import pronto

    from bioimage_hub.ontology.reader import read_ontology

    pronto_s, reader_s = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pronto.Ontology(str(path), import_depth=0)
        pronto_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        read_ontology(path)
        reader_s.append(time.perf_counter() - t0)
    return {"prontoParseS": statistics.median(pronto_s), "hubReaderS": statistics.median(reader_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--idr", type=Path, default=ROOT.parent / "shared" / "data" / "idr")
    parser.add_argument("--ontologies", type=Path, default=ROOT.parent / "shared" / "data" / "ontologies")
    parser.add_argument("--parse-repeat", type=int, default=5)
    args = parser.parse_args()

    startup = statistics.median(run_cli("--help")[0] for _ in range(3))
    report: dict[str, Any] = {"cliStartupS": startup, "ontologies": [], "imports": []}

    for obo in sorted(args.ontologies.glob("*.obo")):
        console.print(f"[dim]ontology {obo.name} ...[/dim]")
        runs = [run_cli("ontology", "load", str(obo), "--json") for _ in range(2)]
        parsed = parse_times(obo, args.parse_repeat)
        res = runs[-1][1]
        report["ontologies"].append({
            "file": obo.name, "bytes": obo.stat().st_size, "terms": res["terms"], "isA": res["isA"],
            "closureRows": res["closureRows"],
            "cliWallS": [round(r[0], 3) for r in runs], "loaderReportedS": [r[1]["seconds"] for r in runs],
            **parsed,
        })

    for label in ("run 1", "run 2 (re-run)"):
        console.print(f"[dim]import idr ({label}) ...[/dim]")
        wall, res = run_cli("import", "idr", str(args.idr), "--json")
        studies = res["studies"]
        images = sum(s["parsed"]["images"] for s in studies)
        nodes = sum(sum(s["graph"].values()) for s in studies)
        report["imports"].append({
            "run": label, "cliWallS": wall, "studies": len(studies), "images": images, "studyNodes": nodes,
            "sumStudySeconds": sum(s["seconds"] for s in studies),
            "imagesPerS": images / sum(s["seconds"] for s in studies),
            "perStudy": [{"accession": s["accession"], "images": s["parsed"]["images"], "genes": s["parsed"]["genes"],
                          "reagents": s["parsed"]["reagents"], "seconds": s["seconds"],
                          "imagesPerS": s["parsed"]["images"] / s["seconds"] if s["seconds"] else None,
                          "graph": s["graph"]} for s in studies],
        })

    if args.json:
        print(json.dumps(report, indent=2))
        return
    out = Console(width=150)
    out.print(f"CLI start-up (bioimage-hub --help): {startup:.2f} s")
    t = Table(title="ontology load vs parse alone (s)")
    for c in ("file", "terms", "is_a", "closure", "cli wall (1st, 2nd)", "loader reported", "pronto parse", "hub reader"):
        t.add_column(c)
    for o in report["ontologies"]:
        t.add_row(o["file"], str(o["terms"]), str(o["isA"]), str(o["closureRows"]), ", ".join(f"{x:.2f}" for x in o["cliWallS"]),
                  ", ".join(f"{x:.2f}" for x in o["loaderReportedS"]), f"{o['prontoParseS']:.3f}", f"{o['hubReaderS']:.3f}")
    out.print(t)
    t = Table(title="import idr (seconds as reported per study; images/s)")
    t.add_column("study")
    for run in report["imports"]:
        t.add_column(f"{run['run']} s")
        t.add_column(f"{run['run']} img/s")
    for i, s in enumerate(report["imports"][0]["perStudy"]):
        row = [f"{s['accession']} ({s['images']} img)"]
        for run in report["imports"]:
            r = run["perStudy"][i]
            row += [f"{r['seconds']:.2f}", f"{r['imagesPerS']:.0f}" if r["imagesPerS"] else "-"]
        t.add_row(*row)
    row = ["total"]
    for run in report["imports"]:
        row += [f"{run['sumStudySeconds']:.2f} (wall {run['cliWallS']:.1f})", f"{run['imagesPerS']:.0f}"]
    t.add_row(*row)
    out.print(t)


if __name__ == "__main__":
    main()
