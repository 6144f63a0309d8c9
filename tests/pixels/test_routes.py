"""HTTP pixel routes over local stores: regions round-trip to the source TIFF (several levels, z,
t, c, edges), PNGs decode to the expected rendering, thumbnails are cached; every bad request gets
a status and a reason, never a traceback."""

from __future__ import annotations

import io
from urllib.parse import quote

import numpy as np
import pytest
import tifffile
from PIL import Image

from bioimage_hub.pixels.convert import downsample_mean, pyramid, read_image

from .conftest import IMAGES, NO_PIXELS

pytestmark = pytest.mark.asyncio


def url(name: str, tail: str) -> str:
    return f"/pixels/{quote(IMAGES[name], safe='/')}/{tail}"


async def npy(client, name: str, **params) -> np.ndarray:
    response = await client.get(url(name, "region"), params={"format": "npy", **params})
    assert response.status_code == 200, response.text
    assert response.headers["x-cypher-statements"] == "1"
    return np.load(io.BytesIO(response.content))


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({}, lambda d: d[0, 0, 0]),
        ({"t": 17}, lambda d: d[17, 0, 0]),
        ({"t": 29, "x": 500, "y": 0, "w": 11, "h": 40}, lambda d: d[29, 0, 0, 0:40, 500:511]),  # right edge
        ({"t": 3, "x": 250, "y": 250, "w": 261, "h": 261}, lambda d: d[3, 0, 0, 250:511, 250:511]),  # corner
    ],
)
async def test_timelapse_level0_equals_tiff(pclient, samples, params, expect) -> None:
    source = tifffile.imread(samples["timelapse"])[:, None, None]  # t, c, z, y, x
    got = await npy(pclient, "timelapse", **params)
    np.testing.assert_array_equal(got[0], expect(source))


async def test_timelapse_level1_is_the_mean_pyramid(pclient, samples) -> None:
    source = tifffile.imread(samples["timelapse"])[:, None, None]
    level1 = downsample_mean(source)
    got = await npy(pclient, "timelapse", level=1, t=5, x=200, y=128, w=56, h=128)  # to the edge (256)
    np.testing.assert_array_equal(got[0], level1[5, 0, 0, 128:256, 200:256])


@pytest.mark.parametrize("z", [0, 16, 31, 59])  # first, shard boundary, middle, last
async def test_nuclei_z_planes_across_shards(pclient, samples, z) -> None:
    source = tifffile.imread(samples["nuclei"])
    got = await npy(pclient, "nuclei", z=z, x=37, y=5, w=100, h=251)
    np.testing.assert_array_equal(got, source[z : z + 1, 5:256, 37:137])


async def test_multichannel_ome_tiff_levels_and_channels(pclient, multi_tiff) -> None:
    source = tifffile.imread(multi_tiff)  # t, c, z, y, x
    levels = pyramid(source)
    assert [lv.shape[-2:] for lv in levels] == [(600, 700), (300, 350), (150, 175)]
    got = await npy(pclient, "multi", level=0, t=1, z=3, c="3,1", x=650, y=550, w=50, h=50)
    np.testing.assert_array_equal(got, source[1, [0, 2], 3, 550:600, 650:700])  # active channels, in channel order
    for level in (1, 2):
        got = await npy(pclient, "multi", level=level, t=0, z=2, c="2")
        np.testing.assert_array_equal(got[0], levels[level][0, 1, 2])


async def test_multichannel_metadata_from_ome_tiff(pclient, gql_pix) -> None:
    data = await gql_pix(
        """query($id: ID!) { image(id: $id) { pixels { sizeT sizeC sizeZ channels { label color }
             levels { scale } axes { name unit } } } }""",
        {"id": IMAGES["multi"]},
    )
    pixels = data["image"]["pixels"]
    assert (pixels["sizeT"], pixels["sizeC"], pixels["sizeZ"]) == (2, 3, 4)
    assert [c["label"] for c in pixels["channels"]] == ["DAPI", "GFP", "mCherry"]
    assert pixels["levels"][0]["scale"] == [1.0, 1.0, 2.0, 0.5, 0.5]
    assert pixels["levels"][2]["scale"][-1] == pytest.approx(0.5 * 700 / 175)
    assert {a["name"]: a["unit"] for a in pixels["axes"]}["x"] == "micrometer"


