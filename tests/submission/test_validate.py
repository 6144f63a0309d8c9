"""Invalid documents: every problem is reported at once, with its path; nothing is written."""

from __future__ import annotations

import json

import pytest

from bioimage_hub.models.submission import json_schema_text, orcid_checksum_ok
from bioimage_hub.submission.service import submit
from bioimage_hub.submission.validate import SubmissionInvalid, validate, validate_document
from tests.conftest import counts
from tests.submission.conftest import EXAMPLE, example


def problems(exc: pytest.ExceptionInfo[SubmissionInvalid]) -> dict[str, str]:
    return {p.path: p.message for p in exc.value.problems}


def test_the_example_is_valid_offline_and_against_the_graph(loaded, driver) -> None:
    offline = validate_document(EXAMPLE.read_text(encoding="utf-8"))
    online = validate(driver, loaded.neo4j_database, EXAMPLE.read_bytes())
    assert offline.checksum == online.checksum
    assert online.term_labels["FBbi:00000251"] == "confocal microscopy"
    assert online.submission.image_count() == 4


def test_yaml_and_json_spellings_of_one_document_have_one_checksum() -> None:
    doc = example()
    as_json = json.dumps(doc, default=str, indent=4)
    doc["acquisitions"][0]["imaging_method"] = "http://purl.obolibrary.org/obo/FBbi_00000251"
    doc["datasets"][0]["images"][0]["phenotypes"] = ["cmpo_0000445"]
    doc["study"]["licence"] = "cc by 4.0"
    assert validate_document(as_json).checksum == validate_document(doc).checksum


def test_every_rembi_section_broken_at_once_lists_every_problem(loaded, driver) -> None:
    doc = example()
    doc["study"]["title"] = "x" * 501                                   # oversized
    doc["study"]["licence"] = "GPL-3.0"                                 # not in the fixed list
    doc["study"]["release_date"] = "someday"                            # wrong type
    doc["study"]["authors"][0]["orcid"] = "0000-0002-1825-0098"         # bad check digit
    doc["study"]["authors"][1]["orcid"] = "orcid-1234"                  # malformed
    doc["study"]["publications"][0]["doi"] = "10.1016"                  # malformed DOI
    doc["study"]["publications"].append({"title": "no identifier"})     # neither DOI nor PMID
    doc["study"]["keywords"] = "not a list"                             # wrong type
    doc["study"]["cross_references"] = ["no colon here"]
    doc["biosamples"][0]["organism"] = "GO:0005634"                     # not NCBITaxon
    doc["biosamples"][0]["biological_entity"] = ""                      # empty
    doc["specimens"][0].pop("preparation_protocol")                     # missing
    doc["acquisitions"][0]["imaging_method"] = "CMPO:0000445"           # not FBbi
    doc["acquisitions"][0]["instrument"] = 42                           # wrong type
    doc["annotation_methods"][0]["method_type"] = "vibes"               # not MIFA
    doc["datasets"][0]["biosample"] = "mouse"                           # dangling reference
    doc["datasets"][0]["images"][1]["path"] = "plate1/A1.ome.tiff"      # duplicate path
    doc["datasets"][0]["images"][1]["size_bytes"] = -1
    doc["datasets"][0]["images"][2]["checksum"] = "crc32:1234"
    doc["datasets"][0]["images"][2]["format"] = "GIF"
    doc["datasets"][1]["images"][0]["phenotypes"] = ["CMPO:9999999"]     # unknown term
    doc["datasets"][1]["images"][0]["genes"][0]["organism"] = "NCBITaxon:human"
    doc["datasets"][1]["images"][0]["colour"] = "blue"                  # unknown field
    before = counts(driver, loaded.neo4j_database)
    with pytest.raises(SubmissionInvalid) as exc:
        submit(driver, loaded.neo4j_database, doc, submitter="tester", prefix="S-TNEVER-")
    assert counts(driver, loaded.neo4j_database) == before
    found = problems(exc)
    expected = {
        "study.title": "at most 500 characters",
        "study.licence": "'CC BY 4.0'",
        "study.release_date": "date",
        "study.authors[0].orcid": "wrong check digit",
        "study.authors[1].orcid": "not an ORCID iD",
        "study.publications[0].doi": "not a DOI",
        "study.publications[1]": "doi or a pmid",
        "study.keywords": "list",
        "study.cross_references[0]": "pattern",
        "biosamples[0].organism.id": "not an NCBITaxon CURIE",
        "biosamples[0].biological_entity": "at least 1 character",
        "specimens[0].preparation_protocol": "missing required field",
        "acquisitions[0].imaging_method": "must be a FBbi term, not CMPO:0000445",
        "acquisitions[0].instrument": "string",
        "annotation_methods[0].method_type": "'class labels'",
        "datasets[0].biosample": "no biosample with id 'mouse'",
        "datasets[0].images[1].path": "duplicate path 'plate1/A1.ome.tiff' (also datasets[0].images[0])",
        "datasets[0].images[1].size_bytes": "greater than or equal to 0",
        "datasets[0].images[2].checksum": "pattern",
        "datasets[0].images[2].format": "'OME-TIFF'",
        "datasets[1].images[0].phenotypes[0]": "unknown term CMPO:9999999",
        "datasets[1].images[0].genes[0].organism.id": "not an NCBITaxon CURIE",
        "datasets[1].images[0].colour": "unknown field",
    }
    for path, fragment in expected.items():
        assert path in found, (path, found)
        assert fragment in found[path], (path, found[path])
    assert len(exc.value.problems) == len(expected), found
    # the message lists them as `path: message`
    assert "datasets[1].images[0].phenotypes[0]: unknown term CMPO:9999999" in str(exc.value)


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("CMPO:9999999", "unknown term CMPO:9999999"),
        ("FBbi:00000000", "obsolete term FBbi:00000000"),         # obsolete in fbbi.obo
        ("BFO:0000002", "unknown term BFO:0000002"),             # a stub: referenced, never loaded
        ("not a term", "is not a CURIE"),
    ],
)
def test_phenotype_terms_must_be_live_terms_of_a_loaded_ontology(loaded, driver, term, message) -> None:
    doc = example()
    doc["datasets"][0]["images"][0]["phenotypes"] = [{"term": term, "name": "odd"}] if " " in term else [term]
    with pytest.raises(SubmissionInvalid) as exc:
        validate(driver, loaded.neo4j_database, doc)
    [problem] = exc.value.problems
    assert problem.path.startswith("datasets[0].images[0].phenotypes[0]")
    assert message in problem.message


