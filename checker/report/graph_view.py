"""The lock graph as reviewers see it: lock classes, dependency edges, the bad cycle marked.

Built from the program alone (model.walk + model.lockgraph), with the locks
of the findings marked: a deadlock's cycle edges, the locks of the others.
A kernel-scale graph is cut down to the neighbourhood of what is marked, and
the view says how much it left out. Also renders the view as Graphviz DOT
and as a plain edge list for `lockspec graph`.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from checker.findings import Finding
from model import ir
from model.lockgraph import build_lock_graph
from model.span import display_name
from model.walk import walk_program

MAX_NODES = 120
CYCLE_CODES = ("deadlock", "recursive-locking")


@dataclass(frozen=True)
class EdgeView:
    source: str
    target: str
    types: tuple[str, ...]            # lockdep dependency types: EN, ER, SN, SR
    origins: tuple[str, ...]          # "path at file:line (holding ...)"


@dataclass(frozen=True)
class GraphView:
    nodes: tuple[tuple[str, str], ...]                 # (class, kind), sorted
    edges: tuple[EdgeView, ...]                        # sorted by (source, target)
    marked_nodes: frozenset[str]
    marked_edges: frozenset[tuple[str, str]]
    omitted_nodes: int = 0

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.nodes]


def lock_graph(program: ir.Program) -> nx.MultiDiGraph:
    return build_lock_graph(program, walk_program(program))


def lock_class(program: ir.Program, name: str) -> str:
    lock = program.locks.get(name)
    return lock.lock_class if lock is not None else name


def marked_parts(program: ir.Program,
                 findings: list[Finding]) -> tuple[set[str], set[tuple[str, str]]]:
    """Nodes and edges to draw in colour: each cycle closed, other findings' locks in order."""
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for finding in findings:
        classes = [lock_class(program, name) for name in finding.locks]
        nodes.update(classes)
        pairs = list(zip(classes, classes[1:]))
        if finding.code in CYCLE_CODES and classes:
            pairs.append((classes[-1], classes[0]))
        edges.update(pairs)
    return nodes, edges


def graph_view(program: ir.Program, findings: list[Finding],
               max_nodes: int = MAX_NODES) -> GraphView:
    graph = lock_graph(program)
    marked_nodes, marked_edges = marked_parts(program, findings)
    marked_edges = {(u, v) for u, v in marked_edges if graph.has_edge(u, v)}
    # The prelude declares every kernel lock; one this spec never takes is noise.
    keep = {node for node in graph.nodes if graph.degree(node) or node in marked_nodes
            or _declared_by_user(program, node)}
    candidates = len(keep)
    if len(keep) > max_nodes:
        keep = _neighbourhood(graph.subgraph(keep), marked_nodes & keep, max_nodes)
    nodes = tuple(sorted((name, str(graph.nodes[name].get("kind", ""))) for name in keep))
    edges = tuple(_edge_view(graph, u, v) for u, v in sorted({(u, v) for u, v in graph.edges()
                                                             if u in keep and v in keep}))
    return GraphView(nodes, edges, frozenset(marked_nodes & keep), frozenset(marked_edges),
                     candidates - len(keep))


def _declared_by_user(program: ir.Program, lock_class_name: str) -> bool:
    return any(lock.lock_class == lock_class_name
               and not display_name(lock.span.file).startswith("<")
               for lock in program.locks.values())


def _neighbourhood(graph: nx.MultiDiGraph, seeds: set[str], limit: int) -> set[str]:
    """The marked nodes and their neighbours, breadth first, up to `limit` nodes."""
    keep: list[str] = sorted(seeds)[:limit]
    frontier = list(keep)
    undirected = graph.to_undirected(as_view=True)
    while frontier and len(keep) < limit:
        nxt = []
        for node in frontier:
            for neighbour in sorted(undirected.neighbors(node)):
                if neighbour not in keep and len(keep) < limit:
                    keep.append(neighbour)
                    nxt.append(neighbour)
        frontier = nxt
    return set(keep)


def _edge_view(graph: nx.MultiDiGraph, source: str, target: str) -> EdgeView:
    types, origins = set(), set()
    for data in graph.get_edge_data(source, target).values():
        dep = data["dep"]
        types.add(dep.type)
        span = dep.site.span
        origins.add(f"{dep.code} at {display_name(span.file)}:{span.line} "
                    f"(holding {', '.join(dep.held)})")
    return EdgeView(source, target, tuple(sorted(types)), tuple(sorted(origins)))


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(view: GraphView, title: str = "") -> str:
    out = ["digraph lockspec {", f"  label={_dot_id(title)};" if title else "  // lock graph",
           "  rankdir=TB;", '  node [shape=box, style=rounded, fontname="monospace"];']
    for name, kind in view.nodes:
        colour = ', color=red, fontcolor=red, penwidth=2' if name in view.marked_nodes else ""
        label = _dot_id(name)[:-1] + "\\n" + _dot_id(kind)[1:]   # DOT's centred line break
        out.append(f"  {_dot_id(name)} [label={label}{colour}];")
    for edge in view.edges:
        colour = (", color=red, penwidth=2" if (edge.source, edge.target) in view.marked_edges
                  else "")
        tooltip = "; ".join(edge.origins)
        out.append(f"  {_dot_id(edge.source)} -> {_dot_id(edge.target)} "
                   f"[label={_dot_id('/'.join(edge.types))}, tooltip={_dot_id(tooltip)}{colour}];")
    if view.omitted_nodes:
        out.append(f"  // {view.omitted_nodes} lock classes far from the findings are not shown")
    out.append("}")
    return "\n".join(out) + "\n"


def render_edge_list(view: GraphView) -> str:
    out = [f"{len(view.nodes)} lock classes, {len(view.edges)} dependencies"
           + (f" ({view.omitted_nodes} classes not shown)" if view.omitted_nodes else "")]
    for edge in view.edges:
        mark = "  <-- cycle" if (edge.source, edge.target) in view.marked_edges else ""
        out.append(f"{edge.source} -> {edge.target} [{'/'.join(edge.types)}]{mark}")
        out += [f"    {origin}" for origin in edge.origins]
    return "\n".join(out) + "\n"