async def test_png_is_the_expected_rendering(pclient, multi_tiff) -> None:
    source = tifffile.imread(multi_tiff)
    response = await pclient.get(
        url("multi", "region"), params={"t": 0, "z": 1, "x": 10, "y": 20, "w": 64, "h": 48,
                                        "c": "1|100:3000$FF0000,-2|0:10$0000FF,3|0:5000$00FF00"},
    )
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    png = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    a = np.clip((source[0, 0, 1, 20:68, 10:74].astype(np.float64) - 100) / 2900, 0, 1)
    b = np.clip(source[0, 2, 1, 20:68, 10:74].astype(np.float64) / 5000, 0, 1)
    want = np.stack([a, b, np.zeros_like(a)], axis=-1)
    assert png.shape == (48, 64, 3)
    assert np.abs(png.astype(int) - np.rint(want * 255).astype(int)).max() <= 1


async def test_greyscale_mode_and_default_settings(pclient) -> None:
    grey = await pclient.get(url("multi", "region"), params={"m": "g", "c": "2|0:5000", "w": 32, "h": 32})
    img = np.asarray(Image.open(io.BytesIO(grey.content)).convert("RGB"))
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    default = await pclient.get(url("nuclei", "region"), params={"z": 30})
    assert default.status_code == 200 and Image.open(io.BytesIO(default.content)).size == (256, 256)


async def test_thumbnail_from_smallest_adequate_level_cached(pclient) -> None:
    first = await pclient.get(url("multi", "thumbnail.png"), params={"size": 64})
    assert first.status_code == 200 and first.headers["x-thumbnail-cache"] == "miss"
    assert Image.open(io.BytesIO(first.content)).size == (64, 55)
    second = await pclient.get(url("multi", "thumbnail.png"), params={"size": 64})
    assert second.headers["x-thumbnail-cache"] == "hit" and second.content == first.content
    assert second.headers["x-store-requests"] == "0"
    big = await pclient.get(url("timelapse", "thumbnail.png"))  # default 96
    assert Image.open(io.BytesIO(big.content)).size == (96, 96)


@pytest.mark.parametrize(
    ("name", "tail", "params", "status", "reason"),
    [
        ("multi", "region", {"level": 3}, 400, "levels 0..2"),
        ("multi", "region", {"x": 690, "w": 20, "h": 10}, 400, "exceeds level 0, which is 700x600"),
        ("multi", "region", {"z": 4, "w": 8, "h": 8}, 400, "z=4 is out of range 0..3"),
        ("multi", "region", {"t": -1, "w": 8, "h": 8}, 400, "t=-1 is out of range"),
        ("multi", "region", {"c": "4", "w": 8, "h": 8}, 400, "channel 4 is out of range 1..3"),
        ("multi", "region", {"c": "1|5:2", "w": 8, "h": 8}, 400, "is empty"),
        ("multi", "region", {"c": "red", "w": 8, "h": 8}, 400, "OMERO syntax"),
        ("multi", "region", {"x": "a"}, 400, "not an integer"),
        ("multi", "region", {"w": 0, "h": 5}, 400, "must be > 0"),
        ("multi", "region", {"format": "tiff", "w": 8, "h": 8}, 400, "use png or npy"),
        ("multi", "region", {}, 400, "exceeds the limit of 300000 pixels"),  # 700 x 600 x 3
        ("multi", "thumbnail.png", {"size": 5}, 400, "between 16 and 1024"),
        ("multi", "zarr/0/%2E%2E/%2E%2E/%2E%2E/etc/passwd", {}, 400, "not an object key"),
        ("nuclei", "zarr/0/c/9/9/9/9/9", {}, 404, "no object"),
        ("gone", "region", {"w": 8, "h": 8}, 502, "has no array"),
    ],
)
async def test_bad_requests_get_a_status_and_a_reason(pclient, name, tail, params, status, reason) -> None:
    response = await pclient.get(url(name, tail), params=params)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]
    assert "Traceback" not in response.text


