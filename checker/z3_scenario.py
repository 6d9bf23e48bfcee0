"""Checking one scenario with the z3 engine: what it asks, in which order.

A scenario is unfolded, then decided with as little search as possible:
a scenario with no node that can cause a violation and no possible stuck
state (z3_theorem) is proved without a solver; otherwise one solver answers
every question (the graph cycles the scenario covers, each violation group,
the deadlocks and hangs). Every witness replays before it becomes a finding.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from checker.findings import Step
from checker.semantics import ThreadSpec, build_model
from checker.simulate import user_span
from checker.z3_search import SAT, UNKNOWN, UNSAT, Search, Settings
from checker.z3_theorem import (cannot_get_stuck, refutation_reason, static_hazards,
                                 waits_anywhere)
from checker.z3_threads import UnfoldLimit, Unfolded, unfold
from checker.z3_witness import Witness, WitnessError, extract
from model import ir

MAX_DEADLOCKS_PER_SCENARIO = 4


@dataclass(frozen=True)
class Found:
    """A violation an interleaving reaches, with its replayed witness."""

    code: str
    message: str
    site: ir.Site | None
    locks: tuple[str, ...]
    paths: tuple[str, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class CycleVerdict:
    status: str                        # "confirmed", "refuted" or "potential"
    reason: str = ""
    steps: tuple[Step, ...] = ()


@dataclass
class ScenarioResult:
    name: str
    steps: int = 0                     # the longest interleaving, in steps
    found: list[Found] = field(default_factory=list)
    cycles: dict[int, CycleVerdict] = field(default_factory=dict)
    unknown: str = ""                  # why some question was not decided
    searched: bool = False             # a solver was needed
    full: bool = True                  # every violation was searched, not only cycles

    def exhaustive(self, bound: int | None) -> bool:
        """Every interleaving was covered: no bound cut the search short (a scenario
        decided without a search is covered whatever the bound)."""
        return bound is None or bound >= self.steps or (not self.searched and not self.unknown)

    def describe(self, bound: int | None) -> str:
        """The verdict on the scenario, in words that say how far it goes."""
        if self.unknown:
            done = f" after {len(self.found)} violation(s)" if self.found else ""
            size = f" ({self.steps} steps)" if self.steps else ""
            return f"{self.name}: inconclusive: {self.unknown}{done}{size}"
        if not self.exhaustive(bound):
            if self.found:
                return f"{self.name}: {len(self.found)} violation(s) (up to depth {bound})"
            return f"{self.name}: no violation up to depth {bound}"
        depth = f"exhaustive, {self.steps} steps"
        if self.found:
            return f"{self.name}: {len(self.found)} violation(s) ({depth})"
        how = "" if self.searched else "; no search needed"
        return f"{self.name}: proved ({depth}{how})"


@dataclass(frozen=True)
class CycleQuestion:
    index: int                         # the finding's position in the engine's list
    locks: tuple[str, ...]             # in cycle order
    classes: frozenset[str]


def check_scenario(program: ir.Program, name: str, specs: list[ThreadSpec],
                   settings: Settings, cycles: list[CycleQuestion], full: bool = True,
                   reduce: bool = True) -> ScenarioResult:
    """Search one scenario: its graph `cycles`, and with `full` every violation."""
    result = ScenarioResult(name, full=full)
    try:
        unfolded = unfold(program, specs, reduce)
    except UnfoldLimit as limit:
        result.unknown = str(limit)
        for cycle in cycles:
            result.cycles[cycle.index] = CycleVerdict("potential", f"{name}: {limit}")
        return result
    result.steps = unfolded.steps()
    exhaustive = settings.bound is None or settings.bound >= result.steps
    stuck_free = cannot_get_stuck(unfolded)
    session = _Session(unfolded, settings, reduce, name)
    for cycle in cycles:
        result.cycles[cycle.index] = _cycle_verdict(session, cycle, stuck_free, exhaustive)
    if full:
        _violations(session, result)
        if not stuck_free:
            _deadlocks(session, result)
        if waits_anywhere(unfolded):
            _hang(session, result)
    result.searched = session.search is not None
    result.unknown = result.unknown or session.unknown
    return result


class _Session:
    """The scenario's solver, built the first time a question needs one."""

    def __init__(self, unfolded: Unfolded, settings: Settings, reduce: bool, name: str):
        self.unfolded = unfolded
        self.settings = settings
        self.reduce = reduce
        self.name = name
        self._search: Search | None = None
        self.unknown = ""

    @property
    def search(self) -> Search | None:
        return self._search

    def solver(self) -> Search:
        if self._search is None:
            self._search = Search(self.unfolded, self.settings, self.reduce)
        return self._search

    def note_unknown(self, reason: str) -> None:
        self.unknown = self.unknown or reason

    def found(self, witness: Witness, locks: tuple[str, ...]) -> Found:
        violation = witness.violation
        codes = sorted({label.rsplit("#", 1)[0] for label in {e.thread for e in witness.events}})
        return Found(violation.code, violation.message, violation.site, locks, tuple(codes),
                     witness.steps)


