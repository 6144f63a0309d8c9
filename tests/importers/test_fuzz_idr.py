"""Broken copies of the real IDR study folders (../shared/data/idr, copied to tmp_path and mutated
there; the originals are never touched).

Each mutation either fails with an `IdrFormatError` naming the file, the line and the problem
(the CLI exits 2 without a traceback and the graph does not change), or, where a real importer
should cope (UTF-8 BOM, CRLF, Latin-1, UTF-16 with BOM, duplicate wells), imports with the counts
the csv module reads from the mutated file.
"""

from __future__ import annotations

import csv
import io
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bioimage_hub.cli import app
from bioimage_hub.config import PROJECT_ROOT
from bioimage_hub.graph.writer import label_counts
from bioimage_hub.importers.idr.errors import IdrFormatError
from bioimage_hub.importers.idr.reader import read_study
from tests.conftest import counts

DATA = PROJECT_ROOT.parent / "shared" / "data" / "idr"
SCREEN = "idr0025-stadler-proteinatlas"  # one screen, 288 wells, quoted cells
EXPERIMENTS = "idr0038-held-kidneylightsheet"  # three experiments, non-ASCII study file
pytestmark = pytest.mark.skipif(not (DATA / SCREEN).is_dir(), reason=f"IDR data not found at {DATA}")
FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
_WELL = re.compile(r"^([A-Za-z]+)\s*0*(\d+)$")


def copy_study(name: str, dest: Path) -> Path:
    """A writable copy of a real study folder under DEST."""
    folder = dest / name
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(DATA / name, folder, copy_function=shutil.copyfile)
    return folder


def annotation(folder: Path, sub: str) -> Path:
    return next((folder / sub).glob("*-annotation.csv"))


def study_txt(folder: Path) -> Path:
    return next(folder.glob("idr*-study.txt"))


# --------------------------------------------------------------------------- independent truth


