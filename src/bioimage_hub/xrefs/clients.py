"""Async clients for the public APIs that describe cross-referenced entries.

One `HttpClient` wraps ONE `httpx.AsyncClient` (timeouts, redirects, a User-Agent) and adds what
the public EBI/RCSB services ask of well-behaved clients: bounded concurrency (a semaphore),
retries with exponential backoff and jitter on timeouts, connection errors and 5xx answers, and
`429 Too Many Requests` honoured by waiting the `Retry-After` the server sends. 404/410 become
`NotFoundError`; other 4xx are not retried.

Each resource has a pure parser (`parse_emdb`, `parse_empiar`, `parse_rcsb`, `parse_europepmc`)
from the API's JSON - field names and nesting exactly as the service returns them - to one
normalised `EntryMetadata`, including the links to other resources found in the entry
(`Link(target=CURIE, relation=...)`). `fetch_metadata(http, xref)` fetches and parses.

Endpoints:

* EMDB      https://www.ebi.ac.uk/emdb/api/entry/EMD-XXXX
* EMPIAR    https://www.ebi.ac.uk/empiar/api/entry/EMPIAR-XXXXX   (top-level key: the entry id)
* RCSB PDB  https://data.rcsb.org/rest/v1/core/entry/XXXX
* Europe PMC https://www.ebi.ac.uk/europepmc/webservices/rest/search?query=...&format=json&resultType=core
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field

from bioimage_hub import __version__ as HUB_VERSION
from bioimage_hub.xrefs.identifiers import XRef, try_parse_xref

__all__ = [
    "EMDB_API",
    "EMPIAR_API",
    "EUROPEPMC_API",
    "FETCHABLE",
    "RCSB_API",
    "ClientSettings",
    "EntryMetadata",
    "FetchError",
    "HttpClient",
    "Link",
    "NotFoundError",
    "fetch_metadata",
    "parse_emdb",
    "parse_empiar",
    "parse_europepmc",
    "parse_rcsb",
]

EMDB_API = "https://www.ebi.ac.uk/emdb/api/entry/{accession}"
EMPIAR_API = "https://www.ebi.ac.uk/empiar/api/entry/{accession}"
RCSB_API = "https://data.rcsb.org/rest/v1/core/entry/{accession}"
EUROPEPMC_API = "https://www.ebi.ac.uk/europepmc/webservices/rest/search"

# Relations between cross-references (RELATED_TO.relation), from the entry that states them.
MAP = "map"  # -> an EMDB map (EMPIAR raw data of it; a PDB model fitted into it)
FITTED_MODEL = "fitted_model"  # EMDB map -> PDB model fitted into it
RAW_DATA = "raw_data"  # -> EMPIAR entry holding the raw images
RELATED_ENTRY = "related_entry"  # same resource: other maps of a deposition, related EMPIAR entries
IMAGE_DATA = "image_data"  # -> IDR study
STUDY = "study"  # -> BioStudies / BioImage Archive study
PUBLICATION = "publication"  # -> pubmed / doi / pmc of the entry's primary citation
SAME_AS = "same_as"  # pubmed <-> pmc <-> doi of one article
RELATIONS = (MAP, FITTED_MODEL, RAW_DATA, RELATED_ENTRY, IMAGE_DATA, STUDY, PUBLICATION, SAME_AS)


class ClientSettings(BaseModel):
    timeout_s: float = Field(default=20.0, description="read/write/pool timeout per request")
    connect_timeout_s: float = 5.0
    concurrency: int = Field(default=8, ge=1, description="requests in flight at once, all resources")
    retries: int = Field(default=3, ge=0, description="retries after the first attempt")
    backoff_s: float = Field(default=0.5, ge=0, description="first backoff; doubles per retry")
    backoff_max_s: float = 30.0
    retry_after_max_s: float = Field(default=120.0, description="cap on a server's Retry-After")
    user_agent: str = f"bioimage-hub/{HUB_VERSION} (+https://github.com/bioimage-hub; xrefs refresh)"
    # Endpoints (settings XREFS_EMDB_API, ...): a mirror, a caching proxy, or a local server in tests
    emdb_api: str = EMDB_API
    empiar_api: str = EMPIAR_API
    rcsb_api: str = RCSB_API
    europepmc_api: str = EUROPEPMC_API

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ClientSettings:
        """The hub's `XREFS_*` settings (endpoints, timeout, retries), plus per-run overrides."""
        return cls(
            timeout_s=settings.xrefs_timeout_s, connect_timeout_s=min(5.0, settings.xrefs_timeout_s),
            retries=settings.xrefs_retries, emdb_api=settings.xrefs_emdb_api, empiar_api=settings.xrefs_empiar_api,
            rcsb_api=settings.xrefs_rcsb_api, europepmc_api=settings.xrefs_europepmc_api, **overrides,
        )

    def endpoint(self, resource: str) -> str:
        """The API URL (template) that serves `resource` (Europe PMC for the literature ones)."""
        entry_apis = {"emdb": self.emdb_api, "empiar": self.empiar_api, "pdb": self.rcsb_api}
        return entry_apis.get(resource, self.europepmc_api)

    def upstream(self, resource: str) -> str:
        """Who serves `resource`, for messages: `EMDB entry API (https://www.ebi.ac.uk/emdb/api/entry/)`."""
        return f"{FETCHABLE.get(resource, resource)} ({self.endpoint(resource).split('{', 1)[0]})"


