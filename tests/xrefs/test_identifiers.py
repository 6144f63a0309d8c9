"""Cross-reference identifiers: one canonical CURIE per entry, patterns from bioregistry, offline."""

from __future__ import annotations

import re
import socket

import bioregistry
import pytest

from bioimage_hub.xrefs.identifiers import (
    RESOURCES,
    InvalidCrossReference,
    UnknownResource,
    find_xrefs_in_text,
    parse_xref,
)

VALID = [
    # value, canonical CURIE
    ("pdb:1abc", "pdb:1abc"),
    ("1ABC", "pdb:1abc"),
    ("PDB:1ABC", "pdb:1abc"),
    ("pdb_00001abc", "pdb:1abc"),
    ("pdb:PDB_00001ABC", "pdb:1abc"),
    ("https://www.rcsb.org/structure/1ABC", "pdb:1abc"),
    ("https://www.ebi.ac.uk/pdbe/entry/pdb/1abc", "pdb:1abc"),
    ("https://www.wwpdb.org/pdb?id=pdb_00001abc", "pdb:1abc"),
    ("https://identifiers.org/pdb:1ABC", "pdb:1abc"),
    ("emdb:EMD-1234", "emdb:EMD-1234"),
    ("EMD-1234", "emdb:EMD-1234"),
    ("emd_12345", "emdb:EMD-12345"),
    ("EMD-123456", "emdb:EMD-123456"),
    ("emdb:1234", "emdb:EMD-1234"),
    ("https://www.ebi.ac.uk/emdb/EMD-2660", "emdb:EMD-2660"),
    ("https://www.ebi.ac.uk/pdbe/entry/emdb/EMD-2660", "emdb:EMD-2660"),
    ("EMPIAR-10028", "empiar:EMPIAR-10028"),
    ("empiar:10028", "empiar:EMPIAR-10028"),
    ("empiar:EMPIAR-10028", "empiar:EMPIAR-10028"),
    ("https://www.ebi.ac.uk/empiar/EMPIAR-10028/", "empiar:EMPIAR-10028"),
    ("https://www.ebi.ac.uk/pdbe/emdb/empiar/entry/10028/", "empiar:EMPIAR-10028"),
    ("idr0004", "idr:idr0004"),
    ("IDR0004", "idr:idr0004"),
    ("idr:0004", "idr:idr0004"),
    ("idr:idr0004", "idr:idr0004"),
    ("https://idr.openmicroscopy.org/search/?query=Name:idr0004", "idr:idr0004"),
    ("S-BIAD144", "biostudies:S-BIAD144"),
    ("S-BSST45", "biostudies:S-BSST45"),
    ("bia:S-BIAD144", "biostudies:S-BIAD144"),
    ("biostudies:S-EPMC6266652", "biostudies:S-EPMC6266652"),
    ("https://www.ebi.ac.uk/biostudies/BioImages/studies/S-BIAD144", "biostudies:S-BIAD144"),
    ("pubmed:21893595", "pubmed:21893595"),
    ("PMID:21893595", "pubmed:21893595"),
    ("https://pubmed.ncbi.nlm.nih.gov/21893595/", "pubmed:21893595"),
    ("https://europepmc.org/article/MED/21893595", "pubmed:21893595"),
    ("PMC3171117", "pmc:PMC3171117"),
    ("pmc:3171117", "pmc:PMC3171117"),
    ("PMCID:PMC3171117", "pmc:PMC3171117"),
    ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3171117/", "pmc:PMC3171117"),
    ("10.1083/jcb.201108095", "doi:10.1083/jcb.201108095"),
    ("doi:10.1083/JCB.201108095", "doi:10.1083/jcb.201108095"),
    ("https://doi.org/10.1083/jcb.201108095", "doi:10.1083/jcb.201108095"),
    ("https://dx.doi.org/10.17867/10000110", "doi:10.17867/10000110"),
    ("ENSG00000139618", "ensembl:ENSG00000139618"),
    ("ensembl:ENSG00000139618", "ensembl:ENSG00000139618"),
    ("ncbigene:672", "ncbigene:672"),
    ("NCBIGene:672", "ncbigene:672"),
    ("EntrezGene:672", "ncbigene:672"),
    ("P38398", "uniprot:P38398"),
    ("UniProtKB:P38398", "uniprot:P38398"),
    ("uniprot:a0a023gpi8", "uniprot:A0A023GPI8"),
    ("https://www.uniprot.org/uniprot/P38398", "uniprot:P38398"),
]


@pytest.mark.parametrize("value,curie", VALID)
def test_valid_values_normalise_to_one_curie(value: str, curie: str) -> None:
    ref = parse_xref(value)
    assert ref.curie == curie == ref.id
    assert ref.url.startswith(("https://", "http://"))
    # the canonical CURIE parses to itself
    assert parse_xref(ref.curie) == ref


