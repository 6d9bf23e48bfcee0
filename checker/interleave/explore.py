"""Exhaustive explicit-state search over the reference semantics.

A depth-first search with a set of visited states. It returns the first
violation with the events that reach it (replayable by checker.interleave.simulate) or
the number of states it proved free of violations. It is the differential
oracle for the z3 engine and the reference that SPIN is compared against.

The optional partial-order reduction explores only one thread from a state
where that thread's next step is local (see `is_local_step`): a step that
touches only the thread's own state, or locks and objects no other thread
will ever touch again, commutes with every step of the others, so every order
of it against them reaches the same violations and stuck states. Runs are
finite (each step advances a pc in an acyclic code graph or starts a thread,
or puts a thread to sleep in a wait_event(), which only a wake-up, another
thread's step, lets it check again), so the reduction needs no cycle proviso.
`por=False` explores every interleaving.

`explore_all` is the exhaustive mode: it does not stop at the first violation
but collects every violation an interleaving can end in and every reachable
stuck state, with the locks its blocked threads wait for. Its reduction takes
a local step eagerly only when that step causes no violation itself, because
an interleaving ends at its first violation: a local step that fails would
end every interleaving through it and hide what the others reach meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.interleave.semantics import (FINISHED, NOT_STARTED, Event, Model, State, ThreadLimit,
                                          ThreadSpec, Violation, build_model, current_op,
                                          enabled_events, initial_state, is_blocking_lock,
                                          scenario_threads, stuck_violation)
from checker.interleave.step import apply
from model import ir
from model.grace import (RCU_READ_SIDE_KINDS, cancelled_codes, flushed_codes, grace_domains,
                         waits_for_instance)

DEFAULT_MAX_STATES = 2_000_000


@dataclass(frozen=True)
class ExploreResult:
    violation: Violation | None
    events: tuple[Event, ...]          # the interleaving that reaches the violation
    states: int                        # distinct states visited
    complete: bool                     # False: stopped at the state budget or thread limit
    detail: str = ""

    def summary(self) -> str:
        if self.violation is not None:
            return f"{self.violation.code}: {self.violation.message}"
        if not self.complete:
            return f"no violation in {self.states} states (incomplete: {self.detail})"
        return f"no violation, {self.states} states"


def explore(program: ir.Program, threads: list[ThreadSpec], por: bool = True,
            max_states: int = DEFAULT_MAX_STATES, symmetry: bool = True) -> ExploreResult:
    """The first violation a depth-first search reaches, with the events to it.

    `symmetry` skips a state whose image under a swap of interchangeable CPUs
    (`_SymmetricKeys`) was visited: the search is loop-free and stops at its first
    violation, so the image's successors were all searched and none fails, and
    neither would the state's. The violation and the events found are the same
    with or without it; only fewer states are visited."""
    model = build_model(program)
    prints = footprints(model) if por else None
    start = initial_state(model, threads)
    keys = _SymmetricKeys(model, start.threads) if symmetry else _StateKeys()
    visited = {keys.key(start)}
    # Each frame: a state and the events still to try from it; `path` holds the
    # event that led into each frame after the first.
    stack: list[tuple[State, list[Event]]] = [(start, _successors(model, prints, start))]
    path: list[Event] = []
    if not stack[0][1]:
        return _finish_stuck(model, start, path, len(visited))
    while stack:
        state, pending = stack[-1]
        if not pending:
            stack.pop()
            if path:
                path.pop()
            continue
        event = pending.pop(0)
        try:
            nxt, violation = apply(model, state, event)
        except ThreadLimit as limit:
            return ExploreResult(None, (), len(visited), False, str(limit))
        if violation is not None:
            return ExploreResult(violation, tuple(path + [event]), len(visited), True)
        key = keys.key(nxt)
        if key in visited:
            continue
        if len(visited) >= max_states:
            return ExploreResult(None, (), len(visited), False,
                                 f"state budget of {max_states} spent")
        visited.add(key)
        successors = _successors(model, prints, nxt)
        if not successors:
            stuck = stuck_violation(model, nxt)
            if stuck is not None:
                return ExploreResult(stuck, tuple(path + [event]), len(visited), True)
            continue
        path.append(event)
        stack.append((nxt, successors))
    return ExploreResult(None, (), len(visited), True)


class _StateKeys:
    """Compact, fast-hashing keys for visited states. Thread-local states (and the
    thread list) are interned: a step changes at most one of them and the others
    keep their identity, so only a new one is ever hashed by value."""

    def __init__(self) -> None:
        self.by_identity: dict[int, int] = {}
        self.by_value: dict[object, int] = {}
        self.alive: list[object] = []          # keeps interned objects' ids unique

    def intern(self, value) -> int:
        number = self.by_identity.get(id(value))
        if number is None:
            number = self.by_value.setdefault(value, len(self.by_value))
            self.by_identity[id(value)] = number
            self.alive.append(value)
        return number

    def interned(self, values) -> list[int]:
        """`intern` of each value; inlined for the values already seen (nearly all: the
        explorer asks for every thread-local state of every state it reaches)."""
        seen = self.by_identity
        out = []
        for value in values:
            number = seen.get(id(value))
            out.append(self.intern(value) if number is None else number)
        return out

    def key(self, state: State) -> tuple:
        return (state.pcs, tuple(self.interned(state.locals)), state.locks,
                state.objects, state.armed, state.running_irqs, self.intern(state.threads),
                state.graces, state.sleepers)


def _finish_stuck(model: Model, state: State, path, count: int) -> ExploreResult:
    return ExploreResult(stuck_violation(model, state), tuple(path), count, True)


def explore_scenario(program: ir.Program, scenario: str | None = None, por: bool = True,
                     max_states: int = DEFAULT_MAX_STATES) -> ExploreResult:
    """Explore one of the spec's scenarios (default: the first)."""
    chosen = [s for s in program.scenarios if scenario is None or s.name == scenario]
    if not chosen:
        raise KeyError(scenario)
    return explore(program, scenario_threads(program, chosen[0]), por, max_states)


