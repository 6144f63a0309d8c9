"""`read_study` on the 8 real IDR studies in ../shared/data/idr, plus synthetic edge cases.

Expected answers are computed here straight from the files with the csv module (and a few
regexes), never through the reader under test.
"""

from __future__ import annotations

import csv
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest

from bioimage_hub.config import PROJECT_ROOT
from bioimage_hub.importers.idr.reader import IdrFormatError, find_study_folders, read_study
from bioimage_hub.models.idr import ParsedStudy

DATA = PROJECT_ROOT.parent / "shared" / "data" / "idr"
STUDIES = sorted(p.name for p in DATA.iterdir() if p.is_dir()) if DATA.is_dir() else []

needs_data = pytest.mark.skipif(not STUDIES, reason=f"IDR data not found at {DATA}")

_WELL = re.compile(r"^([A-Za-z]+)0*(\d+)$")
_BARE_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


# --------------------------------------------------------------------------- independent truth


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _row_key(row: dict[str, str]) -> tuple:
    """Identity of the image a row describes: (plate, row letters, column number) or names."""
    if "Plate" in row:
        letters, number = _WELL.match(row["Well"].strip()).groups()
        return (row["Plate"].strip(), letters.upper(), int(number))
    return (row["Dataset Name"].strip(), row["Image Name"].strip())


def _image_key(image) -> tuple:
    if image.plate is not None:
        letters, number = _WELL.match(image.well).groups()
        return (image.plate, letters.upper(), int(number))
    return (image.dataset_name, image.name)


def _curie(accession: str) -> str:
    return accession.strip().replace("_", ":", 1)


class Expected:
    """What one real study folder says, read with csv only."""

    def __init__(self, folder: Path) -> None:
        self.accession = folder.name.split("-")[0]
        self.images: dict[str, set[tuple]] = {}
        self.rows: dict[str, int] = {}
        self.genes: set[str] = set()
        self.gene_links: set[tuple] = set()
        self.phenotype_terms: set[tuple] = set()
        self.phenotype_names: set[tuple] = set()
        self.organisms: set[str] = set()
        self.not_available: set[tuple] = set()
        for csv_path in sorted(folder.glob("*/*-annotation.csv")):
            dataset = f"{self.accession}-{csv_path.parent.name}"
            rows = _csv_rows(csv_path)
            self.rows[dataset] = len(rows)
            self.images[dataset] = {_row_key(r) for r in rows}
            header = list(rows[0].keys()) if rows else []
            gene_col = next(
                (c for c in header if c in ("Gene Identifier", "Comment [Gene Identifier]")), None
            )
            org_col = header.index("Characteristics [Organism]") if "Characteristics [Organism]" in header else None
            for row in rows:
                key = (dataset, _row_key(row))
                if "annotation not available" in row.get("Comments", ""):
                    self.not_available.add(key)
                if gene_col and row[gene_col].strip():
                    self.genes.add(row[gene_col].strip())
                    self.gene_links.add((key, row[gene_col].strip()))
                if org_col is not None and row[header[org_col + 2]].strip():
                    self.organisms.add(_curie(row[header[org_col + 2]]))
                for column, value in row.items():
                    if not value or not value.strip():
                        continue
                    if re.fullmatch(r"Phenotype \d+ Term Accession", column):
                        self.phenotype_terms.add((key, _curie(value)))
                    elif re.fullmatch(r"Phenotype \d+", column):
                        self.phenotype_names.add((key, " ".join(value.split())))
        study_txt = next(folder.glob("idr*-study.txt"))
        self.dois: set[str] = set()
        for line in study_txt.read_text(encoding="utf-8").splitlines():
            cells = line.split("\t")
            if cells[0] == "Study DOI":
                self.dois = {
                    re.sub(r"^https?://(dx\.)?doi\.org/", "", c.strip()) for c in cells[1:] if c.strip()
                }
            if cells[0] == "Study Organism Term Accession":
                self.organisms |= {_curie(c) for c in cells[1:] if c.strip()}


_cache: dict[str, tuple[ParsedStudy, Expected]] = {}


def _study(name: str) -> tuple[ParsedStudy, Expected]:
    if name not in _cache:
        folder = DATA / name
        _cache[name] = (read_study(folder), Expected(folder))
    return _cache[name]


# --------------------------------------------------------------------------- real studies


@needs_data
def test_find_study_folders() -> None:
    assert [p.name for p in find_study_folders(DATA)] == STUDIES
    one = DATA / STUDIES[0]
    assert find_study_folders(one) == [one]


