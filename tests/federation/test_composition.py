"""Our subgraph SDL (from the running hub's `_service { sdl }`) composes with the example atlas
subgraph under @theguild/federation-composition; a conflicting subgraph is rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import ObjectTypeDefinitionNode, parse, print_ast

from bioimage_hub.api.federation import ENTITY_KEYS
from tests.federation.conftest import Atlas, Hub, run_node

CORE_KEYS = {"Study": "accession", "Image": "id", "Gene": "id", "OntologyTerm": "id", "Publication": "id"}


@pytest.fixture(scope="module")
def hub_sdl(node_modules: Path, hub: Hub) -> str:
    return hub.data("{ _service { sdl } }")["_service"]["sdl"]


def compose(tmp_path: Path, **sdls: str) -> dict:
    """compose.mjs over the given subgraphs (name=SDL): {errors, supergraphSdl}."""
    files = []
    for name, sdl in sdls.items():
        path = tmp_path / f"{name}.graphql"
        path.write_text(sdl, encoding="utf-8")
        files.append(f"{name}={path}")
    return json.loads(run_node("compose.mjs", *files, ok_codes=(0, 1)))


def object_types(sdl: str) -> dict[str, ObjectTypeDefinitionNode]:
    return {d.name.value: d for d in parse(sdl).definitions if isinstance(d, ObjectTypeDefinitionNode)}


def test_hub_and_atlas_compose(hub_sdl: str, atlas: Atlas, tmp_path: Path) -> None:
    result = compose(tmp_path, hub=hub_sdl, atlas=atlas.sdl)
    assert result["errors"] == [], result["errors"]
    types = object_types(result["supergraphSdl"])

    def field(type_name: str, name: str) -> str:
        found = [f for f in types[type_name].fields if f.name.value == name]
        assert found, f"{type_name}.{name} is not in the supergraph"
        return print_ast(found[0]).splitlines()[-1]  # without its description

    assert field("Image", "atlasRegion") == 'atlasRegion: String @join__field(graph: ATLAS)'
    assert field("Gene", "expressionLevel") == 'expressionLevel: Float @join__field(graph: ATLAS)'
    assert field("Query", "imagesInRegion") == 'imagesInRegion(region: String!): [Image!]! @join__field(graph: ATLAS)'
    # our fields stay ours, and every @key type is an entity of the hub subgraph
    assert field("Image", "study").endswith("@join__field(graph: HUB)")
    assert CORE_KEYS.items() <= ENTITY_KEYS.items()
    for type_name, key in ENTITY_KEYS.items():
        joins = [print_ast(d) for d in types[type_name].directives if d.name.value == "join__type"]
        assert f'@join__type(graph: HUB, key: "{key}")' in joins, joins
    for type_name in ("Image", "Gene"):
        joins = [print_ast(d) for d in types[type_name].directives if d.name.value == "join__type"]
        assert '@join__type(graph: ATLAS, key: "id")' in joins, joins


def test_hub_sdl_is_federation_2_9(hub_sdl: str) -> None:
    assert 'schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])' in hub_sdl


def test_conflicting_subgraph_is_rejected(hub_sdl: str, tmp_path: Path) -> None:
    """Composition really checks: an atlas redefining Image.name with another type fails."""
    bad = """extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@shareable"])
type Image @key(fields: "id") { id: ID! name: Int @shareable }
type Query { anImage: Image }
"""
    result = compose(tmp_path, hub=hub_sdl, bad=bad)
    assert result["supergraphSdl"] is None
    assert any("Image.name" in e["message"] for e in result["errors"]), result["errors"]
