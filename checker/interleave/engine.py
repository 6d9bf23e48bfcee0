"""The interleaving engine (z3): every scenario searched, every graph cycle given a verdict.

For each scenario of the spec, every interleaving of its threads is searched
for a violation (docs/semantics.md); scenarios are loop-free, so the search
is exhaustive and a pass is a proof, unless a depth bound cuts it short.
Every lock cycle (and irq-safe -> irq-unsafe dependency) the graph engine
reports gets a verdict: `confirmed` with a replayed witness, `refuted` with
the reason it cannot deadlock, or left `potential` with the reason the search
could not decide. The cycle is searched in every spec scenario that covers
its paths, which can confirm it but not refute it; unless one confirms it, it
is also searched in its generated worlds (checker/interleave/worlds.py), whose
whole world alone can refute it. docs/semantics.md says what each verdict
proves.

Budgets: `Options.timeout` (wall clock, for the whole engine, and no more
than a spec's `option timeout`), `Options.rlimit` (z3 resource units per
question), `Options.bound` (else a spec's `option bound`: at most that many
steps). The solver is seeded with `Options.seed`.
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass

import z3

from checker.findings import CONFIRMED, POTENTIAL, REFUTED, EngineRun, Finding
from checker.interleave.semantics import is_blocking_lock, scenario_threads
from checker.interleave.unrecorded import unrecorded_cycles
from checker.interleave.worlds import SpecFacts, World, build_worlds
from checker.interleave.z3.scenario import (CycleQuestion, CycleVerdict, ScenarioResult,
                                            check_scenario, finding_span)
from checker.interleave.z3.search import Settings
from checker.interleave.z3.theorem import cycle_classes
from model import ir
from model.grace import is_flush_map


def run_interleaving_engine(program: ir.Program, options, findings: list[Finding],
                            reduce: bool = True) -> tuple[list[Finding], EngineRun]:
    """`reduce=False` turns off the merging of local steps and the symmetry
    reduction (a cross-check of the reductions: the verdicts must not change)."""
    settings = engine_settings(program, options)
    facts = SpecFacts(program)
    graph_count = len(findings)
    findings = findings + unrecorded_cycles(program, findings, facts)
    every_cycle = open_cycles(program, findings, facts)
    verdicts: dict[int, list[Decided]] = {c.index: [] for c in every_cycle}
    for cycle in every_cycle:
        if not cycle.classes:
            verdicts[cycle.index].append(Decided(None, False, CycleVerdict(
                "potential", annotation_reason(pseudo_lock_in(program, cycle)))))
    cycles = [c for c in every_cycle if not verdicts[c.index]]
    needs = {c.index: cycle_codes(program, findings[c.index], c, facts) for c in cycles}
    results: list[ScenarioResult] = []
    for scenario in program.scenarios:
        covered = [c for c in cycles if covers(scenario, needs[c.index])]
        result = check_scenario(program, scenario.name, scenario_threads(program, scenario),
                                settings, covered, full=True, reduce=reduce)
        results.append(result)
        # A spec scenario states its copies of each path; one more copy can deadlock
        # where it cannot (a trylock that now fails), so only the whole world refutes.
        for index, verdict in result.cycles.items():
            verdicts[index].append(Decided(scenario.name, False, verdict))
    for cycle in cycles:
        if settled(verdicts[cycle.index]):
            continue
        for world in build_worlds(facts, cycle.classes, needs[cycle.index]):
            decided = search_world(program, world, cycle, settings, reduce, results)
            verdicts[cycle.index].append(decided)
            if settled([decided]):
                break
    new = scenario_findings(program, results)
    decided = list(findings)
    for cycle in every_cycle:
        decided[cycle.index] = decide_cycle(findings[cycle.index], verdicts[cycle.index],
                                            hidden_wait_in(program, cycle))
    # A cycle lockdep does not report is said only when it is not refuted.
    kept = decided[:graph_count] + [f for f in decided[graph_count:] if f.status != REFUTED]
    return kept + new, engine_run(results, settings, every_cycle, decided)


def search_world(program: ir.Program, world: World, cycle: CycleQuestion, settings: Settings,
                 reduce: bool, results: list[ScenarioResult]) -> Decided:
    """The cycle's verdict in a generated world; an incomplete world cannot refute it."""
    if world.scenario is None:
        return Decided(None, False, CycleVerdict(
            "potential", f"no scenario covers it, and none was generated: {world.why}"))
    scenario = world.scenario
    result = check_scenario(program, scenario.name, scenario_threads(program, scenario),
                            settings, [cycle], full=False, reduce=reduce)
    results.append(result)
    verdict = result.cycles[cycle.index]
    if verdict.status == REFUTED and not world.complete:
        why = world.why or "it does not run a second copy of each path"
        verdict = CycleVerdict("potential", f"{scenario.name}: {verdict.reason}; but {why}")
    return Decided(scenario.name, world.complete, verdict)


