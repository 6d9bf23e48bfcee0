"""What can be decided about a scenario without a search.

- A proof of no stuck state: if no thread ever waits for a completion or a
  fence, every stuck state has a thread blocked on a lock whose holder is
  itself blocked on a lock, or preempted by an interrupt that is: a chain of
  "holds L, waits for M" that must close into a cycle of the scenario's lock
  graph. The graph has an edge from every blocking lock a thread holds to
  every blocking lock it then waits for, and from every lock a thread holds
  where an interrupt of its CPU may start to every lock that interrupt takes.
  No cycle, no stuck state, nothing to search.
- Which violations can happen at all: a scenario with no node that can
  cause one needs no search for it either.
- Why a graph cycle cannot deadlock, once the search says it cannot: a gate
  lock held on every edge, a trylock that fails where the cycle would block,
  or contexts that never run together (an interrupt and the thread it
  cannot preempt there).
"""
from __future__ import annotations

import networkx as nx

from checker.interleave.semantics import is_blocking_lock
from checker.interleave.z3.rules import Rules
from checker.interleave.z3.threads import Node, Thread, Unfolded, cond_class
from model import ir

# The object verbs that can fail (checker/interleave/step.py).
HAZARDOUS_VERBS = frozenset({
    ("revocable", "map"), ("revocable", "attach"), ("revocable", "access"),
    ("memory", "access"), ("memory", "free"),
    ("refcounted", "access"), ("refcounted", "get"), ("refcounted", "free"),
    ("refcounted", "set_count")})


def scenario_lock_graph(unfolded: Unfolded) -> nx.DiGraph:
    """Edges from held locks to the locks a thread may then wait for. A lock no two
    threads contend for only ever blocks the thread that holds it already: a
    self-loop where that happens, nothing otherwise."""
    program = unfolded.program
    graph = nx.DiGraph()
    acquired: dict[int, set[str]] = {}
    for thread in unfolded.threads:
        mine = acquired.setdefault(thread.index, set())
        for node in thread.nodes:
            if not _blocking_acquire(program, node):
                continue
            lock = node.op.lock
            if _blocks_itself(node):
                graph.add_edge(lock, lock)
            if lock not in unfolded.contended:
                continue
            mine.add(lock)
            for held in _held_blocking(program, node):
                graph.add_edge(held, lock)
    for thread in unfolded.threads:
        if not thread.interrupt:
            continue
        for other in unfolded.others_on_cpu(thread):
            for node in other.nodes:
                if Rules.masks(node, thread):
                    continue
                for held in _held_blocking(program, node):
                    for lock in acquired[thread.index]:
                        graph.add_edge(held, lock)
    return graph


def _blocking_acquire(program: ir.Program, node: Node) -> bool:
    op = node.op
    return (isinstance(op, ir.Acquire) and is_blocking_lock(program, op.lock)
            and node.outcome(0).acquired)


def _blocks_itself(node: Node) -> bool:
    """The thread already holds the lock in a mode this acquisition waits for."""
    entries = [h for h in node.pre.held if h.lock == node.op.lock]
    if ir.Mode(node.op.mode) is ir.Mode.WRITE:
        return bool(entries)
    return any(h.read == 0 for h in entries)


def _held_blocking(program: ir.Program, node: Node) -> set[str]:
    return {h.lock for h in node.pre.held if is_blocking_lock(program, h.lock)}


def waits_anywhere(unfolded: Unfolded) -> bool:
    return any((isinstance(n.op, ir.StateOp) and n.op.verb == "wait")
               or (isinstance(n.op, ir.Grace) and n.op.phase == "end")
               or isinstance(n.op, ir.SleepUntil)
               for t in unfolded.threads for n in t.nodes)


def static_hazards(unfolded: Unfolded) -> bool:
    """Whether any node can cause a violation (the rules module's hazards, read statically)."""
    program = unfolded.program
    for thread in unfolded.threads:
        for node in thread.nodes:
            op = node.op
            if any(o.violation is not None for o in node.outcomes):
                return True
            if isinstance(op, ir.Put) or (isinstance(op, ir.TryState) and op.verb == "get"):
                return True
            if isinstance(op, ir.Assert) and cond_class(program, op.cond) == "shared":
                return True
            if isinstance(op, ir.StateOp) and op.verb != "disarm" and (
                    program.objects[op.obj].kind, op.verb) in HAZARDOUS_VERBS:
                return True
    return False


