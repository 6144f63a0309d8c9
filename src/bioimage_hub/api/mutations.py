"""GraphQL writes: `submitStudy`, and the version read helpers the schema can expose.

Wiring (done in api/schema.py / api/app.py):
    strawberry.Schema(query=Query, mutation=mutations.Mutation, ...)
    Context.principal = tokens.averify_token(...) of the `Authorization: Bearer` header
and, for study history, fields such as
    Study.versions        -> await mutations.study_versions(info, accession)
    Query.studyVersion    -> await mutations.study_version(info, accession, version)
    Query.studyVersionDiff-> await mutations.study_version_diff(info, accession, from, to)

Errors carry `extensions.code`: UNAUTHENTICATED (no principal), FORBIDDEN (a submitter revising
someone else's study), NOT_FOUND (unknown accession), BAD_REQUEST (not a hub submission).
An invalid document is not an error: the result lists every problem (`errors`) and nothing is
written.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from bioimage_hub.auth.tokens import ROLES
from bioimage_hub.graph.driver import GraphUnavailable
from bioimage_hub.submission import versions
from bioimage_hub.submission.service import SubmissionRefused, submit
from bioimage_hub.submission.validate import SubmissionInvalid

_drivers: dict[tuple[str, str | None], Any] = {}
_drivers_lock = threading.Lock()


def _error(message: str, code: str) -> GraphQLError:
    """A client-visible error (the schema's MaskErrors lets `ClientError` through)."""
    try:
        from bioimage_hub.api.schema import ClientError
    except ImportError:  # pragma: no cover - schema not importable (circular during wiring)
        ClientError = GraphQLError  # type: ignore[misc,assignment]  # noqa: N806
    return ClientError(message, extensions={"code": code})


def write_driver(context: Any) -> Any:
    """The blocking driver submissions write with: `context.write_driver` if the app provides one,
    else one per process and server (created on first use; `close_write_drivers()` on shutdown)."""
    given = getattr(context, "write_driver", None)
    if given is not None:
        return given
    from bioimage_hub.graph.driver import sync_driver

    settings = context.settings
    key = (settings.uri, settings.neo4j_user if settings.neo4j_uri else None)
    with _drivers_lock:
        if key not in _drivers:
            _drivers[key] = sync_driver(settings)
        return _drivers[key]


def close_write_drivers() -> None:
    with _drivers_lock:
        for driver in _drivers.values():
            driver.close()
        _drivers.clear()


@strawberry.type(description="One problem of a submitted document, with its path in the document.")
class SubmissionProblem:
    path: str = strawberry.field(description="e.g. datasets[2].images[5].phenotypes[0] (empty: the whole document)")
    message: str


@strawberry.type
class SubmitStudyResult:
    ok: bool = strawberry.field(description="false when the document is invalid (see errors); nothing was written")
    accession: str | None
    version: int | None
    created: bool = strawberry.field(description="a new study and accession were created")
    changed: bool = strawberry.field(description="a new version was written (false: identical document)")
    checksum: str | None
    errors: list[SubmissionProblem]


@strawberry.type(description="One accepted version of a submitted study.")
class StudyVersion:
    accession: str
    version: int
    checksum: str
    created_at: str
    submitted_by: str | None
    current: bool
    document: JSON | None = strawberry.field(description="the submission as accepted (canonical JSON); null in version lists")


@strawberry.type(description="One difference between two versions' documents (JSON-patch-like).")
class VersionChange:
    op: str = strawberry.field(description="add | remove | replace | reorder")
    path: str
    old: JSON | None
    new: JSON | None


HTTP_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404}


def _refuse(info: Info, message: str, code: str) -> GraphQLError:
    """A refusal, also reflected in the HTTP status (401 no/bad token, 403 wrong role/owner)."""
    response = getattr(info.context, "response", None)
    if response is not None and code in HTTP_STATUS:
        response.status_code = HTTP_STATUS[code]
    return _error(message, code)


