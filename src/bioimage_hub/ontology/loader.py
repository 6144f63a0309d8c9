"""Load an ontology file into the graph: read (pronto) + write (one transaction), with the upgrade
report when the ontology was already loaded with another version. The CLI (`ontology load`) and
the GraphQL curator mutation both call `load_ontology`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j

from bioimage_hub.graph.writer import OntologyWrite, write_ontology
from bioimage_hub.models.ontology import ParsedOntology
from bioimage_hub.ontology.reader import read_ontology
from bioimage_hub.ontology.upgrade import UpgradeReport

__all__ = ["LoadResult", "load_ontology"]

# progress(stage, done, total): stage "read" (terms processed) or "write" (rows written)
Progress = Callable[[str, int, int | None], None]


@dataclass
class LoadResult:
    ontology: str
    prefix: str
    version: str | None
    title: str | None
    status: str  # "loaded" | "upgraded" | "reloaded" | "unchanged" | "applied" (pending replacements)
    terms: int
    stubs: int
    obsolete: int
    is_a: int
    part_of: int
    relations: int
    closure_rows: int  # is_a closure pairs (distance >= 1)
    hierarchical_rows: int  # is_a + part_of closure pairs (distance >= 1)
    file_checksum: str | None
    read_seconds: float
    write_seconds: float
    report: UpgradeReport | None = None
    created: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return round(self.read_seconds + self.write_seconds, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ontology": self.ontology,
            "prefix": self.prefix,
            "version": self.version,
            "title": self.title,
            "status": self.status,
            "terms": self.terms,
            "stubs": self.stubs,
            "obsolete": self.obsolete,
            "isA": self.is_a,
            "partOf": self.part_of,
            "relations": self.relations,
            "closureRows": self.closure_rows,
            "hierarchicalClosureRows": self.hierarchical_rows,
            "fileChecksum": self.file_checksum,
            "created": self.created,
            "deleted": self.deleted,
            "readSeconds": round(self.read_seconds, 3),
            "writeSeconds": round(self.write_seconds, 3),
            "seconds": self.seconds,
            "upgrade": self.report.to_dict() if self.report else None,
            "warnings": self.warnings[:20],
        }


def load_ontology(
    driver: neo4j.Driver,
    database: str,
    path: Path | str,
    ontology_id: str | None = None,
    version: str | None = None,
    apply_replacements: bool = False,
    progress: Progress | None = None,
    *,
    force: bool = False,
) -> LoadResult:
    """Read `path` and write it in one transaction; returns counts and the upgrade report (if any).

    Raises `OntologyFormatError` (bad input), `OntologyWriteError` or a neo4j error (nothing of
    the ontology written then).
    """
    started = time.perf_counter()
    parsed = read_ontology(
        Path(path),
        ontology_id=ontology_id,
        version=version,
        progress=(lambda done, total: progress("read", done, total)) if progress else None,
    )
    # the closures are derived lazily: count them as part of reading
    closure_rows = _pairs(parsed.is_a_ancestors)
    hierarchical_rows = _pairs(parsed.hierarchical_ancestors)
    read_seconds = time.perf_counter() - started

    started = time.perf_counter()
    written: OntologyWrite = write_ontology(
        driver,
        database,
        parsed,
        progress=(lambda done, total: progress("write", done, total)) if progress else None,
        apply_replacements=apply_replacements,
        force=force,
    )
    return _result(parsed, written, closure_rows, hierarchical_rows, read_seconds, time.perf_counter() - started)


def _pairs(ancestors: dict[str, dict[str, int]]) -> int:
    return sum(len(a) - 1 for a in ancestors.values())


def _result(
    parsed: ParsedOntology,
    written: OntologyWrite,
    closure_rows: int,
    hierarchical_rows: int,
    read_seconds: float,
    write_seconds: float,
) -> LoadResult:
    own = [t for t in parsed.terms if not t.stub]
    return LoadResult(
        ontology=parsed.id,
        prefix=parsed.prefix,
        version=parsed.version,
        title=parsed.title,
        status=written.status,
        terms=len(own),
        stubs=len(parsed.terms) - len(own),
        obsolete=sum(1 for t in own if t.obsolete),
        is_a=len(parsed.is_a),
        part_of=len(parsed.part_of),
        relations=len(parsed.relations),
        closure_rows=closure_rows,
        hierarchical_rows=hierarchical_rows,
        file_checksum=parsed.file_checksum,
        read_seconds=read_seconds,
        write_seconds=write_seconds,
        report=written.report,
        created=written.created,
        deleted=written.deleted,
        warnings=list(parsed.warnings),
    )
