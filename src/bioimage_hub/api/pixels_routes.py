"""HTTP pixel routes, next to /graphql.

    GET /pixels/{imageId}/region?level&x&y&w&h&z&t&c&m&format=png|npy
    GET /pixels/{imageId}/thumbnail.png?size=96
    GET /pixels/{imageId}/zarr/{key}        the representation's objects (Range requests), for
                                            stores a client cannot reach itself (local folders)

Image ids contain slashes; they may be sent as they are or percent-encoded. Each request costs one
Cypher statement (the image and its representation) and the store reads the region needs.
Errors are JSON `{"error": reason}`: 400 bad or oversized request, 404 no such image / no pixels,
502 the store answered with an error or lacks the data, 503 store or graph unreachable. Store
failures also carry `code` (STORE_ERROR 502, STORE_UNAVAILABLE / STORE_TIMEOUT 503) and `store`
(the representation's URL), and 503s a `Retry-After`. The store part of a request (everything
after the graph look-up) is cut off after `PIXELS_STORE_TIMEOUT_S`, so a store that accepts
connections and never answers costs a client that long at most. Never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bioimage_hub.config import Settings
from bioimage_hub.api.auth import AuthError, principal_from_headers, viewer_of
from bioimage_hub.graph.driver import GraphReader, GraphUnavailable, StatementLog, current_log
from bioimage_hub.graph.query import access
from bioimage_hub.graph.query.access import Viewer
from bioimage_hub.graph.query.compiler import Compiled
from bioimage_hub.pixels import render
from bioimage_hub.pixels.graph import READ_PIXELS, representation
from bioimage_hub.pixels.read import PixelReader, RegionError, make_region
from bioimage_hub.pixels.store import (
    PixelsError,
    StoreTimeout,
    StoreUnavailable,
    is_store_failure,
    request_counter,
    store_errors,
    store_failure,
)

log = logging.getLogger(__name__)
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Content-Range, X-Array-Shape, X-Array-Dtype"}
_SAFE_KEY = re.compile(r"^(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_.\-/]+$")


class NotFound(PixelsError):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=CORS)


def _store_error(exc: StoreUnavailable) -> JSONResponse:
    headers = {**CORS, "Retry-After": "5"} if exc.status == 503 else CORS
    body = {"error": str(exc), "code": exc.code, "store": exc.store}
    return JSONResponse(body, status_code=exc.status, headers=headers)


class PixelsService:
    """Per-app state of the pixel routes: the graph reader (set by the app's lifespan), the zarr
    reader with its store/array caches, and the thumbnail cache."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.graph: GraphReader | None = None
        self.reader = PixelReader(settings)
        self.thumbnails = render.ThumbnailCache(settings.pixels_thumbnail_cache_size)
        # image id -> (monotonic expiry, representation): saves the graph round trip (~2 ms) on
        # repeated requests for one image (a viewer's tiles); a re-registration shows after the TTL.
        self._reps: dict[str, tuple[float, dict[str, Any]]] = {}

    async def lookup(self, image_id: str, log_: StatementLog, viewer: Viewer | None = None) -> dict[str, Any]:
        assert self.graph is not None, "the app's lifespan did not run"
        ttl = self.settings.pixels_lookup_ttl_s
        viewer = viewer or Viewer.anonymous()
        # the embargo makes the answer depend on who asks
        cache_key = f"{viewer.sees_everything}|{viewer.name}|{image_id}"
        cached = self._reps.get(cache_key) if ttl > 0 else None
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        token = current_log.set(log_)
        try:
            compiled = access.apply(Compiled(READ_PIXELS, {"image_id": image_id}), viewer)
            rows = await self.graph.run(compiled.cypher, compiled.params)
        finally:
            current_log.reset(token)
        if not rows:
            raise NotFound(f"no image with id {image_id!r}")
        rep = representation(rows[0]["pixels"])
        if rep is None:
            raise NotFound(f"image {image_id!r} has no pixels registered")
        if ttl > 0:
            if len(self._reps) > 10_000:
                self._reps.clear()
            self._reps[cache_key] = (time.monotonic() + ttl, rep)
        return rep

    async def handle(self, request: Request, work: Any) -> Response:
        """Run `work(rep)` for the request's image, mapping every failure to a clear status."""
        image_id = request.path_params["image_id"]
        log_ = StatementLog()
        counter = [0]
        token = request_counter.set(counter)
        started = time.perf_counter()
        rep: dict[str, Any] | None = None
        timeout = self.settings.pixels_store_timeout_s
        try:
            principal = await principal_from_headers(request.headers, self.graph)
            rep = await self.lookup(image_id, log_, viewer_of(principal))
            try:
                async with asyncio.timeout(timeout):
                    response: Response = await work(rep)
            except TimeoutError as exc:
                raise StoreTimeout(f"pixel store {rep['url']} did not answer within {timeout:g} s "
                                   "(PIXELS_STORE_TIMEOUT_S)", rep["url"]) from exc
        except AuthError as exc:
            response = _error(exc.status, exc.message)
        except RegionError as exc:
            response = _error(400, str(exc))
        except NotFound as exc:
            response = _error(404, str(exc))
        except GraphUnavailable:
            response = _error(503, "the graph database is unavailable; try again later")
        except StoreUnavailable as exc:
            response = _store_error(exc)
        except PixelsError as exc:
            response = _error(400, str(exc))
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            if is_store_failure(exc) and rep is not None:
                response = _store_error(store_failure(exc, rep["url"]))
            else:
                log.exception("pixels request failed: %s", request.url.path)
                response = _error(500, "Unexpected error.")
        finally:
            request_counter.reset(token)
        response.headers["X-Cypher-Statements"] = str(log_.count)
        response.headers["X-Store-Requests"] = str(counter[0])
        response.headers["Server-Timing"] = f"total;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    # -- routes ------------------------------------------------------------------------------

    async def region(self, request: Request) -> Response:
        params = dict(request.query_params)
        fmt = (params.get("format") or "png").lower()

        async def work(rep: dict[str, Any]) -> Response:
            if fmt not in ("png", "npy"):
                raise RegionError(f"format={fmt!r}: use png or npy")
            settings = render.parse_channels(params.get("c"), rep)
            chosen = render.active(settings, greyscale=params.get("m") == "g")
            region = make_region(rep, params, [s.index for s in chosen], self.settings.pixels_max_region_pixels)
            planes = await self.reader.read(rep, region)
            if fmt == "npy":
                headers = {**CORS, "X-Array-Shape": ",".join(map(str, planes.shape)), "X-Array-Dtype": str(planes.dtype)}
                return Response(render.npy(planes), media_type="application/x-npy", headers=headers)
            return Response(render.png(render.render(planes, chosen)), media_type="image/png", headers=CORS)

        return await self.handle(request, work)

    async def thumbnail(self, request: Request) -> Response:
        raw = request.query_params.get("size", "96")

        async def work(rep: dict[str, Any]) -> Response:
            try:
                size = int(raw)
            except ValueError:
                raise RegionError(f"size={raw!r} is not an integer") from None
            key = (rep["url"], str(rep.get("registeredAt")), size)
            body = self.thumbnails.get(key)
            cached = body is not None
            if body is None:
                body = await render.thumbnail(self.reader, rep, size, self.settings.pixels_max_region_pixels)
                self.thumbnails.put(key, body)
            headers = {**CORS, "Cache-Control": "public, max-age=3600", "X-Thumbnail-Cache": "hit" if cached else "miss"}
            return Response(body, media_type="image/png", headers=headers)

        return await self.handle(request, work)

    async def zarr_object(self, request: Request) -> Response:
        from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
        from zarr.core.buffer import default_buffer_prototype

        key = request.path_params["key"]

        async def work(rep: dict[str, Any]) -> Response:
            if not _SAFE_KEY.match(key):
                raise RegionError(f"{key!r} is not an object key of the image's Zarr")
            byte_range: Any = None
            header = request.headers.get("range")
            if header:
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
                if not m or (not m[1] and not m[2]):
                    raise RegionError(f"Range {header!r}: only a single bytes=a-b range is supported")
                if m[1] and m[2]:
                    byte_range = RangeByteRequest(int(m[1]), int(m[2]) + 1)
                elif m[1]:
                    byte_range = OffsetByteRequest(int(m[1]))
                else:
                    byte_range = SuffixByteRequest(int(m[2]))
            store = self.reader.store(rep["url"])
            with store_errors(rep["url"]):
                buf = await store.get(key, default_buffer_prototype(), byte_range)
            if buf is None:
                raise NotFound(f"no object {key!r} in the image's Zarr")
            body = buf.to_bytes()
            headers = dict(CORS)
            status = 200
            if isinstance(byte_range, RangeByteRequest):
                status = 206
                headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.start + len(body) - 1}/*"
            elif byte_range is not None:
                status = 206
            media = "application/json" if key.endswith(("zarr.json", ".zattrs", ".zarray", ".zgroup")) else "application/octet-stream"
            return Response(body, status_code=status, media_type=media, headers=headers)

        return await self.handle(request, work)

    def routes(self) -> list[Route]:
        return [
            Route("/pixels/{image_id:path}/region", self.region, methods=["GET"]),
            Route("/pixels/{image_id:path}/thumbnail.png", self.thumbnail, methods=["GET"]),
            Route("/pixels/{image_id:path}/zarr/{key:path}", self.zarr_object, methods=["GET"]),
        ]
