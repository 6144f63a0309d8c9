"""Cross-references to other resources: parse, validate and normalise to ONE canonical CURIE.

Every resource the hub links to is described by a `Resource`: its bioregistry prefix (which is
also the hub's key and the CURIE prefix), the identifier pattern bioregistry records for it, the
accession form the hub stores, and how to build a resolvable URL. bioregistry ships its registry
inside the wheel, so nothing here touches the network (`bioregistry.get_pattern`,
`get_uri_format`, `normalize_prefix` and `parse_iri` all read the bundled registry).

Canonical form (`XRef.curie`, the `CrossReference.id` in the graph) is `<prefix>:<accession>`,
where the accession is written as the resource itself writes it:

=============  ============================  =================================================
resource       canonical CURIE               accepted input (besides the canonical CURIE)
=============  ============================  =================================================
pdb            ``pdb:1abc``                  ``1ABC``, ``pdb_00001abc``, ``PDB:1ABC``, RCSB/PDBe/
                                             wwPDB/identifiers.org URLs. The 4-character id and
                                             its extended form ``pdb_0000xxxx`` are ONE entry.
emdb           ``emdb:EMD-1234``             ``EMD-1234``, ``emd_1234``, ``emdb:1234``, URLs
empiar         ``empiar:EMPIAR-10028``       ``EMPIAR-10028``, ``empiar:10028``, URLs
idr            ``idr:idr0004``               ``idr0004``, ``idr:0004``, IDR URLs
biostudies     ``biostudies:S-BIAD123``      ``S-BIAD123``, ``S-BSST45``, ``bia:S-BIAD123``, URLs
pubmed         ``pubmed:21893595``           ``PMID:21893595``, PubMed / Europe PMC URLs
pmc            ``pmc:PMC3171117``            ``PMC3171117``, ``pmc:3171117``, URLs
doi            ``doi:10.1083/jcb.201108095`` bare DOIs, ``https://doi.org/...`` (lower-cased)
ensembl        ``ensembl:ENSG00000139618``   ``ENSG00000139618`` (bare only for ENS* ids)
ncbigene       ``ncbigene:672``              ``NCBIGene:672``, ``EntrezGene:672`` (digits alone
                                             are ambiguous: PubMed or NCBI Gene -> a CURIE is
                                             required)
uniprot        ``uniprot:P38398``            ``P38398``, ``UniProtKB:P38398``, URLs
=============  ============================  =================================================

Where the hub's rule differs from bioregistry's pattern it says so (`Resource.pattern_note`):
EMDB is accepted with 4 to 6 digits (bioregistry: 4 or 5) because EMDB ids are about to pass
EMD-99999; EMPIAR accessions are `EMPIAR-` + 5 digits (bioregistry: any digits); IDR and EMPIAR
keep their resource prefix in the accession (`idr0004`, `EMPIAR-10028`), bioregistry's local id
drops it (`0004`, `10028`) - both are checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlparse

import bioregistry

__all__ = [
    "RESOURCES",
    "InvalidCrossReference",
    "Resource",
    "UnknownResource",
    "XRef",
    "find_xrefs_in_text",
    "parse_xref",
    "resource",
    "try_parse_xref",
]


class InvalidCrossReference(ValueError):
    """A value is not a valid identifier of the resource it names (or of any known resource)."""

    def __init__(self, value: str, resource: "Resource | None" = None, reason: str | None = None) -> None:
        self.value = value
        self.resource = resource
        if resource is not None:
            message = (
                f"{value!r} is not a valid {resource.title} identifier: expected {resource.expected}"
                f" (pattern {resource.pattern})"
            )
        else:
            message = f"{value!r} is not a recognised cross-reference"
        if reason:
            message += f"; {reason}"
        super().__init__(message)


class UnknownResource(InvalidCrossReference):
    """The CURIE prefix or URL names a resource the hub does not link to."""

    def __init__(self, value: str, prefix: str) -> None:
        self.prefix = prefix
        known = ", ".join(RESOURCES)
        super().__init__(value, None, f"unknown resource prefix {prefix!r} (known: {known})")


@dataclass(frozen=True)
class XRef:
    """One cross-reference in canonical form."""

    resource: str  # bioregistry prefix, e.g. "emdb"
    accession: str  # as the resource writes it, e.g. "EMD-1234"
    url: str

    @property
    def curie(self) -> str:
        return f"{self.resource}:{self.accession}"

    @property
    def id(self) -> str:
        """The graph key of the `CrossReference` node (= the canonical CURIE)."""
        return self.curie

    @property
    def local_id(self) -> str:
        """bioregistry's local unique identifier (`0004` for `idr0004`, `10028` for EMPIAR)."""
        return RESOURCES[self.resource].to_local(self.accession)

    @property
    def bioregistry_curie(self) -> str:
        return f"{self.resource}:{self.local_id}"

    @property
    def is_bioimage_archive(self) -> bool:
        """BioStudies accessions submitted to the BioImage Archive (`S-BIAD…`, `S-BSST…`)."""
        return self.resource == "biostudies" and self.accession.startswith(("S-BIAD", "S-BSST"))

    def __str__(self) -> str:
        return self.curie


