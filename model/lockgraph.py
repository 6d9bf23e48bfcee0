"""The lock dependency graph: a networkx MultiDiGraph over lock classes.

An edge prev -> next is added the way lockdep's check_prevs_add() adds them:
from the innermost checked lock held in the same irq context, continuing past
trylocks, never into a trylock. Each edge carries its provenance and its
lockdep dependency type (E/S for the held lock, R/N for the new one).
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from model import ir
from model.walk import AcquireEvent, Held, WalkResult


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


def dependency_type(prev: Held, next_read: int) -> str:
    return ("E" if prev.read == 0 else "S") + ("R" if next_read == 2 else "N")


def dependencies_of(event: AcquireEvent) -> list[Dependency]:
    if event.trylock or not event.check:
        return []
    if event.nest is not None and any(h.lock == event.nest for h in event.held) and any(
            h.lock_class == event.lock_class for h in event.held):
        return []  # check_deadlock() returned 2: the nest lock serialises the nesting
    out = []
    for prev in reversed(event.held):
        if not prev.check:
            continue
        out.append(Dependency(
            prev.lock_class, event.lock_class, dependency_type(prev, event.read), event.code,
            event.context, prev.lock, event.lock, prev.site, event.site,
            tuple(h.lock for h in event.held)))
        if not prev.trylock:
            break
    return out


def build_lock_graph(program: ir.Program, walks: dict[str, WalkResult]) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for lock in program.locks.values():
        graph.add_node(lock.lock_class, kind=lock.kind)
    for code_id in sorted(walks):
        for event in walks[code_id].acquires:
            if event.lock_class not in graph:
                graph.add_node(event.lock_class, kind=program.locks[event.lock].kind)
            for dep in dependencies_of(event):
                key = (dep.type, dep.code, dep.site, dep.prev_site)
                if not graph.has_edge(dep.prev, dep.next, key):
                    graph.add_edge(dep.prev, dep.next, key=key, dep=dep, type=dep.type)
    return graph
