"""The reader's per-term fields and edges beyond is_a: xrefs, subsets, namespace, synonym types,
replaced_by / consider, part_of and other relationships, the hierarchical closure, and the
RDF/XML and OBO Graphs JSON formats (through pronto). Expected values come from pronto or from
the small files written here."""

from __future__ import annotations

import json
import warnings
from collections import deque
from pathlib import Path

import pronto
import pytest

from bioimage_hub.ontology.reader import read_ontology
from tests.ontology.test_reader import _data, _hp_path, canon, load_pronto

TSTO_OBO = """\
format-version: 1.2
data-version: tsto/releases/2024-05-01
ontology: tsto
default-namespace: tsto_ns
subsetdef: core "core terms"
synonymtypedef: layperson "layperson term"

[Term]
id: TSTO:0000001
name: organism part
namespace: anatomy
subset: core
xref: Wikipedia:Root
xref: UBERON:0000061

[Term]
id: TSTO:0000002
name: nucleus
is_a: TSTO:0000001
relationship: part_of TSTO:0000003 ! cell
relationship: develops_from TSTO:0000001
synonym: "cell nucleus" EXACT layperson []
synonym: "nuclei" RELATED []

[Term]
id: TSTO:0000003
name: cell
is_a: TSTO:0000001
relationship: BFO:0000050 TSTO:0000004 ! part_of tissue, by its BFO id

[Term]
id: TSTO:0000004
name: tissue
is_a: TSTO:0000001
relationship: part_of GO:0005575 ! not declared here: a stub

[Term]
id: TSTO:0000005
name: old nucleus
is_obsolete: true
replaced_by: TSTO:0000002
consider: GO:0005634

[Typedef]
id: part_of
name: part of
xref: BFO:0000050

[Typedef]
id: BFO:0000050
name: part of

[Typedef]
id: develops_from
name: develops from
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tsto(tmp_path: Path):
    return read_ontology(write(tmp_path, "tsto.obo", TSTO_OBO))


def test_term_fields(tsto) -> None:
    by_id = {t.id: t for t in tsto.terms}
    root = by_id["TSTO:0000001"]
    assert root.xrefs == ["UBERON:0000061", "Wikipedia:Root"]
    assert root.subsets == ["core"]
    assert root.namespace == "anatomy"
    assert by_id["TSTO:0000003"].namespace == "tsto_ns"  # the header's default-namespace
    nucleus = by_id["TSTO:0000002"]
    assert [(s.text, s.scope, s.type) for s in nucleus.synonyms] == [
        ("cell nucleus", "EXACT", "layperson"),
        ("nuclei", "RELATED", None),
    ]
    old = by_id["TSTO:0000005"]
    assert old.obsolete and old.replaced_by == ["TSTO:0000002"] and old.consider == ["GO:0005634"]


def test_part_of_other_relations_and_stubs(tsto) -> None:
    assert {(e.child, e.parent) for e in tsto.part_of} == {
        ("TSTO:0000002", "TSTO:0000003"),  # relationship: part_of
        ("TSTO:0000003", "TSTO:0000004"),  # relationship: BFO:0000050
        ("TSTO:0000004", "GO:0005575"),
    }
    assert [(r.child, r.parent, r.relation, r.relation_id) for r in tsto.relations] == [
        ("TSTO:0000002", "TSTO:0000001", "develops from", "develops_from")
    ]
    stubs = {t.id: t for t in tsto.terms if t.stub}
    # undeclared part_of target and consider target become stubs of their own ontology
    assert set(stubs) == {"GO:0005575", "GO:0005634"}
    assert {t.ontology for t in stubs.values()} == {"go"}


def test_closures(tsto) -> None:
    anc = tsto.is_a_ancestors
    hier = tsto.hierarchical_ancestors
    assert anc["TSTO:0000002"] == {"TSTO:0000002": 0, "TSTO:0000001": 1}
    assert hier["TSTO:0000002"] == {
        "TSTO:0000002": 0, "TSTO:0000001": 1, "TSTO:0000003": 1, "TSTO:0000004": 2, "GO:0005575": 3,
    }
    # rows: distance 0 included, ordered by descendant, distance, ancestor
    rows = [r for r in tsto.hierarchical_closure if r.descendant == "TSTO:0000002"]
    assert [(r.ancestor, r.distance) for r in rows] == [
        ("TSTO:0000002", 0), ("TSTO:0000001", 1), ("TSTO:0000003", 1), ("TSTO:0000004", 2), ("GO:0005575", 3)
    ]
    assert len(tsto.closure) == sum(len(a) for a in anc.values())


def test_checksum_and_version(tsto, tmp_path: Path) -> None:
    assert tsto.version == "2024-05-01" and len(tsto.file_checksum or "") == 64
    again = read_ontology(write(tmp_path, "copy.obo", TSTO_OBO))
    assert again.file_checksum == tsto.file_checksum
    changed = read_ontology(write(tmp_path, "changed.obo", TSTO_OBO + "\n"))
    assert changed.file_checksum != tsto.file_checksum


def _hier_bfs(onto: pronto.Ontology, term: pronto.Term) -> dict[str, int]:
    """Shortest is_a + part_of distances by our own BFS over pronto's superclasses and
    relationships (part_of = id or name part_of / part of / BFO:0000050), self-loops ignored."""

    def ups(tid: str) -> set[str]:
        if tid not in onto:  # a part_of target the file does not declare
            return set()
        t = onto[tid]
        out = {s.id for s in t.superclasses(distance=1, with_self=False)}
        # raw target ids: pronto cannot build Term objects for undeclared targets
        for rid, targets in t._data().relationships.items():
            rel = onto.get_relationship(rid)
            if rel.id in ("part_of", "BFO:0000050") or (rel.name or "").replace(" ", "_") == "part_of":
                out |= set(targets)
        out.discard(t.id)
        return out

    dist = {term.id: 0}
    queue = deque([term.id])
    while queue:
        cur = queue.popleft()
        for up in sorted(ups(cur)):
            if up not in dist:
                dist[up] = dist[cur] + 1
                queue.append(up)
    return {c: d for c, d in ((canon(k), v) for k, v in dist.items()) if c is not None}


def test_fbbi_part_of_and_relations_match_pronto() -> None:
    path = _data("fbbi")
    parsed = read_ontology(path)
    onto = load_pronto(path)
    # fbbi's only part_of edges are BFO's reflexive "X part_of X": dropped as self-loops, so the
    # hierarchical closure equals the is_a closure; makes_use_of edges are kept by name.
    assert parsed.part_of == []
    for term in onto.terms():
        cid = canon(term.id)
        if cid is not None:
            assert parsed.hierarchical_ancestors[cid] == _hier_bfs(onto, term), cid
    expected = {
        (canon(t.id), canon(x.id), rel.name)
        for t in onto.terms()
        for rel, targets in t.relationships.items()
        if rel.id != "BFO:0000050"
        for x in targets
    }
    assert {(r.child, r.parent, r.relation) for r in parsed.relations} == expected
    assert {r.relation for r in parsed.relations} == {"makes_use_of"}
    assert len(parsed.relations) == 45


def test_hp_fields_match_pronto() -> None:
    path = _hp_path()
    parsed = read_ontology(path)
    onto = load_pronto(path)
    by_id = {t.id: t for t in parsed.terms}
    n_replaced = n_consider = 0
    for t in onto.terms():
        ours = by_id[t.id]
        assert ours.xrefs == sorted(x.id for x in t.xrefs), t.id
        assert ours.subsets == sorted(t.subsets), t.id
        assert ours.replaced_by == sorted(x.id for x in t.replaced_by), t.id
        assert ours.consider == sorted(x.id for x in t.consider), t.id
        types = {(s.description, s.scope): s.type.id if s.type else None for s in t.synonyms}
        assert {(s.text, s.scope): s.type for s in ours.synonyms} == types, t.id
        n_replaced += bool(ours.replaced_by)
        n_consider += bool(ours.consider)
    assert n_replaced > 300 and n_consider > 50
    assert by_id["HP:0000118"].namespace == "human_phenotype"  # default-namespace


def _write_formats(tmp_path: Path) -> tuple[Path, Path]:
    """The TSTO ontology as RDF/XML (pronto's own serialiser) and as hand-written OBO Graphs JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onto = pronto.Ontology(str(write(tmp_path, "src.obo", TSTO_OBO.replace("GO:0005575", "TSTO:0000001"))))
        owl = tmp_path / "tsto.owl"
        with owl.open("wb") as fh:
            onto.dump(fh, format="rdf")
    purl = "http://purl.obolibrary.org/obo/"
    graph = {
        "graphs": [
            {
                "id": f"{purl}tsto.owl",
                "meta": {"version": f"{purl}tsto/releases/2024-06-01/tsto.owl"},
                "nodes": [
                    {"id": f"{purl}TSTO_0000001", "type": "CLASS", "lbl": "organism part",
                     "meta": {"xrefs": [{"val": "Wikipedia:Root"}]}},
                    {"id": f"{purl}TSTO_0000002", "type": "CLASS", "lbl": "nucleus",
                     "meta": {"definition": {"val": "The nucleus."},
                              "synonyms": [{"pred": "hasExactSynonym", "val": "cell nucleus"},
                                           {"pred": "hasBroadSynonym", "val": "karyon"}]}},
                    {"id": f"{purl}TSTO_0000003", "type": "CLASS", "lbl": "cell"},
                    {"id": f"{purl}TSTO_0000005", "type": "CLASS", "lbl": "old nucleus",
                     "meta": {"deprecated": True, "basicPropertyValues": [
                         {"pred": f"{purl}IAO_0100001", "val": f"{purl}TSTO_0000002"},
                         {"pred": "http://www.geneontology.org/formats/oboInOwl#consider", "val": "GO:0005634"},
                     ]}},
                    {"id": f"{purl}BFO_0000050", "type": "PROPERTY", "lbl": "part of"},
                ],
                "edges": [
                    {"sub": f"{purl}TSTO_0000002", "pred": "is_a", "obj": f"{purl}TSTO_0000001"},
                    {"sub": f"{purl}TSTO_0000003", "pred": "is_a", "obj": f"{purl}TSTO_0000001"},
                    {"sub": f"{purl}TSTO_0000002", "pred": f"{purl}BFO_0000050", "obj": f"{purl}TSTO_0000003"},
                ],
            }
        ]
    }
    js = tmp_path / "tsto.json"
    js.write_text(json.dumps(graph), encoding="utf-8")
    return owl, js


def test_rdf_xml_and_obo_graphs_json(tmp_path: Path) -> None:
    owl, js = _write_formats(tmp_path)

    parsed = read_ontology(owl)
    by_id = {t.id: t for t in parsed.terms}
    assert parsed.id == "tsto" and parsed.prefix == "TSTO"
    assert by_id["TSTO:0000002"].label == "nucleus"
    assert ("TSTO:0000002", "TSTO:0000003") in {(e.child, e.parent) for e in parsed.part_of}
    assert {(e.child, e.parent) for e in parsed.is_a} >= {("TSTO:0000002", "TSTO:0000001")}
    assert by_id["TSTO:0000005"].obsolete and by_id["TSTO:0000005"].replaced_by == ["TSTO:0000002"]
    assert [(s.text, s.scope, s.type) for s in by_id["TSTO:0000002"].synonyms][0] == (
        "cell nucleus", "EXACT", "layperson"
    )
    assert parsed.hierarchical_ancestors["TSTO:0000002"]["TSTO:0000004"] == 2

    parsed = read_ontology(js, ontology_id="tsto")
    by_id = {t.id: t for t in parsed.terms}
    assert parsed.version == "2024-06-01"
    assert {(e.child, e.parent) for e in parsed.part_of} == {("TSTO:0000002", "TSTO:0000003")}
    assert {(s.text, s.scope) for s in by_id["TSTO:0000002"].synonyms} == {
        ("cell nucleus", "EXACT"), ("karyon", "BROAD")
    }
    old = by_id["TSTO:0000005"]
    assert old.obsolete and old.replaced_by == ["TSTO:0000002"] and old.consider == ["GO:0005634"]
    assert by_id["GO:0005634"].stub
    assert parsed.hierarchical_ancestors["TSTO:0000002"] == {
        "TSTO:0000002": 0, "TSTO:0000001": 1, "TSTO:0000003": 1
    }
