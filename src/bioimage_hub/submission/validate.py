"""Parse and validate a submission document, collecting EVERY problem with its path.

Three layers, all of whose problems are reported together:

1. a raw pass over the parsed YAML/JSON (whatever its shape): duplicate ids per section and
   duplicate image paths per dataset; it also collects the declared ids (for references) and the
   candidate ontology terms;
2. ONE batched Cypher read looks every candidate term up (`lookup_terms`);
3. the pydantic models (`bioimage_hub.models.submission`) check types, sizes, identifier syntax
   (ORCID check digit, DOI, CURIEs), references between sections and — through the validation
   context — that terms exist, are defined by a loaded ontology (not stubs) and are not obsolete.

When the document is structurally valid, a last pass checks consistency across the document
(plates/wells only in screens, one term per phenotype name, one description per gene/reagent).

Problems read like `datasets[2].images[5].phenotypes[0]: unknown term CMPO:9999999`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import neo4j
import yaml
from pydantic import ValidationError

from bioimage_hub.models.submission import Submission
from bioimage_hub.ontology.curie import InvalidIdentifier, term_id
from bioimage_hub.plaintext import position, wide_encoding

MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
MAX_PROBLEMS = 1_000
SECTIONS = ("schema_version", "study", "biosamples", "specimens", "acquisitions", "annotation_methods", "datasets")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class SubmissionInvalid(ValueError):
    """The document has problems; `problems` lists every one of them (nothing was written)."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{head}{len(problems)} problem(s) in the submission:\n{lines}{more}")


def format_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


