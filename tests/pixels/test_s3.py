"""S3: a real S3 HTTP endpoint (moto's ThreadedMotoServer on 127.0.0.1, an ephemeral port):
conversion writes there through obstore, regions are ranged reads, chunk URLs and presigned URLs
point at the endpoint, and an unreachable store is a 503 with a reason."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, quote, urlparse

import httpx
import numpy as np
import pytest
import tifffile

from bioimage_hub.pixels.register import inspect

from .conftest import BUCKET, IMAGES, app_client, s3_settings

pytestmark = pytest.mark.asyncio


def region_url(tail: str = "region") -> str:
    return f"/pixels/{quote(IMAGES['s3'], safe='/')}/{tail}"


async def test_s3_store_summary(stores, pix_settings) -> None:
    summary = inspect(stores["s3"], pix_settings)
    assert summary["url"] == f"s3://{BUCKET}/demo/nuclei.ome.zarr"
    assert summary["labels"] == ["nuclei"] and summary["levels"][0]["shards"] == [1, 1, 16, 256, 256]


@pytest.mark.parametrize("z", [0, 15, 16, 59])
async def test_s3_regions_equal_the_tiff_with_ranged_reads_only(pclient, samples, z) -> None:
    source = tifffile.imread(samples["nuclei"])
    response = await pclient.get(region_url(), params={"format": "npy", "z": z, "x": 100, "y": 3, "w": 156, "h": 80})
    assert response.status_code == 200, response.text
    np.testing.assert_array_equal(np.load(io.BytesIO(response.content))[0], source[z, 3:83, 100:256])
    # once the array's metadata is cached: the shard index and the chunk, two ranged GETs
    again = await pclient.get(region_url(), params={"format": "npy", "z": z, "w": 8, "h": 8})
    assert again.headers["x-store-requests"] == "2"


async def test_s3_chunk_urls_point_at_the_endpoint(gql_pix, samples, s3_endpoint) -> None:
    import numcodecs

    data = await gql_pix(
        """query($id: ID!) { image(id: $id) { pixels { url httpUrl
             chunkUrls(region: {z: 40, width: 1, height: 1}) { url range key }
             signed: chunkUrls(region: {z: 40, width: 1, height: 1}, expiresIn: 600) { url }
             presignedUrl(expiresIn: 600) viewerLinks { name url } } } }""",
        {"id": IMAGES["s3"]},
    )
    pixels = data["image"]["pixels"]
    assert pixels["url"] == f"s3://{BUCKET}/demo/nuclei.ome.zarr"
    assert pixels["httpUrl"] == f"{s3_endpoint}/{BUCKET}/demo/nuclei.ome.zarr"
    (ref,) = pixels["chunkUrls"]
    assert ref["url"] == f"{s3_endpoint}/{BUCKET}/demo/nuclei.ome.zarr/0/c/0/0/2/0/0"
    async with httpx.AsyncClient() as client:
        private = await client.get(ref["url"], headers={"Range": ref["range"]})
        assert private.status_code == 403  # the bucket is private: that is what presigned URLs are for
        chunk = await client.get(pixels["signed"][0]["url"], headers={"Range": ref["range"]})
        assert chunk.status_code == 206
        plane = np.frombuffer(numcodecs.Blosc().decode(chunk.content), dtype="<u2").reshape(256, 256)
        np.testing.assert_array_equal(plane, tifffile.imread(samples["nuclei"])[40])
        # presigned URLs: moto does not check signatures, so check their shape and expiry
        for signed in (pixels["presignedUrl"], pixels["signed"][0]["url"]):
            query = parse_qs(urlparse(signed).query)
            assert query["X-Amz-Expires"] == ["600"] and "X-Amz-Signature" in query
        meta = await client.get(pixels["presignedUrl"])
        assert meta.status_code == 200 and meta.json()["attributes"]["ome"]["version"] == "0.5"
    vizarr = next(v["url"] for v in pixels["viewerLinks"] if v["name"] == "vizarr")
    assert vizarr.endswith(quote(pixels["httpUrl"], safe=""))


async def test_unreachable_store_is_503_with_a_reason(loaded, registered) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = s3_settings(loaded, f"http://127.0.0.1:{port}", pixels_store_timeout_s=2)
    async for client in app_client(down):
        response = await client.get(region_url(), params={"format": "npy", "w": 8, "h": 8})
        assert response.status_code == 503, response.text
        assert "unreachable" in response.json()["error"] and "Traceback" not in response.text
        thumb = await client.get(region_url("thumbnail.png"))
        assert thumb.status_code == 503
