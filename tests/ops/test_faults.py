"""Faults, for real, on an embedded Neo4j of this module's own (never the session's):

* SIGKILL in the middle of an IDR import: after restart the study is all there or not at all, and
  re-running the import completes it.
* Neo4j stopped under a serving app: GraphQL answers 503 with a clear error, /readyz fails, /healthz
  stays alive; when Neo4j is back the same app recovers without a restart.
"""

from __future__ import annotations

import os
import signal
import socket
from collections import Counter

import httpx
import neo4j
import pytest

from bioimage_hub.api.app import create_app
from bioimage_hub.config import Settings
from bioimage_hub.graph import embedded
from bioimage_hub.graph.driver import sync_driver
from bioimage_hub.graph.migrations import migrate
from bioimage_hub.graph.writer import label_counts, write_study
from bioimage_hub.importers.idr.reader import read_study
from tests.conftest import IDR_DIR

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
