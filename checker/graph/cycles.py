"""Deadlocks: closed *strong* dependency paths in the lock class graph.

lockdep-design's Lemma: a closed path is a deadlock possibility iff it is
strong, i.e. no two consecutive edges are -(xR)-> then -(Sx)-> (a recursive
reader is only blocked by a write *holder*). check_noncircular() searches
with `only_xr` marking the nodes entered through an -(xR)-> edge; here the
search runs on the product graph of (class, entered-through-xR) states, so a
cycle of states is exactly a closed strong path, wrap-around included, and
the verdict does not depend on the order edges were added (lockdep marks a
class visited once, whichever way it was reached first).

Only strongly connected components of the class graph are expanded; each
strong component of the product graph gets one witness, a shortest cycle
found breadth-first (never find_cycle, never an enumeration of cycles).

The verdict does not depend on the order of the paths; the way a cycle is told
does. lockdep reports a cycle when it adds the dependency that closes it, and
prints its CPU0/CPU1 scenario from that dependency; here the witness ends with
its edge that the walk of the spec, in the order the paths are written, found
last, so a spec that runs its paths in the kernel's order reads like its splat.
"""
from __future__ import annotations

from collections import deque

import networkx as nx

from checker.findings import POTENTIAL, Finding
from checker.graph.explain import chain_exists, circular_scenario, dependency_link, user_span
from model.lockgraph import Dependency, LockDeps

EdgeTypes = dict[tuple[str, str], dict[str, Dependency]]
# When the walk of the paths, in written order, first met each (prev, next, type).
FirstMet = dict[tuple[str, str, str], tuple[int, int]]
# Components up to this many states get a witness searched from every state.
EXHAUSTIVE_WITNESS_STATES = 256


def edge_types_of(deps: LockDeps) -> EdgeTypes:
    """For each class pair, its dependency types, each with the provenance shown,
    grouped by the earlier class in first-acquired order; read straight from the
    plain-dict graph rather than a networkx graph of 50,000 edges."""
    grouped: dict[str, dict[str, dict[str, Dependency]]] = {cls: {} for cls in deps.kinds}
    for (prev, nxt, dep_type), found in deps.edges.items():
        grouped.setdefault(prev, {}).setdefault(nxt, {})[dep_type] = found[0]
    return {(prev, nxt): by_type for prev, successors in grouped.items()
            for nxt, by_type in successors.items()}


def allowed(dep_type: str, entered_by_xr: bool) -> bool:
    """-(xR)-> followed by -(Sx)-> is not a strong path."""
    return not (entered_by_xr and dep_type[0] == "S")


def strong_cycles(types: EdgeTypes, discovered: FirstMet
                  ) -> list[list[Dependency]]:
    class_graph = nx.DiGraph()
    class_graph.add_edges_from(types)
    cycles: list[list[Dependency]] = []
    seen: set[frozenset] = set()
    components = sorted(sorted(c) for c in nx.strongly_connected_components(class_graph)
                        if len(c) > 1)
    for component in components:
        product = _product_graph(types, set(component))
        for states in sorted(sorted(c) for c in nx.strongly_connected_components(product)
                             if len(c) > 1):
            chain = _witness(product, states, types, discovered)
            signature = frozenset((d.prev, d.next) for d in chain)
            if chain and signature not in seen:
                seen.add(signature)
                cycles.append(chain)
    return cycles


def _product_graph(types: EdgeTypes, members: set[str]) -> nx.DiGraph:
    product = nx.DiGraph()
    for (prev, nxt), by_type in types.items():
        if prev not in members or nxt not in members:
            continue
        for entered_by_xr in (False, True):
            for dep_type in sorted(by_type):
                if allowed(dep_type, entered_by_xr):
                    target = (nxt, dep_type[1] == "R")
                    source = (prev, entered_by_xr)
                    if not product.has_edge(source, target):
                        product.add_edge(source, target, type=dep_type)
    return product


def _witness(product: nx.DiGraph, states: list, types: EdgeTypes,
             discovered: FirstMet) -> list[Dependency]:
    """A shortest cycle of the component, breadth-first from each of its states (from
    the smallest only, in a component too large for that), ending with the edge that
    closed it (the one discovered last), whichever state the search began at."""
    members = set(states)
    starts = states if len(states) <= EXHAUSTIVE_WITNESS_STATES else states[:1]
    best: list | None = None
    for start in starts:
        walk = _cycle_through(product, members, start, None if best is None else len(best))
        if walk is not None and (best is None or len(walk) < len(best)):
            best = walk
    if best is None:
        return []
    chain = [types[(source[0], target[0])][product.edges[source, target]["type"]]
             for source, target in zip(best, best[1:])]
    closing = max(range(len(chain)), key=lambda i: _discovered_at(chain[i], discovered))
    return chain[closing + 1:] + chain[:closing + 1]


def _discovered_at(dep: Dependency, discovered: FirstMet
                   ) -> tuple[int, int]:
    return discovered[(dep.prev, dep.next, dep.type)]


def _cycle_through(product: nx.DiGraph, members: set, start, shorter_than: int | None):
    """The states of a shortest cycle through `start` (start repeated at the end)."""
    parent: dict = {start: None}
    depth = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if shorter_than is not None and depth[node] + 2 >= shorter_than:
            return None
        for succ in sorted(product.successors(node)):
            if succ not in members:
                continue
            if succ == start:
                path = []
                while node is not None:
                    path.append(node)
                    node = parent[node]
                return path[::-1] + [start]
            if succ not in parent:
                parent[succ] = node
                depth[succ] = depth[node] + 1
                queue.append(succ)
    return None


def deadlock_findings(types: EdgeTypes, discovered: FirstMet
                      ) -> list[Finding]:
    return [_cycle_finding(chain) for chain in strong_cycles(types, discovered)]


def _cycle_finding(chain: list[Dependency]) -> Finding:
    classes = [dep.prev for dep in chain]
    order = " -> ".join(classes + [classes[0]])
    message = f"circular lock dependency {order}"
    extra = chain_exists(chain)
    if extra:
        message += f" ({extra})"
    locks = tuple(dict.fromkeys(name for dep in chain for name in (dep.prev_lock, dep.next_lock)))
    return Finding(
        "deadlock", message, user_span(chain[-1].site), "graph", status=POTENTIAL,
        locks=locks, paths=tuple(sorted({dep.code for dep in chain})),
        chain=tuple(dependency_link(dep) for dep in chain),
        unsafe_scenario=circular_scenario(chain),
        reason="a closed strong path in the lock graph; no interleaving has decided it yet")
