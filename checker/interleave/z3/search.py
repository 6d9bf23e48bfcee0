"""One solver per scenario, asked small questions under assumption literals.

All constraints of a scenario go into one incremental solver once; each
question switches parts on with an assumption literal, so the solver keeps
what it learnt between questions:

- `violation`: some run causes a violation of a group (code, site) still
  allowed; groups already reported are switched off, which also forbids
  them earlier in the run, so the next answer is a new first violation;
- `stuck`: every started thread finished, blocked or preempted and no
  interrupt can start, with no violation on the way; `deadlock` adds that
  some thread waits for a lock, `hang` that none does, `cycle` that the
  locks of a graph cycle are all waited for;
- `bound`: at most K steps, when a depth bound is asked for.

Every question is seeded and limited by the solver's rlimit and by what is
left of the wall-clock budget.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from checker.interleave.z3.encode import Encoding, before
from checker.interleave.z3.rules import Rules
from checker.interleave.z3.terms import add_all, implies, term_truth
from checker.interleave.z3.threads import Unfolded
from model import ir

SAT, UNSAT, UNKNOWN = "sat", "unsat", "unknown"


@dataclass(frozen=True)
class Settings:
    seed: int = 0
    rlimit: int | None = None          # z3 resource units per question
    deadline: float | None = None      # time.monotonic() value
    bound: int | None = None           # at most this many steps
    # The z3 context of one run of the engine on one spec (None: one per search).
    # A context of its own keeps a witness independent of earlier checks in the
    # process; it is an identity, not a setting, so it is not compared.
    ctx: z3.Context | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Answer:
    result: str
    model: z3.ModelRef | None = None
    reason: str = ""


# z3 resource units for each question that shortens a witness. Shortening is a
# courtesy to the reader: a question that costs more than this (a few in a
# hundred on random designs, but most of their solver time) ends it, and the
# shortest witness found so far is kept. The cap is in resource units, not in
# seconds, so the witness is the same on every machine.
SHRINK_RLIMIT = 100_000

TIME_SPENT = "budget spent (time)"
RLIMIT_SPENT = "budget spent (rlimit)"


class Search:
    def __init__(self, unfolded: Unfolded, settings: Settings, reduce: bool = True):
        self.u = unfolded
        self.settings = settings
        self.enc = Encoding(unfolded, settings.ctx)
        self.rules = Rules(self.enc)
        ctx = self.enc.ctx
        self.solver = z3.Solver(ctx=ctx)
        # Seeded per solver, not through z3's global parameters: `random_seed` is
        # handed down to the SMT core and to the SAT core alike.
        self.solver.set("random_seed", settings.seed)
        add_all(self.solver, self.enc.facts)
        add_all(self.solver, self.rules.facts)
        self._store_facts = 0
        self._add_store_facts()
        if reduce:
            add_all(self.solver, symmetry_facts(self.enc))
        self.groups = self._violation_groups()
        self.want_violation = z3.Bool("want_violation", ctx)
        self.solver.add(implies(self.want_violation, self.enc.disj(*self._violations())))
        self.bound = None
        if settings.bound is not None:
            self.bound = z3.Bool("within_bound", ctx)
            self.solver.add(implies(self.bound, self.enc.at_most(self.enc.event_count(),
                                                                 settings.bound)))
        self._stuck = None
        self._kinds: dict[str, z3.BoolRef] = {}
        self._lock_waiters = None
        self._literals = 0
        self._capped = False           # the solver's rlimit is a shrinking question's cap

    # ------------------------------------------------------------ questions
    def _violation_groups(self) -> dict[tuple[str, ir.Site], z3.BoolRef]:
        groups = {}
        for hazard in self.rules.hazards:
            key = (hazard.code, hazard.site)
            if key not in groups:
                groups[key] = z3.Bool(f"allow_{len(groups)}", self.enc.ctx)
        return groups

    def _violations(self) -> list:
        out = []
        for hazard in self.rules.hazards:
            happens = self.enc.conj(self.enc.ex[hazard.thread][hazard.node], hazard.when)
            self.solver.add(implies(happens, self.groups[(hazard.code, hazard.site)]))
            out.append(happens)
        return out

    def _add_store_facts(self) -> None:
        """The store defines indicator variables and lemmas as values are asked for,
        some only when a question is built: add whatever is new."""
        facts = self.rules.store.facts
        add_all(self.solver, facts[self._store_facts:])
        self._store_facts = len(facts)

    def ask(self, assumptions: list, rlimit: int | None = None) -> Answer:
        """The solver's answer; `rlimit` caps this question below the run's own rlimit."""
        self._add_store_facts()
        settings = self.settings
        if settings.deadline is not None:
            left = settings.deadline - time.monotonic()
            if left <= 0:
                return Answer(UNKNOWN, reason=TIME_SPENT)
            self.solver.set("timeout", max(1, int(left * 1000)))
        caps = [cap for cap in (settings.rlimit, rlimit) if cap is not None]
        if caps or self._capped:
            self.solver.set("rlimit", min(caps, default=0))    # 0: no limit
            self._capped = rlimit is not None
        if self.bound is not None:
            assumptions = assumptions + [self.bound]
        result = self.solver.check(assumptions)
        if result == z3.sat:
            return Answer(SAT, self.solver.model())
        if result == z3.unsat:
            return Answer(UNSAT)
        return Answer(UNKNOWN, reason=self._unknown_reason())

    def shrink(self, assumptions: list, answer: Answer) -> Answer:
        """A model of the same question with as few steps as the solver can find in a
        few questions (bisection on a step bound, each question capped at
        SHRINK_RLIMIT): shorter witnesses read better."""
        events = self.enc.event_count()

        def steps(model):
            return sum(1 for e in events if term_truth(model.eval(e, model_completion=True)) == 1)

        best, low, high = answer, 0, steps(answer.model)
        while low < high:
            middle = (low + high) // 2
            within = self._literal(self.enc.at_most(events, middle))
            trial = self.ask(assumptions + [within], rlimit=SHRINK_RLIMIT)
            if trial.result == SAT:
                best, high = trial, min(middle, steps(trial.model))
            elif trial.result == UNSAT:
                low = middle + 1
            else:
                break
        return best

    def stuck_assumptions(self, kind: str, extra: list | None = None) -> list:
        self._build_stuck()
        if kind not in self._kinds:
            waiting = self.enc.disj(*self._lock_waiters)
            self._kinds[kind] = self._literal(
                waiting if kind == "deadlock" else self.enc.negate(waiting))
        return [self._stuck, self._kinds[kind]] + [
            self.enc.negate(lit) for lit in self.groups.values()] + list(extra or ())

    def _unknown_reason(self) -> str:
        """z3's reason for `unknown`, in the engine's words (z3 reports an exhausted
        rlimit as "canceled" when a timeout is set as well)."""
        reason = self.solver.reason_unknown()
        if "resource limit" in reason:
            return RLIMIT_SPENT
        if reason in ("timeout", "canceled"):
            deadline = self.settings.deadline
            if deadline is not None and time.monotonic() >= deadline:
                return TIME_SPENT
            if self.settings.rlimit is not None:
                return RLIMIT_SPENT
            return TIME_SPENT
        return f"solver unknown ({reason or 'no reason given'})"

    def violation(self, reported: set) -> Answer:
        """A run whose first violation is in a group not yet reported (shortened)."""
        if not self.groups or all(key in reported for key in self.groups):
            return Answer(UNSAT)
        assumptions = [self.want_violation] + [
            self.enc.negate(lit) if key in reported else lit for key, lit in self.groups.items()]
        return self.ask_short(assumptions)

    def stuck(self, kind: str, extra: list | None = None) -> Answer:
        """A stuck state of `kind` ("deadlock" or "hang") with no violation before it."""
        return self.ask_short(self.stuck_assumptions(kind, extra))

    def ask_short(self, assumptions: list) -> Answer:
        answer = self.ask(assumptions)
        return self.shrink(assumptions, answer) if answer.result == SAT else answer

    def waits_for_any_class(self, classes) -> z3.BoolRef:
        """A literal: some unpreempted blocked thread waits for a lock of these classes."""
        return self._literal(self.enc.disj(*self._waiters_in(classes, True)))

    def waits_only_for_classes(self, classes) -> z3.BoolRef:
        """A literal: no unpreempted blocked thread waits for a lock of another class."""
        return self._literal(self.enc.conj(*(self.enc.negate(w)
                                             for w in self._waiters_in(classes, False))))

    def _waiters_in(self, classes, inside: bool) -> list:
        self._build_stuck()
        program = self.u.program
        return [w for w, lock in zip(self._lock_waiters, self._waited)
                if (program.locks[lock].lock_class in classes) == inside]

    def not_waiting_for_all(self, classes) -> z3.BoolRef:
        """A literal excluding stuck states in which every one of these lock classes is
        waited for (one deadlock found, ask for one that is not the same again)."""
        return self._literal(self.enc.negate(self.enc.conj(*(
            self.enc.disj(*self._waiters_in({lock_class}, True))
            for lock_class in sorted(classes)))))

    def _literal(self, condition) -> z3.BoolRef:
        self._literals += 1
        lit = z3.Bool(f"ask_{self._literals}", self.enc.ctx)
        self.solver.add(implies(lit, condition))
        return lit

    # ------------------------------------------------------------ stuck states
    def _build_stuck(self) -> None:
        if self._stuck is not None:
            return
        enc, rules = self.enc, self.rules
        facts, waiters, waited, anyone = [], [], [], []
        for thread in self.u.threads:
            t = thread.index
            preempted = rules.preempted_at_end(thread)
            gone = rules.gone.get(t, z3.BoolVal(False, enc.ctx))   # a cancelled work item
            for node in thread.nodes:
                stopped = enc.stopped(t, node.index)
                anyone.append(enc.conj(stopped, enc.negate(gone)))
                blocked = rules.blocked_at_end(thread, node)
                facts.append(implies(stopped, enc.disj(preempted, blocked, gone)))
                if term_truth(blocked) == -1:
                    continue
                waiting = enc.conj(stopped, enc.negate(preempted))
                for owner, holds in rules.ww_context_waits(thread, node):
                    facts.append(implies(enc.conj(waiting, holds),
                                         self._age(t) < self._age(owner)))
                if isinstance(node.op, ir.Acquire):
                    waiters.append(waiting)
                    waited.append(node.op.lock)
            if thread.interrupt:
                unstarted = enc.conj(enc.exists(t), enc.negate(enc.started[t]))
                facts.append(implies(unstarted, rules.cannot_start_at_end(thread)))
        facts.append(enc.disj(*anyone))
        self._stuck = z3.Bool("want_stuck", enc.ctx)
        self.solver.add(implies(self._stuck, enc.conj(*facts)))
        self._lock_waiters, self._waited = waiters, waited

    def _age(self, thread: int) -> z3.ArithRef:
        """A ww acquire context's age (its ticket). Wait-die backs a younger context off
        with -EDEADLK, and its retry (ww_mutex_lock_slow) waits for the same lock, so
        only a cycle of context waits is broken: a stuck state stands if some order of
        the tickets lets every context wait, and the solver picks the order."""
        return z3.Int(f"ww_age_{thread}", self.enc.ctx)

    def waited_locks(self, model: z3.ModelRef) -> list[str]:
        self._build_stuck()
        return sorted({lock for w, lock in zip(self._lock_waiters, self._waited)
                       if term_truth(model.eval(w, model_completion=True)) == 1})


def symmetry_facts(enc: Encoding) -> list:
    """Identical threads are interchangeable: only interleavings in which they make
    their first visible step in label order are searched (any other is one of those
    with the threads renamed, and findings do not depend on names)."""
    facts = []
    for group in identical_threads(enc.u):
        for first, second in zip(group, group[1:]):
            facts += _ordered_first_steps(enc, first, second)
    return facts


def identical_threads(unfolded: Unfolded) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for thread in unfolded.threads:
        if thread.spec is None:
            continue
        sharing = [t for t in unfolded.others_on_cpu(thread) if t.spec is not None]
        if thread.interrupt:
            key = ("irq", thread.code.id, thread.cpu)
        elif not sharing and not unfolded.hosts_interrupts(thread):
            key = ("alone", thread.code.id)
        else:
            key = ("cpu", thread.code.id, thread.cpu)
        groups.setdefault(key, []).append(thread.index)
    return [g for _, g in sorted(groups.items()) if len(g) > 1]


def _frontier(thread) -> list[int]:
    """Visible nodes a thread can reach from its entry through local nodes only."""
    seen, stack, out = set(), [thread.entry], []
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        node = thread.nodes[n]
        if node.visible:
            out.append(n)
            continue
        stack.extend(o.target for o in node.outcomes if o.target is not None)
    return sorted(out)


def _ordered_first_steps(enc: Encoding, first: int, second: int) -> list:
    threads = enc.u.threads
    if threads[first].interrupt:
        return [implies(enc.started[second], enc.conj(enc.started[first],
                before(enc.start[first], enc.start[second])))]
    earlier = _frontier(threads[first])
    facts = []
    for n in _frontier(threads[second]):
        x = enc.ev(second, n)
        facts.append(implies(enc.ex[second][n], enc.disj(*(
            enc.conj(enc.ex[first][m], before(enc.ev(first, m), x)) for m in earlier))))
    return facts
