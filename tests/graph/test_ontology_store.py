"""Ontology storage in the real Neo4j: closures against pronto (CMPO, FBbi, HP), the
hierarchical closure with part_of, term properties, TermName search nodes, idempotent reloads."""

from __future__ import annotations

import random
from collections import defaultdict, deque
from pathlib import Path

import pronto
import pytest

from bioimage_hub.graph.migrations import migrate
from bioimage_hub.ontology.loader import load_ontology
from bioimage_hub.ontology.reader import read_ontology
from tests.conftest import CMPO, FBBI, counts
from tests.ontology.helpers import closure, remove_ontology
from tests.ontology.test_reader import _hp_path, canon, load_pronto
from tests.ontology.test_reader_fields import TSTO_OBO


def _expected_from_pronto(onto: pronto.Ontology) -> dict[str, dict[str, int]]:
    """Every term's ancestors (distance >= 1) by BFS over pronto's direct superclasses."""
    ups = {t.id: [s.id for s in t.superclasses(distance=1, with_self=False)] for t in onto.terms()}
    out = {}
    for tid in ups:
        dist = {tid: 0}
        queue = deque([tid])
        while queue:
            cur = queue.popleft()
            for up in ups.get(cur, ()):
                if up not in dist:
                    dist[up] = dist[cur] + 1
                    queue.append(up)
        c = canon(tid)
        if c is not None:
            out[c] = {canon(a): n for a, n in dist.items() if n and canon(a) is not None and canon(a) != c}
    return out


