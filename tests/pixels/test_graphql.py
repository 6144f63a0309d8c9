"""`Image.pixels` in GraphQL: the summary from the graph, computed fields in Python, and still ONE
Cypher statement per root field whatever is selected."""

from __future__ import annotations

import pytest

from .conftest import IMAGES, NO_PIXELS

pytestmark = pytest.mark.asyncio

FULL = """
query($id: ID!) { image(id: $id) { id hasPixels pixels {
  url format version kind name dtype sizeX sizeY sizeZ sizeC sizeT levelCount labels registeredAt
  axes { name type unit }
  levels { index path shape chunks shards dtype scale translation zarrFormat shardIndex { chunksPerShard location bytes } }
  channels { index label color active window { start end min max } }
  plate { name }
  httpUrl presignedUrl thumbnailUrl(size: 128)
  regionUrl(level: 0, region: {x: 1, y: 2, width: 3, height: 4, z: 5, channels: [0]}, format: "npy")
  viewerLinks { name url }
  chunkUrls(level: 0, region: {z: 59}) { key url range empty }
} } }
"""


async def test_full_pixels_selection_is_one_statement(gql_pix, pix_settings) -> None:
    data = await gql_pix(FULL, {"id": IMAGES["nuclei"]})
    image = data["image"]
    assert image["hasPixels"] is True
    p = image["pixels"]
    assert p["url"] == (pix_settings.pixels_root / "nuclei.ome.zarr").as_uri()
    assert (p["version"], p["kind"], p["dtype"], p["sizeZ"], p["levelCount"]) == ("0.5", "image", "uint16", 60, 1)
    assert p["labels"] == ["nuclei"] and p["presignedUrl"] is None and p["plate"] is None
    assert p["levels"][0]["shardIndex"] == {"chunksPerShard": [1, 1, 16, 1, 1], "location": "end", "bytes": 260}
    assert p["channels"][0]["window"]["end"] > p["channels"][0]["window"]["start"]
    assert p["thumbnailUrl"].endswith("/SUM_trans_norm.tif/thumbnail.png?size=128")
    assert p["regionUrl"].endswith("region?level=0&x=1&y=2&z=5&t=0&w=3&h=4&c=1&format=npy")
    assert {v["name"] for v in p["viewerLinks"]} == {"vizarr", "neuroglancer", "ome-ngff-validator"}
    assert [c["key"] for c in p["chunkUrls"]] == ["0/c/0/0/3/0/0"]


async def test_pixels_on_a_page_of_images_is_one_statement(gql_pix) -> None:
    data = await gql_pix(
        """{ images(first: 50, filter: {study: "idr0023"}) { nodes { id hasPixels
             pixels { url levels { shape } channels { label } viewerLinks { url } thumbnailUrl } } } }"""
    )
    with_pixels = {n["id"] for n in data["images"]["nodes"] if n["pixels"]}
    assert set(IMAGES.values()) <= with_pixels
    assert all(n["hasPixels"] == (n["id"] in with_pixels) for n in data["images"]["nodes"])


async def test_image_without_pixels(gql_pix) -> None:
    data = await gql_pix("""query($id: ID!) { image(id: $id) { hasPixels pixels { url } } }""", {"id": NO_PIXELS})
    assert data["image"] == {"hasPixels": False, "pixels": None}


async def test_chunk_urls_errors_are_client_errors(pclient) -> None:
    response = await pclient.post(
        "/graphql",
        json={"query": """query($id: ID!) { image(id: $id) { pixels { chunkUrls(level: 7) { key } } } }""",
              "variables": {"id": IMAGES["nuclei"]}},
    )
    errors = response.json()["errors"]
    assert "level=7 is out of range" in errors[0]["message"]


async def test_unsharded_v04_chunk_urls(gql_pix) -> None:
    data = await gql_pix(
        """query($id: ID!) { image(id: $id) { pixels { version levels { shards }
             chunkUrls(level: 0, region: {x: 30, y: 20, width: 10, height: 10}) { key range } } } }""",
        {"id": IMAGES["omezarr"]},
    )
    pixels = data["image"]["pixels"]
    assert pixels["levels"][0]["shards"] is None
    assert all(c["range"] is None for c in pixels["chunkUrls"])
    assert [c["key"].split("/c/")[-1] for c in pixels["chunkUrls"]] == ["0/0", "0/1", "1/0", "1/1"]  # 25x35 chunks
