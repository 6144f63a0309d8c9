"""Asynchronous region reads from a registered OME-Zarr (zarr's async API; obstore for S3/HTTP).

A `PixelReader` lives as long as the app: it keeps one store per URL (so obstore's HTTP connection
pool is reused) and the opened arrays (so their metadata is read once), and raises zarr's async
concurrency when a remote store is first used. A region is one plane (one z, one t) of a level,
for a list of channels; it comes back as a (channels, h, w) array.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from bioimage_hub.config import Settings
from bioimage_hub.pixels.store import (
    PixelsError,
    StoreFailed,
    describe_store_error,
    is_store_failure,
    open_store,
    parse_url,
    store_errors,
    store_failure,
)

ARRAY_CACHE = 256
STORE_CACHE = 64


class RegionError(PixelsError):
    """The region request is out of range, oversized or malformed (HTTP 400)."""


@dataclass(frozen=True)
class Region:
    level: int
    x: int
    y: int
    w: int
    h: int
    z: int
    t: int
    channels: tuple[int, ...]  # 0-based


def axis_names(rep: dict[str, Any]) -> list[str]:
    return [a["name"] for a in rep["axes"]]


def level_size(rep: dict[str, Any], level: int) -> dict[str, int]:
    shape = rep["levels"][level]["shape"]
    names = axis_names(rep)
    return {k: (shape[names.index(k)] if k in names else 1) for k in ("x", "y", "z", "c", "t")}


def _int(params: dict[str, Any], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise RegionError(f"{name}={raw!r} is not an integer") from None


def make_region(
    rep: dict[str, Any],
    params: dict[str, Any],
    channels: list[int] | None,
    max_pixels: int,
) -> Region:
    """Validate a region against the representation; every problem is a RegionError with the reason."""
    if rep.get("kind") not in ("image", "label") or not rep.get("levels"):
        raise RegionError(f"the image's pixels are an OME-Zarr {rep.get('kind')}, not an image: no regions")
    n_levels = len(rep["levels"])
    level = _int(params, "level", 0)
    assert level is not None
    if not 0 <= level < n_levels:
        raise RegionError(f"level={level} is out of range: the image has levels 0..{n_levels - 1}")
    size = level_size(rep, level)
    x = _int(params, "x", 0)
    y = _int(params, "y", 0)
    assert x is not None and y is not None
    w = _int(params, "w", None)
    h = _int(params, "h", None)
    w = size["x"] - x if w is None else w
    h = size["y"] - y if h is None else h
    z = _int(params, "z", 0)
    t = _int(params, "t", 0)
    assert z is not None and t is not None
    if x < 0 or y < 0:
        raise RegionError(f"x={x}, y={y}: must be >= 0")
    if w <= 0 or h <= 0:
        raise RegionError(f"w={w}, h={h}: must be > 0 (level {level} is {size['x']}x{size['y']})")
    if x + w > size["x"] or y + h > size["y"]:
        raise RegionError(
            f"region x={x}..{x + w}, y={y}..{y + h} exceeds level {level}, which is {size['x']}x{size['y']}"
        )
    if not 0 <= z < size["z"]:
        raise RegionError(f"z={z} is out of range 0..{size['z'] - 1}")
    if not 0 <= t < size["t"]:
        raise RegionError(f"t={t} is out of range 0..{size['t'] - 1}")
    chans = tuple(range(size["c"])) if channels is None else tuple(channels)
    if not chans:
        raise RegionError("no active channel selected")
    for c in chans:
        if not 0 <= c < size["c"]:
            raise RegionError(f"channel {c + 1} is out of range 1..{size['c']}")
    pixels = w * h * len(chans)
    if pixels > max_pixels:
        raise RegionError(
            f"region of {w}x{h} pixels x {len(chans)} channel(s) = {pixels} exceeds the limit of "
            f"{max_pixels} pixels; request a smaller region or a lower-resolution level (level=1..{n_levels - 1})"
        )
    return Region(level, x, y, w, h, z, t, chans)


class PixelReader:
    """Stores and opened arrays, cached for the life of the app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stores: OrderedDict[str, Any] = OrderedDict()
        self._arrays: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._remote_concurrency_set = False

    def store(self, url: str) -> Any:
        store = self._stores.get(url)
        if store is None:
            loc = parse_url(url, self.settings)
            if loc.remote and not self._remote_concurrency_set:
                import zarr

                zarr.config.set({"async.concurrency": self.settings.pixels_remote_concurrency})
                self._remote_concurrency_set = True
            store = open_store(loc, self.settings, read_only=True, counting=True)
            self._stores[url] = store
            if len(self._stores) > STORE_CACHE:
                self._stores.popitem(last=False)
        else:
            self._stores.move_to_end(url)
        return store

    async def array(self, rep: dict[str, Any], level: int) -> Any:
        from zarr.api.asynchronous import open_array

        info = rep["levels"][level]
        key = (rep["url"], str(rep.get("registeredAt")), info["path"])
        arr = self._arrays.get(key)
        if arr is not None:
            self._arrays.move_to_end(key)
            return arr
        try:
            arr = await open_array(
                store=self.store(rep["url"]), path=info["path"], mode="r", zarr_format=info.get("zarrFormat", 3)
            )
        except Exception as exc:  # noqa: BLE001 - classify: store down vs. data gone
            if is_store_failure(exc):
                raise store_failure(exc, rep["url"]) from exc
            raise StoreFailed(
                f"the pixel store has no array at {rep['url']}/{info['path']} ({describe_store_error(exc)})", rep["url"]
            ) from exc
        self._arrays[key] = arr
        if len(self._arrays) > ARRAY_CACHE:
            self._arrays.popitem(last=False)
        return arr

    async def read(self, rep: dict[str, Any], region: Region) -> np.ndarray:
        """The region as a (channels, h, w) array, channels in the requested order."""
        arr = await self.array(rep, region.level)
        names = axis_names(rep)

        def selection(c: int) -> tuple[Any, ...]:
            sel: list[Any] = []
            for name in names:
                if name == "x":
                    sel.append(slice(region.x, region.x + region.w))
                elif name == "y":
                    sel.append(slice(region.y, region.y + region.h))
                elif name == "z":
                    sel.append(region.z)
                elif name == "t":
                    sel.append(region.t)
                elif name == "c":
                    sel.append(c)
                else:
                    sel.append(0)
            return tuple(sel)

        with store_errors(rep["url"]):
            planes = await asyncio.gather(*(arr.getitem(selection(c)) for c in region.channels))
        out = np.stack([np.asarray(p) for p in planes])
        if names.index("y") < names.index("x"):  # the usual order: planes are (h, w)
            return out
        return np.swapaxes(out, 1, 2)
