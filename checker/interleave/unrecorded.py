"""Lock cycles that lockdep's graph does not record, put to the interleaving engine.

lockdep adds a dependency from the nearest held lock only (check_prevs_add()
stops at the first held lock that is not a trylock) and trusts transitivity
for the locks held further out. A recursive read breaks that trust: a thread
holding A takes D as a recursive read, then B, so lockdep records A -> D and
D -> B; the path A -> D -> B is not strong (-(ER)-> then -(SN)->), and B -> A
taken elsewhere closes no cycle lockdep reports, yet the thread holding A
waits for B while B's holder waits for A.

The graph engine keeps lockdep's verdict. So that a PASS still means no
deadlock, every strongly connected component of the held-while-taken graph
(an edge from every blocking lock held to every blocking lock then waited
for) that no graph cycle covers becomes a cycle question of its own: a
`deadlock` finding of the interleaving engine, `potential` until decided,
dropped when an exhaustive search of its whole world refutes it.
"""
from __future__ import annotations

import networkx as nx

from checker.findings import POTENTIAL, Finding
from checker.graph.explain import circular_rows, user_span
from checker.interleave.semantics import is_blocking_lock
from checker.interleave.worlds import SpecFacts
from model import ir

REASON = ("lockdep's graph does not report this cycle: it records a dependency from the "
          "nearest held lock only, and here a lock held further out closes the cycle "
          "(through a recursive read, or a path lockdep does not count as strong); no "
          "interleaving has decided it yet")


def unrecorded_cycles(program: ir.Program, findings: list[Finding],
                      facts: SpecFacts) -> list[Finding]:
    """A `deadlock` question for each component no graph deadlock covers."""
    graph, sites = _held_while_waiting(program, facts)
    covered: set[str] = set()
    for finding in findings:
        if finding.code == "deadlock" and finding.engine == "graph":
            for name in finding.locks:
                if name in program.locks:
                    lock_class = program.locks[name].lock_class
                    covered |= facts.components.get(lock_class, {lock_class})
    out = []
    for component in sorted((sorted(c) for c in nx.strongly_connected_components(graph)
                             if len(c) > 1)):
        if covered.intersection(component):
            continue
        cycle = _shortest_cycle(graph.subgraph(component))
        out.append(_finding(program, cycle, sites))
    return out


def _held_while_waiting(program: ir.Program, facts: SpecFacts):
    """Class graph: held class -> class then taken (waited for), blocking locks only,
    with the first place each edge is taken and every code that takes it."""
    locks = program.locks
    graph = nx.DiGraph()
    sites: dict[tuple[str, str], tuple[ir.Site, set[str]]] = {}
    for code in sorted(facts.walks):
        for event in facts.walks[code].acquires:
            if event.trylock or not is_blocking_lock(program, event.lock):
                continue
            after = locks[event.lock].lock_class
            for held in event.held:
                before = locks[held.lock].lock_class
                if before == after or not is_blocking_lock(program, held.lock):
                    continue
                graph.add_edge(before, after)
                site, codes = sites.setdefault((before, after), (event.site, set()))
                codes.add(code)
    return graph, sites


def _shortest_cycle(component: nx.DiGraph) -> list[str]:
    """A shortest cycle of the component, the first in sorted edge order."""
    best: list[str] | None = None
    for before, after in sorted(component.edges):
        cycle = [before] + nx.shortest_path(component, after, before)[:-1]
        if best is None or len(cycle) < len(best):
            best = cycle
    assert best is not None       # a strongly connected component of two or more
    return best


def _finding(program: ir.Program, cycle: list[str], sites) -> Finding:
    lock_of = {}
    for name in sorted(program.locks):
        lock_of.setdefault(program.locks[name].lock_class, name)
    pairs = list(zip(cycle, cycle[1:] + cycle[:1]))
    codes = sorted(set().union(*(sites[pair][1] for pair in pairs)))
    order = " -> ".join(cycle + cycle[:1])
    names = [lock_of[c] for c in cycle]
    # Told as lockdep tells a cycle: the last edge closes it.
    table = circular_rows(names[-1], names[-2], names[0])
    return Finding("deadlock", f"circular lock dependency {order} among locks held together",
                   user_span(sites[pairs[-1]][0]), "interleaving", status=POTENTIAL,
                   locks=tuple(names), paths=tuple(codes), unsafe_scenario=table,
                   reason=REASON)
