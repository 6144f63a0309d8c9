"""Ontology upgrades against the real Neo4j: the report (added, removed, obsoleted, relabelled,
moved, affected annotations), `--apply-replacements`, idempotent reloads.

Two scenarios, both leaving the shared session graph exactly as they found it:
* a synthetic ontology under its own prefix (TSTU) with a Phenotype and a Dataset pointing at it;
* a real CMPO release rewritten as an older and a newer variant, with the hub's real phenotype
  annotations (idr0023's "protein localized in nuclear pore" on CMPO:0000426); the original
  cmpo.obo and the affected studies are reloaded at the end.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioimage_hub.graph.writer import upgrade_reports, write_study
from bioimage_hub.importers.idr.reader import find_study_folders, read_study
from bioimage_hub.ontology.loader import load_ontology
from bioimage_hub.ontology.upgrade import UpgradeReport
from tests.conftest import CMPO, IDR_DIR, counts
from tests.graph.test_ontology_store import _check_against_pronto
from tests.ontology.helpers import closure, remove_ontology
from tests.ontology.test_reader import load_pronto

V1 = """\
format-version: 1.2
data-version: tstu/releases/2024-01-01
ontology: tstu

[Term]
id: TSTU:0000001
name: cell part

[Term]
id: TSTU:0000002
name: nucleus
is_a: TSTU:0000001
synonym: "cell nucleus" EXACT []

[Term]
id: TSTU:0000003
name: nuclear pore
is_a: TSTU:0000002

[Term]
id: TSTU:0000004
name: nucleolus
is_a: TSTU:0000002

[Term]
id: TSTU:0000005
name: to be dropped
is_a: TSTU:0000001

[Term]
id: TSTU:0000006
name: cytoplasm
is_a: TSTU:0000001
"""

V2 = """\
format-version: 1.2
data-version: tstu/releases/2024-06-01
ontology: tstu

[Term]
id: TSTU:0000001
name: cell part

[Term]
id: TSTU:0000002
name: nucleus
is_a: TSTU:0000006
synonym: "cell nucleus" EXACT []

[Term]
id: TSTU:0000003
name: nuclear pore
is_obsolete: true
replaced_by: TSTU:0000002

[Term]
id: TSTU:0000004
name: nucleolus
is_obsolete: true
consider: TSTU:0000002
consider: TSTU:0000006

[Term]
id: TSTU:0000006
name: cytosol
is_a: TSTU:0000001