class FetchError(Exception):
    """A fetch failed (after retries, when retrying made sense)."""

    def __init__(self, url: str, message: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(f"{message} ({url})")

    @property
    def unavailable(self) -> bool:
        """The service is down or overloaded (no answer, timeout, 5xx, 429 after retries), as
        opposed to an answer the hub cannot use (other 4xx, bad JSON)."""
        return self.status is None or self.status >= 500 or self.status == 429


class NotFoundError(FetchError):
    """The resource answered 404/410 (or an empty search): the entry does not exist there."""


class Link(BaseModel):
    target: str = Field(description="canonical CURIE of the linked entry")
    relation: str


class EntryMetadata(BaseModel):
    """What the hub caches on a `CrossReference` node, normalised across resources."""

    id: str
    resource: str
    accession: str
    title: str | None = None
    method: str | None = None
    resolution: float | None = Field(default=None, description="Å")
    experiment_type: str | None = None
    journal: str | None = None
    year: int | None = None
    authors: list[str] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)


Sleep = Callable[[float], Awaitable[None]]


class HttpClient:
    """One shared `httpx.AsyncClient` with bounded concurrency, retries, backoff and 429 handling.

    Pass `transport=httpx.MockTransport(handler)` to serve recorded responses (tests); `sleep`
    and `jitter` are injectable so tests do not wait.
    """

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or ClientSettings()
        s = self.settings
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s),
            headers={"User-Agent": s.user_agent, "Accept": "application/json"},
            follow_redirects=True,
            transport=transport,
        )
        self._semaphore = asyncio.Semaphore(s.concurrency)
        self._sleep = sleep
        self._jitter = jitter
        self.requests = 0
        self.retries = 0
        self.waits: list[float] = []  # every backoff / Retry-After wait, in seconds

    async def __aenter__(self) -> "HttpClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with 'equal jitter': half fixed, half random."""
        s = self.settings
        delay = min(s.backoff_max_s, s.backoff_s * (2**attempt))
        return delay / 2 + self._jitter() * delay / 2

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        return max(0.0, min(seconds, self.settings.retry_after_max_s))

    async def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """GET and decode JSON, retrying transient failures; FetchError/NotFoundError otherwise."""
        attempts = self.settings.retries + 1
        last: FetchError | None = None
        for attempt in range(attempts):
            wait: float | None = None
            try:
                async with self._semaphore:
                    self.requests += 1
                    response = await self._client.get(url, params=params)
            except httpx.TimeoutException as exc:
                last = FetchError(url, f"timed out ({type(exc).__name__})")
            except httpx.TransportError as exc:
                last = FetchError(url, f"unreachable ({type(exc).__name__}: {exc})")
            else:
                status = response.status_code
                if status in (404, 410):
                    raise NotFoundError(url, f"HTTP {status}: not found", status)
                if status == 429:
                    last = FetchError(url, "HTTP 429: rate limited", status)
                    wait = self._retry_after(response)
                elif status >= 500:
                    last = FetchError(url, f"HTTP {status}", status)
                elif status >= 400:
                    raise FetchError(url, f"HTTP {status}: {response.text[:200]}", status)
                else:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise FetchError(url, f"invalid JSON: {exc}", status) from exc
            if attempt + 1 >= attempts:
                break
            self.retries += 1
            delay = wait if wait is not None else self._backoff(attempt)
            self.waits.append(delay)
            await self._sleep(delay)
        assert last is not None
        raise FetchError(last.url, f"{str(last).rsplit(' (', 1)[0]} after {attempts} attempts", last.status)


# --------------------------------------------------------------------------- helpers


def _get(data: Any, *path: str | int) -> Any:
    """data[path0][path1]... or None; a list where a dict is expected yields its first element."""
    node = data
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return None
            node = node[key]
            continue
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value)[:4]) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("valueOf_")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class _Links:
    def __init__(self, own: str) -> None:
        self.own = own
        self.items: dict[tuple[str, str], Link] = {}

    def add(self, value: Any, relation: str, resource: str | None = None) -> None:
        text = _text(value)
        if not text:
            return
        ref = try_parse_xref(text, resource)
        if ref is None or ref.curie == self.own:
            return
        self.items.setdefault((ref.curie, relation), Link(target=ref.curie, relation=relation))

    def list(self) -> list[Link]:
        return list(self.items.values())


