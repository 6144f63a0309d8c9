"""Apollo Federation subgraph: `_service`, and `_entities` batched into one statement."""

from __future__ import annotations

import pytest

from tests.api import expected

pytestmark = pytest.mark.asyncio

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) { __typename
  ... on Image { id name study { accession } }
  ... on Gene { id symbol }
  ... on Study { accession title }
  ... on OntologyTerm { id label } } }"""


async def test_service_sdl_declares_keys(gql) -> None:
    sdl = (await gql("{ _service { sdl } }")).data["_service"]["sdl"]
    assert "federation/v2.9" in sdl
    for type_name, key in [("Study", "accession"), ("Image", "id"), ("Gene", "id"), ("OntologyTerm", "id"), ("Publication", "id")]:
        assert f'type {type_name} implements Node @key(fields: "{key}")' in sdl


async def test_fifty_representations_cost_one_statement(gql) -> None:
    folder = next(f for f in expected.study_folders() if f.name.startswith("idr0025"))
    rows = expected.rows(folder)[:40]
    images = [{"__typename": "Image", "id": f"idr0025-screenA/{r['Plate']}/{r['Well']}"} for r in rows]
    genes = [{"__typename": "Gene", "id": g} for g in sorted({next(iter(expected.row_genes(r))) for r in rows if expected.row_genes(r)})][:5]
    others = [{"__typename": "Study", "accession": "idr0025"}, {"__typename": "OntologyTerm", "id": "CMPO_0000398"}]
    reps = (images + genes + others)[:50]
    result = await gql(ENTITIES, {"r": reps})
    got = result.data["_entities"]
    assert len(got) == len(reps)
    assert result.statements == 1
    for rep, entity in zip(reps, got):
        assert entity is not None, rep
        assert entity["__typename"] == rep["__typename"]
        if rep["__typename"] == "Image":
            assert entity["id"] == rep["id"] and entity["study"]["accession"] == "idr0025"
        if rep["__typename"] == "Gene":
            assert entity["id"] == rep["id"]
    assert got[-1] == {"__typename": "OntologyTerm", "id": "CMPO:0000398", "label": expected.cmpo()["CMPO:0000398"].name}


async def test_bad_representations_fail_alone_with_a_reason(gql) -> None:
    reps = [{"__typename": "Study", "accession": "idr0004"}, "x", {"__typename": "Nope", "id": "1"},
            {"__typename": "Image"}, {"__typename": "Image", "id": "no-such-image"}]
    result = await gql(ENTITIES, {"r": reps}, ok=False)
    got = result.data["_entities"]
    assert got[0]["accession"] == "idr0004"
    assert got[1] is None and got[2] is None and got[3] is None and got[4] is None
    messages = {tuple(e["path"]): e["message"] for e in result.errors}
    assert "representations[1]" in messages[("_entities", 1)]
    assert "__typename must be one of" in messages[("_entities", 2)]
    assert "`id`" in messages[("_entities", 3)]
    assert ("_entities", 4) not in messages  # unknown key: null, as the federation spec expects
    for message in messages.values():
        assert "Traceback" not in message and "AttributeError" not in message