[Term]
id: TSTU:0000007
name: new term
is_a: TSTU:0000001
"""

FAKE_ANNOTATIONS = """
MATCH (pore:OntologyTerm {id: 'TSTU:0000003'}), (nucleolus:OntologyTerm {id: 'TSTU:0000004'})
CREATE (p1:Phenotype {id: 'tstu-study:pore', name: 'pore', study: 'tstu-study'})-[:MAPPED_TO]->(pore)
CREATE (p2:Phenotype {id: 'tstu-study:nucleolus', name: 'nucleolus', study: 'tstu-study'})-[:MAPPED_TO]->(nucleolus)
CREATE (d:Dataset {id: 'tstu-study-ds', name: 'tstu/ds', study: 'tstu-study'})-[:IMAGED_BY]->(pore)
CREATE (d)-[:HAS_IMAGE]->(i1:Image {id: 'tstu-img-1', study: 'tstu-study'})-[:HAS_PHENOTYPE]->(p1)
CREATE (d)-[:HAS_IMAGE]->(i2:Image {id: 'tstu-img-2', study: 'tstu-study'})-[:HAS_PHENOTYPE]->(p1)
"""
REMOVE_FAKES = "MATCH (n) WHERE n.study = 'tstu-study' DETACH DELETE n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _reports(driver, db, ontology: str) -> int:
    return driver.execute_query(
        "MATCH (u:OntologyUpgrade {ontology: $o}) RETURN count(u) AS n", o=ontology, database_=db
    ).records[0]["n"]


def test_synthetic_upgrade_report_and_replacements(loaded, driver, tmp_path: Path, monkeypatch) -> None:
    db = loaded.neo4j_database
    v1, v2 = _write(tmp_path, "tstu-1.obo", V1), _write(tmp_path, "tstu-2.obo", V2)
    start = counts(driver, db)
    try:
        first = load_ontology(driver, db, v1)
        assert (first.status, first.report) == ("loaded", None)
        driver.execute_query(FAKE_ANNOTATIONS, database_=db)

        result = load_ontology(driver, db, v2, apply_replacements=True)
        assert result.status == "upgraded"
        report = result.report
        assert report is not None
        assert (report.ontology, report.fromVersion, report.toVersion) == ("tstu", "2024-01-01", "2024-06-01")
        c = report.changes
        assert c.added == ["TSTU:0000007"]
        assert c.removed == ["TSTU:0000005"]
        assert c.obsoleted == ["TSTU:0000003", "TSTU:0000004"]
        assert c.relabelled == [{"id": "TSTU:0000006", "from": "cytoplasm", "to": "cytosol"}]
        assert c.moved == [
            {"id": "TSTU:0000002", "label": "nucleus", "from": ["TSTU:0000001"], "to": ["TSTU:0000006"]},
            {"id": "TSTU:0000003", "label": "nuclear pore", "from": ["TSTU:0000002"], "to": []},
            {"id": "TSTU:0000004", "label": "nucleolus", "from": ["TSTU:0000002"], "to": []},
        ]
        affected = {(a.kind, a.id): a for a in report.affected}
        assert set(affected) == {
            ("phenotype", "tstu-study:pore"), ("dataset", "tstu-study-ds"), ("phenotype", "tstu-study:nucleolus")
        }
        pore = affected[("phenotype", "tstu-study:pore")]
        assert (pore.term, pore.replacement, pore.applied, pore.images, pore.study) == (
            "TSTU:0000003", "TSTU:0000002", True, 2, "tstu-study"
        )
        ds = affected[("dataset", "tstu-study-ds")]
        assert (ds.relationship, ds.replacement, ds.applied, ds.images) == ("IMAGED_BY", "TSTU:0000002", True, 2)
        nucleolus = affected[("phenotype", "tstu-study:nucleolus")]
        assert (nucleolus.replacement, nucleolus.applied, nucleolus.consider) == (
            None, False, ["TSTU:0000002", "TSTU:0000006"]
        )
        assert report.applied

        # annotations moved, with the original term kept
        rows, _, _ = driver.execute_query(
            "MATCH (x)-[r:MAPPED_TO|IMAGED_BY]->(t:OntologyTerm) WHERE x.study = 'tstu-study' "
            "RETURN x.id AS x, type(r) AS type, t.id AS t, r.originalTerm AS original, r.replacedAt IS NOT NULL AS at "
            "ORDER BY x",
            database_=db,
        )
        assert [tuple(r.values()) for r in rows] == [
            ("tstu-study-ds", "IMAGED_BY", "TSTU:0000002", "TSTU:0000003", True),
            ("tstu-study:nucleolus", "MAPPED_TO", "TSTU:0000004", None, False),
            ("tstu-study:pore", "MAPPED_TO", "TSTU:0000002", "TSTU:0000003", True),
        ]

        # the stored report is the returned one
        stored = upgrade_reports(driver, db, "tstu")
        assert len(stored) == 1 and stored[0].to_dict() == report.to_dict()
        linked, _, _ = driver.execute_query(
            "MATCH (u:OntologyUpgrade {ontology: 'tstu'})-[:UPGRADES]->(o:Ontology) "
            "RETURN o.id AS o, o.version AS v, o.obsoleteCount AS obs, o.termCount AS n, u.applied AS applied",
            database_=db,
        )
        assert [tuple(r.values()) for r in linked] == [("tstu", "2024-06-01", 2, 6, True)]

        # the graph is the new release: closure, names, the dropped term gone
        _check_against_pronto(closure(driver, db, "tstu"), load_pronto(v2), sample=None)
        names, _, _ = driver.execute_query(
            "MATCH (n:TermName)-[:NAMES]->(t:OntologyTerm) WHERE t.id STARTS WITH 'TSTU:' "
            "RETURN collect([n.text, n.obsolete]) AS names",
            database_=db,
        )
        assert sorted(map(tuple, names[0]["names"])) == [
            ("cell nucleus", False), ("cell part", False), ("cytosol", False), ("new term", False),
            ("nuclear pore", True), ("nucleolus", True), ("nucleus", False),
        ]
        gone, _, _ = driver.execute_query(
            "OPTIONAL MATCH (t:OntologyTerm {id: 'TSTU:0000005'}) RETURN t IS NULL AS gone", database_=db
        )
        assert gone[0]["gone"]
        replaced, _, _ = driver.execute_query(
            "MATCH (t)-[r:REPLACED_BY|CONSIDER {source: 'tstu'}]->(x) RETURN collect([type(r), t.id, x.id]) AS e",
            database_=db,
        )
        assert sorted(map(tuple, replaced[0]["e"])) == [
            ("CONSIDER", "TSTU:0000004", "TSTU:0000002"),
            ("CONSIDER", "TSTU:0000004", "TSTU:0000006"),
            ("REPLACED_BY", "TSTU:0000003", "TSTU:0000002"),
        ]

        # the same file again: nothing changes, no second report
        before = counts(driver, db)
        again = load_ontology(driver, db, v2, apply_replacements=True)
        assert (again.status, again.report) == ("unchanged", None)
        assert counts(driver, db) == before and _reports(driver, db, "tstu") == 1

        # the CLI prints the report of a further upgrade (back to v1) as JSON
        monkeypatch.setattr("bioimage_hub.cli.get_settings", lambda: loaded)
        from bioimage_hub.cli import app

        out = CliRunner().invoke(app, ["ontology", "load", str(v1), "--json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.stdout)
        assert data["status"] == "upgraded"
        up = data["upgrade"]
        assert (up["fromVersion"], up["toVersion"], up["added"], up["removed"]) == (
            "2024-06-01", "2024-01-01", ["TSTU:0000005"], ["TSTU:0000007"]
        )
        assert up["applied"] is False and up["affected"] == []  # v1 obsoletes nothing
        # a new annotation on TSTU:0000003 (not obsolete in v1); upgrade to v2 without applying
        driver.execute_query(
            "MATCH (t:OntologyTerm {id: 'TSTU:0000003'}) "
            "CREATE (:Phenotype {id: 'tstu-study:pore2', name: 'pore 2', study: 'tstu-study'})-[:MAPPED_TO]->(t)",
            database_=db,
        )
        text = CliRunner().invoke(app, ["ontology", "load", str(v2)])
        assert text.exit_code == 0 and "upgrade 2024-01-01 -> 2024-06-01" in text.stdout
        assert "Changed terms" in text.stdout and "Annotations on obsolete or removed terms" in text.stdout
        pending = upgrade_reports(driver, db, "tstu")[0]
        assert not pending.applied
        assert [(a.id, a.replacement, a.applied) for a in pending.affected if a.term == "TSTU:0000003"] == [
            ("tstu-study:pore2", "TSTU:0000002", False)
        ]
        # reviewed: the same file again with --apply-replacements applies them, nothing else
        applied = load_ontology(driver, db, v2, apply_replacements=True)
        assert applied.status == "applied" and applied.report.id == pending.id and applied.report.applied
        moved, _, _ = driver.execute_query(
            "MATCH (:Phenotype {id: 'tstu-study:pore2'})-[r:MAPPED_TO]->(t) RETURN t.id AS t, r.originalTerm AS o",
            database_=db,
        )
        assert [tuple(r.values()) for r in moved] == [("TSTU:0000002", "TSTU:0000003")]
        stored = upgrade_reports(driver, db, "tstu")[0]
        assert stored.id == pending.id and stored.applied
        assert [a.applied for a in stored.affected if a.id == "tstu-study:pore2"] == [True]
        assert load_ontology(driver, db, v2, apply_replacements=True).status == "unchanged"
    finally:
        driver.execute_query(REMOVE_FAKES, database_=db)
        remove_ontology(driver, db, "tstu")
    assert counts(driver, db) == start


# ---- a real CMPO release, older and newer variants ------------------------------------------------


def _frames(text: str) -> tuple[str, dict[str, str]]:
    """Header, and the [Term] frames of an OBO text by id (other frames kept in the header)."""
    parts = re.split(r"\n(?=\[)", text)
    header, frames = [], {}
    for part in parts:
        match = re.match(r"\[Term\]\nid: (\S+)", part)
        if match:
            frames[match[1]] = part.rstrip("\n") + "\n"
        else:
            header.append(part.rstrip("\n") + "\n")
    return "\n".join(header), frames


def _obo(header: str, frames: dict[str, str]) -> str:
    return header + "\n" + "\n".join(frames[k] for k in sorted(frames))


def _set_version(header: str, version: str) -> str:
    return re.sub(r"data-version: .*", f"data-version: http://www.ebi.ac.uk/cmpo/releases/{version}/cmpo.obo", header)


def _edit(frame: str, *, name: str | None = None, drop: tuple[str, ...] = (), add: tuple[str, ...] = ()) -> str:
    lines = [ln for ln in frame.rstrip("\n").split("\n") if not ln.startswith(drop)] if drop else frame.rstrip("\n").split("\n")
    if name is not None:
        lines = [f"name: {name}" if ln.startswith("name: ") else ln for ln in lines]
    return "\n".join(lines + list(add)) + "\n"


@pytest.fixture
def cmpo_restored(loaded, driver):
    """Reload the original cmpo.obo, re-import the studies, drop the test's reports afterwards."""
    db = loaded.neo4j_database
    start = counts(driver, db)
    reports_before = {u.id for u in upgrade_reports(driver, db, "cmpo")}
    yield start
    load_ontology(driver, db, CMPO)
    for folder in find_study_folders(IDR_DIR):
        write_study(driver, db, read_study(folder))
    driver.execute_query(
        "MATCH (u:OntologyUpgrade {ontology: 'cmpo'}) WHERE NOT u.id IN $keep DETACH DELETE u",
        keep=list(reports_before),
        database_=db,
    )
    assert counts(driver, db) == start
    version, _, _ = driver.execute_query("MATCH (o:Ontology {id: 'cmpo'}) RETURN o.version AS v", database_=db)
    assert version[0]["v"] == "2017-12-19"


