"""Operations: liveness, readiness, Prometheus metrics, one structured log line per request, and a
guard in front of /graphql that turns malformed HTTP into 4xx GraphQL-style errors.

    GET /healthz   200 while the process serves requests (never touches Neo4j)
    GET /readyz    200 {"status": "ready", "schemaVersion": n} when Neo4j answers and the graph
                   schema is current; 503 {"status": "unavailable", "reason": ...} otherwise.
                   /health is an alias (older probes).
    GET /metrics   Prometheus text format (per-app registry): requests and latency per route and
                   per GraphQL operation / root field, Cypher statements and time, errors by kind.

`ObservabilityMiddleware` wraps the whole app: it gives every request an id (`X-Request-Id`, taken
from the client when well-formed, else generated, always echoed), counts the Cypher statements it
runs (`graph.driver.request_log`) and logs one line (`bioimage_hub.requests`) with method, path,
status, ms, GraphQL operation and statements. `LOG_FORMAT=json|text` picks the line format.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import neo4j
from graphql import GraphQLError, OperationDefinitionNode
from graphql.language import FieldNode
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import ProcessCollector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from bioimage_hub.config import Settings
from bioimage_hub.graph.driver import (
    BUSY_MESSAGE,
    UNAVAILABLE_MESSAGE,
    GraphBusy,
    GraphUnavailable,
    QueryTimeout,
    StatementLog,
    request_log,
)

REQUEST_LOGGER = "bioimage_hub.requests"
request_logger = logging.getLogger(REQUEST_LOGGER)
log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_LABEL = re.compile(r"[^A-Za-z0-9_]")
MAX_OPERATION_LABELS = 500  # distinct operation names kept as metric labels; the rest are "other"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


# --------------------------------------------------------------------------- per-request record


@dataclass
class RequestInfo:
    """What one HTTP request did; filled by the middleware, the GraphQL extension and the guard."""

    request_id: str
    method: str
    path: str
    route: str = "unmatched"
    status: int = 0
    operation: str | None = None
    root_fields: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # kinds, e.g. graphql_validation, db_unavailable
    cypher: StatementLog = field(default_factory=StatementLog)


current_request: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("hub_request", default=None)


def note_error(kind: str) -> None:
    info = current_request.get()
    if info is not None:
        info.errors.append(kind)


# --------------------------------------------------------------------------- metrics


class Metrics:
    """Prometheus collectors in a registry of their own (one per app, so tests can build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "hub_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"], registry=r
        )
        self.http_latency = Histogram(
            "hub_http_request_duration_seconds", "HTTP request latency by route", ["route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge("hub_http_requests_in_flight", "requests being served", registry=r)
        self.graphql_requests = Counter(
            "hub_graphql_requests_total",
            "GraphQL requests by operation name and root field (one per root field of the operation)",
            ["operation", "root_field", "outcome"],
            registry=r,
        )
        self.graphql_latency = Histogram(
            "hub_graphql_request_duration_seconds",
            "GraphQL request latency by operation name and root field",
            ["operation", "root_field"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cypher_statements = Counter(
            "hub_cypher_statements_total", "Cypher statements run, by route", ["route"], registry=r
        )
        self.cypher_latency = Histogram(
            "hub_cypher_statement_duration_seconds", "time of one Cypher statement (driver round trip)", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.errors = Counter("hub_errors_total", "errors by kind", ["kind"], registry=r)
        self.neo4j_up = Gauge("hub_neo4j_up", "1 when the last readiness check reached Neo4j", registry=r)
        ProcessCollector(registry=r)
        self._operations: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        label = _LABEL.sub("_", name)[:64]
        if label not in self._operations:
            if len(self._operations) >= MAX_OPERATION_LABELS:
                return "other"
            self._operations.add(label)
        return label

    def observe(self, info: RequestInfo, seconds: float) -> None:
        self.http_requests.labels(info.route, info.method, str(info.status)).inc()
        self.http_latency.labels(info.route).observe(seconds)
        if info.cypher.count:
            self.cypher_statements.labels(info.route).inc(info.cypher.count)
            for ms in info.cypher.durations_ms:
                self.cypher_latency.labels(info.route).observe(ms / 1000)
        if info.operation is not None or info.root_fields:
            operation = self.operation_label(info.operation)
            outcome = "error" if info.errors or info.status >= 400 else "ok"
            for root in info.root_fields or ["none"]:
                self.graphql_requests.labels(operation, root, outcome).inc()
                self.graphql_latency.labels(operation, root).observe(seconds)
        for kind in info.errors:
            self.errors.labels(kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


# --------------------------------------------------------------------------- logging


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, and the record's `fields` (if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:  # server-side only; responses never carry tracebacks
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Send the hub's logs (and uvicorn's) to `stream` (stderr) in `settings.log_format`.

    Idempotent: a handler installed by an earlier call is replaced, not duplicated."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(settings.log_format))
    handler.set_name("bioimage-hub")
    for name in ("bioimage_hub", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "bioimage-hub"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(settings.log_level)
        logger.propagate = False
    return handler


def log_request(info: RequestInfo, ms: float) -> None:
    fields = {
        "request_id": info.request_id,
        "method": info.method,
        "path": info.path,
        "status": info.status,
        "ms": round(ms, 1),
        "operation": info.operation,
        "root_fields": info.root_fields,
        "cypher_statements": info.cypher.count,
        "cypher_ms": round(info.cypher.elapsed_ms, 1),
    }
    if info.errors:
        fields["errors"] = info.errors
    op = f" op={info.operation or '-'}" if info.root_fields else ""
    request_logger.info(
        "%s %s %d %.1fms%s cypher=%d id=%s", info.method, info.path, info.status, ms, op, info.cypher.count,
        info.request_id, extra={"fields": fields},
    )


# --------------------------------------------------------------------------- middleware


def _json_error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status, headers=headers)


class ObservabilityMiddleware:
    """Request id, per-request Cypher accounting, one log line and the metrics of every HTTP request.

    An exception escaping a route becomes a 500 JSON error (the traceback goes to the log only)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None, routes: list[Route]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        info = RequestInfo(
            request_id=given if _REQUEST_ID.match(given) else uuid.uuid4().hex,
            method=scope.get("method", "GET"),
            path=scope.get("path", ""),
            route=self._route(scope),
        )
        started = time.perf_counter()
        token = current_request.set(info)
        log_token = request_log.set(info.cypher)
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                info.status = int(message["status"])
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                raw.append((b"x-request-id", info.request_id.encode("latin-1")))
                message = {**message, "headers": raw}
            await send(message)

        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error serving %s %s (request %s)", info.method, info.path, info.request_id)
            info.errors.append("internal")
            if not response_started:
                response = _json_error(500, "Unexpected error.", "INTERNAL_SERVER_ERROR")
                await response(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            if info.status >= 400 and not info.errors:
                info.errors.append(f"http_{info.status}")
            current_request.reset(token)
            request_log.reset(log_token)
            if self.metrics is not None:
                self.metrics.in_flight.dec()
                if info.route != "/metrics":
                    self.metrics.observe(info, seconds)
            if info.route not in ("/healthz", "/metrics"):
                log_request(info, seconds * 1000)


def _request_problem(item: Any) -> str | None:
    """What is wrong with one GraphQL-over-HTTP request object, or None."""
    if not isinstance(item, dict):
        return "request body must be a JSON object {\"query\": ...}"
    expected = {"query": str, "operationName": str, "variables": dict, "extensions": dict}
    for key, kind in expected.items():
        value = item.get(key)
        if value is not None and not isinstance(value, kind):
            return f"`{key}` must be {'a string' if kind is str else 'an object'} or null"
    if not (item.get("query") or "").strip() and not (item.get("extensions") or {}).get("persistedQuery"):
        return "no `query` in the request body"
    return None


class GraphQLGuard:
    """In front of /graphql: malformed HTTP gets a 4xx with a GraphQL-style error body.

    * a POST body over `max_request_bytes` → 413 (by Content-Length before reading, else while reading)
    * a POST whose content type is not JSON → 415
    * a body that is not JSON (or not UTF-8) → 400; a JSON array (a batch of operations) → 400;
      anything but an object with a string `query` (and object `variables`/`extensions`) → 400
    * Neo4j unreachable while authenticating → 503
    The body read here is handed on unchanged."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, message: str, code: str, kind: str) -> None:
        note_error(kind)
        await _json_error(status, message, code)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self._call(scope, receive, send)
            return
        limit = self.settings.max_request_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        too_large = f"request body larger than {limit} bytes (MAX_REQUEST_BYTES)"
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await self._refuse(scope, receive, send, 400, "invalid Content-Length header", "BAD_REQUEST", "bad_request")
                return
            if int(length) > limit:
                await self._refuse(scope, receive, send, 413, too_large, "PAYLOAD_TOO_LARGE", "body_too_large")
                return
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            shown = content_type or "none"
            await self._refuse(
                scope, receive, send, 415,
                f"unsupported content type {shown!r}: POST a JSON object {{\"query\": ...}} as application/json",
                "UNSUPPORTED_MEDIA_TYPE", "unsupported_media_type",
            )
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, 413, too_large, "PAYLOAD_TOO_LARGE", "body_too_large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deeply
            await self._refuse(scope, receive, send, 400, "request body is not valid JSON (UTF-8)", "BAD_REQUEST", "bad_json")
            return
        if isinstance(parsed, list):  # strawberry's batching is off: one operation per request
            await self._refuse(
                scope, receive, send, 400, "batching is not enabled: send one operation per request", "BAD_REQUEST", "batch_refused"
            )
            return
        problem = _request_problem(parsed)
        if problem is not None:
            await self._refuse(scope, receive, send, 400, problem, "BAD_REQUEST", "bad_request")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        # media types are case-insensitive; strawberry compares them as written
        normalized = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-type"]
        normalized.append((b"content-type", b"application/json"))
        await self._call({**scope, "headers": normalized}, replay, send)

    async def _call(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except (GraphUnavailable, neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired):
            if started:
                raise
            note_error("db_unavailable")
            await _json_error(503, UNAVAILABLE_MESSAGE, "SERVICE_UNAVAILABLE", {"Retry-After": "5"})(scope, receive, send)


# --------------------------------------------------------------------------- GraphQL extension


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen = 0
    while error is not None and seen < 20:
        yield error
        error = error.__cause__ or error.__context__
        seen += 1


def _unavailable(error: GraphQLError) -> bool:
    return any(
        isinstance(e, (GraphUnavailable, neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired))
        for e in _chain(error.original_error)
    )


def error_kind(error: GraphQLError) -> str:
    original = error.original_error
    if original is None:
        return "graphql_request"  # syntax, validation, variables
    if _unavailable(error):
        return "db_unavailable"
    if any(isinstance(e, QueryTimeout) for e in _chain(original)):
        return "db_timeout"
    code = (error.extensions or {}).get("code") or (getattr(original, "extensions", None) or {}).get("code")
    if isinstance(code, str) and code:
        return code.lower()
    if isinstance(original, GraphQLError):
        return "graphql_client"
    return "internal"


class GraphQLObserver(SchemaExtension):
    """Records the operation name, root fields and error kinds of the request; when Neo4j is
    unreachable, answers HTTP 503 with a clear `SERVICE_UNAVAILABLE` error instead of a 200."""

    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        yield
        ec = self.execution_context
        info = current_request.get()
        operation_name = ec.operation_name
        roots: list[str] = []
        document = ec.graphql_document
        if document is not None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            chosen = next((o for o in operations if o.name and o.name.value == operation_name), None)
            if chosen is None and len(operations) == 1:
                chosen = operations[0]
            if chosen is not None:
                operation_name = operation_name or (chosen.name.value if chosen.name else None)
                root_type = ec.schema._schema.get_root_type(chosen.operation)  # noqa: SLF001
                known = root_type.fields if root_type is not None else {}
                for selection in chosen.selection_set.selections:
                    if isinstance(selection, FieldNode):
                        name = selection.name.value
                        roots.append(name if name in known or name.startswith("__") else "unknown")
        result = ec.result
        errors = list(getattr(result, "errors", None) or [])
        unavailable = False
        fixed: list[GraphQLError] = []
        for error in errors:
            if _unavailable(error):
                unavailable = True
                busy = any(isinstance(e, GraphBusy) for e in _chain(error.original_error))
                error = GraphQLError(
                    BUSY_MESSAGE if busy else UNAVAILABLE_MESSAGE,
                    nodes=error.nodes, path=error.path, extensions={"code": "SERVICE_UNAVAILABLE"},
                )
            fixed.append(error)
        if unavailable and result is not None:
            result.errors = fixed
            response = getattr(ec.context, "response", None)
            if response is not None:
                response.status_code = 503
                response.headers["Retry-After"] = "5"
        if info is not None:
            info.operation = operation_name
            info.root_fields = sorted(set(roots))
            info.errors.extend(sorted({error_kind(e) for e in errors}))


# --------------------------------------------------------------------------- routes


class OpsRoutes:
    """/healthz, /readyz (and /health), /metrics for one app."""

    def __init__(self, settings: Settings, reader_of: Any, metrics: Metrics | None) -> None:
        self.settings = settings
        self.reader_of = reader_of
        self.metrics = metrics

    async def healthz(self, _request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"}, headers={"Cache-Control": "no-store"})

    async def readyz(self, _request: Request) -> JSONResponse:
        from bioimage_hub.graph.migrations import discover

        reader = self.reader_of()
        headers = {"Cache-Control": "no-store"}
        expected = max((m.number for m in discover()), default=0)
        try:
            # an auto-commit query in a session: not retried, so a dead server fails fast
            async with reader.driver.session(database=reader.database) as session:
                result = await session.run(
                    neo4j.Query("MATCH (m:SchemaMigration) RETURN max(m.number) AS v", timeout=5.0)
                )
                record = await result.single()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            if self.metrics is not None:
                self.metrics.neo4j_up.set(0)
            reason = (
                "neo4j unreachable" if isinstance(exc, (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired, OSError))
                else f"neo4j error: {type(exc).__name__}"
            )
            return JSONResponse({"status": "unavailable", "reason": reason, "uri": _safe_uri(self.settings.uri)},
                                status_code=503, headers=headers)
        if self.metrics is not None:
            self.metrics.neo4j_up.set(1)
        version = record["v"] if record else None
        if version is None or version < expected:
            return JSONResponse(
                {"status": "unavailable", "reason": f"graph schema version {version}, expected {expected}: run `bioimage-hub migrate`",
                 "schemaVersion": version, "expectedSchemaVersion": expected},
                status_code=503, headers=headers,
            )
        return JSONResponse({"status": "ready", "schemaVersion": version, "expectedSchemaVersion": expected}, headers=headers)

    async def health(self, request: Request) -> JSONResponse:
        """The older probe: as /readyz, with `"status": "ok"` when ready."""
        response = await self.readyz(request)
        if response.status_code == 200:
            body = json.loads(bytes(response.body))
            response = JSONResponse({**body, "status": "ok"}, headers={"Cache-Control": "no-store"})
        return response

    async def metrics_route(self, _request: Request) -> Response:
        if self.metrics is None:
            return JSONResponse({"error": "metrics are disabled (METRICS_ENABLED=false)"}, status_code=404)
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET", "HEAD"]),
            Route("/readyz", self.readyz, methods=["GET", "HEAD"]),
            Route("/health", self.health, methods=["GET", "HEAD"]),
            Route("/metrics", self.metrics_route, methods=["GET"]),
        ]


def _safe_uri(uri: str) -> str:
    return re.sub(r"//[^@/]*@", "//", uri)  # never echo credentials embedded in a URI
