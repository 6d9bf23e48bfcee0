"""The graph engine: lockdep's rules over every path of a spec, order-independent."""
from __future__ import annotations

from collections import deque

import networkx as nx

from checker.findings import CONFIRMED, POTENTIAL, EngineRun, Finding, Link
from model import ir
from model.lockgraph import Dependency, build_lock_graph
from model.walk import WalkResult, walk_program


def shortest_cycle(graph: nx.MultiDiGraph, component: set[str]) -> list[Dependency]:
    """The shortest cycle inside one strongly connected component, by BFS from each node."""
    best: list[Dependency] | None = None
    for start in sorted(component):
        parents: dict[str, tuple[str, Dependency] | None] = {start: None}
        queue = deque([start])
        found = None
        while queue and found is None:
            node = queue.popleft()
            for _, succ, data in sorted(graph.out_edges(node, data=True),
                                        key=lambda e: (e[1], str(e[2]["dep"].site))):
                if succ not in component:
                    continue
                if succ == start:
                    found = (node, data["dep"])
                    break
                if succ not in parents:
                    parents[succ] = (node, data["dep"])
                    queue.append(succ)
        if found is None:
            continue
        chain = [found[1]]
        node = found[0]
        while parents[node] is not None:
            prev, dep = parents[node]
            chain.append(dep)
            node = prev
        chain.reverse()
        if best is None or len(chain) < len(best):
            best = chain
    return best or []


def deadlock_findings(graph: nx.MultiDiGraph) -> list[Finding]:
    findings = []
    for component in nx.strongly_connected_components(graph):
        nodes = set(component)
        if len(nodes) == 1:
            node = next(iter(nodes))
            if not graph.has_edge(node, node):
                continue
        chain = shortest_cycle(graph, nodes)
        if chain:
            findings.append(_cycle_finding(chain))
    return findings


def _cycle_finding(chain: list[Dependency]) -> Finding:
    locks = tuple(dep.prev_lock for dep in chain)
    order = " -> ".join(locks + (locks[0],))
    links = tuple(Link(f"{dep.prev_lock} -> {dep.next_lock} in {dep.code} "
                       f"(holding {', '.join(dep.held)})", dep.site.span) for dep in chain)
    last = chain[-1]
    table = _abba_table(chain)
    return Finding("deadlock", f"lock cycle {order}", last.site.span, "graph",
                   status=POTENTIAL, locks=locks,
                   paths=tuple(sorted({dep.code for dep in chain})), chain=links,
                   unsafe_scenario=table)


def _abba_table(chain: list[Dependency]) -> tuple[tuple[int, str], ...]:
    """lockdep's "Possible unsafe locking scenario": CPU i holds the i-th lock of the
    cycle, then every CPU asks for the next one."""
    holds = tuple((cpu, f"lock({dep.prev_lock});") for cpu, dep in enumerate(chain))
    wants = tuple((cpu, f"lock({dep.next_lock});") for cpu, dep in enumerate(chain))
    return holds + wants


def problem_findings(walks: dict[str, WalkResult]) -> list[Finding]:
    findings = []
    for code_id in sorted(walks):
        for problem in walks[code_id].problems:
            chain = tuple(Link(f"{h.lock} acquired here", h.site.span) for h in problem.held)
            findings.append(Finding(problem.kind, problem.message, problem.site.span, "graph",
                                    status=CONFIRMED, locks=problem.locks,
                                    paths=(code_id,), chain=chain))
    return findings


def run_graph_engine(program: ir.Program) -> tuple[list[Finding], EngineRun]:
    walks = walk_program(program)
    graph = build_lock_graph(program, walks)
    findings = deadlock_findings(graph) + problem_findings(walks)
    truncated = any(w.truncated for w in walks.values())
    detail = (f"{graph.number_of_nodes()} lock classes, {graph.number_of_edges()} dependencies "
              f"over {len(walks)} threads")
    outcome = "inconclusive" if truncated else "complete"
    return findings, EngineRun("graph", outcome, detail, exhaustive=not truncated)
