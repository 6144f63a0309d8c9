"""The throughput baseline: a bare Starlette endpoint running the SAME Cypher the hub generated.

`POST /cypher {"case": name}` runs the statement recorded for that case (the hub's own statement,
with its parameters, taken from `extensions.cypher`) through the async driver (read routing, same
pool size as the hub) and returns its `result` column as JSON. No GraphQL parsing, validation,
compilation or result shaping: what is left is HTTP + driver + JSON.

    BENCH_STATEMENTS=statements.json uvicorn --factory bench.bare_app:create_app
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import neo4j
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bioimage_hub.config import get_settings
from bioimage_hub.graph.driver import async_driver


def create_app() -> Starlette:
    settings = get_settings()
    with open(os.environ["BENCH_STATEMENTS"], encoding="utf-8") as fh:
        statements: dict[str, dict[str, Any]] = json.load(fh)
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["driver"] = async_driver(settings)
        try:
            yield
        finally:
            await state["driver"].close()

    async def cypher(request: Request) -> Response:
        body = await request.json()
        stmt = statements[body["case"]]
        records, _, _ = await state["driver"].execute_query(
            stmt["query"], stmt["params"], database_=settings.neo4j_database, routing_=neo4j.RoutingControl.READ
        )
        data = [r.data() for r in records]
        return Response(json.dumps({"data": data}, default=str), media_type="application/json")

    return Starlette(routes=[Route("/cypher", cypher, methods=["POST"])], lifespan=lifespan)
