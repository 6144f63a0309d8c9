"""The ASGI application: /graphql (with GraphiQL), /health; one Neo4j driver per process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from bioimage_hub.api.auth import AuthGate, viewer_of
from bioimage_hub.api.context import Context
from bioimage_hub.api.mutations import close_write_drivers
from bioimage_hub.api.pixels_routes import PixelsService
from bioimage_hub.api.schema import schema
from bioimage_hub.config import Settings, get_settings
from bioimage_hub.graph.driver import GraphReader, async_driver


class HubGraphQL(GraphQL):
    def __init__(self, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.reader: GraphReader | None = None

    async def get_context(self, request: Any, response: Any) -> Context:
        assert self.reader is not None, "the app's lifespan did not run"
        principal = request.scope.get("state", {}).get("principal")
        return Context(
            reader=self.reader,
            settings=self.settings,
            request=request,
            response=response,
            principal=principal,
            viewer=viewer_of(principal),
        )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    graphql = HubGraphQL(settings)
    pixels = PixelsService(settings)  # /pixels/{imageId}/region, /thumbnail.png, /zarr/{key}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        graphql.reader = GraphReader(async_driver(settings), settings.neo4j_database, settings.query_timeout_s)
        pixels.graph = graphql.reader
        try:
            yield
        finally:
            await graphql.reader.close()
            close_write_drivers()

    async def health(_request: Request) -> JSONResponse:
        try:
            rows = await graphql.reader.run("MATCH (m:SchemaMigration) RETURN max(m.number) AS v")  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - health reports any failure as unavailable
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "schemaVersion": rows[0]["v"] if rows else None})

    async def root(_request: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    app = Starlette(
        routes=[
            Route("/", root),
            Route("/health", health),
            Route("/graphql", AuthGate(graphql, lambda: graphql.reader), methods=["GET", "POST"]),
            *pixels.routes(),
        ],
        lifespan=lifespan,
    )
    app.state.pixels = pixels  # GraphQL's Pixels type reads shard indexes through its reader
    return app
