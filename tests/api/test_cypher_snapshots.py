"""Pin the Cypher each GraphQL request compiles to (in the manner of neo4j/graphql's tck tests).

A change to the compiler shows up here as a readable diff of the generated statement. Refresh
with `UPDATE_SNAPSHOTS=1 pytest tests/api/test_cypher_snapshots.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.asyncio

SNAPSHOTS = Path(__file__).parent / "snapshots"

CASES = {
    "study_with_nested_connection": """{ study(accession: "idr0004") { title publications { doi }
        datasets { name images(first: 5, after: "WyJrIiwiaWRyMDAwNC1zY3JlZW5BL1AxMDEvQTEiXQ") {
          totalCount pageInfo { hasNextPage } edges { cursor node { id genes { symbol } } } } } } }""",
    "images_by_phenotype_with_subterms": """{ images(first: 10, filter: {phenotype: "CMPO_0000398"}) {
        nodes { id phenotypes { name term { id } } } } }""",
    "images_by_phenotype_exact_and_gene": """{ images(first: 10, filter: {phenotype: "CMPO:0000426",
        includeSubterms: false, gene: "NUP107"}) { totalCount nodes { id } } }""",
    "term_hierarchy": """{ term(id: "CMPO:0000426") { label parents { id } children { id } ancestors { distance term { id } }
        images(first: 3, includeSubterms: true) { totalCount } } }""",
    "node_by_id": """{ node(id: "idr0004") { id ... on Study { title } } }""",
    "search_terms": """{ searchTerms(query: "nucleus", ontologies: ["cmpo"], first: 5) {
        pageInfo { hasNextPage endCursor } nodes { matchedText matchType term { id label } } } }""",
    "term_counts": """{ term(id: "CMPO:0000398") { imageCount studyCount exact: imageCount(includeSubterms: false)
        descendants(hierarchical: true) { distance term { id } } } }""",
}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_generated_cypher_matches_snapshot(gql, name) -> None:
    result = await gql(CASES[name])
    assert len(result.cypher) == 1
    text = result.cypher[0] + "\n"
    path = SNAPSHOTS / f"{name}.cypher"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


async def test_user_values_reach_cypher_only_as_parameters(gql) -> None:
    hostile = "x'}) DETACH DELETE n //"
    result = await gql(
        """query($v: String!) { images(first: 1, filter: {study: $v, gene: $v, organism: $v}) { nodes { id } }
                                 genes(symbol: $v) { nodes { id } } study(accession: $v) { title } }""",
        {"v": hostile},
    )
    assert result.data["images"]["nodes"] == []
    assert result.cypher and all(hostile not in q for q in result.cypher)

