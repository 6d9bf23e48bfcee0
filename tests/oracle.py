"""The differential oracle: lockspec's verdicts against the exhaustive explorer.

For one spec, lockspec runs in-process and its findings are held against
`checker.interleave.explore.explore_all`, which knows nothing of the z3 engine:

- scenario-codes: for every spec scenario, the violation codes the explorer
  reaches equal the codes of lockspec's interleaving findings there;
- false-refutation: a `refuted` graph cycle over lock classes K must not
  reach, in a world at least one instance per path larger than the one
  lockspec searched, a stuck state where a blocked thread waits for a lock of
  a class in K;
- false-pass: a spec that passes must not reach a deadlock, lock held at
  exit or bad unlock in the oracle's own world (every path, process paths in
  several instances, interrupts on each process thread's CPU); the graph
  engine claims those over every path, scenario or not, but for a stuck state
  in which a thread waits for a completion, a grace period or a flush;
- bad-witness: every confirmed finding's witness replays, step by step, on
  the reference step function and ends in what the finding claims.

Other violations (use-after-revoke, assertion, ...) are only claimed for the
spec's scenarios, so outside them they are counted, not flagged. An internal
error of lockspec (lockspec-error) or of the explorer or replay (explorer-error)
is a disagreement too.
"""
from __future__ import annotations

import dataclasses
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from checker.findings import CONFIRMED, REFUTED
from checker.interleave.explore import ExhaustiveResult, Reached, explore_all
from checker.interleave.semantics import ThreadSpec, scenario_threads
from checker.runner import Options, check_compiled
from model import ir
from model.pipeline import compile_spec
from tests.oracle_replay import replay_steps

# States per explored world: enough for the generated designs, small enough for CI.
WORLD_BUDGET = 3_000
# The graph engine's claims hold over every path; these stuck or path-local
# violations are lockspec's to find whether or not a scenario names the paths.
# A wait for a completion, a grace period, a flush or a kthread_stop() is not:
# lockdep cannot see the wait itself, and a hang, or a deadlock a thread so
# waiting takes part in, is found in a scenario only (docs/findings.md, `hang`).
PATHWIDE = frozenset({"deadlock", "held-at-exit", "bad-unlock"})
# How semantics.stuck_violation describes those waits of a blocked thread.
WAIT_TEXTS = ("wait(", "a grace period of ", "a flush of ", "wait_event(", "kthread_stop(")


@dataclass(frozen=True)
class Disagreement:
    kind: str        # scenario-codes, false-refutation, false-pass, bad-witness, lockspec-error,
    #                  explorer-error, spec-error
    detail: str


@dataclass
class Outcome:
    status: str                                   # lockspec's verdict on the spec
    disagreements: list[Disagreement] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)

    def kinds(self) -> set[str]:
        return {d.kind for d in self.disagreements}


def check_text(text: str, name: str = "design.lspec", budget: int = WORLD_BUDGET) -> Outcome:
    compiled = compile_spec(name, text.encode())
    if compiled.diagnostics or compiled.program is None:
        problem = compiled.diagnostics[0] if compiled.diagnostics else "no program"
        return Outcome("error", [Disagreement("spec-error", str(problem))])
    try:
        result = check_compiled(name, compiled, Options())
    except Exception:                               # an internal error is a finding here
        return Outcome("crash", [Disagreement("lockspec-error", traceback.format_exc(limit=4))])
    program = compiled.program
    outcome = Outcome(result.status)
    worlds = _Worlds(program, budget, outcome.stats)
    _count_findings(result, outcome.stats)
    try:
        _check_scenarios(program, result, worlds, outcome)
        _check_refutations(program, result, worlds, outcome)
        if result.status == "pass":
            _check_pass(program, result, worlds, outcome)
        _check_witnesses(program, result, outcome)
    except Exception:                               # so is one of the explorer or replay
        outcome.disagreements.append(Disagreement("explorer-error",
                                                  traceback.format_exc(limit=4)))
    return outcome


def _count_findings(result, stats: Counter) -> None:
    stats[f"status:{result.status}"] += 1
    for finding in result.findings:
        if finding.code == "deadlock" and finding.engine == "graph":
            stats[f"cycle:{finding.status}"] += 1
        else:
            stats[f"finding:{finding.engine}:{finding.code}"] += 1


