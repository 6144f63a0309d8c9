"""GraphQL view of ontology upgrade reports, and the curator mutation that loads a term set.

Reports are stored on `(:OntologyUpgrade)` nodes by the loader (`ontology/loader.py`); their
affected annotations name studies, so entries of studies the viewer may not see are dropped.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from bioimage_hub.graph.query import access
from bioimage_hub.graph.query.compiler import Compiled

READ_REPORTS = """
MATCH (u:OntologyUpgrade) WHERE $ontology IS NULL OR u.ontology = $ontology
WITH u, hidden ORDER BY u.at DESC LIMIT 100
RETURN {reports: collect(properties(u)), hidden: head(collect(hidden))} AS result
"""


@strawberry.type
class Relabelled:
    term: str
    old_label: str | None
    new_label: str | None


@strawberry.type
class Moved:
    term: str
    label: str | None
    old_parents: list[str]
    new_parents: list[str]


@strawberry.type(description="A hub annotation pointing at a term an upgrade made obsolete (or removed).")
class AffectedAnnotation:
    kind: str = strawberry.field(description="phenotype (Phenotype MAPPED_TO) or dataset (Dataset IMAGED_BY)")
    id: str
    name: str | None
    study: str | None
    images: int
    term: str
    term_label: str | None
    change: str = strawberry.field(description="obsoleted or removed")
    replaced_by: list[str]
    consider: list[str]
    replacement: str | None = strawberry.field(description="the single replaced_by term applied with applyReplacements")
    applied: bool
    note: str | None


@strawberry.type(description="What loading a newer release of an ontology changed.")
class OntologyUpgrade:
    id: str
    ontology: str
    from_version: str | None
    to_version: str | None
    at: str
    added: list[str]
    removed: list[str]
    obsoleted: list[str]
    relabelled: list[Relabelled]
    moved: list[Moved]
    affected: list[AffectedAnnotation]
    applied: bool


def _report(props: dict[str, Any], hidden: set[str]) -> OntologyUpgrade:
    affected = [a for a in json.loads(props.get("affected") or "[]") if a.get("study") not in hidden]
    at = props.get("at")
    return OntologyUpgrade(
        id=props["id"],
        ontology=props["ontology"],
        from_version=props.get("fromVersion"),
        to_version=props.get("toVersion"),
        at=at.iso_format() if hasattr(at, "iso_format") else str(at),
        added=list(props.get("added") or []),
        removed=list(props.get("removed") or []),
        obsoleted=list(props.get("obsoleted") or []),
        relabelled=[Relabelled(term=r["id"], old_label=r.get("from"), new_label=r.get("to"))
                    for r in json.loads(props.get("relabelled") or "[]")],
        moved=[Moved(term=m["id"], label=m.get("label"), old_parents=list(m.get("from") or []),
                     new_parents=list(m.get("to") or [])) for m in json.loads(props.get("moved") or "[]")],
        affected=[AffectedAnnotation(
            kind=a["kind"], id=a["id"], name=a.get("name"), study=a.get("study"), images=a.get("images", 0),
            term=a["term"], term_label=a.get("termLabel"), change=a.get("change", "obsoleted"),
            replaced_by=list(a.get("replacedBy") or []), consider=list(a.get("consider") or []),
            replacement=a.get("replacement"), applied=bool(a.get("applied")), note=a.get("note"),
        ) for a in affected],
        applied=bool(props.get("applied")),
    )


async def ontology_upgrades(info: Info, ontology: str | None) -> list[OntologyUpgrade]:
    compiled = access.apply(Compiled(READ_REPORTS, {"ontology": ontology.lower() if ontology else None}),
                            info.context.viewer)
    rows = await info.context.run(compiled.cypher, compiled.params)
    result = rows[0]["result"] if rows else {"reports": [], "hidden": []}
    hidden = set(result.get("hidden") or [])
    return [_report(dict(p), hidden) for p in result.get("reports") or []]


@strawberry.type
class LoadOntologyResult:
    ontology: str
    version: str | None
    status: str = strawberry.field(description="loaded | upgraded | reloaded | unchanged | applied")
    terms: int
    obsolete: int
    upgrade: OntologyUpgrade | None


async def load_ontology_mutation(
    info: Info,
    content: str,
    filename: str,
    ontology: str | None,
    version: str | None,
    apply_replacements: bool,
) -> LoadOntologyResult:
    """Curators only; the file arrives as text and is loaded exactly as `bioimage-hub ontology load`."""
    from bioimage_hub.api.mutations import require_principal, write_driver
    from bioimage_hub.ontology.loader import load_ontology
    from bioimage_hub.ontology.reader import OntologyFormatError

    require_principal(info, "loading ontologies", curator=True)
    suffix = Path(filename).suffix.lower()
    if suffix not in (".obo", ".json", ".owl", ".xml", ".rdf"):
        raise GraphQLError(f"filename: {filename!r} must end in .obo, .json, .owl, .xml or .rdf",
                           extensions={"code": "BAD_REQUEST"})
    if len(content.encode()) > info.context.settings.max_ontology_upload_bytes:
        raise GraphQLError("content: the ontology is larger than the upload limit", extensions={"code": "BAD_REQUEST"})
    settings = info.context.settings
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(filename).name
        path.write_text(content, encoding="utf-8")
        try:
            result = await asyncio.to_thread(
                load_ontology, write_driver(info.context), settings.neo4j_database, path,
                ontology_id=ontology, version=version, apply_replacements=apply_replacements,
            )
        except OntologyFormatError as exc:
            raise GraphQLError(f"content: {exc.problem if hasattr(exc, 'problem') else exc}",
                               extensions={"code": "BAD_REQUEST"}) from exc
    upgrade = None
    if result.report is not None:
        upgrade = _report(result.report.node_properties() | {"at": result.report.at.isoformat()}, set())
    return LoadOntologyResult(ontology=result.ontology, version=result.version, status=result.status,
                              terms=result.terms, obsolete=result.obsolete, upgrade=upgrade)
