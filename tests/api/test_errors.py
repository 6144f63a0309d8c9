"""Bad requests get a clear message naming the argument; nothing internal leaks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def _error(gql, query: str) -> str:
    result = await gql(query, ok=False)
    assert result.errors, result.body
    message = result.errors[0]["message"]
    assert "Traceback" not in message and "neo4j" not in message.lower()
    return message


async def test_page_size_over_the_maximum(gql) -> None:
    message = await _error(gql, "{ images(first: 100000) { nodes { id } } }")
    assert "first" in message and "100" in message


async def test_negative_page_size(gql) -> None:
    assert "first" in await _error(gql, "{ studies(first: -1) { nodes { id } } }")


async def test_forged_cursor(gql) -> None:
    message = await _error(gql, '{ images(after: "not-a-cursor") { nodes { id } } }')
    assert "after" in message and "cursor" in message


async def test_malformed_term_identifier(gql) -> None:
    message = await _error(gql, '{ images(filter: {phenotype: "increased cell size!"}) { nodes { id } } }')
    assert "filter.phenotype" in message


async def test_publication_needs_exactly_one_identifier(gql) -> None:
    assert "exactly one" in await _error(gql, "{ publication { title } }")


async def test_query_depth_is_limited(gql) -> None:
    inner = "title"
    for _ in range(8):
        inner = f"datasets {{ study {{ {inner} }} }}"
    deep = f'{{ study(accession: "idr0004") {{ {inner} }} }}'
    message = await _error(gql, deep)
    assert "depth" in message.lower()


async def test_unknown_things_are_null_not_errors(gql) -> None:
    result = await gql('{ study(accession: "idr9998") { title } term(id: "CMPO:9999999") { id } gene(id: "nope") { id } }')
    assert result.data == {"study": None, "term": None, "gene": None}


async def test_query_cost_is_reported_and_limited(client) -> None:
    cheap = await client.post("/graphql", json={"query": '{ images(first: 10) { nodes { id genes { symbol } } } }'})
    # 1 + 10 x (1 image + 5 (nominal list size) x 1 gene) = 61
    assert cheap.headers["x-query-cost"] == "61"
    assert cheap.json()["extensions"]["cost"]["queryCost"] == 61
    nested = """{ studies(first: 100) { nodes { datasets { images(first: 100) { nodes { genes { images(first: 100) {
                   nodes { id } } } } } } } } }"""
    response = await client.post("/graphql", json={"query": nested})
    body = response.json()
    assert body["data"] is None or body["data"]["studies"] is None
    message = body["errors"][0]["message"]
    assert "query cost" in message and "exceeds the limit" in message and "first" in message
