"""The submitStudy mutation (executed on a schema with Query + Mutation, as the app will wire it)
and the CLI `submit` command."""

from __future__ import annotations

import json

import pytest
import strawberry
from strawberry.extensions import MaskErrors
from typer.testing import CliRunner

from bioimage_hub.api import mutations
from bioimage_hub.api import schema as api_schema
from bioimage_hub.api.federation import FederatedSchema
from bioimage_hub.api import types as t
from bioimage_hub.api.context import Context
from bioimage_hub.api.schema import Query, _client_visible
from bioimage_hub.auth.tokens import Principal
from bioimage_hub.cli import app
from bioimage_hub.graph.driver import GraphReader, async_driver
from tests.conftest import counts
from tests.submission.conftest import EXAMPLE, example


SUBMIT = """mutation($doc: JSON!, $acc: String) {
  submitStudy(document: $doc, accession: $acc) { ok accession version created changed errors { path message } } }"""


@strawberry.type
class _VersionsQuery(Query):
    @strawberry.field
    async def study_versions(self, info: strawberry.Info, accession: str) -> list[mutations.StudyVersion]:
        return await mutations.study_versions(info, accession)

    @strawberry.field
    async def study_version(self, info: strawberry.Info, accession: str, version: int) -> mutations.StudyVersion | None:
        return await mutations.study_version(info, accession, version)

    @strawberry.field
    async def study_version_diff(self, info: strawberry.Info, accession: str, from_version: int, to_version: int) -> list[mutations.VersionChange] | None:
        return await mutations.study_version_diff(info, accession, from_version, to_version)


# The hub's schema (same types, config and error masking) plus the mutation and version fields.
SCHEMA = FederatedSchema(
    query=_VersionsQuery, mutation=mutations.Mutation, federation_version="2.9",
    types=[
        t.Study, t.Dataset, t.Plate, t.Well, t.Image, t.Organism, t.Gene, t.Reagent, t.Phenotype, t.Publication,
        t.OntologyTerm, t.CrossReference,
    ],
    config=api_schema.schema.config,
    extensions=[lambda: MaskErrors(should_mask_error=lambda e: not _client_visible(e))],
)


@pytest.fixture(scope="module")
def settings_with_prefix(loaded, prefix):
    return loaded.model_copy(update={"accession_prefix": prefix})


@pytest.fixture
async def execute(settings_with_prefix):
    reader = GraphReader(async_driver(settings_with_prefix), settings_with_prefix.neo4j_database)

    async def run(query: str, variables: dict, principal: Principal | None):
        context = Context(reader=reader, settings=settings_with_prefix, principal=principal)
        return await SCHEMA.execute(query, variable_values=variables, context_value=context)

    yield run
    await reader.close()


ALICE = Principal("m-alice", "submitter", "tok_a")
BOB = Principal("m-bob", "submitter", "tok_b")
CURATOR = Principal("m-cur", "curator", "tok_c")


async def test_submit_study_needs_a_principal(execute, loaded, driver) -> None:
    before = counts(driver, loaded.neo4j_database)
    result = await execute(SUBMIT, {"doc": example()}, None)
    assert result.errors[0].extensions["code"] == "UNAUTHENTICATED"
    assert "Bearer" in result.errors[0].message
    assert counts(driver, loaded.neo4j_database) == before


async def test_submit_revise_forbid_and_read_versions(execute, prefix) -> None:
    doc = example()
    doc["study"]["title"] = "Submitted over GraphQL"
    created = await execute(SUBMIT, {"doc": doc}, ALICE)
    assert not created.errors, created.errors
    data = created.data["submitStudy"]
    assert data["ok"] and data["created"] and data["version"] == 1 and data["accession"].startswith(prefix)
    acc = data["accession"]

    doc["study"]["title"] = "Revised over GraphQL"
    forbidden = await execute(SUBMIT, {"doc": doc, "acc": acc}, BOB)
    assert forbidden.errors[0].extensions["code"] == "FORBIDDEN"
    revised = await execute(SUBMIT, {"doc": doc, "acc": acc}, ALICE)
    assert revised.data["submitStudy"]["version"] == 2
    same = await execute(SUBMIT, {"doc": doc, "acc": acc}, CURATOR)
    assert (same.data["submitStudy"]["version"], same.data["submitStudy"]["changed"]) == (2, False)
    missing = await execute(SUBMIT, {"doc": doc, "acc": f"{prefix}424242"}, CURATOR)
    assert missing.errors[0].extensions["code"] == "NOT_FOUND"

    history = await execute(
        """query($acc: String!) { studyVersions(accession: $acc) { version current submittedBy document }
                                  studyVersion(accession: $acc, version: 1) { document }
                                  studyVersionDiff(accession: $acc, fromVersion: 1, toVersion: 2) { op path old new } }""",
        {"acc": acc}, None,
    )
    assert not history.errors, history.errors
    assert [(v["version"], v["current"]) for v in history.data["studyVersions"]] == [(1, False), (2, True)]
    assert history.data["studyVersions"][0]["document"] is None  # lists leave the documents out
    assert history.data["studyVersion"]["document"]["study"]["title"] == "Submitted over GraphQL"
    assert history.data["studyVersionDiff"] == [
        {"op": "replace", "path": "study.title", "old": "Submitted over GraphQL", "new": "Revised over GraphQL"}
    ]


