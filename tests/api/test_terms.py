"""Term lookup, hierarchy and search over GraphQL, checked against pronto on the same files."""

from __future__ import annotations

import csv
import re
from collections import deque

import pronto
import pytest

from tests.api import expected
from tests.conftest import CMPO, FBBI

pytestmark = pytest.mark.asyncio


def shortest_ancestors(term: pronto.Term) -> dict[str, int]:
    """BFS over direct is_a parents, independent of the hub's closure."""
    seen: dict[str, int] = {}
    queue = deque([(term, 0)])
    while queue:
        current, dist = queue.popleft()
        for parent in current.superclasses(distance=1, with_self=False):
            if parent.id not in seen:
                seen[parent.id] = dist + 1
                queue.append((parent, dist + 1))
    return seen


@pytest.mark.parametrize("term_id", ["CMPO:0000426", "CMPO:0000398", "CMPO:0000003", "CMPO:0000120"])
async def test_ancestors_and_descendants_with_distances_match_pronto(gql, term_id) -> None:
    term = expected.cmpo()[term_id]
    result = await gql(
        """query($id: ID!) { term(id: $id) { isLeaf
             ancestors { distance term { id } } descendants { distance term { id } } } }""",
        {"id": term_id},
    )
    got = result.data["term"]
    assert {a["term"]["id"]: a["distance"] for a in got["ancestors"]} == shortest_ancestors(term)
    descendants = {d.id for d in term.subclasses(with_self=False)}
    assert {d["term"]["id"] for d in got["descendants"]} == descendants
    for d in got["descendants"]:
        assert shortest_ancestors(expected.cmpo()[d["term"]["id"]])[term_id] == d["distance"]
    assert [a["distance"] for a in got["ancestors"]] == sorted(a["distance"] for a in got["ancestors"])
    assert got["isLeaf"] is (not descendants)


async def test_every_cmpo_term_has_pronto_ancestors(gql) -> None:
    onto = expected.cmpo()
    ids = sorted(t.id for t in onto.terms() if t.id.startswith("CMPO:"))
    fields = " ".join(f't{i}: term(id: "{tid}") {{ id ancestors {{ term {{ id }} }} }}' for i, tid in enumerate(ids))
    result = await gql("{ " + fields + " }")
    for i, tid in enumerate(ids):
        got = {a["term"]["id"] for a in result.data[f"t{i}"]["ancestors"]}
        assert got == {a.id for a in onto[tid].superclasses(with_self=False)}, tid


@pytest.mark.parametrize("term_id", ["CMPO:0000398", "CMPO:0000426", "CMPO:0000003", "CMPO:0000415", "MP:0003447"])
async def test_image_and_study_counts_from_the_closure_match_csv(gql, term_id) -> None:
    terms = expected.descendants_or_self(term_id)
    studies = {
        expected.study_accession(f)
        for f in expected.study_folders()
        if any(expected.row_accessions(r) & terms for r in expected.rows(f))
    }
    result = await gql(
        """query($id: ID!) { term(id: $id) { imageCount studyCount exact: imageCount(includeSubterms: false)
             images(first: 0) { totalCount } } }""",
        {"id": term_id},
    )
    got = result.data["term"]
    assert got["imageCount"] == expected.images_with_any(terms) == got["images"]["totalCount"]
    assert got["exact"] == expected.images_per_accession().get(term_id, 0)
    assert got["studyCount"] == len(studies)
    assert result.statements == 1


async def test_imaging_method_counts_include_subtypes(gql) -> None:
    fbbi = pronto.Ontology(str(FBBI), import_depth=0)
    fluorescence = {t.id for t in fbbi["FBbi:00000246"].subclasses()}
    want = 0
    for folder in expected.study_folders():
        text = next(folder.glob("idr*-study.txt")).read_text(encoding="utf-8", errors="replace")
        # one imaging method row per screen/experiment section; count rows of sections using it
        sections = re.split(r"\n(?=(?:Screen|Experiment) Number\t)", text)[1:]
        for section in sections:
            name = re.search(r"^Comment ?\[IDR (?:Screen|Experiment) Name\]\t[^/\t]+/([^\t\n]+)", section, re.M)
            method = re.search(r"^(?:Screen|Experiment) Imaging Method Term Accession\t([^\t\n]+)", section, re.M)
            if name and method and expected.curie(method.group(1)) in fluorescence:
                for path in (folder / name.group(1).strip()).glob("*-annotation.csv"):
                    with path.open(newline="", encoding="utf-8-sig") as handle:
                        want += sum(1 for _ in csv.DictReader(handle))
    result = await gql('{ term(id: "FBbi:00000246") { imageCount } images(filter: {imagingMethod: "FBbi_00000246"}) { totalCount } }')
    assert result.data["term"]["imageCount"] == result.data["images"]["totalCount"] == want
    assert want > 0


