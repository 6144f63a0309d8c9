"""The upgrade diff and replacement plan as pure functions over snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from bioimage_hub.ontology.upgrade import (
    Changes,
    TermState,
    UpgradeReport,
    diff,
    plan_replacements,
    snapshot_from_rows,
)


def _snap(*states: TermState) -> dict[str, TermState]:
    return {s.id: s for s in states}


BEFORE = _snap(
    TermState("X:1", "root"),
    TermState("X:2", "nucleus", parents=("X:1",)),
    TermState("X:3", "old", parents=("X:1",)),
    TermState("X:4", "gone", parents=("X:1",)),
    TermState("X:5", "leaf", parents=("X:2",)),
    TermState("X:6", "already obsolete", obsolete=True),
)
AFTER = _snap(
    TermState("X:1", "root"),
    TermState("X:2", "cell nucleus", parents=("X:1",)),  # relabelled
    TermState("X:3", "obsolete old", obsolete=True, replaced_by=("X:2",)),  # obsoleted + relabelled + moved
    TermState("X:5", "leaf", parents=("X:1", "X:2")),  # moved (a parent added)
    TermState("X:6", "already obsolete", obsolete=True, consider=("X:1",)),
    TermState("X:7", "new", parents=("X:1",)),  # added
)


def test_diff() -> None:
    c = diff(BEFORE, AFTER)
    assert c.added == ["X:7"]
    assert c.removed == ["X:4"]
    assert c.obsoleted == ["X:3"]  # X:6 was obsolete before: not "made obsolete"
    assert c.relabelled == [
        {"id": "X:2", "from": "nucleus", "to": "cell nucleus"},
        {"id": "X:3", "from": "old", "to": "obsolete old"},
    ]
    assert c.moved == [
        {"id": "X:3", "label": "obsolete old", "from": ["X:1"], "to": []},
        {"id": "X:5", "label": "leaf", "from": ["X:2"], "to": ["X:1", "X:2"]},
    ]
    assert diff(BEFORE, BEFORE).empty and not c.empty


def test_plan_replacements() -> None:
    after = dict(AFTER)
    after["X:8"] = TermState("X:8", "ambiguous", obsolete=True, replaced_by=("X:1", "X:2"))
    after["X:9"] = TermState("X:9", "curate", obsolete=True, consider=("X:5", "X:1"))
    changes = Changes(obsoleted=["X:3", "X:8", "X:9"], removed=["X:4"])
    rows = [
        {"kind": "phenotype", "relationship": "MAPPED_TO", "id": "s:p1", "name": "p1", "study": "s",
         "images": 7, "term": "X:3", "termLabel": "old"},
        {"kind": "dataset", "relationship": "IMAGED_BY", "id": "s-d", "name": "d", "study": "s",
         "images": 3, "term": "X:8", "termLabel": "ambiguous"},
        {"kind": "phenotype", "relationship": "MAPPED_TO", "id": "s:p2", "name": "p2", "study": "s",
         "images": 0, "term": "X:9", "termLabel": "curate"},
        {"kind": "phenotype", "relationship": "MAPPED_TO", "id": "s:p3", "name": "p3", "study": "s",
         "images": 1, "term": "X:4", "termLabel": "gone"},
        {"kind": "phenotype", "relationship": "MAPPED_TO", "id": "s:p4", "name": "p4", "study": "s",
         "images": 1, "term": "X:1", "termLabel": "root"},  # not affected
    ]
    plan = {a.id: a for a in plan_replacements(rows, after, changes)}
    assert set(plan) == {"s:p1", "s-d", "s:p2", "s:p3"}
    assert (plan["s:p1"].replacement, plan["s:p1"].change, plan["s:p1"].images) == ("X:2", "obsoleted", 7)
    assert plan["s-d"].replacement is None and plan["s-d"].replacedBy == ["X:1", "X:2"]
    assert plan["s:p2"].replacement is None and plan["s:p2"].consider == ["X:1", "X:5"]
    assert "consider" in (plan["s:p2"].note or "")
    assert (plan["s:p3"].change, plan["s:p3"].replacement) == ("removed", None)


def test_report_round_trips() -> None:
    changes = diff(BEFORE, AFTER)
    report = UpgradeReport(
        id="x@1", ontology="x", fromVersion="1", toVersion="2", at=datetime(2025, 1, 2, tzinfo=UTC),
        changes=changes, affected=[], applied=False,
    )
    props = report.node_properties()
    assert isinstance(props["relabelled"], str) and props["added"] == ["X:7"]
    back = UpgradeReport.from_node(props)
    assert back.changes == changes and back.at == report.at
    assert UpgradeReport.from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_snapshot_from_rows() -> None:
    snap = snapshot_from_rows(
        [{"id": "X:2", "label": "n", "obsolete": None}, {"id": "X:1", "label": "r", "obsolete": True}],
        [("X:2", "X:1"), ("X:2", "X:0")],
    )
    assert snap["X:2"] == TermState("X:2", "n", False, ("X:0", "X:1"))
    assert snap["X:1"].obsolete and snap["X:1"].parents == ()
