"""Recorded API answers served through httpx.MockTransport (see fixtures/README.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# request path (+ Europe PMC query) -> fixture file
RECORDED: dict[str, str] = {
    "/emdb/api/entry/EMD-2660": "emdb_EMD-2660.json",
    "/empiar/api/entry/EMPIAR-10028": "empiar_EMPIAR-10028.json",
    "/rest/v1/core/entry/3J79": "rcsb_3J79.json",
    "europepmc:EXT_ID:23845946 AND SRC:MED": "europepmc_pubmed_23845946.json",
}


def recorded_handler(calls: list[httpx.Request] | None = None,
                     override: Callable[[httpx.Request], httpx.Response | None] | None = None,
                     ) -> Callable[[httpx.Request], httpx.Response]:
    """A MockTransport handler answering from the recorded files, 404 for anything else."""

    def handle(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(request)
        if override is not None:
            answer = override(request)
            if answer is not None:
                return answer
        key = request.url.path
        if key.endswith("/europepmc/webservices/rest/search"):
            key = "europepmc:" + request.url.params.get("query", "")
        name = RECORDED.get(key)
        if name is None:
            if key.startswith("europepmc:"):
                return httpx.Response(200, json={"version": "6.9", "hitCount": 0, "resultList": {"result": []}})
            return httpx.Response(404, json={"detail": "Not found."})
        return httpx.Response(200, content=(FIXTURES / name).read_bytes(),
                              headers={"Content-Type": "application/json"})

    return handle


@pytest.fixture
def no_sleep() -> Callable[[float], Any]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    sleep.waits = waits  # type: ignore[attr-defined]
    return sleep
