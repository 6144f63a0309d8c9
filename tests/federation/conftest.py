"""Federation tests with real processes: the hub served by uvicorn (over the `loaded` Neo4j of
tests/conftest.py), and Node processes from tests/js (the example atlas subgraph, an Apollo
gateway, composition and the graphql-http audit). Everything listens on 127.0.0.1 on ephemeral
ports; every wait is bounded; every process is stopped at teardown.

The Node package is installed once per session with `npm ci` (skipped when its lock file has not
changed since the last install). Without `node`/`npm` the tests are skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bioimage_hub.config import PROJECT_ROOT, Settings

JS_DIR = PROJECT_ROOT / "tests" / "js"
NPM_TIMEOUT_S = 300
START_TIMEOUT_S = 60
NODE_TIMEOUT_S = 60

# The example atlas (tests/js/atlas.mjs) computes its values from the id; the same functions here.
REGIONS = ["cortex", "hippocampus", "cerebellum", "thalamus", "striatum", "brainstem"]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def atlas_region(image_id: str) -> str:
    return REGIONS[int(_digest(image_id)[:8], 16) % len(REGIONS)]


def expression_level(gene_id: str) -> float:
    return (int(_digest(gene_id)[8:16], 16) % 10000) / 100


# ---------------------------------------------------------------------------------------- Node


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """`npm ci` in tests/js, once: a stamp (the lock file's hash) skips it when nothing changed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the federation tests (Node.js >= 20)")
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(node_version.lstrip("v").split(".")[0]) < 20:
        pytest.skip(f"the federation tests need Node.js >= 20 (@apollo/server 5), found {node_version}")
    lock = JS_DIR / "package-lock.json"
    stamp = JS_DIR / "node_modules" / ".bioimage-hub-installed"
    lock_name = f"bioimage-hub-npm-{hashlib.sha256(bytes(JS_DIR)).hexdigest()[:12]}.lock"
    with open(Path(tempfile.gettempdir()) / lock_name, "w") as lock_file:  # another pytest may be installing
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        want = None
        if lock.is_file():
            want = hashlib.sha256(lock.read_bytes() + (JS_DIR / "package.json").read_bytes()).hexdigest()
        if want is None or not stamp.is_file() or stamp.read_text() != want:
            command = [npm, "ci" if want else "install", "--ignore-scripts", "--no-audit", "--no-fund"]
            try:
                done = subprocess.run(command, cwd=JS_DIR, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"`{' '.join(command[1:])}` in tests/js took over {NPM_TIMEOUT_S} s")
            assert done.returncode == 0, f"`npm {command[1]}` failed in tests/js:\n{done.stdout}\n{done.stderr}"
            if want:
                stamp.write_text(want)
    return JS_DIR / "node_modules"


def run_node(script: str, *args: str, timeout: float = NODE_TIMEOUT_S, ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run a tests/js script to completion; returns its stdout."""
    done = subprocess.run(
        ["node", script, *args], cwd=JS_DIR, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode in ok_codes, f"node {script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class NodeServer:
    """A long-running tests/js script that prints `READY <url>` once it listens."""

    def __init__(self, script: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.script = script
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            ["node", script, *args],
            cwd=JS_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, None), daemon=True).start()
        self.url = self._wait_ready()

    def _pump(self, stream: Any, lines: queue.Queue[str | None] | None) -> None:
        for line in stream:
            if lines is not None:
                lines.put(line.rstrip("\n"))
            else:
                self.stderr.append(line)
        if lines is not None:
            lines.put(None)

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:  # stdout closed: the process ended
                self.proc.wait(timeout=5)
                raise RuntimeError(f"node {self.script} exited {self.proc.returncode}:\n{''.join(self.stderr)}")
            if line.startswith("READY "):
                return line.split(" ", 1)[1].strip()
        self.stop()
        raise RuntimeError(f"node {self.script} not ready after {START_TIMEOUT_S} s:\n{''.join(self.stderr)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# ----------------------------------------------------------------------------------------- hub


@dataclass
class Call:
    """One HTTP request the hub served on /graphql, as seen on the wire."""

    method: str
    body: Any
    statements: int  # the X-Cypher-Statements response header (-1 when absent)
    status: int


@dataclass
class Recorder:
    """ASGI middleware: records the /graphql requests (e.g. the gateway's `_entities` calls)."""

    app: Any
    calls: list[Call] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def receive_recorded() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def send_recorded(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":  # recorded before the client can see the answer
                headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
                raw = b"".join(chunks)
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                self.calls.append(
                    Call(scope["method"], body, int(headers.get("x-cypher-statements", "-1")), message["status"])
                )
            await send(message)

        await self.app(scope, receive_recorded, send_recorded)


@dataclass
class Hub:
    url: str  # http://127.0.0.1:PORT/graphql
    recorder: Recorder

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        response = httpx.post(self.url, json={"query": query, "variables": variables or {}}, timeout=30)
        response.raise_for_status()
        return response

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables).json()
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture(scope="session")
def hub(loaded: Settings) -> Iterator[Hub]:
    """The hub, served for real by uvicorn in a thread, over the loaded Neo4j."""
    import uvicorn

    from bioimage_hub.api.app import create_app

    recorder = Recorder(create_app(loaded))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(recorder, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="hub-uvicorn")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the hub did not start under uvicorn")
        time.sleep(0.05)
    try:
        yield Hub(f"http://127.0.0.1:{port}/graphql", recorder)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


# ------------------------------------------------------------------------------ atlas, gateway


UNKNOWN_IMAGE = "no-such-image"  # an atlas entry the hub has no (visible) image for


def _sample_image_ids(hub: Hub) -> list[str]:
    """A few real image ids from every study (plus the README's idr0004 well), and UNKNOWN_IMAGE."""
    studies = [s["accession"] for s in hub.data("{ studies(first: 100) { nodes { accession } } }")["studies"]["nodes"]]
    ids = ["idr0004-screenA/P101/A2"]
    for accession in studies:
        nodes = hub.data(
            "query($s: String!) { images(first: 6, filter: {study: $s}) { nodes { id } } }", {"s": accession}
        )["images"]["nodes"]
        ids += [n["id"] for n in nodes if n["id"] not in ids]
    return [*ids, UNKNOWN_IMAGE]


@dataclass
class Atlas:
    url: str
    image_ids: list[str]
    sdl: str


@pytest.fixture(scope="session")
def atlas(node_modules: Path, hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Atlas]:
    ids = _sample_image_ids(hub)
    ids_file = tmp_path_factory.mktemp("atlas") / "image-ids.json"
    ids_file.write_text(json.dumps(ids))
    server = NodeServer("atlas-subgraph.mjs", "0", str(ids_file))
    try:
        yield Atlas(server.url, ids, run_node("atlas-subgraph.mjs", "--print-sdl"))
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gateway(node_modules: Path, hub: Hub, atlas: Atlas) -> Iterator[str]:
    server = NodeServer("gateway.mjs", "0", f"hub={hub.url}", f"atlas={atlas.url}")
    try:
        yield server.url
    finally:
        server.stop()


def post_graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=30)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


@contextlib.contextmanager
def recorded(hub: Hub) -> Iterator[list[Call]]:
    """The hub requests made inside the block."""
    start = len(hub.recorder.calls)
    calls: list[Call] = []
    yield calls
    calls.extend(hub.recorder.calls[start:])