def cannot_get_stuck(unfolded: Unfolded) -> bool:
    """The theorem: lock-only blocking over an acyclic scenario lock graph."""
    if waits_anywhere(unfolded):
        return False
    return nx.is_directed_acyclic_graph(scenario_lock_graph(unfolded))


# --------------------------------------------------------------- why a cycle is refuted

def refutation_reason(unfolded: Unfolded, locks: tuple[str, ...], scenario: str) -> str:
    """A reason a graph cycle over `locks` (in order) cannot deadlock in this scenario."""
    program = unfolded.program
    classes = cycle_classes(program, locks)
    edges = [_edge_nodes(unfolded, classes[i], classes[(i + 1) % len(classes)])
             for i in range(len(classes))]
    if any(not edge for edge in edges):
        return f"{scenario} never takes every edge of the cycle"
    if _never_together(unfolded, edges):
        return "these contexts never run together"
    gate = _gate_lock(program, edges, set(classes))
    if gate is not None:
        return f"gate lock {gate} is held on every edge"
    if any(all(isinstance(node.op, ir.TryAcquire) for _, node in edge) for edge in edges):
        return "the trylock fails instead"
    names = [lock for lock in locks if program.locks[lock].lock_class in classes]
    if not any(lock in unfolded.contended for lock in names):
        return (f"nothing in {scenario} can block on {', '.join(sorted(set(names)))}: no thread "
                "takes one exclusively while another thread takes it too")
    return f"no interleaving of {scenario} deadlocks on this cycle (exhaustive search)"


def cycle_classes(program: ir.Program, locks: tuple[str, ...]) -> list[str]:
    """The lock classes of a cycle in order, instances of one class merged."""
    classes: list[str] = []
    for name in locks:
        lock_class = program.locks[name].lock_class
        if not classes or classes[-1] != lock_class:
            classes.append(lock_class)
    while len(classes) > 1 and classes[0] == classes[-1]:
        classes.pop()
    return classes


def _edge_nodes(unfolded: Unfolded, held_class: str, next_class: str):
    """Nodes taking a lock of `next_class` while holding one of `held_class`."""
    program = unfolded.program
    out = []
    for thread in unfolded.threads:
        for node in thread.nodes:
            op = node.op
            if not isinstance(op, (ir.Acquire, ir.TryAcquire)):
                continue
            if program.locks[op.lock].lock_class != next_class:
                continue
            if any(program.locks[h.lock].lock_class == held_class for h in node.pre.held):
                out.append((thread, node))
    return out


def _compatible(unfolded: Unfolded, a: tuple[Thread, Node], b: tuple[Thread, Node]) -> bool:
    (ta, na), (tb, nb) = a, b
    if ta.index == tb.index:
        return False
    if ta.cpu != tb.cpu or (not ta.interrupt and not tb.interrupt):
        return True
    return (tb.interrupt and not Rules.masks(na, tb)) or (ta.interrupt and not Rules.masks(nb, ta))


def _never_together(unfolded: Unfolded, edges) -> bool:
    for i in range(len(edges)):
        for j in range(i + 1, len(edges)):
            if not any(_compatible(unfolded, a, b) for a in edges[i] for b in edges[j]):
                return True
    return False


def _gate_lock(program: ir.Program, edges, cycle_classes: set[str]) -> str | None:
    candidates = None
    for edge in edges:
        for _, node in edge:
            held = {h.lock for h in node.pre.held
                    if is_blocking_lock(program, h.lock)
                    and program.locks[h.lock].lock_class not in cycle_classes}
            candidates = held if candidates is None else candidates & held
    for gate in sorted(candidates or ()):
        for edge in edges:
            if all(any(h.lock == gate and h.read == 0 for h in node.pre.held)
                   for _, node in edge):
                return gate
    return None
