"""GraphQL types of an image's pixels (`Image.pixels`).

The representation node arrives as a dict shaped by the query compiler (inside the image's ONE
Cypher statement). Plain properties are read by the default resolver; everything else (levels,
channels, URLs, chunk lists) is computed here in Python from the node's properties, which the
compiler projected under the field's response key. `chunkUrls` on a sharded array reads shard
indexes from the store: store reads, not Cypher statements.
"""

from __future__ import annotations

import json
from typing import Any, NewType
from urllib.parse import quote

import strawberry
from strawberry.types import Info

from bioimage_hub.graph.query.compiler import QueryError

Long = NewType("Long", int)
# Registered in the schema's StrawberryConfig.scalar_map (api/schema.py).
LONG_SCALAR = strawberry.scalar(
    name="Long",
    serialize=int,
    parse_value=int,
    description="A 64-bit integer (byte offsets in large shards exceed GraphQL's 32-bit Int).",
)

VIZARR = "https://hms-dbmi.github.io/vizarr/?source="
NEUROGLANCER = "https://neuroglancer-demo.appspot.com/#!"
VALIDATOR = "https://ome.github.io/ome-ngff-validator/?source="


def _node(root: dict[str, Any], info: Info) -> dict[str, Any]:
    from bioimage_hub.pixels.graph import representation

    raw = root.get(info.path.key)
    rep = representation(raw) if isinstance(raw, dict) else None
    return rep or {"axes": [], "levels": [], "channels": [], "labels": [], "sizes": {}}


def _service(info: Info) -> Any:
    request = info.context.request
    return getattr(request.app.state, "pixels", None) if request is not None else None


def _hub_base(info: Info) -> str:
    request = info.context.request
    return str(request.base_url).rstrip("/") if request is not None else ""


def hub_pixels_url(info: Info, image_id: str, tail: str) -> str:
    return f"{_hub_base(info)}/pixels/{quote(image_id, safe='/')}/{tail}"


def http_root(info: Info, rep: dict[str, Any]) -> str:
    """An HTTP URL of the Zarr root a client can read: the store's own (S3 endpoint, https) or,
    for local folders, the hub's /pixels/{imageId}/zarr route."""
    from bioimage_hub.pixels.store import object_http_url, parse_url

    settings = info.context.settings
    url = object_http_url(parse_url(rep["url"], settings), "", settings)
    return url or hub_pixels_url(info, rep["imageId"], "zarr")


@strawberry.type(description="One axis of the image (OME-NGFF).")
class PixelAxis:
    name: str
    type: str | None
    unit: str | None


@strawberry.type(description="Shard index placement of a sharded level (Zarr v3 sharding_indexed).")
class ShardIndex:
    chunks_per_shard: list[int]
    location: str = strawberry.field(description="`end` or `start` of the shard object")
    bytes: int = strawberry.field(description="size of the index: 16 bytes per chunk (+4 CRC32C)")


@strawberry.type(description="One resolution level of the multiscale pyramid (0 = full resolution).")
class PixelLevel:
    index: int
    path: str
    shape: list[int]
    chunks: list[int] = strawberry.field(description="(inner) chunk shape")
    shards: list[int] | None = strawberry.field(description="shard shape, for sharded arrays")
    dtype: str
    scale: list[float]
    translation: list[float]
    zarr_format: int
    shard_index: ShardIndex | None


@strawberry.type
class ChannelWindow:
    start: float | None
    end: float | None
    min: float | None
    max: float | None


@strawberry.type(description="A channel with its rendering settings (OME-Zarr `omero` metadata).")
class PixelChannel:
    index: int = strawberry.field(description="0-based (the HTTP `c=` parameter is 1-based, as in OMERO)")
    label: str | None
    color: str = strawberry.field(description="RRGGBB")
    active: bool
    window: ChannelWindow


@strawberry.type(description="Layout of an HCS plate (OME-Zarr `plate` metadata).")
class PlateLayout:
    name: str | None
    rows: list[str]
    columns: list[str]
    wells: list[str]
    field_count: int | None


