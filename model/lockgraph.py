"""The lock dependency graph over lock classes (plain dicts; a networkx MultiDiGraph on demand).

An edge prev -> next is added the way lockdep's validate_chain() adds them:
check_deadlock() first (same-class nesting is either allowed, serialised by a
nest lock -- then no edge at all -- or a recursion bug), then check_prevs_add():
from the innermost checked lock held in the same irq context, continuing past
trylocks, never into a trylock. Each edge carries its provenance and its
lockdep dependency type: E/S for the held lock (exclusive / shared), R/N for
the new one (recursive reader / not).
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from model import ir
from model.walk import AcquireEvent, Held, WalkResult

# check_deadlock() outcomes.
NESTING_OK = "ok"              # no held lock of the same class, or a recursive read
NESTING_SERIALISED = "nested"  # the nest lock held earlier serialises it: no dependencies
NESTING_RECURSIVE = "recursive"  # "possible recursive locking detected"


@dataclass(frozen=True)
class Dependency:
    prev: str                  # class keys
    next: str
    type: str                  # "EN", "ER", "SN" or "SR"
    code: str                  # the thread code that created it
    context: ir.Context
    prev_lock: str
    next_lock: str
    prev_site: ir.Site
    site: ir.Site              # where `next` was acquired
    held: tuple[str, ...]      # every lock held at that point, outermost first
    prev_read: int = 0
    next_read: int = 0


def dependency_type(prev: Held, next_read: int) -> str:
    return ("E" if prev.read == 0 else "S") + ("R" if next_read == 2 else "N")


def check_deadlock(event: AcquireEvent) -> tuple[str, Held | None]:
    """lockdep's check_deadlock() for a validated (non-trylock, checked) acquisition.

    A held lock of the same class is fine when the new acquisition is a recursive
    read under a read; otherwise it is serialised only if the nest lock was met
    earlier in the held stack, and is a recursion bug if not."""
    if event.trylock or not event.check:
        return NESTING_OK, None
    nest_met = False
    for prev in event.held:
        if event.nest is not None and prev.lock == event.nest:
            nest_met = True
        if prev.lock_class != event.lock_class:
            continue
        if event.read == 2 and prev.read != 0:
            continue
        return (NESTING_SERIALISED if nest_met else NESTING_RECURSIVE), prev
    return NESTING_OK, None


def dependencies_of(event: AcquireEvent) -> list[Dependency]:
    if event.trylock or not event.check:
        return []
    if check_deadlock(event)[0] != NESTING_OK:
        return []
    out = []
    names = tuple(h.lock for h in event.held)
    for prev in reversed(event.held):
        if not prev.check:
            continue
        # A same-class prev here is a recursive read under a read (an SR self-loop):
        # it can never be part of a strong cycle, so it is left out of the graph.
        if prev.lock_class != event.lock_class:
            out.append(Dependency(
                prev.lock_class, event.lock_class, dependency_type(prev, event.read),
                event.code, event.context, prev.lock, event.lock, prev.site, event.site,
                names, prev.read, event.read))
        if not prev.trylock:
            break
    return out


@dataclass(frozen=True)
class LockDeps:
    """The lock graph as plain dicts, which is all the graph engine's rules read:
    `kinds` maps each class some path acquires to its lock kind (in the order
    first acquired); `edges` maps (prev, next, type) to every provenance, in code
    order -- the first is the one shown; `first_met` says when a walk of the paths
    in the order they are written meets each dependency first (path, acquisition),
    which is when lockdep, running them in that order, would add it."""

    kinds: dict[str, str]
    edges: dict[tuple[str, str, str], list[Dependency]]
    first_met: dict[tuple[str, str, str], tuple[int, int]]


def _written_order(program: ir.Program, walks: dict[str, WalkResult]) -> dict[str, int]:
    """Each walked code's place in the spec's text: what the spec imports (the
    prelude, a baseline) before its own text, as its `import` lines come first;
    ties, such as one path's instances, by name."""
    def place(code_id: str) -> tuple:
        span = program.codes[code_id].span
        return (span.file == program.file, span.file, span.line, span.col, code_id)
    return {code_id: index for index, code_id in enumerate(sorted(walks, key=place))}


def collect_dependencies(program: ir.Program, walks: dict[str, WalkResult]) -> LockDeps:
    kinds: dict[str, str] = {}
    edges: dict[tuple[str, str, str], list[Dependency]] = {}
    first_met: dict[tuple[str, str, str], tuple[int, int]] = {}
    written = _written_order(program, walks)
    seen: set[tuple] = set()
    for code_id in sorted(walks):
        for step, event in enumerate(walks[code_id].acquires):
            if event.lock_class not in kinds:
                kinds[event.lock_class] = program.locks[event.lock].kind
            for dep in dependencies_of(event):
                key = (dep.prev, dep.next, dep.type)
                met = (written[code_id], step)
                if key not in first_met or met < first_met[key]:
                    first_met[key] = met
                # The same op reached in several states gives the same provenance.
                mark = (dep.prev, dep.next, dep.type, dep.code, id(dep.site), id(dep.prev_site))
                if mark not in seen:
                    seen.add(mark)
                    edges.setdefault(key, []).append(dep)
    return LockDeps(kinds, edges, first_met)


def build_lock_graph(program: ir.Program, walks: dict[str, WalkResult]) -> nx.MultiDiGraph:
    """The same as a networkx MultiDiGraph (for drawing and for other tools): nodes
    are classes (attribute `kind`), one edge per class pair and dependency type,
    keyed by the type, with `dep` (the provenance shown) and `deps` (all)."""
    deps = collect_dependencies(program, walks)
    graph = nx.MultiDiGraph()
    graph.add_nodes_from((cls, {"kind": kind}) for cls, kind in deps.kinds.items())
    graph.add_edges_from((prev, nxt, dep_type, {"type": dep_type, "dep": found[0], "deps": found})
                         for (prev, nxt, dep_type), found in deps.edges.items())
    return graph


def used_classes(walks: dict[str, WalkResult]) -> set[str]:
    return {event.lock_class for walk in walks.values() for event in walk.acquires}
