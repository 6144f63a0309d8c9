"""Real lifecycle tests for the embedded Neo4j (no mocks): build, start, query over Bolt, stop.

Each test module run uses its own home under pytest's tmp dir and a free loopback port, so it
never touches a hub instance on 7687 that other tests (or a developer) may be running. Runs on
its own with `.venv/bin/python -m pytest tests/graph/test_embedded.py`; it needs Maven and a
JDK new enough for the launcher's Neo4j version, and is skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from bioimage_hub.config import Settings
from bioimage_hub.graph import embedded
from bioimage_hub.graph.embedded import EmbeddedNeo4jError


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _missing_toolchain() -> str | None:
    try:
        embedded.find_java()
    except EmbeddedNeo4jError as exc:
        return str(exc)
    if shutil.which("mvn") is None and not (embedded.LAUNCHER_DIR / "target" / "lib").is_dir():
        return "Maven (mvn) is not installed and the launcher is not built"
    return None


pytestmark = pytest.mark.skipif((reason := _missing_toolchain()) is not None, reason=reason or "")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("neo4j-embedded")
    cfg = Settings(
        neo4j_uri=None,
        embedded_home=home,
        embedded_bolt_port=_free_port(),
        embedded_http_port=None,
        embedded_heap="512m",
    )
    yield cfg
    embedded.stop(cfg)  # never leave a JVM behind, whatever the tests did


def test_find_java_satisfies_requirement() -> None:
    jdk = embedded.find_java()
    assert jdk.java.is_file()
    version = embedded.launcher_neo4j_version()
    needed = 17 if version.startswith("5.") else 21
    assert jdk.major >= needed


def test_java_override_too_old_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    old = Path("/usr/lib/jvm/java-17-openjdk-amd64")
    if embedded.launcher_neo4j_version().startswith("5.") or not (old / "bin" / "java").is_file():
        pytest.skip("needs a Java 17 JDK and a launcher that requires Java 21+")
    monkeypatch.setenv(embedded.JAVA_HOME_ENV, str(old))
    with pytest.raises(EmbeddedNeo4jError, match="needs Java 21"):
        embedded.find_java()


def test_not_running_before_start(settings: Settings) -> None:
    st = embedded.status(settings)
    assert not st.running
    assert st.pid is None
    assert st.uri == f"bolt://127.0.0.1:{settings.embedded_bolt_port}"


def test_start_is_idempotent_and_bolt_answers(settings: Settings) -> None:
    first = embedded.start(settings, timeout=180)
    assert first.running and first.bolt_ready
    assert first.pid is not None
    assert (settings.embedded_home / "neo4j.pid").is_file()

    second = embedded.start(settings, timeout=60)
    assert second.pid == first.pid

    st = embedded.status(settings)
    assert st.running and st.bolt_ready and st.pid == first.pid
    assert st.neo4j_version == embedded.launcher_neo4j_version()
    assert st.log_file.is_file()
    assert "READY" in st.log_file.read_text()
    assert (settings.embedded_home / "data" / "databases").is_dir()
    assert (settings.embedded_home / "logs" / "debug.log").is_file()

    # Embedded runs without auth: the driver needs no credentials (any would be accepted).
    with GraphDatabase.driver(st.uri, auth=None) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one", database_="neo4j")
        assert records[0]["one"] == 1
        driver.execute_query("CREATE (:EmbeddedTest {pid: $pid})", pid=os.getpid())
        records, _, _ = driver.execute_query("MATCH (n:EmbeddedTest) RETURN count(n) AS c")
        assert records[0]["c"] == 1


def test_port_taken_by_other_process_is_reported(settings: Settings, tmp_path: Path) -> None:
    other = Settings(
        embedded_home=tmp_path / "other", embedded_bolt_port=settings.embedded_bolt_port
    )
    if not embedded.status(settings).running:
        pytest.skip("needs the instance from the previous test")
    with pytest.raises(EmbeddedNeo4jError, match="already in use"):
        embedded.start(other, timeout=30)


def test_stop_then_status_not_running(settings: Settings) -> None:
    pid = embedded.status(settings).pid
    stopped = embedded.stop(settings, timeout=60)
    assert not stopped.running
    assert stopped.pid is None
    assert not (settings.embedded_home / "neo4j.pid").exists()
    if pid is not None:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert not embedded.status(settings).running
    assert "stopped" in stopped.log_file.read_text()  # the shutdown hook ran (clean shutdown)

    again = embedded.stop(settings)  # idempotent
    assert not again.running


def test_restart_keeps_data(settings: Settings) -> None:
    st = embedded.start(settings, timeout=180)
    try:
        with GraphDatabase.driver(st.uri, auth=None) as driver:
            records, _, _ = driver.execute_query("MATCH (n:EmbeddedTest) RETURN count(n) AS c")
            assert records[0]["c"] == 1
    finally:
        embedded.stop(settings)
