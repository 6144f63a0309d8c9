"""The HTTP surface: GraphiQL in a browser, health, cost headers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_graphiql_is_served_to_browsers(client) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_root_redirects_to_graphql(client) -> None:
    response = await client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"].endswith("/graphql")


async def test_health_reports_schema_version(client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["schemaVersion"] >= 4


async def test_cost_is_reported_in_headers_and_extensions(client) -> None:
    response = await client.post("/graphql", json={"query": '{ a: study(accession: "idr0004") { title } b: studies(first: 3) { nodes { accession } } }'})
    body = response.json()
    assert response.headers["x-cypher-statements"] == "2"
    assert body["extensions"]["cost"]["statements"] == 2
    assert [n["accession"] for n in body["data"]["b"]["nodes"]] == ["idr0004", "idr0011", "idr0023"]
