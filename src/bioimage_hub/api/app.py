"""The ASGI application: /graphql (with GraphiQL), the pixel routes, and the operations routes
(/healthz, /readyz, /health, /metrics; `api/ops.py`); one Neo4j driver per process."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from bioimage_hub.api.auth import AuthGate, viewer_of
from bioimage_hub.api.context import Context
from bioimage_hub.api.mutations import close_write_drivers
from bioimage_hub.api.ops import GraphQLGuard, Metrics, ObservabilityMiddleware, OpsRoutes
from bioimage_hub.api.pixels_routes import PixelsService
from bioimage_hub.api.schema import schema
from bioimage_hub.config import Settings, get_settings
from bioimage_hub.graph.driver import GraphReader, async_driver

log = logging.getLogger(__name__)


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
            log.info("shutdown complete: Neo4j drivers closed")  # after the last in-flight request

    metrics = Metrics() if settings.metrics_enabled else None
    ops = OpsRoutes(settings, lambda: graphql.reader, metrics)  # /healthz, /readyz, /health, /metrics

    async def root(_request: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    routes = [
        Route("/", root),
        *ops.routes(),
        Route("/graphql", GraphQLGuard(AuthGate(graphql, lambda: graphql.reader), settings), methods=["GET", "POST"]),
        *pixels.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(ObservabilityMiddleware, metrics=metrics, routes=routes)],
    )
    app.state.pixels = pixels
    app.state.metrics = metrics  # GraphQL's Pixels type reads shard indexes through its reader
    return app
