"""Transitive closures with shortest distances (pure functions, no pronto, no Neo4j)."""

from __future__ import annotations

from collections.abc import Iterable


def parent_map(edges: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """child -> sorted distinct parents; self-loops are dropped."""
    ups: dict[str, set[str]] = {}
    for child, parent in edges:
        if child != parent:
            ups.setdefault(child, set()).add(parent)
    return {c: sorted(ps) for c, ps in ups.items()}


def ancestor_distances(
    nodes: Iterable[str], edges: Iterable[tuple[str, str]]
) -> dict[str, dict[str, int]]:
    """For every node: {ancestor: length of the shortest path along `edges` (child -> parent)},
    the node itself at distance 0.

    One breadth-first search up the parent map per node: BFS reaches each ancestor first along a
    shortest path, and cycles cannot loop. Nodes only named by an edge are included too.
    """
    parents = parent_map(edges)
    everything = set(nodes) | set(parents)
    for ps in list(parents.values()):
        everything.update(ps)
    out: dict[str, dict[str, int]] = {}
    for node in sorted(everything):
        dist = {node: 0}
        frontier = [node]
        d = 0
        while frontier:
            d += 1
            nxt = []
            for cur in frontier:
                for up in parents.get(cur, ()):
                    if up not in dist:
                        dist[up] = d
                        nxt.append(up)
            frontier = nxt
        out[node] = dist
    return out


def transitive_closure(parents: dict[str, list[str]]) -> list[tuple[str, str, int]]:
    """(descendant, ancestor, shortest distance) for every node of `parents`, itself at 0.

    Rows are ordered by descendant, then distance, then ancestor id.
    """
    edges = [(c, p) for c, ps in parents.items() for p in ps]
    dist = ancestor_distances(parents, edges)
    return [
        (node, a, n)
        for node in sorted(dist)
        for a, n in sorted(dist[node].items(), key=lambda kv: (kv[1], kv[0]))
    ]
