"""Operations endpoints: /healthz, /readyz (and /health), /metrics, request ids, one structured log
line per request, configuration validated at start. Against the real app and the session's Neo4j."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bioimage_hub.api.ops import REQUEST_LOGGER, JsonFormatter, configure_logging
from bioimage_hub.config import PROJECT_ROOT, ConfigError, Settings, load_settings



async def test_healthz_is_alive_without_touching_neo4j(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert "x-cypher-statements" not in response.headers


async def test_readyz_reports_the_schema_version(client) -> None:
    from bioimage_hub.graph.migrations import discover

    expected = max(m.number for m in discover())
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "schemaVersion": expected, "expectedSchemaVersion": expected}
    alias = await client.get("/health")  # the older probe stays
    assert alias.status_code == 200 and alias.json()["status"] == "ok" and alias.json()["schemaVersion"] == expected


async def test_request_id_is_echoed_or_generated(client) -> None:
    given = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = await client.get("/healthz", headers={"X-Request-Id": "a\"b c" + "x" * 300})
    assert hostile.headers["x-request-id"] != "a\"b c" + "x" * 300  # not well-formed: replaced


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_count_operations_routes_cypher_and_errors(client) -> None:
    before = (await client.get("/metrics")).text
    query = 'query StudyTitles { a: study(accession: "idr0004") { title } studies(first: 2) { nodes { accession } } }'
    ok = await client.post("/graphql", json={"query": query, "operationName": "StudyTitles"})
    assert ok.status_code == 200 and ok.headers["x-cypher-statements"] == "2"
    bad = await client.post("/graphql", json={"query": "{ nope }"})
    assert bad.status_code == 200 and bad.json()["errors"]
    await client.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    after = await client.get("/metrics")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text

    def delta(name: str, **labels: str) -> float:
        return _metric(text, name, **labels) - _metric(before, name, **labels)

    assert delta("hub_graphql_requests_total", operation="StudyTitles", root_field="study", outcome="ok") == 1
    assert delta("hub_graphql_requests_total", operation="StudyTitles", root_field="studies", outcome="ok") == 1
    assert delta("hub_graphql_request_duration_seconds_count", operation="StudyTitles", root_field="study") == 1
    assert delta("hub_http_requests_total", route="/graphql", method="POST", status="200") == 2
    assert delta("hub_http_requests_total", route="/graphql", method="POST", status="400") == 1
    assert delta("hub_http_request_duration_seconds_count", route="/graphql") == 3
    assert delta("hub_cypher_statements_total", route="/graphql") == 2
    assert delta("hub_cypher_statement_duration_seconds_count", route="/graphql") == 2
    assert delta("hub_errors_total", kind="graphql_request") == 1
    assert delta("hub_errors_total", kind="bad_json") == 1
    assert "process_cpu_seconds_total" in text


async def test_one_json_log_line_per_request(client) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(REQUEST_LOGGER)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        await client.post(
            "/graphql",
            json={"query": 'query One { study(accession: "idr0011") { title } }'},
            headers={"X-Request-Id": "log-test-1"},
        )
        await client.get("/pixels/no-such-image/thumbnail.png", headers={"X-Request-Id": "log-test-2"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["log-test-1", "log-test-2"]
    first, second = lines
    assert first["method"] == "POST" and first["path"] == "/graphql" and first["status"] == 200
    assert first["operation"] == "One" and first["root_fields"] == ["study"] and first["cypher_statements"] == 1
    assert isinstance(first["ms"], float) and first["level"] == "INFO" and first["logger"] == REQUEST_LOGGER
    assert second["status"] == 404 and second["path"] == "/pixels/no-such-image/thumbnail.png"
    assert second["cypher_statements"] == 1 and second["errors"] == ["http_404"]


def test_text_and_json_log_formats(monkeypatch) -> None:
    for fmt, check in (("json", lambda s: json.loads(s)["message"] == "hello 1"), ("text", lambda s: s.rstrip().endswith("hello 1"))):
        stream = io.StringIO()
        handler = configure_logging(Settings(log_format=fmt), stream=stream)
        try:
            logging.getLogger("bioimage_hub.test").info("hello %d", 1)
        finally:
            for name in ("bioimage_hub", "uvicorn", "uvicorn.error"):
                logging.getLogger(name).removeHandler(handler)
                logging.getLogger(name).propagate = True
        assert check(stream.getvalue()), stream.getvalue()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAX_PAGE_SIZE": "lots"}, "MAX_PAGE_SIZE='lots'"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml'"),
        ({"EMBEDDED_BOLT_PORT": "70000"}, "EMBEDDED_BOLT_PORT"),
        ({"MAX_REQUEST_BYTES": "10"}, "MAX_REQUEST_BYTES"),
        ({"QUERY_TIMEOUT_S": "-1"}, "QUERY_TIMEOUT_S"),
        ({"DEFAULT_PAGE_SIZE": "500"}, "DEFAULT_PAGE_SIZE (500) must not exceed MAX_PAGE_SIZE (100)"),
        ({"NEO4J_URI": "localhost"}, "NEO4J_URI='localhost' must be a URI"),
    ],
)
def test_bad_configuration_names_the_variable(monkeypatch, env, named) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert named in str(excinfo.value) and str(excinfo.value).startswith("invalid configuration: ")


def test_cli_refuses_to_start_with_bad_configuration(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MAX_QUERY_DEPTH": "deep", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "bioimage-hub"), "serve", "--port", "1"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "MAX_QUERY_DEPTH='deep'" in proc.stderr and "Traceback" not in proc.stderr
    assert PROJECT_ROOT.is_dir()
