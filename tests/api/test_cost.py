"""What a request costs: Cypher statements per GraphQL request must not grow with the answer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio

NESTED = """
query($n: Int!) {
  study(accession: "idr0011") {
    title
    publications { doi }
    datasets {
      name imagingMethod { id }
      images(first: $n) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id genes { symbol organism { id } } phenotypes { name term { id parents { id } } } well { plate { name } } } }
      }
    }
  }
}
"""


@pytest.mark.parametrize("page", [1, 10, 50, 100])
async def test_one_statement_whatever_the_page_size(gql, page) -> None:
    result = await gql(NESTED, {"n": page})
    datasets = result.data["study"]["datasets"]
    assert len(datasets) == 5
    returned = sum(len(d["images"]["edges"]) for d in datasets)
    assert returned == sum(min(page, d["images"]["totalCount"]) for d in datasets)
    assert result.statements == 1


@pytest.mark.parametrize("page", [1, 25, 100])
async def test_filtered_root_connection_is_one_statement(gql, page) -> None:
    result = await gql(
        """query($n: Int!) { images(first: $n, filter: {phenotype: "CMPO:0000398", organism: "NCBITaxon:9606"}) {
             nodes { id study { accession } genes { symbol } } } }""",
        {"n": page},
    )
    assert len(result.data["images"]["nodes"]) <= page
    assert result.statements == 1




async def test_keyset_pages_cover_every_image_once(gql) -> None:
    from tests.api import expected

    folder = next(f for f in expected.study_folders() if f.name.startswith("idr0025"))
    want = len(expected.rows(folder))
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        result = await gql(
            """query($after: String) { images(first: 50, after: $after, filter: {study: "idr0025"}) {
                 pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id } } }""",
            {"after": after},
        )
        conn = result.data["images"]
        seen.extend(n["id"] for n in conn["nodes"])
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == want
    assert seen == sorted(seen)
    assert pages == -(-want // 50)
