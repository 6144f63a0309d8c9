"""An embargoed study (release date in the future) leaks through no read path to anonymous users.

The fixture imports a copy of a real IDR study under a new accession with a future release date;
every read path is then asked about it and about things it links to.
"""

from __future__ import annotations

from datetime import date

import pytest

from bioimage_hub.graph.writer import write_study
from bioimage_hub.importers.idr.reader import read_study
from tests.api import expected

pytestmark = pytest.mark.asyncio

HIDDEN = "idr9990"
SOURCE = "idr0023"


def _rename(value: str) -> str:
    return value.replace(SOURCE, HIDDEN)


@pytest.fixture(scope="module")
def embargoed(loaded, driver):
    folder = next(f for f in expected.study_folders() if f.name.startswith(SOURCE))
    parsed = read_study(folder)
    parsed.study.accession = HIDDEN
    parsed.study.release_date = date(2999, 1, 1)
    parsed.study.title = "Embargoed copy of " + parsed.study.title
    for d in parsed.datasets:
        d.id = _rename(d.id)
    for p in parsed.phenotypes:
        p.id = _rename(p.id)
    parsed.images = {_rename(k): v for k, v in parsed.images.items()}
    for images in parsed.images.values():
        for image in images:
            image.id = _rename(image.id)
            image.phenotype_ids = [_rename(p) for p in image.phenotype_ids]
    write_study(driver, loaded.neo4j_database, parsed)
    driver.execute_query("MATCH (s:Study {accession: $acc}) SET s.owner = 'embargo-owner'",
                         acc=HIDDEN, database_=loaded.neo4j_database)
    first_image = next(iter(parsed.images.values()))[0].id
    yield {"image": first_image, "dataset": parsed.datasets[0].id, "phenotype": parsed.phenotypes[0].id,
           "rows": len(expected.rows(folder)), "gene": parsed.genes[0].id}
    driver.execute_query(
        "MATCH (n) WHERE n.study = $acc OR (n:Study AND n.accession = $acc) DETACH DELETE n",
        acc=HIDDEN, database_=loaded.neo4j_database,
    )


async def test_direct_lookups_return_null(gql, embargoed) -> None:
    result = await gql(
        """query($acc: String!, $accId: ID!, $img: ID!, $ds: ID!, $ph: ID!) {
             study(accession: $acc) { title } image(id: $img) { id }
             a: node(id: $accId) { id } b: node(id: $img) { id } c: node(id: $ds) { id } d: node(id: $ph) { id } }""",
        {"acc": HIDDEN, "accId": HIDDEN, "img": embargoed["image"], "ds": embargoed["dataset"], "ph": embargoed["phenotype"]},
    )
    assert result.data == {"study": None, "image": None, "a": None, "b": None, "c": None, "d": None}


async def test_lists_filters_and_counts_exclude_it(gql, embargoed) -> None:
    public = expected.images_per_accession()["CMPO:0000426"]
    result = await gql(
        """query($acc: String!, $gene: String!, $geneId: ID!) {
             studies(first: 100) { totalCount nodes { accession } }
             byStudy: images(filter: {study: $acc}) { totalCount }
             byTerm: images(filter: {phenotype: "CMPO:0000426"}) { totalCount nodes { study { accession } } }
             byGene: images(first: 100, filter: {gene: $gene}) { totalCount nodes { id } }
             term(id: "CMPO:0000426") { imageCount studyCount images(first: 100) { totalCount }
               phenotypes { study { accession } } }
             gene(id: $geneId) { images(first: 100) { totalCount } studies { accession } phenotypes { id } }
             organisms { id images(first: 0) { totalCount } studies { accession } }
             publication(pmid: "23845946") { studies { accession } }
             st: studies(filter: {text: "Embargoed copy"}) { totalCount } }""",
        {"acc": HIDDEN, "gene": embargoed["gene"], "geneId": embargoed["gene"]},
    )
    d = result.data
    assert HIDDEN not in {n["accession"] for n in d["studies"]["nodes"]}
    idr = {expected.study_accession(f) for f in expected.study_folders()}
    assert {n["accession"] for n in d["studies"]["nodes"]} >= idr
    assert d["byStudy"]["totalCount"] == 0
    assert d["byTerm"]["totalCount"] == public == d["term"]["imageCount"] == d["term"]["images"]["totalCount"]
    assert d["term"]["studyCount"] == 1
    assert {p["study"]["accession"] for p in d["term"]["phenotypes"]} == {SOURCE}
    assert all(HIDDEN not in n["id"] for n in d["byGene"]["nodes"])
    assert d["gene"]["images"]["totalCount"] == d["byGene"]["totalCount"]
    assert HIDDEN not in {s["accession"] for s in d["gene"]["studies"]}
    assert all(HIDDEN not in p["id"] for p in d["gene"]["phenotypes"])
    for organism in d["organisms"]:
        assert HIDDEN not in {s["accession"] for s in organism["studies"]}
    human = next(o for o in d["organisms"] if o["id"] == "NCBITaxon:9606")
    want_human = sum(
        1 for f in expected.study_folders() for r in expected.rows(f)
        if (r.get("Characteristics [Organism]") or "").strip() == "Homo sapiens"
        and not (r.get("Comments") or "").lower().startswith("annotation not available")
    )
    assert human["images"]["totalCount"] <= want_human
    assert d["publication"]["studies"] == [{"accession": SOURCE}]
    assert d["st"]["totalCount"] == 0


