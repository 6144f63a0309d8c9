"""Malformed HTTP on /graphql gets a 4xx with a GraphQL-style error body, never a 500."""

from __future__ import annotations

import httpx
import pytest

from bioimage_hub.api.app import create_app

pytestmark = pytest.mark.asyncio

QUERY = b'{"query": "{ organisms { id } }"}'


def _graphql_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    assert body["errors"][0]["extensions"]["code"] == code
    assert "Traceback" not in response.text
    return body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code", "says"),
    [
        ("text/plain", QUERY, 415, "UNSUPPORTED_MEDIA_TYPE", "text/plain"),
        (None, QUERY, 415, "UNSUPPORTED_MEDIA_TYPE", "none"),
        ("application/x-www-form-urlencoded", b"query=%7B__typename%7D", 415, "UNSUPPORTED_MEDIA_TYPE", "urlencoded"),
        ("multipart/form-data; boundary=x", b"--x\r\n", 415, "UNSUPPORTED_MEDIA_TYPE", "multipart"),
        ("application/json", b"{bad json", 400, "BAD_REQUEST", "not valid JSON"),
        ("application/json", b"", 400, "BAD_REQUEST", "not valid JSON"),
        ("application/json", b"\xff\xfe\x00", 400, "BAD_REQUEST", "not valid JSON"),
        ("application/json", b'"just a string"', 400, "BAD_REQUEST", "JSON object"),
        ("application/json", b"42", 400, "BAD_REQUEST", "JSON object"),
        ("application/json", b"null", 400, "BAD_REQUEST", "JSON object"),
        ("application/json", b'[{"query": "{ organisms { id } }"}, {"query": "{ __typename }"}]', 400, "BAD_REQUEST", "batching"),
        ("application/json", b"[]", 400, "BAD_REQUEST", "batching"),
        ("application/graphql-response+json", QUERY, 415, "UNSUPPORTED_MEDIA_TYPE", "graphql-response"),
        ("application/json", b'{"query": 5}', 400, "BAD_REQUEST", "`query` must be a string"),
        ("application/json", b'{"query": "{ __typename }", "variables": "x"}', 400, "BAD_REQUEST", "`variables`"),
        ("application/json", b'{"query": "{ __typename }", "operationName": []}', 400, "BAD_REQUEST", "`operationName`"),
        ("application/json", b'{"variables": {}}', 400, "BAD_REQUEST", "no `query`"),
        ("application/json; charset=utf-8", b'{"query": "{ __typename }", "extensions": 3}', 400, "BAD_REQUEST", "`extensions`"),
    ],
)
async def test_malformed_requests_get_4xx_with_a_graphql_error(client, content_type, body, status, code, says) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/graphql", content=body, headers=headers)
    assert says in _graphql_error(response, status, code)


async def test_well_formed_requests_still_pass(client) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
        response = await client.post("/graphql", content=b'{"query": "{ __typename }", "variables": null}',
                                     headers={"content-type": content_type})
        assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}
    get = await client.get("/graphql", params={"query": "{ __typename }"}, headers={"accept": "application/json"})
    assert get.status_code == 200 and get.json()["data"] == {"__typename": "Query"}


async def test_other_methods_and_unknown_paths_are_4xx(client) -> None:
    assert (await client.put("/graphql", content=QUERY)).status_code == 405
    assert (await client.delete("/graphql")).status_code == 405
    assert (await client.get("/no/such/route")).status_code == 404


@pytest.fixture(scope="module")
async def small_limit_client(loaded):
    app = create_app(loaded.model_copy(update={"max_request_bytes": 4096}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
            yield c


async def test_huge_bodies_get_413(small_limit_client) -> None:
    ok = await small_limit_client.post("/graphql", json={"query": "{ __typename }"})
    assert ok.status_code == 200
    huge = b'{"query": "{ __typename }", "variables": {"x": "' + b"a" * 10_000 + b'"}}'
    message = _graphql_error(
        await small_limit_client.post("/graphql", content=huge, headers={"content-type": "application/json"}),
        413, "PAYLOAD_TOO_LARGE",
    )
    assert "4096" in message and "MAX_REQUEST_BYTES" in message

    async def chunks():  # no Content-Length: refused while reading
        for _ in range(10):
            yield b"x" * 1000

    streamed = await small_limit_client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    _graphql_error(streamed, 413, "PAYLOAD_TOO_LARGE")
    lying = await small_limit_client.post(
        "/graphql", content=b"{}", headers={"content-type": "application/json", "content-length": "999999999"}
    )
    assert lying.status_code in (400, 413)
