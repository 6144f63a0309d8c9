"""Validate an existing OME-Zarr (0.4 or 0.5; local, s3:// or https://) and summarise it.

Validation is ome-zarr-models' (pydantic models of the OME-NGFF spec, checked against the group's
arrays). The summary is what the graph stores on a `PixelRepresentation`: axes; per level its path,
shape, chunks, shards (and where the shard index sits), dtype, scale and translation; channels with
label, colour and window; label images; plate layout for HCS.
"""

from __future__ import annotations

import math
from typing import Any

from bioimage_hub.config import Settings
from bioimage_hub.pixels.store import (
    InvalidPixels,
    Location,
    PixelsError,
    StoreUnavailable,
    describe_store_error,
    is_store_failure,
    open_store,
    parse_url,
)

SUPPORTED = ("0.4", "0.5")


def _validation_message(exc: Exception, limit: int = 5) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:limit]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("attributes",))
            parts.append(f"{loc or '(root)'}: {err.get('msg')}")
        more = exc.error_count() - limit
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _open_group(store: Any, loc: Location) -> Any:
    import zarr

    try:
        return zarr.open_group(store, mode="r")
    except Exception as exc:  # noqa: BLE001 - classify below
        if is_store_failure(exc):
            raise StoreUnavailable(f"{loc.url}: store unreachable ({describe_store_error(exc)})") from exc
        raise InvalidPixels(f"{loc.url}: no Zarr group there ({describe_store_error(exc)})") from exc


def _ome_attrs(group: Any) -> tuple[dict[str, Any], str | None, int]:
    """(OME attributes, OME-Zarr version, zarr format) of a group."""
    attrs = dict(group.attrs)
    zarr_format = group.metadata.zarr_format
    if zarr_format == 3:
        ome = attrs.get("ome")
        if not isinstance(ome, dict):
            return {}, None, 3
        return ome, str(ome.get("version")) if ome.get("version") else None, 3
    version = None
    for key in ("multiscales", "plate", "well"):
        value = attrs.get(key)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            version = value[0].get("version")
        elif isinstance(value, dict):
            version = value.get("version")
        if version:
            break
    if version is None and "bioformats2raw.layout" in attrs:
        version = "0.4"
    return attrs, str(version) if version else None, 2


def _model(version: str, ome: dict[str, Any]) -> Any:
    if version == "0.5":
        from ome_zarr_models.v05 import hcs, image, image_label, well

        if "plate" in ome:
            return hcs.HCS
        if "well" in ome:
            return well.Well
        return image_label.ImageLabel if "image-label" in ome else image.Image
    from ome_zarr_models.v04 import hcs, image, image_label, well

    if "plate" in ome:
        return hcs.HCS
    if "well" in ome:
        return well.Well
    return image_label.ImageLabel if "image-label" in ome else image.Image


