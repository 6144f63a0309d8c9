"""Shared test fixtures: a real Neo4j (embedded, on its own port and data folder), loaded with
the real IDR studies and ontologies from ../shared, and the ASGI app over it.

Set BIOIMAGE_HUB_TEST_NEO4J_URI (+ _USER/_PASSWORD) to run against an external server instead;
its database is WIPED, so never point it at data you keep.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import neo4j
import pytest

from bioimage_hub.config import PROJECT_ROOT, Settings

SHARED = PROJECT_ROOT.parent / "shared" / "data"
IDR_DIR = SHARED / "idr"
ONTOLOGY_DIR = SHARED / "ontologies"
CMPO = ONTOLOGY_DIR / "cmpo.obo"
FBBI = ONTOLOGY_DIR / "fbbi.obo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    external = os.environ.get("BIOIMAGE_HUB_TEST_NEO4J_URI")
    if external:
        yield Settings(
            neo4j_uri=external,
            neo4j_user=os.environ.get("BIOIMAGE_HUB_TEST_NEO4J_USER", "neo4j"),
            neo4j_password=os.environ.get("BIOIMAGE_HUB_TEST_NEO4J_PASSWORD", "neo4j"),
            expose_cypher=True,
        )
        return
    from bioimage_hub.graph import embedded

    # One Neo4j per test session (concurrent sessions must not stop each other's instance).
    root = PROJECT_ROOT / "var" / "test-neo4j"
    _reap_stale(root)
    cfg = Settings(
        neo4j_uri=None,
        embedded_home=root / str(os.getpid()),
        embedded_bolt_port=int(os.environ.get("BIOIMAGE_HUB_TEST_BOLT_PORT", _free_port())),
        expose_cypher=True,
    )
    embedded.ensure_built(cfg)
    embedded.start(cfg)
    try:
        yield cfg
    finally:
        embedded.stop(cfg)
        shutil.rmtree(cfg.embedded_home, ignore_errors=True)


def _reap_stale(root: Path) -> None:
    """Stop and remove test instances left by sessions that died (their pid is gone)."""
    from bioimage_hub.graph import embedded

    if not root.is_dir():
        return
    for home in root.iterdir():
        if not home.name.isdigit():
            continue
        try:
            os.kill(int(home.name), 0)
            continue  # that session is still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        embedded.stop(Settings(neo4j_uri=None, embedded_home=home))
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def driver(settings: Settings) -> Iterator[neo4j.Driver]:
    from bioimage_hub.graph.driver import sync_driver

    with sync_driver(settings) as drv:
        yield drv


def wipe(driver: neo4j.Driver, database: str) -> None:
    with driver.session(database=database) as session:  # IN TRANSACTIONS needs an implicit tx
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


@pytest.fixture(scope="session")
def loaded(settings: Settings, driver: neo4j.Driver) -> Settings:
    """The hub graph: schema, CMPO + FBbi, and all real IDR studies (imported once per session)."""
    from bioimage_hub.graph.migrations import migrate
    from bioimage_hub.graph.writer import write_ontology, write_study
    from bioimage_hub.importers.idr.reader import find_study_folders, read_study
    from bioimage_hub.ontology.reader import read_ontology

    if not IDR_DIR.is_dir() or not CMPO.is_file():
        pytest.skip("../shared/data is not present")
    db = settings.neo4j_database
    wipe(driver, db)
    migrate(driver, db)
    for path in (CMPO, FBBI):
        write_ontology(driver, db, read_ontology(path))
    for folder in find_study_folders(IDR_DIR):
        write_study(driver, db, read_study(folder))
    return settings


@pytest.fixture(scope="session")
async def client(loaded: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from bioimage_hub.api.app import create_app

    app = create_app(loaded)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
            yield c


class GraphQLResult:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.body = response.json()
        self.data = self.body.get("data")
        self.errors = self.body.get("errors") or []
        self.statements = int(response.headers.get("x-cypher-statements", "-1"))
        self.cypher = [s["query"] for s in (self.body.get("extensions") or {}).get("cypher", [])]


@pytest.fixture
def gql(client: httpx.AsyncClient):  # noqa: ANN201
    async def run(query: str, variables: dict | None = None, ok: bool = True) -> GraphQLResult:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
        result = GraphQLResult(response)
        if ok:
            assert not result.errors, result.errors
        return result

    return run


def counts(driver: neo4j.Driver, database: str) -> tuple[int, int]:
    records, _, _ = driver.execute_query(
        "CALL () { MATCH (n) RETURN count(n) AS nodes } CALL () { MATCH ()-[r]->() RETURN count(r) AS rels } "
        "RETURN nodes, rels",
        database_=database,
    )
    return records[0]["nodes"], records[0]["rels"]


def shared_path(*parts: str) -> Path:
    return SHARED.joinpath(*parts)
