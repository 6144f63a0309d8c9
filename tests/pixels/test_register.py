"""Registering existing OME-Zarr: 0.4 and 0.5 written by ome-zarr-py validate and summarise;
invalid metadata is a clear error and nothing is registered."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from bioimage_hub.cli import app
from bioimage_hub.config import Settings
from bioimage_hub.pixels.register import inspect
from bioimage_hub.pixels.store import InvalidPixels, PixelsError

from .conftest import NO_PIXELS

runner = CliRunner()


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_py_output_registers(tmp_path, version) -> None:
    from ome_zarr.data import create_zarr
    from ome_zarr.format import FormatV04, FormatV05

    create_zarr(str(tmp_path / "coins.zarr"), fmt=FormatV04() if version == "0.4" else FormatV05())
    summary = inspect(str(tmp_path / "coins.zarr"), Settings())
    assert summary["version"] == version and summary["kind"] == "image"
    assert [a["name"] for a in summary["axes"]] == ["y", "x"]
    assert summary["sizes"] == {"x": 284, "y": 203, "z": 1, "c": 1, "t": 1}
    assert summary["labels"] == ["coins"]
    assert [lv["shape"] for lv in summary["levels"]][:2] == [[203, 284], [101, 142]]
    assert summary["levels"][0]["chunkKey"]["encoding"] == ("v2" if version == "0.4" else "default")
    assert summary["channels"][0]["color"] == "FF0000"


def _broken(tmp_path, attrs: dict) -> str:
    store = zarr.storage.LocalStore(tmp_path / "bad.zarr")
    arr = zarr.create_array(store, name="0", shape=(64, 64), dtype="uint8", chunks=(32, 32))
    arr[:] = 1
    zarr.open_group(store, mode="a", zarr_format=3).attrs.put(attrs)
    return str(tmp_path / "bad.zarr")


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"ome": {"version": "0.5", "multiscales": [{"axes": [{"name": "y"}, {"name": "x"}], "datasets": []}]}},
         "datasets"),
        ({"ome": {"version": "0.5", "multiscales": [{"axes": [{"name": "z", "type": "space"}, {"name": "y", "type": "space"},
         {"name": "x", "type": "space"}], "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 1]}]}]}]}},
         "invalid OME-Zarr 0.5"),
        ({"ome": {"version": "0.3", "multiscales": []}}, "0.3 is not supported"),
        ({"something": "else"}, "without OME-Zarr metadata"),
    ],
)
def test_invalid_metadata_is_a_clear_error(tmp_path, attrs, message) -> None:
    with pytest.raises(InvalidPixels, match=message):
        inspect(_broken(tmp_path, attrs), Settings())


def test_not_a_zarr_and_bad_urls(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidPixels, match="no Zarr group"):
        inspect(str(tmp_path / "empty"), Settings())
    with pytest.raises(PixelsError, match="no such folder"):
        inspect(str(tmp_path / "missing"), Settings())
    with pytest.raises(PixelsError, match="unsupported"):
        inspect("ftp://example.org/x.zarr", Settings())


@pytest.fixture
def cli_settings(loaded, monkeypatch, tmp_path) -> Settings:
    cfg = loaded.model_copy(update={"pixels_root": tmp_path})
    monkeypatch.setattr("bioimage_hub.cli.get_settings", lambda: cfg)
    return cfg


def _pixel_count(driver, db) -> int:
    records, _, _ = driver.execute_query("MATCH (p:PixelRepresentation) RETURN count(p) AS n", database_=db)
    return records[0]["n"]


def test_cli_register_invalid_registers_nothing(cli_settings, driver, tmp_path) -> None:
    before = _pixel_count(driver, cli_settings.neo4j_database)
    bad = _broken(tmp_path, {"ome": {"version": "0.5", "multiscales": [{"axes": [], "datasets": []}]}})
    result = runner.invoke(app, ["pixels", "register", NO_PIXELS, bad])
    assert result.exit_code == 2, result.output
    assert "invalid OME-Zarr 0.5" in result.output and "nothing was registered" in result.output
    assert _pixel_count(driver, cli_settings.neo4j_database) == before


def test_cli_convert_register_unregister(cli_settings, driver, samples, tmp_path) -> None:
    db = cli_settings.neo4j_database
    dest = tmp_path / "cli.ome.zarr"
    result = runner.invoke(
        app, ["pixels", "convert", str(samples["timelapse"]), "--axes", "tyx", "--image", NO_PIXELS,
              "--to", str(dest), "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["registered"] and data["image"] == NO_PIXELS and data["version"] == "0.5"
    assert [lv["shape"] for lv in data["levels"]] == [[30, 1, 1, 511, 511], [30, 1, 1, 256, 256]]
    records, _, _ = driver.execute_query(
        "MATCH (:Image {id: $id})-[:HAS_PIXELS]->(p:PixelRepresentation) RETURN p.url AS url, p.sizeT AS t",
        id=NO_PIXELS, database_=db,
    )
    assert records[0]["url"] == dest.as_uri() and records[0]["t"] == 30
    # the same again without --overwrite: refused, exit 2
    again = runner.invoke(app, ["pixels", "convert", str(samples["timelapse"]), "--axes", "tyx", "--to", str(dest)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    # registering an existing OME-Zarr replaces the representation (one per image)
    reg = runner.invoke(app, ["pixels", "register", NO_PIXELS, str(dest), "--json"])
    assert reg.exit_code == 0, reg.output
    records, _, _ = driver.execute_query(
        "MATCH (:Image {id: $id})-[:HAS_PIXELS]->(p) RETURN count(p) AS n", id=NO_PIXELS, database_=db
    )
    assert records[0]["n"] == 1
    gone = runner.invoke(app, ["pixels", "unregister", NO_PIXELS, "--json"])
    assert gone.exit_code == 0 and json.loads(gone.stdout)["removed"] == 1


def test_cli_convert_unknown_image_fails_before_writing(cli_settings, samples, tmp_path) -> None:
    dest = tmp_path / "never.zarr"
    result = runner.invoke(app, ["pixels", "convert", str(samples["nuclei"]), "--image", "no/such/image", "--to", str(dest)])
    assert result.exit_code == 2 and "no image with id" in result.output
    assert not dest.exists()


def test_summary_round_trips_through_the_graph(tmp_path) -> None:
    from bioimage_hub.pixels.graph import node_properties, representation

    from ome_zarr.data import create_zarr

    create_zarr(str(tmp_path / "c.zarr"))
    summary = inspect(str(tmp_path / "c.zarr"), Settings())
    rep = representation(node_properties("img", summary))
    assert rep["levels"] == summary["levels"] and rep["channels"] == summary["channels"]
    assert rep["sizes"] == summary["sizes"]
    assert np.prod(rep["levels"][0]["shape"]) == 203 * 284