# --------------------------------------------------------------- partial-order reduction

@dataclass(frozen=True)
class Footprints:
    """The shared resources (blocking locks, objects) each op touches, and those every
    op reachable from it touches, including the work it may spawn."""

    own: dict[tuple[str, int], frozenset[str]]
    future: dict[tuple[str, int], frozenset[str]]


def footprints(model: Model) -> Footprints:
    program = model.program
    waits = GraceWaits(grace_domains(program), flushed_codes(program), cancelled_codes(program))
    own = {(cid, pc): op_resources(model, cid, pc) | waits.resources(program, cid, pc)
           for cid, code in program.codes.items() for pc in range(len(code.ops))}
    whole: dict[str, frozenset[str]] = {}
    future: dict[tuple[str, int], frozenset[str]] = {}

    def code_future(cid: str, active: frozenset[str]) -> frozenset[str]:
        if cid in whole:
            return whole[cid]
        code = program.codes[cid]
        result: dict[int, frozenset[str]] = {}
        for pc in reversed(_topological(code)):
            touched = set(own[(cid, pc)])
            for succ in ir.successors(code.ops[pc]):
                touched |= result[succ]
            op = code.ops[pc]
            if isinstance(op, ir.Spawn) and op.code not in active:
                touched |= code_future(op.code, active | {cid})
            result[pc] = frozenset(touched)
        for pc, touched in result.items():
            future[(cid, pc)] = touched
        whole[cid] = result[code.entry]
        return whole[cid]

    for cid in sorted(program.codes):
        code_future(cid, frozenset())
    return Footprints(own, future)


def _topological(code: ir.Code) -> list[int]:
    """Op indices with every op before its successors (the code graph is acyclic)."""
    order, seen = [], set()
    stack = [(code.entry, False)]
    while stack:
        pc, done = stack.pop()
        if done:
            order.append(pc)
            continue
        if pc in seen:
            continue
        seen.add(pc)
        stack.append((pc, True))
        stack += [(succ, False) for succ in ir.successors(code.ops[pc]) if succ not in seen]
    return list(reversed(order))


