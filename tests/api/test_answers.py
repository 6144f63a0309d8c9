"""Researcher questions over HTTP, answered by the hub and checked against the source files."""

from __future__ import annotations

import pytest

from tests.api import expected

pytestmark = pytest.mark.asyncio

STUDIES = expected.study_folders()


@pytest.mark.parametrize("folder", STUDIES, ids=lambda p: p.name)
async def test_study_image_and_gene_counts_match_csv(gql, folder) -> None:
    accession = expected.study_accession(folder)
    rows = expected.rows(folder)
    genes = set().union(*(expected.row_genes(r) for r in rows)) if rows else set()
    result = await gql(
        """query($acc: String!) {
             study(accession: $acc) { accession imageCount genes { totalCount } }
             images(filter: {study: $acc}) { totalCount }
           }""",
        {"acc": accession},
    )
    study = result.data["study"]
    assert study["accession"] == accession
    assert study["imageCount"] == len(rows)
    assert result.data["images"]["totalCount"] == len(rows)
    assert study["genes"]["totalCount"] == len(genes)


@pytest.mark.parametrize("term", sorted(expected.images_per_accession()))
async def test_images_by_exact_phenotype_term_match_csv(gql, term) -> None:
    result = await gql(
        "query($t: String!) { images(filter: {phenotype: $t, includeSubterms: false}) { totalCount } }",
        {"t": term},
    )
    assert result.data["images"]["totalCount"] == expected.images_per_accession()[term]


@pytest.mark.parametrize(
    "term",
    # parents of the annotated terms: asking for them must find the annotated subterms
    ["CMPO:0000007", "CMPO:0000398", "CMPO:0000356", "CMPO:0000032", "CMPO:0000003"],
)
async def test_phenotype_query_includes_subterms_per_cmpo(gql, term) -> None:
    want = expected.images_with_any(expected.descendants_or_self(term))
    result = await gql(
        """query($t: String!) {
             images(filter: {phenotype: $t}) { totalCount }
             exact: images(filter: {phenotype: $t, includeSubterms: false}) { totalCount }
           }""",
        {"t": term},
    )
    assert result.data["images"]["totalCount"] == want
    assert want > 0
    assert result.data["exact"]["totalCount"] == expected.images_per_accession().get(term, 0)


async def test_term_accepts_curie_short_form_and_iris(gql) -> None:
    onto = expected.cmpo()
    term = onto["CMPO:0000426"]
    for spelling in ("CMPO:0000426", "CMPO_0000426", "http://purl.obolibrary.org/obo/CMPO_0000426",
                     "http://www.ebi.ac.uk/cmpo/CMPO_0000426"):
        result = await gql("query($id: ID!) { term(id: $id) { id label parents { id } ancestors { term { id } } } }", {"id": spelling})
        got = result.data["term"]
        assert got["id"] == "CMPO:0000426"
        assert got["label"] == term.name
        assert {p["id"] for p in got["parents"]} == {p.id for p in term.superclasses(distance=1, with_self=False)}
        assert {a["term"]["id"] for a in got["ancestors"]} == {a.id for a in term.superclasses(with_self=False)}


async def test_gene_centric_question_matches_csv(gql) -> None:
    # "which images and phenotypes involve RAD52?" computed from every study's CSV
    want_images = set()
    want_phenotypes = set()
    for folder in STUDIES:
        for row in expected.rows(folder):
            symbol = row.get("Gene Symbol") or row.get("Comment [Gene Symbol]") or ""
            if symbol.strip().upper() == "RAD52":
                want_images.add(tuple(sorted(expected.row_genes(row))))
                for k, v in row.items():
                    if k and k.startswith("Phenotype") and k.split()[-1].isdigit() and v:
                        want_phenotypes.add(v)
    result = await gql(
        '{ genes(symbol: "rad52") { nodes { id symbol images(first: 100) { totalCount } phenotypes { name } } } }'
    )
    nodes = result.data["genes"]["nodes"]
    assert len(nodes) == 1 and nodes[0]["symbol"] == "RAD52"
    assert nodes[0]["images"]["totalCount"] == sum(
        1 for f in STUDIES for r in expected.rows(f)
        if (r.get("Gene Symbol") or r.get("Comment [Gene Symbol]") or "").strip().upper() == "RAD52"
    )
    assert {p["name"] for p in nodes[0]["phenotypes"]} == want_phenotypes


async def test_publication_lookup_by_doi_url_and_pmid(gql) -> None:
    by_url = await gql('{ publication(doi: "http://dx.doi.org/10.1083/jcb.201108095") { pmid pmcid studies { accession } } }')
    by_pmid = await gql('{ publication(pmid: "21893595") { doi studies { accession } } }')
    assert by_url.data["publication"]["pmid"] == "21893595"
    assert by_url.data["publication"]["pmcid"] == "PMC3171117"
    assert by_pmid.data["publication"]["doi"] == "10.1083/jcb.201108095"
    assert by_pmid.data["publication"]["studies"] == [{"accession": "idr0004"}]


async def test_screen_hierarchy_both_ways(gql) -> None:
    result = await gql(
        """{ image(id: "idr0004-screenA/P101/A2") {
               name well { name row column plate { name dataset { id study { accession } } } }
               organism { id } genes { id symbol } study { accession } } }"""
    )
    image = result.data["image"]
    # from idr0004-screenA-annotation.csv: P101,2,A2,...,NCBITaxon_4932,...,YAL068C,PAU8
    assert image["well"]["name"] == "A2"
    assert (image["well"]["row"], image["well"]["column"]) == (0, 1)
    assert image["well"]["plate"]["name"] == "P101"
    assert image["well"]["plate"]["dataset"]["study"]["accession"] == "idr0004"
    assert image["organism"]["id"] == "NCBITaxon:4932"
    assert image["genes"] == [{"id": "YAL068C", "symbol": "PAU8"}]


async def test_empty_wells_are_images_without_annotations(gql) -> None:
    result = await gql('{ image(id: "idr0004-screenA/P101/A1") { annotated comments genes { id } phenotypes { id } organism { id } } }')
    image = result.data["image"]
    assert image["annotated"] is False
    assert image["genes"] == [] and image["phenotypes"] == [] and image["organism"] is None
    assert "annotation not available" in image["comments"]


async def test_node_resolves_each_type(gql) -> None:
    result = await gql(
        """{ s: node(id: "idr0023") { __typename id }
             i: node(id: "idr0004-screenA/P101/A2") { __typename ... on Image { name } }
             g: node(id: "YAL068C") { __typename ... on Gene { symbol } }
             t: node(id: "CMPO:0000426") { __typename ... on OntologyTerm { label } }
             missing: node(id: "no-such-thing") { id } }"""
    )
    d = result.data
    assert d["s"] == {"__typename": "Study", "id": "idr0023"}
    assert d["i"]["__typename"] == "Image"
    assert d["g"] == {"__typename": "Gene", "symbol": "PAU8"}
    assert d["t"]["__typename"] == "OntologyTerm"
    assert d["missing"] is None
    assert result.statements == 5  # one statement per root field
