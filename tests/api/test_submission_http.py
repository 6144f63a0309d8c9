"""Submitting over HTTP: token required (401), ownership enforced (403), versions readable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bioimage_hub.config import PROJECT_ROOT

pytestmark = pytest.mark.asyncio

EXAMPLE = PROJECT_ROOT / "examples" / "submission.yaml"
SUBMIT = """mutation($doc: JSON!, $acc: String) { submitStudy(document: $doc, accession: $acc) {
  ok accession version created changed errors { path message } } }"""


@pytest.fixture(scope="module")
def people(loaded, driver):
    from bioimage_hub.auth.tokens import create_token, revoke_token

    made = {name: create_token(driver, loaded.neo4j_database, f"http-{name}", role)
            for name, role in (("alice", "submitter"), ("bob", "submitter"), ("carol", "curator"))}
    yield {k: v.secret for k, v in made.items()}
    for v in made.values():
        revoke_token(driver, loaded.neo4j_database, v.info.id)
    # studies submitted here must not change the answers other tests compute from the IDR files
    from tests.submission.conftest import purge

    purge(driver, loaded.neo4j_database, loaded.accession_prefix)


def _doc(title_suffix: str = "") -> dict:
    doc = json.loads(json.dumps(yaml.safe_load(Path(EXAMPLE).read_text(encoding="utf-8")), default=str))
    doc["study"]["title"] += title_suffix
    return doc


async def _submit(client, secret, doc, acc=None):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return await client.post("/graphql", json={"query": SUBMIT, "variables": {"doc": doc, "acc": acc}}, headers=headers)


async def test_submit_needs_a_token(client) -> None:
    response = await _submit(client, None, _doc())
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_submit_version_and_ownership(client, gql, people) -> None:
    first = (await _submit(client, people["alice"], _doc(" (http test)"))).json()["data"]["submitStudy"]
    assert first["ok"] and first["created"] and first["version"] == 1
    acc = first["accession"]
    assert acc.startswith("S-HUB")

    same = (await _submit(client, people["alice"], _doc(" (http test)"), acc)).json()["data"]["submitStudy"]
    assert same["ok"] and same["version"] == 1 and same["changed"] is False

    other = await _submit(client, people["bob"], _doc(" (bob's edit)"), acc)
    assert other.status_code == 403
    assert other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    curated = (await _submit(client, people["carol"], _doc(" (curated)"), acc)).json()["data"]["submitStudy"]
    assert curated["ok"] and curated["version"] == 2 and curated["changed"]

    result = await gql(
        """query($acc: String!) { study(accession: $acc) { title source versions { version current submittedBy } }
             studyVersion(accession: $acc, version: 1) { version document }
             studyVersionDiff(accession: $acc, fromVersion: 1, toVersion: 2) { op path old new } }""",
        {"acc": acc},
    )
    study = result.data["study"]
    assert study["title"].endswith("(curated)") and study["source"] == "submission"
    assert [(v["version"], v["current"]) for v in study["versions"]] == [(1, False), (2, True)]
    assert [v["submittedBy"] for v in study["versions"]] == ["http-alice", "http-carol"]
    assert result.data["studyVersion"]["document"]["study"]["title"].endswith("(http test)")
    changes = {c["path"]: c for c in result.data["studyVersionDiff"]}
    assert changes["study.title"]["new"].endswith("(curated)")


async def test_invalid_document_lists_every_problem_and_writes_nothing(client, people, gql) -> None:
    doc = _doc(" (invalid)")
    doc["study"]["licence"] = "all rights reserved"
    doc["study"]["authors"][0]["orcid"] = "0000-0002-1825-0098"
    before = (await gql("{ studies(first: 100) { totalCount } }")).data["studies"]["totalCount"]
    body = (await _submit(client, people["alice"], doc)).json()["data"]["submitStudy"]
    assert body["ok"] is False and body["accession"] is None
    paths = {e["path"] for e in body["errors"]}
    assert "study.licence" in paths and "study.authors[0].orcid" in paths
    after = (await gql("{ studies(first: 100) { totalCount } }")).data["studies"]["totalCount"]
    assert after == before
