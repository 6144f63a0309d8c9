"""The graph side of pixels: `(:Image)-[:HAS_PIXELS]->(:PixelRepresentation)`.

All Cypher about pixel representations lives here. A representation is written in ONE statement
(one transaction), only after its OME-Zarr was fully written and validated, so the graph never
points at a half-written store. One representation per image (keyed by the image id);
registering again replaces it.
"""

from __future__ import annotations

import json
from typing import Any

import neo4j

from bioimage_hub.pixels.store import PixelsError

WRITE_PIXELS = """
MATCH (i:Image {id: $image_id})
MERGE (p:PixelRepresentation {id: $image_id})
SET p = $props, p.registeredAt = datetime()
MERGE (i)-[:HAS_PIXELS]->(p)
RETURN p.id AS id, toString(p.registeredAt) AS registeredAt
"""

DELETE_PIXELS = """
MATCH (p:PixelRepresentation {id: $image_id})
DETACH DELETE p
RETURN count(*) AS deleted
"""

# The HTTP routes' lookup: does the image exist, and its representation (one statement).
READ_PIXELS = """
MATCH (i:Image {id: $image_id})
RETURN i.id AS id, head(COLLECT { MATCH (i)-[:HAS_PIXELS]->(p:PixelRepresentation) RETURN p {.*} }) AS pixels
"""


def node_properties(image_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A summary (register.inspect) as node properties: scalars, lists, and JSON strings."""
    sizes = summary.get("sizes") or {}
    return {
        "id": image_id,
        "imageId": image_id,
        "url": summary["url"],
        "format": summary.get("format", "ome-zarr"),
        "version": summary.get("version"),
        "kind": summary.get("kind"),
        "name": summary.get("name"),
        "dtype": summary.get("dtype"),
        "sizeX": sizes.get("x"),
        "sizeY": sizes.get("y"),
        "sizeZ": sizes.get("z"),
        "sizeC": sizes.get("c"),
        "sizeT": sizes.get("t"),
        "levelCount": len(summary.get("levels") or []),
        "labels": list(summary.get("labels") or []),
        "container": summary.get("container"),
        "axes": json.dumps(summary.get("axes") or []),
        "levels": json.dumps(summary.get("levels") or []),
        "channels": json.dumps(summary.get("channels") or []),
        "plate": json.dumps(summary["plate"]) if summary.get("plate") else None,
    }


def write_pixels(driver: neo4j.Driver, database: str, image_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Attach a validated summary to an image (one transaction). Raises PixelsError if no such image."""
    props = {k: v for k, v in node_properties(image_id, summary).items() if v is not None}
    records, _, _ = driver.execute_query(
        WRITE_PIXELS, image_id=image_id, props=props, database_=database, routing_=neo4j.RoutingControl.WRITE
    )
    if not records:
        raise PixelsError(f"no image with id {image_id!r} in the graph (import its study first)")
    return {"id": records[0]["id"], "registeredAt": records[0]["registeredAt"]}


def delete_pixels(driver: neo4j.Driver, database: str, image_id: str) -> int:
    records, _, _ = driver.execute_query(DELETE_PIXELS, image_id=image_id, database_=database)
    return int(records[0]["deleted"]) if records else 0


def image_exists(driver: neo4j.Driver, database: str, image_id: str) -> bool:
    records, _, _ = driver.execute_query(
        "MATCH (i:Image {id: $image_id}) RETURN count(i) AS n", image_id=image_id, database_=database,
        routing_=neo4j.RoutingControl.READ,
    )
    return bool(records and records[0]["n"])


def representation(props: dict[str, Any] | None) -> dict[str, Any] | None:
    """Node properties (as read) -> the summary shape, JSON fields decoded."""
    if not props:
        return None
    out = dict(props)
    for key in ("axes", "levels", "channels", "plate"):
        value = out.get(key)
        out[key] = json.loads(value) if isinstance(value, str) else value
    out["axes"] = out.get("axes") or []
    out["levels"] = out.get("levels") or []
    out["channels"] = out.get("channels") or []
    out["labels"] = list(out.get("labels") or [])
    out["sizes"] = {k: out.get(f"size{k.upper()}") or 1 for k in ("x", "y", "z", "c", "t")}
    if "registeredAt" in out and out["registeredAt"] is not None:
        out["registeredAt"] = str(out["registeredAt"])
    return out
