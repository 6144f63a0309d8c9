"""The command line follows the usual conventions: --help, exit codes, --json."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bioimage_hub.cli import app

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("neo4j", "migrate", "import", "ontology", "serve", "export-schema", "demo"):
        assert command in result.output


def test_missing_import_path_is_a_usage_error(tmp_path) -> None:
    result = runner.invoke(app, ["import", "idr", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_folder_without_studies_is_a_usage_error(tmp_path) -> None:
    result = runner.invoke(app, ["import", "idr", str(tmp_path)])
    assert result.exit_code == 2
    assert "no IDR study folder" in result.output


def test_broken_study_names_the_file(tmp_path) -> None:
    folder = tmp_path / "idr9998-broken"
    folder.mkdir()
    (folder / "idr9998-study.txt").write_text("this is not a study file\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "idr", str(folder)])
    assert result.exit_code == 2
    assert "idr9998-study.txt" in result.output


def test_garbage_ontology_file_is_bad_input(tmp_path) -> None:
    bad = tmp_path / "bad.obo"
    bad.write_bytes(b"\x00\x01 not an ontology")
    result = runner.invoke(app, ["ontology", "load", str(bad)])
    assert result.exit_code == 2
    assert "bad.obo" in result.output


def test_schema_check_passes_on_the_committed_schema() -> None:
    result = runner.invoke(app, ["export-schema", "--check"])
    assert result.exit_code == 0, result.output


def test_migrate_json_against_the_test_neo4j(loaded, monkeypatch) -> None:
    from bioimage_hub import config

    monkeypatch.setattr(config, "get_settings", lambda: loaded)
    monkeypatch.setattr("bioimage_hub.cli.get_settings", lambda: loaded)
    result = runner.invoke(app, ["migrate", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["applied"] == [] and data["schemaVersion"] >= 4


def test_import_json_reports_counts(loaded, monkeypatch) -> None:
    from tests.api import expected

    monkeypatch.setattr("bioimage_hub.cli.get_settings", lambda: loaded)
    folder = next(f for f in expected.study_folders() if f.name.startswith("idr0026"))
    result = runner.invoke(app, ["import", "idr", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    study = json.loads(result.stdout)["studies"][0]
    assert study["accession"] == "idr0026"
    assert study["graph"]["Image"] == len(expected.rows(folder))
