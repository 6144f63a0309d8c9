"""Build, start, stop and inspect the embedded Neo4j that the hub uses when `NEO4J_URI` is unset.

Neo4j Community runs inside our own small Java launcher (`launcher/`, a Maven project) with its
Bolt connector bound to 127.0.0.1 and authentication disabled; Python talks to it over Bolt
exactly as it would to an external server. The launcher runs as a detached background process
(its own session, so it survives the CLI that started it), tracked by a pid file in the home
directory. Data lives in `<home>/data`, logs (the launcher's stdout/stderr and Neo4j's own
`debug.log`, `query.log`, ...) in `<home>/logs`.

Everything here is idempotent so that the CLI and tests can call it freely: `start` on a
running instance returns its status, `stop` on a stopped one is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import neo4j
from neo4j import GraphDatabase
from rich.console import Console

from bioimage_hub.config import PROJECT_ROOT, Settings

__all__ = [
    "EmbeddedNeo4jError",
    "EmbeddedStatus",
    "JavaHome",
    "LAUNCHER_DIR",
    "ensure_built",
    "find_java",
    "launcher_neo4j_version",
    "start",
    "status",
    "stop",
]

LAUNCHER_DIR: Path = PROJECT_ROOT / "launcher"
MAIN_CLASS = "org.bioimagehub.launcher.Launcher"
JAVA_HOME_ENV = "BIOIMAGE_HUB_JAVA_HOME"
JVM_ROOT = Path("/usr/lib/jvm")

_POM = LAUNCHER_DIR / "pom.xml"
_TARGET = LAUNCHER_DIR / "target"
_CLASSES = _TARGET / "classes"
_LIB = _TARGET / "lib"
_LAUNCHER_CLASS = _CLASSES / "org" / "bioimagehub" / "launcher" / "Launcher.class"
_BUILD_STAMP = _TARGET / "bioimage-hub-build.json"
_PID_FILE = "neo4j.pid"
_LOCK_FILE = ".embedded.lock"
_LOG_FILE = "launcher.log"
_READY_MARKER = b"BIOIMAGE-HUB-NEO4J READY"  # printed by Launcher.java once the database answers

log = logging.getLogger(__name__)
_console = Console(stderr=True)


class EmbeddedNeo4jError(RuntimeError):
    """The embedded Neo4j could not be built, started or stopped; the message says why."""


@dataclass(frozen=True)
class JavaHome:
    """A JDK found on this machine, with its feature version (17, 21, 25, ...)."""

    path: Path
    major: int

    @property
    def java(self) -> Path:
        return self.path / "bin" / "java"

    @property
    def has_javac(self) -> bool:
        return (self.path / "bin" / "javac").is_file()


@dataclass(frozen=True)
class EmbeddedStatus:
    """What `bioimage-hub neo4j status` shows; returned by `start`, `stop` and `status`."""

    running: bool
    """The launcher process from the pid file is alive."""
    bolt_ready: bool
    """Bolt answered a connectivity check (false while Neo4j is still starting)."""
    pid: int | None
    uri: str
    neo4j_version: str
    """Reported by the server when it answers, otherwise the version the launcher is built for."""
    home: Path
    log_file: Path
    java_home: Path | None = None


# --------------------------------------------------------------------------------------------
# Launcher pom: Neo4j version and the Java version it needs


def _pom_properties() -> dict[str, str]:
    """The `<properties>` of launcher/pom.xml; the pom is the single source of the Neo4j version."""
    try:
        root = ET.parse(_POM).getroot()
    except (OSError, ET.ParseError) as exc:
        raise EmbeddedNeo4jError(f"cannot read the launcher's Maven project {_POM}: {exc}") from exc
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = root.find("m:properties", ns)
    if props is None:
        return {}
    return {el.tag.split("}", 1)[-1]: (el.text or "").strip() for el in props}


def launcher_neo4j_version() -> str:
    """The Neo4j version the launcher is built against (pom property `neo4j.version`)."""
    version = _pom_properties().get("neo4j.version")
    if not version:
        raise EmbeddedNeo4jError(f"{_POM} has no <neo4j.version> property")
    return version


def _required_java_major() -> int:
    """Java feature version Neo4j needs: pom property `java.min.version`, else from the version."""
    props = _pom_properties()
    if props.get("java.min.version", "").isdigit():
        return int(props["java.min.version"])
    version = props.get("neo4j.version", "")
    if version.startswith("4."):
        return 11
    if version.startswith("5."):
        return 17
    return 21  # calendar versions (2025.x and later) need Java 21+


# --------------------------------------------------------------------------------------------
# JDK selection


def _java_major(home: Path) -> int | None:
    """Feature version of the JDK at `home`, from its `release` file (fast) or `java -version`."""
    release = home / "release"
    text = ""
    with contextlib.suppress(OSError):
        text = release.read_text(encoding="utf-8", errors="replace")
    match = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    if not match and (home / "bin" / "java").is_file():
        try:
            proc = subprocess.run(
                [str(home / "bin" / "java"), "-version"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r'version "([^"]+)"', proc.stderr)
    if not match:
        return None
    parts = match.group(1).split(".")
    try:
        major = int(parts[0])
        return int(parts[1]) if major == 1 and len(parts) > 1 else major  # "1.8.0" -> 8
    except ValueError:
        return None


def _candidate_homes() -> list[Path]:
    homes: list[Path] = []
    if env := os.environ.get("JAVA_HOME"):
        homes.append(Path(env))
    if JVM_ROOT.is_dir():
        homes.extend(sorted(p for p in JVM_ROOT.iterdir() if p.is_dir()))
    if java := shutil.which("java"):
        homes.append(Path(java).resolve().parent.parent)
    return homes


def find_java(need_javac: bool = False) -> JavaHome:
    """Pick the JDK to build and run the launcher with.

    `$BIOIMAGE_HUB_JAVA_HOME` wins when set (it must satisfy the requirement). Otherwise the
    newest JDK among `$JAVA_HOME`, /usr/lib/jvm/* and the `java` on PATH whose version satisfies
    the Neo4j version's requirement (Java 21+ for 2025.x and later, 17 for 5.x).
    """
    required = _required_java_major()
    version = launcher_neo4j_version()
    override = os.environ.get(JAVA_HOME_ENV)
    if override:
        home = Path(override).expanduser()
        major = _java_major(home)
        if major is None or not (home / "bin" / "java").is_file():
            raise EmbeddedNeo4jError(f"{JAVA_HOME_ENV}={override} is not a JDK (no bin/java)")
        if major < required:
            raise EmbeddedNeo4jError(
                f"{JAVA_HOME_ENV}={override} is Java {major}, but Neo4j {version} needs Java "
                f"{required}+"
            )
        found = JavaHome(home, major)
        if need_javac and not found.has_javac:
            raise EmbeddedNeo4jError(f"{JAVA_HOME_ENV}={override} has no javac (a JRE, not a JDK)")
        return found

    best: JavaHome | None = None
    seen: set[Path] = set()
    rejected: list[str] = []
    for home in _candidate_homes():
        try:
            real = home.resolve()
        except OSError:
            continue
        if real in seen or not (real / "bin" / "java").is_file():
            continue
        seen.add(real)
        major = _java_major(real)
        if major is None:
            continue
        candidate = JavaHome(real, major)
        if major < required or (need_javac and not candidate.has_javac):
            rejected.append(f"{real} (Java {major}{'' if candidate.has_javac else ', no javac'})")
            continue
        if best is None or major > best.major:
            best = candidate
    if best is None:
        found_text = "; found: " + ", ".join(rejected) if rejected else "; found no JDK at all"
        raise EmbeddedNeo4jError(
            f"Neo4j {version} needs a JDK {required}+{found_text}. Install one (e.g. Temurin 21 or "
            f"25) under {JVM_ROOT}, or point {JAVA_HOME_ENV} at it."
        )
    return best


# --------------------------------------------------------------------------------------------
# Build


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock across processes (concurrent CLI calls, tests next to a running hub)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_inputs() -> list[Path]:
    return [_POM, *sorted((LAUNCHER_DIR / "src").rglob("*"))]


def _build_is_current() -> bool:
    """True when target/ holds a build of the current pom and sources (checked via a stamp file)."""
    if not (_BUILD_STAMP.is_file() and _LAUNCHER_CLASS.is_file()):
        return False
    try:
        stamp = json.loads(_BUILD_STAMP.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stamp.get("neo4j_version") != launcher_neo4j_version():
        return False
    if not (_LIB / f"neo4j-{stamp['neo4j_version']}.jar").is_file():
        return False
    stamp_mtime = _BUILD_STAMP.stat().st_mtime
    return all(p.stat().st_mtime <= stamp_mtime for p in _build_inputs() if p.is_file())


def ensure_built(settings: Settings) -> None:
    """Build the launcher with Maven unless target/ is already current.

    Runs `mvn -q -B -f launcher/pom.xml package` with JAVA_HOME set to a suitable JDK. The first
    build downloads Neo4j and its dependencies (~150 MB) into ~/.m2. `settings` is accepted for
    symmetry with the other functions (the build does not depend on it).
    """
    del settings  # the build is the same for every hub instance
    if _build_is_current():
        return
    with _file_lock(_TARGET / ".build.lock"):
        if _build_is_current():  # another process built it while we waited
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise EmbeddedNeo4jError(
                "Maven (`mvn`) is not on PATH; it is needed once to build the embedded Neo4j "
                "launcher (e.g. `apt-get install maven`). Or set NEO4J_URI to use an external "
                "server."
            )
        jdk = find_java(need_javac=True)
        version = launcher_neo4j_version()
        # Old dependency jars would end up on the classpath next to the new ones.
        shutil.rmtree(_LIB, ignore_errors=True)
        _BUILD_STAMP.unlink(missing_ok=True)
        cmd = [mvn, "-q", "-B", "-f", str(_POM), "package"]
        env = {**os.environ, "JAVA_HOME": str(jdk.path)}
        env["PATH"] = f"{jdk.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        started = time.monotonic()
        with _console.status(
            f"Building the embedded Neo4j {version} launcher with Java {jdk.major} "
            "(the first build downloads ~150 MB of Maven dependencies)…"
        ):
            try:
                proc = subprocess.run(
                    cmd, cwd=LAUNCHER_DIR, env=env, capture_output=True, text=True, check=False
                )
            except OSError as exc:
                raise EmbeddedNeo4jError(f"could not run {' '.join(cmd)}: {exc}") from exc
        if proc.returncode != 0 or not _LAUNCHER_CLASS.is_file():
            output = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
            raise EmbeddedNeo4jError(
                f"building the Neo4j launcher failed (exit {proc.returncode}): "
                f"JAVA_HOME={jdk.path} {' '.join(cmd)}\n{output}"
            )
        _BUILD_STAMP.write_text(
            json.dumps(
                {
                    "neo4j_version": version,
                    "java_home": str(jdk.path),
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            ),
            encoding="utf-8",
        )
        _console.print(
            f"Built the Neo4j {version} launcher in {time.monotonic() - started:.0f} s "
            f"(Java {jdk.major}, {jdk.path})."
        )


# --------------------------------------------------------------------------------------------
# Process bookkeeping


def _home(settings: Settings) -> Path:
    return settings.embedded_home.expanduser().resolve()


def _uri(settings: Settings) -> str:
    # Always the loopback Bolt address, even if NEO4J_URI points elsewhere: this is the embedded.
    return f"bolt://127.0.0.1:{settings.embedded_bolt_port}"


def _log_path(settings: Settings) -> Path:
    return _home(settings) / "logs" / _LOG_FILE


def _read_pid_file(home: Path) -> dict[str, object] | None:
    try:
        data = json.loads((home / _PID_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def _write_pid_file(home: Path, data: dict[str, object]) -> None:
    tmp = home / f"{_PID_FILE}.tmp"
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(home / _PID_FILE)


def _process_alive(pid: int) -> bool:
    """Alive and not a zombie (reaping it if it is our own child that has exited)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_our_launcher(pid: int, home: Path) -> bool:
    """Guards against pid reuse: the process must be our launcher for this very home dir."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _process_alive(pid)  # no procfs: best effort
    decoded = [a.decode(errors="replace") for a in args]
    return MAIN_CLASS in decoded and str(home) in decoded


def _running_pid(home: Path) -> int | None:
    """Pid of the launcher from the pid file if it still runs; removes a stale pid file."""
    data = _read_pid_file(home)
    if data is None:
        if (home / _PID_FILE).exists():
            (home / _PID_FILE).unlink(missing_ok=True)
        return None
    pid = data["pid"]
    assert isinstance(pid, int)  # checked by _read_pid_file
    if _process_alive(pid) and _is_our_launcher(pid, home):
        return pid
    (home / _PID_FILE).unlink(missing_ok=True)
    return None


def _bolt_agent(uri: str, timeout: float = 2.0, query: bool = False) -> str | None:
    """Server agent (e.g. "Neo4j/2026.08.1") if Bolt answers at `uri` (and, with `query`, the
    default database runs `RETURN 1`), else None."""
    try:
        with GraphDatabase.driver(
            uri, auth=None, connection_timeout=timeout, max_connection_lifetime=30
        ) as driver:
            driver.verify_connectivity()
            if query:
                driver.execute_query("RETURN 1")
            return driver.get_server_info().agent
    except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError, OSError):
        return None


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _launcher_ready(settings: Settings, log_offset: int | None) -> bool:
    """Whether the launcher we just started printed its READY line (True if we did not start it)."""
    if log_offset is None:
        return True
    try:
        with _log_path(settings).open("rb") as handle:
            handle.seek(log_offset)
            return _READY_MARKER in handle.read()
    except OSError:
        return False


def _status(settings: Settings, check_bolt: bool = True) -> EmbeddedStatus:
    home = _home(settings)
    pid = _running_pid(home)
    uri = _uri(settings)
    agent = _bolt_agent(uri) if (pid is not None and check_bolt) else None
    data = _read_pid_file(home) if pid is not None else None
    java_home = Path(str(data["java_home"])) if data and data.get("java_home") else None
    try:
        version = launcher_neo4j_version()
    except EmbeddedNeo4jError:
        version = "unknown"
    if agent and "/" in agent:
        version = agent.split("/", 1)[1]
    return EmbeddedStatus(
        running=pid is not None,
        bolt_ready=agent is not None,
        pid=pid,
        uri=uri,
        neo4j_version=version,
        home=home,
        log_file=_log_path(settings),
        java_home=java_home,
    )


def _jvm_options(jdk: JavaHome, settings: Settings) -> list[str]:
    """The JVM flags Neo4j's own start script uses, trimmed to what matters embedded."""
    opts = [
        f"-Xmx{settings.embedded_heap}",
        "-XX:+UseG1GC",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:+DisableExplicitGC",
        "-Djdk.nio.maxCachedBufferSize=1024",
        "-Dio.netty.tryReflectionSetAccessible=true",
        "-Dlog4j2.disable.jmx=true",
        "-Dfile.encoding=UTF-8",
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "--enable-native-access=ALL-UNNAMED",
    ]
    if jdk.major >= 24:
        # JDK 24+ warns when libraries (jctools, netty) use sun.misc.Unsafe memory access.
        opts.append("--sun-misc-unsafe-memory-access=allow")
    return opts


# --------------------------------------------------------------------------------------------
# Public lifecycle


def status(settings: Settings) -> EmbeddedStatus:
    """Whether the embedded Neo4j for `settings.embedded_home` runs and answers on Bolt."""
    return _status(settings)


def start(settings: Settings, timeout: float = 120) -> EmbeddedStatus:
    """Start the embedded Neo4j in the background and wait until Bolt answers.

    Idempotent: when the launcher for this home already runs, waits for Bolt and returns its
    status (same pid). Builds the launcher first if needed. Raises `EmbeddedNeo4jError` if the
    port is taken by something else, the process dies, or Bolt does not answer in `timeout` s.
    """
    home = _home(settings)
    home.mkdir(parents=True, exist_ok=True)
    uri = _uri(settings)
    with _file_lock(home / _LOCK_FILE):
        pid = _running_pid(home)
        log_offset: int | None = None  # where this start's output begins in the log
        if pid is None:
            ensure_built(settings)
            jdk = find_java()
            for port in (settings.embedded_bolt_port, settings.embedded_http_port):
                if port is not None and _port_in_use(port):
                    raise EmbeddedNeo4jError(
                        f"port 127.0.0.1:{port} is already in use by another process; choose "
                        "another with EMBEDDED_BOLT_PORT / EMBEDDED_HTTP_PORT"
                    )
            (home / "data").mkdir(exist_ok=True)
            log_file = _log_path(settings)
            log_file.parent.mkdir(parents=True, exist_ok=True)
            cmd = [
                str(jdk.java),
                *_jvm_options(jdk, settings),
                "-cp",
                f"{_CLASSES}{os.pathsep}{_LIB}/*",
                MAIN_CLASS,
                "--home",
                str(home),
                "--bolt-port",
                str(settings.embedded_bolt_port),
                "--tx-memory",
                settings.embedded_tx_memory,
                "--pagecache",
                settings.embedded_pagecache,
            ]
            if settings.embedded_http_port is not None:
                cmd += ["--http-port", str(settings.embedded_http_port)]
            with log_file.open("ab") as out:
                stamp = datetime.now(UTC).isoformat(timespec="seconds")
                out.write(f"\n=== {stamp} starting: {' '.join(cmd)}\n".encode())
                out.flush()
                log_offset = out.tell()
                try:
                    proc = subprocess.Popen(
                        cmd,
                        cwd=home,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # survives the CLI; not hit by its Ctrl-C
                        close_fds=True,
                    )
                except OSError as exc:
                    raise EmbeddedNeo4jError(f"could not run {jdk.java}: {exc}") from exc
            pid = proc.pid
            _write_pid_file(
                home,
                {
                    "pid": pid,
                    "bolt_port": settings.embedded_bolt_port,
                    "java_home": str(jdk.path),
                    "neo4j_version": launcher_neo4j_version(),
                    "started_at": stamp,
                },
            )
            log.info("started embedded Neo4j pid=%d home=%s", pid, home)

        deadline = time.monotonic() + timeout
        with _console.status(f"Waiting for Neo4j to answer on {uri}…"):
            while True:
                if not _process_alive(pid):
                    (home / _PID_FILE).unlink(missing_ok=True)
                    raise EmbeddedNeo4jError(
                        f"embedded Neo4j (pid {pid}) exited during startup; last lines of "
                        f"{_log_path(settings)}:\n{_log_tail(_log_path(settings))}"
                    )
                if _launcher_ready(settings, log_offset) and _bolt_agent(uri, query=True):
                    break
                if time.monotonic() > deadline:
                    _stop_locked(settings, timeout=60)
                    raise EmbeddedNeo4jError(
                        f"embedded Neo4j did not answer on {uri} within {timeout:.0f} s (stopped "
                        f"it again); see {_log_path(settings)} and {home / 'logs' / 'debug.log'}"
                    )
                time.sleep(0.5)
    return _status(settings)


def _stop_locked(settings: Settings, timeout: float) -> None:
    home = _home(settings)
    pid = _running_pid(home)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # the launcher's shutdown hook stops the DBMS cleanly
    deadline = time.monotonic() + timeout
    while _process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _process_alive(pid):
        log.warning("embedded Neo4j pid=%d ignored SIGTERM for %.0f s; killing it", pid, timeout)
        _console.print(f"[yellow]Neo4j (pid {pid}) did not stop in {timeout:.0f} s; killing it.")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        kill_deadline = time.monotonic() + 10
        while _process_alive(pid) and time.monotonic() < kill_deadline:
            time.sleep(0.1)
        if _process_alive(pid):
            raise EmbeddedNeo4jError(f"embedded Neo4j (pid {pid}) survived SIGKILL")
    (home / _PID_FILE).unlink(missing_ok=True)
    log.info("stopped embedded Neo4j pid=%d", pid)


def stop(settings: Settings, timeout: float = 60) -> EmbeddedStatus:
    """Stop the embedded Neo4j: SIGTERM (clean shutdown), SIGKILL after `timeout` s. Idempotent."""
    home = _home(settings)
    if not home.exists():
        return _status(settings, check_bolt=False)
    with _file_lock(home / _LOCK_FILE):
        _stop_locked(settings, timeout)
    return _status(settings, check_bolt=False)
