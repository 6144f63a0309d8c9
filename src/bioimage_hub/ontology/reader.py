"""Read an ontology file (OBO, OBO Graphs JSON or OWL RDF/XML) into a `ParsedOntology`.

Parsing is done by pronto with `import_depth=0`: imports are never fetched, so a term from another
ontology exists only if the file itself declares it (or names it as an is_a parent, see below).

* Every identifier is turned into its canonical CURIE by `bioimage_hub.ontology.curie`;
  identifiers it cannot normalise are skipped and listed in `ParsedOntology.warnings`.
* The file's ontology id is the `ontology_id` argument, else the `ontology:` header (an IRI such as
  `http://www.ebi.ac.uk/cmpo/cmpo.obo` is reduced to `cmpo`), else the file name stem.
* Its prefix is the canonical prefix of its own terms: the one spelling the ontology id if the file
  has such terms, else the most common one. Terms under any other prefix (GO, PATO, BFO, ...) are
  `stub=True` and belong to their own ontology (`go`, `pato`, `bfo`, ...).
* Per term: label, definition, synonyms (scope and type), xrefs, subsets, namespace, obsolete,
  replaced_by and consider (canonical CURIEs).
* Edges: `is_a` (direct superclasses), `part_of` (the relationship `part_of` / BFO:0000050, by id
  or name) and `relations` (every other OBO relationship, kept by name). Self-loops are dropped.
* Terms that an edge, replaced_by or consider names but the file does not declare are added as
  stubs. The is_a and is_a + part_of ("hierarchical") closures with shortest distances are derived
  from the edges on first use (`ParsedOntology.closure`, `.hierarchical_closure`).
* pronto rejects an OBO file whose `is_a` names a term the file does not declare; such files are
  re-read with a bare `[Term]` frame added for each missing parent, which then becomes a stub.
* `file_checksum` is the sha256 of the file: reloading an unchanged file is a no-op.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import pronto

from bioimage_hub.models.ontology import ParsedOntology
from bioimage_hub.ontology.closure import transitive_closure as _transitive_closure
from bioimage_hub.ontology.curie import InvalidIdentifier, TermId, term_id

__all__ = ["OntologyFormatError", "read_ontology", "transitive_closure"]

Progress = Callable[[int, int], None]

_TITLE_PROPERTIES = {
    "dc:title",
    "dcterms:title",
    "title",
    "http://purl.org/dc/elements/1.1/title",
    "http://purl.org/dc/terms/title",
}
_RELEASE_DATE = re.compile(r"(?:^|/)releases/(\d{4}-\d{2}-\d{2})(?:/|$)")
_ONTOLOGY_SUFFIXES = (".gz", ".bz2", ".xz", ".obo", ".owl", ".json", ".ofn", ".xml")
_FRAME = re.compile(rb"^\s*\[(\w+)\]\s*$")
# How many progress callbacks at most per read (plus the final one).
_PROGRESS_STEPS = 500


class OntologyFormatError(ValueError):
    """The file cannot be read as an ontology (missing, unreadable, not OBO/OWL/OBO-JSON, empty)."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def read_ontology(
    path: Path,
    ontology_id: str | None = None,
    version: str | None = None,
    progress: Progress | None = None,
) -> ParsedOntology:
    """Parse `path` with pronto (imports not followed) into canonical terms, is_a edges and closure.

    `progress(done, total)` is called while terms are processed (`total` = terms in the file;
    throttled to a few hundred calls, the last one always `done == total`).
    Raises `OntologyFormatError` for a missing, unreadable or unsupported file.
    """
    path = Path(path)
    problems: list[str] = []
    onto = _load(path, problems)
    checksum = _checksum(path)

    meta = onto.metadata
    oid = _clean_id(ontology_id) or _id_from_header(meta.ontology) or _id_from_name(path.name)
    if not oid:
        raise OntologyFormatError(path, "cannot determine an ontology id; pass ontology_id")
    data_version = meta.data_version or None
    if version is None:
        version = _version(data_version, meta.date)

    # ---- terms: canonical ids first (the prefix needs all of them) ----------------------------
    raw_terms = sorted(onto.terms(), key=lambda t: t.id)
    total = len(raw_terms)
    if total == 0:
        raise OntologyFormatError(path, "the file declares no terms")

    bad_ids: dict[str, str] = {}  # raw id -> reason
    ids: dict[str, TermId] = {}  # raw id -> canonical id, for every normalisable term

    def canonical(raw: str) -> TermId | None:
        tid = ids.get(raw)
        if tid is None and raw not in bad_ids:
            try:
                tid = ids[raw] = term_id(raw)
            except InvalidIdentifier as exc:
                bad_ids[raw] = str(exc)
        return tid

    for t in raw_terms:
        canonical(t.id)
    prefix = _file_prefix(oid, (tid.prefix for tid in ids.values()))
    if prefix is None:
        raise OntologyFormatError(path, "no term has an identifier that can be normalised")

    default_namespace = getattr(meta, "default_namespace", None) or None
    relation_names = _relation_names(onto)
    lineage = _lineage(onto)
    terms: list[dict] = []
    is_a: set[tuple[str, str]] = set()
    part_of: set[tuple[str, str]] = set()
    related: set[tuple[str, str, str, str]] = set()
    dropped_edges: Counter[str] = Counter()  # unnormalisable target -> edges dropped
    seen: dict[str, str] = {}  # canonical curie -> raw id it came from
    step = max(1, total // _PROGRESS_STEPS)

    def targets(raws: Iterable[str]) -> list[str]:
        out = []
        for raw in raws:
            target = canonical(raw)
            if target is None:
                dropped_edges[raw] += 1
            else:
                out.append(target.curie)
        return out

    for done, t in enumerate(raw_terms, start=1):
        tid = ids.get(t.id)
        if tid is not None and tid.curie in seen:
            problems.append(
                f"{t.id!r} and {seen[tid.curie]!r} are both {tid.curie}: kept the first only"
            )
        elif tid is not None:
            seen[tid.curie] = t.id
            me = tid.curie
            data = t._data()
            replaced_by, consider = _replacements(data)
            row = _term(data, tid, prefix, sorted(set(targets(replaced_by))), sorted(set(targets(consider))))
            if row["namespace"] is None:
                row["namespace"] = default_namespace  # OBO: frames without one are in the default
            terms.append(row)
            sups = lineage[t.id].sup if lineage is not None else (
                s.id for s in t.superclasses(distance=1, with_self=False)
            )
            for parent in targets(sups):
                if parent != me:
                    is_a.add((me, parent))
            for rel_id, raw_targets in data.relationships.items():
                name = relation_names.get(rel_id)
                kind = _relation_kind(rel_id, name)
                for parent in targets(raw_targets):
                    if parent == me:
                        continue  # e.g. BFO's "continuant part_of continuant"
                    if kind == "part_of":
                        part_of.add((me, parent))
                    else:
                        related.add((me, parent, name or rel_id, rel_id))
        if progress is not None and (done % step == 0 or done == total):
            progress(done, total)

    for raw, reason in sorted(bad_ids.items()):
        edges = dropped_edges.get(raw, 0)
        tail = f"; {edges} edge(s) to it dropped" if edges else ""
        problems.append(f"skipped identifier {raw!r}: {reason}{tail}")

    # Terms the file names (replaced_by, consider, part_of, other relationships) without
    # declaring them become stubs of their own ontology, like undeclared is_a parents.
    declared = {t["id"] for t in terms}
    mentioned = {c for _, c in is_a} | {p for _, p in part_of} | {r[1] for r in related}
    for t in terms:
        mentioned.update(t["replaced_by"])
        mentioned.update(t["consider"])
    for curie in sorted(mentioned - declared):
        terms.append(_stub(curie))
    terms.sort(key=lambda t: t["id"])

    # Everything goes in as plain dicts: pydantic validates one big structure several times
    # faster than constructing ~10^4 models one by one.
    return ParsedOntology.model_validate(
        {
            "id": oid,
            "prefix": prefix,
            "version": version,
            "title": _title(meta),
            "terms": terms,
            "is_a": [{"child": c, "parent": p} for c, p in sorted(is_a)],
            "part_of": [{"child": c, "parent": p} for c, p in sorted(part_of)],
            "relations": [
                {"child": c, "parent": p, "relation": n, "relation_id": r}
                for c, p, n, r in sorted(related)
            ],
            "data_version": data_version,
            "file_checksum": checksum,
            "warnings": problems,
        }
    )


def transitive_closure(parents: dict[str, list[str]]) -> list[tuple[str, str, int]]:
    """(descendant, ancestor, shortest distance) for every node of `parents`, itself at 0."""
    return _transitive_closure(parents)


# ---- parsing ------------------------------------------------------------------------------------


def _load(path: Path, problems: list[str]) -> pronto.Ontology:
    if not path.exists():
        raise OntologyFormatError(path, "no such file")
    if not path.is_file():
        raise OntologyFormatError(path, "not a regular file")
    try:
        return _parse(str(path), path, problems)
    except KeyError as exc:
        # pronto cannot link an is_a to a term the file does not declare. Retry (OBO only) with
        # a bare frame for every such parent, so that it becomes a stub.
        missing = _undeclared_is_a_targets(_read_bytes(path))
        if not missing:
            raise OntologyFormatError(path, f"pronto failed on term {exc}") from exc
    frames = b"".join(b"\n[Term]\nid: " + m + b"\n" for m in sorted(missing))
    data = _read_bytes(path).rstrip() + b"\n" + frames
    try:
        onto = _parse(io.BytesIO(data), path, problems)
    except KeyError as exc:
        raise OntologyFormatError(path, f"pronto failed on term {exc}") from exc
    names = ", ".join(m.decode("utf-8", "replace") for m in sorted(missing))
    problems.append(f"is_a parent(s) not declared in the file, added as stubs: {names}")
    return onto


def _parse(source: str | io.BytesIO, path: Path, problems: list[str]) -> pronto.Ontology:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            onto = pronto.Ontology(source, import_depth=0)
    except KeyError:
        raise
    except OSError as exc:
        raise OntologyFormatError(path, f"cannot read the file: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise OntologyFormatError(path, f"not a text ontology file ({exc.reason})") from exc
    except ValueError as exc:
        if "could not find a parser" in str(exc):
            raise OntologyFormatError(
                path, "not a supported ontology format (expected OBO, OBO Graphs JSON or OWL RDF/XML)"
            ) from exc
        raise OntologyFormatError(path, f"cannot parse: {exc}") from exc
    except Exception as exc:  # fastobo SyntaxError, XML errors, JSON errors, ...
        raise OntologyFormatError(path, f"cannot parse: {type(exc).__name__}: {exc}") from exc
    seen: set[str] = set()
    for w in caught:
        text = f"pronto {w.category.__name__}: {w.message}"
        if text not in seen:
            seen.add(text)
            problems.append(text)
    return onto


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OntologyFormatError(path, f"cannot read the file: {exc}") from exc


def _undeclared_is_a_targets(data: bytes) -> set[bytes]:
    """is_a targets of [Term] frames of an OBO text that no [Term] frame declares."""
    declared: set[bytes] = set()
    targets: set[bytes] = set()
    frame = b""
    for line in data.splitlines():
        match = _FRAME.match(line)
        if match:
            frame = match[1]
            continue
        if frame != b"Term":
            continue
        stripped = line.strip()
        if stripped.startswith(b"id:"):
            value = stripped[3:].split(b"!", 1)[0].split()
            if value:
                declared.add(value[0])
        elif stripped.startswith(b"is_a:"):
            value = stripped[5:].split(b"!", 1)[0].split(b"{", 1)[0].split()
            if value:
                targets.add(value[0])
    return targets - declared


# ---- per term -------------------------------------------------------------------------------------


_SCOPES = {"EXACT", "BROAD", "NARROW", "RELATED"}
_PART_OF_IDS = {"part_of", "BFO:0000050", "BFO_0000050", "http://purl.obolibrary.org/obo/BFO_0000050"}
_REPLACED_BY_PROPERTIES = {
    "IAO:0100001",
    "http://purl.obolibrary.org/obo/IAO_0100001",
    "oboInOwl:replacedBy",
    "http://www.geneontology.org/formats/oboInOwl#replacedBy",
}
_CONSIDER_PROPERTIES = {"oboInOwl:consider", "http://www.geneontology.org/formats/oboInOwl#consider"}


def _term(data: object, tid: TermId, file_prefix: str, replaced_by: list[str], consider: list[str]) -> dict:
    """One term as a plain dict (validated later with the whole ontology), from pronto's data."""
    definition = data.definition  # type: ignore[attr-defined]
    synonyms: dict[tuple[str, str], str | None] = {}
    for s in data.synonyms:  # type: ignore[attr-defined]
        if not s.description:
            continue
        scope = s.scope if s.scope in _SCOPES else "RELATED"
        key = (str(s.description), scope)
        # the same text and scope under several types: keep one, a typed one first
        if key not in synonyms or (synonyms[key] is None and s.type):
            synonyms[key] = s.type or None
    return {
        "id": tid.curie,
        "iri": tid.iri,
        "short_form": tid.short_form,
        "ontology": tid.prefix.lower(),
        "label": data.name or None,  # type: ignore[attr-defined]
        "definition": str(definition) if definition else None,
        "synonyms": [
            {"text": text, "scope": scope, "type": synonyms[(text, scope)]}
            for text, scope in sorted(synonyms)
        ],
        "obsolete": bool(data.obsolete),  # type: ignore[attr-defined]
        "stub": tid.prefix != file_prefix,
        "namespace": data.namespace or None,  # type: ignore[attr-defined]
        "xrefs": sorted({str(x.id) for x in data.xrefs}),  # type: ignore[attr-defined]
        "subsets": sorted(data.subsets),  # type: ignore[attr-defined]
        "replaced_by": replaced_by,
        "consider": consider,
    }


def _stub(curie: str) -> dict:
    tid = term_id(curie)
    return {
        "id": tid.curie,
        "iri": tid.iri,
        "short_form": tid.short_form,
        "ontology": tid.prefix.lower(),
        "stub": True,
    }


def _replacements(data: object) -> tuple[set[str], set[str]]:
    """replaced_by and consider ids; OBO Graphs JSON puts `consider` (and sometimes
    replaced_by) in annotations that pronto keeps as plain property values."""
    replaced_by = set(data.replaced_by)  # type: ignore[attr-defined]
    consider = set(data.consider)  # type: ignore[attr-defined]
    for ann in data.annotations:  # type: ignore[attr-defined]
        value = getattr(ann, "resource", None) or getattr(ann, "literal", None)
        if not value:
            continue
        if ann.property in _REPLACED_BY_PROPERTIES:
            replaced_by.add(str(value))
        elif ann.property in _CONSIDER_PROPERTIES:
            consider.add(str(value))
    return replaced_by, consider


def _relation_names(onto: pronto.Ontology) -> dict[str, str]:
    names = {}
    for rel in onto.relationships():
        if rel.name:
            names[rel.id] = rel.name
    return names


def _relation_kind(rel_id: str, name: str | None) -> str:
    """`part_of` for BFO:0000050 (by id, IRI or the names `part_of` / `part of`), else `other`."""
    if rel_id in _PART_OF_IDS or rel_id.endswith(("#part_of", "/part_of")):
        return "part_of"
    if name is not None and name.strip().lower().replace(" ", "_") == "part_of":
        return "part_of"
    return "other"


def _lineage(onto: pronto.Ontology) -> dict | None:
    """pronto's internal child -> direct superclasses map (what `superclasses(distance=1)` reads);
    None if this pronto version stores it differently (then the public API is used)."""
    lineage = getattr(getattr(onto, "_terms", None), "lineage", None)
    return lineage if isinstance(lineage, dict) else None


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- header -------------------------------------------------------------------------------------


def _file_prefix(oid: str, prefixes: Iterable[str]) -> str | None:
    counts = Counter(prefixes)
    if not counts:
        return None
    for prefix in counts:
        if prefix.lower() == oid:
            return prefix
    return min(counts, key=lambda p: (-counts[p], p))


def _clean_id(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def _id_from_name(name: str) -> str | None:
    name = name.strip().lower()
    stripped = True
    while stripped:
        stripped = False
        for suffix in _ONTOLOGY_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name, stripped = name[: -len(suffix)], True
    return name or None


def _id_from_header(value: str | None) -> str | None:
    """`fbbi` -> fbbi, `hp.obo` -> hp, `http://www.ebi.ac.uk/cmpo/cmpo.obo` -> cmpo."""
    value = (value or "").strip().rstrip("/#")
    if not value:
        return None
    return _id_from_name(value.rsplit("/", 1)[-1])


def _version(data_version: str | None, date: object) -> str | None:
    """The release date in a `.../releases/2017-12-19/...` data-version, else it as written;
    without one, the `date` header as YYYY-MM-DD."""
    if data_version:
        match = _RELEASE_DATE.search(data_version)
        return match[1] if match else data_version
    if date is not None and hasattr(date, "strftime"):
        return date.strftime("%Y-%m-%d")
    return None


def _title(meta: pronto.Metadata) -> str | None:
    for ann in sorted(meta.annotations, key=lambda a: a.property):
        if ann.property in _TITLE_PROPERTIES:
            text = getattr(ann, "literal", None)
            if text:
                return str(text)
    return None