# --------------------------------------------------------------- worlds

class _Worlds:
    """Explored worlds of one spec, each explored once."""

    def __init__(self, program: ir.Program, budget: int, stats: Counter):
        self.program = program
        self.budget = budget
        self.stats = stats
        self.cache: dict[str, tuple[ExhaustiveResult, str]] = {}

    def scenario(self, name: str) -> ExhaustiveResult:
        spec = _scenario(self.program, name)
        return self._explore(f"scenario {name}", lambda: [scenario_threads(self.program, spec)])

    def bumped(self, name: str) -> tuple[ExhaustiveResult, str]:
        """The spec scenario with one more instance of every thread in it."""
        spec = _scenario(self.program, name)
        more = dataclasses.replace(spec, threads=tuple(
            dataclasses.replace(t, count=t.count + 1) for t in spec.threads))
        key = f"scenario {name}, one more of each"
        result = self._explore(key, lambda: [scenario_threads(self.program, more)])
        return result, key

    def own(self) -> tuple[ExhaustiveResult, str]:
        """Every path; process paths three times (two if three is beyond the budget or
        there are more than two of them); each interrupt path once on a CPU of its own
        and once on the CPU of every process thread. Work runs when a path queues it."""
        process = sum(1 for c in top_level(self.program)
                      if not self.program.codes[c].context.is_interrupt)
        attempts = (3, 2) if process <= 2 else (2,)
        result = self._explore("oracle world", lambda: [oracle_world(self.program, copies)
                                                        for copies in attempts])
        return result, self.cache["oracle world"][1]

    def _explore(self, key: str, make) -> ExhaustiveResult:
        if key not in self.cache:
            self.cache[key] = _explore_first_complete(self.program, make(), self.budget)
            if not self.cache[key][0].complete:
                self.stats["world-incomplete"] += 1
            self.stats["worlds"] += 1
        return self.cache[key][0]


def _explore_first_complete(program, attempts, budget) -> tuple[ExhaustiveResult, str]:
    """Explore the worlds in turn until one completes; what a larger, unfinished world
    reached is real and is kept."""
    kept: list[ExhaustiveResult] = []
    for threads in attempts:
        result = explore_all(program, threads, max_states=budget)
        kept.append(result)
        if result.complete:
            break
    merged = dataclasses.replace(
        kept[-1], violations=tuple(r for k in kept for r in k.violations),
        stuck=tuple(r for k in kept for r in k.stuck))
    labels = " || ".join(t.label + f"@{t.cpu}" for t in threads)
    return merged, labels


def oracle_world(program: ir.Program, copies: int) -> list[ThreadSpec]:
    """Each path `copies` times, then each interrupt path on a CPU of its own and on
    the CPU of every process thread. Work that a path queues is no thread of its own:
    it runs when queued."""
    threads: list[ThreadSpec] = []
    roots = top_level(program)
    for code in roots:
        if not program.codes[code].context.is_interrupt:
            for copy in range(1, copies + 1):
                threads.append(ThreadSpec(f"{code}#{copy}", code, len(threads),
                                          program.codes[code].context))
    cpus = [t.cpu for t in threads]
    for code in roots:
        context = program.codes[code].context
        if context.is_interrupt:
            own = len(threads)
            threads += [ThreadSpec(f"{code}#{n}", code, cpu, context)
                        for n, cpu in enumerate([own] + cpus, 1)]
    return threads


def top_level(program: ir.Program) -> list[str]:
    """The paths: every root code but the work some code queues."""
    spawned = {op.code for code in program.codes.values() for op in code.ops
               if isinstance(op, ir.Spawn)}
    return [c for c in program.roots if c in program.codes and c not in spawned]


def _scenario(program: ir.Program, name: str) -> ir.Scenario:
    return next(s for s in program.scenarios if s.name == name)


# --------------------------------------------------------------- the rules