@dataclass(frozen=True)
class Decided:
    """A cycle's verdict in one scenario, and whether that scenario is a complete
    world of the cycle (only such a scenario can refute it)."""

    scenario: str | None
    complete: bool
    verdict: CycleVerdict


def settled(decided: list[Decided]) -> bool:
    return any(d.verdict.status == CONFIRMED or (d.verdict.status == REFUTED and d.complete)
               for d in decided)


def engine_settings(program: ir.Program, options) -> Settings:
    bound = options.bound if options.bound is not None else program.options.get("bound")
    timeout = float(options.timeout) if options.timeout else None
    spec_timeout = program.options.get("timeout")
    if spec_timeout:
        timeout = min(timeout, float(spec_timeout)) if timeout else float(spec_timeout)
    deadline = time.monotonic() + timeout if timeout else None
    # One z3 context per run: every term of this spec's searches goes in it, so a
    # witness never depends on what an earlier check in the process declared.
    return Settings(seed=int(options.seed or 0), rlimit=options.rlimit, deadline=deadline,
                    bound=None if bound is None else int(bound), ctx=z3.Context())


# ---------------------------------------------------------------- graph cycles

# Graph findings that stand for a deadlock an interleaving can reach: a lock cycle,
# and an irq-safe -> irq-unsafe dependency (the interrupt spins on the safe lock on
# the CPU of a holder of the unsafe one).
DEADLOCK_SHAPED = frozenset({"deadlock", "irq-inversion"})


def open_cycles(program: ir.Program, findings: list[Finding],
                facts: SpecFacts) -> list[CycleQuestion]:
    """The graph findings to decide (and the cycles lockdep's graph does not record,
    checker.interleave.unrecorded), each with the blocking lock classes a deadlock of
    it can wait on: for a cycle, every class of its strongly connected component."""
    out = []
    for index, finding in enumerate(findings):
        if finding.code not in DEADLOCK_SHAPED or finding.status != POTENTIAL:
            continue
        locks = tuple(name for name in finding.locks if name in program.locks)
        if not locks:
            continue
        classes = {program.locks[name].lock_class for name in locks}
        if finding.code == "deadlock":
            classes = set().union(*(facts.components.get(c, {c}) for c in classes))
        # The search asks about the locks that block; an annotation on the cycle
        # never holds anyone up.
        blocking = {program.locks[name].lock_class for name in program.locks
                    if program.locks[name].lock_class in classes
                    and is_blocking_lock(program, name)}
        out.append(CycleQuestion(index, locks, frozenset(blocking), finding.code,
                                 frozenset(classes)))
    return out


def pseudo_lock_in(program: ir.Program, cycle: CycleQuestion) -> str | None:
    return next((name for name in cycle.locks if not is_blocking_lock(program, name)), None)


# Annotations that stand for a wait no thread of a spec performs (reclaim, a fence
# wait, a work flush, a grace period), and ww acquire contexts, whose class-level
# cycles lockdep reports whatever the instances: a cycle through one can be
# confirmed on its real locks, never refuted. A local_lock stands for nothing.
HIDDEN_WAIT_KINDS = frozenset({"lockdep_map", "rcu", "rcu_sched", "srcu", "ww_ctx"})


def hidden_wait_in(program: ir.Program, cycle: CycleQuestion) -> str | None:
    return next((name for name in sorted(program.locks, key=lambda n: (n not in cycle.locks, n))
                 if program.locks[name].lock_class in cycle.component
                 and program.locks[name].kind in HIDDEN_WAIT_KINDS), None)


def annotation_reason(annotation: str | None) -> str:
    if annotation is not None and is_flush_map(annotation):
        return (f"the cycle goes through `{annotation}`, the lockdep map of a flush: no "
                "interleaving searched here deadlocks on it (the flush never waits for "
                "the work while the lock is held), and lockdep's rule decides it")
    return (f"the cycle goes through `{annotation}`, a lockdep annotation that never "
            "blocks an interleaving: what it stands for (reclaim, fence signalling, "
            "a wait, an acquire context) runs in no thread here, so no search refutes "
            "it and lockdep's rule decides it")