# --------------------------------------------------------------------------- parsing


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~4x faster
MAX_DEPTH = 32  # the format itself nests 6 levels (datasets[].images[].genes[].organism.id)
MAX_INT_DIGITS = 1_000  # far beyond any real value; Python refuses to convert > 4,300 digits anyway


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, made strict where PyYAML is silently lenient or raises bare ValueErrors:
    duplicate keys are refused, and out-of-range integers and dates become YAML errors with a mark."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: the base constructor reports it with its mark
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first.line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(ch.isdigit() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(None, None, f"integer with {digits} digits", node.start_mark)
        return super().construct_yaml_int(node)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(None, None, f"invalid date {node.value!r}: {exc}", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def _json_int(text: str) -> int | float:
    """Integers too long to be real become inf, which the model then refuses at their path."""
    return int(text) if len(text) <= MAX_INT_DIGITS else float("inf")


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _check_tree(data: Any, *, refuse_shared: bool) -> list[Problem]:
    """Problems of the parsed tree no model check catches: nesting depth, unpaired surrogates
    (they cannot be stored as UTF-8), and, for YAML, aliases (`*name`), which load as shared
    objects and could expand a small file into a huge document during validation."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack and len(problems) < 20:
        item, loc = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                problems.append(Problem(format_path(loc), "text contains an unpaired UTF-16 surrogate (not valid Unicode)"))
            continue
        if not isinstance(item, (dict, list)):
            continue
        if refuse_shared and id(item) in seen:
            return [Problem("", f"YAML aliases (*name) are not allowed in submissions (one is used at {format_path(loc)})")]
        seen.add(id(item))
        if len(loc) >= MAX_DEPTH:
            problems.append(Problem(format_path(loc), f"nested deeper than {MAX_DEPTH} levels"))
            continue
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str):
                    stack.append((key, (*loc, key)))
                stack.append((value, (*loc, key)))
        else:
            stack.extend((value, (*loc, i)) for i, value in enumerate(item))
    return problems


def _decode(document: bytes, source: str | None) -> str:
    wide = wide_encoding(document)
    if wide is not None:
        raise SubmissionInvalid([Problem("", f"the document is {wide.upper()} text: save it as UTF-8")], source)
    try:
        return document.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = position(document, exc.start)
        raise SubmissionInvalid(
            [Problem("", f"{at}: not UTF-8 text (byte 0x{document[exc.start]:02x}): save the document as UTF-8")], source
        ) from None


def _parse_text(document: str, source: str | None) -> Any:
    document = document.removeprefix("\ufeff")  # a UTF-8 byte-order mark is harmless
    if document.lstrip().startswith("{"):
        try:
            data = json.loads(document, object_pairs_hook=_json_pairs, parse_int=_json_int)
        except json.JSONDecodeError as exc:
            raise SubmissionInvalid([Problem("", f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}")], source) from None
        except _DuplicateKey as exc:
            raise SubmissionInvalid([Problem("", f"invalid JSON: duplicate key {exc.key!r}")], source) from None
        except RecursionError:
            raise SubmissionInvalid([Problem("", f"invalid JSON: nested deeper than {MAX_DEPTH} levels")], source) from None
        problems = _check_tree(data, refuse_shared=False)
    else:
        try:
            data = yaml.load(document, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other controls)
            at = position(document, exc.position)
            what = f"unacceptable character #x{exc.character:04x}: {exc.reason}" if isinstance(exc.character, int) else exc.reason
            raise SubmissionInvalid([Problem("", f"{at}: invalid YAML: {what}")], source) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            what = getattr(exc, "problem", None) or str(exc)
            raise SubmissionInvalid([Problem("", f"{where}invalid YAML: {what}")], source) from None
        except UnicodeEncodeError as exc:  # libyaml re-encodes the text: unpaired surrogates fail
            at = position(document, exc.start)
            raise SubmissionInvalid([Problem("", f"{at}: invalid text: {exc.reason}")], source) from None
        except RecursionError:  # the pure-Python loader has no nesting limit of its own
            raise SubmissionInvalid([Problem("", f"invalid YAML: nested deeper than {MAX_DEPTH} levels")], source) from None
        problems = _check_tree(data, refuse_shared=True)
    if problems:
        raise SubmissionInvalid(problems, source)
    return data


def parse_document(document: dict[str, Any] | str | bytes, source: str | None = None) -> dict[str, Any]:
    """A mapping from a dict, or YAML / JSON text (JSON is tried first when the text looks like it)."""
    if isinstance(document, bytes):
        if len(document) > MAX_DOCUMENT_BYTES:
            raise SubmissionInvalid([Problem("", f"document larger than {MAX_DOCUMENT_BYTES} bytes")], source)
        document = _decode(document, source)
    data: Any
    if isinstance(document, dict):
        problems = _check_tree(document, refuse_shared=False)
        if problems:
            raise SubmissionInvalid(problems, source)
        data = document
    elif isinstance(document, str):
        if len(document) > MAX_DOCUMENT_BYTES:
            raise SubmissionInvalid([Problem("", f"document larger than {MAX_DOCUMENT_BYTES} bytes")], source)
        data = _parse_text(document, source)
    else:
        raise SubmissionInvalid([Problem("", f"the document must be a mapping or YAML/JSON text, not {type(document).__name__}")], source)
    if not isinstance(data, dict):
        raise SubmissionInvalid([Problem("", "the document must be a mapping with study, biosamples, specimens, acquisitions, datasets")], source)
    return data


# --------------------------------------------------------------------------- raw pass


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _dict_items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, v) for i, v in _items(value) if isinstance(v, dict)]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


@dataclass
class RawFacts:
    declared: dict[str, set[str]] = field(default_factory=dict)
    candidate_terms: set[str] = field(default_factory=set)
    problems: list[tuple[tuple[Any, ...], str]] = field(default_factory=list)


def raw_pass(doc: dict[str, Any]) -> RawFacts:
    facts = RawFacts()
    for section, kind in (("biosamples", "biosample"), ("specimens", "specimen"), ("acquisitions", "acquisition"),
                          ("annotation_methods", "annotation method"), ("datasets", "dataset")):
        seen: dict[str, int] = {}
        for i, item in _dict_items(doc.get(section)):
            ident = _strip(item.get("id"))
            if not isinstance(ident, str):
                continue
            if ident in seen:
                facts.problems.append(((section, i, "id"), f"duplicate {kind} id {ident!r} (also {section}[{seen[ident]}])"))
            else:
                seen[ident] = i
        facts.declared[kind] = set(seen)

    def term(value: Any) -> None:
        if isinstance(value, str):
            try:
                facts.candidate_terms.add(term_id(value).curie)
            except InvalidIdentifier:
                pass

    def taxon(value: Any) -> None:
        term(value.get("id") if isinstance(value, dict) else value)

    for _, biosample in _dict_items(doc.get("biosamples")):
        taxon(biosample.get("organism"))
    for _, acquisition in _dict_items(doc.get("acquisitions")):
        term(acquisition.get("imaging_method"))
    for d, dataset in _dict_items(doc.get("datasets")):
        paths: dict[str, int] = {}
        for i, image in _dict_items(dataset.get("images")):
            path = _strip(image.get("path"))
            if isinstance(path, str):
                if path in paths:
                    facts.problems.append(
                        (("datasets", d, "images", i, "path"), f"duplicate path {path!r} (also datasets[{d}].images[{paths[path]}])")
                    )
                else:
                    paths[path] = i
            for _, pheno in _items(image.get("phenotypes")):
                term(pheno.get("term") if isinstance(pheno, dict) else pheno)
            for _, gene in _dict_items(image.get("genes")):
                taxon(gene.get("organism"))
    return facts


# --------------------------------------------------------------------------- terms (ONE read)

LOOKUP_TERMS = """
CALL () { MATCH (o:Ontology) RETURN collect(DISTINCT o.prefix) AS prefixes }
CALL () {
  UNWIND $ids AS tid
  MATCH (t:OntologyTerm {id: tid})
  RETURN collect({id: t.id, label: t.label, stub: coalesce(t.stub, false), obsolete: coalesce(t.obsolete, false),
                  replacedBy: COLLECT { MATCH (t)-[:REPLACED_BY]->(r:OntologyTerm) RETURN r.id }}) AS terms
}
RETURN prefixes, terms
"""


def lookup_terms(driver: neo4j.Driver, database: str, curies: Iterable[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Every given term as found in the graph (absent = unknown), and the loaded ontologies' prefixes."""
    records, _, _ = driver.execute_query(
        LOOKUP_TERMS, ids=sorted(set(curies)), database_=database, routing_=neo4j.RoutingControl.READ
    )
    row = records[0]
    return {t["id"]: t for t in row["terms"]}, {p for p in row["prefixes"] if p}


# --------------------------------------------------------------------------- the whole check


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing required field"
    if kind == "extra_forbidden":
        return "unknown field (not part of the submission format)"
    return str(error["msg"])


def _sort_key(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    head = SECTIONS.index(loc[0]) if loc and loc[0] in SECTIONS else len(SECTIONS)
    return (head, *[(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in loc[1:]])


def _consistency(sub: Submission, labels: dict[str, str]) -> list[tuple[tuple[Any, ...], str]]:
    problems: list[tuple[tuple[Any, ...], str]] = []
    pheno_terms: dict[str, tuple[str, str]] = {}
    genes: dict[str, tuple[Any, str]] = {}
    reagents: dict[str, tuple[Any, str]] = {}
    for d, dataset in enumerate(sub.datasets):
        for i, image in enumerate(dataset.images):
            here = ("datasets", d, "images", i)
            if dataset.kind == "experiment" and image.plate is not None:
                problems.append(((*here, "plate"), "plates and wells belong to screens: set the dataset's kind to screen"))
            if dataset.kind == "screen" and image.plate is None:
                problems.append((here, "every image of a screen needs a plate and a well"))
            for k, pheno in enumerate(image.phenotypes):
                name = pheno.name or labels.get(pheno.term) or pheno.term
                where = f"datasets[{d}].images[{i}].phenotypes[{k}]"
                first = pheno_terms.setdefault(name, (pheno.term, where))
                if first[0] != pheno.term:
                    problems.append(((*here, "phenotypes", k), f"phenotype {name!r} is mapped to {pheno.term} here and to {first[0]} at {first[1]}"))
            for k, gene in enumerate(image.genes):
                desc = (gene.symbol, gene.organism.id if gene.organism else None)
                where = f"datasets[{d}].images[{i}].genes[{k}]"
                first_gene = genes.setdefault(gene.id, (desc, where))
                if first_gene[0] != desc:
                    problems.append(((*here, "genes", k), f"gene {gene.id} has a different symbol or organism at {first_gene[1]}"))
            for k, reagent in enumerate(image.reagents):
                desc_r = (reagent.name, tuple(sorted(reagent.properties.items())))
                where = f"datasets[{d}].images[{i}].reagents[{k}]"
                first_r = reagents.setdefault(reagent.key, (desc_r, where))
                if first_r[0] != desc_r:
                    problems.append(((*here, "reagents", k), f"reagent {reagent.key} is described differently at {first_r[1]}"))
    return problems


@dataclass(frozen=True)
class ValidSubmission:
    submission: Submission
    canonical: str = field(repr=False)
    checksum: str
    term_labels: dict[str, str] = field(default_factory=dict, repr=False)


def canonical_document(sub: Submission) -> tuple[str, str]:
    """Canonical JSON (normalised values, sorted keys, defaults left out) and its sha256."""
    data = sub.model_dump(mode="json", exclude_defaults=True)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text, "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate_document(
    document: dict[str, Any] | str | bytes,
    *,
    terms: dict[str, dict[str, Any]] | None = None,
    loaded_prefixes: set[str] | None = None,
    source: str | None = None,
) -> ValidSubmission:
    """Validate without a database (`terms=None` skips the existence checks); raises SubmissionInvalid."""
    doc = parse_document(document, source)
    facts = raw_pass(doc)
    return _validate(doc, facts, terms, loaded_prefixes, source)


def _validate(
    doc: dict[str, Any],
    facts: RawFacts,
    terms: dict[str, dict[str, Any]] | None,
    loaded_prefixes: set[str] | None,
    source: str | None,
) -> ValidSubmission:
    problems = list(facts.problems)
    context = {"declared": facts.declared, "terms": terms, "loaded_prefixes": loaded_prefixes or set()}
    sub: Submission | None = None
    try:
        sub = Submission.model_validate(doc, context=context)
    except ValidationError as exc:
        problems += [(tuple(e["loc"]), _message(e)) for e in exc.errors(include_url=False, include_input=False)]
    labels = {k: v["label"] for k, v in (terms or {}).items() if v.get("label")}
    if sub is not None and not problems:
        problems += _consistency(sub, labels)
    if problems:
        problems.sort(key=lambda p: _sort_key(p[0]))
        raise SubmissionInvalid([Problem(format_path(loc), msg) for loc, msg in problems[:MAX_PROBLEMS]]
                                + ([Problem("", f"... {len(problems) - MAX_PROBLEMS} more problems not shown")]
                                   if len(problems) > MAX_PROBLEMS else []), source)
    assert sub is not None
    text, checksum = canonical_document(sub)
    return ValidSubmission(sub, text, checksum, labels)


def validate(
    driver: neo4j.Driver, database: str, document: dict[str, Any] | str | bytes, source: str | None = None
) -> ValidSubmission:
    """Parse, look every term up in ONE read, validate; raises SubmissionInvalid listing every problem."""
    doc = parse_document(document, source)
    facts = raw_pass(doc)
    terms, prefixes = lookup_terms(driver, database, facts.candidate_terms)
    return _validate(doc, facts, terms, prefixes, source)
