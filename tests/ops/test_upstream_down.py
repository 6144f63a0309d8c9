"""The pixel store goes away under a running app (a real S3 endpoint: moto's ThreadedMotoServer on
a fixed loopback port, stopped and started again on the same port, its objects kept in memory).

Refused connections, a black hole (accepts, never answers) and an S3 that answers 500 all give the
pixel routes a quick JSON error naming the store - 503 STORE_UNAVAILABLE / STORE_TIMEOUT (bounded by
PIXELS_STORE_TIMEOUT_S) or 502 STORE_ERROR - while /graphql, /healthz and /readyz keep answering
200; when S3 is back the same app serves pixels again, without a restart.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import httpx
import neo4j
import numpy as np
import pytest
from pydantic import SecretStr

from bioimage_hub.config import Settings
from tests.ops.upstream import answering, black_hole, free_port, status_answer

pytestmark = pytest.mark.asyncio

BUCKET = "hub-outage"
STORE_TIMEOUT_S = 2.0


class MotoS3:
    """moto's S3 server on a fixed port, stoppable and restartable (moto keeps its state in process)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    boto3 = pytest.importorskip("boto3")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    s3 = MotoS3(free_port())
    s3.start()
    boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    try:
        yield s3
    finally:
        s3.stop()


@pytest.fixture(scope="module")
def outage_settings(loaded: Settings, moto_s3: MotoS3) -> Settings:
    return loaded.model_copy(update={
        "s3_endpoint_url": moto_s3.endpoint, "s3_access_key_id": "testing", "s3_secret_access_key": SecretStr("testing"),
        "s3_region": "us-east-1", "pixels_store_timeout_s": STORE_TIMEOUT_S, "pixels_lookup_ttl_s": 0,
    })


@pytest.fixture(scope="module")
def pixels_on_s3(outage_settings: Settings, driver: neo4j.Driver) -> Iterator[tuple[str, str, np.ndarray]]:
    """A 2-channel 300x200 uint16 image written to S3 as OME-Zarr, registered on a public idr0004 image."""
    from bioimage_hub.pixels.convert import SourceImage, convert
    from bioimage_hub.pixels.graph import delete_pixels, write_pixels
    from bioimage_hub.pixels.register import inspect

    db = outage_settings.neo4j_database
    records, _, _ = driver.execute_query("MATCH (i:Image {study: 'idr0004'}) RETURN i.id AS id ORDER BY id LIMIT 1",
                                         database_=db)
    image_id = records[0]["id"]
    data = np.random.default_rng(8).integers(0, 60000, (1, 2, 1, 200, 300), dtype=np.uint16)
    url = convert(SourceImage(data=data, name="outage"), f"s3://{BUCKET}/outage.ome.zarr", outage_settings).url
    write_pixels(driver, db, image_id, inspect(url, outage_settings))
    try:
        yield image_id, url, data
    finally:
        delete_pixels(driver, db, image_id)