def test_pdb_four_character_and_extended_ids_are_one_entry() -> None:
    forms = ["1abc", "1ABC", "pdb:1abc", "pdb_00001abc", "PDB_00001ABC", "pdb:pdb_00001abc",
             "https://www.rcsb.org/structure/1abc"]
    refs = {parse_xref(v) for v in forms}
    assert len(refs) == 1
    (ref,) = refs
    assert ref.curie == "pdb:1abc"
    assert ref.url == "https://www.wwpdb.org/pdb?id=pdb_00001abc"
    # an extended id with no 4-character form stays extended
    assert parse_xref("pdb_00011abc").curie == "pdb:pdb_00011abc"


INVALID = [
    ("EMD-123", "emdb", "EMD- followed by 4 to 6 digits"),
    ("emdb:EMD-1234567", "emdb", "4 to 6 digits"),
    ("emdb:EMX-1234", "emdb", "EMD-"),
    ("EMPIAR-1002", "empiar", "EMPIAR- followed by 5 digits"),
    ("empiar:100281", "empiar", "5 digits"),
    ("pdb:12345", "pdb", "4-character"),
    ("pdb:ABCD", "pdb", "4-character"),
    ("idr:04", "idr", "idr followed by 4 digits"),
    ("biostudies:X-BIAD1", "biostudies", "S-"),
    ("pubmed:PMC123", "pubmed", "digits"),
    ("pmc:abc", "pmc", "PMC followed by digits"),
    ("doi:11.1234/x", "doi", "10."),
    ("ncbigene:BRCA1", "ncbigene", "digits"),
    ("uniprot:12345", "uniprot", "UniProtKB accession"),
    ("ensembl:ENS G!", "ensembl", "Ensembl"),
]


@pytest.mark.parametrize("value,prefix,expected", INVALID)
def test_invalid_values_name_the_resource_and_pattern(value: str, prefix: str, expected: str) -> None:
    with pytest.raises(InvalidCrossReference) as info:
        parse_xref(value)
    message = str(info.value)
    assert info.value.resource is RESOURCES[prefix]
    assert RESOURCES[prefix].title in message
    assert expected in message
    assert RESOURCES[prefix].pattern in message


def test_unknown_prefix_and_ambiguous_digits() -> None:
    with pytest.raises(UnknownResource, match="unknown resource prefix 'foo'"):
        parse_xref("foo:bar")
    with pytest.raises(InvalidCrossReference, match="ambiguous"):
        parse_xref("12345")
    assert parse_xref("12345", "pubmed").curie == "pubmed:12345"
    assert parse_xref("672", "ncbigene").curie == "ncbigene:672"
    with pytest.raises(InvalidCrossReference, match="no known resource"):
        parse_xref("https://example.org/whatever")
    with pytest.raises(InvalidCrossReference, match="names EMDB"):
        parse_xref("emdb:EMD-1234", "pdb")
    with pytest.raises(InvalidCrossReference):
        parse_xref("   ")


def test_patterns_come_from_bioregistry() -> None:
    """Each resource's rule is bioregistry's pattern unless a note says how the hub widens it."""
    for prefix, res in RESOURCES.items():
        assert res.bioregistry_pattern == bioregistry.get_pattern(prefix)
        example = bioregistry.get_example(prefix)
        assert example, prefix
        if res.pattern_note is None:
            # the accession's bioregistry local id satisfies bioregistry's own pattern
            assert re.fullmatch(res.bioregistry_pattern.strip("^$"), res.to_local(parse_xref(f"{prefix}:{example}").accession))
        assert parse_xref(f"{prefix}:{example}").resource == prefix
    assert RESOURCES["emdb"].pattern_note and "4,5" in RESOURCES["emdb"].bioregistry_pattern
    # bioregistry's resolvers are used for the resources without a better own page
    assert parse_xref("pubmed:1").url == bioregistry.get_iri("pubmed", "1")
    assert parse_xref("ncbigene:672").url == bioregistry.get_iri("ncbigene", "672")
    assert parse_xref("idr0004").url == bioregistry.get_iri("idr", "0004")
    assert parse_xref("idr0004").bioregistry_curie == "idr:0004"
    assert parse_xref("EMPIAR-10028").bioregistry_curie == "empiar:10028"


def test_everything_works_offline(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for value, curie in VALID:
        assert parse_xref(value).curie == curie


def test_bioimage_archive_flag() -> None:
    assert parse_xref("S-BIAD1").is_bioimage_archive
    assert parse_xref("S-BSST1").is_bioimage_archive
    assert not parse_xref("S-EPMC6266652").is_bioimage_archive


def test_mentions_in_free_text() -> None:
    text = (
        "Raw data are in EMPIAR-10028 (map EMD-2660, model PDB 3J79); images in S-BIAD144 and "
        "idr0023. See https://doi.org/10.1101/233114, PMC3171117 and PMID: 21893595. "
        "Not ids: 1ABC alone, 2020, https://data.broadinstitute.org/bbbc/BBBC021/."
    )
    assert [r.curie for r in find_xrefs_in_text(text)] == [
        "empiar:EMPIAR-10028", "emdb:EMD-2660", "pdb:3j79", "biostudies:S-BIAD144", "idr:idr0023",
        "doi:10.1101/233114", "pmc:PMC3171117", "pubmed:21893595",
    ]
    assert find_xrefs_in_text(None) == []