@needs_data
@pytest.mark.parametrize("name", STUDIES)
def test_study_and_datasets(name: str) -> None:
    parsed, expected = _study(name)
    assert parsed.study.accession == expected.accession
    assert parsed.study.name == name
    assert parsed.study.title
    assert parsed.study.release_date is not None
    assert {d.id for d in parsed.datasets} == set(expected.images)
    assert set(parsed.images) == set(expected.images)
    for dataset in parsed.datasets:
        assert dataset.name == f"{name}/{dataset.id.split('-', 1)[1]}"
        assert dataset.kind == ("screen" if "screen" in dataset.id else "experiment")
        assert dataset.imaging_method is not None
        assert re.fullmatch(r"FBbi:\d{8}", dataset.imaging_method.id)


@needs_data
@pytest.mark.parametrize("name", STUDIES)
def test_images_per_dataset(name: str) -> None:
    parsed, expected = _study(name)
    for dataset, keys in expected.images.items():
        images = parsed.images[dataset]
        # one image per CSV row, minus rows describing the same well/image
        assert len(images) == len(keys) <= expected.rows[dataset]
        assert {_image_key(i) for i in images} == keys
        assert len({i.id for i in images}) == len(images)
        for image in images:
            assert image.id.startswith(f"{dataset}/")
            if image.plate is not None:
                letters, number = _WELL.match(image.well).groups()
                assert image.well_row == ord(letters[0]) - ord("A")  # single-letter rows here
                assert image.well_column == int(number) - 1  # 0-based, like OMERO
                assert image.id == f"{dataset}/{image.plate}/{image.well}"
            else:
                assert image.id == f"{dataset}/{image.dataset_name}/{image.name}"


@needs_data
@pytest.mark.parametrize("name", STUDIES)
def test_genes(name: str) -> None:
    parsed, expected = _study(name)
    assert {g.id for g in parsed.genes} == expected.genes
    assert len(parsed.genes) == len({g.id for g in parsed.genes})
    links = {
        ((dataset, _image_key(i)), g) for dataset, imgs in parsed.images.items() for i in imgs for g in i.gene_ids
    }
    assert links == expected.gene_links


@needs_data
@pytest.mark.parametrize("name", STUDIES)
def test_phenotypes(name: str) -> None:
    parsed, expected = _study(name)
    by_id = {p.id: p for p in parsed.phenotypes}
    assert len(by_id) == len(parsed.phenotypes)
    terms = set()
    names = set()
    for dataset, images in parsed.images.items():
        for image in images:
            for pid in image.phenotype_ids:
                phenotype = by_id[pid]
                assert pid == f"{expected.accession}:{phenotype.name}"
                names.add(((dataset, _image_key(image)), phenotype.name))
                if phenotype.term is not None:
                    terms.add(((dataset, _image_key(image)), phenotype.term.id))
    assert terms == expected.phenotype_terms
    assert names == expected.phenotype_names
    for phenotype in parsed.phenotypes:
        if phenotype.term is not None:
            assert re.fullmatch(r"(CMPO|MP):\d{7}", phenotype.term.id)


@needs_data
@pytest.mark.parametrize("name", STUDIES)
def test_organisms_publications_and_annotation_flags(name: str) -> None:
    parsed, expected = _study(name)
    assert {o.id for o in parsed.organisms} == expected.organisms
    for organism in parsed.organisms:
        assert re.fullmatch(r"NCBITaxon:\d+", organism.id)
    for organism in parsed.study.organisms:
        assert re.fullmatch(r"NCBITaxon:\d+", organism.id)
    assert {p.doi for p in parsed.publications if p.doi} == expected.dois
    for publication in parsed.publications:
        assert publication.doi is None or _BARE_DOI.match(publication.doi)
        assert publication.id in (f"doi:{publication.doi}", f"pubmed:{publication.pmid}") or (
            publication.doi is None and publication.pmid is None
        )
    assert len({p.id for p in parsed.publications}) == len(parsed.publications)
    for dataset, images in parsed.images.items():
        for image in images:
            if (dataset, _image_key(image)) in expected.not_available:
                assert not image.annotated
            if not image.annotated:
                assert not (image.gene_ids or image.phenotype_ids or image.reagent_ids)
                assert image.organism_id is None
            else:
                assert image.organism_id in {o.id for o in parsed.organisms}


