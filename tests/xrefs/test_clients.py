"""The API clients against recorded answers, through httpx.MockTransport: the same HttpClient
the CLI uses, including 404, 5xx-then-success, timeouts and 429 with Retry-After."""

from __future__ import annotations

import asyncio
from email.utils import format_datetime
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bioimage_hub.xrefs.clients import (
    ClientSettings,
    FetchError,
    HttpClient,
    NotFoundError,
    fetch_metadata,
    parse_emdb,
    parse_empiar,
    parse_europepmc,
    parse_rcsb,
)
from bioimage_hub.xrefs.identifiers import parse_xref
from tests.xrefs.conftest import fixture_json, recorded_handler

FAST = ClientSettings(retries=3, backoff_s=0.5, backoff_max_s=4)


def client(handler, sleep, **settings) -> HttpClient:
    cfg = FAST.model_copy(update=settings)
    return HttpClient(cfg, transport=httpx.MockTransport(handler), sleep=sleep, jitter=lambda: 0.5)


# --------------------------------------------------------------------------- parsers


def test_parse_emdb_entry() -> None:
    meta = parse_emdb(fixture_json("emdb_EMD-2660.json"), parse_xref("EMD-2660"))
    assert meta.id == "emdb:EMD-2660"
    assert meta.title.startswith("Cryo-EM structure of the Plasmodium falciparum 80S ribosome")
    assert meta.method == "singleParticle"
    assert meta.resolution == 3.2
    assert meta.authors[0] == "Wong W" and len(meta.authors) == 9
    links = {(link.target, link.relation) for link in meta.links}
    assert links == {
        ("pdb:3j79", "fitted_model"),
        ("pdb:3j7a", "fitted_model"),
        ("pubmed:24913268", "publication"),
        ("doi:10.7554/elife.03080", "publication"),
    }


def test_parse_empiar_entry_keyed_by_its_id() -> None:
    data = fixture_json("empiar_EMPIAR-10028.json")
    assert list(data) == ["EMPIAR-10028"]
    meta = parse_empiar(data, parse_xref("EMPIAR-10028"))
    assert meta.title == "Plasmodium falciparum 80S ribosome bound to the anti-protozoan drug emetine"
    assert meta.experiment_type == "EMDB"
    assert meta.authors == ["Wong W", "Bai XC", "Brown A", "Scheres SHW"]
    assert {(link.target, link.relation) for link in meta.links} == {
        ("emdb:EMD-2660", "map"),
        ("pubmed:24913268", "publication"),
        ("doi:10.7554/elife.03080", "publication"),
    }


def test_parse_empiar_references_to_idr_and_biostudies() -> None:
    data = fixture_json("empiar_EMPIAR-10028.json")
    entry = data["EMPIAR-10028"]
    entry["idr_references"] = [{"name": "idr0023"}]
    entry["biostudies_references"] = [{"name": "S-BIAD144"}]
    entry["empiar_references"] = [{"name": "EMPIAR-10029"}, {"name": "not an id"}]
    meta = parse_empiar(data, parse_xref("EMPIAR-10028"))
    links = {(link.target, link.relation) for link in meta.links}
    assert {("idr:idr0023", "image_data"), ("biostudies:S-BIAD144", "study"),
            ("empiar:EMPIAR-10029", "related_entry")} <= links


def test_parse_rcsb_entry() -> None:
    meta = parse_rcsb(fixture_json("rcsb_3J79.json"), parse_xref("3J79"))
    assert meta.id == "pdb:3j79"
    assert meta.title.endswith("large subunit")
    assert meta.method == "ELECTRON MICROSCOPY"
    assert meta.resolution == 3.2
    assert {(link.target, link.relation) for link in meta.links} == {
        ("emdb:EMD-2660", "map"),
        ("pubmed:24913268", "publication"),
        ("doi:10.7554/elife.03080", "publication"),
    }


