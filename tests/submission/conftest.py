"""Submission tests share the session graph (IDR studies + CMPO/FBbi): each module submits under
its own accession prefix and removes what it wrote when it is done, so other tests see the graph
they expect."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import neo4j
import pytest
import yaml

from bioimage_hub.config import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "submission.yaml"


def example() -> dict[str, Any]:
    return copy.deepcopy(_EXAMPLE)


_EXAMPLE = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def purge(driver: neo4j.Driver, database: str, prefix: str) -> None:
    """Delete every study under `prefix` with what it owns, its versions and counter, and the genes /
    reagents / organisms it alone used."""
    for label in ("Image", "Well", "Plate", "Dataset", "Phenotype"):
        driver.execute_query(f"MATCH (n:{label}) WHERE n.study STARTS WITH $p DETACH DELETE n", p=prefix, database_=database)
    driver.execute_query(
        "MATCH (s:Study) WHERE s.accession STARTS WITH $p OPTIONAL MATCH (v:StudyVersion)-[:VERSION_OF]->(s) DETACH DELETE v, s",
        p=prefix, database_=database,
    )
    driver.execute_query("MATCH (c:AccessionCounter {prefix: $p}) DELETE c", p=prefix, database_=database)
    driver.execute_query(
        "MATCH (g:Gene) WHERE g.id STARTS WITH 'ENSG' AND NOT EXISTS { (g)<-[:HAS_GENE]-() } DETACH DELETE g",
        database_=database,
    )
    driver.execute_query(
        "MATCH (r:Reagent) WHERE NOT EXISTS { (r)<-[:HAS_REAGENT]-() } DETACH DELETE r", database_=database
    )
    driver.execute_query(
        "MATCH (o:Organism) WHERE NOT EXISTS { (o)<-[:OF_ORGANISM]-() } DETACH DELETE o", database_=database
    )


@pytest.fixture(scope="module")
def prefix(request: pytest.FixtureRequest, loaded, driver) -> Iterator[str]:
    """An accession prefix of this test module (e.g. S-TSUBMIT-), cleaned up afterwards."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "")[:10].upper()
    value = f"S-T{name}-"
    purge(driver, loaded.neo4j_database, value)
    yield value
    purge(driver, loaded.neo4j_database, value)
