"""What an ontology upgrade changes: pure functions over before/after snapshots.

Loading a release of an ontology that is already loaded with another version or file checksum is
an upgrade. The writer (`graph/writer.py`) reads the *before* snapshot from the graph in the
load's own transaction, the *after* snapshot comes from the parsed file, and this module decides:

* `diff(before, after)`: terms added, removed (own term before, absent or only a stub now), made
  obsolete (not obsolete before, obsolete now), relabelled (old -> new label) and moved (direct
  is_a parents changed);
* `plan_replacements(annotations, after)`: for every hub annotation (a Phenotype `MAPPED_TO` or a
  Dataset `IMAGED_BY`) pointing at a term the upgrade made obsolete or removed, the replacement
  the new release proposes: its single `replaced_by` term is applied automatically (with
  `--apply-replacements`); several replaced_by, `consider` only, or nothing are left to a curator.

The report is stored as `(:OntologyUpgrade)-[:UPGRADES]->(:Ontology)`; its list-of-object fields
(relabelled, moved, affected) are JSON strings (`UpgradeReport.node_properties`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bioimage_hub.models.ontology import ParsedOntology

__all__ = [
    "Affected",
    "Changes",
    "TermState",
    "UpgradeReport",
    "diff",
    "plan_replacements",
    "render",
    "snapshot_from_parsed",
]


@dataclass(frozen=True)
class TermState:
    """One own (non-stub) term of an ontology release, as far as an upgrade report cares."""

    id: str
    label: str | None = None
    obsolete: bool = False
    parents: tuple[str, ...] = ()  # direct is_a parents, sorted
    replaced_by: tuple[str, ...] = ()
    consider: tuple[str, ...] = ()


Snapshot = Mapping[str, TermState]


def snapshot_from_parsed(parsed: ParsedOntology) -> dict[str, TermState]:
    """The *after* snapshot: own terms of the file with their direct is_a parents."""
    parents: dict[str, list[str]] = {}
    for edge in parsed.is_a:
        parents.setdefault(edge.child, []).append(edge.parent)
    return {
        t.id: TermState(
            id=t.id,
            label=t.label,
            obsolete=t.obsolete,
            parents=tuple(sorted(parents.get(t.id, ()))),
            replaced_by=tuple(t.replaced_by),
            consider=tuple(t.consider),
        )
        for t in parsed.terms
        if not t.stub
    }


def snapshot_from_rows(
    terms: Iterable[Mapping[str, Any]], is_a: Iterable[tuple[str, str]]
) -> dict[str, TermState]:
    """The *before* snapshot from graph rows: `{id, label, obsolete}` per own term and its
    direct `(child, parent)` is_a edges."""
    parents: dict[str, list[str]] = {}
    for child, parent in is_a:
        parents.setdefault(child, []).append(parent)
    return {
        row["id"]: TermState(
            id=row["id"],
            label=row.get("label"),
            obsolete=bool(row.get("obsolete")),
            parents=tuple(sorted(parents.get(row["id"], ()))),
        )
        for row in terms
    }


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    obsoleted: list[str] = field(default_factory=list)
    relabelled: list[dict[str, Any]] = field(default_factory=list)  # {id, from, to}
    moved: list[dict[str, Any]] = field(default_factory=list)  # {id, label, from: [..], to: [..]}

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.obsoleted or self.relabelled or self.moved)


def diff(before: Snapshot, after: Snapshot) -> Changes:
    """Terms added, removed, made obsolete, relabelled and moved between two releases."""
    changes = Changes(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
    )
    for tid in sorted(set(before) & set(after)):
        old, new = before[tid], after[tid]
        if new.obsolete and not old.obsolete:
            changes.obsoleted.append(tid)
        if (old.label or None) != (new.label or None):
            changes.relabelled.append({"id": tid, "from": old.label, "to": new.label})
        if tuple(sorted(old.parents)) != tuple(sorted(new.parents)):
            changes.moved.append(
                {"id": tid, "label": new.label, "from": sorted(old.parents), "to": sorted(new.parents)}
            )
    return changes


@dataclass
class Affected:
    """A hub annotation that points at a term the upgrade made obsolete (or removed)."""

    kind: str  # "phenotype" (Phenotype -MAPPED_TO->) or "dataset" (Dataset -IMAGED_BY->)
    relationship: str  # MAPPED_TO / IMAGED_BY
    id: str  # the Phenotype / Dataset id
    name: str | None
    study: str | None
    images: int  # phenotype: images via HAS_PHENOTYPE; dataset: images via HAS_IMAGE
    term: str  # the obsolete term's CURIE
    termLabel: str | None  # noqa: N815 (JSON field names)
    change: str  # "obsoleted" or "removed"
    replacedBy: list[str]  # noqa: N815
    consider: list[str]
    replacement: str | None  # the single replaced_by term, applied with --apply-replacements
    applied: bool = False
    note: str | None = None  # why it is (or would not be) applied automatically


def plan_replacements(
    annotations: Iterable[Mapping[str, Any]], after: Snapshot, changes: Changes
) -> list[Affected]:
    """One `Affected` per annotation row (`kind, relationship, id, name, study, images, term,
    termLabel`) pointing at a term in `changes.obsoleted` or `changes.removed`.

    The replacement is the term's single `replaced_by` in the new release; several replaced_by,
    only `consider`, or nothing, leave the annotation to a curator (`replacement` None).
    """
    obsoleted, removed = set(changes.obsoleted), set(changes.removed)
    out = []
    for row in annotations:
        term = row["term"]
        if term not in obsoleted and term not in removed:
            continue
        state = after.get(term)
        replaced_by = sorted(state.replaced_by) if state else []
        consider = sorted(state.consider) if state else []
        replacement = replaced_by[0] if len(replaced_by) == 1 else None
        if replacement:
            note = f"replaced_by {replacement}"
        elif replaced_by:
            note = "several replaced_by terms: a curator must choose"
        elif consider:
            note = "only `consider` terms: a curator must choose"
        else:
            note = "the release proposes no replacement"
        out.append(
            Affected(
                kind=row["kind"],
                relationship=row["relationship"],
                id=row["id"],
                name=row.get("name"),
                study=row.get("study"),
                images=int(row.get("images") or 0),
                term=term,
                termLabel=row.get("termLabel"),
                change="obsoleted" if term in obsoleted else "removed",
                replacedBy=replaced_by,
                consider=consider,
                replacement=replacement,
                note=note,
            )
        )
    out.sort(key=lambda a: (a.term, a.kind, a.id))
    return out


@dataclass
class UpgradeReport:
    id: str
    ontology: str
    fromVersion: str | None  # noqa: N815
    toVersion: str | None  # noqa: N815
    at: datetime
    changes: Changes
    affected: list[Affected]
    applied: bool  # replacements were applied (--apply-replacements)
    fromChecksum: str | None = None  # noqa: N815
    toChecksum: str | None = None  # noqa: N815

    def node_properties(self) -> dict[str, Any]:
        """Properties of the `(:OntologyUpgrade)` node."""
        return {
            "id": self.id,
            "ontology": self.ontology,
            "fromVersion": self.fromVersion,
            "toVersion": self.toVersion,
            "fromChecksum": self.fromChecksum,
            "toChecksum": self.toChecksum,
            "at": self.at,
            "added": self.changes.added,
            "removed": self.changes.removed,
            "obsoleted": self.changes.obsoleted,
            "relabelled": json.dumps(self.changes.relabelled),
            "moved": json.dumps(self.changes.moved),
            "affected": json.dumps([asdict(a) for a in self.affected]),
            "applied": self.applied,
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data (what `--json` prints)."""
        props = self.node_properties()
        props["at"] = self.at.isoformat()
        for key in ("relabelled", "moved", "affected"):
            props[key] = json.loads(props[key])
        return props

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpgradeReport:
        """Inverse of `to_dict`."""
        props = dict(data)
        for key in ("relabelled", "moved", "affected"):
            props[key] = json.dumps(props.get(key) or [])
        if isinstance(props.get("at"), str):
            props["at"] = datetime.fromisoformat(props["at"])
        return cls.from_node(props)

    @classmethod
    def from_node(cls, props: Mapping[str, Any]) -> UpgradeReport:
        """Rebuild a report from the properties of a stored `(:OntologyUpgrade)` node."""
        at = props["at"]
        at = at.to_native() if hasattr(at, "to_native") else at
        return cls(
            id=props["id"],
            ontology=props["ontology"],
            fromVersion=props.get("fromVersion"),
            toVersion=props.get("toVersion"),
            fromChecksum=props.get("fromChecksum"),
            toChecksum=props.get("toChecksum"),
            at=at,
            changes=Changes(
                added=list(props.get("added") or []),
                removed=list(props.get("removed") or []),
                obsoleted=list(props.get("obsoleted") or []),
                relabelled=json.loads(props.get("relabelled") or "[]"),
                moved=json.loads(props.get("moved") or "[]"),
            ),
            affected=[Affected(**a) for a in json.loads(props.get("affected") or "[]")],
            applied=bool(props.get("applied")),
        )


