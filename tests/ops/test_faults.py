"""Faults, for real, on an embedded Neo4j of this module's own (never the session's):

* SIGKILL in the middle of an IDR import: after restart the study is all there or not at all, and
  re-running the import completes it.
* SIGKILL while `bioimage-hub submit` (a subprocess) has its write transaction open (seen in SHOW
  TRANSACTIONS): after restart no node of the submission exists, the accession counter is where
  it was, and submitting again gives the next accession with every node the document describes.
* Neo4j stopped under a serving app: GraphQL answers 503 with a clear error, /readyz fails, /healthz
  stays alive; when Neo4j is back the same app recovers without a restart.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest
import yaml

from bioimage_hub.api.app import create_app
from bioimage_hub.config import Settings
from bioimage_hub.graph import embedded
from bioimage_hub.graph.driver import sync_driver
from bioimage_hub.graph.migrations import migrate
from bioimage_hub.graph.writer import label_counts, write_study
from bioimage_hub.importers.idr.reader import read_study
from bioimage_hub.config import PROJECT_ROOT
from tests.conftest import CMPO, FBBI, IDR_DIR, counts

STUDY = "idr0004"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def own_neo4j(tmp_path_factory):
    if not IDR_DIR.is_dir():
        pytest.skip("../shared/data is not present")
    cfg = Settings(
        neo4j_uri=None,
        embedded_home=tmp_path_factory.mktemp("faults-neo4j"),
        embedded_bolt_port=_free_port(),
        embedded_heap="768m",
        embedded_tx_memory="512m",
        neo4j_retry_time_s=1.0,
        neo4j_connection_timeout_s=2.0,
        expose_cypher=True,
    )
    embedded.start(cfg)
    with sync_driver(cfg) as drv:
        migrate(drv, cfg.neo4j_database)
    try:
        yield cfg
    finally:
        embedded.stop(cfg)


def _driver(cfg: Settings) -> neo4j.Driver:
    # no long retries: a write against a dead server fails at once instead of retrying for 30 s
    return neo4j.GraphDatabase.driver(cfg.uri, auth=None, max_transaction_retry_time=0.5, connection_timeout=2.0)


def test_sigkill_during_import_leaves_all_or_nothing(own_neo4j) -> None:
    cfg = own_neo4j
    folder = next(f for f in IDR_DIR.iterdir() if f.name.startswith(STUDY))
    parsed = read_study(folder)
    pid = embedded.status(cfg).pid
    assert pid is not None
    killed: list[int] = []

    def kill_midway(_rows: int) -> None:  # called by the writer after each batch of images, inside the transaction
        if not killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with _driver(cfg) as drv, pytest.raises((neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired)):
        write_study(drv, cfg.neo4j_database, parsed, progress=kill_midway)
    assert killed, "the import never reached its image batches"

    status = embedded.start(cfg)  # recovery of the killed store
    assert status.bolt_ready and status.pid != pid
    with _driver(cfg) as drv:
        after_crash = label_counts(drv, cfg.neo4j_database, accession=STUDY)
        write_study(drv, cfg.neo4j_database, parsed)
        complete = label_counts(drv, cfg.neo4j_database, accession=STUDY)
    rows = sum(len(v) for v in parsed.images.values())
    assert complete["Study"] == 1 and complete["Image"] == rows
    assert after_crash in (Counter(), complete), after_crash  # all or nothing
    assert after_crash == Counter()  # killed before the commit: nothing of it


async def test_neo4j_down_gives_503_and_the_app_recovers(own_neo4j) -> None:
    cfg = own_neo4j
    embedded.start(cfg)  # idempotent (the previous test restarted it)
    app = create_app(cfg)
    query = {"query": "{ organisms { id } studies(first: 1) { totalCount } }"}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
            up = await c.post("/graphql", json=query)
            assert up.status_code == 200 and not up.json().get("errors"), up.text
            assert (await c.get("/readyz")).status_code == 200

            embedded.stop(cfg)
            down = await c.post("/graphql", json=query)
            assert down.status_code == 503, down.text
            assert down.headers.get("retry-after")
            errors = down.json()["errors"]
            assert errors and all(e["message"] == "the graph database is unavailable; try again later" for e in errors)
            assert all(e["extensions"]["code"] == "SERVICE_UNAVAILABLE" for e in errors)
            assert "Traceback" not in down.text and "neo4j" not in down.text.lower()
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["reason"] == "neo4j unreachable"
            assert (await c.get("/health")).status_code == 503
            assert (await c.get("/healthz")).status_code == 200  # the process itself is alive
            token = await c.post("/graphql", json=query, headers={"Authorization": "Bearer bih_" + "a" * 43})
            assert token.status_code == 503 and token.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            metrics = (await c.get("/metrics")).text
            assert 'hub_errors_total{kind="db_unavailable"}' in metrics and "hub_neo4j_up 0.0" in metrics

            embedded.start(cfg)
            back = await c.post("/graphql", json=query)  # same app, same driver: no restart needed
            assert back.status_code == 200 and not back.json().get("errors"), back.text
            assert (await c.get("/readyz")).status_code == 200


# --------------------------------------------------------------------------- kill during a submission

PREFIX = "S-FAULT-"
EXAMPLE = PROJECT_ROOT / "examples" / "submission.yaml"
PLATES = 11  # x 384 wells: 4,224 images, three write batches (2,000 images each)
IMAGE_WRITE = "MERGE (i:Image {id: row.id})"  # the submission writer's image statement
PHENOTYPES = [("CMPO:0000445", "protein localized in nucleoplasm"), ("CMPO:0000443", "antibody localized in nuclear membrane")]


def large_submission(plates: int) -> dict[str, Any]:
    """examples/submission.yaml with its screen grown to `plates` full 384-well plates."""
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["study"]["title"] = f"Fault test: nuclear envelope siRNA screen, {plates} plates"
    screen = next(d for d in doc["datasets"] if d["id"] == "screenA")
    template = screen["images"][0]
    images = []
    for p in range(1, plates + 1):
        for row in "ABCDEFGHIJKLMNOP":
            for col in range(1, 25):
                i = len(images)
                term, name = PHENOTYPES[i % 2]
                images.append({
                    **{k: template[k] for k in ("format", "size_bytes", "checksum", "genes")},
                    "path": f"plate{p}/{row}{col}.ome.tiff", "plate": f"plate{p}", "well": f"{row}{col}",
                    "reagents": [{"kind": "SiRNA", "id": f"sF{i}", "name": f"fault-test siRNA sF{i}"}],
                    "phenotypes": [{"term": term, "name": name}],
                })
    screen["images"] = images
    for dataset in doc["datasets"]:  # every phenotype named, so the expected names need no ontology
        for image in dataset["images"]:
            image["phenotypes"] = [p if isinstance(p, dict) else {"term": p, "name": f"term {p}"}
                                   for p in image.get("phenotypes", [])]
    return doc


def expected_counts(doc: dict[str, Any]) -> Counter[str]:
    """Node counts per label of the study the document describes, counted from the document alone."""
    datasets = doc["datasets"]
    images = [(d["id"], img) for d in datasets for img in d["images"]]
    return Counter({
        "Study": 1,
        "Dataset": len(datasets),
        "Plate": len({(d, img["plate"]) for d, img in images if img.get("plate")}),
        "Well": len({(d, img["plate"], img["well"]) for d, img in images if img.get("well")}),
        "Image": len(images),
        "Phenotype": len({p["name"] for _, img in images for p in img.get("phenotypes", [])}),
    })


def cli_env(cfg: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "EMBEDDED_", "ACCESSION_"))}
    env.update(EMBEDDED_HOME=str(cfg.embedded_home), EMBEDDED_BOLT_PORT=str(cfg.embedded_bolt_port),
               ACCESSION_PREFIX=PREFIX, NEO4J_RETRY_TIME_S="1", NEO4J_CONNECTION_TIMEOUT_S="2")
    return env


def start_submit(cfg: Settings, path: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bioimage_hub", "submit", str(path), "--as", "fault-tester", "--json"],
        cwd=cwd, env=cli_env(cfg), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_image_batches(drv: neo4j.Driver, db: str, proc: subprocess.Popen[str], batches: int,
                           timeout: float = 120.0) -> str | None:
    """Poll SHOW TRANSACTIONS until one transaction has run `batches` distinct image statements
    (so it holds uncommitted images); its id, or None if the process ended first."""
    seen: dict[str, set[str]] = {}
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        records, _, _ = drv.execute_query(
            "SHOW TRANSACTIONS YIELD transactionId, currentQueryId, currentQuery RETURN *", database_=db)
        for r in records:
            if IMAGE_WRITE in (r["currentQuery"] or ""):
                ids = seen.setdefault(r["transactionId"], set())
                ids.add(r["currentQueryId"])
                if len(ids) >= batches:
                    return str(r["transactionId"])
        time.sleep(0.005)
    return None


def counter_next(drv: neo4j.Driver, db: str) -> int | None:
    records, _, _ = drv.execute_query("MATCH (c:AccessionCounter {prefix: $p}) RETURN c.next AS n", p=PREFIX, database_=db)
    return records[0]["n"] if records else None


def studies_titled(drv: neo4j.Driver, db: str, title: str) -> list[str]:
    records, _, _ = drv.execute_query("MATCH (s:Study {title: $t}) RETURN s.accession AS a", t=title, database_=db)
    return [r["a"] for r in records]


def reagent_links(drv: neo4j.Driver, db: str, accession: str) -> tuple[int, int]:
    records, _, _ = drv.execute_query(
        "MATCH (i:Image {study: $acc})-[:HAS_REAGENT]->(r:Reagent) RETURN count(*) AS links, count(DISTINCT r) AS reagents",
        acc=accession, database_=db)
    return records[0]["links"], records[0]["reagents"]


@pytest.fixture(scope="module")
def with_terms(own_neo4j: Settings) -> Settings:
    """CMPO and FBbi in the module's Neo4j: a submission's terms must resolve."""
    from bioimage_hub.graph.writer import write_ontology
    from bioimage_hub.ontology.reader import read_ontology

    embedded.start(own_neo4j)  # idempotent; earlier tests stop and restart it
    with _driver(own_neo4j) as drv:
        for path in (CMPO, FBBI):
            write_ontology(drv, own_neo4j.neo4j_database, read_ontology(path))
    return own_neo4j


def test_sigkill_during_submission_leaves_all_or_nothing(with_terms: Settings, tmp_path: Path) -> None:
    from bioimage_hub.submission.service import submit

    cfg, db = with_terms, with_terms.neo4j_database
    embedded.start(cfg)
    with _driver(cfg) as drv:  # a first, small submission: the counter exists and has moved on
        first = submit(drv, db, EXAMPLE.read_text(encoding="utf-8"), submitter="fault-tester", prefix=PREFIX)
        assert first.accession == f"{PREFIX}1" and counter_next(drv, db) == 2
        before = counts(drv, db)

    doc = large_submission(PLATES)
    title = doc["study"]["title"]
    expected = expected_counts(doc)
    assert expected["Image"] == PLATES * 384 + 1 and expected["Well"] == PLATES * 384
    path = tmp_path / "large.json"
    path.write_text(json.dumps(doc, default=str), encoding="utf-8")  # YAML dates -> ISO text

    proc = start_submit(cfg, path, tmp_path)
    pid = embedded.status(cfg).pid
    assert pid is not None
    with _driver(cfg) as drv:
        tx_id = wait_for_image_batches(drv, db, proc, batches=2)
        if tx_id is None:
            proc.kill()
            pytest.fail(f"never saw the submission's write transaction: {proc.communicate()}")
        os.kill(pid, signal.SIGKILL)  # the transaction is open: it has run two image batches of three
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, (proc.returncode, stdout, stderr)
    assert "Neo4j is not reachable" in stderr and "Traceback" not in stderr, stderr

    status = embedded.start(cfg)  # recovery of the killed store
    assert status.bolt_ready and status.pid != pid
    with _driver(cfg) as drv:
        after_crash = label_counts(drv, db, accession=f"{PREFIX}2")
        assert after_crash in (Counter(), expected), after_crash  # all or nothing
        assert after_crash == Counter()  # killed before the commit: nothing of it
        assert studies_titled(drv, db, title) == []
        assert counts(drv, db) == before  # not one node or relationship of it, anywhere
        assert counter_next(drv, db) == 2  # the increment was rolled back with the rest

    proc = start_submit(cfg, path, tmp_path)  # re-running completes it
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["accession"] == f"{PREFIX}2" and result["created"] and result["images"] == expected["Image"]
    with _driver(cfg) as drv:
        assert label_counts(drv, db, accession=f"{PREFIX}2") == expected
        assert studies_titled(drv, db, title) == [f"{PREFIX}2"]
        assert counter_next(drv, db) == 3
        reagents = {(r["kind"], r["id"]) for d in doc["datasets"] for img in d["images"] for r in img.get("reagents", [])}
        assert reagent_links(drv, db, f"{PREFIX}2") == (expected["Image"] - 1, len(reagents))  # live image: none
