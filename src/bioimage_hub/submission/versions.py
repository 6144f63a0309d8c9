"""Every accepted submission is kept: `(:StudyVersion)-[:VERSION_OF]->(:Study)`.

`StudyVersion {id: '<accession>@<n>', accession, version, document (canonical JSON), checksum,
createdAt, submittedBy}`. The Study node holds the current content (and `version`, its number);
earlier versions stay readable as documents, and any two can be diffed.

An identical document (same checksum as the current version) creates no version.

The read helpers here apply the embargo rule themselves (a study whose release date is in the
future is visible only to its owner, curators and admins), so they can be exposed as they are.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import neo4j

CURRENT = """
MATCH (s:Study {accession: $accession})
SET s._lock = true
WITH s
OPTIONAL MATCH (v:StudyVersion {accession: $accession}) WHERE v.version = s.version
REMOVE s._lock
RETURN s.source AS source, s.owner AS owner, s.version AS version, v.checksum AS checksum
"""

RECORD = """
MATCH (s:Study {accession: $accession})
CREATE (v:StudyVersion {id: $accession + '@' + toString($version), accession: $accession, version: $version,
                        document: $document, checksum: $checksum, createdAt: datetime(), submittedBy: $submitter})
CREATE (v)-[:VERSION_OF]->(s)
SET s.version = $version, s.updatedAt = v.createdAt,
    s.createdAt = CASE WHEN $version = 1 THEN v.createdAt ELSE s.createdAt END
"""

# A study is visible when released, or to its owner, or to a curator/admin.
VISIBLE = "(s.releaseDate IS NULL OR s.releaseDate <= date() OR $see_all OR (s.owner IS NOT NULL AND s.owner = $viewer))"

LIST = f"""
MATCH (s:Study {{accession: $accession}}) WHERE {VISIBLE}
MATCH (v:StudyVersion)-[:VERSION_OF]->(s)
RETURN v.version AS version, v.checksum AS checksum, toString(v.createdAt) AS createdAt,
       v.submittedBy AS submittedBy, v.version = s.version AS current
ORDER BY v.version
"""

GET = f"""
MATCH (s:Study {{accession: $accession}}) WHERE {VISIBLE}
MATCH (v:StudyVersion {{id: $id}})-[:VERSION_OF]->(s)
RETURN v.version AS version, v.checksum AS checksum, toString(v.createdAt) AS createdAt,
       v.submittedBy AS submittedBy, v.version = s.version AS current, v.document AS document
"""

GET_TWO = f"""
MATCH (s:Study {{accession: $accession}}) WHERE {VISIBLE}
MATCH (v:StudyVersion)-[:VERSION_OF]->(s) WHERE v.id IN $ids
RETURN v.version AS version, v.document AS document
"""


@dataclass(frozen=True)
class VersionInfo:
    accession: str
    version: int
    checksum: str
    created_at: str
    submitted_by: str | None
    current: bool
    document: dict[str, Any] | None = None


@dataclass(frozen=True)
class Change:
    op: str  # add | remove | replace | reorder
    path: str
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, "old": self.old, "new": self.new}


def version_id(accession: str, version: int) -> str:
    return f"{accession}@{version}"


# --------------------------------------------------------------------------- inside the write tx


@dataclass(frozen=True)
class Current:
    source: str | None
    owner: str | None
    version: int | None
    checksum: str | None


def current(tx: neo4j.ManagedTransaction, accession: str) -> Current | None:
    """The study's current version, with the study's write lock taken (resubmissions serialise)."""
    record = tx.run(CURRENT, accession=accession).single()
    if record is None:
        return None
    return Current(record["source"], record["owner"], record["version"], record["checksum"])


def record(tx: neo4j.ManagedTransaction, accession: str, version: int, document: str, checksum: str, submitter: str) -> None:
    tx.run(RECORD, accession=accession, version=version, document=document, checksum=checksum, submitter=submitter).consume()


# --------------------------------------------------------------------------- diff


def _key_of(items: list[Any]) -> str | None:
    """Lists of objects keyed by a unique `id` (sections) or `path` (images) are matched by key."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in ("id", "path"):
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def diff(old: Any, new: Any, path: str = "") -> list[Change]:
    """Changes turning `old` into `new`, JSON-patch-like: (op, path, old, new).

    Objects are compared key by key; lists of objects with a unique `id` or `path` are matched by
    that key (paths use the index in the document the value is in); other lists by position.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(old.keys() | new.keys()):
            if key not in new:
                changes.append(Change("remove", _join(path, key), old[key], None))
            elif key not in old:
                changes.append(Change("add", _join(path, key), None, new[key]))
            else:
                changes += diff(old[key], new[key], _join(path, key))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        key = _key_of(old) if _key_of(new) == _key_of(old) else None
        if key is None:
            changes = []
            for i in range(max(len(old), len(new))):
                if i >= len(new):
                    changes.append(Change("remove", _join(path, i), old[i], None))
                elif i >= len(old):
                    changes.append(Change("add", _join(path, i), None, new[i]))
                else:
                    changes += diff(old[i], new[i], _join(path, i))
            return changes
        old_at = {item[key]: i for i, item in enumerate(old)}
        new_at = {item[key]: i for i, item in enumerate(new)}
        changes = []
        for k, i in old_at.items():
            if k not in new_at:
                changes.append(Change("remove", _join(path, i), old[i], None))
        for k, j in new_at.items():
            if k not in old_at:
                changes.append(Change("add", _join(path, j), None, new[j]))
            else:
                changes += diff(old[old_at[k]], new[j], _join(path, j))
        kept_old = [k for k in old_at if k in new_at]
        kept_new = [k for k in new_at if k in old_at]
        if kept_old != kept_new:
            changes.append(Change("reorder", path, kept_old, kept_new))
        return changes
    if old != new:
        return [Change("replace", path, old, new)]
    return []


# --------------------------------------------------------------------------- read helpers

Run = Callable[[str, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


def _viewer(principal: Any) -> dict[str, Any]:
    """A `Principal` (name, role) or the API's `Viewer` (name, sees_everything); None = anonymous."""
    see_all = bool(getattr(principal, "sees_everything", False)) or getattr(principal, "role", None) in ("curator", "admin")
    return {"viewer": getattr(principal, "name", None), "see_all": see_all}


