"""Valid submissions: accessions, the graph they produce (read through the existing GraphQL API),
versions, diffs, ownership, concurrency and atomicity."""

from __future__ import annotations

import threading
import time

import pytest

from bioimage_hub.submission import versions
from bioimage_hub.submission.service import Forbidden, NotASubmission, StudyNotFound, submit
from tests.conftest import counts
from tests.submission.conftest import example


@pytest.fixture(scope="module")
def first(loaded, driver, prefix):
    """The example submitted once by 'alice' (version 1)."""
    return submit(driver, loaded.neo4j_database, example(), submitter="alice", prefix=prefix)


def test_a_valid_submission_gets_the_first_accession_and_version_1(first, prefix) -> None:
    assert first.accession == f"{prefix}1"
    assert (first.version, first.created, first.changed, first.images) == (1, True, True, 4)


def test_the_graph_has_the_shape_of_an_imported_study(loaded, driver, first) -> None:
    acc = first.accession
    records, _, _ = driver.execute_query(
        """
        MATCH (s:Study {accession: $acc})
        RETURN s.source AS source, s.owner AS owner, toString(s.releaseDate) AS released, s.version AS version,
               s.license AS license, s.licenseUrl AS url, s.authors AS authors,
               COUNT { (s)-[:HAS_DATASET]->(:Dataset) } AS datasets,
               COUNT { (s)-[:HAS_DATASET]->(:Dataset)-[:HAS_PLATE]->(:Plate)-[:HAS_WELL]->(:Well)-[:HAS_IMAGE]->(:Image) } AS wellImages,
               COUNT { (s)-[:HAS_DATASET]->(:Dataset)-[:HAS_IMAGE]->(:Image)-[:OF_ORGANISM]->(:Organism {id: 'NCBITaxon:9606'}) } AS humanImages,
               [(s)-[:HAS_DATASET]->(d)-[:IMAGED_BY]->(t) | t.id] AS methods,
               COUNT { (s)-[:OF_ORGANISM]->(:Organism {id: 'NCBITaxon:9606'}) } AS organisms,
               [(s)-[:PUBLISHED_IN]->(p) | p.id] AS publications,
               [(s)-[:HAS_PHENOTYPE_DEFINITION]->(p)-[:MAPPED_TO]->(t) | [p.name, t.id]] AS phenotypes,
               COUNT { (s)-[:HAS_DATASET]->()-[:HAS_IMAGE]->()-[:HAS_REAGENT]->(:Reagent:SiRNA) } AS sirnaLinks,
               COUNT { (s)-[:HAS_DATASET]->()-[:HAS_IMAGE]->()-[:HAS_GENE]->(:Gene)-[:OF_ORGANISM]->(:Organism) } AS geneLinks,
               COUNT { (v:StudyVersion)-[:VERSION_OF]->(s) } AS versionCount
        """,
        acc=acc, database_=loaded.neo4j_database,
    )
    row = records[0].data()
    assert row["source"] == "submission" and row["owner"] == "alice" and row["version"] == 1
    assert row["released"] == "2024-03-01"
    assert row["license"] == "CC BY 4.0" and row["url"].startswith("https://creativecommons.org/licenses/by/4.0")
    assert row["authors"] == ["Josiah Carberry", "Ana Ramos"]
    assert row["datasets"] == 2 and row["wellImages"] == 3 and row["humanImages"] == 4
    assert row["methods"] == ["FBbi:00000251", "FBbi:00000251"]
    assert row["organisms"] == 1 and row["publications"] == ["doi:10.1016/j.jprot.2012.01.030"]
    assert sorted(row["phenotypes"]) == [
        ["antibody localized in nuclear membrane", "CMPO:0000443"],
        ["protein localized in nuclear pore phenotype", "CMPO:0000426"],
        ["protein localized in nucleoplasm phenotype", "CMPO:0000445"],
    ]
    assert row["sirnaLinks"] == 3 and row["geneLinks"] == 3 and row["versionCount"] == 1
    image = driver.execute_query(
        "MATCH (i:Image {id: $id}) RETURN i {.*} AS i", id=f"{acc}-screenA/plate1/A1.ome.tiff",
        database_=loaded.neo4j_database,
    ).records[0]["i"]
    assert image["study"] == acc and image["format"] == "OME-TIFF" and image["sizeBytes"] == 8388608
    assert image["omeZarrUrl"].endswith("A1.ome.zarr") and image["checksum"].startswith("sha256:")


