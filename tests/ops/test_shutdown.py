"""Graceful shutdown of the real server (`bioimage-hub serve` in a subprocess, on the session's Neo4j).

Two requests are in flight when SIGTERM arrives, each held open for real: a region read whose
pixel store (a real HTTP server on loopback) answers chunk requests only when the test lets it,
and a GraphQL POST whose body the client is still sending. After SIGTERM new connections are
refused, both requests complete with 200 and the right bodies, and the process exits 0 within
SHUTDOWN_GRACE_S, having closed its Neo4j drivers, with no error in its log. A request that outlives
the grace period does not hold the process: it exits when the period is over.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import neo4j
import numpy as np
import pytest

from bioimage_hub.config import Settings
from tests.conftest import IDR_DIR
from tests.ops.upstream import HttpUpstream, files_answer, free_port

QUERY = "query Studies { studies(first: 100) { totalCount nodes { accession } } }"


class SlowStore:
    """An OME-Zarr folder behind a real HTTP server whose chunk answers wait for `gate`."""

    def __init__(self, root: Path) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.server = HttpUpstream(free_port(), files_answer(root, self.gate)).start()

    def chunk_requests(self) -> int:
        return sum("/c/" in path for path in self.server.requests)


@pytest.fixture(scope="module")
def slow_pixels(loaded: Settings, driver: neo4j.Driver, tmp_path_factory) -> Iterator[tuple[str, np.ndarray, SlowStore]]:
    """A 1-channel 256x256 image converted to OME-Zarr, served over HTTP, registered on an idr0004 image."""
    from bioimage_hub.pixels.convert import SourceImage, convert
    from bioimage_hub.pixels.graph import delete_pixels, write_pixels
    from bioimage_hub.pixels.register import inspect

    root = tmp_path_factory.mktemp("slow-store")
    data = np.random.default_rng(5).integers(0, 4000, (1, 1, 1, 256, 256), dtype=np.uint16)
    convert(SourceImage(data=data, name="slow"), root / "slow.ome.zarr", loaded)
    store = SlowStore(root)
    db = loaded.neo4j_database
    records, _, _ = driver.execute_query(
        "MATCH (i:Image {study: 'idr0004'}) RETURN i.id AS id ORDER BY id SKIP 1 LIMIT 1", database_=db)
    image_id = records[0]["id"]
    write_pixels(driver, db, image_id, inspect(f"{store.server.url}/slow.ome.zarr", loaded))
    try:
        yield image_id, data, store
    finally:
        store.gate.set()
        delete_pixels(driver, db, image_id)
        store.server.stop()


def start_server(settings: Settings, port: int, grace_s: float, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEO4J_", "EMBEDDED_", "SHUTDOWN_", "LOG_", "PIXELS_"))}
    if settings.neo4j_uri:
        env.update(NEO4J_URI=settings.neo4j_uri, NEO4J_USER=settings.neo4j_user, NEO4J_PASSWORD=settings.neo4j_password)
    else:
        env.update(EMBEDDED_HOME=str(settings.embedded_home), EMBEDDED_BOLT_PORT=str(settings.embedded_bolt_port))
    env.update(NEO4J_DATABASE=settings.neo4j_database, SHUTDOWN_GRACE_S=str(grace_s), LOG_FORMAT="json",
               PIXELS_LOOKUP_TTL_S="0")
    proc = subprocess.Popen([sys.executable, "-m", "bioimage_hub", "serve", "--port", str(port)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the server did not become ready: {proc.communicate()}")


def in_flight(port: int) -> int:
    """hub_http_requests_in_flight, not counting the /metrics request that reads it."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    line = next(l for l in text.splitlines() if l.startswith("hub_http_requests_in_flight "))
    return int(float(line.split()[1])) - 1


