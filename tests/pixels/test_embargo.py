"""Pixels of an embargoed study are served only to its owner and curators."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


@pytest.fixture
def embargo_idr0023(pix_settings, driver):
    db = pix_settings.neo4j_database
    records, _, _ = driver.execute_query(
        "MATCH (s:Study {accession: 'idr0023'}) WITH s, s.releaseDate AS old "
        "SET s.releaseDate = date('2999-01-01') RETURN toString(old) AS old", database_=db)
    old = records[0]["old"]
    try:
        yield
    finally:
        driver.execute_query("MATCH (s:Study {accession: 'idr0023'}) SET s.releaseDate = date($old)",
                             old=old, database_=db)


async def test_pixel_routes_hide_embargoed_images(pclient, registered, embargo_idr0023, pix_settings, driver) -> None:
    from bioimage_hub.auth.tokens import create_token, revoke_token

    image_id = next(iter(registered.values()))
    urls = [f"/pixels/{image_id}/thumbnail.png?size=64", f"/pixels/{image_id}/region?x=0&y=0&w=16&h=16&format=npy"]
    for url in urls:
        anonymous = await pclient.get(url)
        assert anonymous.status_code == 404, url
        assert "Traceback" not in anonymous.text
    curator = create_token(driver, pix_settings.neo4j_database, "pixel-curator", "curator")
    try:
        for url in urls:
            seen = await pclient.get(url, headers={"Authorization": f"Bearer {curator.secret}"})
            assert seen.status_code == 200, (url, seen.text)
        bad = await pclient.get(urls[0], headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
    finally:
        revoke_token(driver, pix_settings.neo4j_database, curator.info.id)
    result = await pclient.post("/graphql", json={"query": f'{{ image(id: "{image_id}") {{ pixels {{ url }} }} }}'})
    assert result.json()["data"]["image"] is None