async def test_the_submission_is_readable_through_the_graphql_read_api(gql, first) -> None:
    acc = first.accession
    result = await gql(
        """query($acc: String!) {
          study(accession: $acc) { accession title source license releaseDate imageCount
            organisms { id name } publications { doi pmid }
            datasets { id kind imagingMethod { id label } images { totalCount } plates { nodes { id wells { nodes { name row column } } } } }
            phenotypes { name term { id } } genes { totalCount } }
          sub: images(filter: {study: $acc, phenotype: "CMPO:0000398"}) { totalCount nodes { id } }
          exact: images(filter: {study: $acc, phenotype: "CMPO:0000398", includeSubterms: false}) { totalCount }
          fluo: images(filter: {study: $acc, imagingMethod: "FBbi:00000246", gene: "NUP155"}) { nodes { id reagents { kind name } phenotypes { name } } }
          genes(symbol: "nup107") { nodes { id organism { id } studies { accession } } }
        }""",
        {"acc": acc},
    )
    study = result.data["study"]
    assert study["title"].startswith("Nuclear envelope protein localisation")
    assert (study["source"], study["license"], study["releaseDate"], study["imageCount"]) == ("submission", "CC BY 4.0", "2024-03-01", 4)
    assert study["organisms"] == [{"id": "NCBITaxon:9606", "name": "Homo sapiens"}]
    assert study["publications"] == [{"doi": "10.1016/j.jprot.2012.01.030", "pmid": "22361696"}]
    screen = next(d for d in study["datasets"] if d["kind"] == "screen")
    assert screen["imagingMethod"] == {"id": "FBbi:00000251", "label": "confocal microscopy"}
    assert screen["images"]["totalCount"] == 3
    wells = screen["plates"]["nodes"][0]["wells"]["nodes"]
    assert {(w["name"], w["row"], w["column"]) for w in wells} == {("A1", 0, 0), ("A2", 0, 1), ("A3", 0, 2)}
    assert study["genes"]["totalCount"] == 3
    # "protein localized in nucleus" with subterms finds the nucleoplasm, nuclear membrane and nuclear pore images
    assert result.data["sub"]["totalCount"] == 3
    assert result.data["exact"]["totalCount"] == 0
    [image] = result.data["fluo"]["nodes"]
    assert image["id"] == f"{acc}-screenA/plate1/A2.ome.tiff"
    assert image["reagents"] == [{"kind": "SiRNA", "name": "NUP155 siRNA s19376"}]
    assert image["phenotypes"] == [{"name": "antibody localized in nuclear membrane"}]
    [gene] = result.data["genes"]["nodes"]
    assert gene["organism"]["id"] == "NCBITaxon:9606" and {"accession": acc} in gene["studies"]


def test_resubmission_makes_version_2_keeps_version_1_and_diffs(loaded, driver, first) -> None:
    db = loaded.neo4j_database
    acc = first.accession
    doc = example()
    doc["study"]["title"] = "Nuclear envelope proteins after knock-down (revised)"
    doc["datasets"][0]["images"][0]["phenotypes"] = ["CMPO:0000397"]       # nucleoplasm -> nucleolus
    removed = doc["datasets"][0]["images"].pop(2)                             # drop well A3
    second = submit(driver, db, doc, submitter="alice", accession=acc)
    assert (second.accession, second.version, second.created, second.changed) == (acc, 2, False, True)

    listed = versions.list_versions(driver, db, acc)
    assert [(v.version, v.current, v.submitted_by) for v in listed] == [(1, False, "alice"), (2, True, "alice")]
    old = versions.get_version(driver, db, acc, 1)
    assert old is not None and old.document["study"]["title"].startswith("Nuclear envelope protein localisation")
    assert len(old.document["datasets"][0]["images"]) == 3
    changes = {(c.op, c.path): (c.old, c.new) for c in versions.version_diff(driver, db, acc, 1, 2)}
    assert changes[("replace", "study.title")][1].endswith("(revised)")
    assert changes[("replace", "datasets[0].images[0].phenotypes[0].term")] == ("CMPO:0000445", "CMPO:0000397")
    assert changes[("remove", "datasets[0].images[2]")][0]["path"] == removed["path"]
    assert len(changes) == 3

    # the graph holds version 2 only: A3 (image and well) gone, A1 re-annotated, stale phenotype gone
    records, _, _ = driver.execute_query(
        """MATCH (s:Study {accession: $acc})
           RETURN s.title AS title, s.version AS version,
                  COUNT { MATCH (i:Image {study: $acc}) } AS images, COUNT { MATCH (w:Well {study: $acc}) } AS wells,
                  [(i:Image {id: $a1})-[:HAS_PHENOTYPE]->(p)-[:MAPPED_TO]->(t) | t.id] AS a1,
                  [(s)-[:HAS_PHENOTYPE_DEFINITION]->(p) | p.name] AS phenotypes""",
        acc=acc, a1=f"{acc}-screenA/plate1/A1.ome.tiff", database_=db,
    )
    row = records[0]
    assert row["title"].endswith("(revised)") and row["version"] == 2
    assert (row["images"], row["wells"], row["a1"]) == (3, 2, ["CMPO:0000397"])
    assert "protein localized in nucleoplasm phenotype" not in row["phenotypes"]

    # identical document: no version 3, nothing written
    before = counts(driver, db)
    again = submit(driver, db, doc, submitter="alice", accession=acc)
    assert (again.version, again.created, again.changed) == (2, False, False)
    assert counts(driver, db) == before
    assert len(versions.list_versions(driver, db, acc)) == 2
    # an older document is a change again: version 3 equal to version 1
    third = submit(driver, db, example(), submitter="alice", accession=acc)
    assert third.version == 3 and versions.version_diff(driver, db, acc, 1, 3) == []