async def test_missing_image_and_image_without_pixels_are_404(pclient) -> None:
    response = await pclient.get("/pixels/no/such/image/region")
    assert response.status_code == 404 and "no image with id 'no/such/image'" in response.json()["error"]
    response = await pclient.get(f"/pixels/{quote(NO_PIXELS)}/thumbnail.png")
    assert response.status_code == 404 and "has no pixels" in response.json()["error"]


async def test_ome_zarr_py_data_serves(pclient, pix_settings) -> None:
    import zarr

    data = zarr.open_group(pix_settings.pixels_root / "coins.ome.zarr", mode="r")
    got = await npy(pclient, "omezarr", level=1, x=3, y=4, w=50, h=60)
    np.testing.assert_array_equal(got[0], data["s1"][4:64, 3:53] if "s1" in data else data["1"][4:64, 3:53])
    response = await pclient.get(url("omezarr", "thumbnail.png"), params={"size": 32})
    assert response.status_code == 200


async def test_chunk_urls_byte_ranges_decode_to_the_pixels(pclient, gql_pix, samples) -> None:
    """A client reading chunks itself: GET each byte range from the hub's /zarr route, decode."""
    import numcodecs

    data = await gql_pix(
        """query($id: ID!) { image(id: $id) { pixels { httpUrl
             chunkUrls(level: 0, region: {x: 0, y: 0, width: 10, height: 10, z: 17}) {
               key url range chunk shard empty } } } }""",
        {"id": IMAGES["nuclei"]},
    )
    (ref,) = data["image"]["pixels"]["chunkUrls"]
    assert ref["key"] == "0/c/0/0/1/0/0" and ref["chunk"] == [0, 0, 17, 0, 0] and ref["shard"] == [0, 0, 1, 0, 0]
    assert ref["url"].startswith("http://hub.test/pixels/") and ref["range"].startswith("bytes=")
    response = await pclient.get(ref["url"].removeprefix("http://hub.test"), headers={"Range": ref["range"]})
    assert response.status_code == 206
    plane = np.frombuffer(numcodecs.Blosc().decode(response.content), dtype="<u2").reshape(256, 256)
    np.testing.assert_array_equal(plane, tifffile.imread(samples["nuclei"])[17])
    meta = await pclient.get(data["image"]["pixels"]["httpUrl"].removeprefix("http://hub.test") + "/zarr.json")
    assert meta.json()["attributes"]["ome"]["version"] == "0.5"


async def test_labels_are_served_as_their_own_zarr(pclient, samples) -> None:
    meta = await pclient.get(url("nuclei", "zarr/labels/nuclei/zarr.json"))
    assert meta.status_code == 200 and "image-label" in meta.json()["attributes"]["ome"]
    assert read_image(samples["nuclei_label"], "zyx").data.dtype == np.uint32


async def test_representation_lookup_cache(pix_settings, registered) -> None:
    from .conftest import app_client

    async for client in app_client(pix_settings.model_copy(update={"pixels_lookup_ttl_s": 60})):
        first = await client.get(url("nuclei", "region"), params={"format": "npy", "w": 8, "h": 8})
        second = await client.get(url("nuclei", "region"), params={"format": "npy", "w": 8, "h": 8})
        assert first.headers["x-cypher-statements"] == "1" and second.headers["x-cypher-statements"] == "0"
        assert first.content == second.content
