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
* `is_a` holds direct superclasses only; `closure` holds, for every term (stubs included), one row
  per ancestor with the length of the shortest is_a path, plus the term itself at distance 0.
* pronto rejects an OBO file whose `is_a` names a term the file does not declare; such files are
  re-read with a bare `[Term]` frame added for each missing parent, which then becomes a stub.
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable
from pathlib import Path

import pronto

from bioimage_hub.models.ontology import ParsedOntology, Synonym, Term
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

    terms: list[Term] = []
    parents: dict[str, list[str]] = {}
    dropped_edges: Counter[str] = Counter()  # unnormalisable parent -> edges dropped
    seen: dict[str, str] = {}  # canonical curie -> raw id it came from
    step = max(1, total // _PROGRESS_STEPS)
    for done, t in enumerate(raw_terms, start=1):
        tid = ids.get(t.id)
        if tid is not None and tid.curie in seen:
            problems.append(
                f"{t.id!r} and {seen[tid.curie]!r} are both {tid.curie}: kept the first only"
            )
        elif tid is not None:
            seen[tid.curie] = t.id
            terms.append(_term(t, tid, prefix))
            ups: set[str] = set()
            for sup in t.superclasses(distance=1, with_self=False):
                sup_id = canonical(sup.id)
                if sup_id is None:
                    dropped_edges[sup.id] += 1
                elif sup_id.curie != tid.curie:
                    ups.add(sup_id.curie)
            parents[tid.curie] = sorted(ups)
        if progress is not None and (done % step == 0 or done == total):
            progress(done, total)

    for raw, reason in sorted(bad_ids.items()):
        edges = dropped_edges.get(raw, 0)
        tail = f"; {edges} is_a edge(s) to it dropped" if edges else ""
        problems.append(f"skipped identifier {raw!r}: {reason}{tail}")

    # Edges and closure rows go in as plain dicts: pydantic validates a list of dicts in one go
    # several times faster than constructing ~10^5 models one by one (hp: 215k closure rows).
    edges = [{"child": c, "parent": p} for c in sorted(parents) for p in parents[c]]
    closure = [
        {"descendant": d, "ancestor": a, "distance": n} for d, a, n in transitive_closure(parents)
    ]
    return ParsedOntology.model_validate(
        {
            "id": oid,
            "prefix": prefix,
            "version": version,
            "title": _title(meta),
            "terms": terms,
            "is_a": edges,
            "closure": closure,
            "data_version": data_version,
            "warnings": problems,
        }
    )


def transitive_closure(parents: dict[str, list[str]]) -> list[tuple[str, str, int]]:
    """(descendant, ancestor, shortest is_a distance) for every node of `parents`, itself at 0.

    One breadth-first search up the parent map per node: BFS reaches each ancestor first along a
    shortest path, and cycles cannot loop. Rows are ordered by descendant, then distance, then id.
    """
    rows: list[tuple[str, str, int]] = []
    for node in sorted(parents):
        dist = {node: 0}
        queue = deque((node,))
        while queue:
            cur = queue.popleft()
            d = dist[cur] + 1
            for up in parents.get(cur, ()):
                if up not in dist:
                    dist[up] = d
                    queue.append(up)
        rows.extend((node, a, n) for a, n in sorted(dist.items(), key=lambda kv: (kv[1], kv[0])))
    return rows


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


def _term(t: pronto.Term, tid: TermId, file_prefix: str) -> Term:
    definition = str(t.definition) if t.definition else None
    synonyms = sorted(
        {(str(s.description), str(s.scope or "RELATED")) for s in t.synonyms if s.description}
    )
    return Term(
        id=tid.curie,
        iri=tid.iri,
        short_form=tid.short_form,
        ontology=tid.prefix.lower(),
        label=t.name or None,
        definition=definition,
        synonyms=[Synonym(text=text, scope=scope) for text, scope in synonyms],
        obsolete=bool(t.obsolete),
        stub=tid.prefix != file_prefix,
    )


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
