"""A real Apollo gateway (Node, @apollo/gateway + @apollo/server) over the running hub and the
example atlas subgraph: queries that cross both return the hub's data joined with the atlas's,
and the gateway's `_entities` call for N images costs the hub ONE Cypher statement."""

from __future__ import annotations

from collections import Counter

from tests.federation.conftest import UNKNOWN_IMAGE, Atlas, Hub, atlas_region, expression_level, post_graphql, recorded

IMAGE = "idr0004-screenA/P101/A2"


def with_levels(genes: list[dict]) -> list[dict]:
    return [{**g, "expressionLevel": expression_level(g["id"])} for g in genes]


def test_hub_root_field_joined_with_atlas_fields(hub: Hub, gateway: str) -> None:
    got = post_graphql(
        gateway, "query($id: ID!) { image(id: $id) { id name atlasRegion genes { id symbol expressionLevel } } }", {"id": IMAGE}
    )["image"]
    direct = hub.data("query($id: ID!) { image(id: $id) { id name genes { id symbol } } }", {"id": IMAGE})["image"]
    assert direct["genes"], "the README's example image targets a gene"
    assert got == {**direct, "atlasRegion": atlas_region(IMAGE), "genes": with_levels(direct["genes"])}


def test_atlas_root_field_resolved_through_hub_entities_in_one_statement(hub: Hub, atlas: Atlas, gateway: str) -> None:
    regions = Counter(atlas_region(i) for i in atlas.image_ids)
    del regions[atlas_region(UNKNOWN_IMAGE)]  # that region is the next test's
    region, count = regions.most_common(1)[0]
    expected_ids = [i for i in atlas.image_ids if atlas_region(i) == region]
    assert count >= 3 and len({i.split("-")[0] for i in expected_ids}) >= 2, "want several images of several studies"

    with recorded(hub) as calls:
        got = post_graphql(
            gateway,
            """query($r: String!) { imagesInRegion(region: $r) {
                 id atlasRegion name study { accession } genes { id symbol expressionLevel } } }""",
            {"r": region},
        )["imagesInRegion"]

    assert [g["id"] for g in got] == expected_ids
    assert {g["atlasRegion"] for g in got} == {region}
    # The gateway asked the hub once, for all N images, and that cost one Cypher statement.
    entity_calls = [c for c in calls if "_entities" in str(c.body)]
    assert len(calls) == len(entity_calls) == 1, [c.body for c in calls]
    call = entity_calls[0]
    representations = next(iter(call.body["variables"].values()))
    assert representations == [{"__typename": "Image", "id": i} for i in expected_ids]
    assert call.status == 200 and call.statements == 1

    # The hub fields equal what the hub itself answers for the same representations (one statement).
    response = hub.post(
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Image { id name study { accession } genes { id symbol } } } }",
        {"r": representations},
    )
    assert response.headers["x-cypher-statements"] == "1"
    direct = response.json()["data"]["_entities"]
    assert got == [
        {**d, "atlasRegion": region, "genes": with_levels(d["genes"])} for d in direct
    ]


def test_image_the_hub_does_not_return_keeps_only_atlas_fields(hub: Hub, atlas: Atlas, gateway: str) -> None:
    """Unknown or embargoed: the hub's `_entities` gives null, so the hub's fields are null."""
    region = atlas_region(UNKNOWN_IMAGE)
    got = post_graphql(gateway, "query($r: String!) { imagesInRegion(region: $r) { id atlasRegion name study { accession } } }",
                       {"r": region})["imagesInRegion"]
    assert [g["id"] for g in got] == [i for i in atlas.image_ids if atlas_region(i) == region]
    for image in got:
        if image["id"] == UNKNOWN_IMAGE:
            assert image == {"id": UNKNOWN_IMAGE, "atlasRegion": region, "name": None, "study": None}
        else:
            assert image["name"] and image["study"]["accession"] == image["id"].split("-")[0]


def test_gene_from_hub_with_atlas_level_and_its_images_regions(hub: Hub, gateway: str) -> None:
    query = "{ genes(symbol: \"rad52\") { nodes { id symbol %s images(first: 5) { nodes { id %s } } } } }"
    got = post_graphql(gateway, query % ("expressionLevel", "atlasRegion"))["genes"]["nodes"]
    direct = hub.data(query % ("", ""))["genes"]["nodes"]
    assert [g["id"] for g in direct] == ["YML032C"]
    assert got == [
        {**g, "expressionLevel": expression_level(g["id"]),
         "images": {"nodes": [{**i, "atlasRegion": atlas_region(i["id"])} for i in g["images"]["nodes"]]}}
        for g in direct
    ]


def test_atlas_only_field_needs_no_hub_call(hub: Hub, gateway: str) -> None:
    with recorded(hub) as calls:
        got = post_graphql(gateway, "{ atlasRegions }")
    assert got["atlasRegions"] and calls == []