def render(report: UpgradeReport, limit: int = 20) -> list[Any]:
    """rich renderables: a summary line, the changed terms and the affected annotations."""
    from rich.table import Table
    from rich.text import Text

    c = report.changes
    out: list[Any] = [
        Text.from_markup(
            f"[bold]{report.ontology}[/bold] upgrade {report.fromVersion or '?'} -> "
            f"{report.toVersion or '?'}: {len(c.added)} added, {len(c.removed)} removed, "
            f"{len(c.obsoleted)} made obsolete, {len(c.relabelled)} relabelled, "
            f"{len(c.moved)} moved; {len(report.affected)} hub annotation(s) affected"
            + (", replacements applied" if report.applied else "")
        )
    ]
    if not c.empty:
        table = Table(title="Changed terms", title_justify="left")
        for col in ("change", "term", "detail"):
            table.add_column(col)
        rows: list[tuple[str, str, str]] = []
        rows += [("added", t, "") for t in c.added]
        rows += [("removed", t, "") for t in c.removed]
        rows += [("obsolete", t, "") for t in c.obsoleted]
        rows += [("relabelled", r["id"], f"{r['from']!r} -> {r['to']!r}") for r in c.relabelled]
        rows += [
            ("moved", m["id"], f"is_a {', '.join(m['from']) or '-'} -> {', '.join(m['to']) or '-'}")
            for m in c.moved
        ]
        for row in rows[:limit]:
            table.add_row(*row)
        if len(rows) > limit:
            table.add_row("…", f"{len(rows) - limit} more", "(--json for all)")
        out.append(table)
    if report.affected:
        table = Table(title="Annotations on obsolete or removed terms", title_justify="left")
        for col in ("annotation", "study", "images", "term", "replacement", "applied"):
            table.add_column(col)
        for a in report.affected:
            table.add_row(
                f"{a.kind} {a.name or a.id}",
                a.study or "",
                str(a.images),
                f"{a.term} ({a.change})",
                a.replacement or (f"consider {', '.join(a.consider)}" if a.consider else "none"),
                "yes" if a.applied else f"no: {a.note}" if not a.replacement else "no",
            )
        out.append(table)
    return out
