"""Write Cypher for cross-references (reads are compiled from `graph/query/catalog.py`).

Graph shape::

    (:CrossReference {id, resource, accession, url,                    // identity (from the CURIE)
                      title, method, resolution, experimentType,       // cached metadata
                      journal, year, authors,
                      fetchedAt, fetchedStatus, fetchError, attemptedAt}) // cache bookkeeping
    (s:Study|Dataset|Image)-[:LINKS_TO {source}]->(x:CrossReference)
    (x:CrossReference)-[:RELATED_TO {relation}]->(y:CrossReference)

* `id` is the canonical CURIE (`emdb:EMD-2660`), unique (graph_schema/008_xrefs.cypher).
* `LINKS_TO.source` says who asserted the link (`idr` importer, `curator`, `submission`, ...);
  each source's links are replaced as a set by that source only, so re-importing a study never
  removes a curator's links.
* `RELATED_TO.relation` is one of `clients.RELATIONS` (`map`, `fitted_model`, `raw_data`,
  `related_entry`, `image_data`, `study`, `publication`, `same_as`); a successful fetch
  replaces the entry's outgoing RELATED_TO set with what the resource now says.
* Cache: `fetchedAt` is the time of the last SUCCESSFUL fetch and the metadata is from then;
  `attemptedAt` / `fetchedStatus` (`ok` | `not_found` | `error`) / `fetchError` describe the last
  attempt. A failed attempt never touches cached metadata, so reads serve it with its age.

Every function that takes `tx` runs inside the caller's transaction (one unit of work);
`link` / `unlink` / `write_fetch_result` open their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from bioimage_hub.xrefs.clients import EntryMetadata
from bioimage_hub.xrefs.identifiers import XRef, parse_xref

# Labels that may link to cross-references, and their natural keys (an allow-list: user input
# never becomes a label).
SUBJECT_KEYS: dict[str, str] = {"Study": "accession", "Dataset": "id", "Image": "id"}

MERGE_XREFS = """
UNWIND $rows AS row
MERGE (x:CrossReference {id: row.id})
SET x.resource = row.resource, x.accession = row.accession, x.url = row.url
"""

_LINKS = {
    label: (
        f"MATCH (s:{label} {{{key}: $key}})\n"
        "WITH s\n"
        "OPTIONAL MATCH (s)-[old:LINKS_TO {source: $source}]->(x:CrossReference)\n"
        "WHERE $replace AND NOT x.id IN $ids\n"
        "DELETE old\n"
        "WITH DISTINCT s\n"
        "UNWIND $ids AS xid\n"
        "MATCH (x:CrossReference {id: xid})\n"
        "MERGE (s)-[:LINKS_TO {source: $source}]->(x)\n"
        "RETURN count(*) AS linked"
    )
    for label, key in SUBJECT_KEYS.items()
}

_UNLINK = {
    label: (
        f"MATCH (s:{label} {{{key}: $key}})-[r:LINKS_TO]->(x:CrossReference {{id: $id}})\n"
        "WHERE $source IS NULL OR r.source = $source\n"
        "DELETE r RETURN count(r) AS removed"
    )
    for label, key in SUBJECT_KEYS.items()
}


class SubjectNotFound(LookupError):
    """The study/dataset/image to link does not exist."""


def _refs(refs: Iterable[XRef | str]) -> list[XRef]:
    out: dict[str, XRef] = {}
    for ref in refs:
        x = ref if isinstance(ref, XRef) else parse_xref(ref)
        out.setdefault(x.curie, x)
    return list(out.values())


def _row(x: XRef) -> dict[str, str]:
    return {"id": x.curie, "resource": x.resource, "accession": x.accession, "url": x.url}


def merge_xrefs(tx: neo4j.ManagedTransaction, refs: Iterable[XRef | str]) -> list[XRef]:
    """MERGE the CrossReference nodes (identity properties only; cached metadata untouched)."""
    xs = _refs(refs)
    if xs:
        tx.run(MERGE_XREFS, rows=[_row(x) for x in xs]).consume()
    return xs


def write_links(
    tx: neo4j.ManagedTransaction,
    subject_label: str,
    subject_key: str,
    refs: Iterable[XRef | str],
    source: str = "idr",
    replace: bool = True,
    subject_exists: bool = False,
) -> int:
    """Link one Study/Dataset/Image to cross-references, inside the caller's transaction.

    `refs` are `XRef`s or strings (validated with `parse_xref`; an invalid one raises
    `InvalidCrossReference` before anything is written). With `replace` (default) the subject's
    `LINKS_TO {source}` set becomes exactly `refs` - what an importer wants, so re-importing is
    idempotent; links from other sources are never touched. Returns the number of links.
    Raises `SubjectNotFound` when the subject does not exist (the transaction is then rolled
    back by the caller's error handling). `subject_exists`: the caller wrote the subject in this
    transaction, so the check is skipped (one round trip less per imported study).
    """
    if subject_label not in SUBJECT_KEYS:
        raise ValueError(f"cross-references link from {', '.join(SUBJECT_KEYS)}, not {subject_label!r}")
    xs = _refs(refs)  # validate everything before writing anything
    key = SUBJECT_KEYS[subject_label]
    if not subject_exists:
        found = tx.run(f"MATCH (s:{subject_label} {{{key}: $key}}) RETURN count(s) AS n", key=subject_key).single()
        if not found or not found["n"]:
            raise SubjectNotFound(f"no {subject_label} {subject_key!r}")
    merge_xrefs(tx, xs)
    tx.run(
        _LINKS[subject_label], key=subject_key, source=source, replace=replace, ids=[x.curie for x in xs]
    ).consume()
    return len(xs)


def find_subject(driver: neo4j.Driver, database: str, subject_id: str) -> tuple[str, str]:
    """(label, key) of the Study (accession), Dataset or Image (id) with this identifier."""
    query = " UNION ALL ".join(
        f"MATCH (n:{label} {{{key}: $id}}) RETURN '{label}' AS label LIMIT 1"
        for label, key in SUBJECT_KEYS.items()
    )
    records, _, _ = driver.execute_query(query, id=subject_id, database_=database)
    if not records:
        raise SubjectNotFound(f"no study, dataset or image with id {subject_id!r}")
    return records[0]["label"], subject_id


def link(
    driver: neo4j.Driver,
    database: str,
    subject_id: str,
    ref: XRef | str,
    source: str = "curator",
) -> tuple[str, XRef]:
    """Add one link (curator action): validated, one transaction, idempotent. (label, xref)."""
    x = ref if isinstance(ref, XRef) else parse_xref(ref)
    label, key = find_subject(driver, database, subject_id)

    def work(tx: neo4j.ManagedTransaction) -> None:
        write_links(tx, label, key, [x], source=source, replace=False)

    with driver.session(database=database) as session:
        session.execute_write(work)
    return label, x


def unlink(
    driver: neo4j.Driver, database: str, subject_id: str, ref: XRef | str, source: str | None = None
) -> int:
    """Remove the subject's link(s) to `ref` (of one source, or all). The node and its cache stay."""
    x = ref if isinstance(ref, XRef) else parse_xref(ref)
    label, key = find_subject(driver, database, subject_id)
    records, _, _ = driver.execute_query(
        _UNLINK[label], key=key, id=x.curie, source=source, database_=database
    )
    return int(records[0]["removed"]) if records else 0


# --------------------------------------------------------------------------- fetch results

WRITE_METADATA = """
MERGE (x:CrossReference {id: $id})
SET x.resource = $resource, x.accession = $accession, x.url = $url,
    x.title = $title, x.method = $method, x.resolution = $resolution,
    x.experimentType = $experimentType, x.journal = $journal, x.year = $year, x.authors = $authors,
    x.fetchedAt = $at, x.attemptedAt = $at, x.fetchedStatus = 'ok', x.fetchError = null
WITH x
OPTIONAL MATCH (x)-[old:RELATED_TO]->(y:CrossReference)
WHERE NOT [y.id, old.relation] IN [l IN $links | [l.target, l.relation]]
DELETE old
WITH DISTINCT x
UNWIND $links AS l
MATCH (y:CrossReference {id: l.target})
MERGE (x)-[:RELATED_TO {relation: l.relation}]->(y)
"""

WRITE_FAILURE = """
MATCH (x:CrossReference {id: $id})
SET x.attemptedAt = $at, x.fetchedStatus = $status, x.fetchError = $error
"""


def write_metadata(tx: neo4j.ManagedTransaction, xref: XRef, meta: EntryMetadata, at: datetime) -> list[XRef]:
    """Cache an entry's metadata and replace its RELATED_TO links (creating linked nodes).

    Returns the linked cross-references (new or known)."""
    targets = [parse_xref(link.target) for link in meta.links]
    merge_xrefs(tx, targets)
    tx.run(
        WRITE_METADATA,
        id=xref.curie,
        resource=xref.resource,
        accession=xref.accession,
        url=xref.url,
        title=meta.title,
        method=meta.method,
        resolution=meta.resolution,
        experimentType=meta.experiment_type,
        journal=meta.journal,
        year=meta.year,
        authors=meta.authors,
        at=at,
        links=[link.model_dump() for link in meta.links],
    ).consume()
    return targets


def write_failure(tx: neo4j.ManagedTransaction, xref: XRef, status: str, error: str, at: datetime) -> None:
    """Record a failed attempt; cached metadata and `fetchedAt` stay as they were."""
    tx.run(WRITE_FAILURE, id=xref.curie, status=status, error=error[:500], at=at).consume()


def write_fetch_result(
    driver: neo4j.Driver,
    database: str,
    xref: XRef,
    at: datetime,
    meta: EntryMetadata | None = None,
    status: str = "ok",
    error: str | None = None,
) -> list[XRef]:
    """One transaction per fetched entry: its metadata + links, or the failed attempt."""

    def work(tx: neo4j.ManagedTransaction) -> list[XRef]:
        if meta is not None:
            return write_metadata(tx, xref, meta, at)
        write_failure(tx, xref, status, error or status, at)
        return []

    with driver.session(database=database) as session:
        return session.execute_write(work)


# --------------------------------------------------------------------------- refresh queries


@dataclass(frozen=True)
class Candidate:
    xref: XRef
    fetched_at: Any  # neo4j DateTime or None


def due_for_refresh(
    driver: neo4j.Driver,
    database: str,
    resources: Sequence[str],
    cutoff: datetime,
    hops: int,
    exclude: Sequence[str] = (),
) -> list[Candidate]:
    """Cross-references within `hops` RELATED_TO hops of a study/dataset/image whose resource is
    in `resources` and that were never fetched successfully, or not since `cutoff`."""
    if not 0 <= hops <= 5:
        raise ValueError("hops must be between 0 and 5")
    query = (
        "MATCH (s)-[:LINKS_TO]->(x0:CrossReference) WHERE s:Study OR s:Dataset OR s:Image\n"
        f"MATCH (x0)-[:RELATED_TO*0..{int(hops)}]->(x:CrossReference)\n"
        "WITH DISTINCT x\n"
        "WHERE x.resource IN $resources AND NOT x.id IN $exclude\n"
        "  AND (x.fetchedAt IS NULL OR x.fetchedAt < $cutoff)\n"
        "RETURN x.id AS id, x.fetchedAt AS fetchedAt ORDER BY id"
    )
    records, _, _ = driver.execute_query(
        query, resources=list(resources), exclude=list(exclude), cutoff=cutoff, database_=database
    )
    return [Candidate(parse_xref(r["id"]), r["fetchedAt"]) for r in records]
