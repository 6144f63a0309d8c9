"""Mixed load, CI-sized (issue 8): the load function of bench/load.py, in-process, against the
session's app and graph: 16 clients for ~5 s of reads, term searches, pixel regions and thumbnails,
new submissions and revisions. No request may fail, and the graph must hold every acknowledged
submission exactly once and nothing else.

Submissions use their own accession prefix (S-TLOADSMOKE-) and are purged afterwards; the sample
pixels are registered on idr0023 images the pixel tests do not use, and unregistered afterwards, so
other tests see the graph they expect."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator

import httpx
import neo4j
import pytest
import yaml

from bioimage_hub.config import PROJECT_ROOT, Settings
from tests.pixels.conftest import IMAGES, NO_PIXELS
from tests.submission.conftest import EXAMPLE, purge

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import load as load_bench  # noqa: E402

PREFIX = "S-TLOADSMOKE-"
# the example's images, counted from the YAML file itself
EXAMPLE_IMAGES = sum(len(d["images"]) for d in yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["datasets"])


@pytest.fixture(scope="module")
def clean_prefix(loaded: Settings, driver: neo4j.Driver) -> Iterator[str]:
    purge(driver, loaded.neo4j_database, PREFIX)
    yield PREFIX
    purge(driver, loaded.neo4j_database, PREFIX)


@pytest.fixture(scope="module")
def pixel_images(loaded: Settings, driver: neo4j.Driver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The demo's sample images converted to a temporary store and registered on free idr0023 images."""
    import bioimage_hub.cli  # noqa: F401 - first: it mounts pixels.cli (importing that first is circular)
    from bioimage_hub.pixels.cli import DEMO_PIXELS, _package_file, convert_pixels, register_pixels
    from bioimage_hub.pixels.graph import delete_pixels

    db = loaded.neo4j_database
    settings = loaded.model_copy(update={"pixels_root": tmp_path_factory.mktemp("load-pixels")})
    avoid = set(IMAGES.values()) | {NO_PIXELS}
    rows, _, _ = driver.execute_query(
        "MATCH (i:Image {study: 'idr0023'}) WHERE NOT (i)-[:HAS_PIXELS]->() RETURN i.id AS id ORDER BY id LIMIT 20",
        database_=db)
    free = [r["id"] for r in rows if r["id"] not in avoid]
    made: list[str] = []
    try:
        for (package, relative, axes, _label, _demo_image), image in zip(DEMO_PIXELS, free, strict=False):
            source = _package_file(package, relative)
            if source is None:
                continue
            summary = convert_pixels(settings, source, str(settings.pixels_root / f"{source.stem}.ome.zarr"), axes=axes)
            register_pixels(settings, image, summary)
            made.append(image)
        if not made:
            pytest.skip("the sample image packages are not installed")
        yield made
    finally:
        for image in made:
            delete_pixels(driver, db, image)


async def test_mixed_load_has_no_errors_and_loses_nothing(
    loaded: Settings, driver: neo4j.Driver, clean_prefix: str, pixel_images: list[str]
) -> None:
    from bioimage_hub.api.app import create_app

    db = loaded.neo4j_database
    plan = load_bench.make_plan(driver, db)
    plan.pixels = [p for p in plan.pixels if p.image in pixel_images]  # only the pixels registered here
    assert len(plan.pixels) == len(pixel_images)
    mix = {**load_bench.MIX, "submit": 8, "resubmit": 8}  # more writes than the bench, for a short run
    app = create_app(loaded.model_copy(update={"accession_prefix": clean_prefix}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        report = await load_bench.load_and_verify(
            lambda: httpx.AsyncClient(transport=transport, base_url="http://hub.test", timeout=60.0),
            plan, driver, db, clients=16, seconds=5, mix=mix,
        )

    assert report["errors"] == 0, report["error_samples"]
    assert set(report["kinds"]) == set(mix), report["kinds"].keys()  # every kind ran
    sub = report["submissions"]
    assert sub["checks"] == dict.fromkeys(sub["checks"], True), sub
    assert sub["acknowledged_new"] >= 5 and sub["acknowledged_revisions"] >= 1, sub  # 4 base studies + new ones

    # Independently of the checker: what is under this prefix is exactly what was acknowledged.
    rows, _, _ = driver.execute_query(
        "MATCH (s:Study) WHERE s.accession STARTS WITH $p "
        "RETURN s.owner AS owner, COUNT { (s)-[:HAS_DATASET]->()-[:HAS_IMAGE]->() } AS images, "
        "COUNT { (:StudyVersion)-[:VERSION_OF]->(s) } AS versions, s.version AS current",
        p=clean_prefix, database_=db)
    assert len(rows) == sub["acknowledged_new"]
    assert {r["owner"] for r in rows} == {report["submitter"]}
    assert all(r["images"] == EXAMPLE_IMAGES and r["current"] == r["versions"] for r in rows)
    assert sum(r["versions"] for r in rows) == sub["acknowledged_new"] + sub["acknowledged_revisions"]
    titles, _, _ = driver.execute_query(
        "MATCH (v:StudyVersion) WHERE v.accession STARTS WITH $p RETURN v.document AS d", p=clean_prefix, database_=db)
    markers = [load_bench._marker(yaml.safe_load(r["d"])["study"]["title"]) for r in titles]
    assert None not in markers and len(set(markers)) == len(markers)


def test_verify_reports_lost_and_phantom_submissions(loaded: Settings, driver: neo4j.Driver, clean_prefix: str) -> None:
    """The checker itself: an acknowledgement with nothing behind it is lost, a version nobody was
    told about is a phantom."""
    from bioimage_hub.submission.service import submit

    db = loaded.neo4j_database
    who = f"load-check-{secrets.token_hex(3)}"
    plan = load_bench.Plan([], [], [], [], [], [], [], [], load_bench.example_document())
    seen, unseen, missing = (f"load-0a1b2c3d-new-c1-n{n}" for n in (1, 2, 3))
    first = submit(driver, db, load_bench.document_with(plan, seen), submitter=who, prefix=clean_prefix)
    submit(driver, db, load_bench.document_with(plan, unseen), submitter=who, prefix=clean_prefix)  # never acknowledged
    tally = load_bench.Tally()
    tally.acks = [load_bench.Ack(seen, first.accession, 1, True, True, None),
                  load_bench.Ack(missing, f"{clean_prefix}999999", 1, True, True, None)]
    result = load_bench.verify(driver, db, who, tally, EXAMPLE_IMAGES)
    assert (result["lost"], result["phantom"], result["duplicated"]) == ([missing], [unseen], [])
    failed = {name for name, ok in result["checks"].items() if not ok}
    assert failed == {"no_lost", "no_phantom", "studies_match_acknowledged"}