# --------------------------------------------------------------------------- resources


@dataclass(frozen=True)
class Resource:
    prefix: str
    title: str
    expected: str  # human description of a valid accession
    pattern: str  # the rule applied to the accession form (regex, full match)
    normalise: Callable[[str], str | None]  # raw local part -> accession, None if not one
    to_local: Callable[[str], str] = lambda acc: acc  # accession -> bioregistry local id
    url_for: Callable[[str], str] | None = None  # own page; None -> bioregistry's URI format
    aliases: tuple[str, ...] = ()  # CURIE prefixes accepted besides bioregistry's synonyms
    bare: bool = True  # may a bare accession (no CURIE prefix) be recognised as this resource
    pattern_note: str | None = None  # how the hub's rule differs from bioregistry's, if it does
    bioregistry_pattern: str = field(default="")

    def url(self, accession: str) -> str:
        if self.url_for is not None:
            return self.url_for(accession)
        fmt = bioregistry.get_uri_format(self.prefix)
        if not fmt:  # pragma: no cover - every supported prefix has one
            raise RuntimeError(f"bioregistry has no URI format for {self.prefix}")
        return fmt.replace("$1", self.to_local(accession))

    def check(self, raw: str, accession: str | None) -> str:
        """ACCESSION if it satisfies this resource's pattern and bioregistry's, else raise."""
        if accession is None or not re.fullmatch(self.pattern, accession):
            raise InvalidCrossReference(raw, self)
        local = self.to_local(accession)
        if self.bioregistry_pattern and self.pattern_note is None:
            if not re.fullmatch(self.bioregistry_pattern.strip("^$"), local):
                raise InvalidCrossReference(raw, self, f"bioregistry pattern {self.bioregistry_pattern}")
        return accession


def _br_pattern(prefix: str) -> str:
    pattern = bioregistry.get_pattern(prefix)
    if not pattern:  # pragma: no cover - guarded by tests
        raise RuntimeError(f"bioregistry has no pattern for {prefix}")
    return pattern


