"""Benchmark pixel regions: the hub's HTTP endpoint against a direct zarr read, same run, same region.

    .venv/bin/python bench/bench_pixels.py [--json] [--repeat N] [--size 2048]

Reads the hub's settings from the environment (NEO4J_URI, or EMBEDDED_BOLT_PORT for the embedded
Neo4j) and assumes the IDR studies are imported (it registers pixels on one idr0023 image and
removes them at the end). It writes a synthetic 1 t x 2 c x 8 z x SIZE x SIZE uint16 image as
OME-Zarr 0.5 (sharded, Blosc-zstd) to a temporary folder and to a real S3 endpoint (moto's
ThreadedMotoServer on 127.0.0.1), then for each store and region measures, interleaved:

  * hub: GET /pixels/{id}/region?format=npy through the ASGI app in-process (httpx.ASGITransport):
    the graph lookup (one Cypher statement), the async zarr read, the .npy encoding;
  * direct: `await AsyncArray.getitem(...)` on an array opened once with zarr's async API on the
    same kind of store (LocalStore / obstore S3), the same selection, channel by channel;

and the store requests per region (both counted by the same wrapper). Arrays are opened once
before timing in both paths (the hub caches opened arrays for the life of the app).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bioimage_hub.api.app import create_app
from bioimage_hub.config import Settings, get_settings
from bioimage_hub.graph.driver import sync_driver
from bioimage_hub.pixels.convert import SourceImage, convert
from bioimage_hub.pixels.graph import delete_pixels, representation, node_properties, write_pixels
from bioimage_hub.pixels.register import inspect
from bioimage_hub.pixels.store import open_store, parse_url, request_counter

console = Console(stderr=True)
IMAGE_ID = "idr0023-experimentA/Nup107-aa33-51_antibody_1/nup107_low600_corr1_8.tif"
BUCKET = "bench-pixels"
Z = 3  # the z plane every region reads

# (name, level, x, y, w, h, channels (1-based, OMERO `c`))
REGIONS = [
    ("256² tile, 1 ch", 0, 512, 512, 256, 256, "1"),
    ("512² off-grid, 1 ch", 0, 300, 700, 512, 512, "1"),
    ("1024² 2 ch (shards x4)", 0, 512, 512, 1024, 1024, "1,2"),
    ("level 1 full plane, 1 ch", 1, 0, 0, None, None, "1"),
    ("level 3 full plane, 2 ch", 3, 0, 0, None, None, "1,2"),
]


def synthetic(size: int) -> SourceImage:
    """Smooth blobs + noise: compresses like microscopy, not like random numbers."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    data = np.empty((1, 2, 8, size, size), dtype=np.uint16)
    for c in range(2):
        for z in range(8):
            base = 2000 + 1500 * np.sin(6.28 * (xx * (3 + c) + z / 8)) * np.cos(6.28 * yy * (2 + z % 3))
            data[0, c, z] = np.clip(base + rng.normal(0, 80, (size, size)), 0, 65535).astype(np.uint16)
    return SourceImage(data, "bench", ["ch1", "ch2"], ["00FF00", "FF00FF"])


async def direct_read(arr: Any, axes: list[str], level_shape: list[int], region: tuple) -> tuple[np.ndarray, int]:
    _, _, x, y, w, h, chans = region
    w = level_shape[-1] - x if w is None else w
    h = level_shape[-2] - y if h is None else h
    counter = [0]
    token = request_counter.set(counter)
    try:
        planes = await asyncio.gather(
            *(arr.getitem((0, int(c) - 1, Z, slice(y, y + h), slice(x, x + w))) for c in chans.split(","))
        )
    finally:
        request_counter.reset(token)
    return np.stack(planes), counter[0]