def test_cmpo_upgrade_with_hub_annotations(loaded, driver, tmp_path: Path, cmpo_restored) -> None:
    db = loaded.neo4j_database
    header, frames = _frames(CMPO.read_text(encoding="utf-8"))
    annotated, _, _ = driver.execute_query(
        "MATCH (p:Phenotype)-[:MAPPED_TO]->(t:OntologyTerm) RETURN collect(DISTINCT t.id) AS ids", database_=db
    )
    annotated_ids = set(annotated[0]["ids"])
    assert {"CMPO:0000426", "CMPO:0000415"} <= annotated_ids
    onto = load_pronto(CMPO)
    leaf = next(
        t.id for t in sorted(onto.terms(), key=lambda t: t.id)
        if t.id not in annotated_ids and not list(t.subclasses(distance=1, with_self=False))
    )

    # older release: the original plus one extra term
    old = dict(frames)
    old["CMPO:9999001"] = "[Term]\nid: CMPO:9999001\nname: test-only term\nis_a: CMPO:0000003 ! cellular phenotype\n"
    old_path = _write(tmp_path, "cmpo-old.obo", _obo(_set_version(header, "2017-06-01"), old))
    # newer release
    new = dict(frames)
    del new[leaf]
    new["CMPO:0000426"] = _edit(
        frames["CMPO:0000426"], name="obsolete protein localized in nuclear pore phenotype",
        drop=("is_a:",), add=("is_obsolete: true", "replaced_by: CMPO:0000398"),
    )
    new["CMPO:0000415"] = _edit(frames["CMPO:0000415"], drop=("is_a:",), add=("is_obsolete: true", "consider: CMPO:0000398"))
    new["CMPO:0000140"] = _edit(frames["CMPO:0000140"], name="enlarged nucleus phenotype")
    new["CMPO:0000377"] = _edit(frames["CMPO:0000377"], drop=("is_a:",), add=("is_a: CMPO:0000003 ! cellular phenotype",))
    new["CMPO:9999002"] = "[Term]\nid: CMPO:9999002\nname: brand-new phenotype\nis_a: CMPO:0000003\n"
    new_path = _write(tmp_path, "cmpo-new.obo", _obo(_set_version(header, "2018-01-01"), new))

    assert load_ontology(driver, db, old_path).status == "upgraded"  # 2017-12-19 -> 2017-06-01
    pheno, _, _ = driver.execute_query(
        "MATCH (p:Phenotype)-[:MAPPED_TO]->(t:OntologyTerm) WHERE t.id IN ['CMPO:0000426', 'CMPO:0000415'] "
        "RETURN t.id AS term, p.id AS id, p.name AS name, p.study AS study, "
        "COUNT { (:Image)-[:HAS_PHENOTYPE]->(p) } AS images ORDER BY id",
        database_=db,
    )
    expected_affected = {(r["id"], r["term"], r["images"]) for r in pheno}
    assert ("idr0023:protein localized in nuclear pore", "CMPO:0000426", 527) in expected_affected

    result = load_ontology(driver, db, new_path, apply_replacements=True)
    assert result.status == "upgraded"
    report = result.report
    assert (report.fromVersion, report.toVersion) == ("2017-06-01", "2018-01-01")
    c = report.changes
    assert c.added == ["CMPO:9999002"]
    assert c.removed == sorted(["CMPO:9999001", leaf])
    assert c.obsoleted == ["CMPO:0000415", "CMPO:0000426"]
    relabelled = {r["id"]: (r["from"], r["to"]) for r in c.relabelled}
    assert relabelled == {
        "CMPO:0000140": ("increased nucleus size phenotype", "enlarged nucleus phenotype"),
        "CMPO:0000426": ("protein localized in nuclear pore phenotype", "obsolete protein localized in nuclear pore phenotype"),
    }
    moved = {m["id"]: (m["from"], m["to"]) for m in c.moved}
    assert moved["CMPO:0000377"] == (["CMPO:0000090", "CMPO:0000376"], ["CMPO:0000003"])
    assert moved["CMPO:0000426"] == (["CMPO:0000032", "CMPO:0000443"], [])
    assert set(moved) == {"CMPO:0000377", "CMPO:0000426", "CMPO:0000415"}

    got = {(a.id, a.term, a.images) for a in report.affected if a.kind == "phenotype"}
    assert got == expected_affected
    for a in report.affected:
        if a.term == "CMPO:0000426":
            assert (a.replacement, a.applied, a.change) == ("CMPO:0000398", True, "obsoleted")
        else:
            assert (a.replacement, a.applied, a.consider) == (None, False, ["CMPO:0000398"])

    rows, _, _ = driver.execute_query(
        "MATCH (p:Phenotype {id: 'idr0023:protein localized in nuclear pore'})-[r:MAPPED_TO]->(t) "
        "RETURN t.id AS t, r.originalTerm AS original, r.replacedAt IS NOT NULL AS stamped",
        database_=db,
    )
    assert [tuple(r.values()) for r in rows] == [("CMPO:0000398", "CMPO:0000426", True)]
    left, _, _ = driver.execute_query(
        "MATCH (p:Phenotype)-[r:MAPPED_TO]->(:OntologyTerm {id: 'CMPO:0000415'}) RETURN count(r) AS n", database_=db
    )
    assert left[0]["n"] == len([a for a in expected_affected if a[1] == "CMPO:0000415"]) > 0

    # the new release is what the graph holds
    _check_against_pronto(closure(driver, db, "cmpo"), load_pronto(new_path), sample=None)
    gone, _, _ = driver.execute_query(
        "MATCH (t:OntologyTerm) WHERE t.id IN [$leaf, 'CMPO:9999001'] RETURN count(t) AS n", leaf=leaf, database_=db
    )
    assert gone[0]["n"] == 0
    stored = upgrade_reports(driver, db, "cmpo")[0]
    assert stored.to_dict() == report.to_dict()
    assert UpgradeReport.from_node(stored.node_properties()).affected == report.affected

    before = counts(driver, db)
    n_reports = _reports(driver, db, "cmpo")
    assert load_ontology(driver, db, new_path).status == "unchanged"
    assert counts(driver, db) == before and _reports(driver, db, "cmpo") == n_reports