def _inner(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


# ---- PDB: 4-character ids and the extended pdb_0000xxxx form are ONE entry

_PDB4 = _inner(_br_pattern("pdb"))  # [0-9][A-Za-z0-9]{3}
_PDB_EXT = re.compile(r"^pdb_(\d{4})([0-9][a-z0-9]{3})$", re.IGNORECASE)


def _pdb(text: str) -> str | None:
    text = text.strip()
    match = _PDB_EXT.match(text)
    if match:
        if match.group(1) == "0000":
            return match.group(2).lower()
        return text.lower()  # a future extended id with no 4-character form
    if re.fullmatch(_PDB4, text):
        return text.lower()
    return None


def _pdb_url(accession: str) -> str:
    extended = accession if accession.startswith("pdb_") else f"pdb_0000{accession}"
    return f"https://www.wwpdb.org/pdb?id={extended}"


def _emdb(text: str) -> str | None:
    match = re.fullmatch(r"(?:EMD[-_]?)?(\d+)", text.strip(), re.IGNORECASE)
    return f"EMD-{match.group(1)}" if match else None


def _empiar(text: str) -> str | None:
    match = re.fullmatch(r"(?:EMPIAR[-_]?)?(\d+)", text.strip(), re.IGNORECASE)
    return f"EMPIAR-{match.group(1)}" if match else None


def _idr(text: str) -> str | None:
    match = re.fullmatch(r"(?:idr)?(\d+)", text.strip(), re.IGNORECASE)
    return f"idr{match.group(1)}" if match else None


def _biostudies(text: str) -> str | None:
    text = text.strip().upper()
    return text if text.startswith("S-") else None


def _biostudies_url(accession: str) -> str:
    if accession.startswith(("S-BIAD", "S-BSST")):
        return f"https://www.ebi.ac.uk/biostudies/BioImages/studies/{accession}"
    return f"https://www.ebi.ac.uk/biostudies/studies/{accession}"


def _digits(text: str) -> str | None:
    text = text.strip()
    return text if text.isdigit() else None


def _pmc(text: str) -> str | None:
    match = re.fullmatch(r"(?:PMC)?(\d+(?:\.\d+)?)", text.strip(), re.IGNORECASE)
    return f"PMC{match.group(1)}" if match else None


_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


def _doi(text: str) -> str | None:
    text = _DOI_PREFIX.sub("", unquote(text.strip())).rstrip(".,;")
    return text.lower() if text.startswith("10.") else None


def _upper(text: str) -> str | None:
    return text.strip().upper() or None


def _ensembl(text: str) -> str | None:
    return text.strip() or None


_RESOURCE_LIST = [
    Resource(
        "pdb", "PDB", "a 4-character PDB id (digit + 3 letters/digits, e.g. 1ABC) or its extended form"
        " pdb_0000 + the 4 characters (pdb_00001abc)",
        rf"{_PDB4}|pdb_\d{{4}}[0-9][a-z0-9]{{3}}", _pdb,
        to_local=lambda acc: acc,
        url_for=_pdb_url,
        aliases=("rcsb", "pdbe", "pdbj", "wwpdb", "rcsb_pdb"),
        pattern_note="adds the extended pdb_0000xxxx form, normalised to the 4-character id",
    ),
    Resource(
        "emdb", "EMDB", "EMD- followed by 4 to 6 digits (EMD-1234)", r"EMD-\d{4,6}", _emdb,
        url_for=lambda acc: f"https://www.ebi.ac.uk/emdb/{acc}",
        aliases=("emd",),
        pattern_note="4 to 6 digits (bioregistry: ^EMD-\\d{4,5}$) so EMD-100000 and later are accepted",
    ),
    Resource(
        "empiar", "EMPIAR", "EMPIAR- followed by 5 digits (EMPIAR-10028)", r"EMPIAR-\d{5}", _empiar,
        to_local=lambda acc: acc.removeprefix("EMPIAR-"),
        url_for=lambda acc: f"https://www.ebi.ac.uk/empiar/{acc}/",
    ),
    Resource(
        "idr", "IDR", "idr followed by 4 digits (idr0004)", r"idr\d{4}", _idr,
        to_local=lambda acc: acc.removeprefix("idr"),
    ),
    Resource(
        "biostudies", "BioStudies/BioImage Archive",
        "S- + 4 capital letters + letters/digits/-/_ (S-BIAD123, S-BSST45, S-EPMC6266652)",
        _inner(_br_pattern("biostudies")), _biostudies,
        url_for=_biostudies_url,
        aliases=("bia", "bioimagearchive", "bioimage-archive", "bioimages"),
    ),
    Resource("pubmed", "PubMed", "digits (21893595)", _inner(_br_pattern("pubmed")), _digits,
             aliases=("med",), bare=False),
    Resource("pmc", "PMC", "PMC followed by digits (PMC3171117)", _inner(_br_pattern("pmc")), _pmc,
             aliases=("pmcid", "europepmc")),
    Resource("doi", "DOI", "10.<registrant>/<suffix> (10.1083/jcb.201108095)",
             _inner(_br_pattern("doi")), _doi),
    Resource("ensembl", "Ensembl", "an Ensembl stable id (ENSG00000139618)",
             _inner(_br_pattern("ensembl")), _ensembl),
    Resource("ncbigene", "NCBIGene", "digits (672)", _inner(_br_pattern("ncbigene")), _digits,
             aliases=("geneid", "entrez", "entrezgene"), bare=False),
    Resource("uniprot", "UniProt", "a UniProtKB accession (P38398, A0A023GPI8)",
             _inner(_br_pattern("uniprot")), _upper, aliases=("uniprotkb", "swissprot", "sp")),
]

for _r in _RESOURCE_LIST:
    object.__setattr__(_r, "bioregistry_pattern", _br_pattern(_r.prefix))

RESOURCES: dict[str, Resource] = {r.prefix: r for r in _RESOURCE_LIST}

_ALIASES: dict[str, str] = {}
for _r in _RESOURCE_LIST:
    _ALIASES[_r.prefix] = _r.prefix
    for _a in _r.aliases:
        _ALIASES[_a] = _r.prefix


def resource(name: str) -> Resource:
    """The `Resource` for a prefix, alias or bioregistry synonym (`PMID`, `EntrezGene`, `EMDB`)."""
    key = _resource_key(name)
    if key is None:
        raise UnknownResource(name, name)
    return RESOURCES[key]


@lru_cache(maxsize=256)
def _resource_key(name: str) -> str | None:
    low = name.strip().lower()
    if low in _ALIASES:
        return _ALIASES[low]
    norm = bioregistry.normalize_prefix(name.strip())
    return norm if norm in RESOURCES else None


# --------------------------------------------------------------------------- parsing

_BARE_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?10\.\d+/\S+$", re.IGNORECASE)
# Bare accessions that name their resource unambiguously, tried in this order.
_BARE: list[tuple[str, re.Pattern[str]]] = [
    ("emdb", re.compile(r"^EMD[-_]\d+$", re.IGNORECASE)),
    ("empiar", re.compile(r"^EMPIAR[-_]\d+$", re.IGNORECASE)),
    ("idr", re.compile(r"^idr\d+$", re.IGNORECASE)),
    ("biostudies", re.compile(r"^S-[A-Z]{4}[-_A-Z\d]+$", re.IGNORECASE)),
    ("pmc", re.compile(r"^PMC\d+$", re.IGNORECASE)),
    ("doi", _BARE_DOI),
    ("pdb", re.compile(r"^pdb_\d{8}$|^pdb_\d{4}[0-9][a-z0-9]{3}$|^[0-9][A-Za-z0-9]{3}$", re.IGNORECASE)),
    ("ensembl", re.compile(r"^ENS[A-Z]*[GTPER]\d{11}(?:\.\d+)?$")),
    ("uniprot", re.compile(r"^(?:[OPQ]\d[A-Z0-9]{3}\d|[A-NR-Z]\d(?:[A-Z][A-Z0-9]{2}\d){1,2})$")),
]


def parse_xref(value: str, resource_hint: str | None = None) -> XRef:
    """Canonical `XRef` of a CURIE, bare accession or resolver URL; raises InvalidCrossReference.

    `resource_hint` (a prefix or synonym) says which resource a bare value belongs to - needed
    for plain digits (PubMed vs NCBI Gene) and Ensembl/NCBI Gene ids, and checked otherwise.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidCrossReference(str(value), None, "empty value")
    raw = value.strip()
    hint = resource(resource_hint) if resource_hint else None

    if re.match(r"^https?://", raw, re.IGNORECASE):
        found = _from_url(raw)
        if found is None:
            raise InvalidCrossReference(raw, hint, "no known resource identifier in this URL")
        prefix, local = found
        if hint is not None and hint.prefix != prefix:
            raise InvalidCrossReference(raw, hint, f"the URL is a {RESOURCES[prefix].title} link")
        return _make(RESOURCES[prefix], local, raw)

    # A bare DOI may contain ':'; check it before splitting a CURIE.
    if _BARE_DOI.match(raw) and (hint is None or hint.prefix == "doi"):
        return _make(RESOURCES["doi"], raw, raw)

    prefix, sep, local = raw.partition(":")
    if sep and not re.fullmatch(r"\d+", prefix):
        key = _resource_key(prefix)
        if key is None:
            if hint is None:
                raise UnknownResource(raw, prefix)
            # e.g. hint=doi and value "doi:10..." handled above; otherwise treat as invalid
            raise InvalidCrossReference(raw, hint, f"prefix {prefix!r} is not {hint.prefix}")
        res = RESOURCES[key]
        if hint is not None and hint.prefix != res.prefix:
            raise InvalidCrossReference(raw, hint, f"the CURIE names {res.title}")
        return _make(res, local, raw)

    if hint is not None:
        return _make(hint, raw, raw)
    for key, pattern in _BARE:
        if pattern.match(raw) and RESOURCES[key].bare:
            return _make(RESOURCES[key], raw, raw)
    if raw.isdigit():
        raise InvalidCrossReference(
            raw, None, "plain digits are ambiguous (PubMed or NCBI Gene): write pubmed:N or ncbigene:N"
        )
    raise InvalidCrossReference(raw)


def try_parse_xref(value: str, resource_hint: str | None = None) -> XRef | None:
    try:
        return parse_xref(value, resource_hint)
    except InvalidCrossReference:
        return None


def _make(res: Resource, local: str, raw: str) -> XRef:
    accession = res.check(raw, res.normalise(local))
    return XRef(res.prefix, accession, res.url(accession))


# --------------------------------------------------------------------------- URLs

_URL_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"ebi\.ac\.uk/(?:pdbe/)?(?:entry/)?emdb/(?:entry/)?(EMD-\d+)", re.I), "emdb"),
    (re.compile(r"ebi\.ac\.uk/(?:pdbe/emdb/)?empiar/(?:entry/)?(?:EMPIAR-)?(\d+)", re.I), "empiar"),
    (re.compile(r"ebi\.ac\.uk/biostudies/(?:[A-Za-z-]+/)?studies/(S-[A-Za-z0-9_-]+)", re.I), "biostudies"),
    (re.compile(r"ebi\.ac\.uk/bioimage-archive/[^?#]*?(S-B[A-Z]{3}\d+)", re.I), "biostudies"),
    (re.compile(r"europepmc\.org/(?:abstract|article)/MED/(\d+)", re.I), "pubmed"),
    (re.compile(r"europepmc\.org/(?:articles?|article/PMC)/(PMC\d+|\d+)", re.I), "pmc"),
    (re.compile(r"ncbi\.nlm\.nih\.gov/pmc/articles/(PMC\d+)", re.I), "pmc"),
    (re.compile(r"pmc\.ncbi\.nlm\.nih\.gov/articles/(PMC\d+)", re.I), "pmc"),
    (re.compile(r"pubmed\.ncbi\.nlm\.nih\.gov/(\d+)", re.I), "pubmed"),
    (re.compile(r"(?:rcsb\.org/structure|ebi\.ac\.uk/pdbe/entry/pdb|pdbj\.org/mine/summary)/([0-9][A-Za-z0-9]{3})\b", re.I), "pdb"),
    (re.compile(r"wwpdb\.org/pdb\?id=(pdb_[0-9a-z]{8})", re.I), "pdb"),
    (re.compile(r"(?:www\.|rest\.)?uniprot\.org/(?:uniprot|uniprotkb)/([A-Z0-9]{6,10})", re.I), "uniprot"),
    (re.compile(r"idr\.openmicroscopy\.org/.*?\b(idr\d{4})\b", re.I), "idr"),
]


def _from_url(url: str) -> tuple[str, str] | None:
    for pattern, prefix in _URL_RULES:
        match = pattern.search(url)
        if match:
            return prefix, match.group(1)
    parsed = urlparse(url)
    if parsed.netloc.lower().endswith("doi.org"):
        return "doi", unquote(parsed.path.lstrip("/"))
    try:
        prefix, local = bioregistry.parse_iri(url)
    except Exception:  # noqa: BLE001 - bioregistry raises assorted errors on odd URLs
        prefix, local = None, None
    if prefix and local:
        key = _resource_key(prefix)
        if key is not None:
            return key, unquote(local).split("?")[0].split("#")[0].rstrip("/")
    # identifiers.org / n2t / bioregistry.io style  https://host/prefix:local
    tail = unquote(parsed.path.lstrip("/"))
    if ":" in tail:
        prefix, _, local = tail.partition(":")
        key = _resource_key(prefix.rsplit("/", 1)[-1])
        if key is not None:
            return key, local.rstrip("/")
    query = parse_qs(parsed.query)
    for values in query.values():
        for v in values:
            found = try_parse_xref(v)
            if found is not None and found.resource in ("idr", "emdb", "empiar", "biostudies"):
                return found.resource, found.accession
    return None


# --------------------------------------------------------------------------- free text

_TEXT_PATTERNS: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(r"https?://[^\s\"'<>\]\)]+", re.I), None),
    (re.compile(r"\bEMD-\d{4,6}\b", re.I), "emdb"),
    (re.compile(r"\bEMPIAR-\d{5}\b", re.I), "empiar"),
    (re.compile(r"\bS-(?:BIAD|BSST)\d+\b", re.I), "biostudies"),
    (re.compile(r"\bidr\d{4}\b", re.I), "idr"),
    (re.compile(r"\bPMC\d{4,}\b"), "pmc"),
    (re.compile(r"\b(?:PMID|PubMed(?: ID)?)[:\s]\s*(\d{4,9})\b", re.I), "pubmed"),
    (re.compile(r"\bPDB(?: ID| entry| code)?[:\s]\s*([0-9][A-Za-z0-9]{3})\b"), "pdb"),
    (re.compile(r"(?<![\w/.])10\.\d{4,9}/[^\s\"'<>]+"), "doi"),
]


def find_xrefs_in_text(text: str | None) -> list[XRef]:
    """Cross-references mentioned in free text (URLs, EMD-/EMPIAR-/S-BIAD accessions, DOIs, …).

    Only forms that name their resource are picked up; a bare 4-character code counts as PDB only
    after "PDB" (`PDB 1ABC`, `PDB ID: 1abc`). Order of first mention, deduplicated.
    """
    if not text:
        return []
    spans: list[tuple[int, int, XRef]] = []
    taken: list[tuple[int, int]] = []
    for pattern, prefix in _TEXT_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(s <= start < e for s, e in taken):
                continue
            value = match.group(1) if match.groups() else match.group(0)
            value = value.rstrip(".,;:")
            found = try_parse_xref(value, prefix) if prefix else try_parse_xref(value)
            if found is None:
                continue
            taken.append((start, end))
            spans.append((start, end, found))
    out: dict[str, XRef] = {}
    for _, _, ref in sorted(spans, key=lambda s: s[0]):
        out.setdefault(ref.curie, ref)
    return list(out.values())


def dedupe(refs: Iterable[XRef]) -> list[XRef]:
    out: dict[str, XRef] = {}
    for ref in refs:
        out.setdefault(ref.curie, ref)
    return list(out.values())
