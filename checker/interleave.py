"""The interleaving engine (z3): every scenario searched, every graph cycle given a verdict.

For each scenario of the spec, every interleaving of its threads is searched
for a violation (docs/semantics.md); scenarios are loop-free, so the search
is exhaustive and a pass is a proof, unless a depth bound cuts it short.
Every lock cycle the graph engine reports gets a verdict: `confirmed` with a
replayed witness, `refuted` with the reason it cannot deadlock, or left
`potential` with the reason the search could not decide. The cycle is run
in a spec scenario that covers its paths, else in a scenario of its own
(`semantics.cycle_scenario`, one thread per edge a path contributes).

Budgets: `Options.timeout` (wall clock, for the whole engine, and no more
than a spec's `option timeout`), `Options.rlimit` (z3 resource units per
question), `Options.bound` (else a spec's `option bound`: at most that many
steps). The solver is seeded with `Options.seed`.
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter

import z3

from checker.findings import CONFIRMED, POTENTIAL, REFUTED, EngineRun, Finding
from checker.semantics import cycle_scenario, is_blocking_lock, scenario_threads
from checker.z3_scenario import (CycleQuestion, CycleVerdict, ScenarioResult, check_scenario,
                                 finding_span)
from checker.z3_search import Settings
from checker.z3_theorem import cycle_classes
from model import ir
from model.walk import walk_program


def run_interleaving_engine(program: ir.Program, options, findings: list[Finding],
                            reduce: bool = True) -> tuple[list[Finding], EngineRun]:
    """`reduce=False` turns off the merging of local steps and the symmetry
    reduction (a cross-check of the reductions: the verdicts must not change)."""
    settings = engine_settings(program, options)
    every_cycle = open_cycles(program, findings)
    verdicts: dict[int, list[CycleVerdict]] = {c.index: [] for c in every_cycle}
    for cycle in every_cycle:
        annotation = pseudo_lock_in(program, cycle)
        if annotation is not None:
            verdicts[cycle.index].append(CycleVerdict("potential", (
                f"the cycle goes through `{annotation}`, a lockdep annotation that never "
                "blocks an interleaving: what it stands for (reclaim, fence signalling, "
                "a wait) runs in no thread here, so lockdep's rule alone decides it")))
    cycles = [c for c in every_cycle if not verdicts[c.index]]
    needs = {c.index: cycle_codes(program, findings[c.index], c) for c in cycles}
    results: list[ScenarioResult] = []
    for scenario in program.scenarios:
        covered = [c for c in cycles if covers(scenario, needs[c.index])]
        result = check_scenario(program, scenario.name, scenario_threads(program, scenario),
                                settings, covered, full=True, reduce=reduce)
        results.append(result)
        for index, verdict in result.cycles.items():
            verdicts[index].append(verdict)
    for cycle in cycles:
        if verdicts[cycle.index]:
            continue
        scenario = own_scenario(program, needs[cycle.index])
        result = check_scenario(program, scenario.name, scenario_threads(program, scenario),
                                settings, [cycle], full=False, reduce=reduce)
        results.append(result)
        verdicts[cycle.index].extend(result.cycles.values())
    new = scenario_findings(program, results)
    decided = [decide_cycle(findings[i], verdicts[i], name_of(results, i)) if i in verdicts
               else finding for i, finding in enumerate(findings)]
    return decided + new, engine_run(results, settings, every_cycle, decided)


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

def open_cycles(program: ir.Program, findings: list[Finding]) -> list[CycleQuestion]:
    out = []
    for index, finding in enumerate(findings):
        if finding.code != "deadlock" or finding.engine != "graph" or finding.status != POTENTIAL:
            continue
        locks = tuple(name for name in finding.locks if name in program.locks)
        if not locks:
            continue
        order = [program.locks[name].lock_class for name in locks]
        out.append(CycleQuestion(index, locks, frozenset(order)))
    return out


def pseudo_lock_in(program: ir.Program, cycle: CycleQuestion) -> str | None:
    return next((name for name in cycle.locks if not is_blocking_lock(program, name)), None)


def cycle_codes(program: ir.Program, finding: Finding, cycle: CycleQuestion) -> Counter:
    """How many threads of each path the cycle needs: one per edge of the cycle the
    path can take (two edges of one path need two threads to be held at once)."""
    classes = cycle_classes(program, cycle.locks)
    pairs = {(classes[i], classes[(i + 1) % len(classes)]) for i in range(len(classes))}
    codes = [code for code in finding.paths if code in program.codes]
    walks = walk_program(program)
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


def own_scenario(program: ir.Program, needs: Counter) -> ir.Scenario:
    base = cycle_scenario(program, sorted(needs))
    threads = tuple(dataclasses.replace(t, count=needs[t.code]) for t in base.threads)
    return dataclasses.replace(base, threads=threads)


def name_of(results: list[ScenarioResult], index: int) -> str | None:
    for result in results:
        verdict = result.cycles.get(index)
        if verdict is not None and verdict.status == CONFIRMED:
            return result.name
    return next((r.name for r in results if index in r.cycles), None)


def decide_cycle(finding: Finding, verdicts: list[CycleVerdict], scenario: str | None) -> Finding:
    """Confirmed if any scenario deadlocks on it; refuted if every one proves it cannot."""
    confirmed = next((v for v in verdicts if v.status == CONFIRMED), None)
    if confirmed is not None:
        return dataclasses.replace(finding, status=CONFIRMED, witness=confirmed.steps,
                                   scenario=scenario, reason="")
    if verdicts and all(v.status == REFUTED for v in verdicts):
        return dataclasses.replace(finding, status=REFUTED, scenario=scenario,
                                   reason=verdicts[0].reason)
    open_verdict = next((v for v in verdicts if v.status == POTENTIAL), None)
    if open_verdict is None:
        return finding
    return dataclasses.replace(finding, reason=open_verdict.reason)


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
