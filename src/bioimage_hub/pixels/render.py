"""Render planes to PNG with OMERO-style channel settings; thumbnails from the smallest adequate level.

Channel settings follow OMERO's `render_image_region`: `c=1|100:800$FF0000,-2|0:255$00FF00,3`
— 1-based channel indices (negative = listed but off; channels not listed are off), an optional
`start:end` window and an optional `$RRGGBB` colour. `m=g` renders the first active channel in
greyscale. Without `c`, the channels' stored (omero) settings apply.
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bioimage_hub.pixels.read import PixelReader, Region, RegionError, level_size

_CHANNEL = re.compile(
    r"^(?P<index>-?\d+)(?:\|(?P<start>-?\d+(?:\.\d+)?):(?P<end>-?\d+(?:\.\d+)?))?(?:\$(?P<color>[0-9A-Fa-f]{6}))?$"
)
MAX_THUMBNAIL = 1024


@dataclass(frozen=True)
class ChannelSetting:
    index: int  # 0-based
    active: bool
    start: float | None
    end: float | None
    color: str  # RRGGBB
    inverted: bool = False


def default_settings(rep: dict[str, Any]) -> list[ChannelSetting]:
    out = []
    n_c = rep.get("sizes", {}).get("c") or len(rep.get("channels") or []) or 1
    chans = {c.get("index", i): c for i, c in enumerate(rep.get("channels") or [])}
    for i in range(n_c):
        ch = chans.get(i, {})
        window = ch.get("window") or {}
        out.append(
            ChannelSetting(
                index=i,
                active=bool(ch.get("active", i < 4)),
                start=window.get("start"),
                end=window.get("end"),
                color=(ch.get("color") or ("FFFFFF" if n_c == 1 else "00FF00")).upper(),
                inverted=bool(ch.get("inverted", False)),
            )
        )
    if not any(s.active for s in out):
        out[0] = replace(out[0], active=True)
    return out


def parse_channels(c: str | None, rep: dict[str, Any]) -> list[ChannelSetting]:
    """OMERO `c=` syntax -> settings for every channel (RegionError on bad syntax or index)."""
    settings = default_settings(rep)
    if c is None or c.strip() == "":
        return settings
    n_c = len(settings)
    listed: dict[int, ChannelSetting] = {}
    for part in c.split(","):
        part = part.strip()
        m = _CHANNEL.match(part)
        if not m:
            raise RegionError(f"c: cannot read {part!r}; use 1|start:end$RRGGBB (OMERO syntax)")
        idx = int(m["index"])
        if idx == 0 or abs(idx) > n_c:
            raise RegionError(f"c: channel {abs(idx)} is out of range 1..{n_c} (channels are 1-based)")
        base = settings[abs(idx) - 1]
        start = float(m["start"]) if m["start"] is not None else base.start
        end = float(m["end"]) if m["end"] is not None else base.end
        if start is not None and end is not None and end <= start:
            raise RegionError(f"c: window {start}:{end} of channel {abs(idx)} is empty (end must be > start)")
        listed[abs(idx) - 1] = replace(
            base, active=idx > 0, start=start, end=end, color=(m["color"] or base.color).upper()
        )
    return [listed.get(i, replace(s, active=False)) for i, s in enumerate(settings)]


def active(settings: list[ChannelSetting], greyscale: bool = False) -> list[ChannelSetting]:
    chosen = [s for s in settings if s.active]
    if greyscale and chosen:
        return [replace(chosen[0], color="FFFFFF")]
    return chosen


def _window(plane: np.ndarray, s: ChannelSetting) -> tuple[float, float]:
    start, end = s.start, s.end
    if start is None or end is None:
        if np.issubdtype(plane.dtype, np.integer) and plane.dtype.itemsize == 1:
            lo, hi = 0.0, 255.0
        else:
            lo, hi = (float(plane.min()), float(plane.max())) if plane.size else (0.0, 1.0)
        start = lo if start is None else start
        end = hi if end is None else end
    if end <= start:
        end = start + 1
    return float(start), float(end)


def render(planes: np.ndarray, settings: list[ChannelSetting]) -> np.ndarray:
    """(channels, h, w) planes + one setting per plane -> (h, w, 3) uint8, additive colour blend."""
    _, h, w = planes.shape
    rgb = np.zeros((h, w, 3), dtype=np.float32)
    for plane, s in zip(planes, settings):
        start, end = _window(plane, s)
        v = (plane.astype(np.float32) - start) / (end - start)
        np.clip(v, 0.0, 1.0, out=v)
        if s.inverted:
            v = 1.0 - v
        color = np.array([int(s.color[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)
        rgb += v[..., None] * color
    np.clip(rgb, 0.0, 1.0, out=rgb)
    return np.rint(rgb * 255.0).astype(np.uint8)


def png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, "PNG", compress_level=3)
    return buf.getvalue()


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


# --------------------------------------------------------------------------- thumbnails


def thumbnail_level(rep: dict[str, Any], size: int) -> int:
    """The smallest level whose larger side is still >= size (else the largest level)."""
    for level in range(len(rep["levels"]) - 1, -1, -1):
        s = level_size(rep, level)
        if max(s["x"], s["y"]) >= size:
            return level
    return 0


class ThumbnailCache:
    """PNG thumbnails by (url, registration, size); LRU."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str, int]) -> bytes | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
        return value

    def put(self, key: tuple[str, str, int], value: bytes) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


async def thumbnail(reader: PixelReader, rep: dict[str, Any], size: int, max_pixels: int) -> bytes:
    """A PNG of at most size x size (aspect kept): default z (middle) and t 0, stored channel settings."""
    from PIL import Image

    if not 16 <= size <= MAX_THUMBNAIL:
        raise RegionError(f"size={size}: must be between 16 and {MAX_THUMBNAIL}")
    if rep.get("kind") not in ("image", "label") or not rep.get("levels"):
        raise RegionError(f"the image's pixels are an OME-Zarr {rep.get('kind')}: no thumbnail")
    level = thumbnail_level(rep, size)
    s = level_size(rep, level)
    settings = active(default_settings(rep))
    if s["x"] * s["y"] * len(settings) > max_pixels:
        raise RegionError(f"no pyramid level small enough for a thumbnail (smallest is {s['x']}x{s['y']})")
    region = Region(level, 0, 0, s["x"], s["y"], s["z"] // 2, 0, tuple(c.index for c in settings))
    planes = await reader.read(rep, region)
    img = Image.fromarray(render(planes, settings), "RGB")
    scale = size / max(s["x"], s["y"])
    if scale < 1:
        img = img.resize((max(1, round(s["x"] * scale)), max(1, round(s["y"] * scale))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
