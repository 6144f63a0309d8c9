"""Cross-references found in IDR study metadata (pure: no database)."""

from __future__ import annotations

from bioimage_hub.importers.idr.reader import read_study, study_file_of
from bioimage_hub.xrefs.idr import xrefs_from_parsed_study, xrefs_from_study_file
from tests.api import expected


def _folder(prefix: str):
    return next(f for f in expected.study_folders() if f.name.startswith(prefix))


def test_every_study_links_to_itself_and_its_publications() -> None:
    for folder in expected.study_folders():
        parsed = read_study(folder)
        refs = [r.curie for r in xrefs_from_parsed_study(parsed)]
        assert refs[0] == f"idr:{parsed.study.accession}"
        for pub in parsed.publications:
            if pub.pmid:
                assert f"pubmed:{pub.pmid}" in refs
            if pub.pmcid:
                assert f"pmc:{pub.pmcid}" in refs
            if pub.doi:
                assert f"doi:{pub.doi.lower()}" in refs
        assert len(refs) == len(set(refs))


def test_idr0004_publications() -> None:
    refs = [r.curie for r in xrefs_from_parsed_study(read_study(_folder("idr0004")))]
    assert refs == [
        "idr:idr0004",
        "pubmed:21893595", "pmc:PMC3171117", "doi:10.1083/jcb.201108095",
        "pubmed:18085829", "pmc:PMC2134942", "doi:10.1371/journal.pgen.0030228",
    ]


def test_preprint_doi_and_data_dois_from_the_study_file() -> None:
    folder = _folder("idr0038")
    parsed = read_study(folder)
    refs = [r.curie for r in xrefs_from_parsed_study(parsed)]
    assert "doi:10.1101/233114" in refs  # Study Publication Preprint given as a DOI URL
    with_file = [r.curie for r in xrefs_from_parsed_study(parsed, study_file_of(folder))]
    assert with_file[: len(refs)] == refs
    assert {"doi:10.17867/10000110", "doi:10.17867/10000110a", "doi:10.17867/10000110b",
            "doi:10.17867/10000110c"} <= set(with_file)


def test_accessions_in_descriptions_external_url_and_comments(tmp_path) -> None:
    parsed = read_study(_folder("idr0023"))
    parsed.study.external_url = "https://www.ebi.ac.uk/biostudies/BioImages/studies/S-BIAD144"
    parsed.study.description = "Raw EM data: EMPIAR-10028 (map EMD-2660). 1ABC is not an id here."
    parsed.datasets[0].description = "Also see PDB 3J79."
    refs = [r.curie for r in xrefs_from_parsed_study(parsed)]
    assert refs[:2] == ["idr:idr0023", "pubmed:23845946"]
    assert {"biostudies:S-BIAD144", "empiar:EMPIAR-10028", "emdb:EMD-2660", "pdb:3j79"} <= set(refs)
    assert "pdb:1abc" not in refs

    study_txt = tmp_path / "idr9990-study.txt"
    study_txt.write_text(
        "Comment[IDR Study Accession]\tidr9990\n"
        "Study Title\tT\n"
        "Comment[Related Archive]\tS-BSST12 and https://www.ebi.ac.uk/empiar/EMPIAR-10029/\n"
        "Study Data DOI\thttps://doi.org/10.17867/10000999\n"
        "Study Data DOI Note\tnot-a-doi\n",
        encoding="utf-8",
    )
    assert [r.curie for r in xrefs_from_study_file(study_txt)] == [
        "idr:idr9990", "biostudies:S-BSST12", "empiar:EMPIAR-10029", "doi:10.17867/10000999",
    ]