def _base(xref: XRef, **fields: Any) -> EntryMetadata:
    return EntryMetadata(id=xref.curie, resource=xref.resource, accession=xref.accession, **fields)


# --------------------------------------------------------------------------- parsers


def parse_emdb(data: dict[str, Any], xref: XRef) -> EntryMetadata:
    """EMDB entry JSON: `admin.title`, `structure_determination_list.structure_determination[0]
    .method` and `.image_processing[0].final_reconstruction.resolution.valueOf_`,
    `crossreferences.pdb_list.pdb_reference[].pdb_id` (fitted models),
    `crossreferences.emdb_list.emdb_reference[].emdb_id` (other maps of the deposition),
    `crossreferences.citation_list.primary_citation...external_references[]` (PUBMED/DOI)."""
    determination = _get(data, "structure_determination_list", "structure_determination")
    first = _as_list(determination)[0] if _as_list(determination) else {}
    resolution = _get(first, "image_processing", "final_reconstruction", "resolution")
    links = _Links(xref.curie)
    for ref in _as_list(_get(data, "crossreferences", "pdb_list", "pdb_reference")):
        links.add(_get(ref, "pdb_id"), FITTED_MODEL, "pdb")
    for ref in _as_list(_get(data, "crossreferences", "emdb_list", "emdb_reference")):
        links.add(_get(ref, "emdb_id"), RELATED_ENTRY, "emdb")
    citation = _get(data, "crossreferences", "citation_list", "primary_citation", "citation_type")
    for ext in _as_list(_get(citation, "external_references")):
        kind = str(_get(ext, "type_") or "").upper()
        if kind in ("PUBMED", "DOI"):
            links.add(_get(ext, "valueOf_"), PUBLICATION, "pubmed" if kind == "PUBMED" else "doi")
    authors = [a for a in (_text(x) for x in _as_list(_get(data, "admin", "authors_list", "author"))) if a]
    return _base(
        xref,
        title=_text(_get(data, "admin", "title")),
        method=_text(_get(first, "method")),
        resolution=_float(_text(resolution)),
        authors=authors,
        links=links.list(),
    )


def parse_empiar(data: dict[str, Any], xref: XRef) -> EntryMetadata:
    """EMPIAR entry JSON: `{"EMPIAR-10028": {title, experiment_type, authors[].author.name,
    cross_references[].name (EMDB), biostudies_references[].name, idr_references[].name,
    empiar_references[].name, citation[].pubmedid/doi, ...}}`."""
    entry = data.get(xref.accession)
    if entry is None and len(data) == 1:
        entry = next(iter(data.values()))
    if not isinstance(entry, dict):
        raise ValueError(f"EMPIAR answer has no {xref.accession!r} entry")
    links = _Links(xref.curie)
    for ref in _as_list(entry.get("cross_references")):
        links.add(_get(ref, "name") if isinstance(ref, dict) else ref, MAP, "emdb")
    for ref in _as_list(entry.get("related_pdb_entries")):
        links.add(_get(ref, "name") if isinstance(ref, dict) else ref, RELATED_ENTRY, "pdb")
    for ref in _as_list(entry.get("biostudies_references")):
        links.add(_get(ref, "name") if isinstance(ref, dict) else ref, STUDY, "biostudies")
    for ref in _as_list(entry.get("idr_references")):
        links.add(_get(ref, "name") if isinstance(ref, dict) else ref, IMAGE_DATA, "idr")
    for ref in _as_list(entry.get("empiar_references")):
        links.add(_get(ref, "name") if isinstance(ref, dict) else ref, RELATED_ENTRY, "empiar")
    for citation in _as_list(entry.get("citation")):
        if isinstance(citation, dict):
            links.add(citation.get("pubmedid"), PUBLICATION, "pubmed")
            links.add(citation.get("doi"), PUBLICATION, "doi")
    authors = []
    for author in _as_list(entry.get("authors")):
        person = author.get("author", author) if isinstance(author, dict) else None
        name = _text(person.get("name")) if isinstance(person, dict) else None
        if name:
            authors.append(name)
    experiment = entry.get("experiment_type")
    return _base(
        xref,
        title=_text(entry.get("title")),
        experiment_type=_text(experiment) if not isinstance(experiment, dict) else _text(experiment.get("name")),
        authors=authors,
        links=links.list(),
    )


