"""The world a lock cycle is searched in when no scenario of the spec covers it.

A refutation is only as good as the threads it searched. A cycle over lock
classes K can deadlock with the help of threads that are not on it: a
writer queued on a read-held rwsem, a second instance of a path, an
interrupt on the CPU of a thread that holds one of its locks, a thread that
holds a gate lock or sets a flag the cycle's paths read. So the generated
scenario (the cycle's *world*) is closed under sharing:

- its codes are every top-level code (a path instance, not work another code
  spawns: that runs when spawned) that touches a lock of K, transitively
  through its spawned work, and every top-level code that shares a lock or
  an object with a code already in, until nothing changes;
- every process-context code runs as many copies as the cycle has edges it
  can take, plus one;
- every interrupt-context code runs once on a CPU of its own and once on the
  CPU of each process-context thread.

A smaller world (one copy of each path per edge it takes, interrupts on the
first copy only) is searched first: it confirms most cycles with a witness
that is easy to read. It, or a world over MAX_WORLD_THREADS threads, can
confirm a cycle but never refute it. docs/semantics.md states the rule.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from checker.interleave.explore import footprints
from checker.interleave.semantics import build_model, is_blocking_lock
from model import ir
from model.walk import WalkResult, walk_program

MAX_WORLD_THREADS = 12


@dataclass(frozen=True)
class World:
    scenario: ir.Scenario | None
    complete: bool                     # covers every deadlock the cycle stands for
    why: str = ""                      # why it is cut down, or why there is none


class SpecFacts:
    """What the questions and worlds of one spec's cycles are built from, computed
    once per run of the engine, and only when some cycle needs it."""

    def __init__(self, program: ir.Program):
        self.program = program

    @cached_property
    def walks(self) -> dict[str, WalkResult]:
        return walk_program(self.program)

    @cached_property
    def components(self) -> dict[str, frozenset[str]]:
        """Each lock class's strongly connected component of the class graph (an edge
        from every class held to every class then taken, trylocks included). The
        graph engine reports one witness cycle per component; a deadlock can close
        any cycle of it, so the component is what a refutation must cover."""
        locks = self.program.locks
        graph = nx.DiGraph()
        for walked in self.walks.values():
            for event in walked.acquires:
                after = locks[event.lock].lock_class
                graph.add_node(after)
                graph.add_edges_from((locks[held.lock].lock_class, after)
                                     for held in event.held)
        return {lock_class: frozenset(component)
                for component in nx.strongly_connected_components(graph)
                for lock_class in component}

    @cached_property
    def reach(self) -> dict[str, frozenset[str]]:
        """The locks and objects each top-level code may touch, its spawned work
        included."""
        program = self.program
        prints = footprints(build_model(program))
        return {cid: prints.future[(cid, program.codes[cid].entry)]
                for cid in top_level_codes(program)}


def top_level_codes(program: ir.Program) -> list[str]:
    spawned = {op.code for code in program.codes.values() for op in code.ops
               if isinstance(op, ir.Spawn)}
    return [cid for cid in program.roots if cid not in spawned]


def relevant_codes(facts: SpecFacts, classes: frozenset[str]) -> frozenset[str]:
    """Top-level codes that touch the cycle's locks, closed under shared resources."""
    program = facts.program
    resources = {"lock:" + name for name, lock in program.locks.items()
                 if lock.lock_class in classes and is_blocking_lock(program, name)}
    chosen: set[str] = set()
    changed = True
    while changed:
        changed = False
        for cid, touched in sorted(facts.reach.items()):
            if cid not in chosen and touched & resources:
                chosen.add(cid)
                resources |= touched
                changed = True
    return frozenset(chosen)


def build_worlds(facts: SpecFacts, classes: frozenset[str], needs: Counter) -> list[World]:
    """The worlds to search, smallest first: one copy per edge a path takes, with
    interrupts on the first copy only (its witnesses are the easiest to read, and it
    can confirm), then the whole world, which alone can refute. A world over
    MAX_WORLD_THREADS threads is left out, and then no world is complete; when none
    is left, or no path takes part, the one World has no scenario and says why."""
    program = facts.program
    codes = relevant_codes(facts, classes)
    if not codes:
        return [World(None, False, "no path takes a lock of the cycle")]
    small = _threads(program, codes, needs, 0, False)
    whole = _threads(program, codes, needs, 1, True)
    worlds = []
    if _size(small) <= MAX_WORLD_THREADS:
        why = "" if _size(whole) <= MAX_WORLD_THREADS else (
            f"the whole world needs {_size(whole)} threads, more than {MAX_WORLD_THREADS}: "
            "searched with one copy of each path only")
        worlds.append(World(_scenario(program, small), small == whole, why))
    if small != whole and _size(whole) <= MAX_WORLD_THREADS:
        worlds.append(World(_scenario(program, whole), True))
    if not worlds:
        worlds.append(World(None, False, f"the paths that can take part need "
                                         f"{_size(small)} threads or more, more than "
                                         f"{MAX_WORLD_THREADS}"))
    return worlds


def _size(threads: list[ir.ScenarioThread]) -> int:
    return sum(t.count for t in threads)


def _threads(program: ir.Program, codes: frozenset[str], needs: Counter, extra: int,
             irq_on_every_copy: bool) -> list[ir.ScenarioThread]:
    order = [cid for cid in program.roots if cid in codes]
    process = [cid for cid in order if not program.codes[cid].context.is_interrupt]
    interrupts = [cid for cid in order if program.codes[cid].context.is_interrupt]
    threads: list[ir.ScenarioThread] = []
    hosts: list[int] = []
    cpu = 0
    for cid in process:
        for copy in range(max(needs.get(cid, 0), 1) + extra):
            threads.append(ir.ScenarioThread(cid, cpu, 1, program.codes[cid].span))
            if copy == 0 or irq_on_every_copy:
                hosts.append(cpu)
            cpu += 1
    for cid in interrupts:
        span = program.codes[cid].span
        threads.append(ir.ScenarioThread(cid, cpu, 1, span))
        cpu += 1
        threads += [ir.ScenarioThread(cid, host, 1, span) for host in hosts]
    return threads


def _scenario(program: ir.Program, threads: list[ir.ScenarioThread]) -> ir.Scenario:
    counts: Counter = Counter(t.code for t in threads)
    parts = [f"{counts[cid]} * {cid}" if counts[cid] > 1 else cid
             for cid in dict.fromkeys(t.code for t in threads)]
    return ir.Scenario("world(" + " || ".join(parts) + ")", tuple(threads),
                       program.codes[threads[0].code].span)