def _info(accession: str, row: dict[str, Any], with_document: bool = False) -> VersionInfo:
    return VersionInfo(
        accession=accession,
        version=row["version"],
        checksum=row["checksum"],
        created_at=row["createdAt"],
        submitted_by=row["submittedBy"],
        current=bool(row["current"]),
        document=json.loads(row["document"]) if with_document and row.get("document") else None,
    )


def _rows(driver: neo4j.Driver, database: str, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, params, database_=database, routing_=neo4j.RoutingControl.READ)
    return [r.data() for r in records]


def list_versions(driver: neo4j.Driver, database: str, accession: str, principal: Any = None) -> list[VersionInfo]:
    """Versions of a study, oldest first ([] when unknown or embargoed for this principal)."""
    rows = _rows(driver, database, LIST, {"accession": accession, **_viewer(principal)})
    return [_info(accession, r) for r in rows]


def get_version(
    driver: neo4j.Driver, database: str, accession: str, version: int, principal: Any = None
) -> VersionInfo | None:
    """One version with its document (None when unknown or embargoed for this principal)."""
    rows = _rows(driver, database, GET, {"accession": accession, "id": version_id(accession, version), **_viewer(principal)})
    return _info(accession, rows[0], with_document=True) if rows else None


def _diff_rows(rows: list[dict[str, Any]], a: int, b: int) -> list[Change] | None:
    docs = {r["version"]: json.loads(r["document"]) for r in rows}
    if a not in docs or b not in docs:
        return None
    return diff(docs[a], docs[b])


def version_diff(
    driver: neo4j.Driver, database: str, accession: str, from_version: int, to_version: int, principal: Any = None
) -> list[Change] | None:
    """Changes from one version's document to another's (None when either is not visible)."""
    rows = _rows(driver, database, GET_TWO, {"accession": accession, "ids": [version_id(accession, from_version), version_id(accession, to_version)], **_viewer(principal)})
    return _diff_rows(rows, from_version, to_version)


# Async variants over any `run(query, params)` (e.g. the API's `Context.run`, which counts statements).


async def alist_versions(run: Run, accession: str, principal: Any = None) -> list[VersionInfo]:
    return [_info(accession, r) for r in await run(LIST, {"accession": accession, **_viewer(principal)})]


async def aget_version(run: Run, accession: str, version: int, principal: Any = None) -> VersionInfo | None:
    rows = await run(GET, {"accession": accession, "id": version_id(accession, version), **_viewer(principal)})
    return _info(accession, rows[0], with_document=True) if rows else None


async def aversion_diff(run: Run, accession: str, from_version: int, to_version: int, principal: Any = None) -> list[Change] | None:
    rows = await run(GET_TWO, {"accession": accession, "ids": [version_id(accession, from_version), version_id(accession, to_version)], **_viewer(principal)})
    return _diff_rows(rows, from_version, to_version)
