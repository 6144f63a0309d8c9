"""Neo4j driver lifecycle: one driver per process, and a read client that counts statements.

The API never calls the driver directly: it goes through `GraphReader.run`, which executes one
Cypher statement in a read transaction and records it in the current request's `StatementLog`.
That is how tests (and the `X-Cypher-Statements` response header) know what a request cost.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

import neo4j
from neo4j import AsyncGraphDatabase, GraphDatabase

from bioimage_hub.config import Settings


class GraphUnavailable(RuntimeError):
    """Neo4j cannot be reached (not started, wrong URI, network down)."""


class GraphBusy(GraphUnavailable):
    """Neo4j refused the read for lack of transaction memory (too much running at once); it
    passes, so the API answers 503 + Retry-After like an outage, with this message."""


class QueryTimeout(RuntimeError):
    """A read ran past the configured transaction timeout and was stopped by Neo4j."""


def _auth(settings: Settings) -> tuple[str, str] | None:
    return (settings.neo4j_user, settings.neo4j_password) if settings.neo4j_uri else None


def sync_driver(settings: Settings) -> neo4j.Driver:
    """A blocking driver, for the CLI (imports, migrations, ontology loads) and write mutations.

    A write whose server dies is retried for `neo4j_retry_time_s` (the driver's default, 30 s,
    would keep a CLI command hanging that long) and then fails with nothing of it committed."""
    return GraphDatabase.driver(
        settings.uri,
        auth=_auth(settings),
        notifications_min_severity="OFF",
        connection_timeout=settings.neo4j_connection_timeout_s,
        max_transaction_retry_time=settings.neo4j_retry_time_s,
    )


def async_driver(settings: Settings) -> neo4j.AsyncDriver:
    """The API's driver; create one per process and close it on shutdown."""
    # With the server down, a read fails after neo4j_retry_time_s (the driver's default, 30 s, would
    # hold every request that long) and the API answers 503; the pool reconnects by itself when
    # the server is back.
    return AsyncGraphDatabase.driver(
        settings.uri,
        auth=_auth(settings),
        max_connection_pool_size=50,
        notifications_min_severity="OFF",
        connection_timeout=settings.neo4j_connection_timeout_s,
        connection_acquisition_timeout=settings.neo4j_connection_timeout_s + settings.neo4j_retry_time_s + 5,
        max_transaction_retry_time=settings.neo4j_retry_time_s,
    )


@dataclass
class StatementLog:
    """Cypher statements run while serving one request."""

    statements: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    elapsed_ms: float = 0.0
    durations_ms: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


current_log: contextvars.ContextVar[StatementLog | None] = contextvars.ContextVar(
    "current_statement_log", default=None
)
# Every statement of the whole HTTP request (set by the ops middleware: logs and metrics), whichever
# StatementLog the route keeps for its own headers.
request_log: contextvars.ContextVar[StatementLog | None] = contextvars.ContextVar("request_statement_log", default=None)
UNAVAILABLE_MESSAGE = "the graph database is unavailable; try again later"
BUSY_MESSAGE = "the graph database is out of transaction memory serving other requests; try again shortly"


class GraphReader:
    """Runs read statements against the hub database; every call is one Cypher statement."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str, timeout_s: float | None = None) -> None:
        self._driver = driver
        self._database = database
        self._timeout_s = timeout_s

    async def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params = params or {}
        log = current_log.get()
        whole = request_log.get()
        started = time.perf_counter()
        try:
            records, _, _ = await self._driver.execute_query(
                neo4j.Query(query, timeout=self._timeout_s),  # type: ignore[arg-type]
                params,
                database_=self._database,
                routing_=neo4j.RoutingControl.READ,
            )
        except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired) as exc:
            raise GraphUnavailable(UNAVAILABLE_MESSAGE) from exc
        except neo4j.exceptions.Neo4jError as exc:
            code = exc.code or ""
            if "MemoryPoolOutOfMemoryError" in code:
                raise GraphBusy(BUSY_MESSAGE) from exc
            if "TransactionTimedOut" in code or "Terminated" in code:
                raise QueryTimeout(f"the query ran longer than {self._timeout_s} s") from exc
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            for target in {id(t): t for t in (log, whole) if t is not None}.values():
                target.statements.append((query, params))
                target.elapsed_ms += elapsed_ms
                target.durations_ms.append(elapsed_ms)
        # shallow: read statements return maps, lists and scalars (compiled projections), so
        # record.data()'s recursive graph-object conversion is pure cost on large answers
        return [dict(record.items()) for record in records]

    @property
    def driver(self) -> neo4j.AsyncDriver:
        return self._driver

    @property
    def database(self) -> str:
        return self._database

    async def close(self) -> None:
        await self._driver.close()