async def test_the_hidden_study_is_really_in_the_graph(driver, loaded, embargoed) -> None:
    # guards against a vacuous pass: the data is there, only invisible
    records, _, _ = driver.execute_query(
        "MATCH (i:Image {study: $acc}) RETURN count(i) AS n", acc=HIDDEN, database_=loaded.neo4j_database
    )
    assert records[0]["n"] == embargoed["rows"]


async def test_federation_entities_hide_it(gql, embargoed) -> None:
    result = await gql(
        """query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Study { title } ... on Image { id } } }""",
        {"r": [{"__typename": "Study", "accession": HIDDEN}, {"__typename": "Image", "id": embargoed["image"]},
               {"__typename": "Study", "accession": SOURCE}]},
    )
    got = result.data["_entities"]
    assert got[0] is None and got[1] is None
    assert got[2]["__typename"] == "Study"



@pytest.fixture(scope="module")
def tokens(loaded, driver):
    from bioimage_hub.auth.tokens import create_token, revoke_token

    made = {
        "owner": create_token(driver, loaded.neo4j_database, "embargo-owner", "submitter"),
        "other": create_token(driver, loaded.neo4j_database, "someone-else", "submitter"),
        "curator": create_token(driver, loaded.neo4j_database, "a-curator", "curator"),
    }
    yield {k: v.secret for k, v in made.items()}
    for v in made.values():
        revoke_token(driver, loaded.neo4j_database, v.info.id)


QUERY = """query($acc: String!) { study(accession: $acc) { title }
  images(filter: {study: $acc}) { totalCount }
  term(id: "CMPO:0000426") { imageCount } }"""


async def _as(client, secret, acc=HIDDEN):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return await client.post("/graphql", json={"query": QUERY, "variables": {"acc": acc}}, headers=headers)


async def test_owner_and_curators_see_it_other_submitters_do_not(client, embargoed, tokens) -> None:
    public = expected.images_per_accession()["CMPO:0000426"]
    for who, visible in (("owner", True), ("curator", True), ("other", False), (None, False)):
        response = await _as(client, tokens.get(who) if who else None)
        assert response.status_code == 200, who
        data = response.json()["data"]
        assert (data["study"] is not None) is visible, who
        assert data["images"]["totalCount"] == (embargoed["rows"] if visible else 0), who
        assert data["term"]["imageCount"] == public + (embargoed["rows"] if visible else 0), who


async def test_bad_credentials_get_401_with_a_reason(client, tokens) -> None:
    for header in ("Basic dXNlcjpwYXNz", "Bearer not-a-token", "Bearer bih_" + "x" * 43, "Bearer"):
        response = await client.post("/graphql", json={"query": "{ organisms { id } }"},
                                     headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"].startswith("Bearer")
        message = response.json()["errors"][0]["message"]
        assert "token" in message or "Bearer" in message


async def test_revoked_token_is_refused(client, loaded, driver) -> None:
    from bioimage_hub.auth.tokens import create_token, revoke_token

    made = create_token(driver, loaded.neo4j_database, "short-lived", "curator")
    ok = await client.post("/graphql", json={"query": "{ organisms { id } }"},
                           headers={"Authorization": f"Bearer {made.secret}"})
    assert ok.status_code == 200
    revoke_token(driver, loaded.neo4j_database, made.info.id)
    refused = await client.post("/graphql", json={"query": "{ organisms { id } }"},
                                headers={"Authorization": f"Bearer {made.secret}"})
    assert refused.status_code == 401


async def test_containment_never_crosses_studies(driver, loaded, embargoed) -> None:
    """access.CONTAINMENT children skip their own check because they share the parent's study."""
    from bioimage_hub.graph.query.access import CONTAINMENT, STUDY_OWNED

    for rel in sorted(CONTAINMENT):
        records, _, _ = driver.execute_query(
            f"MATCH (a)-[:{rel}]->(b) RETURN labels(a) AS la, labels(b) AS lb, "
            "coalesce(a.study, a.accession) AS sa, b.study AS sb, count(*) AS n",
            database_=loaded.neo4j_database,
        )
        assert records, f"no {rel} relationships in the loaded graph"
        for r in records:
            assert set(r["la"]) & set(STUDY_OWNED) and set(r["lb"]) & set(STUDY_OWNED), (rel, r["la"], r["lb"])
            assert r["sa"] == r["sb"], f"{rel} links {r['la']} of {r['sa']} to {r['lb']} of {r['sb']} ({r['n']}x)"


async def test_children_of_a_visible_parent_are_not_checked_again() -> None:
    from bioimage_hub.graph.query.access import guard

    out = guard(
        "MATCH (s:Study {accession: $a}) RETURN COLLECT { MATCH (s)-[:HAS_DATASET]->(d:Dataset) "
        "MATCH (d)-[:HAS_IMAGE]->(i:Image) MATCH (i)-[:HAS_GENE]->(g:Gene)<-[:HAS_GENE]-(j:Image) RETURN j }"
    )
    assert "(s:Study {accession: $a} WHERE NOT s.accession IN hidden)" in out
    assert "(d:Dataset)" in out and "(i:Image)" in out  # same study as their visible parent
    assert "(j:Image WHERE NOT j.study IN hidden)" in out  # through a gene: any study, checked
    # a parent nobody checked does not vouch for its children
    assert "(d:Dataset WHERE NOT d.study IN hidden)" in guard("MATCH (x)-[:HAS_DATASET]->(d:Dataset) RETURN d")
