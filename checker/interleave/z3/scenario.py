"""Checking one scenario with the z3 engine: what it asks, in which order.

A scenario is unfolded, then decided with as little search as possible:
a scenario with no node that can cause a violation and no possible stuck
state (checker.interleave.z3.theorem) is proved without a solver; otherwise one solver answers
every question (the graph cycles the scenario covers, each violation group,
the deadlocks and hangs). Every witness replays before it becomes a finding.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from checker.findings import Step
from checker.interleave.semantics import ThreadSpec, build_model
from checker.interleave.simulate import user_span
from checker.interleave.z3.search import SAT, UNKNOWN, UNSAT, Search, Settings
from checker.interleave.z3.theorem import (cannot_get_stuck, refutation_reason, static_hazards,
                                           waits_anywhere)
from checker.interleave.z3.threads import Unfolded, UnfoldLimit, unfold
from checker.interleave.z3.witness import Witness, WitnessError, extract
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
    locks: tuple[str, ...] = ()        # confirmed: the locks the witness deadlocks on
    end_state: str = ""                # confirmed: the stuck state, as the semantics states it


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
    code: str = "deadlock"             # the graph finding: "deadlock" or "irq-inversion"
    component: frozenset[str] = frozenset()   # every class a deadlock of it may involve


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
    if full:
        _violations(session, result)
    ends_early = _ends_at_a_violation(session, result, full)
    for cycle in cycles:
        result.cycles[cycle.index] = _cycle_verdict(session, cycle, stuck_free, exhaustive,
                                                    ends_early)
    if full:
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


def _ends_at_a_violation(session: _Session, result: ScenarioResult, full: bool) -> str:
    """Why some interleavings stop before they could deadlock ("" if none does): an
    interleaving ends at its first violation, so a deadlock past one is not searched."""
    if full:
        return result.found[0].code if result.found else ""
    if not static_hazards(session.unfolded):
        return ""
    answer = session.solver().violation(set())
    if answer.result == UNSAT:
        return ""
    return "a violation" if answer.result == UNKNOWN else "a violation it reaches"


def _cycle_verdict(session: _Session, cycle: CycleQuestion, stuck_free: bool,
                   exhaustive: bool, ends_early: str) -> CycleVerdict:
    """Confirmed: a stuck state whose wait-for cycle is made of the cycle's classes
    (a sub-cycle counts). Refuted: no stuck state in which anyone waits for a lock of
    the cycle's classes, on an exhaustive search that no violation cut short."""
    name = session.name
    if stuck_free:
        return CycleVerdict("refuted", _why_refuted(session, cycle))
    search = session.solver()
    some = search.waits_for_any_class(cycle.classes)
    answer = search.stuck("deadlock", [some])
    if answer.result == SAT:
        return _confirm(session, cycle, answer) or _confirm_alone(session, cycle, some, answer)
    if answer.result == UNKNOWN:
        session.note_unknown(answer.reason)
        return CycleVerdict("potential", f"{name}: the search could not decide: "
                                         f"{answer.reason}")
    if not exhaustive:
        return CycleVerdict("potential", f"{name}: no deadlock on this cycle up to depth "
                                         f"{session.settings.bound}")
    if ends_early:
        return CycleVerdict("potential", f"{name}: no deadlock on this cycle, but interleavings "
                                         f"end at {ends_early} first; past it nothing is "
                                         "searched")
    return CycleVerdict("refuted", _why_refuted(session, cycle))


def _why_refuted(session: _Session, cycle: CycleQuestion) -> str:
    if cycle.code == "deadlock":
        return refutation_reason(session.unfolded, cycle.locks, session.name)
    return (f"no interleaving of {session.name} has a thread wait for "
            f"{', '.join(cycle.locks)} in a stuck state (exhaustive search)")


def _confirm(session: _Session, cycle: CycleQuestion, answer) -> CycleVerdict | None:
    search = session.solver()
    witness = extract(search.rules, answer.model, "stuck")
    violation = witness.violation
    program = session.unfolded.program
    locks = violation.cycle
    if violation.code != "deadlock" or not locks:
        return None
    if any(program.locks[lock].lock_class not in cycle.classes for lock in locks):
        return None
    return CycleVerdict("confirmed", "", witness.steps, locks, violation.message)


def _confirm_alone(session: _Session, cycle: CycleQuestion, some, first) -> CycleVerdict:
    """The first stuck state also waits on other locks: ask for one whose waiters all
    wait on the cycle's classes."""
    search = session.solver()
    answer = search.stuck("deadlock", [some, search.waits_only_for_classes(cycle.classes)])
    if answer.result == SAT:
        verdict = _confirm(session, cycle, answer)
        if verdict is not None:
            return verdict
    elif answer.result == UNKNOWN:
        session.note_unknown(answer.reason)
    others = ", ".join(search.waited_locks(first.model))
    return CycleVerdict("potential", f"{session.name}: it deadlocks with threads waiting on "
                                     f"{others}, but no wait-for cycle of this cycle's "
                                     "locks alone was found")


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