def _sharding(arr: Any) -> dict[str, Any] | None:
    from zarr.codecs import ShardingCodec

    codecs = getattr(arr.metadata, "codecs", None) or ()
    for codec in codecs:
        if isinstance(codec, ShardingCodec):
            per_shard = [s // c for s, c in zip(arr.shards, codec.chunk_shape)]
            n = math.prod(per_shard)
            has_crc = any(type(c).__name__ == "Crc32cCodec" for c in codec.index_codecs)
            return {
                "chunksPerShard": per_shard,
                "indexLocation": str(getattr(codec.index_location, "value", codec.index_location)),
                "indexBytes": 16 * n + (4 if has_crc else 0),
            }
    return None


def _chunk_key(arr: Any) -> dict[str, str]:
    meta = arr.metadata
    if meta.zarr_format == 2:
        return {"encoding": "v2", "separator": getattr(meta, "dimension_separator", None) or "."}
    enc = meta.chunk_key_encoding
    name = getattr(enc, "name", None) or type(enc).__name__.replace("ChunkKeyEncoding", "").lower() or "default"
    return {"encoding": str(name), "separator": str(getattr(enc, "separator", "/"))}


def _transforms(transforms: list[dict[str, Any]] | None, ndim: int) -> tuple[list[float], list[float]]:
    scale = [1.0] * ndim
    translation = [0.0] * ndim
    for tr in transforms or []:
        if tr.get("type") == "scale" and tr.get("scale"):
            scale = [float(v) for v in tr["scale"]]
        elif tr.get("type") == "translation" and tr.get("translation"):
            translation = [float(v) for v in tr["translation"]]
    return scale, translation


def _levels(group: Any, ms: dict[str, Any], ndim: int) -> list[dict[str, Any]]:
    global_scale, global_translation = _transforms(ms.get("coordinateTransformations"), ndim)
    levels = []
    for ds in ms["datasets"]:
        arr = group[ds["path"]]
        scale, translation = _transforms(ds.get("coordinateTransformations"), ndim)
        levels.append(
            {
                "path": ds["path"],
                "shape": list(arr.shape),
                "chunks": list(arr.chunks),
                "shards": list(arr.shards) if arr.shards else None,
                "dtype": str(arr.dtype),
                "scale": [s * g for s, g in zip(scale, global_scale)],
                "translation": [t * g + gt for t, g, gt in zip(translation, global_scale, global_translation)],
                "zarrFormat": arr.metadata.zarr_format,
                "chunkKey": _chunk_key(arr),
                "sharding": _sharding(arr),
            }
        )
    return levels


def _channels(omero: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for i, ch in enumerate((omero or {}).get("channels") or []):
        window = ch.get("window") or {}
        out.append(
            {
                "index": i,
                "label": ch.get("label"),
                "color": (ch.get("color") or "FFFFFF").upper(),
                "active": bool(ch.get("active", True)),
                "window": {k: (float(window[k]) if window.get(k) is not None else None) for k in ("start", "end", "min", "max")},
                "inverted": bool(ch.get("inverted", False)),
            }
        )
    return out


def _labels(group: Any, zarr_format: int) -> list[str]:
    try:
        labels = group["labels"]
    except Exception:  # noqa: BLE001 - no labels group
        return []
    attrs = dict(labels.attrs)
    names = (attrs.get("ome") or {}).get("labels") if zarr_format == 3 else attrs.get("labels")
    return [str(n) for n in names or []]


def _plate(ome: dict[str, Any]) -> dict[str, Any]:
    plate = ome["plate"]
    return {
        "name": plate.get("name"),
        "rows": [r.get("name") for r in plate.get("rows", [])],
        "columns": [c.get("name") for c in plate.get("columns", [])],
        "wells": [w.get("path") for w in plate.get("wells", [])],
        "fieldCount": plate.get("field_count"),
        "acquisitions": len(plate.get("acquisitions") or []),
    }


def inspect(url: str, settings: Settings) -> dict[str, Any]:
    """Validate the OME-Zarr at `url` and return its summary; raises InvalidPixels / StoreUnavailable."""
    loc = parse_url(url, settings)
    store = open_store(loc, settings, read_only=True)
    group = _open_group(store, loc)
    ome, version, zarr_format = _ome_attrs(group)
    if not ome:
        raise InvalidPixels(f"{loc.url}: a Zarr group without OME-Zarr metadata (no 'ome' attributes)")
    if version is None:
        raise InvalidPixels(f"{loc.url}: OME-Zarr metadata without a version")
    if version not in SUPPORTED:
        raise InvalidPixels(f"{loc.url}: OME-Zarr {version} is not supported (0.4 or 0.5)")
    if "bioformats2raw.layout" in ome and "multiscales" not in ome:
        # bioformats2raw container (as IDR publishes): the first series is the image.
        summary = inspect(loc.child("0").url, settings)
        summary["container"] = "bioformats2raw"
        return summary
    if (version == "0.5") != (zarr_format == 3):
        raise InvalidPixels(f"{loc.url}: OME-Zarr {version} must be Zarr v{3 if version == '0.5' else 2}")
    model = _model(version, ome)
    try:
        model.from_zarr(group)
    except Exception as exc:  # noqa: BLE001 - any failure to validate is invalid metadata...
        if is_store_failure(exc):  # ...unless the store itself failed
            raise StoreUnavailable(f"{loc.url}: store unreachable ({describe_store_error(exc)})") from exc
        raise InvalidPixels(
            f"{loc.url}: invalid OME-Zarr {version} {model.__name__} metadata: {_validation_message(exc)}"
        ) from exc

    summary: dict[str, Any] = {
        "url": loc.url,
        "format": "ome-zarr",
        "version": version,
        "kind": {"HCS": "plate", "Well": "well", "ImageLabel": "label"}.get(model.__name__, "image"),
        "name": None,
        "axes": [],
        "levels": [],
        "channels": [],
        "labels": [],
        "plate": None,
        "sizes": {},
        "dtype": None,
    }
    if "plate" in ome:
        summary["plate"] = _plate(ome)
        summary["name"] = summary["plate"]["name"]
        return summary
    if "well" in ome:
        summary["name"] = loc.url.rsplit("/", 1)[-1]
        return summary
    try:
        ms = ome["multiscales"][0]
        axes = [{"name": a["name"], "type": a.get("type"), "unit": a.get("unit")} for a in ms["axes"]]
        levels = _levels(group, ms, len(axes))
        labels = _labels(group, zarr_format)
    except Exception as exc:  # noqa: BLE001
        if is_store_failure(exc):
            raise StoreUnavailable(f"{loc.url}: store unreachable ({describe_store_error(exc)})") from exc
        raise InvalidPixels(f"{loc.url}: cannot read the multiscale arrays: {describe_store_error(exc)}") from exc
    shape0 = levels[0]["shape"]
    names = [a["name"] for a in axes]
    summary.update(
        name=ms.get("name") or (ome.get("omero") or {}).get("name"),
        axes=axes,
        levels=levels,
        channels=_channels(ome.get("omero")),
        labels=labels,
        sizes={k: (shape0[names.index(k)] if k in names else 1) for k in ("x", "y", "z", "c", "t")},
        dtype=levels[0]["dtype"],
    )
    if not summary["channels"]:  # no omero block: one default channel per c
        summary["channels"] = [
            {"index": i, "label": f"Channel {i}", "color": "FFFFFF", "active": i < 4,
             "window": {"start": None, "end": None, "min": None, "max": None}, "inverted": False}
            for i in range(summary["sizes"]["c"])
        ]
    return summary


def check_supported_for_regions(summary: dict[str, Any]) -> None:
    if summary["kind"] not in ("image", "label"):
        raise PixelsError(
            f"{summary['url']} is an OME-Zarr {summary['kind']}: register the image of a field "
            "(e.g. plate.zarr/A/1/0) to serve regions"
        )
    names = [a["name"] for a in summary["axes"]]
    if "x" not in names or "y" not in names:
        raise PixelsError(f"{summary['url']}: the image has no x/y axes ({names})")