@needs_data
def test_idr0004_facts() -> None:
    """Facts read by eye from idr0004's files."""
    parsed, _ = _study("idr0004-thorpe-rad52")
    assert parsed.study.accession == "idr0004"
    assert [p.doi for p in parsed.publications] == ["10.1083/jcb.201108095", "10.1371/journal.pgen.0030228"]
    assert parsed.publications[0].pmid == "21893595" and parsed.publications[1].pmcid == "PMC2134942"
    first = parsed.images["idr0004-screenA"][0]
    assert (first.id, first.annotated, first.well_row, first.well_column) == ("idr0004-screenA/P101/A1", False, 0, 0)
    assert parsed.datasets[0].imaging_method.id == "FBbi:00000246"
    assert [o.id for o in parsed.organisms] == ["NCBITaxon:4932"]


@needs_data
def test_reagents() -> None:
    parsed, _ = _study("idr0035-caie-drugresponse")
    compounds = {
        row["Compound Name"].strip()
        for row in _csv_rows(DATA / "idr0035-caie-drugresponse/screenA/idr0035-screenA-annotation.csv")
        if row["Compound Name"].strip()
    }
    assert {r.id for r in parsed.reagents} == {f"Compound:{c}" for c in compounds}
    parsed, _ = _study("idr0025-stadler-proteinatlas")
    rows = _csv_rows(DATA / "idr0025-stadler-proteinatlas/screenA/idr0025-screenA-annotation.csv")
    expected = {f"SiRNA:{r['siRNA Identifier'].strip()}" for r in rows if r["siRNA Identifier"].strip()}
    expected |= {f"Antibody:{r['Antibody Identifier'].strip()}" for r in rows if r["Antibody Identifier"].strip()}
    assert {r.id for r in parsed.reagents} == expected
    sirna = next(r for r in parsed.reagents if r.kind == "SiRNA")
    assert set(sirna.properties) >= {"Sense Sequence", "Antisense Sequence"}


@needs_data
def test_idr0004_is_fast() -> None:
    read_study(DATA / "idr0004-thorpe-rad52")  # warm caches (curie manifest)
    start = time.perf_counter()
    read_study(DATA / "idr0004-thorpe-rad52")
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------- synthetic


STUDY_TXT = "\n".join(
    [
        "# Study\t\t\t\t",
        "Comment [IDR Study Accession] \tidr9998\t\t\t",
        "STUDY  TITLE\tCaf\u00e9 study\t\t\t",
        "Study Organism\tHomo sapiens\t\t\t",
        "Study Organism Term Accession\tNCBITaxon_9606\t\t\t",
        "Study Screens Number\t1\t\t\t",
        "Study Public Release Date\t2020-02-03\t\t\t",
        "# Study Publication\t\t\t\t",
        "Study PubMed ID\t111\t222\t\t333",
        'Study Publication Title\t"First"\tSecond\tThird\tFourth',
        "Study Author List\t\u00d3lafsson G, Doe J\tRoe R\t\tX Y",
        "Study DOI\thttp://dx.doi.org/10.1000/ABC.1\t\thttps://doi.org/10.1000/xyz\t",
        "",
        "Screen Number\t1\t\t\t",
        "Comment[IDR Screen Name]\tidr9998-test-synthetic/screenA\t\t\t",
        "Screen Description\tA screen\t\t\t",
        "Screen Imaging Method\tfluorescence microscopy\t\t\t",
        "Screen Imaging Method Term Source REF\tFbbi\t\t\t",
        "Screen Imaging Method Term Accession\tFbbi_00000246\t\t\t",
        "Screen Technology Type\tRNAi screen\t\t\t",
        "Screen Sample Type\tcell\t\t\t",
        "# Phenotypes\t\t\t\t",
        "Phenotype Name\tbig nuclei\tsmall nuclei\t\t",
        "Phenotype Description\tnuclei are big\t\t\t",
        "",
        "Experiment Number\t2\t\t\t",
        "Comment[IDR Experiment Name]\tidr9998-test-synthetic/experimentA\t\t\t",
        "Experiment Imaging Method\tSTORM\t\t\t",
        "Experiment Imaging Method Term Accession\tFBbi:00000336\t\t\t",
        "",
    ]
)

