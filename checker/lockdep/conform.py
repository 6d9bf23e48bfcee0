"""A running kernel's lock dependencies (`/proc/lockdep`) held against a spec's design.

The design's graph is the graph engine's: every path walked with lockdep's
rules (model.walk, model.lockgraph), so a design dependency is exactly an
edge `lockspec check` validates. The runtime graph is the dump's direct
dependencies (distance 1, which is all /proc/lockdep prints) between classes
the spec names; every other class is ignored and counted.

A runtime class maps to a design class by name: a lock's `lockdep "..."`
name, else its class name. `NAME/N` (a subclass) maps to the class of the
lock named `NAME/N` when the spec names one, else to subclass N of the lock
named `NAME`, the graph engine's `class/N` node: that is what
`mutex_lock_nested(l, N)` makes in a spec.

Each runtime-only edge is reported once, under the strongest thing it does:
a cycle with the design (`union-cycle`), else an acquisition against the
declared order (`runtime-order-violation`), else a dependency the design
does not have (`design-drift`). Design edges the run never made are
`coverage` notes.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import networkx as nx

from checker.findings import CONFIRMED, POTENTIAL, Finding, Link
from checker.graph.explain import circular_rows, user_span
from checker.graph.rules import declared_order
from checker.lockdep.dump import Chain, LockdepDump, split_name
from model import ir
from model.lockgraph import build_lock_graph
from model.span import Span
from model.walk import walk_program

ENGINE = "conform"


@dataclass(frozen=True)
class DesignEdge:
    prev: str                   # design class keys ("X" or "X/1")
    next: str
    span: Span                  # where the design's path takes `next` holding `prev`
    path: str


@dataclass(frozen=True)
class RuntimeEdge:
    prev: str                   # design class keys
    next: str
    prev_name: str              # lockdep's names
    next_name: str
    span: Span                  # the ` -> ` line of the dump


@dataclass(frozen=True)
class Conformance:
    findings: tuple[Finding, ...]
    classes_named: int          # runtime classes the spec names
    classes_ignored: int        # runtime classes it does not
    runtime_edges: int          # runtime dependencies between named classes
    design_edges: int
    ambiguous: tuple[str, ...]  # lockdep names two of the spec's classes claim


def class_names(program: ir.Program) -> tuple[dict[str, str], tuple[str, ...]]:
    """lockdep name -> design class key, and the names claimed by two classes."""
    claims: dict[str, set[str]] = defaultdict(set)
    for lock in program.locks.values():
        claims[lock.lockdep or lock.lock_class].add(lock.lock_class)
    names = {name: min(classes) for name, classes in claims.items()}
    return names, tuple(sorted(name for name, classes in claims.items() if len(classes) > 1))


def design_class(runtime_name: str, names: dict[str, str]) -> str | None:
    if runtime_name in names:
        return names[runtime_name]
    parts = split_name(runtime_name)
    base = names.get(parts.unversioned)
    if base is None:
        return None
    return base if parts.subclass == 0 else f"{base}/{parts.subclass}"


def design_edges(program: ir.Program) -> dict[tuple[str, str], DesignEdge]:
    graph = build_lock_graph(program, walk_program(program))
    edges: dict[tuple[str, str], DesignEdge] = {}
    for prev, nxt, data in graph.edges(data=True):
        dep = data["dep"]
        edges.setdefault((prev, nxt), DesignEdge(prev, nxt, user_span(dep.site), dep.code))
    return edges


def runtime_edges(dump: LockdepDump, names: dict[str, str]) -> tuple[dict, int, int]:
    mapped: dict[str, str | None] = {}
    for cls in dump.classes:
        mapped[cls.name] = design_class(cls.name, names)
    edges: dict[tuple[str, str], RuntimeEdge] = {}
    for dep in dump.dependencies:
        prev = mapped.get(dep.prev) if dep.prev in mapped else design_class(dep.prev, names)
        nxt = mapped.get(dep.next) if dep.next in mapped else design_class(dep.next, names)
        if prev is None or nxt is None or prev == nxt:
            continue
        span = Span(dump.path, dep.line, 1, dep.line, 5 + len(dep.next))
        edges.setdefault((prev, nxt), RuntimeEdge(prev, nxt, dep.prev, dep.next, span))
    named = sum(1 for value in mapped.values() if value is not None)
    return edges, named, len(mapped) - named


def conform(program: ir.Program, dump: LockdepDump,
            chains: tuple[Chain, ...] = (), chains_path: str = "") -> Conformance:
    names, ambiguous = class_names(program)
    design = design_edges(program)
    runtime, named, ignored = runtime_edges(dump, names)
    evidence = _chain_evidence(chains, names, chains_path)
    locks = _lock_of_class(program)
    extra = {key: edge for key, edge in runtime.items() if key not in design}
    findings: list[Finding] = []
    reported: set[tuple[str, str]] = set()
    for cycle in _union_cycles(design, extra):
        findings.append(_cycle_finding(cycle, design, extra, locks, evidence))
        reported |= {key for key in zip(cycle, cycle[1:] + cycle[:1]) if key in extra}
    order, order_spans = declared_order(program)
    after = {cls: nx.descendants(order, cls) for cls in order}
    for key in sorted(extra):
        if key in reported:
            continue
        edge = extra[key]
        prev_base, next_base = _base(edge.prev), _base(edge.next)
        if prev_base in after.get(next_base, ()):
            findings.append(_order_finding(edge, locks, order, order_spans, evidence))
        else:
            findings.append(_drift_finding(edge, locks, evidence))
    for key in sorted(design):
        if key not in runtime:
            findings.append(_coverage_finding(design[key], locks))
    findings.sort(key=Finding.sort_key)
    return Conformance(tuple(findings), named, ignored, len(runtime), len(design), ambiguous)


# ------------------------------------------------------------------ the findings

def _base(cls: str) -> str:
    return cls.split("/", 1)[0]


def _lock_of_class(program: ir.Program) -> dict[str, ir.Lock]:
    out: dict[str, ir.Lock] = {}
    for name in sorted(program.locks):
        out.setdefault(program.locks[name].lock_class, program.locks[name])
    return out


def _decl(cls: str, locks: dict[str, ir.Lock]) -> Span:
    return locks[_base(cls)].span


def _named(cls: str, locks: dict[str, ir.Lock]) -> str:
    lock = locks[_base(cls)]
    return lock.name + cls[len(_base(cls)):]


def _runtime_link(edge: RuntimeEdge, evidence: dict) -> list[Link]:
    links = [Link(f"the running kernel took `{edge.next_name}` holding `{edge.prev_name}`",
                  edge.span)]
    seen = evidence.get((edge.prev, edge.next))
    if seen is not None:
        links.append(Link(f"in a chain of /proc/lockdep_chains (irq_context {seen[0]})",
                          seen[1]))
    return links


def _drift_finding(edge: RuntimeEdge, locks, evidence) -> Finding:
    a, b = _named(edge.prev, locks), _named(edge.next, locks)
    message = (f"the running kernel takes `{b}` while holding `{a}` ({edge.prev_name} -> "
               f"{edge.next_name}); no path of the design does")
    return Finding("design-drift", message, _decl(edge.next, locks), ENGINE, status=CONFIRMED,
                   locks=(a, b), chain=tuple(_runtime_link(edge, evidence) + [
                       Link(f"`{a}` declared here", _decl(edge.prev, locks))]))


def _order_finding(edge: RuntimeEdge, locks, order, spans, evidence) -> Finding:
    a, b = _named(edge.prev, locks), _named(edge.next, locks)
    first, second = _base(edge.next), _base(edge.prev)
    path = nx.shortest_path(order, first, second)
    span = spans[(path[0], path[1])]
    message = (f"the running kernel takes `{b}` while holding `{a}` ({edge.prev_name} -> "
               f"{edge.next_name}); the declared order puts `{b}` before `{a}`")
    return Finding("runtime-order-violation", message, span, ENGINE, status=CONFIRMED,
                   locks=(a, b), chain=tuple(_runtime_link(edge, evidence) + [
                       Link("the declared order", span)]))


def _cycle_finding(cycle: list[str], design, extra, locks, evidence) -> Finding:
    names = [_named(cls, locks) for cls in cycle]
    chain: list[Link] = []
    for prev, nxt in zip(cycle, cycle[1:] + cycle[:1]):
        if (prev, nxt) in design:
            edge = design[(prev, nxt)]
            chain.append(Link(f"{_named(prev, locks)} -> {_named(nxt, locks)}: design path "
                              f"{edge.path}", edge.span))
        else:
            chain += _runtime_link(extra[(prev, nxt)], evidence)
    runtime = [(p, n) for p, n in zip(cycle, cycle[1:] + cycle[:1]) if (p, n) in extra]
    first = extra[runtime[0]]
    message = (f"lock cycle {' -> '.join(names + names[:1])} exists only with the running "
               f"kernel's {len(runtime)} dependenc{'y' if len(runtime) == 1 else 'ies'} "
               "added to the design's")
    scenario = _scenario(cycle, locks)
    return Finding("union-cycle", message, _decl(first.next, locks), ENGINE, status=POTENTIAL,
                   locks=tuple(names), chain=tuple(chain), unsafe_scenario=scenario,
                   reason="/proc/lockdep records no read/write types or interleavings: "
                          "the cycle is in the class graph")


def _scenario(cycle: list[str], locks) -> tuple[tuple[int, str], ...]:
    """lockdep's CPU0/CPU1 table, as it would print it had the design's paths run
    first: the cycle's last edge (the runtime one) closes it."""
    names = [_named(cls, locks) for cls in cycle]
    return circular_rows(names[-1], names[-2] if len(names) > 1 else names[0], names[0])