def parse_rcsb(data: dict[str, Any], xref: XRef) -> EntryMetadata:
    """RCSB Data API core entry: `struct.title`, `exptl[0].method`,
    `rcsb_entry_info.resolution_combined[0]`, `rcsb_entry_container_identifiers.emdb_ids` (+
    `related_emdb_ids`), `rcsb_primary_citation.pdbx_database_id_PubMed / _DOI`,
    `audit_author[].name`."""
    links = _Links(xref.curie)
    ids = data.get("rcsb_entry_container_identifiers") or {}
    for emdb_id in _as_list(ids.get("emdb_ids")):
        links.add(emdb_id, MAP, "emdb")
    for emdb_id in _as_list(ids.get("related_emdb_ids")):
        links.add(emdb_id, RELATED_ENTRY, "emdb")
    citation = data.get("rcsb_primary_citation") or {}
    links.add(citation.get("pdbx_database_id_PubMed"), PUBLICATION, "pubmed")
    links.add(citation.get("pdbx_database_id_DOI"), PUBLICATION, "doi")
    resolutions = _as_list(_get(data, "rcsb_entry_info", "resolution_combined"))
    authors = [a for a in (_text(_get(x, "name")) for x in _as_list(data.get("audit_author"))) if a]
    return _base(
        xref,
        title=_text(_get(data, "struct", "title")),
        method=_text(_get(data, "exptl", 0, "method")),
        resolution=_float(resolutions[0]) if resolutions else None,
        authors=authors,
        links=links.list(),
    )


def parse_europepmc(data: dict[str, Any], xref: XRef) -> EntryMetadata:
    """Europe PMC search (resultType=core): `resultList.result[0]` with `title`,
    `journalInfo.journal.title`, `journalInfo.yearOfPublication` (or `pubYear`),
    `authorList.author[].fullName` (or `authorString`), `pmid`, `pmcid`, `doi`."""
    results = _as_list(_get(data, "resultList", "result"))
    if not results:
        raise NotFoundError(EUROPEPMC_API, f"Europe PMC has no record for {xref.curie}")
    record = results[0]
    links = _Links(xref.curie)
    links.add(record.get("pmid"), SAME_AS, "pubmed")
    links.add(record.get("pmcid"), SAME_AS, "pmc")
    links.add(record.get("doi"), SAME_AS, "doi")
    authors = [a for a in (_text(_get(x, "fullName")) for x in _as_list(_get(record, "authorList", "author"))) if a]
    if not authors and record.get("authorString"):
        authors = [a.strip() for a in str(record["authorString"]).rstrip(".").split(",") if a.strip()]
    journal = _text(_get(record, "journalInfo", "journal", "title")) or _text(record.get("journalTitle"))
    year = _int(_get(record, "journalInfo", "yearOfPublication")) or _int(record.get("pubYear"))
    return _base(
        xref,
        title=_text(record.get("title")),
        journal=journal,
        year=year,
        authors=authors,
        links=links.list(),
    )


# --------------------------------------------------------------------------- fetching


def europepmc_query(xref: XRef) -> str:
    if xref.resource == "pubmed":
        return f"EXT_ID:{xref.accession} AND SRC:MED"
    if xref.resource == "pmc":
        return f"PMCID:{xref.accession}"
    return f'DOI:"{xref.accession}"'


FETCHABLE: dict[str, str] = {
    "emdb": "EMDB entry API",
    "empiar": "EMPIAR entry API",
    "pdb": "RCSB PDB Data API",
    "pubmed": "Europe PMC",
    "pmc": "Europe PMC",
    "doi": "Europe PMC",
}


_ENTRY_PARSERS = {"emdb": parse_emdb, "empiar": parse_empiar, "pdb": parse_rcsb}  # one entry per URL


async def fetch_metadata(http: HttpClient, xref: XRef) -> EntryMetadata:
    """Fetch and parse one entry; FetchError / NotFoundError when that is not possible."""
    api = http.settings.endpoint(xref.resource)
    parse = _ENTRY_PARSERS.get(xref.resource)
    if parse is not None:
        url = api.format(accession=xref.accession.upper() if xref.resource == "pdb" else xref.accession)
        return _parsed(url, parse, await http.get_json(url), xref)
    if xref.resource in ("pubmed", "pmc", "doi"):
        params = {"query": europepmc_query(xref), "format": "json", "resultType": "core", "pageSize": 1}
        return _parsed(api, parse_europepmc, await http.get_json(api, params), xref)
    raise FetchError(xref.url, f"no metadata API for {xref.resource}")


def _parsed(url: str, parser: Callable[[dict[str, Any], XRef], EntryMetadata], data: Any, xref: XRef
            ) -> EntryMetadata:
    if not isinstance(data, dict):
        raise FetchError(url, "unexpected JSON (not an object)")
    try:
        return parser(data, xref)
    except FetchError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise FetchError(url, f"unexpected JSON shape: {exc}") from exc
