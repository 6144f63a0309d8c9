"""Helpers for graph tests of ontology storage: read a whole closure in one query, and remove a
test ontology again so that the shared session graph is what the other tests expect."""

from __future__ import annotations

from collections import defaultdict

import neo4j


def closure(driver: neo4j.Driver, db: str, source: str, rel: str = "IS_A_CLOSURE") -> dict[str, dict[str, int]]:
    """descendant -> {ancestor: distance} of the `rel` closure rows a load of `source` wrote."""
    assert rel in ("IS_A_CLOSURE", "HIERARCHICAL_CLOSURE")
    records, _, _ = driver.execute_query(
        f"MATCH (d:OntologyTerm)-[r:{rel}]->(a:OntologyTerm) WHERE r.source = $source "
        "RETURN collect([d.id, a.id, r.distance]) AS rows",
        source=source,
        database_=db,
    )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for d, a, n in records[0]["rows"]:
        assert a not in out[d], f"two {rel} rows {d} -> {a}"
        out[d][a] = n
    return out


def remove_ontology(driver: neo4j.Driver, db: str, source: str, stubs: tuple[str, ...] = ()) -> None:
    """Delete everything a load of `source` wrote, and the given stub terms if nothing else uses
    them (in batches: test clean-up, not atomic)."""
    with driver.session(database=db) as session:
        for rel in ("IS_A_CLOSURE", "HIERARCHICAL_CLOSURE", "IS_A", "PART_OF", "RELATED", "REPLACED_BY", "CONSIDER"):
            session.run(
                f"MATCH ()-[r:{rel}]->() WHERE r.source = $source "
                "CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS",
                source=source,
            ).consume()
        session.run(
            "MATCH (:OntologyTerm {definedBy: $source})<-[:NAMES]-(n:TermName) "
            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS",
            source=source,
        ).consume()
        session.run(
            "MATCH (t:OntologyTerm {definedBy: $source}) WHERE NOT EXISTS { (t)--() } "
            "CALL (t) { DELETE t } IN TRANSACTIONS OF 20000 ROWS",
            source=source,
        ).consume()
        session.run(
            "UNWIND $ids AS id MATCH (t:OntologyTerm {id: id}) WHERE NOT EXISTS { (t)--() } DELETE t",
            ids=list(stubs),
        ).consume()
        session.run("MATCH (u:OntologyUpgrade {ontology: $source}) DETACH DELETE u", source=source).consume()
        session.run("MATCH (o:Ontology {id: $source}) DETACH DELETE o", source=source).consume()