def _descendants(anc: dict[str, dict[str, int]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for d, ancestors in anc.items():
        for a in ancestors:
            out[a].add(d)
    return out


def _check_against_pronto(graph: dict[str, dict[str, int]], onto: pronto.Ontology, sample: int | None) -> None:
    expected = _expected_from_pronto(onto)
    for tid, ancestors in expected.items():
        assert graph.get(tid, {}) == ancestors, tid
    assert set(graph) <= set(expected)
    # and pronto's own superclasses()/subclasses() (transitive), on every term or a sample
    ids = sorted(t.id for t in onto.terms())
    if sample is not None:
        ids = random.Random(3).sample(ids, sample)
    down = _descendants(graph)
    for raw in ids:
        tid = canon(raw)
        if tid is None:
            continue
        term = onto[raw]
        sup = {canon(t.id) for t in term.superclasses(with_self=False)} - {None, tid}
        sub = {canon(t.id) for t in term.subclasses(with_self=False)} - {None, tid}
        assert set(graph.get(tid, {})) == sup, tid
        assert down.get(tid, set()) == sub, tid


@pytest.mark.parametrize(("source", "path"), [("cmpo", CMPO), ("fbbi", FBBI)])
def test_closure_equals_pronto_for_every_term(loaded, driver, source: str, path: Path) -> None:
    db = loaded.neo4j_database
    onto = load_pronto(path)
    isa = closure(driver, db, source)
    _check_against_pronto(isa, onto, sample=None)
    # no part_of in these files: the hierarchical closure is the is_a closure
    assert closure(driver, db, source, "HIERARCHICAL_CLOSURE") == isa
    # the direct edges are the distance-1 rows
    records, _, _ = driver.execute_query(
        "MATCH (c)-[r:IS_A {source: $s}]->(p) RETURN collect([c.id, p.id]) AS e", s=source, database_=db
    )
    assert {tuple(e) for e in records[0]["e"]} == {(d, a) for d, m in isa.items() for a, n in m.items() if n == 1}


def test_term_properties_and_ontology_node(loaded, driver) -> None:
    db = loaded.neo4j_database
    parsed = {t.id: t for t in read_ontology(CMPO).terms}
    records, _, _ = driver.execute_query(
        "MATCH (t:OntologyTerm {definedBy: 'cmpo'}) RETURN properties(t) AS t", database_=db
    )
    assert len(records) == 399
    for r in records:
        t, p = r["t"], parsed[r["t"]["id"]]
        assert t["labelLower"] == p.label.lower()
        assert t["synonyms"] == [s.text for s in p.synonyms]
        assert t["synonymScopes"] == [s.scope for s in p.synonyms]
        assert t["synonymTypes"] == [s.type or "" for s in p.synonyms]
        assert t["xrefs"] == p.xrefs and t["subsets"] == p.subsets
        assert t.get("namespace") == p.namespace
        assert t["stub"] is False and t["obsolete"] is False
    t140 = next(r["t"] for r in records if r["t"]["id"] == "CMPO:0000140")
    assert t140["subsets"] == ["cmpo"]
    records, _, _ = driver.execute_query("MATCH (o:Ontology) RETURN properties(o) AS o ORDER BY o.id", database_=db)
    onto = {r["o"]["id"]: r["o"] for r in records}
    assert (onto["cmpo"]["termCount"], onto["cmpo"]["obsoleteCount"]) == (399, 0)
    assert (onto["fbbi"]["termCount"], onto["fbbi"]["obsoleteCount"]) == (633, 107)
    assert onto["cmpo"]["fileChecksum"] == read_ontology(CMPO).file_checksum
    # FBbi's makes_use_of relationships, kept by name
    records, _, _ = driver.execute_query(
        "MATCH (:OntologyTerm)-[r:RELATED {source: 'fbbi'}]->(:OntologyTerm) "
        "RETURN r.relation AS rel, r.relationId AS rid, count(*) AS n",
        database_=db,
    )
    assert [(r["rel"], r["rid"], r["n"]) for r in records] == [("makes_use_of", "FBbi:00000346", 45)]


def test_term_names(loaded, driver) -> None:
    db = loaded.neo4j_database
    records, _, _ = driver.execute_query(
        "MATCH (n:TermName)-[:NAMES]->(t:OntologyTerm {id: 'CMPO:0000140'}) RETURN properties(n) AS n ORDER BY n.id",
        database_=db,
    )
    names = [r["n"] for r in records]
    assert [(n["kind"], n.get("scope"), n["text"]) for n in names] == [
        ("label", None, "increased nucleus size phenotype"),
        ("synonym", "BROAD", "increased DNA area"),
        ("synonym", "EXACT", "large nuclei"),
        ("synonym", "EXACT", "large nucleus"),
    ]
    assert names[0]["id"] == "CMPO:0000140|label||increased nucleus size phenotype"
    assert names[1]["id"] == "CMPO:0000140|synonym|BROAD|increased dna area"
    assert all(n["ontology"] == "cmpo" and n["obsolete"] is False for n in names)
    assert all(n["textLower"] == n["text"].lower() for n in names)
    # one name per label and distinct synonym of every own term, none for stubs
    expected = 0
    for path in (CMPO, FBBI):
        for t in read_ontology(path).terms:
            if not t.stub:
                expected += bool(t.label) + len({(s.text.lower(), s.scope) for s in t.synonyms})
    records, _, _ = driver.execute_query(
        "MATCH (n:TermName)-[:NAMES]->(t:OntologyTerm) WHERE t.definedBy IN ['cmpo', 'fbbi'] RETURN count(n) AS n",
        database_=db,
    )
    assert records[0]["n"] == expected
    obsolete, _, _ = driver.execute_query(
        "MATCH (n:TermName {obsolete: true})-[:NAMES]->(t:OntologyTerm) RETURN count(DISTINCT t) AS n", database_=db
    )
    assert obsolete[0]["n"] == 107  # FBbi's obsolete terms keep their names, flagged


def test_search_indexes_exist(loaded, driver) -> None:
    migrate(driver, loaded.neo4j_database)
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, type, labelsOrTypes, properties", database_=loaded.neo4j_database
    )
    got = {(r["type"], tuple(r["labelsOrTypes"] or ()), tuple(r["properties"] or ())) for r in records}
    assert ("TEXT", ("TermName",), ("textLower",)) in got
    assert ("RANGE", ("TermName",), ("textLower",)) in got
    assert ("RANGE", ("TermName",), ("id",)) in got
    assert ("RANGE", ("TermName",), ("ontology",)) in got
    assert ("FULLTEXT", ("TermName",), ("text",)) in got
    assert ("RANGE", ("OntologyTerm",), ("labelLower",)) in got


def test_loading_the_same_file_twice_changes_nothing(loaded, driver) -> None:
    db = loaded.neo4j_database
    before = counts(driver, db)
    reports = driver.execute_query("MATCH (u:OntologyUpgrade) RETURN count(u) AS n", database_=db).records[0]["n"]
    result = load_ontology(driver, db, CMPO)
    assert result.status == "unchanged" and result.report is None
    assert counts(driver, db) == before
    forced = load_ontology(driver, db, FBBI, force=True)  # rewritten as a delta: nothing to do
    assert forced.status == "reloaded" and forced.created == {} and forced.deleted == {}
    assert counts(driver, db) == before
    assert driver.execute_query("MATCH (u:OntologyUpgrade) RETURN count(u) AS n", database_=db).records[0]["n"] == reports


# ---- part_of: a small ontology with its own prefix ------------------------------------------------

TSTH = TSTO_OBO.replace("TSTO", "TSTH").replace("ontology: tsto", "ontology: tsth")


def test_hierarchical_closure_follows_part_of(loaded, driver, tmp_path: Path) -> None:
    db = loaded.neo4j_database
    path = tmp_path / "tsth.obo"
    path.write_text(TSTH, encoding="utf-8")
    before = counts(driver, db)
    try:
        result = load_ontology(driver, db, path)
        assert (result.ontology, result.status, result.part_of) == ("tsth", "loaded", 3)
        onto = load_pronto(path)
        # is_a closure vs pronto; hierarchical vs our BFS over pronto's is_a + part_of
        _check_against_pronto(closure(driver, db, "tsth"), onto, sample=None)
        from tests.ontology.test_reader_fields import _hier_bfs

        hier = closure(driver, db, "tsth", "HIERARCHICAL_CLOSURE")
        for term in onto.terms():
            expected = {a: n for a, n in _hier_bfs(onto, term).items() if n}
            assert hier.get(term.id, {}) == expected, term.id
        assert hier["TSTH:0000002"]["GO:0005575"] == 3
        assert "GO:0005575" not in closure(driver, db, "tsth")["TSTH:0000002"]
        rels, _, _ = driver.execute_query(
            "MATCH (c)-[r:PART_OF|RELATED|REPLACED_BY|CONSIDER {source: 'tsth'}]->(p) "
            "RETURN type(r) AS t, c.id AS c, p.id AS p, r.relation AS rel ORDER BY t, c, p",
            database_=db,
        )
        assert [(r["t"], r["c"], r["p"], r["rel"]) for r in rels] == [
            ("CONSIDER", "TSTH:0000005", "GO:0005634", None),
            ("PART_OF", "TSTH:0000002", "TSTH:0000003", None),
            ("PART_OF", "TSTH:0000003", "TSTH:0000004", None),
            ("PART_OF", "TSTH:0000004", "GO:0005575", None),
            ("RELATED", "TSTH:0000002", "TSTH:0000001", "develops from"),
            ("REPLACED_BY", "TSTH:0000005", "TSTH:0000002", None),
        ]
        stubs, _, _ = driver.execute_query(
            "MATCH (t:OntologyTerm) WHERE t.id IN ['GO:0005575', 'GO:0005634'] RETURN t.stub AS s, t.ontology AS o",
            database_=db,
        )
        assert [(r["s"], r["o"]) for r in stubs] == [(True, "go"), (True, "go")]
        synonym_type, _, _ = driver.execute_query(
            "MATCH (t:OntologyTerm {id: 'TSTH:0000002'}) RETURN t.synonymTypes AS st, t.namespace AS ns", database_=db
        )
        assert synonym_type[0]["st"] == ["layperson", ""] and synonym_type[0]["ns"] == "tsto_ns"
    finally:
        remove_ontology(driver, db, "tsth", stubs=("GO:0005575", "GO:0005634"))
    assert counts(driver, db) == before


# ---- HP (19,484 terms) under its own id ----------------------------------------------------------


def test_hp_closure_equals_pronto(loaded, driver) -> None:
    db = loaded.neo4j_database
    path = _hp_path()
    before = counts(driver, db)
    try:
        result = load_ontology(driver, db, path)
        assert (result.ontology, result.status, result.terms) == ("hp", "loaded", 19_484)
        onto = load_pronto(path)
        isa = closure(driver, db, "hp")
        _check_against_pronto(isa, onto, sample=1500)
        assert len(_descendants(isa)["HP:0000118"]) == len(onto["HP:0000118"].subclasses(with_self=False).to_set())
        assert closure(driver, db, "hp", "HIERARCHICAL_CLOSURE") == isa  # hp.obo has no part_of
        names, _, _ = driver.execute_query(
            "MATCH (n:TermName {ontology: 'hp'}) RETURN count(n) AS n, count(DISTINCT n.id) AS ids", database_=db
        )
        parsed = read_ontology(path)
        expected = sum(bool(t.label) + len({(s.text.lower(), s.scope) for s in t.synonyms}) for t in parsed.terms)
        assert names[0]["n"] == names[0]["ids"] == expected
        replaced, _, _ = driver.execute_query(
            "MATCH (:OntologyTerm)-[r:REPLACED_BY {source: 'hp'}]->() RETURN count(r) AS n", database_=db
        )
        assert replaced[0]["n"] == sum(len(t.replaced_by) for t in parsed.terms)
        again = load_ontology(driver, db, path)
        assert again.status == "unchanged"
    finally:
        remove_ontology(driver, db, "hp")
    assert counts(driver, db) == before