def test_the_same_new_document_from_the_same_submitter_is_not_a_second_study(loaded, driver, prefix) -> None:
    doc = example()
    doc["study"]["title"] = "Submitted twice by a retrying client"
    a = submit(driver, loaded.neo4j_database, doc, submitter="bob", prefix=prefix)
    b = submit(driver, loaded.neo4j_database, doc, submitter="bob", prefix=prefix)
    assert (b.accession, b.version, b.created, b.changed) == (a.accession, 1, False, False)
    c = submit(driver, loaded.neo4j_database, doc, submitter="carol", prefix=prefix)
    assert c.created and c.accession != a.accession


def test_only_the_owner_or_a_curator_may_revise(loaded, driver, prefix) -> None:
    db = loaded.neo4j_database
    doc = example()
    doc["study"]["title"] = "Owned by dave"
    mine = submit(driver, db, doc, submitter="dave", prefix=prefix)
    doc["study"]["title"] = "Edited by eve"
    before = counts(driver, db)
    with pytest.raises(Forbidden):
        submit(driver, db, doc, submitter="eve", accession=mine.accession)
    assert counts(driver, db) == before
    edited = submit(driver, db, doc, submitter="curator-frank", accession=mine.accession, may_edit_any=True)
    assert edited.version == 2
    owner = driver.execute_query("MATCH (s:Study {accession: $a}) RETURN s.owner AS o", a=mine.accession, database_=db).records[0]["o"]
    assert owner == "dave"  # a curator's revision does not change the owner
    assert [v.submitted_by for v in versions.list_versions(driver, db, mine.accession)] == ["dave", "curator-frank"]
    with pytest.raises(StudyNotFound):
        submit(driver, db, doc, submitter="dave", accession=f"{prefix}99999")
    with pytest.raises(NotASubmission):
        submit(driver, db, doc, submitter="dave", accession="idr0025", may_edit_any=True)


def test_concurrent_submissions_never_share_an_accession(loaded, driver, prefix) -> None:
    db = loaded.neo4j_database
    results, errors = [], []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        doc = example()
        doc["study"]["title"] = f"Concurrent submission {n}"
        try:
            barrier.wait()
            results.append(submit(driver, db, doc, submitter=f"user{n}", prefix=prefix))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    accessions = [r.accession for r in results]
    assert len(set(accessions)) == 6 and all(r.created and r.version == 1 for r in results)
    numbers = sorted(int(a.removeprefix(prefix)) for a in accessions)
    assert numbers == list(range(numbers[0], numbers[0] + 6))  # consecutive: no gaps, no reuse


def test_a_failed_write_leaves_nothing_and_its_number_goes_to_the_next_study(loaded, driver, prefix) -> None:
    db = loaded.neo4j_database
    counter = "MATCH (c:AccessionCounter {prefix: $p}) RETURN c.next AS n"
    next_before = driver.execute_query(counter, p=prefix, database_=db).records[0]["n"]
    before = counts(driver, db)
    doc = example()
    doc["study"]["title"] = "This write fails half-way"

    def explode(_n: int, _total: int) -> None:
        raise RuntimeError("connection lost (simulated after the first image batch)")

    with pytest.raises(RuntimeError, match="connection lost"):
        submit(driver, db, doc, submitter="gina", prefix=prefix, progress=explode)
    assert counts(driver, db) == before
    assert driver.execute_query(counter, p=prefix, database_=db).records[0]["n"] == next_before
    ok = submit(driver, db, doc, submitter="gina", prefix=prefix)
    assert ok.accession == f"{prefix}{next_before}"


def test_a_10000_image_submission(loaded, driver, prefix) -> None:
    from bench.bench_submit import large_document

    db = loaded.neo4j_database
    doc = large_document(10_000, tag="test")
    started = time.perf_counter()
    result = submit(driver, db, doc, submitter="bench", prefix=prefix)
    seconds = time.perf_counter() - started
    assert result.images == 10_000 and result.created
    records, _, _ = driver.execute_query(
        "MATCH (s:Study {accession: $a}) RETURN COUNT { MATCH (i:Image {study: $a}) } AS images, "
        "COUNT { MATCH (w:Well {study: $a}) } AS wells, COUNT { MATCH (:Image {study: $a})-[:HAS_PHENOTYPE]->() } AS annotated",
        a=result.accession, database_=db,
    )
    assert (records[0]["images"], records[0]["wells"], records[0]["annotated"]) == (10_000, 10_000, 3_334)
    print(f"\n10,000-image submission: {seconds:.1f} s")
    assert seconds < 300
