"""The graph engine: lockdep's rules over every path of a spec, order-independent.

Each thread's code is walked once over all its paths (model.walk); the
acquisitions give the class dependency graph (model.lockgraph) and the irq
usage bits. lockdep validates incrementally and stops at its first report;
here every rule is decided on the final graph and usage bits, which is what
makes the verdict independent of the order paths are written or run in (a
cycle is told from the dependency that closed it, as lockdep tells it):

- deadlock: closed strong paths (checker.graph.cycles), status potential;
- irq-inversion and inconsistent-irq-state (checker.graph.usage);
- recursive-locking, invalid-wait-context, order-violation, bad-unlock,
  held-at-exit, assertion (checker.graph.rules), confirmed: they need no
  interleaving.
"""
from __future__ import annotations

from checker.findings import EngineRun, Finding
from checker.graph.cycles import deadlock_findings, edge_types_of
from checker.graph.rules import (order_findings, problem_findings, recursion_findings,
                                 wait_context_findings)
from checker.graph.usage import collect_usage, inconsistent_findings, inversion_findings
from model import ir
from model.gcpause import gc_paused
from model.lockgraph import collect_dependencies
from model.walk import walk_program


def run_graph_engine(program: ir.Program) -> tuple[list[Finding], EngineRun]:
    # The engine allocates a million small acyclic records at kernel scale.
    with gc_paused():
        return _run(program)


def _run(program: ir.Program) -> tuple[list[Finding], EngineRun]:
    walks = walk_program(program)
    deps = collect_dependencies(program, walks)
    types = edge_types_of(deps)
    kinds = deps.kinds
    usage = collect_usage(walks)
    findings = (deadlock_findings(types, deps.first_met)
                + inversion_findings(usage, types, kinds)
                + inconsistent_findings(usage)
                + recursion_findings(walks)
                + wait_context_findings(program, walks)
                + order_findings(program, walks)
                + problem_findings(walks))
    findings.sort(key=Finding.sort_key)
    truncated = sorted(code for code, walk in walks.items() if walk.truncated)
    detail = (f"{len(kinds)} lock classes used, {len(types)} dependencies "
              f"over {len(walks)} threads")
    if truncated:
        detail += f"; walk truncated in {', '.join(truncated[:3])}"
    outcome = "inconclusive" if truncated else "complete"
    return findings, EngineRun("graph", outcome, detail, exhaustive=not truncated)