def _cycle_verdict(session: _Session, cycle: CycleQuestion, stuck_free: bool,
                   exhaustive: bool) -> CycleVerdict:
    name = session.name
    if stuck_free:
        return CycleVerdict("refuted", refutation_reason(session.unfolded, cycle.locks, name))
    search = session.solver()
    answer = search.stuck("deadlock", [search.waits_for_classes(cycle.classes)])
    if answer.result == SAT:
        witness = extract(search.rules, answer.model, "stuck")
        if witness.violation.code == "deadlock":
            return CycleVerdict("confirmed", "", witness.steps)
        return CycleVerdict("potential", f"{name}: the search found a hang, not a deadlock")
    if answer.result == UNKNOWN:
        session.note_unknown(answer.reason)
        return CycleVerdict("potential", f"{name}: the search could not decide: "
                                         f"{answer.reason}")
    if not exhaustive:
        return CycleVerdict("potential", f"{name}: no deadlock on this cycle up to depth "
                                         f"{session.settings.bound}")
    return CycleVerdict("refuted", refutation_reason(session.unfolded, cycle.locks, name))


def _violations(session: _Session, result: ScenarioResult) -> None:
    if not static_hazards(session.unfolded):
        return
    search = session.solver()
    reported: set = set()
    while True:
        answer = search.violation(reported)
        if answer.result == UNKNOWN:
            session.note_unknown(answer.reason)
            return
        if answer.result == UNSAT:
            return
        witness = extract(search.rules, answer.model, "violation")
        key = (witness.violation.code, witness.violation.site)
        if key in reported:
            raise WitnessError(f"violation {key[0]} at {key[1]} was already excluded")
        reported.add(key)
        thread, node = witness.hazard
        held = session.unfolded.threads[thread].nodes[node].pre.held
        result.found.append(session.found(witness, tuple(dict.fromkeys(h.lock for h in held))))


def _deadlocks(session: _Session, result: ScenarioResult) -> None:
    """Deadlocks, each waiting for a set of lock classes no earlier one covers."""
    search = session.solver()
    program = session.unfolded.program
    exclusions: list = []
    for _ in range(MAX_DEADLOCKS_PER_SCENARIO):
        answer = search.stuck("deadlock", exclusions)
        if answer.result == UNKNOWN:
            session.note_unknown(answer.reason)
            return
        if answer.result == UNSAT:
            return
        witness = extract(search.rules, answer.model, "stuck")
        locks = tuple(search.waited_locks(answer.model))
        result.found.append(session.found(witness, locks))
        exclusions.append(search.not_waiting_for_all(
            frozenset(program.locks[lock].lock_class for lock in locks)))


def _hang(session: _Session, result: ScenarioResult) -> None:
    search = session.solver()
    answer = search.stuck("hang")
    if answer.result == UNKNOWN:
        session.note_unknown(answer.reason)
    elif answer.result == SAT:
        witness = extract(search.rules, answer.model, "stuck")
        result.found.append(session.found(witness, ()))


def finding_span(program: ir.Program, site: ir.Site | None, fallback):
    if site is None:
        return fallback
    return user_span(build_model(program), site)