def op_resources(model: Model, code_id: str, pc: int) -> frozenset[str]:
    """What another thread could observe of this op: the blocking lock it takes or
    releases, the objects it reads or writes (a refcounted object freed on leaving a
    release body included), and the lock whose waiting writer arriving here makes."""
    program = model.program
    op = program.codes[code_id].ops[pc]
    touched: set[str] = set()
    if isinstance(op, (ir.Acquire, ir.TryAcquire, ir.Release)):
        if is_blocking_lock(program, op.lock):
            touched.add("lock:" + op.lock)
    elif isinstance(op, (ir.Branch, ir.Assert)):
        touched |= {"obj:" + name for name in condition_objects(op.cond)}
    elif isinstance(op, ir.SleepUntil):
        touched |= {"obj:" + name for name in condition_objects(op.cond) | {op.queue}}
    elif isinstance(op, ir.StateOp):
        touched.add("obj:" + op.obj.split(":", 1)[0])
    elif isinstance(op, (ir.Put, ir.TryState)):
        touched.add("obj:" + op.obj)
    elif isinstance(op, ir.AddCallback):
        touched.add("obj:" + op.fence)
    for choice in range(max(1, len(ir.successors(op)))):
        touched |= {"obj:" + o for o in model.release_edges.get((code_id, pc, choice), ())}
    for succ in ir.successors(op):
        target = program.codes[code_id].ops[succ]
        if _writer_arrival(program, target):
            touched.add("lock:" + target.lock)
    return frozenset(touched)


@dataclass(frozen=True)
class GraceWaits:
    """The grace periods and flushes of a program, as resources: a grace period reads
    who is in a read section of its domain, a flush which instances of its work are
    unfinished, so the ops that change either are not independent of them."""

    domains: frozenset[str]
    flushed: frozenset[str]
    cancelled: frozenset[str]          # whether their first step ran decides a cancel

    def resources(self, program: ir.Program, code_id: str, pc: int) -> frozenset[str]:
        op = program.codes[code_id].ops[pc]
        if isinstance(op, ir.Grace):
            if op.what == "readers":
                return frozenset({"grace:" + op.target})
            return frozenset("work:" + cid for cid in sorted(self.flushed)
                             if waits_for_instance(op.what, op.target, program.codes[cid]))
        touched = set()
        if code_id in self.cancelled and pc == program.codes[code_id].entry:
            touched.add("work:" + code_id)
        if isinstance(op, ir.Exit):
            touched |= {"grace:" + d for d in self.domains}
            if code_id in self.flushed:
                touched.add("work:" + code_id)
        elif isinstance(op, ir.IrqOp):
            touched |= {"grace:" + d for d in self.domains
                        if program.locks[d].kind != "srcu"}
        elif isinstance(op, (ir.Acquire, ir.TryAcquire, ir.Release)):
            touched |= {"grace:" + d for d in self.domains
                        if _enters_read_side(program, d, op.lock)}
        return frozenset(touched)


def _enters_read_side(program: ir.Program, domain: str, lock: str) -> bool:
    """Holding `lock` can make a thread a reader of `domain`."""
    if program.locks[domain].kind == "srcu":
        return lock == domain
    return program.locks[lock].kind in RCU_READ_SIDE_KINDS


def condition_objects(cond: ir.Cond) -> set[str]:
    if isinstance(cond, ir.CNot):
        return condition_objects(cond.operand)
    if isinstance(cond, ir.COr):
        return set().union(*(condition_objects(o) for o in cond.operands))
    if isinstance(cond, ir.CPred) and cond.name not in ir.THREAD_LOCAL_PREDICATES:
        return {str(cond.args[0])}
    return set()


def _successors(model: Model, prints: Footprints | None, state: State) -> list[Event]:
    events = enabled_events(model, state)
    if prints is None or len(events) <= 1:
        return events
    for index, thread in enumerate(state.threads):
        mine = [e for e in events if e.thread == thread.label]
        if mine and is_local_step(model, prints, state, index):
            return mine
    return events


def is_local_step(model: Model, prints: Footprints, state: State, index: int) -> bool:
    """The thread's next step touches nothing another thread does or ever will touch
    (its own state, or locks and objects private to it from here on), and does not
    start an interrupt, spawn a thread, or change irq state or finish on a CPU that
    interrupts can use."""
    op = current_op(model, state, index)
    if op is None or isinstance(op, ir.Spawn):
        return False
    thread = state.threads[index]
    if isinstance(op, (ir.IrqOp, ir.Exit)):
        if thread.context.is_interrupt or cpu_may_host_interrupts(model, state, thread.cpu):
            return False
    touched = prints.own[(thread.code, state.pcs[index])]
    if not touched:
        return True
    for other, spec in enumerate(state.threads):
        pc = state.pcs[other]
        if other == index or pc == FINISHED:
            continue
        pc = model.program.codes[spec.code].entry if pc == NOT_STARTED else pc
        if touched & prints.future[(spec.code, pc)]:
            return False
    return True


