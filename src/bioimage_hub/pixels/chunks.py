"""The chunks a region needs: their object keys, URLs and, for sharded arrays, byte ranges.

So that a client can read pixels itself: for an unsharded array every chunk is one object; for a
sharded array (Zarr v3 `sharding_indexed`) a chunk is a byte range of its shard object, found in
the shard index (16 bytes per inner chunk — little-endian uint64 offset and length — plus a
CRC32C, at the end or the start of the shard). Reading an index is one ranged GET per shard.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bioimage_hub.pixels.read import PixelReader, Region, axis_names
from bioimage_hub.pixels.store import store_errors

MAX_CHUNKS = 10_000
EMPTY = 2**64 - 1


@dataclass(frozen=True)
class ChunkRef:
    key: str  # object key below the representation's root
    url: str | None
    chunk: tuple[int, ...]  # chunk grid coordinates
    shard: tuple[int, ...] | None
    byte_start: int | None  # inclusive
    byte_end: int | None  # exclusive
    empty: bool = False  # not stored: the chunk is all fill value

    @property
    def range_header(self) -> str | None:
        if self.byte_start is None or self.byte_end is None:
            return None
        return f"bytes={self.byte_start}-{self.byte_end - 1}"


def encode_key(level: dict[str, Any], coords: tuple[int, ...]) -> str:
    """Object key of a chunk (or shard) of a level, per its chunk key encoding."""
    enc = level.get("chunkKey") or {"encoding": "default", "separator": "/"}
    sep = enc.get("separator") or "/"
    if enc.get("encoding") == "v2":
        body = sep.join(str(c) for c in coords) if coords else "0"
        return f"{level['path']}/{body}"
    return f"{level['path']}/c" + "".join(f"{sep}{c}" for c in coords)


def _ranges(names: list[str], region: Region, grid: list[int], c: int) -> list[range]:
    out = []
    for name, g in zip(names, grid):
        if name == "x":
            out.append(range(region.x // g, (region.x + region.w - 1) // g + 1))
        elif name == "y":
            out.append(range(region.y // g, (region.y + region.h - 1) // g + 1))
        elif name == "z":
            out.append(range(region.z // g, region.z // g + 1))
        elif name == "t":
            out.append(range(region.t // g, region.t // g + 1))
        elif name == "c":
            out.append(range(c // g, c // g + 1))
        else:
            out.append(range(0, 1))
    return out


def chunk_coords(rep: dict[str, Any], region: Region) -> list[tuple[int, ...]]:
    """Chunk grid coordinates of every (inner) chunk the region touches, in order."""
    level = rep["levels"][region.level]
    names = axis_names(rep)
    seen: dict[tuple[int, ...], None] = {}
    for c in region.channels:
        for coords in itertools.product(*_ranges(names, region, level["chunks"], c)):
            seen[coords] = None
    if len(seen) > MAX_CHUNKS:
        raise ValueError(f"the region needs {len(seen)} chunks (more than {MAX_CHUNKS})")
    return list(seen)


def parse_shard_index(raw: bytes, chunks_per_shard: list[int], has_checksum: bool) -> np.ndarray:
    n = math.prod(chunks_per_shard)
    body = raw[: 16 * n]
    if has_checksum and len(raw) >= 16 * n + 4:
        import google_crc32c  # zarr's own crc32c implementation dependency

        expected = int.from_bytes(raw[16 * n : 16 * n + 4], "little")
        if google_crc32c.value(body) != expected:
            raise ValueError("shard index checksum mismatch")
    return np.frombuffer(body, dtype="<u8").reshape(*chunks_per_shard, 2)


async def chunk_refs(
    reader: PixelReader,
    rep: dict[str, Any],
    region: Region,
    url_of: Callable[[str], str | None],
) -> list[ChunkRef]:
    """ChunkRefs for the region; reads one shard index per shard touched (ranged GETs, concurrently)."""
    from zarr.abc.store import RangeByteRequest, SuffixByteRequest
    from zarr.core.buffer import default_buffer_prototype

    level = rep["levels"][region.level]
    coords = chunk_coords(rep, region)
    sharding = level.get("sharding")
    if not sharding:
        return [
            ChunkRef(key, url_of(key), cc, None, None, None)
            for cc in coords
            for key in [encode_key(level, cc)]
        ]
    per = sharding["chunksPerShard"]
    index_bytes = int(sharding["indexBytes"])
    shard_coords = sorted({tuple(c // p for c, p in zip(cc, per)) for cc in coords})
    store = reader.store(rep["url"])
    proto = default_buffer_prototype()

    async def index(sc: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray | None]:
        key = encode_key(level, sc)
        request = (
            SuffixByteRequest(index_bytes)
            if sharding.get("indexLocation", "end") == "end"
            else RangeByteRequest(0, index_bytes)
        )
        buf = await store.get(key, proto, request)
        if buf is None:
            return sc, None
        return sc, parse_shard_index(buf.to_bytes(), per, index_bytes > 16 * math.prod(per))

    with store_errors(rep["url"]):
        indexes = dict(await asyncio.gather(*(index(sc) for sc in shard_coords)))
    out = []
    for cc in coords:
        sc = tuple(c // p for c, p in zip(cc, per))
        key = encode_key(level, sc)
        idx = indexes.get(sc)
        if idx is None:
            out.append(ChunkRef(key, url_of(key), cc, sc, None, None, empty=True))
            continue
        offset, nbytes = (int(v) for v in idx[tuple(c % p for c, p in zip(cc, per))])
        if offset == EMPTY and nbytes == EMPTY:
            out.append(ChunkRef(key, url_of(key), cc, sc, None, None, empty=True))
        else:
            out.append(ChunkRef(key, url_of(key), cc, sc, offset, offset + nbytes))
    return out
