"""Time a large submission end to end: validate (parse + one term read) and the one write transaction.

    .venv/bin/python bench/bench_submit.py --images 10000 [--repeat 2] [--json]

WRITES to the graph the settings point at (use a separate EMBEDDED_HOME/EMBEDDED_BOLT_PORT).
Each run submits a fresh study (new accession), then resubmits it with one change (version 2,
replace path), then resubmits the same document (no-op).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import yaml

from bioimage_hub.config import PROJECT_ROOT, get_settings
from bioimage_hub.graph.driver import sync_driver
from bioimage_hub.submission.service import submit
from bioimage_hub.submission.validate import validate

PHENOTYPES = ["CMPO:0000445", "CMPO:0000443", "CMPO:0000426", "CMPO:0000397", "CMPO:0000396"]


def large_document(images: int, plates: int = 0, tag: str = "") -> dict[str, Any]:
    """The example submission with one screen of `images` wells (384 per plate), each with a gene,
    an siRNA and a phenotype."""
    doc = yaml.safe_load((PROJECT_ROOT / "examples" / "submission.yaml").read_text(encoding="utf-8"))
    doc["study"]["title"] = f"Synthetic {images}-image screen {tag}".strip()
    rows = []
    for n in range(images):
        plate, index = divmod(n, 384)
        row, column = divmod(index, 24)
        well = f"{'ABCDEFGHIJKLMNOP'[row]}{column + 1}"
        rows.append({
            "path": f"plate{plate + 1}/{well}.ome.tiff",
            "format": "OME-TIFF",
            "size_bytes": 8_388_608,
            "checksum": f"md5:{n:032x}",
            "plate": f"plate{plate + 1}",
            "well": well,
            "genes": [{"id": f"ENSG{900000000 + n % 2000:011d}", "symbol": f"GENE{n % 2000}"}],
            "reagents": [{"kind": "SiRNA", "id": f"s{n % 3000}"}],
            "phenotypes": [PHENOTYPES[n % len(PHENOTYPES)]] if n % 3 == 0 else [],
        })
    doc["datasets"] = [{**doc["datasets"][0], "images": rows}]
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    report = []
    with sync_driver(settings) as driver:
        db = settings.neo4j_database
        for i in range(args.repeat):
            doc = large_document(args.images, tag=f"run {i} {time.time()}")
            text = yaml.safe_dump(doc, sort_keys=False)
            t0 = time.perf_counter()
            validate(driver, db, text)
            t_validate = time.perf_counter() - t0
            t0 = time.perf_counter()
            first = submit(driver, db, text, submitter="bench")
            t_first = time.perf_counter() - t0
            doc["study"]["title"] += " (revised)"
            doc["datasets"][0]["images"][0]["phenotypes"] = ["CMPO:0000398"]
            t0 = time.perf_counter()
            second = submit(driver, db, doc, submitter="bench", accession=first.accession)
            t_second = time.perf_counter() - t0
            # worst case: every image changes (other gene, other siRNA, other phenotype)
            for n, image in enumerate(doc["datasets"][0]["images"]):
                image["genes"] = [{"id": f"ENSG{900000000 + (n + 7) % 2000:011d}", "symbol": f"GENE{(n + 7) % 2000}"}]
                image["reagents"] = [{"kind": "SiRNA", "id": f"s{(n + 11) % 3000}"}]
                image["phenotypes"] = [PHENOTYPES[(n + 1) % len(PHENOTYPES)]]
            t0 = time.perf_counter()
            fourth = submit(driver, db, doc, submitter="bench", accession=first.accession)
            t_all = time.perf_counter() - t0
            t0 = time.perf_counter()
            third = submit(driver, db, doc, submitter="bench", accession=first.accession)
            t_third = time.perf_counter() - t0
            report.append({
                "images": args.images, "yamlBytes": len(text), "accession": first.accession,
                "validateYamlS": round(t_validate, 2), "submitNewS": round(t_first, 2),
                "resubmitOneImageChangedS": round(t_second, 2), "resubmitAllImagesChangedS": round(t_all, 2), "resubmitIdenticalS": round(t_third, 2),
                "versions": [first.version, second.version, fourth.version, third.version],
            })
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for r in report:
            print(r)


if __name__ == "__main__":
    main()