def _expected_tiers(query: str, ontologies: set[str]) -> dict[str, int]:
    """Best tier per term, computed from pronto: 0 exact label, 1 exact synonym, 2 label prefix,
    3 every word of the query is a word of a label/synonym, 4 substring of a label/synonym."""
    q = query.lower()
    words = set(re.findall(r"\w+", q))
    best: dict[str, int] = {}
    for path, prefix in ((CMPO, "CMPO:"), (FBBI, "FBbi:")):
        if prefix.split(":")[0].lower() not in ontologies:
            continue
        for term in pronto.Ontology(str(path), import_depth=0).terms():
            if not term.id.startswith(prefix) or term.obsolete or not term.name:
                continue
            label = term.name.lower()
            names = [label] + [s.description.lower() for s in term.synonyms]
            tiers = []
            if label == q:
                tiers.append(0)
            if any(s.description.lower() == q for s in term.synonyms):
                tiers.append(1)
            if label.startswith(q):
                tiers.append(2)
            if any(words <= set(re.findall(r"\w+", n)) for n in names):
                tiers.append(3)
            if any(q in n for n in names):
                tiers.append(4)
            if tiers:
                best[term.id] = min(tiers)
    return best


@pytest.mark.parametrize("query", ["nucleus", "cell", "mitotic", "confocal microscopy", "cytoplasm"])
async def test_search_ranks_and_covers_like_pronto(gql, query) -> None:
    want = _expected_tiers(query, {"cmpo", "fbbi"})
    hits = []
    after = None
    while True:
        result = await gql(
            """query($q: String!, $after: String) { searchTerms(query: $q, ontologies: ["cmpo", "fbbi"], first: 100, after: $after) {
                 pageInfo { hasNextPage endCursor } nodes { matchedText matchType term { id label } } } }""",
            {"q": query, "after": after},
        )
        conn = result.data["searchTerms"]
        hits.extend(conn["nodes"])
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    got = {h["term"]["id"]: h["matchType"] for h in hits}
    assert len(got) == len(hits), "a term appears twice"
    assert set(got) == set(want)
    order = ["EXACT_LABEL", "EXACT_SYNONYM", "LABEL_PREFIX", "WORD", "SUBSTRING"]
    ranks = [order.index(h["matchType"]) for h in hits]
    assert ranks == sorted(ranks)
    for tid, tier in want.items():
        if tier <= 2:  # the exact and prefix tiers are unambiguous
            assert got[tid] == order[tier], tid
    for h in hits:
        assert query.split()[0] in h["matchedText"].lower()


async def test_search_is_case_insensitive_and_filters(gql) -> None:
    lower = await gql('{ searchTerms(query: "nucleus", first: 5) { nodes { term { id } } } }')
    upper = await gql('{ searchTerms(query: "NUCLEUS", first: 5) { nodes { term { id } } } }')
    assert lower.data == upper.data
    only_fbbi = await gql('{ searchTerms(query: "microscopy", ontologies: ["fbbi"], first: 50) { nodes { term { id ontology } } } }')
    assert only_fbbi.data["searchTerms"]["nodes"]
    assert {n["term"]["ontology"] for n in only_fbbi.data["searchTerms"]["nodes"]} == {"fbbi"}


async def test_search_excludes_obsolete_unless_asked(gql) -> None:
    fbbi = pronto.Ontology(str(FBBI), import_depth=0)
    obsolete = next(t for t in sorted(fbbi.terms(), key=lambda t: t.id) if t.obsolete and t.name and t.id.startswith("FBbi:"))
    query = {"q": obsolete.name}
    without = await gql('query($q: String!) { searchTerms(query: $q, ontologies: ["fbbi"], first: 100) { nodes { term { id } } } }', query)
    with_ = await gql('query($q: String!) { searchTerms(query: $q, ontologies: ["fbbi"], includeObsolete: true, first: 100) { nodes { term { id obsolete } } } }', query)
    assert obsolete.id not in {n["term"]["id"] for n in without.data["searchTerms"]["nodes"]}
    assert obsolete.id in {n["term"]["id"] for n in with_.data["searchTerms"]["nodes"]}


async def test_search_rejects_empty_query(gql) -> None:
    result = await gql('{ searchTerms(query: "   ") { nodes { matchedText } } }', ok=False)
    assert "query" in result.errors[0]["message"]


@pytest.mark.parametrize("query", ["nucleus", "cell", "mito", "ce"])
async def test_short_first_page_equals_the_head_of_the_full_ranking(gql, query) -> None:
    # the first page skips the word/substring tiers when exact+prefix tiers fill it: same answer
    full = await gql('query($q: String!) { searchTerms(query: $q, first: 100) { nodes { term { id } matchType } } }', {"q": query})
    for size in (1, 3, 10):
        page = await gql('query($q: String!, $n: Int!) { searchTerms(query: $q, first: $n) { pageInfo { hasNextPage } nodes { term { id } matchType } } }',
                         {"q": query, "n": size})
        nodes = full.data["searchTerms"]["nodes"]
        assert page.data["searchTerms"]["nodes"] == nodes[:size]
        assert page.data["searchTerms"]["pageInfo"]["hasNextPage"] is (len(nodes) > size)