def test_consistency_across_the_document(loaded, driver) -> None:
    doc = example()
    doc["datasets"][1]["images"][0]["plate"] = "p1"                    # plate in an experiment
    doc["datasets"][1]["images"][0]["well"] = "B2"
    doc["datasets"][0]["images"][2].pop("plate")                       # screen image without plate
    doc["datasets"][0]["images"][2].pop("well")
    doc["datasets"][0]["images"][1]["phenotypes"] = [{"term": "CMPO:0000426", "name": "protein localized in nucleoplasm phenotype"}]
    doc["datasets"][1]["images"][0]["genes"][0]["symbol"] = "ACTN4"    # NUP107's id with another symbol
    doc["datasets"][1]["images"][0]["genes"].append({"id": "ENSG00000111581", "symbol": "NUP107"})
    with pytest.raises(SubmissionInvalid) as exc:
        validate(driver, loaded.neo4j_database, doc)
    found = problems(exc)
    assert "plates and wells belong to screens" in found["datasets[1].images[0].plate"]
    assert "needs a plate and a well" in found["datasets[0].images[2]"]
    assert "is mapped to CMPO:0000426 here and to CMPO:0000445" in found["datasets[0].images[1].phenotypes[0]"]
    assert "different symbol" in found["datasets[1].images[0].genes[1]"]


def test_parse_errors_name_the_line() -> None:
    with pytest.raises(SubmissionInvalid) as exc:
        validate_document("study:\n  title: [unclosed\n")
    assert "line" in str(exc.value) and "invalid YAML" in str(exc.value)
    with pytest.raises(SubmissionInvalid) as exc:
        validate_document('{"study": ')
    assert "invalid JSON" in str(exc.value)
    with pytest.raises(SubmissionInvalid, match="must be a mapping"):
        validate_document("- just\n- a list\n")
    with pytest.raises(SubmissionInvalid, match="aliases"):
        validate_document("a: &x [1, 2]\nb: *x\n")


def test_limits_bound_lists_and_strings() -> None:
    doc = example()
    doc["study"]["keywords"] = [f"k{i}" for i in range(51)]
    doc["study"]["description"] = "d" * 20_001
    doc["datasets"][0]["images"][0]["attributes"] = {f"a{i}": "v" for i in range(51)}
    doc["datasets"][0]["images"][0]["path"] = "../escape.tif"
    with pytest.raises(SubmissionInvalid) as exc:
        validate_document(doc)
    found = problems(exc)
    assert set(found) == {"study.keywords", "study.description", "datasets[0].images[0].attributes", "datasets[0].images[0].path"}


def test_orcid_check_digit() -> None:
    assert orcid_checksum_ok("0000-0002-1825-0097")
    assert orcid_checksum_ok("0000-0001-5109-3700")
    assert orcid_checksum_ok("0000-0002-1694-233X")
    assert not orcid_checksum_ok("0000-0002-1694-2339")


def test_the_exported_json_schema_is_current() -> None:
    from bioimage_hub.config import PROJECT_ROOT

    path = PROJECT_ROOT / "docs" / "submission.schema.json"
    assert path.read_text(encoding="utf-8") == json_schema_text(), (
        "docs/submission.schema.json is out of date: python -m bioimage_hub.models.submission > docs/submission.schema.json"
    )


def test_the_json_schema_accepts_the_example() -> None:
    import jsonschema
    import yaml

    data = json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), default=str))
    jsonschema.validate(data, json.loads(json_schema_text()))
