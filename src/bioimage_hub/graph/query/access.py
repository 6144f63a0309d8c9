"""Embargo: studies released in the future are invisible to everyone but their owner and curators.

Applied to every compiled read statement in one place, so no read path can forget it:
- a preamble computes `hidden`, the accessions of studies this viewer may not see (an index
  range scan on Study.releaseDate; empty for curators);
- every node pattern of a study-owned label (Study, Dataset, Plate, Well, Image, Phenotype) in
  the statement gets an inline `WHERE NOT x.study IN hidden` (Study: `x.accession`), so hidden
  objects drop out of lookups, lists, connections, counts and filters alike;
- every `CALL (...) {` subquery imports `hidden`.
A node reached from an already-visible study-owned node through a containment relationship
(`CONTAINMENT`: study → dataset → plate → well → image, study/image → its phenotypes, either
way) belongs to the same study, so
it is visible too and its check is left out: a study's tree costs no `study` read per child.
That containment never crosses studies is checked on the real data by tests/api/test_embargo.py.
Shared reference nodes (genes, organisms, terms, publications, reagents) stay public; only their
links to hidden images disappear.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from bioimage_hub.graph.query.compiler import Compiled

# label -> property holding the owning study's accession
STUDY_OWNED: dict[str, str] = {
    "Study": "accession",
    "Dataset": "study",
    "Plate": "study",
    "Well": "study",
    "Image": "study",
    "Phenotype": "study",
}
_NODE = re.compile(
    r"\((?P<var>[A-Za-z_]\w*)?:(?P<label>" + "|".join(STUDY_OWNED) + r")(?P<props>\s*\{[^{}]*\})?\)"
)
_CALL_SCOPE = re.compile(r"CALL \((?P<vars>[^)]*)\) \{")
# relationships whose two ends always belong to the same study (the writers create them so)
CONTAINMENT = frozenset(
    {"HAS_DATASET", "HAS_PLATE", "HAS_WELL", "HAS_IMAGE", "HAS_PHENOTYPE", "HAS_PHENOTYPE_DEFINITION"}
)
# `(parent)-[:REL]->` or `(parent:Label {...})<-[:REL]-` right before a node pattern
_FROM_PARENT = re.compile(
    r"\((?P<parent>[A-Za-z_]\w*)(?::\w+)?(?:\s*\{[^{}]*\})?\)(?:-\[:(?P<out>\w+)\]->|<-\[:(?P<in>\w+)\]-)$"
)
VIEWER_PARAM = "__viewer"


@dataclass(frozen=True)
class Viewer:
    """Who is reading: anonymous (name None), a token holder, or a curator/admin (sees all)."""

    name: str | None = None
    sees_everything: bool = False

    @staticmethod
    def anonymous() -> "Viewer":
        return Viewer()


PREAMBLE = (
    "CALL () { OPTIONAL MATCH (hs:Study) WHERE hs.releaseDate > date() "
    f"AND (hs.owner IS NULL OR ${VIEWER_PARAM} IS NULL OR hs.owner <> ${VIEWER_PARAM}) "
    "RETURN collect(hs.accession) AS hidden } "
)


def guard(cypher: str) -> str:
    """Add the `hidden` predicate to every study-owned node pattern and import it into CALLs."""
    counter = itertools.count()
    visible: set[str] = set()  # variables already known to be in a visible study

    def node(match: re.Match[str]) -> str:
        var = match["var"] or f"g{next(counter)}_"
        label = match["label"]
        props = match["props"] or ""
        step = _FROM_PARENT.search(match.string, max(0, match.start() - 160), match.start())
        if step and step["parent"] in visible and (step["out"] or step["in"]) in CONTAINMENT:
            visible.add(var)
            return f"({var}:{label}{props})"
        visible.add(var)
        return f"({var}:{label}{props} WHERE NOT {var}.{STUDY_OWNED[label]} IN hidden)"

    def scope(match: re.Match[str]) -> str:
        names = [v.strip() for v in match["vars"].split(",") if v.strip()]
        if names == ["*"]:  # imports everything in scope, `hidden` included
            return match.group(0)
        if "hidden" not in names:
            names.append("hidden")
        return f"CALL ({', '.join(names)}) {{"

    return _CALL_SCOPE.sub(scope, _NODE.sub(node, cypher))


def apply(compiled: Compiled, viewer: Viewer) -> Compiled:
    """The statement as this viewer may run it."""
    params = dict(compiled.params)
    if viewer.sees_everything:
        return Compiled("WITH [] AS hidden " + guard(compiled.cypher), params)
    params[VIEWER_PARAM] = viewer.name
    return Compiled(PREAMBLE + guard(compiled.cypher), params)