async def test_an_invalid_document_returns_every_problem_and_writes_nothing(execute, loaded, driver) -> None:
    doc = example()
    doc["study"]["authors"][0]["orcid"] = "0000-0002-1825-0098"
    doc["datasets"][0]["images"][0]["phenotypes"] = ["CMPO:9999999"]
    before = counts(driver, loaded.neo4j_database)
    result = await execute(SUBMIT, {"doc": doc}, ALICE)
    assert not result.errors
    data = result.data["submitStudy"]
    assert data["ok"] is False and data["accession"] is None
    assert {(e["path"], e["message"]) for e in data["errors"]} == {
        ("study.authors[0].orcid", "ORCID iD 0000-0002-1825-0098 has a wrong check digit"),
        ("datasets[0].images[0].phenotypes[0]", "unknown term CMPO:9999999"),
    }
    assert counts(driver, loaded.neo4j_database) == before


async def test_yaml_text_is_accepted_as_the_document(execute) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("Nuclear envelope protein", "YAML-text submission of nuclear envelope protein")
    result = await execute(SUBMIT, {"doc": text}, BOB)
    assert result.data["submitStudy"]["ok"] and result.data["submitStudy"]["created"]


async def test_embargoed_versions_are_hidden_from_others(execute, prefix) -> None:
    doc = example()
    doc["study"]["title"] = "Embargoed until 2099"
    doc["study"]["release_date"] = "2099-01-01"
    acc = (await execute(SUBMIT, {"doc": doc}, ALICE)).data["submitStudy"]["accession"]
    query = "query($acc: String!) { studyVersions(accession: $acc) { version } }"
    assert (await execute(query, {"acc": acc}, None)).data["studyVersions"] == []
    assert (await execute(query, {"acc": acc}, BOB)).data["studyVersions"] == []
    assert (await execute(query, {"acc": acc}, ALICE)).data["studyVersions"] == [{"version": 1}]
    assert (await execute(query, {"acc": acc}, CURATOR)).data["studyVersions"] == [{"version": 1}]


def test_cli_submit(loaded, settings_with_prefix, monkeypatch, tmp_path, prefix) -> None:
    monkeypatch.setattr("bioimage_hub.cli.get_settings", lambda: settings_with_prefix)
    runner = CliRunner()
    doc = EXAMPLE.read_text(encoding="utf-8").replace("Nuclear envelope protein", "CLI submission of nuclear envelope protein")
    path = tmp_path / "study.yaml"
    path.write_text(doc, encoding="utf-8")
    result = runner.invoke(app, ["submit", str(path), "--as", "cli-user", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["valid"] and data["created"] and data["accession"].startswith(prefix) and data["images"] == 4
    again = runner.invoke(app, ["submit", str(path), "--as", "cli-user", "--accession", data["accession"]])
    assert again.exit_code == 0 and "nothing changed" in again.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(doc.replace("CMPO:0000445", "CMPO:9999999").replace("size_bytes: 52428800", "size_bytes: big"), encoding="utf-8")
    result = runner.invoke(app, ["submit", str(bad)])
    assert result.exit_code == 2
    assert "2 problem(s)" in result.output
    assert "datasets[0].images[0].phenotypes[0]: unknown term CMPO:9999999" in result.output
    assert "datasets[1].images[0].size_bytes:" in result.output
    as_json = runner.invoke(app, ["submit", str(bad), "--json"])
    assert as_json.exit_code == 2 and len(json.loads(as_json.stdout)["problems"]) == 2
    assert runner.invoke(app, ["submit", str(tmp_path / "missing.yaml")]).exit_code == 2