SCREEN_CSV = (
    "Plate,Well,Characteristics [Organism],Term Source 1 REF,Term Source 1 Accession,"
    "Gene Identifier,Gene Symbol,Gene Symbol Synonyms,siRNA Identifier,Sense Sequence,Control Type,"
    "Comments,Channels,Phenotype 1,Phenotype 1 Term Name,Phenotype 1 Term Accession,Phenotype 2\n"
    "P1,A01,Homo sapiens,NCBITaxon,NCBITaxon_9606,G1;G2,S1;S2,,s1,ACGT,,,DAPI,big nuclei,"
    "increased nucleus size,CMPO_0000140,\n"
    "P1,A1,Homo sapiens,NCBITaxon,NCBITaxon_9606,G3,S3,X1;X2,,,,,DAPI,,,,small nuclei\n"
    "P1,B12,,,,,,,,,empty well,,,,,,\n"
    "P1,C3,Homo sapiens,NCBITaxon,NCBITaxon_9606,,,,,,,annotation not available,,,,,\n"
)

BULKMAP = """---
name: idr9998-test-synthetic/screenA
defaults:
    include: no
    split:
columns:
  - name: Channels
    include: yes
  - name: Comments
    include: yes
  - group:
      namespace: openmicroscopy.org/mapr/gene
      columns:
      - name: Gene Identifier
        include: yes
        split: ";"
      - name: Gene Identifier
        clientname: Gene Identifier URL
        clientvalue: http://example.org/{{ value }}
        include: yes
      - name: Gene Symbol
        include: yes
        split: ";"
"""

EXPERIMENT_CSV = (
    "Dataset Name,Image Name,Characteristics [Organism],Term Source 1 REF,Term Source 1 Accession,"
    "Experimental Condition [Antibody],Comment [Image File Type]\n"
    "d1,a.tif,Homo sapiens,NCBITaxon,NCBITaxon_9606,anti-X,raw\n"
    "d1,b.tif,Homo sapiens,NCBITaxon,NCBITaxon_9606,,raw\n"
)


def _synthetic(tmp_path: Path) -> Path:
    folder = tmp_path / "idr9998-test-synthetic"
    (folder / "screenA").mkdir(parents=True)
    (folder / "experimentA").mkdir()
    (folder / "idr9998-study.txt").write_bytes(STUDY_TXT.encode("latin-1"))
    (folder / "screenA" / "idr9998-screenA-annotation.csv").write_bytes(
        b"\xef\xbb\xbf" + SCREEN_CSV.encode("utf-8")
    )
    (folder / "screenA" / "idr9998-screenA-bulkmap-config.yml").write_text(BULKMAP)
    (folder / "experimentA" / "idr9998-experimentA-annotation.csv").write_text(EXPERIMENT_CSV)
    return folder


def test_synthetic_study(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path)
    assert find_study_folders(tmp_path) == [folder]
    parsed = read_study(folder)

    study = parsed.study
    assert (study.accession, study.name, study.title) == ("idr9998", "idr9998-test-synthetic", "Caf\u00e9 study")
    assert str(study.release_date) == "2020-02-03"

    pubs = {p.id: p for p in parsed.publications}
    assert list(pubs) == ["doi:10.1000/ABC.1", "pubmed:222", "doi:10.1000/xyz", "pubmed:333"]
    assert pubs["doi:10.1000/ABC.1"].authors == ["\u00d3lafsson G", "Doe J"]
    assert pubs["doi:10.1000/ABC.1"].pmid == "111"
    assert pubs["doi:10.1000/xyz"].pmid is None and pubs["doi:10.1000/xyz"].title == "Third"
    assert pubs["pubmed:333"].title == "Fourth"

    screen, experiment = parsed.datasets
    assert (screen.id, screen.kind, screen.imaging_method.id) == ("idr9998-screenA", "screen", "FBbi:00000246")
    assert screen.imaging_method.label == "fluorescence microscopy"
    assert experiment.imaging_method.id == "FBbi:00000336"

    wells = parsed.images["idr9998-screenA"]
    assert [w.id for w in wells] == ["idr9998-screenA/P1/A1", "idr9998-screenA/P1/B12", "idr9998-screenA/P1/C3"]
    a1, b12, c3 = wells
    # A01 and A1 are one well: merged, union of links
    assert a1.gene_ids == ["G1", "G2", "G3"]
    assert a1.reagent_ids == ["SiRNA:s1"]
    assert a1.phenotype_ids == ["idr9998:big nuclei", "idr9998:small nuclei"]
    assert (a1.well_row, a1.well_column, b12.well_row, b12.well_column) == (0, 0, 1, 11)
    assert a1.attributes == {"Channels": "DAPI"}
    assert any("duplicate image" in w for w in parsed.warnings)
    assert not b12.annotated and b12.control_type == "empty well"
    assert not c3.annotated and c3.organism_id is None and c3.comments == "annotation not available"

    genes = {g.id: g for g in parsed.genes}
    assert {k: g.symbol for k, g in genes.items()} == {"G1": "S1", "G2": "S2", "G3": "S3"}
    assert genes["G3"].synonyms == ["X1", "X2"] and genes["G3"].organism_id == "NCBITaxon:9606"
    assert parsed.reagents[0].properties == {"Sense Sequence": "ACGT"}

    phenotypes = {p.name: p for p in parsed.phenotypes}
    assert phenotypes["big nuclei"].term.model_dump() == {"id": "CMPO:0000140", "label": "increased nucleus size"}
    assert phenotypes["big nuclei"].description == "nuclei are big"
    assert phenotypes["small nuclei"].term is None

    images = parsed.images["idr9998-experimentA"]
    assert [i.id for i in images] == ["idr9998-experimentA/d1/a.tif", "idr9998-experimentA/d1/b.tif"]
    assert images[0].reagent_ids == ["Antibody:anti-X"] and images[1].reagent_ids == []
    # no bulkmap: other columns become attributes under their CSV names
    assert images[0].attributes == {"Comment [Image File Type]": "raw"}
    assert [o.id for o in parsed.organisms] == ["NCBITaxon:9606"]


