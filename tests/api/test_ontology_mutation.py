"""Curators load and upgrade ontologies over GraphQL; everyone reads the upgrade reports."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio

V1 = """format-version: 1.2
data-version: tstq/releases/2025-01-01/tstq.obo
ontology: tstq

[Term]
id: TSTQ:0000001
name: root phenotype

[Term]
id: TSTQ:0000002
name: small nucleus
is_a: TSTQ:0000001

[Term]
id: TSTQ:0000003
name: tiny nucleus
is_a: TSTQ:0000002
"""

V2 = """format-version: 1.2
data-version: tstq/releases/2026-01-01/tstq.obo
ontology: tstq

[Term]
id: TSTQ:0000001
name: root phenotype

[Term]
id: TSTQ:0000002
name: small nucleus phenotype
is_a: TSTQ:0000001

[Term]
id: TSTQ:0000003
name: obsolete tiny nucleus
is_obsolete: true
replaced_by: TSTQ:0000002

[Term]
id: TSTQ:0000004
name: large nucleus
is_a: TSTQ:0000001
"""

LOAD = """mutation($content: String!) { loadOntology(content: $content, filename: "tstq.obo") {
  ontology version status terms obsolete
  upgrade { fromVersion toVersion added obsoleted relabelled { term oldLabel newLabel } } } }"""


@pytest.fixture(scope="module")
def tokens(loaded, driver):
    from bioimage_hub.auth.tokens import create_token, revoke_token

    made = {role: create_token(driver, loaded.neo4j_database, f"onto-{role}", role) for role in ("submitter", "curator")}
    yield {k: v.secret for k, v in made.items()}
    for v in made.values():
        revoke_token(driver, loaded.neo4j_database, v.info.id)
    db = loaded.neo4j_database
    driver.execute_query("MATCH (n:TermName {ontology: 'tstq'}) DETACH DELETE n", database_=db)
    driver.execute_query("MATCH (t:OntologyTerm) WHERE t.id STARTS WITH 'TSTQ:' DETACH DELETE t", database_=db)
    driver.execute_query("MATCH (u:OntologyUpgrade {ontology: 'tstq'}) DETACH DELETE u", database_=db)
    driver.execute_query("MATCH (o:Ontology {id: 'tstq'}) DETACH DELETE o", database_=db)


async def _load(client, secret, content):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return await client.post("/graphql", json={"query": LOAD, "variables": {"content": content}}, headers=headers)


async def test_only_curators_load(client, tokens) -> None:
    anonymous = await _load(client, None, V1)
    assert anonymous.status_code == 401
    submitter = await _load(client, tokens["submitter"], V1)
    assert submitter.status_code == 403
    assert submitter.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_load_upgrade_and_read_the_report(client, gql, tokens) -> None:
    first = (await _load(client, tokens["curator"], V1)).json()["data"]["loadOntology"]
    assert (first["ontology"], first["version"], first["status"], first["terms"]) == ("tstq", "2025-01-01", "loaded", 3)
    again = (await _load(client, tokens["curator"], V1)).json()["data"]["loadOntology"]
    assert again["status"] == "unchanged" and again["upgrade"] is None

    upgraded = (await _load(client, tokens["curator"], V2)).json()["data"]["loadOntology"]
    assert upgraded["status"] == "upgraded" and upgraded["obsolete"] == 1
    report = upgraded["upgrade"]
    assert (report["fromVersion"], report["toVersion"]) == ("2025-01-01", "2026-01-01")
    assert report["added"] == ["TSTQ:0000004"] and report["obsoleted"] == ["TSTQ:0000003"]
    assert {"term": "TSTQ:0000002", "oldLabel": "small nucleus", "newLabel": "small nucleus phenotype"} in report["relabelled"]

    stored = await gql('{ ontologyUpgrades(ontology: "tstq") { toVersion obsoleted } '
                       'term(id: "TSTQ:0000003") { obsolete replacedBy { id } } '
                       'searchTerms(query: "large nucleus", ontologies: ["tstq"]) { nodes { term { id } matchType } } }')
    assert stored.data["ontologyUpgrades"] == [{"toVersion": "2026-01-01", "obsoleted": ["TSTQ:0000003"]}]
    assert stored.data["term"] == {"obsolete": True, "replacedBy": [{"id": "TSTQ:0000002"}]}
    assert stored.data["searchTerms"]["nodes"][0] == {"term": {"id": "TSTQ:0000004"}, "matchType": "EXACT_LABEL"}


async def test_garbage_upload_is_a_clear_error(client, tokens) -> None:
    response = await _load(client, tokens["curator"], "this is not an ontology at all")
    body = response.json()
    assert body["data"] is None or body["data"]["loadOntology"] is None
    assert body["errors"][0]["message"].startswith("content:")