def _check_scenarios(program, result, worlds: _Worlds, outcome: Outcome) -> None:
    run = next((r for r in result.engines if r.name == "interleaving"), None)
    inconclusive = run is not None and run.outcome == "inconclusive"
    for scenario in program.scenarios:
        explored = worlds.scenario(scenario.name)
        reported = {f.code for f in result.findings
                    if f.engine == "interleaving" and f.scenario == scenario.name}
        reached = explored.codes()
        missing = reached - reported if not inconclusive else set()
        extra = reported - reached if explored.complete else set()
        if missing or extra:
            examples = [_describe(r) for r in explored.violations + explored.stuck
                        if r.violation.code in missing]
            outcome.disagreements.append(Disagreement("scenario-codes", (
                f"scenario {scenario.name}: explorer reaches {sorted(reached)}, lockspec "
                f"reports {sorted(reported)}" + "".join("\n  " + e for e in examples))))


def _check_refutations(program, result, worlds: _Worlds, outcome: Outcome) -> None:
    names = {s.name for s in program.scenarios}
    for finding in result.findings:
        if finding.code != "deadlock" or finding.engine != "graph" or finding.status != REFUTED:
            continue
        if finding.scenario in names:
            explored, world = worlds.bumped(finding.scenario)
        else:
            explored, world = worlds.own()
        classes = {program.locks[n].lock_class for n in finding.locks if n in program.locks}
        hit = explored.stuck_on(classes)
        if hit is not None:
            outcome.disagreements.append(Disagreement("false-refutation", (
                f"cycle {' -> '.join(finding.locks)} refuted in {finding.scenario} "
                f"({finding.reason}); the explorer deadlocks on it in {world}:\n  "
                + _describe(hit))))


# lockspec findings that claim a stuck state: a spec that passes because such a
# finding is expected has not missed it.
STUCK_CLAIMS = {"deadlock": {"deadlock", "irq-inversion", "recursive-locking",
                             "inconsistent-irq-state"}, "hang": {"hang"}}


def _check_pass(program, result, worlds: _Worlds, outcome: Outcome) -> None:
    claimed = {f.code for f in result.findings if f.status != REFUTED}
    explored, world = worlds.own()
    for reached in explored.violations + explored.stuck:
        code = reached.violation.code
        if claimed & STUCK_CLAIMS.get(code, {code}):
            outcome.stats[f"pass-world-claimed:{code}"] += 1
            continue
        if code in PATHWIDE and not _waits_for_an_event(reached):
            outcome.disagreements.append(Disagreement("false-pass", (
                f"the spec passes, but {world} reaches:\n  " + _describe(reached))))
            return
        outcome.stats[f"pass-world-unclaimed:{code}"] += 1


def _waits_for_an_event(reached: Reached) -> bool:
    """A blocked thread of the stuck state waits for a completion, for the end of a
    grace period or for a flush."""
    return any(what.startswith(WAIT_TEXTS) for _, what in reached.violation.blocked)


def _check_witnesses(program, result, outcome: Outcome) -> None:
    for finding in result.findings:
        if finding.status != CONFIRMED or not finding.witness:
            continue
        outcome.stats["witnesses"] += 1
        # A graph finding (a cycle, an irq inversion) is confirmed by a deadlock on
        # one of its locks; an interleaving finding by its own violation.
        classes, code = None, finding.code
        if finding.engine == "graph":
            classes = {program.locks[n].lock_class for n in finding.locks if n in program.locks}
            code = "deadlock"
        problem = replay_steps(program, finding, code, classes)
        if problem:
            outcome.disagreements.append(Disagreement("bad-witness", (
                f"{finding.engine} {finding.code} in {finding.scenario}: {problem}")))


def _describe(reached: Reached) -> str:
    events = ", ".join(f"{e.thread}:{e.op_index}" + (f"/{e.choice}" if e.choice else "")
                       for e in reached.events)
    return f"{reached.violation.code}: {reached.violation.message} [events: {events}]"


# --------------------------------------------------------------- shrinking

def shrink(design, kind: str, seconds: float = 60.0):
    """The smallest design (greedy, one cut at a time) that still shows a disagreement
    of `kind`, within `seconds`."""
    from tests.random_designs import render, shrink_candidates
    deadline = time.monotonic() + seconds
    current = design
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        for candidate in shrink_candidates(current):
            if time.monotonic() >= deadline:
                break
            if kind in check_text(render(candidate)).kinds():
                current, progress = candidate, True
                break
    return current