def require_principal(info: Info, action: str, *, curator: bool = False) -> Any:
    """The caller's principal, or a 401 (no token) / 403 (role too low) refusal naming `action`."""
    principal = getattr(info.context, "principal", None)
    if principal is None:
        kind = "a curator token" if curator else "an API token"
        raise _refuse(info, f"{action} needs {kind}: send `Authorization: Bearer <token>`", "UNAUTHENTICATED")
    if getattr(principal, "role", None) not in ROLES:
        raise _refuse(info, f"this token has no role that may do {action}", "FORBIDDEN")
    if curator and not principal.can_edit_any:
        raise _refuse(info, f"{action} is for curators and admins", "FORBIDDEN")
    return principal


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Submit a study (REMBI document as JSON, or YAML/JSON text). Without `accession` a new "
        "study is created and gets an accession; with it, a new version of that study is written "
        "(owner or curator only). An identical document creates no new version."
    )
    async def submit_study(self, info: Info, document: JSON, accession: str | None = None) -> SubmitStudyResult:
        principal = require_principal(info, "submitting")
        settings = info.context.settings
        if not isinstance(document, (dict, str)):
            return SubmitStudyResult(ok=False, accession=None, version=None, created=False, changed=False, checksum=None,
                                     errors=[SubmissionProblem(path="", message="the document must be an object or YAML/JSON text")])
        driver = write_driver(info.context)
        try:
            result = await asyncio.to_thread(
                submit, driver, settings.neo4j_database, document,
                submitter=principal.name, accession=accession,
                may_edit_any=principal.can_edit_any, prefix=settings.accession_prefix,
            )
        except SubmissionInvalid as exc:
            return SubmitStudyResult(
                ok=False, accession=accession, version=None, created=False, changed=False, checksum=None,
                errors=[SubmissionProblem(path=p.path, message=p.message) for p in exc.problems],
            )
        except SubmissionRefused as exc:
            raise _refuse(info, str(exc), exc.code) from exc
        except GraphUnavailable as exc:
            raise _error("the graph database is unavailable; try again later", "UNAVAILABLE") from exc
        return SubmitStudyResult(ok=True, accession=result.accession, version=result.version, created=result.created,
                                 changed=result.changed, checksum=result.checksum, errors=[])


    @strawberry.mutation(
        description="Load or upgrade an ontology from its file text (OBO, OBO Graphs JSON, RDF/XML); curators only. "
        "An upgrade returns its report; applyReplacements moves annotations off obsolete terms."
    )
    async def load_ontology(
        self,
        info: Info,
        content: str,
        filename: str,
        ontology: str | None = None,
        version: str | None = None,
        apply_replacements: bool = False,
    ) -> Annotated["LoadOntologyResult", strawberry.lazy("bioimage_hub.api.ontology_types")]:
        from bioimage_hub.api.ontology_types import load_ontology_mutation

        return await load_ontology_mutation(info, content, filename, ontology, version, apply_replacements)


# --------------------------------------------------------------------------- read helpers


def _viewer(info: Info) -> Any:
    """Who reads, for the embargo check: the principal, else the context's `Viewer`."""
    principal = getattr(info.context, "principal", None)
    return principal if principal is not None else getattr(info.context, "viewer", None)


def _version(v: versions.VersionInfo) -> StudyVersion:
    return StudyVersion(accession=v.accession, version=v.version, checksum=v.checksum, created_at=v.created_at,
                        submitted_by=v.submitted_by, current=v.current, document=v.document)


async def study_versions(info: Info, accession: str) -> list[StudyVersion]:
    """Every version of a study, oldest first (one statement; [] when unknown or embargoed)."""
    return [_version(v) for v in await versions.alist_versions(info.context.run, accession, _viewer(info))]


async def study_version(info: Info, accession: str, version: int) -> StudyVersion | None:
    """One version with its document (one statement; None when unknown or embargoed)."""
    found = await versions.aget_version(info.context.run, accession, version, _viewer(info))
    return _version(found) if found else None


async def study_version_diff(info: Info, accession: str, from_version: int, to_version: int) -> list[VersionChange] | None:
    """What changed from one version to another (one statement; None when either is not visible)."""
    changes = await versions.aversion_diff(info.context.run, accession, from_version, to_version, _viewer(info))
    if changes is None:
        return None
    return [VersionChange(op=c.op, path=c.path, old=c.old, new=c.new) for c in changes]