def test_sections_found_by_keys_in_any_order(tmp_path: Path) -> None:
    folder = tmp_path / "idr9997-x"
    folder.mkdir()
    (folder / "idr9997-study.txt").write_text(
        "Study Title\tT\n"
        "Comment[IDR Screen Name]\tidr9997-x/screenA\n"
        "Screen Number\t1\n"
        "Screen Description\tfirst\n"
        "Comment[IDR Screen Name]\tidr9997-x/screenB\n"
        "Screen Description\tsecond\n"
        "Experiment Number\t3\n"
        "Comment[IDR Experiment Name]\tidr9997-x/experimentA\n"
        "Experiment Description\tthird\n"
    )
    parsed = read_study(folder)
    assert parsed.study.accession == "idr9997"  # from the file name
    assert [(d.id, d.kind, d.description) for d in parsed.datasets] == [
        ("idr9997-screenA", "screen", "first"),
        ("idr9997-screenB", "screen", "second"),
        ("idr9997-experimentA", "experiment", "third"),
    ]
    assert parsed.images == {d.id: [] for d in parsed.datasets}
    assert any("no annotation file" in w for w in parsed.warnings)


def test_missing_title_is_an_error(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path)
    study = folder / "idr9998-study.txt"
    study.write_text("\n".join(line for line in STUDY_TXT.splitlines() if "TITLE" not in line))
    with pytest.raises(IdrFormatError) as err:
        read_study(folder)
    assert "idr9998-study.txt" in str(err.value) and "Study Title" in str(err.value)
    assert err.value.path == study


def test_not_tab_separated_is_an_error(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path)
    (folder / "idr9998-study.txt").write_text("Study Title,Foo\nComment[IDR Study Accession],idr9998\n")
    with pytest.raises(IdrFormatError, match=r"idr9998-study\.txt:1"):
        read_study(folder)


def test_csv_without_location_columns_is_an_error(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path)
    (folder / "experimentA" / "idr9998-experimentA-annotation.csv").write_text("Foo,Bar\n1,2\n")
    with pytest.raises(IdrFormatError, match=r"idr9998-experimentA-annotation\.csv"):
        read_study(folder)


def test_csv_row_too_long_is_an_error(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path)
    path = folder / "experimentA" / "idr9998-experimentA-annotation.csv"
    path.write_text(EXPERIMENT_CSV + "d1,c.tif,Homo sapiens,NCBITaxon,NCBITaxon_9606,,raw,EXTRA\n")
    with pytest.raises(IdrFormatError) as err:
        read_study(folder)
    assert err.value.line == 4 and "idr9998-experimentA-annotation.csv:4" in str(err.value)


def test_bad_bulkmap_is_an_error(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path)
    (folder / "screenA" / "idr9998-screenA-bulkmap-config.yml").write_text("columns: [\n  - name: x\n")
    with pytest.raises(IdrFormatError, match=r"bulkmap-config\.yml"):
        read_study(folder)