def test_parse_europepmc_record() -> None:
    meta = parse_europepmc(fixture_json("europepmc_pubmed_23845946.json"), parse_xref("pubmed:23845946"))
    assert meta.title.startswith("Nuclear pore scaffold structure")
    assert meta.journal == "Science (New York, N.Y.)"
    assert meta.year == 2013
    assert meta.authors[0] == "Szymborska A" and meta.authors[-1] == "Ellenberg J"
    assert [(link.target, link.relation) for link in meta.links] == [("doi:10.1126/science.1240672", "same_as")]
    with pytest.raises(NotFoundError):
        parse_europepmc({"hitCount": 0, "resultList": {"result": []}}, parse_xref("pubmed:1"))


# --------------------------------------------------------------------------- fetching


async def test_fetch_each_resource_from_recorded_answers(no_sleep) -> None:
    calls: list[httpx.Request] = []
    async with client(recorded_handler(calls), no_sleep) as http:
        emdb = await fetch_metadata(http, parse_xref("emdb:EMD-2660"))
        empiar = await fetch_metadata(http, parse_xref("EMPIAR-10028"))
        pdb = await fetch_metadata(http, parse_xref("pdb_00003j79"))
        pub = await fetch_metadata(http, parse_xref("pubmed:23845946"))
    assert (emdb.resolution, empiar.experiment_type, pdb.method, pub.year) == (3.2, "EMDB", "ELECTRON MICROSCOPY", 2013)
    urls = [str(r.url) for r in calls]
    assert urls[0] == "https://www.ebi.ac.uk/emdb/api/entry/EMD-2660"
    assert urls[1] == "https://www.ebi.ac.uk/empiar/api/entry/EMPIAR-10028"
    assert urls[2] == "https://data.rcsb.org/rest/v1/core/entry/3J79"
    epmc = calls[3].url
    assert epmc.path == "/europepmc/webservices/rest/search"
    assert dict(epmc.params) == {"query": "EXT_ID:23845946 AND SRC:MED", "format": "json",
                                 "resultType": "core", "pageSize": "1"}
    assert all(r.headers["user-agent"].startswith("bioimage-hub/") for r in calls)
    assert no_sleep.waits == []


async def test_europepmc_queries_for_pmc_and_doi(no_sleep) -> None:
    calls: list[httpx.Request] = []
    async with client(recorded_handler(calls), no_sleep) as http:
        for value in ("PMC3171117", "doi:10.1126/science.1240672"):
            with pytest.raises(NotFoundError):  # the recorded set has no answer: empty result
                await fetch_metadata(http, parse_xref(value))
    assert [r.url.params["query"] for r in calls] == ["PMCID:PMC3171117", 'DOI:"10.1126/science.1240672"']


async def test_404_is_not_found_and_not_retried(no_sleep) -> None:
    calls: list[httpx.Request] = []
    async with client(recorded_handler(calls), no_sleep) as http:
        with pytest.raises(NotFoundError) as info:
            await fetch_metadata(http, parse_xref("EMD-9999"))
    assert info.value.status == 404
    assert len(calls) == 1 and http.retries == 0


async def test_500_then_success_is_retried_with_backoff(no_sleep) -> None:
    answers = iter([httpx.Response(500), httpx.Response(503)])

    def flaky(request: httpx.Request) -> httpx.Response | None:
        return next(answers, None)

    calls: list[httpx.Request] = []
    async with client(recorded_handler(calls, flaky), no_sleep) as http:
        meta = await fetch_metadata(http, parse_xref("EMD-2660"))
    assert meta.resolution == 3.2
    assert len(calls) == 3 and http.retries == 2
    # exponential backoff with jitter (jitter fixed at 0.5): 0.5 * 2**n * 0.75
    assert no_sleep.waits == [0.375, 0.75]


async def test_persistent_500_fails_after_the_retries(no_sleep) -> None:
    calls: list[httpx.Request] = []
    async with client(recorded_handler(calls, lambda r: httpx.Response(502)), no_sleep) as http:
        with pytest.raises(FetchError, match="HTTP 502 after 4 attempts") as info:
            await fetch_metadata(http, parse_xref("EMD-2660"))
    assert not isinstance(info.value, NotFoundError)
    assert len(calls) == 4
    assert no_sleep.waits == [0.375, 0.75, 1.5]