@strawberry.type(description="An object a client must GET for a region: a chunk, or a byte range of a shard.")
class ChunkUrl:
    key: str = strawberry.field(description="object key below the Zarr root")
    url: str | None
    chunk: list[int] = strawberry.field(description="chunk grid coordinates")
    shard: list[int] | None = strawberry.field(description="shard grid coordinates (sharded arrays)")
    byte_start: Long | None = strawberry.field(description="first byte of the chunk in the shard object")  # type: ignore[valid-type]
    byte_end: Long | None = strawberry.field(description="one past its last byte")  # type: ignore[valid-type]
    range: str | None = strawberry.field(description="the HTTP Range header to send, e.g. bytes=0-1023")
    empty: bool = strawberry.field(description="not stored: the chunk holds only the fill value")


@strawberry.type
class ViewerLink:
    name: str
    url: str


@strawberry.input(description="A plane region; omitted width/height extend to the level's edge.")
class PixelRegion:
    x: int = 0
    y: int = 0
    width: int | None = None
    height: int | None = None
    z: int = 0
    t: int = 0
    channels: list[int] | None = strawberry.field(default=None, description="0-based; default all")


@strawberry.type(description="An image's pixels: an OME-Zarr (0.4/0.5) in object storage, summarised in the graph.")
class Pixels:
    url: str = strawberry.field(description="the store URL as registered (file://, s3://, https://)")
    format: str | None
    version: str | None = strawberry.field(description="OME-NGFF version")
    kind: str | None = strawberry.field(description="image, label, plate or well")
    name: str | None
    dtype: str | None
    size_x: int | None
    size_y: int | None
    size_z: int | None
    size_c: int | None
    size_t: int | None
    level_count: int | None
    labels: list[str] = strawberry.field(description="names of the label images (labels/<name>)")
    registered_at: str | None

    @strawberry.field
    def axes(self, root: strawberry.Parent[dict], info: Info) -> list[PixelAxis]:
        return [PixelAxis(name=a["name"], type=a.get("type"), unit=a.get("unit")) for a in _node(root, info)["axes"]]

    @strawberry.field
    def levels(self, root: strawberry.Parent[dict], info: Info) -> list[PixelLevel]:
        out = []
        for i, lv in enumerate(_node(root, info)["levels"]):
            sh = lv.get("sharding")
            out.append(
                PixelLevel(
                    index=i,
                    path=lv["path"],
                    shape=lv["shape"],
                    chunks=lv["chunks"],
                    shards=lv.get("shards"),
                    dtype=lv["dtype"],
                    scale=lv.get("scale") or [],
                    translation=lv.get("translation") or [],
                    zarr_format=lv.get("zarrFormat", 3),
                    shard_index=ShardIndex(
                        chunks_per_shard=sh["chunksPerShard"], location=sh["indexLocation"], bytes=sh["indexBytes"]
                    )
                    if sh
                    else None,
                )
            )
        return out

    @strawberry.field
    def channels(self, root: strawberry.Parent[dict], info: Info) -> list[PixelChannel]:
        return [
            PixelChannel(
                index=c["index"],
                label=c.get("label"),
                color=c.get("color") or "FFFFFF",
                active=bool(c.get("active", True)),
                window=ChannelWindow(**{k: (c.get("window") or {}).get(k) for k in ("start", "end", "min", "max")}),
            )
            for c in _node(root, info)["channels"]
        ]

    @strawberry.field(description="HCS plate layout, for plates.")
    def plate(self, root: strawberry.Parent[dict], info: Info) -> PlateLayout | None:
        p = _node(root, info).get("plate")
        if not p:
            return None
        return PlateLayout(
            name=p.get("name"), rows=p.get("rows") or [], columns=p.get("columns") or [],
            wells=p.get("wells") or [], field_count=p.get("fieldCount"),
        )

    @strawberry.field(description="An HTTP URL of the Zarr root (the store's own, or the hub's /pixels/{id}/zarr).")
    def http_url(self, root: strawberry.Parent[dict], info: Info) -> str:
        return http_root(info, _node(root, info))

    @strawberry.field(description="A presigned GET URL of one object (default: the root zarr.json), for private S3 stores; null elsewhere.")
    def presigned_url(
        self, root: strawberry.Parent[dict], info: Info, expires_in: int = 3600, key: str = "zarr.json"
    ) -> str | None:
        from bioimage_hub.pixels.store import parse_url, presign

        if not 1 <= expires_in <= 7 * 24 * 3600:
            raise QueryError("expiresIn must be between 1 second and 7 days")
        rep = _node(root, info)
        return presign(parse_url(rep["url"]), key, info.context.settings, expires_in)

    @strawberry.field(description=(
        "The objects (and, for sharded arrays, byte ranges from the shard index) a client must GET to read "
        "a region itself; with expiresIn, S3 URLs are presigned."
    ))
    async def chunk_urls(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        level: int = 0,
        region: PixelRegion | None = None,
        expires_in: int | None = None,
    ) -> list[ChunkUrl]:
        from bioimage_hub.pixels.chunks import chunk_refs
        from bioimage_hub.pixels.read import PixelReader, make_region
        from bioimage_hub.pixels.store import PixelsError, object_http_url, parse_url, presign

        rep = _node(root, info)
        settings = info.context.settings
        region = region or PixelRegion()
        params = {"level": level, "x": region.x, "y": region.y, "w": region.width, "h": region.height,
                  "z": region.z, "t": region.t}
        service = _service(info)
        reader = service.reader if service is not None else PixelReader(settings)
        loc = parse_url(rep["url"], settings)
        if expires_in is not None and not 1 <= expires_in <= 7 * 24 * 3600:
            raise QueryError("expiresIn must be between 1 second and 7 days")

        def url_of(key: str) -> str | None:
            if expires_in is not None and loc.scheme == "s3":
                return presign(loc, key, settings, expires_in)
            return object_http_url(loc, key, settings) or hub_pixels_url(info, rep["imageId"], f"zarr/{key}")

        try:
            reg = make_region(rep, params, region.channels, max_pixels=2**62)
            refs = await chunk_refs(reader, rep, reg, url_of)
        except (PixelsError, ValueError) as exc:
            raise QueryError(f"chunkUrls: {exc}") from exc
        return [
            ChunkUrl(key=r.key, url=r.url, chunk=list(r.chunk), shard=list(r.shard) if r.shard else None,
                     byte_start=r.byte_start, byte_end=r.byte_end, range=r.range_header, empty=r.empty)
            for r in refs
        ]

    @strawberry.field(description="Open the image in web viewers (vizarr, neuroglancer, the OME-NGFF validator).")
    def viewer_links(self, root: strawberry.Parent[dict], info: Info) -> list[ViewerLink]:
        rep = _node(root, info)
        if not rep.get("url"):
            return []
        url = http_root(info, rep)
        layer = {"layers": [{"type": "image", "source": f"zarr://{url}", "name": rep.get("name") or "image"}]}
        return [
            ViewerLink(name="vizarr", url=VIZARR + quote(url, safe="")),
            ViewerLink(name="neuroglancer", url=NEUROGLANCER + quote(json.dumps(layer, separators=(",", ":")), safe="")),
            ViewerLink(name="ome-ngff-validator", url=VALIDATOR + quote(url, safe="")),
        ]

    @strawberry.field(description="The hub's thumbnail URL (PNG, at most size x size).")
    def thumbnail_url(self, root: strawberry.Parent[dict], info: Info, size: int = 96) -> str:
        return hub_pixels_url(info, _node(root, info)["imageId"], f"thumbnail.png?size={int(size)}")

    @strawberry.field(description="The hub's region URL (PNG by default; format: npy for the raw array).")
    def region_url(
        self,
        root: strawberry.Parent[dict],
        info: Info,
        level: int = 0,
        region: PixelRegion | None = None,
        format: str = "png",
    ) -> str:
        from urllib.parse import urlencode

        region = region or PixelRegion()
        q: dict[str, Any] = {"level": level, "x": region.x, "y": region.y, "z": region.z, "t": region.t}
        if region.width is not None:
            q["w"] = region.width
        if region.height is not None:
            q["h"] = region.height
        if region.channels:
            q["c"] = ",".join(str(c + 1) for c in region.channels)
        q["format"] = format
        return hub_pixels_url(info, _node(root, info)["imageId"], "region?" + urlencode(q))