def _writer_arrival(program: ir.Program, op: ir.Op) -> bool:
    """Arriving at an exclusive acquire makes the thread a waiting writer (readers see it)."""
    return (isinstance(op, ir.Acquire) and op.mode is ir.Mode.WRITE and not op.trylock
            and is_blocking_lock(program, op.lock))


def cpu_may_host_interrupts(model: Model, state: State, cpu: int) -> bool:
    for index, thread in enumerate(state.threads):
        if thread.cpu != cpu or state.pcs[index] == FINISHED:
            continue
        if thread.context.is_interrupt or thread.code in model.interrupt_spawners:
            return True
    return False


# --------------------------------------------------------------- exhaustive mode

@dataclass(frozen=True)
class Reached:
    """A violation some interleaving ends in, with the events of one such interleaving.
    For a stuck state, `waits` holds (lock, lock class) for every lock a blocked thread
    waits for."""

    violation: Violation
    events: tuple[Event, ...]
    waits: frozenset[tuple[str, str]] = frozenset()

    @property
    def classes(self) -> frozenset[str]:
        return frozenset(lock_class for _, lock_class in self.waits)


@dataclass(frozen=True)
class ExhaustiveResult:
    violations: tuple[Reached, ...]    # violations of a step: one per (code, site)
    stuck: tuple[Reached, ...]         # stuck states: one per (code, locks waited for)
    states: int
    complete: bool                     # False: stopped at the state budget or thread limit
    detail: str = ""

    def codes(self) -> set[str]:
        return {r.violation.code for r in self.violations + self.stuck}

    def stuck_on(self, classes) -> Reached | None:
        """A stuck state in which some blocked thread waits for a lock of `classes`."""
        wanted = frozenset(classes)
        return next((r for r in self.stuck if r.classes & wanted), None)


def explore_all(program: ir.Program, threads: list[ThreadSpec], por: bool = True,
                max_states: int = DEFAULT_MAX_STATES, symmetry: bool = True) -> ExhaustiveResult:
    """Every violation and stuck state reachable from the threads' initial state. What
    was found before a spent budget is still reachable; only `complete` says that
    nothing else is. `symmetry` merges states that differ only by a swap of
    interchangeable CPUs (see `_SymmetricKeys`)."""
    model = build_model(program)
    prints = footprints(model) if por else None
    found = _Collected()
    start = initial_state(model, threads)
    keys = _SymmetricKeys(model, start.threads) if symmetry else _StateKeys()
    visited = {keys.key(start)}
    try:
        first = _applied_successors(model, prints, start)
    except ThreadLimit as limit:
        return found.result(len(visited), False, str(limit))
    if not first:
        found.stuck(model, start, ())
        return found.result(len(visited), True)
    stack = [first]
    path: list[Event] = []
    while stack:
        pending = stack[-1]
        if not pending:
            stack.pop()
            if path:
                path.pop()
            continue
        event, nxt, violation = pending.pop(0)
        if violation is not None:
            found.violation(violation, tuple(path + [event]))
            continue
        key = keys.key(nxt)
        if key in visited:
            continue
        if len(visited) >= max_states:
            return found.result(len(visited), False, f"state budget of {max_states} spent")
        visited.add(key)
        try:
            successors = _applied_successors(model, prints, nxt)
        except ThreadLimit as limit:
            return found.result(len(visited), False, str(limit))
        if not successors:
            found.stuck(model, nxt, tuple(path + [event]))
            continue
        path.append(event)
        stack.append(successors)
    return found.result(len(visited), True)


