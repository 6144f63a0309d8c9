"""`bioimage-hub xrefs refresh`: fetch and cache the metadata of linked entries.

Which entries: every `CrossReference` of a fetchable resource (EMDB, EMPIAR, PDB, and PubMed /
PMC / DOI through Europe PMC) within `hops` `RELATED_TO` hops of a study, dataset or image
(`LINKS_TO`), that was never fetched successfully or not within `max_age_days`.

How: rounds. Each round fetches the due entries concurrently through one `HttpClient` (bounded
concurrency, retries, backoff, Retry-After), and writes each result in its own transaction as it
arrives: metadata + `fetchedAt` + the entry's `RELATED_TO` links (creating the linked nodes), or,
on failure, only `attemptedAt` / `fetchedStatus` / `fetchError` (the cached metadata stays). New
nodes found by a round are fetched in the next round when they are within `hops`; nodes found
beyond are written as links (not fetched). With the default `hops=1`, an EMPIAR entry linked
from a study is fetched, its EMDB maps are fetched, and the maps' fitted PDB models become
linked CrossReferences, so `EMPIAR -> EMDB -> PDB` chains exist after one run (`--hops 2` also
fetches the PDB entries). Every entry is attempted at most once per run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import neo4j

from bioimage_hub.xrefs.clients import (
    FETCHABLE,
    ClientSettings,
    EntryMetadata,
    FetchError,
    HttpClient,
    NotFoundError,
    fetch_metadata,
)
from bioimage_hub.xrefs.graph import due_for_refresh, write_fetch_result
from bioimage_hub.xrefs.identifiers import XRef, resource

DEFAULT_MAX_AGE_DAYS = 30
DEFAULT_HOPS = 1

# CLI names -> resources (`pubmed` covers every Europe PMC-backed resource)
RESOURCE_GROUPS: dict[str, tuple[str, ...]] = {
    "emdb": ("emdb",),
    "empiar": ("empiar",),
    "pdb": ("pdb",),
    "pubmed": ("pubmed", "pmc", "doi"),
    "pmc": ("pmc",),
    "doi": ("doi",),
}


@dataclass
class RefreshResult:
    fetched: Counter[str] = field(default_factory=Counter)  # per resource
    not_found: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    unavailable: Counter[str] = field(default_factory=Counter)  # per upstream: entries it did not serve
    rounds: int = 0
    discovered: int = 0  # cross-references written as links of fetched entries
    errors: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    @property
    def attempted(self) -> int:
        return sum(self.fetched.values()) + sum(self.not_found.values()) + sum(self.failed.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "fetched": dict(sorted(self.fetched.items())),
            "notFound": dict(sorted(self.not_found.items())),
            "failed": dict(sorted(self.failed.items())),
            "unavailable": dict(sorted(self.unavailable.items())),
            "rounds": self.rounds,
            "discovered": self.discovered,
            "httpRequests": self.requests,
            "httpRetries": self.retries,
            "seconds": round(self.seconds, 2),
            "errors": self.errors,
        }


def resolve_resources(names: Sequence[str] | None) -> list[str]:
    """Resources to refresh from CLI names (`emdb`, `empiar`, `pdb`, `pubmed`, ...); all if none."""
    if not names:
        return sorted(FETCHABLE)
    out: list[str] = []
    for name in names:
        key = name.strip().lower()
        group = RESOURCE_GROUPS.get(key)
        if group is None:
            prefix = resource(key).prefix  # raises UnknownResource with the known list
            if prefix not in FETCHABLE:
                raise ValueError(f"{prefix}: no metadata API (refreshable: {', '.join(RESOURCE_GROUPS)})")
            group = (prefix,)
        out.extend(g for g in group if g not in out)
    return out


Progress = Callable[[str, int, int], None]  # (event, done, total)


async def refresh(
    driver: neo4j.Driver,
    database: str,
    *,
    resources: Sequence[str] | None = None,
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    hops: int = DEFAULT_HOPS,
    settings: ClientSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    http: HttpClient | None = None,
    progress: Progress | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RefreshResult:
    """Fetch due cross-references (see the module docstring); never deletes cached metadata."""
    started = now()
    wanted = resolve_resources(resources)
    cutoff = started - timedelta(days=max_age_days)
    result = RefreshResult()
    attempted: set[str] = set()
    own_http = http is None
    client = http or HttpClient(settings, transport=transport)
    done = total = 0
    try:
        while True:
            due = await asyncio.to_thread(
                due_for_refresh, driver, database, wanted, cutoff, hops, sorted(attempted)
            )
            if not due:
                break
            result.rounds += 1
            total += len(due)
            if progress:
                progress("round", done, total)
            attempted.update(c.xref.curie for c in due)
            tasks = [asyncio.create_task(_fetch(client, c.xref)) for c in due]
            for task in asyncio.as_completed(tasks):
                xref, meta, status, error = await task
                at = now()
                stored = "error" if status == "unavailable" else status  # the graph's fetchedStatus
                linked = await asyncio.to_thread(
                    write_fetch_result, driver, database, xref, at, meta, stored, error
                )
                result.discovered += len(linked)
                if meta is not None:
                    result.fetched[xref.resource] += 1
                elif status == "not_found":
                    result.not_found[xref.resource] += 1
                else:
                    result.failed[xref.resource] += 1
                upstream = client.settings.upstream(xref.resource)
                if status == "unavailable":
                    result.unavailable[upstream] += 1
                if error and status != "ok":
                    result.errors.append({"id": xref.curie, "status": status, "upstream": upstream, "error": error})
                done += 1
                if progress:
                    progress(xref.curie, done, total)
    finally:
        result.requests = client.requests
        result.retries = client.retries
        if own_http:
            await client.aclose()
    result.seconds = (now() - started).total_seconds()
    return result


async def _fetch(client: HttpClient, xref: XRef) -> tuple[XRef, EntryMetadata | None, str, str | None]:
    try:
        return xref, await fetch_metadata(client, xref), "ok", None
    except NotFoundError as exc:
        return xref, None, "not_found", str(exc)
    except FetchError as exc:  # "unavailable": the service is down; "error": its answer was unusable
        return xref, None, "unavailable" if exc.unavailable else "error", str(exc)
    except httpx.HTTPError as exc:  # e.g. an undecodable body: record it, keep refreshing the rest
        return xref, None, "error", f"{type(exc).__name__}: {exc}"


def refresh_sync(driver: neo4j.Driver, database: str, **kwargs: Any) -> RefreshResult:
    return asyncio.run(refresh(driver, database, **kwargs))
