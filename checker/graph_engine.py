"""The graph engine: lockdep's rules over every path of a spec, order-independent.

Each thread's code is walked once over all its paths (model.walk); the
acquisitions give the class dependency graph (model.lockgraph) and the irq
usage bits. lockdep validates incrementally and stops at its first report;
here every rule is decided on the final graph and usage bits, which is what
makes the verdict independent of the order paths are written or run in:

- deadlock: closed strong paths (checker.graph_cycles), status potential;
- irq-inversion and inconsistent-irq-state (checker.graph_usage);
- recursive-locking, invalid-wait-context, order-violation, bad-unlock,
  held-at-exit, assertion (checker.graph_rules), confirmed: they need no
  interleaving.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager

from checker.findings import EngineRun, Finding
from checker.graph_cycles import deadlock_findings, edge_types
from checker.graph_rules import (order_findings, problem_findings, recursion_findings,
                                 wait_context_findings)
from checker.graph_usage import collect_usage, inconsistent_findings, inversion_findings
from model import ir
from model.lockgraph import build_lock_graph
from model.walk import walk_program


@contextmanager
def _without_gc_passes():
    """The engine allocates a million small acyclic records at kernel scale; the
    cyclic collector would re-scan the whole compiled program on each of its
    passes (half the run time) and has nothing to collect here. Refcounting
    still frees everything; the collector's previous state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_graph_engine(program: ir.Program) -> tuple[list[Finding], EngineRun]:
    with _without_gc_passes():
        return _run(program)


def _run(program: ir.Program) -> tuple[list[Finding], EngineRun]:
    walks = walk_program(program)
    graph = build_lock_graph(program, walks)
    types = edge_types(graph)
    kinds = {cls: data["kind"] for cls, data in graph.nodes(data=True)}
    usage = collect_usage(walks)
    findings = (deadlock_findings(types)
                + inversion_findings(usage, types, kinds)
                + inconsistent_findings(usage)
                + recursion_findings(walks)
                + wait_context_findings(program, walks)
                + order_findings(program, walks)
                + problem_findings(walks))
    findings.sort(key=Finding.sort_key)
    truncated = sorted(code for code, walk in walks.items() if walk.truncated)
    detail = (f"{graph.number_of_nodes()} lock classes used, {len(types)} dependencies "
              f"over {len(walks)} threads")
    if truncated:
        detail += f"; walk truncated in {', '.join(truncated[:3])}"
    outcome = "inconclusive" if truncated else "complete"
    return findings, EngineRun("graph", outcome, detail, exhaustive=not truncated)