async def run_store(label: str, settings: Settings, url: str, repeat: int) -> list[dict[str, Any]]:
    from zarr.api.asynchronous import open_array

    summary = inspect(url, settings)
    with sync_driver(settings) as driver:
        write_pixels(driver, settings.neo4j_database, IMAGE_ID, summary)
    rep = representation(node_properties(IMAGE_ID, summary))
    assert rep is not None
    store = open_store(parse_url(url, settings), settings, read_only=True, counting=True)
    if parse_url(url).remote:
        import zarr

        zarr.config.set({"async.concurrency": settings.pixels_remote_concurrency})
    arrays = {lv: await open_array(store=store, path=rep["levels"][lv]["path"], mode="r", zarr_format=3)
              for lv in {r[1] for r in REGIONS}}
    app = create_app(settings)
    rows = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            path = f"/pixels/{quote(IMAGE_ID, safe='/')}/region"
            for region in REGIONS:
                name, level, x, y, w, h, chans = region
                params = {"format": "npy", "level": level, "x": x, "y": y, "c": chans, "z": Z}
                if w is not None:
                    params.update(w=w, h=h)
                shape = rep["levels"][level]["shape"]
                # warm-up (opens the hub's cached array) and correctness check
                response = await client.get(path, params=params)
                response.raise_for_status()
                hub_arr = np.load(io.BytesIO(response.content))
                want, direct_requests = await direct_read(arrays[level], [], shape, (None, level, x, y, w, h, chans))
                if not np.array_equal(hub_arr, want):
                    raise SystemExit(f"{label} {name}: hub and direct reads differ")
                hub_ms: list[float] = []
                direct_ms: list[float] = []
                hub_requests = []
                for i in range(repeat):
                    order = ("hub", "direct") if i % 2 == 0 else ("direct", "hub")
                    for which in order:
                        started = time.perf_counter()
                        if which == "hub":
                            r = await client.get(path, params=params)
                            r.raise_for_status()
                            np.load(io.BytesIO(r.content))
                            hub_ms.append((time.perf_counter() - started) * 1000)
                            hub_requests.append(int(r.headers["x-store-requests"]))
                        else:
                            await direct_read(arrays[level], [], shape, (None, level, x, y, w, h, chans))
                            direct_ms.append((time.perf_counter() - started) * 1000)
                hub, direct = statistics.median(hub_ms), statistics.median(direct_ms)
                rows.append({
                    "store": label, "region": name, "level": level, "pixels": int(hub_arr.size),
                    "hubMs": round(hub, 2), "directMs": round(direct, 2), "ratio": round(hub / direct, 2),
                    "hubStoreRequests": statistics.median(hub_requests), "directStoreRequests": direct_requests,
                })
                console.print(f"{label:6} {name:28} hub {hub:7.2f} ms  direct {direct:7.2f} ms  "
                              f"x{hub / direct:.2f}  requests {rows[-1]['hubStoreRequests']}/{direct_requests}")
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log lines

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    settings = get_settings().model_copy(update={
        "s3_endpoint_url": endpoint, "s3_access_key_id": "bench",
        "s3_secret_access_key": SecretStr("bench"), "pixels_max_region_pixels": 4096 * 4096,
    })
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = synthetic(args.size)
            started = time.perf_counter()
            local = convert(source, Path(tmp) / "bench.ome.zarr", settings).url
            convert_local = time.perf_counter() - started
            started = time.perf_counter()
            s3 = convert(source, f"s3://{BUCKET}/bench.ome.zarr", settings).url
            convert_s3 = time.perf_counter() - started
            console.print(f"converted {source.data.nbytes / 2**20:.0f} MiB: local {convert_local:.1f} s, "
                          f"moto S3 {convert_s3:.1f} s")
            rows += await run_store("local", settings, local, args.repeat)
            rows += await run_store("s3", settings, s3, args.repeat)
    finally:
        with sync_driver(settings) as driver:
            delete_pixels(driver, settings.neo4j_database, IMAGE_ID)
        server.stop()
    result = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "image": {"shape": list(source.data.shape), "dtype": "uint16"},
        "convertSeconds": {"local": round(convert_local, 2), "s3": round(convert_s3, 2)},
        "repeat": args.repeat,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        table = Table(title="Pixel regions: hub HTTP (ASGI, npy) vs direct zarr read (median ms)")
        for col in ("store", "region", "pixels", "hub", "direct", "ratio", "requests hub/direct"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["store"], r["region"], str(r["pixels"]), f"{r['hubMs']:.2f}", f"{r['directMs']:.2f}",
                          f"{r['ratio']:.2f}", f"{r['hubStoreRequests']}/{r['directStoreRequests']}")
        Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
