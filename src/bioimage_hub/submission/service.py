"""`submit`: the one entry point for submissions, used by the CLI and the GraphQL mutation.

validate (parse, ONE term read, every problem at once) → ONE write transaction:
  new study:     lock the accession counter → same document already submitted by this submitter?
                 return it → allocate `<prefix><n>` → write the graph → StudyVersion 1
  resubmission:  lock the accession counter, then the study → may this submitter edit it? → same checksum as the current
                 version? nothing to do → replace the graph content → StudyVersion N+1
Anything failing inside the transaction rolls all of it back (including the counter).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import neo4j

from bioimage_hub.submission import accession as accessions
from bioimage_hub.submission import versions
from bioimage_hub.submission import writer
from bioimage_hub.submission.validate import ValidSubmission, validate

# progress(advance, total): images written since the last call, images in the submission.
Progress = Callable[[int, int], None]

SAME_DOCUMENT = """
MATCH (v:StudyVersion {checksum: $checksum})-[:VERSION_OF]->(s:Study)
WHERE s.owner = $owner AND s.version = v.version AND s.source = 'submission'
RETURN s.accession AS accession, s.version AS version
ORDER BY s.accession LIMIT 1
"""

PRECHECK = "MATCH (s:Study {accession: $accession}) RETURN s.source AS source, s.owner AS owner"


class SubmissionRefused(Exception):
    """The submission cannot be accepted for a reason other than its content (nothing written)."""

    code = "BAD_REQUEST"


class StudyNotFound(SubmissionRefused):
    code = "NOT_FOUND"


class NotASubmission(SubmissionRefused):
    code = "BAD_REQUEST"


class Forbidden(SubmissionRefused):
    code = "FORBIDDEN"


@dataclass(frozen=True)
class SubmitResult:
    accession: str
    version: int
    created: bool  # a new study (and accession) was created
    changed: bool  # a new version was written (False: identical to the current version)
    checksum: str = ""
    images: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"accession": self.accession, "version": self.version, "created": self.created,
                "changed": self.changed, "checksum": self.checksum, "images": self.images,
                "seconds": self.seconds}


def _check(accession: str, source: str | None, owner: str | None, found: bool, submitter: str, may_edit_any: bool) -> None:
    if not found:
        raise StudyNotFound(f"no study with accession {accession}")
    if source != "submission":
        raise NotASubmission(f"{accession} was imported ({source or 'unknown source'}), not submitted: it has no submission to revise")
    if not may_edit_any and owner != submitter:
        raise Forbidden(f"{accession} belongs to another submitter: only its owner or a curator may submit a new version")


def submit(
    driver: neo4j.Driver,
    database: str,
    document: dict[str, Any] | str | bytes,
    *,
    submitter: str,
    accession: str | None = None,
    may_edit_any: bool = False,
    prefix: str | None = None,
    progress: Progress | None = None,
    source: str | None = None,
    on_valid: Callable[[ValidSubmission], None] | None = None,
) -> SubmitResult:
    """Validate `document` and write it as a new study or (with `accession`) a new version of one.

    `submitter` is recorded on the version (and becomes the owner of a new study). Without
    `may_edit_any` (curators, admins, the local CLI) only the owner may revise a study.
    Raises `SubmissionInvalid` (every problem listed) or a `SubmissionRefused` subclass; in both
    cases nothing is written.
    """
    from bioimage_hub.config import get_settings

    started = time.perf_counter()
    prefix = accessions.check_prefix(prefix or get_settings().accession_prefix)
    if not submitter or not submitter.strip():
        raise SubmissionRefused("a submission needs a submitter name")
    if accession is not None:
        records, _, _ = driver.execute_query(PRECHECK, accession=accession, database_=database,
                                             routing_=neo4j.RoutingControl.READ)
        row = records[0] if records else None
        _check(accession, row and row["source"], row and row["owner"], row is not None, submitter, may_edit_any)
    valid = validate(driver, database, document, source)
    total = valid.submission.image_count()
    if on_valid:
        on_valid(valid)

    def work(tx: neo4j.ManagedTransaction) -> SubmitResult:
        if accession is not None:
            # Every submission write takes the counter lock first, revisions too: two submissions
            # writing at once deadlocked on shared dense nodes (organism, genes, publication).
            accessions.lock(tx, prefix)
            current = versions.current(tx, accession)  # takes the study's write lock
            _check(accession, current and current.source, current and current.owner, current is not None,
                   submitter, may_edit_any)
            assert current is not None
            if current.checksum == valid.checksum:
                return SubmitResult(accession, current.version or 0, False, False, valid.checksum, total)
            acc, version, created = accession, (current.version or 0) + 1, False
        else:
            accessions.lock(tx, prefix)  # serialise new submissions before looking for a duplicate
            same = tx.run(SAME_DOCUMENT, checksum=valid.checksum, owner=submitter).single()
            if same is not None:
                return SubmitResult(same["accession"], same["version"], False, False, valid.checksum, total)
            acc, version, created = accessions.allocate(tx, prefix), 1, True
        rows = writer.build_rows(acc, valid, owner=submitter)
        writer.write(tx, rows, replace=not created,
                     progress=(lambda n: progress(n, total)) if progress else None)
        versions.record(tx, acc, version, valid.canonical, valid.checksum, submitter)
        return SubmitResult(acc, version, created, True, valid.checksum, total)

    with driver.session(database=database) as session:
        result = session.execute_write(work)
    return SubmitResult(**{**result.as_dict(), "seconds": round(time.perf_counter() - started, 3)})