class _SymmetricKeys(_StateKeys):
    """State keys up to a swap of interchangeable CPUs.

    Two CPUs are interchangeable when the threads on them run the same codes in the
    same order (two copies of a path, each with the same interrupts on its CPU).
    Swapping them maps every run to a run that reaches the same violations at the
    same sites and stuck states waiting for the same locks, so one of two states
    that differ only by such a swap is enough. The key renames the threads by one
    fixed permutation (CPUs sorted by their threads' pcs and local states); two
    states with one key are therefore always each other's image, whether or not
    every image of a state gets the same key. Spawning changes the thread list,
    so a program that spawns is keyed without symmetry."""

    def __init__(self, model: Model, threads: tuple[ThreadSpec, ...]):
        super().__init__()
        self.groups: list[list[tuple[int, ...]]] = []
        if any(isinstance(op, ir.Spawn) for code in model.program.codes.values()
               for op in code.ops):
            return
        blocks: dict[int, list[int]] = {}
        for index, thread in enumerate(threads):
            blocks.setdefault(thread.cpu, []).append(index)
        by_codes: dict[tuple, list[tuple[int, ...]]] = {}
        for members in blocks.values():
            shape = tuple((threads[i].code, threads[i].context) for i in members)
            by_codes.setdefault(shape, []).append(tuple(members))
        self.groups = [group for group in by_codes.values() if len(group) > 1]

    def key(self, state: State) -> tuple:
        if not self.groups:
            return super().key(state)
        locals_ = self.interned(state.locals)
        rename = list(range(len(state.pcs)))
        for group in self.groups:
            ordered = sorted(group, key=lambda b: [(state.pcs[i], locals_[i]) for i in b])
            for old, new in zip(ordered, group):
                for src, dst in zip(old, new):
                    rename[src] = dst
        pcs, local_ids = [0] * len(rename), [0] * len(rename)
        for src, dst in enumerate(rename):
            pcs[dst], local_ids[dst] = state.pcs[src], locals_[src]
        locks = tuple((rename[e.writer] if e.writer >= 0 else -1,
                       tuple(sorted(rename[r] for r in e.readers)), e.ctx)
                      for e in state.locks)
        graces = tuple(sorted((rename[syncer], what, target,
                               frozenset(rename[i] for i in waited))
                              for syncer, what, target, waited in state.graces))
        sleepers = tuple(sorted((rename[i], woken) for i, woken in state.sleepers))
        return (tuple(pcs), tuple(local_ids), locks, state.objects, state.armed,
                tuple(rename[i] for i in state.running_irqs), self.intern(state.threads),
                graces, sleepers)


class _Collected:
    """The distinct violations and stuck states found so far, each with its first path."""

    def __init__(self) -> None:
        self.violations: dict[tuple, Reached] = {}
        self.stuck_states: dict[tuple, Reached] = {}

    def violation(self, violation: Violation, events: tuple[Event, ...]) -> None:
        self.violations.setdefault((violation.code, violation.site), Reached(violation, events))

    def stuck(self, model: Model, state: State, events: tuple[Event, ...]) -> None:
        violation = stuck_violation(model, state)
        if violation is None:             # all done, or a ww_mutex wait-die back-off
            return
        waits = waited_locks(model, violation)
        self.stuck_states.setdefault((violation.code, waits),
                                     Reached(violation, events, waits))

    def result(self, states: int, complete: bool, detail: str = "") -> ExhaustiveResult:
        return ExhaustiveResult(tuple(self.violations.values()),
                                tuple(self.stuck_states.values()), states, complete, detail)


def waited_locks(model: Model, violation: Violation) -> frozenset[tuple[str, str]]:
    """(lock, class) for every lock a blocked thread of a stuck state waits for."""
    locks = model.program.locks
    return frozenset((lock, locks[lock].lock_class) for lock in violation.waited)


def _applied_successors(model: Model, prints: Footprints | None,
                        state: State) -> list[tuple[Event, State, Violation | None]]:
    """The events to explore from `state`, each with the state and violation it leads to.
    With the reduction: one thread's local steps alone, if none of them fails."""
    events = enabled_events(model, state)
    if prints is not None and len(events) > 1:
        for index, thread in enumerate(state.threads):
            mine = [e for e in events if e.thread == thread.label]
            if not mine or not is_local_step(model, prints, state, index):
                continue
            applied = [(e, *apply(model, state, e)) for e in mine]
            if all(violation is None for _, _, violation in applied):
                return applied
    return [(e, *apply(model, state, e)) for e in events]