@pytest.fixture(scope="module")
async def hub(outage_settings: Settings, pixels_on_s3) -> AsyncIterator[httpx.AsyncClient]:
    from bioimage_hub.api.app import create_app

    app = create_app(outage_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
            yield c


def routes(image_id: str, size: int) -> dict[str, tuple[str, dict]]:
    """One request per pixel route; `size` varies so thumbnails are not served from the cache."""
    base = f"/pixels/{quote(image_id, safe='/')}"
    return {
        "region": (f"{base}/region", {"format": "npy", "x": 10, "y": 20, "w": 64, "h": 32, "c": "2"}),
        "thumbnail": (f"{base}/thumbnail.png", {"size": size}),
        "chunk": (f"{base}/zarr/0/zarr.json", {}),
    }


async def assert_serving(hub: httpx.AsyncClient, image_id: str, data: np.ndarray, size: int) -> None:
    """Every pixel route answers, and the region is exactly the array written to S3."""
    answers = {name: await hub.get(path, params=params) for name, (path, params) in routes(image_id, size).items()}
    assert {name: r.status_code for name, r in answers.items()} == {"region": 200, "thumbnail": 200, "chunk": 200}
    region = np.load(io.BytesIO(answers["region"].content))
    assert np.array_equal(region, data[0, 1:2, 0, 20:52, 10:74])
    assert answers["thumbnail"].content[:8] == b"\x89PNG\r\n\x1a\n"
    assert answers["chunk"].json()["node_type"] == "array"


async def assert_failing(hub: httpx.AsyncClient, image_id: str, url: str, size: int, status: int, code: str,
                         within_s: float) -> None:
    """Every pixel route answers `status` with a JSON error naming the store, within `within_s`."""
    for name, (path, params) in routes(image_id, size).items():
        started = time.monotonic()
        response = await hub.get(path, params=params)
        elapsed = time.monotonic() - started
        assert response.status_code == status, (name, response.text)
        body = response.json()
        assert body["code"] == code and body["store"] == url and url in body["error"], (name, body)
        assert "Traceback" not in response.text and "testing" not in response.text  # no credentials
        assert elapsed < within_s, (name, elapsed)
        if status == 503:
            assert response.headers["retry-after"] == "5"


async def assert_rest_of_the_hub_works(hub: httpx.AsyncClient, image_id: str) -> None:
    query = {"query": "query($id: ID!) { image(id: $id) { id pixels { sizeX sizeY sizeC } } studies { totalCount } }",
             "variables": {"id": image_id}}
    answer = await hub.post("/graphql", json=query)
    assert answer.status_code == 200 and not answer.json().get("errors"), answer.text
    data = answer.json()["data"]
    assert data["image"]["pixels"] == {"sizeX": 300, "sizeY": 200, "sizeC": 2}  # from the graph, not the store
    assert data["studies"]["totalCount"] >= 8
    assert (await hub.get("/healthz")).status_code == 200
    assert (await hub.get("/readyz")).status_code == 200


async def test_s3_stopped_is_503_and_the_app_recovers(hub, moto_s3: MotoS3, pixels_on_s3) -> None:
    image_id, url, data = pixels_on_s3
    await assert_serving(hub, image_id, data, 64)
    moto_s3.stop()
    try:
        await assert_failing(hub, image_id, url, 65, 503, "STORE_UNAVAILABLE", within_s=STORE_TIMEOUT_S)
        await assert_rest_of_the_hub_works(hub, image_id)
        cached = await hub.get(routes(image_id, 64)["thumbnail"][0], params={"size": 64})
        assert cached.status_code == 200 and cached.headers["x-thumbnail-cache"] == "hit"  # served without S3
    finally:
        moto_s3.start()
    await assert_serving(hub, image_id, data, 66)  # same app, no restart


async def test_s3_black_hole_times_out_within_the_store_timeout(hub, moto_s3: MotoS3, pixels_on_s3) -> None:
    image_id, url, data = pixels_on_s3
    moto_s3.stop()
    try:
        with black_hole(moto_s3.port):
            await assert_failing(hub, image_id, url, 67, 503, "STORE_TIMEOUT", within_s=STORE_TIMEOUT_S + 1.5)
            await assert_rest_of_the_hub_works(hub, image_id)
    finally:
        moto_s3.start()
    await assert_serving(hub, image_id, data, 68)


async def test_s3_answering_500_is_502(hub, moto_s3: MotoS3, pixels_on_s3) -> None:
    image_id, url, data = pixels_on_s3
    moto_s3.stop()
    try:
        with answering(moto_s3.port, status_answer(500)) as upstream:
            await assert_failing(hub, image_id, url, 69, 502, "STORE_ERROR", within_s=STORE_TIMEOUT_S)
            assert upstream.requests  # the hub did reach it
            await assert_rest_of_the_hub_works(hub, image_id)
    finally:
        moto_s3.start()
    await assert_serving(hub, image_id, data, 70)


# --------------------------------------------------------------------------- external APIs down

XREF_SUBJECT = "idr0023"
XREF_SOURCE = "outage-test"
CACHED = ("title", "method", "resolution", "experimentType", "journal", "year", "authors", "fetchedAt")


def _xref_snapshot(driver: neo4j.Driver, db: str) -> dict:
    nodes, _, _ = driver.execute_query("MATCH (x:CrossReference) RETURN elementId(x) AS eid, properties(x) AS p",
                                       database_=db)
    rels, _, _ = driver.execute_query("MATCH ()-[r:LINKS_TO|RELATED_TO]->() RETURN elementId(r) AS eid", database_=db)
    return {"nodes": {r["eid"]: r["p"] for r in nodes}, "rels": {r["eid"] for r in rels}}


@pytest.fixture(scope="module")
def xref_graph(loaded: Settings, driver: neo4j.Driver) -> Iterator[tuple[neo4j.Driver, str]]:
    """The session graph with idr0023 linked to EMPIAR-10028 and PubMed 23845946, restored afterwards."""
    from bioimage_hub.xrefs.graph import link

    db = loaded.neo4j_database
    before = _xref_snapshot(driver, db)
    for xref in ("EMPIAR-10028", "PMID:23845946"):
        link(driver, db, XREF_SUBJECT, xref, source=XREF_SOURCE)
    yield driver, db
    after = _xref_snapshot(driver, db)
    driver.execute_query("UNWIND $ids AS id MATCH ()-[r]->() WHERE elementId(r) = id DELETE r",
                         ids=sorted(after["rels"] - before["rels"]), database_=db)
    driver.execute_query("UNWIND $ids AS id MATCH (x) WHERE elementId(x) = id DETACH DELETE x",
                         ids=sorted(set(after["nodes"]) - set(before["nodes"])), database_=db)
    for eid, props in before["nodes"].items():
        driver.execute_query("MATCH (x) WHERE elementId(x) = $eid SET x = $p", eid=eid, p=props, database_=db)
    assert _xref_snapshot(driver, db) == before


def recorded_api(_method: str, path: str, _range: str | None):  # noqa: ANN201
    """The APIs' recorded answers (tests/xrefs/fixtures), by path as the real services serve them."""
    from urllib.parse import parse_qs, urlsplit

    from tests.xrefs.conftest import FIXTURES, RECORDED

    parts = urlsplit(path)
    key = parts.path
    if key.endswith("/europepmc/webservices/rest/search"):
        key = "europepmc:" + parse_qs(parts.query).get("query", [""])[0]
    name = RECORDED.get(key)
    if name is not None:
        return 200, (FIXTURES / name).read_bytes(), "application/json"
    if key.startswith("europepmc:"):
        return 200, b'{"hitCount": 0, "resultList": {"result": []}}', "application/json"
    return 404, b'{"detail": "Not found."}', "application/json"


def api_settings(loaded: Settings, port: int) -> Settings:
    base = f"http://127.0.0.1:{port}"
    return loaded.model_copy(update={
        "xrefs_emdb_api": base + "/emdb/api/entry/{accession}",
        "xrefs_empiar_api": base + "/empiar/api/entry/{accession}",
        "xrefs_rcsb_api": base + "/rest/v1/core/entry/{accession}",
        "xrefs_europepmc_api": base + "/europepmc/webservices/rest/search",
        "xrefs_timeout_s": 2.0, "xrefs_retries": 1,
    })


async def run_refresh(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict, str]:
    """`bioimage-hub xrefs refresh --max-age 0 --hops 2 --json` (in a thread: it runs its own event loop)."""
    from typer.testing import CliRunner

    from bioimage_hub.cli import app

    monkeypatch.setattr("bioimage_hub.xrefs.cli.get_settings", lambda: settings)
    args = ["xrefs", "refresh", "--max-age", "0", "--hops", "2", "--json"]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.stdout, (result.exit_code, result.output, result.exception)
    return result.exit_code, json.loads(result.stdout), result.stderr


def cached_entries(driver: neo4j.Driver, db: str) -> dict[str, dict]:
    records, _, _ = driver.execute_query(
        "MATCH (x:CrossReference) WHERE x.id IN ['empiar:EMPIAR-10028', 'emdb:EMD-2660', 'pdb:3j79', 'pubmed:23845946'] "
        "RETURN x.id AS id, properties(x) AS p", database_=db)
    return {r["id"]: dict(r["p"]) for r in records}


CROSS_LINKS = """{ crossLinks(id: "EMD-2660") { nodes { id title resolution fetchedStatus fetchError
                     fittedModels { id } } } }"""


async def test_external_apis_down_are_reported_and_the_cache_is_kept(loaded, xref_graph, gql, monkeypatch) -> None:
    driver, db = xref_graph
    port = free_port()
    settings = api_settings(loaded, port)
    with answering(port, recorded_api):
        code, up, _ = await run_refresh(settings, monkeypatch)
    assert code == 0, up
    assert up["fetched"]["empiar"] == 1 and up["fetched"]["emdb"] >= 1 and up["fetched"]["pdb"] >= 1
    assert up["fetched"]["pubmed"] == 1 and up["unavailable"] == {}
    cached = cached_entries(driver, db)
    assert set(cached) == {"empiar:EMPIAR-10028", "emdb:EMD-2660", "pdb:3j79", "pubmed:23845946"}
    assert all(e["fetchedStatus"] == "ok" and e.get("title") for e in cached.values()), cached
    read_up = (await gql(CROSS_LINKS)).data["crossLinks"]["nodes"]

    emdb = f"EMDB entry API (http://127.0.0.1:{port}/emdb/api/entry/)"
    for outage, what in ((None, "unreachable"), (503, "HTTP 503"), (500, "HTTP 500")):
        if outage is None:  # nothing listens on the port
            code, down, stderr = await run_refresh(settings, monkeypatch)
        else:
            with answering(port, status_answer(outage)):
                code, down, stderr = await run_refresh(settings, monkeypatch)
        assert code == 1, down
        assert not down["fetched"] and down["failed"]["emdb"] >= 1 and down["failed"]["pubmed"] >= 1
        assert down["unavailable"][emdb] >= 1
        assert f"Europe PMC (http://127.0.0.1:{port}/europepmc/webservices/rest/search)" in down["unavailable"]
        entry = next(e for e in down["errors"] if e["id"] == "emdb:EMD-2660")
        assert entry["status"] == "unavailable" and entry["upstream"] == emdb and what in entry["error"], entry
        assert "entries not refreshed (cached metadata kept)" in stderr and emdb in stderr, stderr
        after = cached_entries(driver, db)
        for xid, before in cached.items():  # the cache and its age are untouched
            assert {k: after[xid].get(k) for k in CACHED} == {k: before.get(k) for k in CACHED}, xid
            assert after[xid]["fetchedStatus"] == "error" and what in after[xid]["fetchError"]
        read_down = (await gql(CROSS_LINKS)).data["crossLinks"]["nodes"]  # reads keep working, from the cache
        assert [{k: n[k] for k in ("id", "title", "resolution", "fittedModels")} for n in read_down] == [
            {k: n[k] for k in ("id", "title", "resolution", "fittedModels")} for n in read_up]
        assert read_down[0]["fetchedStatus"] == "error" and what in read_down[0]["fetchError"]

    with answering(port, recorded_api):  # back: the next run refreshes everything again
        code, again, _ = await run_refresh(settings, monkeypatch)
    assert code == 0 and again["fetched"] == up["fetched"], again
    assert all(e["fetchedStatus"] == "ok" and e.get("fetchError") is None for e in cached_entries(driver, db).values())