def _coverage_finding(edge: DesignEdge, locks) -> Finding:
    a, b = _named(edge.prev, locks), _named(edge.next, locks)
    return Finding("coverage", f"the design's dependency {a} -> {b} (path {edge.path}) never "
                   "appeared in the running kernel's /proc/lockdep", edge.span, ENGINE,
                   status=CONFIRMED, locks=(a, b), paths=(edge.path,))


# ------------------------------------------------------------------ graphs

def _union_cycles(design: dict, extra: dict) -> list[list[str]]:
    """One shortest cycle through each runtime-only edge that closes one, each cycle
    once (as a set of edges), ending with the runtime edge that closed it."""
    union = nx.DiGraph()
    union.add_edges_from(sorted(list(design) + list(extra)))
    cycles: dict[frozenset, list[str]] = {}
    for prev, nxt in sorted(extra):
        try:
            cycle = nx.shortest_path(union, nxt, prev)
        except nx.NetworkXNoPath:
            continue
        cycles.setdefault(frozenset(zip(cycle, cycle[1:] + cycle[:1])), cycle)
    return [cycles[key] for key in sorted(cycles, key=lambda k: cycles[k])]


def _chain_evidence(chains: tuple[Chain, ...], names: dict[str, str], path: str) -> dict:
    """(prev, next) design classes -> (irq_context, span) of the first chain in which
    `next` was taken right inside `prev`: the pair lockdep's check_prevs_add() links.
    Only neighbours count, which keeps this linear in the size of a real dump."""
    out: dict = {}
    for chain in chains:
        classes = [design_class(name, names) for name in chain.classes]
        for prev, nxt in zip(classes, classes[1:]):
            if prev is not None and nxt is not None and nxt != prev:
                out.setdefault((prev, nxt), (chain.irq_context,
                                             Span(path, chain.line, 1, chain.line, 2)))
    return out
