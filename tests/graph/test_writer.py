"""Imports are idempotent and atomic, against the real Neo4j."""

from __future__ import annotations

import pytest

from bioimage_hub.graph.migrations import migrate, schema_version
from bioimage_hub.graph.writer import label_counts, write_ontology, write_study
from bioimage_hub.importers.idr.reader import read_study
from bioimage_hub.ontology.reader import read_ontology
from tests.api import expected
from tests.conftest import CMPO, counts


def _folder(prefix: str):
    return next(f for f in expected.study_folders() if f.name.startswith(prefix))


def test_reimporting_a_study_changes_nothing(loaded, driver) -> None:
    db = loaded.neo4j_database
    before = counts(driver, db)
    write_study(driver, db, read_study(_folder("idr0025")))
    write_study(driver, db, read_study(_folder("idr0004")))
    assert counts(driver, db) == before


def test_reloading_an_ontology_changes_nothing(loaded, driver) -> None:
    db = loaded.neo4j_database
    before = counts(driver, db)
    write_ontology(driver, db, read_ontology(CMPO))
    assert counts(driver, db) == before


def test_a_failed_study_write_leaves_nothing(loaded, driver) -> None:
    db = loaded.neo4j_database
    parsed = read_study(_folder("idr0035"))
    parsed.study.accession = "idr9999"
    for images in parsed.images.values():
        for image in images:
            image.id = image.id.replace("idr0035", "idr9999")
    parsed.images = {k.replace("idr0035", "idr9999"): v for k, v in parsed.images.items()}
    for d in parsed.datasets:
        d.id = d.id.replace("idr0035", "idr9999")
    before = counts(driver, db)

    def explode(_n: int) -> None:
        raise RuntimeError("disk full (simulated after the first batch was written)")

    with pytest.raises(RuntimeError, match="disk full"):
        write_study(driver, db, parsed, progress=explode)
    assert counts(driver, db) == before
    assert label_counts(driver, db, "idr9999") == {}


def test_migrations_are_idempotent_and_recorded(loaded, driver) -> None:
    db = loaded.neo4j_database
    result = migrate(driver, db)
    assert result.applied == []
    assert schema_version(driver, db) == result.version >= 3
    records, _, _ = driver.execute_query("SHOW CONSTRAINTS YIELD labelsOrTypes, properties", database_=db)
    constrained = {(r["labelsOrTypes"][0], r["properties"][0]) for r in records}
    for label, key in [("Study", "accession"), ("Image", "id"), ("Gene", "id"), ("OntologyTerm", "id"),
                       ("Publication", "id"), ("Dataset", "id"), ("Plate", "id"), ("Well", "id")]:
        assert (label, key) in constrained
    records, _, _ = driver.execute_query("SHOW FULLTEXT INDEXES YIELD name", database_=db)
    assert "hub_search" in {r["name"] for r in records}


def test_study_label_counts_match_csv(loaded, driver) -> None:
    folder = _folder("idr0004")
    rows = expected.rows(folder)
    got = label_counts(driver, loaded.neo4j_database, "idr0004")
    assert got["Image"] == len(rows)
    assert got["Plate"] == len({r["Plate"] for r in rows})
    assert got["Well"] == len(rows)
    assert got["Study"] == 1