def wait_until(condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def region_path(image_id: str) -> str:
    return f"/pixels/{quote(image_id, safe='/')}/region"


def expected_studies() -> list[str]:
    """The study accessions, from the study folders themselves (idrNNNN-name -> idrNNNN)."""
    return sorted({p.name.split("-")[0] for p in IDR_DIR.iterdir() if p.is_dir() and p.name.startswith("idr")})


def test_sigterm_finishes_in_flight_requests_then_exits(loaded: Settings, slow_pixels, tmp_path: Path) -> None:
    image_id, data, store = slow_pixels
    grace = 20.0
    port = free_port()
    proc = start_server(loaded, port, grace, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        store.gate.clear()
        chunks_before = store.chunk_requests()
        with ThreadPoolExecutor(1) as pool:
            region = pool.submit(httpx.get, base + region_path(image_id),
                                 params={"format": "npy", "x": 3, "y": 5, "w": 200, "h": 100}, timeout=60)
            wait_until(lambda: store.chunk_requests() > chunks_before)  # the region read waits on the store

            body = json.dumps({"query": QUERY}).encode()
            slow_client = socket.create_connection(("127.0.0.1", port))
            slow_client.sendall(
                f"POST /graphql HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body[:20])
            wait_until(lambda: in_flight(port) == 2)  # both requests are inside the app

            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            wait_until(lambda: refused(port), timeout=5)  # the listener is closed at once
            assert proc.poll() is None and not region.done()  # ... while the in-flight requests go on

            slow_client.sendall(body[20:])  # the client finishes its upload
            answer = http.client.HTTPResponse(slow_client)
            answer.begin()
            graphql_status, graphql_body = answer.status, json.loads(answer.read())
            slow_client.close()
            store.gate.set()  # the store answers
            region_answer = region.result(timeout=30)
        code = proc.wait(timeout=grace + 10)
        took = time.monotonic() - signalled
    finally:
        store.gate.set()
        if proc.poll() is None:
            proc.kill()
    stdout, stderr = proc.communicate()

    assert graphql_status == 200 and "errors" not in graphql_body, graphql_body
    studies = graphql_body["data"]["studies"]
    assert sorted(n["accession"] for n in studies["nodes"]) == expected_studies()
    assert studies["totalCount"] == len(expected_studies())
    assert region_answer.status_code == 200, region_answer.text
    assert np.array_equal(np.load(io.BytesIO(region_answer.content)), data[0, :, 0, 5:105, 3:203])

    assert code == 0, stderr
    assert took < grace, took
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert not [l for l in lines if l["level"] in ("ERROR", "CRITICAL")], stderr
    assert "Traceback" not in stderr, stderr
    served = {(l.get("path"), l.get("status")) for l in lines if l["logger"] == "bioimage_hub.requests"}
    assert ("/graphql", 200) in served and (region_path(image_id), 200) in served
    assert any(l["message"] == "shutdown complete: Neo4j drivers closed" for l in lines), stderr


def test_a_request_longer_than_the_grace_period_does_not_hold_the_process(loaded: Settings, slow_pixels,
                                                                          tmp_path: Path) -> None:
    image_id, _data, store = slow_pixels
    grace = 2.0
    port = free_port()
    proc = start_server(loaded, port, grace, tmp_path)
    try:
        store.gate.clear()  # the store never answers during this test
        chunks_before = store.chunk_requests()
        with ThreadPoolExecutor(1) as pool:
            region = pool.submit(httpx.get, f"http://127.0.0.1:{port}" + region_path(image_id),
                                 params={"format": "npy", "w": 16, "h": 16}, timeout=60)
            wait_until(lambda: store.chunk_requests() > chunks_before)
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=grace + 15)
            took = time.monotonic() - signalled
            with pytest.raises(httpx.HTTPError):  # cut off: no answer rather than a hung process
                region.result(timeout=10).raise_for_status()
    finally:
        store.gate.set()
        if proc.poll() is None:
            proc.kill()
    _stdout, stderr = proc.communicate()
    assert code == 0, stderr
    assert grace <= took < grace + 5, took
    assert "shutdown complete: Neo4j drivers closed" in stderr
