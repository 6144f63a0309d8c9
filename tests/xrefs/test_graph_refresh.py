"""Cross-references in the real graph: links, refresh with one-hop following, cached data kept
when a resource is unreachable, the curator CLI. Everything added is removed at the end (the
session graph is shared with tests that compare node counts)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import neo4j
import pytest
from typer.testing import CliRunner

from bioimage_hub.cli import app
from bioimage_hub.importers.idr.reader import read_study
from bioimage_hub.xrefs import refresh as refresh_module
from bioimage_hub.xrefs.clients import ClientSettings, HttpClient
from bioimage_hub.xrefs.graph import SubjectNotFound, link, unlink, write_links
from bioimage_hub.xrefs.identifiers import InvalidCrossReference
from bioimage_hub.xrefs.idr import xrefs_from_parsed_study
from bioimage_hub.xrefs.refresh import refresh
from tests.api import expected
from tests.conftest import counts
from tests.xrefs.conftest import recorded_handler

SUBJECT = "idr0023"
runner = CliRunner()


def _snapshot(driver: neo4j.Driver, db: str) -> dict:
    nodes, _, _ = driver.execute_query(
        "MATCH (x:CrossReference) RETURN elementId(x) AS eid, properties(x) AS props", database_=db
    )
    rels, _, _ = driver.execute_query(
        "MATCH ()-[r:LINKS_TO|RELATED_TO]->() RETURN elementId(r) AS eid", database_=db
    )
    return {"nodes": {r["eid"]: r["props"] for r in nodes}, "rels": {r["eid"] for r in rels}}


@pytest.fixture(scope="module")
def graph(loaded, driver) -> Iterator[tuple[neo4j.Driver, str]]:
    """The session graph, restored exactly (cross-reference nodes, links, properties) afterwards."""
    db = loaded.neo4j_database
    from bioimage_hub.graph.migrations import migrate

    migrate(driver, db)  # 008_xrefs (constraint + indexes) if the session graph predates it
    before_counts = counts(driver, db)
    before = _snapshot(driver, db)
    yield driver, db
    after = _snapshot(driver, db)
    new_rels = sorted(after["rels"] - before["rels"])
    driver.execute_query("UNWIND $ids AS id MATCH ()-[r]->() WHERE elementId(r) = id DELETE r",
                         ids=new_rels, database_=db)
    new_nodes = sorted(set(after["nodes"]) - set(before["nodes"]))
    driver.execute_query("UNWIND $ids AS id MATCH (x) WHERE elementId(x) = id DETACH DELETE x",
                         ids=new_nodes, database_=db)
    for eid, props in before["nodes"].items():
        driver.execute_query("MATCH (x) WHERE elementId(x) = $eid SET x = $props",
                             eid=eid, props=props, database_=db)
    assert counts(driver, db) == before_counts
    assert _snapshot(driver, db) == before


def _node(driver: neo4j.Driver, db: str, xid: str) -> dict | None:
    records, _, _ = driver.execute_query(
        "MATCH (x:CrossReference {id: $id}) RETURN properties(x) AS p", id=xid, database_=db
    )
    return dict(records[0]["p"]) if records else None


async def _no_sleep(_seconds: float) -> None:
    return None


def _http(handler, calls=None) -> HttpClient:
    return HttpClient(
        ClientSettings(retries=1), transport=httpx.MockTransport(recorded_handler(calls, handler)),
        sleep=_no_sleep,
    )


def test_write_links_is_idempotent_and_replaces_only_its_source(graph) -> None:
    driver, db = graph
    parsed = read_study(next(f for f in expected.study_folders() if f.name.startswith(SUBJECT)))
    refs = xrefs_from_parsed_study(parsed)

    def write(tx, items, source="idr"):
        return write_links(tx, "Study", SUBJECT, items, source=source)

    with driver.session(database=db) as session:
        session.execute_write(write, refs)
        first = counts(driver, db)
        session.execute_write(write, refs)  # what re-importing the study does
        assert counts(driver, db) == first
        session.execute_write(write, ["EMD-2660"], "test")  # another source
        session.execute_write(write, refs)  # the idr set again: the test link stays
    records, _, _ = driver.execute_query(
        "MATCH (:Study {accession: $s})-[r:LINKS_TO]->(x) RETURN r.source AS source, x.id AS id ORDER BY id",
        s=SUBJECT, database_=db,
    )
    got = {(r["source"], r["id"]) for r in records}
    assert ("idr", "idr:idr0023") in got and ("idr", "pubmed:23845946") in got
    assert ("idr", "doi:10.1126/science.1240672") in got and ("test", "emdb:EMD-2660") in got
    node = _node(driver, db, "idr:idr0023")
    assert node == {"id": "idr:idr0023", "resource": "idr", "accession": "idr0023",
                    "url": "https://idr.openmicroscopy.org/search/?query=Name:idr0023"}

    with driver.session(database=db) as session:
        with pytest.raises(SubjectNotFound):
            session.execute_write(lambda tx: write_links(tx, "Study", "idr9876", ["EMD-2660"]))
        with pytest.raises(InvalidCrossReference, match="EMDB"):
            session.execute_write(lambda tx: write_links(tx, "Study", SUBJECT, ["EMD-1"]))
        with pytest.raises(ValueError, match="not 'Gene'"):
            session.execute_write(lambda tx: write_links(tx, "Gene", "x", ["EMD-2660"]))
    assert unlink(driver, db, SUBJECT, "emdb:EMD-2660", source="test") == 1


async def test_refresh_follows_one_hop_empiar_emdb_pdb(graph) -> None:
    driver, db = graph
    assert link(driver, db, SUBJECT, "https://www.ebi.ac.uk/empiar/EMPIAR-10028/", source="test")[0] == "Study"
    calls: list[httpx.Request] = []
    progress: list[tuple[str, int, int]] = []
    async with _http(None, calls) as http:
        result = await refresh(driver, db, resources=["empiar", "emdb", "pdb"], http=http,
                               progress=lambda *a: progress.append(a))
    # hops=1: the linked EMPIAR entry and its EMDB map are fetched; the fitted models are linked
    assert result.fetched["empiar"] >= 1 and result.fetched["emdb"] >= 1
    assert "pdb" not in result.fetched
    fetched_urls = {str(r.url) for r in calls}
    assert "https://www.ebi.ac.uk/empiar/api/entry/EMPIAR-10028" in fetched_urls
    assert "https://www.ebi.ac.uk/emdb/api/entry/EMD-2660" in fetched_urls
    assert result.rounds >= 2 and progress[-1][1] == progress[-1][2]

    empiar = _node(driver, db, "empiar:EMPIAR-10028")
    assert empiar["title"].startswith("Plasmodium falciparum 80S ribosome")
    assert empiar["experimentType"] == "EMDB" and empiar["fetchedStatus"] == "ok"
    assert "fetchError" not in empiar  # null: the last attempt succeeded
    assert empiar["fetchedAt"] == empiar["attemptedAt"]
    emdb = _node(driver, db, "emdb:EMD-2660")
    assert (emdb["method"], emdb["resolution"]) == ("singleParticle", 3.2)
    assert emdb["url"] == "https://www.ebi.ac.uk/emdb/EMD-2660"
    pdb = _node(driver, db, "pdb:3j79")
    assert pdb["url"] == "https://www.wwpdb.org/pdb?id=pdb_00003j79" and "fetchedAt" not in pdb

    chain, _, _ = driver.execute_query(
        "MATCH (:Study {accession: $s})-[:LINKS_TO]->(e:CrossReference {id: 'empiar:EMPIAR-10028'})"
        "-[:RELATED_TO {relation: 'map'}]->(m:CrossReference)-[:RELATED_TO {relation: 'fitted_model'}]->"
        "(p:CrossReference) RETURN m.id AS map, collect(p.id) AS models",
        s=SUBJECT, database_=db,
    )
    assert [(r["map"], sorted(r["models"])) for r in chain] == [("emdb:EMD-2660", ["pdb:3j79", "pdb:3j7a"])]

    # a second run within max-age has nothing to do
    async with _http(None) as http:
        again = await refresh(driver, db, resources=["empiar", "emdb", "pdb"], http=http)
    assert again.attempted == 0

    # hops=2 also fetches the PDB models: 3J79 is recorded, 3J7A answers 404
    before = counts(driver, db)
    async with _http(None) as http:
        deeper = await refresh(driver, db, resources=["pdb"], hops=2, http=http)
    assert deeper.fetched["pdb"] == 1 and deeper.not_found["pdb"] == 1
    assert _node(driver, db, "pdb:3j79")["title"].endswith("large subunit")
    missing = _node(driver, db, "pdb:3j7a")
    assert missing["fetchedStatus"] == "not_found" and "fetchedAt" not in missing
    assert "404" in missing["fetchError"]
    # the PDB entry links back to its map (no new node: EMD-2660 exists)
    assert counts(driver, db)[0] == before[0]


async def test_unreachable_resource_keeps_cached_metadata(graph) -> None:
    driver, db = graph
    link(driver, db, SUBJECT, "EMPIAR-10028", source="test")
    async with _http(None) as http:
        await refresh(driver, db, resources=["empiar", "emdb"], http=http)
    cached = _node(driver, db, "emdb:EMD-2660")
    assert cached["title"] and cached["fetchedStatus"] == "ok"
    links_before = counts(driver, db)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    async with _http(down) as http:
        result = await refresh(driver, db, resources=["empiar", "emdb"], max_age_days=0, http=http)
    assert result.failed["emdb"] >= 1 and result.failed["empiar"] >= 1 and not result.fetched
    after = _node(driver, db, "emdb:EMD-2660")
    for key in ("title", "method", "resolution", "authors", "fetchedAt"):
        assert after[key] == cached[key], key  # cached data and its age are served unchanged
    assert after["fetchedStatus"] == "error" and "unreachable" in after["fetchError"]
    assert after["attemptedAt"] > after["fetchedAt"]
    assert counts(driver, db) == links_before  # RELATED_TO links kept too
    assert any(e["id"] == "emdb:EMD-2660" for e in result.errors)

    # back online: the next refresh succeeds and clears the error
    async with _http(None) as http:
        await refresh(driver, db, resources=["emdb"], max_age_days=0, http=http)
    healed = _node(driver, db, "emdb:EMD-2660")
    assert healed["fetchedStatus"] == "ok" and healed.get("fetchError") is None
    assert healed["fetchedAt"] > cached["fetchedAt"]
    assert counts(driver, db) == links_before  # refetching is idempotent


async def test_publication_metadata_from_europe_pmc(graph) -> None:
    driver, db = graph
    link(driver, db, SUBJECT, "PMID:23845946", source="test")
    async with _http(None) as http:
        result = await refresh(driver, db, resources=["pubmed"], max_age_days=0, hops=0, http=http)
    assert result.fetched["pubmed"] >= 1
    pub = _node(driver, db, "pubmed:23845946")
    assert (pub["journal"], pub["year"]) == ("Science (New York, N.Y.)", 2013)
    assert pub["authors"][0] == "Szymborska A"
    records, _, _ = driver.execute_query(
        "MATCH (:CrossReference {id: 'pubmed:23845946'})-[r:RELATED_TO]->(y) RETURN r.relation AS rel, y.id AS id",
        database_=db,
    )
    assert {(r["rel"], r["id"]) for r in records} == {("same_as", "doi:10.1126/science.1240672")}


def test_curator_cli_link_unlink_and_refresh(graph, loaded, monkeypatch) -> None:
    driver, db = graph
    monkeypatch.setattr("bioimage_hub.xrefs.cli.get_settings", lambda: loaded)

    result = runner.invoke(app, ["xrefs", "link", SUBJECT, "emd_2660", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"subject": SUBJECT, "label": "Study", "crossReference": "emdb:EMD-2660",
                    "url": "https://www.ebi.ac.uk/emdb/EMD-2660", "source": "curator"}
    image_id = driver.execute_query(
        "MATCH (i:Image {study: $s}) RETURN i.id AS id ORDER BY id LIMIT 1", s=SUBJECT, database_=db
    ).records[0]["id"]
    result = runner.invoke(app, ["xrefs", "link", image_id, "pdb_00003j79"])
    assert result.exit_code == 0, result.output
    assert "Image" in result.output and "pdb:3j79" in result.output

    bad = runner.invoke(app, ["xrefs", "link", SUBJECT, "EMD-12"])
    assert bad.exit_code == 2 and "EMDB" in bad.output and "4 to 6 digits" in bad.output
    missing = runner.invoke(app, ["xrefs", "link", "idr9876", "EMD-2660"])
    assert missing.exit_code == 2 and "idr9876" in missing.output

    monkeypatch.setattr(
        "bioimage_hub.xrefs.cli.refresh",
        functools.partial(refresh, transport=httpx.MockTransport(recorded_handler())),
    )
    result = runner.invoke(app, ["xrefs", "refresh", "--resource", "emdb", "--max-age", "0", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["fetched"]["emdb"] >= 1 and summary["rounds"] >= 1
    bad_resource = runner.invoke(app, ["xrefs", "refresh", "--resource", "uniprot"])
    assert bad_resource.exit_code == 2 and "no metadata API" in bad_resource.output

    result = runner.invoke(app, ["xrefs", "unlink", image_id, "pdb:3j79", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["removed"] == 1


def test_refresh_resource_names() -> None:
    assert refresh_module.resolve_resources(None) == ["doi", "emdb", "empiar", "pdb", "pmc", "pubmed"]
    assert refresh_module.resolve_resources(["pubmed", "EMDB"]) == ["pubmed", "pmc", "doi", "emdb"]
    with pytest.raises(InvalidCrossReference):
        refresh_module.resolve_resources(["nope"])
    assert datetime.now(UTC)  # keep the import used
