"""Canonical identifiers: every accepted spelling of a term id maps to one CURIE + IRI."""

from __future__ import annotations

import pytest

from bioimage_hub.ontology.curie import (
    CurieNormalizer,
    InvalidIdentifier,
    TermId,
    normalize_curie,
    term_id,
)

CMPO = TermId(curie="CMPO:0000426", iri="http://purl.obolibrary.org/obo/CMPO_0000426")


@pytest.mark.parametrize(
    "spelling",
    [
        "CMPO:0000426",
        "CMPO_0000426",
        "cmpo:0000426",
        "Cmpo_0000426",
        "  CMPO:0000426\n",
        "http://purl.obolibrary.org/obo/CMPO_0000426",
        "http://www.ebi.ac.uk/cmpo/CMPO_0000426",  # CMPO's own (secondary) IRI namespace
    ],
)
def test_cmpo_spellings_are_one_term(spelling: str) -> None:
    assert term_id(spelling) == CMPO
    assert normalize_curie(spelling) == "CMPO:0000426"


def test_term_id_parts() -> None:
    tid = term_id("CMPO_0000426")
    assert (tid.prefix, tid.local, tid.short_form) == ("CMPO", "0000426", "CMPO_0000426")


@pytest.mark.parametrize(
    ("spelling", "curie", "iri"),
    [
        ("Fbbi_00000246", "FBbi:00000246", "http://purl.obolibrary.org/obo/FBbi_00000246"),
        ("FBBI:00000246", "FBbi:00000246", "http://purl.obolibrary.org/obo/FBbi_00000246"),
        ("fbbi_00000246", "FBbi:00000246", "http://purl.obolibrary.org/obo/FBbi_00000246"),
        (
            "http://purl.obolibrary.org/obo/FBbi_00000246",
            "FBbi:00000246",
            "http://purl.obolibrary.org/obo/FBbi_00000246",
        ),
        ("ncbitaxon:9606", "NCBITaxon:9606", "http://purl.obolibrary.org/obo/NCBITaxon_9606"),
        ("taxon:9606", "NCBITaxon:9606", "http://purl.obolibrary.org/obo/NCBITaxon_9606"),
        ("go:0005634", "GO:0005634", "http://purl.obolibrary.org/obo/GO_0005634"),
        ("PATO_0000001", "PATO:0000001", "http://purl.obolibrary.org/obo/PATO_0000001"),
        ("http://www.ebi.ac.uk/efo/EFO_0000001", "EFO:0000001", "http://www.ebi.ac.uk/efo/EFO_0000001"),
        ("http://purl.obolibrary.org/obo/EFO_0000001", "EFO:0000001", "http://www.ebi.ac.uk/efo/EFO_0000001"),
    ],
)
def test_known_prefixes_are_canonicalised(spelling: str, curie: str, iri: str) -> None:
    assert term_id(spelling) == TermId(curie=curie, iri=iri)


def test_unknown_obo_style_prefix_is_kept_as_written() -> None:
    assert term_id("XYZ_0001") == TermId("XYZ:0001", "http://purl.obolibrary.org/obo/XYZ_0001")
    assert term_id("http://purl.obolibrary.org/obo/XYZ_0001").curie == "XYZ:0001"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "not an identifier",
        "CMPO",
        ":0000426",
        "0000426",
        "FBbi_root:00000000",  # the root pseudo-term of fbbi.obo
        "http://example.org/thing/42",
        "https://www.ebi.ac.uk/cmpo/",
    ],
)
def test_garbage_raises_invalid_identifier(garbage: str) -> None:
    with pytest.raises(InvalidIdentifier):
        term_id(garbage)
    assert issubclass(InvalidIdentifier, ValueError)


def test_normalizer_from_explicit_prefix_map() -> None:
    norm = CurieNormalizer(
        {"ABC": {"iri": ["http://example.org/abc#", "http://purl.obolibrary.org/obo/ABC_"],
                 "synonyms": ["abcd"]}}
    )
    assert norm.normalize("abcd:12") == TermId("ABC:12", "http://example.org/abc#12")
    assert norm.normalize("http://purl.obolibrary.org/obo/ABC_12").curie == "ABC:12"
    assert norm.canonical_prefix("Abc") == "ABC"
    assert norm.canonical_prefix("Other") == "Other"