def csv_images(path: Path, encoding: str = "utf-8-sig") -> set[tuple[str, ...]]:
    """Distinct images of an annotation file read with the csv module: (plate, ROW, col) or names."""
    with path.open(encoding=encoding, newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys: set[tuple[str, ...]] = set()
    for row in rows:
        row = {k.strip().lstrip("\ufeff"): (v or "").strip() for k, v in row.items() if k}
        if "Plate" in row:
            if not row["Plate"] or not (row.get("Well") or row.get("Well Number")):
                continue
            match = _WELL.match(row.get("Well") or "")
            well = f"{match[1].upper()}{int(match[2])}" if match else row.get("Well Number", "")
            keys.add((row["Plate"], well))
        elif row.get("Dataset Name") and row.get("Image Name"):
            keys.add((row["Dataset Name"], row["Image Name"]))
    return keys


def line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_error(folder: Path) -> IdrFormatError:
    with pytest.raises(IdrFormatError) as err:
        read_study(folder)
    return err.value


def dataset_images(folder: Path, sub: str) -> int:
    parsed = read_study(folder)
    return len(parsed.images[f"{parsed.study.accession}-{sub}"])


# --------------------------------------------------------------------------- hand-picked breakage


def test_truncated_mid_row(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    data = path.read_bytes()
    cut = data.index(b",", data.index(b"\n", len(data) // 2) + 1) + 1  # just after the first cell
    path.write_bytes(data[:cut])
    err = read_error(folder)
    assert err.path == path and err.line == line_of(data, cut)
    assert f"{path.name}:{err.line}" in str(err) and "ends mid-row" in err.message and "truncated" in err.message


def test_truncated_mid_quote(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    data = path.read_bytes()
    quote = data.index(b',"', len(data) // 2) + 2  # inside a quoted cell
    path.write_bytes(data[: quote + 3])
    err = read_error(folder)
    assert err.path == path and err.line == line_of(data, quote)
    assert "inside a quoted value" in err.message


def test_truncated_header(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    path.write_bytes(b'Plate,Well,"Phenotype 1')
    err = read_error(folder)
    assert (err.path, err.line) == (path, 1) and "quoted value" in err.message


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig"])
def test_re_encoded_annotation_files_are_read(tmp_path: Path, encoding: str) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    assert dataset_images(folder, "screenA") == len(csv_images(path, encoding))
    assert dataset_images(folder, "screenA") == 288


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_re_encoded_study_files_keep_their_accents(tmp_path: Path, encoding: str) -> None:
    folder = copy_study(EXPERIMENTS, tmp_path)
    original = read_study(DATA / EXPERIMENTS)
    path = study_txt(folder)
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    parsed = read_study(folder)
    assert parsed.study == original.study
    assert [p.authors for p in parsed.publications] == [p.authors for p in original.publications]
    assert any("\u00e9" in a for p in parsed.publications for a in p.authors)  # Lévy


def test_crlf_and_bom_are_tolerated(tmp_path: Path) -> None:
    folder = copy_study(EXPERIMENTS, tmp_path)
    for path in [*folder.glob("*/*-annotation.csv"), study_txt(folder)]:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    parsed = read_study(folder)
    for sub in ("experimentA", "experimentB", "experimentC"):
        assert {(i.dataset_name, i.name) for i in parsed.images[f"idr0038-{sub}"]} == csv_images(annotation(folder, sub))
    assert parsed.study.title == read_study(DATA / EXPERIMENTS).study.title


def test_utf16_without_bom_and_binary_garbage_are_refused(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("utf-16-le"))
    err = read_error(folder)
    assert (err.path, err.line) == (path, 1) and "UTF-16" in err.message and "column 2" in err.message

    junk = random.Random(7).randbytes(4096)
    path.write_bytes(text.encode()[:3000] + junk)
    err = read_error(folder)
    first = min(i for i, b in enumerate(junk) if b < 9 or 14 <= b < 32)
    assert err.path == path and err.line == line_of(text.encode()[:3000] + junk, 3000 + first)
    assert re.search(r"control character U\+00[01][0-9A-F] at column \d+", err.message)

    study = study_txt(folder)
    study.write_bytes(junk)
    err = read_error(folder)
    assert err.path == study and "control character" in err.message


@pytest.mark.parametrize("column", ["Plate", "Well"])
def test_a_required_column_removed_or_renamed(tmp_path: Path, column: str) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    at = rows[0].index(column)
    for mutate in ("remove", "rename"):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for i, row in enumerate(rows):
            if mutate == "remove":
                writer.writerow(row[:at] + row[at + 1 :])
            else:
                writer.writerow(row[:at] + [column + " Nr" if i == 0 else row[at]] + row[at + 1 :])
        path.write_text(out.getvalue(), encoding="utf-8")
        if column == "Plate":
            err = read_error(folder)
            assert (err.path, err.line, err.column) == (path, 1, "header") and "Plate" in err.message
        else:  # IDR files also carry `Well Number`: the wells are identified by it instead
            assert dataset_images(folder, "screenA") == len(csv_images(path)) == 288


def test_experiment_without_dataset_name(tmp_path: Path) -> None:
    folder = copy_study(EXPERIMENTS, tmp_path)
    path = annotation(folder, "experimentB")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Dataset Name", "Dataset", 1), encoding="utf-8")
    err = read_error(folder)
    assert (err.path, err.line) == (path, 1) and "Dataset Name" in err.message


def test_duplicate_wells_are_merged_and_reported(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    first = next(csv.reader([rows[0]]))
    padded = list(first)
    padded[1] = f"{first[1][0].lower()}0{first[1][1:]}"  # A1 written as a01: the same well
    extra = [rows[5], rows[5], ",".join(f'"{c}"' for c in padded) + "\n"]
    path.write_text(header + "".join(rows) + "".join(extra), encoding="utf-8")
    parsed = read_study(folder)
    images = parsed.images["idr0025-screenA"]
    assert {(i.plate, i.well) for i in images} == csv_images(path)
    assert len(images) == 288
    total = len(lines) + len(extra)
    duplicates = [w for w in parsed.warnings if "duplicate image" in w]
    assert [int(re.search(r":(\d+):", w)[1]) for w in duplicates] == [total - 2, total - 1, total]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_an_empty_annotation_file(tmp_path: Path, content: bytes) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    path.write_bytes(content)
    err = read_error(folder)
    assert err.path == path and "empty annotation file" in err.message


def test_a_header_only_annotation_file_gives_a_dataset_without_images(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert dataset_images(folder, "screenA") == len(csv_images(path)) == 0


def _study_lines(folder: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    path = study_txt(folder)
    path.write_text("\n".join(edit(path.read_text(encoding="utf-8").splitlines())) + "\n", encoding="utf-8")
    return path


def test_study_file_without_or_with_an_empty_title(tmp_path: Path) -> None:
    folder = copy_study(EXPERIMENTS, tmp_path)
    path = _study_lines(folder, lambda lines: [ln for ln in lines if not ln.startswith("Study Title")])
    err = read_error(folder)
    assert (err.path, err.column) == (path, "Study Title") and "missing" in err.message

    folder = copy_study(EXPERIMENTS, tmp_path / "empty")
    lines = study_txt(folder).read_text(encoding="utf-8").splitlines()
    number = next(i for i, ln in enumerate(lines, 1) if ln.startswith("Study Title"))
    path = _study_lines(folder, lambda ls: [("Study Title\t\t\t" if ln.startswith("Study Title") else ln) for ln in ls])
    err = read_error(folder)
    assert (err.path, err.line, err.column) == (path, number, "Study Title")


def test_study_file_with_an_unclosed_quote(tmp_path: Path) -> None:
    folder = copy_study(EXPERIMENTS, tmp_path)
    lines = study_txt(folder).read_text(encoding="utf-8").splitlines()
    number = next(i for i, ln in enumerate(lines, 1) if ln.startswith("Study Type\t"))
    path = _study_lines(folder, lambda ls: [ln.replace("Study Type\t", 'Study Type\t"', 1) for ln in ls])
    err = read_error(folder)
    assert (err.path, err.line, err.column) == (path, number, "Study Type") and "quoted" in err.message


def test_study_file_with_a_duplicated_component_name(tmp_path: Path) -> None:
    folder = copy_study(EXPERIMENTS, tmp_path)
    path = _study_lines(folder, lambda ls: [ln.replace("idr0038-held-kidneylightsheet/experimentB",
                                                       "idr0038-held-kidneylightsheet/experimentA") for ln in ls])
    err = read_error(folder)
    assert err.path == path and "declared twice" in err.message and err.line is not None


def test_study_file_not_tab_separated_or_empty(tmp_path: Path) -> None:
    folder = copy_study(EXPERIMENTS, tmp_path)
    path = study_txt(folder)
    for content in (b"", path.read_bytes().replace(b"\t", b",")):
        path.write_bytes(content)
        err = read_error(folder)
        assert (err.path, err.line) == (path, 1) and "tab-separated" in err.message


@pytest.mark.parametrize("content,phrase", [
    (b"columns: [\n  - name: x\n", "invalid YAML"),
    (b"- a\n- b\n", "must be a YAML mapping"),
    (b"columns:\n  - group: [1, 2]\n", "'group' must be a mapping"),
    (b"columns:\n  - group:\n      columns: 5\n", "must be a list"),
    (b"columns:\n  - name: x\n    split: 2020-02-30\n", "invalid YAML value"),
    (b"columns: " + b"[" * 5000 + b"]" * 5000 + b"\n", "YAML"),
])
def test_malformed_bulkmap(tmp_path: Path, content: bytes, phrase: str) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = next((folder / "screenA").glob("*bulkmap-config.yml"))
    path.write_bytes(content)
    err = read_error(folder)
    assert err.path == path and phrase in str(err)


def test_broken_gzip_annotation(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(b"\x1f\x8b\x08\x00" + path.read_bytes()[:500])
    path.unlink()
    err = read_error(folder)
    assert err.path == gz and "gzip" in err.message


def test_absurd_well_labels_are_kept_without_coordinates(tmp_path: Path) -> None:
    folder = copy_study(SCREEN, tmp_path)
    path = annotation(folder, "screenA")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    rows[1][1] = "A" + "9" * 30  # would not fit a 64-bit integer
    rows[2][1] = "ZZZZZZZZZZZZZZ1"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    images = {i.well: i for i in read_study(folder).images["idr0025-screenA"]}
    assert images[rows[1][1]].well_row is None and images[rows[2][1]].well_column is None


# --------------------------------------------------------------------------- hypothesis


@pytest.fixture(scope="module")
def screen_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_study(SCREEN, tmp_path_factory.mktemp("fuzz-screen"))


def test_hypothesis_truncation_anywhere(screen_copy: Path) -> None:
    """Cut at any byte: a truncation error naming the last line, or (cut on a row boundary or in
    the last cell) the rows the csv module reads from the cut file."""
    original = (DATA / SCREEN / "screenA" / "idr0025-screenA-annotation.csv").read_bytes()
    path = annotation(screen_copy, "screenA")
    header_end = original.index(b"\n") + 1

    @FUZZ
    @given(cut=st.integers(header_end, len(original) - 1))
    def run(cut: int) -> None:
        data = original[:cut]
        path.write_bytes(data)
        try:
            parsed = read_study(screen_copy)
        except IdrFormatError as err:
            assert err.path == path and "truncated" in err.message, str(err)
            assert err.line == line_of(data, len(data) - 1), (err.line, cut)
            return
        last = data.rsplit(b"\n", 1)[-1]
        header_cells = len(next(csv.reader([original[:header_end].decode()])))
        assert data.endswith(b"\n") or len(next(csv.reader([last.decode()]))) == header_cells
        assert {(i.plate, i.well) for i in parsed.images["idr0025-screenA"]} == csv_images(path)

    run()


@st.composite
def mangled(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(out)))
        junk = draw(st.sampled_from([b'"', b",", b"\n", b"\r", b"\t", b"\x00", b"\xff", b"\xfe\xff", b"#",
                                     b"[", b"]", b"Plate", b"Dataset Name", b"\xef\xbb\xbf", b'""', b"\x1a"]))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert":
            out[at:at] = junk
        elif action == "delete":
            del out[at:at + draw(st.integers(1, 200))]
        else:
            out[at:at + len(junk)] = junk
    return bytes(out)


EXP_B = (DATA / EXPERIMENTS / "experimentB" / "idr0038-experimentB-annotation.csv")
STUDY = (DATA / EXPERIMENTS / "idr0038-study.txt")
BULKMAP = (DATA / EXPERIMENTS / "experimentB" / "idr0038-experimentB-bulkmap-config.yml")


@pytest.fixture(scope="module")
def experiment_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_study(EXPERIMENTS, tmp_path_factory.mktemp("fuzz-experiments"))


@pytest.mark.parametrize("original", [EXP_B, STUDY, BULKMAP], ids=["annotation", "study", "bulkmap"])
def test_hypothesis_mangled_files_fail_cleanly_or_import(experiment_copy: Path, original: Path) -> None:
    """Random bytes inserted, deleted or replaced: only IdrFormatError (naming a file of the
    folder, with a line when it is about a row), never another exception."""
    target = experiment_copy / original.relative_to(DATA / EXPERIMENTS)
    data = original.read_bytes()

    @FUZZ
    @given(mutated=mangled(data))
    def run(mutated: bytes) -> None:
        target.write_bytes(mutated)
        try:
            parsed = read_study(experiment_copy)
        except IdrFormatError as err:
            assert err.path.is_relative_to(experiment_copy), err.path
            assert str(err).startswith(str(err.path)) and err.message
            return
        if target == experiment_copy / EXP_B.relative_to(DATA / EXPERIMENTS):
            assert len(parsed.images.get("idr0038-experimentB", [])) <= data.count(b"\n") + mutated.count(b"\n")

    try:
        run()
    finally:
        target.write_bytes(data)


# --------------------------------------------------------------------------- CLI + graph


@pytest.fixture(scope="module")
def cli(loaded) -> CliRunner:
    mp = pytest.MonkeyPatch()
    mp.setattr("bioimage_hub.cli.get_settings", lambda: loaded)
    yield CliRunner()
    mp.undo()


def _study_state(driver, db: str, accession: str) -> tuple:  # noqa: ANN001
    title = driver.execute_query("MATCH (s:Study {accession: $a}) RETURN s.title AS t", a=accession,
                                 database_=db).records[0]["t"]
    return title, dict(label_counts(driver, db, accession))


BREAKAGES: dict[str, Callable[[Path], Path]] = {
    "truncated csv": lambda f: _write(annotation(f, "experimentA"), annotation(f, "experimentA").read_bytes()[:30_001]),
    "utf-16 without bom": lambda f: _write(annotation(f, "experimentC"), annotation(f, "experimentC").read_text("utf-8").encode("utf-16-le")),
    "no title": lambda f: _study_lines(f, lambda ls: [ln for ln in ls if not ln.startswith("Study Title")]),
    "garbage bulkmap": lambda f: _write(next((f / "experimentB").glob("*.yml")), random.Random(3).randbytes(64) + b"\x00"),
    "markup in a cell": lambda f: _append_long_row(annotation(f, "experimentB"), "[/bold]"),
}


def _append_long_row(path: Path, value: str) -> Path:
    """A row one cell longer than the header, the extra cell holding VALUE (named in the error)."""
    width = len(next(csv.reader([path.read_text(encoding="utf-8").splitlines()[0]])))
    return _write(path, path.read_bytes() + ("\n" + ",".join(["x"] * width + [value]) + "\n").encode())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_cli_refuses_a_broken_reimport_and_keeps_the_imported_study(cli, loaded, driver, tmp_path, name) -> None:
    db = loaded.neo4j_database
    folder = copy_study(EXPERIMENTS, tmp_path)
    broken = BREAKAGES[name](folder)
    before, study_before = counts(driver, db), _study_state(driver, db, "idr0038")
    result = cli.invoke(app, ["import", "idr", str(folder)])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert "invalid input:" in result.stderr and broken.name in result.stderr, result.stderr
    assert counts(driver, db) == before
    assert _study_state(driver, db, "idr0038") == study_before


def test_cli_imports_a_tolerable_copy_with_the_same_result(cli, loaded, driver, tmp_path) -> None:
    """CRLF + BOM + Latin-1 study file: the re-import is accepted and changes nothing."""
    db = loaded.neo4j_database
    folder = copy_study(EXPERIMENTS, tmp_path)
    study = study_txt(folder)
    study.write_bytes(study.read_text(encoding="utf-8").encode("latin-1"))
    for path in folder.glob("*/*-annotation.csv"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    before, study_before = counts(driver, db), _study_state(driver, db, "idr0038")
    result = cli.invoke(app, ["import", "idr", str(folder), "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    images = sum(len(csv_images(p)) for p in folder.glob("*/*-annotation.csv"))
    assert __import__("json").loads(result.stdout)["studies"][0]["parsed"]["images"] == images
    assert counts(driver, db) == before and _study_state(driver, db, "idr0038") == study_before