def cycle_codes(program: ir.Program, finding: Finding, cycle: CycleQuestion,
                facts: SpecFacts) -> Counter:
    """How many threads of each path the cycle needs: one per edge of the cycle the
    path can take (two edges of one path need two threads to be held at once)."""
    classes = cycle_classes(program, cycle.locks)
    pairs = {(classes[i], classes[(i + 1) % len(classes)]) for i in range(len(classes))}
    codes = [code for code in finding.paths if code in program.codes]
    walks = facts.walks
    needs: Counter = Counter()
    for code in codes:
        taken = set()
        for event in walks[code].acquires if code in walks else ():
            after = program.locks[event.lock].lock_class
            for held in event.held:
                pair = (program.locks[held.lock].lock_class, after)
                if pair in pairs:
                    taken.add(pair)
        needs[code] = max(1, len(taken))
    return needs


def covers(scenario: ir.Scenario, needs: Counter) -> bool:
    have: Counter = Counter()
    for thread in scenario.threads:
        have[thread.code] += thread.count
    return bool(needs) and all(have[code] >= count for code, count in needs.items())


def decide_cycle(finding: Finding, decided: list[Decided], hidden: str | None) -> Finding:
    """Confirmed if any scenario deadlocks on it (on the sub-cycle its witness shows);
    refuted if a complete world proves it cannot, none confirms it, and no annotation
    on its component stands for a wait (`hidden`); potential otherwise, with the
    reason (the last scenario's: the whole world's, when one was searched)."""
    confirmed = next((d for d in decided if d.verdict.status == CONFIRMED), None)
    if confirmed is not None:
        return _confirmed(finding, confirmed)
    refuted = next((d for d in decided if d.verdict.status == REFUTED and d.complete), None)
    if refuted is not None and hidden is not None:
        return dataclasses.replace(finding, scenario=refuted.scenario,
                                   reason=annotation_reason(hidden))
    if refuted is not None:
        return dataclasses.replace(finding, status=REFUTED, scenario=refuted.scenario,
                                   reason=refuted.verdict.reason)
    open_one = next((d for d in reversed(decided) if d.verdict.status == POTENTIAL), None)
    return dataclasses.replace(finding, reason=open_one.verdict.reason) if open_one else finding


def _confirmed(finding: Finding, decided: Decided) -> Finding:
    locks = decided.verdict.locks
    order = [lock for lock in finding.locks if lock in locks]
    order += [lock for lock in locks if lock not in order]
    message = finding.message
    if locks and set(order) != set(finding.locks):
        message += f"; the interleaving deadlocks on {', '.join(order)}"
    return dataclasses.replace(finding, status=CONFIRMED, witness=decided.verdict.steps,
                               scenario=decided.scenario, reason="", message=message,
                               locks=tuple(order) if locks else finding.locks,
                               end_state=decided.verdict.end_state)


# ---------------------------------------------------------------- scenario findings

def scenario_findings(program: ir.Program, results: list[ScenarioResult]) -> list[Finding]:
    out = []
    for result in results:
        for found in result.found:
            fallback = program.scenarios[0].span if program.scenarios else None
            span = finding_span(program, found.site, fallback)
            out.append(Finding(found.code, found.message, span, "interleaving",
                               status=CONFIRMED, locks=found.locks, paths=found.paths,
                               scenario=result.name, witness=found.steps))
    return out


def engine_run(results: list[ScenarioResult], settings: Settings, cycles, decided) -> EngineRun:
    parts = [r.describe(settings.bound) for r in results if r.full]
    for cycle in cycles:
        finding = decided[cycle.index]
        text = finding.status + (f" in {finding.scenario}" if finding.scenario else "")
        if finding.status != CONFIRMED and finding.reason:
            text += f": {finding.reason}"
        parts.append(f"cycle {' -> '.join(cycle.locks + cycle.locks[:1])}: {text}")
    inconclusive = any(r.unknown for r in results)
    exhaustive = all(r.exhaustive(settings.bound) for r in results) and not inconclusive
    detail = "; ".join(parts) if parts else "no scenario and no lock cycle to search"
    bound = max((r.steps for r in results), default=None)
    if settings.bound is not None:
        bound = settings.bound
    return EngineRun("interleaving", "inconclusive" if inconclusive else "complete", detail,
                     exhaustive=exhaustive if results else None, bound=bound)