async def test_timeouts_are_retried_then_reported(no_sleep) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    calls: list[httpx.Request] = []
    async with client(recorded_handler(calls, timeout), no_sleep, retries=2) as http:
        with pytest.raises(FetchError, match="timed out .*after 3 attempts"):
            await fetch_metadata(http, parse_xref("EMPIAR-10028"))
    assert len(calls) == 3

    state = {"n": 0}

    def timeout_once(request: httpx.Request) -> httpx.Response | None:
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectTimeout("connect timed out", request=request)
        return None

    async with client(recorded_handler(None, timeout_once), no_sleep) as http:
        meta = await fetch_metadata(http, parse_xref("EMPIAR-10028"))
    assert meta.experiment_type == "EMDB"


async def test_connection_errors_are_retried(no_sleep) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with client(refused, no_sleep, retries=1) as http:
        with pytest.raises(FetchError, match="unreachable"):
            await fetch_metadata(http, parse_xref("3J79"))
    assert http.requests == 2


async def test_429_waits_for_retry_after_seconds(no_sleep) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"})])
    calls: list[httpx.Request] = []
    async with client(recorded_handler(calls, lambda r: next(answers, None)), no_sleep) as http:
        meta = await fetch_metadata(http, parse_xref("3J79"))
    assert meta.title
    assert len(calls) == 2
    assert no_sleep.waits == [7.0]  # the server's Retry-After, not the backoff


async def test_429_with_http_date_and_cap(no_sleep) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    answers = iter([
        httpx.Response(429, headers={"Retry-After": later}),
        httpx.Response(429, headers={"Retry-After": "100000"}),
        httpx.Response(429),  # no Retry-After: exponential backoff
    ])
    async with client(recorded_handler(None, lambda r: next(answers, None)), no_sleep,
                      retry_after_max_s=60) as http:
        await fetch_metadata(http, parse_xref("3J79"))
    first, capped, backoff = no_sleep.waits
    assert 25 <= first <= 30
    assert capped == 60
    assert backoff == 1.5


async def test_persistent_429_gives_up(no_sleep) -> None:
    rate_limited = lambda r: httpx.Response(429, headers={"Retry-After": "1"})  # noqa: E731
    async with client(recorded_handler(None, rate_limited), no_sleep, retries=2) as http:
        with pytest.raises(FetchError, match="429"):
            await fetch_metadata(http, parse_xref("3J79"))
    assert no_sleep.waits == [1.0, 1.0]


async def test_other_4xx_and_bad_json_are_not_retried(no_sleep) -> None:
    async with client(recorded_handler(None, lambda r: httpx.Response(400, text="bad")), no_sleep) as http:
        with pytest.raises(FetchError, match="HTTP 400"):
            await fetch_metadata(http, parse_xref("3J79"))
        assert http.requests == 1
    async with client(recorded_handler(None, lambda r: httpx.Response(200, text="<html>")), no_sleep) as http:
        with pytest.raises(FetchError, match="invalid JSON"):
            await fetch_metadata(http, parse_xref("3J79"))
    async with client(recorded_handler(None, lambda r: httpx.Response(200, json=[1, 2])), no_sleep) as http:
        with pytest.raises(FetchError, match="not an object"):
            await fetch_metadata(http, parse_xref("3J79"))
    async with client(recorded_handler(None, lambda r: httpx.Response(200, json={"x": 1, "y": 2})), no_sleep) as http:
        with pytest.raises(FetchError, match="unexpected JSON shape"):
            await fetch_metadata(http, parse_xref("EMPIAR-10028"))


async def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=fixture_json("rcsb_3J79.json"))

    async with HttpClient(ClientSettings(concurrency=3), transport=httpx.MockTransport(slow)) as http:
        results = await asyncio.gather(*(fetch_metadata(http, parse_xref("3J79")) for _ in range(12)))
    assert len(results) == 12
    assert peak == 3


async def test_resources_without_an_api_are_refused(no_sleep) -> None:
    async with client(recorded_handler(), no_sleep) as http:
        with pytest.raises(FetchError, match="no metadata API"):
            await fetch_metadata(http, parse_xref("uniprot:P38398"))
