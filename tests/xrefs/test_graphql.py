"""Cross-links over GraphQL: reverse questions, and the EMPIAR → EMDB → PDB chain in one query."""

from __future__ import annotations

import re

import pytest

from bioimage_hub.xrefs.graph import link
from bioimage_hub.xrefs.refresh import refresh
from tests.api import expected
from tests.xrefs.test_graph_refresh import SUBJECT, _http, graph  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio


def _study_file_values(key: str) -> dict[str, set[str]]:
    """study accession -> values of one study-file row, read straight from the files."""
    out = {}
    for folder in expected.study_folders():
        text = next(folder.glob("idr*-study.txt")).read_text(encoding="utf-8", errors="replace")
        values: set[str] = set()
        for line in text.splitlines():
            cells = line.split("\t")
            if cells[0].strip() == key:
                values |= {c.strip() for c in cells[1:] if c.strip()}
        out[expected.study_accession(folder)] = values
    return out


async def test_every_study_links_to_its_idr_entry_and_pubmed_ids(gql, graph) -> None:  # noqa: F811
    pmids = _study_file_values("Study PubMed ID")
    result = await gql("{ studies(first: 100) { nodes { accession crossReferences { id resource url } } } }")
    for study in result.data["studies"]["nodes"]:
        acc = study["accession"]
        if acc not in pmids:  # a study submitted by another test, not an IDR import
            continue
        ids = {x["id"] for x in study["crossReferences"]}
        assert f"idr:{acc}" in ids
        assert {f"pubmed:{p}" for p in pmids[acc]} <= ids
        assert all(x["url"].startswith(("https://", "http://")) for x in study["crossReferences"])


async def test_reverse_question_who_links_to_a_pubmed_entry(gql, graph) -> None:  # noqa: F811
    pmids = _study_file_values("Study PubMed ID")
    want = sorted(acc for acc, values in pmids.items() if "23845946" in values)
    for spelling in ("pubmed:23845946", "https://pubmed.ncbi.nlm.nih.gov/23845946"):
        result = await gql(
            "query($id: String!) { crossLinks(id: $id) { nodes { id studies { accession } } } }", {"id": spelling}
        )
        nodes = result.data["crossLinks"]["nodes"]
        assert [n["id"] for n in nodes] == ["pubmed:23845946"]
        assert sorted(s["accession"] for s in nodes[0]["studies"]) == want


async def test_all_entries_of_a_resource(gql, graph) -> None:  # noqa: F811
    pmids = set().union(*_study_file_values("Study PubMed ID").values())
    result = await gql('{ crossLinks(resource: "PubMed", first: 100) { totalCount nodes { accession linkCount } } }')
    got = result.data["crossLinks"]
    assert {n["accession"] for n in got["nodes"]} >= pmids
    assert all(n["linkCount"] >= 1 for n in got["nodes"])


async def test_empiar_emdb_pdb_chain_in_one_query(gql, graph) -> None:  # noqa: F811
    driver, db = graph
    link(driver, db, SUBJECT, "EMPIAR-10028", source="test")
    async with _http(None) as http:
        await refresh(driver, db, resources=["empiar", "emdb", "pdb"], http=http)
    result = await gql(
        """{ crossLinks(id: "EMPIAR-10028") { nodes { id title experimentType ageSeconds studies { accession }
              maps { id method resolution fittedModels { id url mapOf { id } } } } } }"""
    )
    assert result.statements == 1
    entry = result.data["crossLinks"]["nodes"][0]
    assert entry["id"] == "empiar:EMPIAR-10028" and entry["studies"] == [{"accession": SUBJECT}]
    assert entry["ageSeconds"] is not None and entry["ageSeconds"] >= 0
    (emdb,) = entry["maps"]
    assert (emdb["id"], emdb["method"], emdb["resolution"]) == ("emdb:EMD-2660", "singleParticle", 3.2)
    assert sorted(m["id"] for m in emdb["fittedModels"]) == ["pdb:3j79", "pdb:3j7a"]
    assert all(m["mapOf"] == [{"id": "emdb:EMD-2660"}] for m in emdb["fittedModels"])


async def test_bad_identifiers_are_explained(gql) -> None:
    result = await gql('{ crossLinks(id: "EMD-12") { nodes { id } } }', ok=False)
    assert re.search(r"EMDB", result.errors[0]["message"])
    result = await gql("{ crossLinks { nodes { id } } }", ok=False)
    assert "id" in result.errors[0]["message"] and "resource" in result.errors[0]["message"]
