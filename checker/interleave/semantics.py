"""The reference semantics of a scenario: threads, shared state and one step.

This module is the single definition of what an interleaving of IR threads
means (docs/semantics.md states it in prose). The simulator that replays
witnesses, the explicit-state explorer and the Promela export are written
over it, and the z3 engine encodes exactly these rules.

A step is one op of one thread, named by an `Event(thread, op_index,
choice)`; an interrupt thread additionally has a start event (`op_index ==
START`). Thread-local state is model.walk's `ThreadState`; everything threads
share lives in `State.locks`, `State.objects` and `State.armed`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from model import ir, walk
from model.grace import in_read_section, stopped_kthread, waits_for_instance

START = -1                 # Event.op_index of an interrupt thread's start
NOT_STARTED = -1           # pc of an interrupt thread that has not started
FINISHED = -2              # pc of a thread that has run its Exit
MAX_THREADS = 64           # spawning beyond this is an error of the search

# Lock kinds that never block: lockdep annotations, RCU readers, ww acquire
# contexts, and local_lock (without PREEMPT_RT a per-CPU lock is exclusion by
# disabled preemption, so it never spins).
NON_BLOCKING_KINDS = frozenset({"lockdep_map", "ww_ctx", "rcu", "rcu_sched", "srcu",
                                "local_lock"})

# The finding codes (checker.findings.CODES) a violation of these semantics can have.
VIOLATION_CODES = frozenset({"deadlock", "hang", "use-after-revoke", "use-after-free",
                             "refcount", "assertion", "held-at-exit", "bad-unlock"})


class ThreadLimit(Exception):
    """A scenario spawned more than MAX_THREADS threads."""


# --------------------------------------------------------------- threads

@dataclass(frozen=True)
class ThreadSpec:
    """One thread of a scenario: `label` is the code id, '#', a 1-based copy number."""

    label: str
    code: str
    cpu: int
    context: ir.Context


def scenario_threads(program: ir.Program, scenario: ir.Scenario) -> list[ThreadSpec]:
    """Expand counts; a thread without `@cpu` gets its own CPU, numbered after the
    highest explicit one, in scenario order."""
    explicit = [t.cpu for t in scenario.threads if t.cpu is not None]
    next_cpu = max(explicit) + 1 if explicit else 0
    copies: dict[str, int] = {}
    threads = []
    for entry in scenario.threads:
        for _ in range(entry.count):
            copies[entry.code] = copies.get(entry.code, 0) + 1
            cpu = entry.cpu
            if cpu is None:
                cpu, next_cpu = next_cpu, next_cpu + 1
            threads.append(ThreadSpec(f"{entry.code}#{copies[entry.code]}", entry.code, cpu,
                                      program.codes[entry.code].context))
    return threads


def cycle_scenario(program: ir.Program, code_ids) -> ir.Scenario:
    """A synthetic scenario running each given code once, each on its own CPU."""
    codes = list(dict.fromkeys(code_ids))
    span = program.codes[codes[0]].span
    threads = tuple(ir.ScenarioThread(code, None, 1, program.codes[code].span)
                    for code in codes)
    return ir.Scenario("cycle(" + ", ".join(codes) + ")", threads, span)


# --------------------------------------------------------------- events and verdicts

@dataclass(frozen=True)
class Event:
    """One executed step; `choice` is the successor index taken (0 for one successor)."""

    thread: str
    op_index: int
    choice: int


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    thread: str | None
    site: ir.Site | None
    blocked: tuple[tuple[str, str], ...] = ()     # deadlock/hang: (thread, what it waits for)
    cycle: tuple[str, ...] = ()                   # deadlock: the locks on its wait-for cycles
    waited: tuple[str, ...] = ()                  # deadlock: every lock a blocked thread waits for


# --------------------------------------------------------------- the static model

@dataclass(frozen=True)
class Model:
    """What the step function needs to know of a program, computed once."""

    program: ir.Program
    lock_index: dict[str, int]                    # blocking locks, sorted by name
    object_index: dict[str, int]
    # (code, op, choice) -> refcounted objects freed when that edge leaves a release body
    release_edges: dict[tuple[str, int, int], tuple[str, ...]]
    interrupt_spawners: frozenset[str]            # codes that may (transitively) spawn an interrupt


def build_model(program: ir.Program) -> Model:
    blocking = sorted(n for n, lock in program.locks.items() if lock.kind not in NON_BLOCKING_KINDS)
    return Model(program, {n: i for i, n in enumerate(blocking)},
                 {n: i for i, n in enumerate(sorted(program.objects))},
                 _release_edges(program), _interrupt_spawners(program))


def _release_edges(program: ir.Program) -> dict[tuple[str, int, int], tuple[str, ...]]:
    """A refcounted object is freed when its release function returns: on the edges
    from the inlined release body to the Put's continuation."""
    edges: dict[tuple[str, int, int], tuple[str, ...]] = {}
    for code_id, code in program.codes.items():
        for index, op in enumerate(code.ops):
            if not isinstance(op, ir.Put) or not op.frees:
                continue
            if op.released == op.next:
                _add_edge(edges, (code_id, index, 0), op.obj)
                continue
            body, stack = {op.released}, [op.released]
            while stack:
                node = stack.pop()
                for pos, succ in enumerate(ir.successors(code.ops[node])):
                    if succ == op.next:
                        _add_edge(edges, (code_id, node, pos), op.obj)
                    elif succ not in body:
                        body.add(succ)
                        stack.append(succ)
    return edges


def _add_edge(edges, key, obj) -> None:
    edges[key] = edges.get(key, ()) + (obj,)


def _interrupt_spawners(program: ir.Program) -> frozenset[str]:
    """Codes that may start an interrupt on their own CPU: they spawn interrupt work,
    or spawn interrupt work that does (interrupt work runs on its spawner's CPU;
    workqueue items get a new CPU, so what they spawn lands elsewhere)."""
    spawns = {cid: {op.code for op in code.ops if isinstance(op, ir.Spawn)}
              for cid, code in program.codes.items()}
    result = {cid for cid, targets in spawns.items()
              if any(program.codes[t].context.is_interrupt for t in targets)}
    changed = True
    while changed:
        changed = False
        for cid, targets in spawns.items():
            if cid not in result and any(t in result and program.codes[t].context.is_interrupt
                                         for t in targets):
                result.add(cid)
                changed = True
    return frozenset(result)


def is_blocking_lock(program: ir.Program, lock: str) -> bool:
    return program.locks[lock].kind not in NON_BLOCKING_KINDS


# --------------------------------------------------------------- state

class LockState(NamedTuple):
    """A blocking lock's shared state (a tuple, so states hash fast)."""

    writer: int = -1                   # thread index of the exclusive owner, or -1
    readers: tuple[int, ...] = ()      # sorted thread indices, repeated per read hold
    ctx: bool = False                  # the writer took it with a ww acquire context

    @property
    def held(self) -> bool:
        return self.writer >= 0 or bool(self.readers)


@dataclass(frozen=True)
class State:
    threads: tuple[ThreadSpec, ...]
    pcs: tuple[int, ...]
    locals: tuple[walk.ThreadState, ...]
    locks: tuple[LockState, ...]               # Model.lock_index order
    objects: tuple[tuple[int, ...], ...]       # Model.object_index order (see OBJECT_FIELDS)
    armed: frozenset[str] = frozenset()        # "fence:callback"
    running_irqs: tuple[int, ...] = ()         # started unfinished interrupts, in start order
    # Threads between a grace period's or flush's begin and end (or RCU callbacks
    # not yet started), with what they wait for: (thread, what, target, the threads
    # still waited for); checker.interleave.step keeps the sets up to date.
    graces: tuple[tuple[int, str, str, frozenset[int]], ...] = ()
    # Threads asleep in a wait_event(), each with whether a wake-up has come since.
    sleepers: tuple[tuple[int, bool], ...] = ()


# The fields of each object kind's state tuple.
OBJECT_FIELDS = {
    "revocable": ("revoked", "mapped", "attached"),
    "memory": ("freed",),
    "refcounted": ("count", "freed"),
    "flag": ("value",),
    "counter": ("value",),
    "pointer": ("value",),                   # its target's number, 0 for NULL
    "completion": ("signalled", "count"),    # done for all (complete_all), complete()s left
    "fence": ("signalled",),
    "waitqueue": (),
}


def initial_object(obj: ir.Obj) -> tuple[int, ...]:
    """`init` is the revoked bit, the count, the flag value or the signalled bit;
    memory starts allocated."""
    if obj.kind == "revocable":
        return (1 if obj.init else 0, 0, 0)
    if obj.kind == "memory":
        return (0,)
    if obj.kind == "refcounted":
        return (obj.init, 0)
    if obj.kind == "completion":
        return (1 if obj.init else 0, 0)
    if obj.kind in ("flag", "fence"):
        return (1 if obj.init else 0,)
    if obj.kind == "waitqueue":
        return ()
    return (obj.init,)


def initial_state(model: Model, threads) -> State:
    threads = tuple(threads)
    program = model.program
    pcs = tuple(NOT_STARTED if t.context.is_interrupt else program.codes[t.code].entry
                for t in threads)
    return State(threads, pcs, tuple(walk.initial_state(t.context) for t in threads),
                 tuple(LockState() for _ in model.lock_index),
                 tuple(initial_object(program.objects[n]) for n in model.object_index))


def current_op(model: Model, state: State, index: int) -> ir.Op | None:
    pc = state.pcs[index]
    if pc < 0:
        return None
    return model.program.codes[state.threads[index].code].ops[pc]


# --------------------------------------------------------------- scheduling

def cpu_top(state: State, cpu: int) -> int:
    """The running interrupt on `cpu` (the innermost), or -1."""
    for index in reversed(state.running_irqs):
        if state.threads[index].cpu == cpu:
            return index
    return -1


def may_run(state: State, index: int) -> bool:
    """A started thread may step unless an interrupt on its CPU preempts it."""
    pc = state.pcs[index]
    if pc == FINISHED:
        return False
    thread = state.threads[index]
    if pc == NOT_STARTED:
        return interrupt_may_start(state, index) and not grace_waits(state, index)
    top = cpu_top(state, thread.cpu)
    return top == index if thread.context.is_interrupt else top == -1


def interrupt_may_start(state: State, index: int) -> bool:
    """Every started unfinished thread on the CPU has hardirqs on (softirq: bh on too)."""
    thread = state.threads[index]
    for other, spec in enumerate(state.threads):
        if other == index or spec.cpu != thread.cpu or state.pcs[other] < 0:
            continue
        local = state.locals[other]
        if local.hardirqs_off:
            return False
        if thread.context is ir.Context.SOFTIRQ and local.softirq_off:
            return False
    return True


def acquire_enabled(model: Model, state: State, lock: str, mode: ir.Mode) -> bool:
    """Exclusive: free. Read: no writer and no waiting writer (writer preference).
    Recursive read: no writer."""
    slot = model.lock_index.get(lock)
    if slot is None:
        return True
    entry = state.locks[slot]
    if entry.writer >= 0:
        return False
    if mode is ir.Mode.WRITE:
        return not entry.readers
    if mode is ir.Mode.READ:
        return not (entry.readers and writer_waiting(model, state, lock))
    return True


def writer_waiting(model: Model, state: State, lock: str) -> bool:
    """Some thread's pc is at a non-try exclusive Acquire of `lock`."""
    for index in range(len(state.threads)):
        op = current_op(model, state, index)
        if (isinstance(op, ir.Acquire) and op.lock == lock and op.mode is ir.Mode.WRITE
                and not op.trylock):
            return True
    return False


def cookie_skips(program: ir.Program, local: walk.ThreadState, context: ir.Context,
                 op: ir.Acquire) -> bool:
    """A cookie acquire does nothing when the lock is held or the thread is atomic."""
    return (any(h.lock == op.lock for h in local.held)
            or walk.in_atomic_strict(local, context, program))


def valid_choices(model: Model, state: State, index: int) -> tuple[int, ...]:
    """The successor indices thread `index` may take now; () if it cannot step."""
    if not may_run(state, index):
        return ()
    op = current_op(model, state, index)
    if op is None:
        return (0,)                                      # an interrupt's start
    if isinstance(op, ir.Acquire):
        if op.cookie and cookie_skips(model.program, state.locals[index],
                                      state.threads[index].context, op):
            return (0,)
        return (0,) if acquire_enabled(model, state, op.lock, ir.Mode(op.mode)) else ()
    if isinstance(op, ir.TryAcquire):
        return (0,) if acquire_enabled(model, state, op.lock, ir.Mode(op.mode)) else (1,)
    if isinstance(op, ir.Branch):
        value = evaluate(model, state, index, op.cond)
        return (0, 1) if value is None else (0,) if value else (1,)
    if isinstance(op, ir.Choice):
        return tuple(range(len(op.targets)))
    if isinstance(op, ir.StateOp) and op.verb == "wait":
        return (0,) if completion_available(model, state, op.obj) else ()
    if isinstance(op, ir.Put):
        return (0,) if object_field(model, state, op.obj, 0) == 1 else (1,)
    if isinstance(op, ir.TryState):
        return (0,) if try_state_succeeds(model, state, op) else (1,)
    if isinstance(op, ir.AddCallback):
        return (1,) if object_field(model, state, op.fence, 0) else (0,)
    if isinstance(op, ir.Grace) and op.phase == "end":
        return () if grace_waits(state, index) else (0,)
    if isinstance(op, ir.SleepUntil):
        if (index, False) in state.sleepers:
            return ()                                    # asleep, no wake-up yet
        value = evaluate(model, state, index, op.cond)
        return (0, 1) if value is None else (0,) if value else (1,)
    return (0,)


def grace_waits(state: State, index: int) -> frozenset[int]:
    """The threads a grace period or flush of thread `index` still waits for."""
    return next((entry[3] for entry in state.graces if entry[0] == index), frozenset())


def grace_waited(model: Model, state: State, what: str, target: str) -> frozenset[int]:
    """Whom a grace period or flush (`ir.Grace.what`, `.target`) beginning now waits
    for: the threads in a read section of its domain (the syncing thread too: it
    would wait for itself), or the unfinished instances of the work it flushes."""
    program = model.program
    if what == "readers":
        return frozenset(i for i, t in enumerate(state.threads) if state.pcs[i] >= 0
                         and in_read_section(program, target, state.locals[i], t.context))
    return frozenset(i for i, t in enumerate(state.threads) if state.pcs[i] != FINISHED
                     and waits_for_instance(what, target, program.codes[t.code]))


def left_grace(model: Model, state: State, index: int, what: str, target: str) -> bool:
    """Thread `index` no longer holds up the grace period or flush (what, target)."""
    if state.pcs[index] == FINISHED:
        return True
    return what == "readers" and not in_read_section(
        model.program, target, state.locals[index], state.threads[index].context)


def try_state_succeeds(model: Model, state: State, op: ir.TryState) -> bool:
    """kref_get_unless_zero: the count is not zero. A timed wait: a completion is there."""
    if op.verb == "get":
        return object_field(model, state, op.obj, 0) > 0
    return completion_available(model, state, op.obj)


def enabled_events(model: Model, state: State) -> list[Event]:
    events = []
    for index, thread in enumerate(state.threads):
        pc = state.pcs[index]
        for choice in valid_choices(model, state, index):
            events.append(Event(thread.label, START if pc == NOT_STARTED else pc, choice))
    return events


def thread_index(state: State, label: str) -> int:
    for index, thread in enumerate(state.threads):
        if thread.label == label:
            return index
    return -1


# --------------------------------------------------------------- conditions

def object_field(model: Model, state: State, obj: str, pos: int) -> int:
    return state.objects[model.object_index[obj]][pos]


def completion_available(model: Model, state: State, obj: str) -> bool:
    """A wait passes: the completion (or fence) is done for all, or a completion
    has a count left (complete() once per count)."""
    values = state.objects[model.object_index[obj]]
    return bool(values[0]) or (len(values) > 1 and values[1] > 0)


def evaluate(model: Model, state: State, index: int, cond: ir.Cond) -> bool | None:
    """A condition's value for thread `index`; None for a nondeterministic one."""
    if isinstance(cond, ir.CConst):
        return cond.value
    if isinstance(cond, ir.CNot):
        inner = evaluate(model, state, index, cond.operand)
        return None if inner is None else not inner
    if isinstance(cond, ir.COr):
        return ir.any_of(evaluate(model, state, index, o) for o in cond.operands)
    if not isinstance(cond, ir.CPred):
        return None
    if cond.name in ir.THREAD_LOCAL_PREDICATES:
        return walk.evaluate_local(cond, state.locals[index], state.threads[index].context,
                                   model.program)
    return shared_predicate(model, state, cond)


def shared_predicate(model: Model, state: State, cond: ir.CPred) -> bool | None:
    name, args = cond.name, cond.args
    if name == "armed":
        return f"{args[0]}:{args[1]}" in state.armed
    obj = str(args[0])
    if obj not in model.object_index:
        return None
    values = state.objects[model.object_index[obj]]
    kind = model.program.objects[obj].kind
    if name == "revoked":
        return bool(values[0])
    if name == "mapped":
        return values[1] > 0
    if name == "attached":
        return values[2] > 0
    if name == "freed":
        return bool(values[1] if kind == "refcounted" else values[0])
    if name == "signalled":
        return completion_available(model, state, obj)
    if name == "flag":
        return bool(values[0])
    if name == "count":
        return _compare(values[0], str(args[1]), int(args[2]))
    if name == "points_to":
        return values[0] == int(args[1])
    return None


def _compare(left: int, op: str, right: int) -> bool:
    return {"==": left == right, "!=": left != right, "<": left < right,
            ">": left > right, "<=": left <= right, ">=": left >= right}[op]


# --------------------------------------------------------------- stuck states

def stuck_violation(model: Model, state: State) -> Violation | None:
    """In a state where nothing can step: a deadlock, a hang, or None (all done, or a
    ww_mutex wait-die cycle that the kernel breaks with -EDEADLK)."""
    waits: list[tuple[int, str, str]] = []          # (thread, kind, what)
    edges: list[tuple[int, int, str | None]] = []   # (waiter, what it waits for, lock)
    ctx_waits: dict[int, int] = {}                  # ww context waiter -> context owner
    for index, thread in enumerate(state.threads):
        if state.pcs[index] < 0:
            continue
        top = cpu_top(state, thread.cpu)
        if top >= 0 and top != index:
            waits.append((index, "preempted", f"interrupted by {state.threads[top].label}"))
            edges.append((index, top, None))
            continue
        op = current_op(model, state, index)
        if isinstance(op, ir.Acquire):
            owner = _ww_context_owner(model, state, op)
            if owner is not None:
                ctx_waits[index] = owner
            waits.append((index, "lock", _lock_wait(model, state, op)))
            edges += [(index, holder, op.lock) for holder in lock_holders(model, state, index, op)]
        elif isinstance(op, ir.StateOp):
            waits.append((index, "wait", f"wait({op.obj}), not signalled"))
        elif isinstance(op, ir.SleepUntil):
            waits.append((index, "wait", f"wait_event({op.queue}): asleep, and no wake-up "
                          "will come"))
        elif isinstance(op, ir.Grace):
            waited = sorted(grace_waits(state, index))
            waits.append((index, "wait", grace_text(op, [state.threads[i].label for i in waited])))
            edges += [(index, other, None) for other in waited]
    if not waits or _has_cycle(ctx_waits):
        return None
    blocked = tuple((state.threads[i].label, what) for i, _, what in waits)
    kinds = {kind for _, kind, _ in waits}
    first = next((i for i, kind, _ in waits if kind != "preempted"), waits[0][0])
    op = current_op(model, state, first)
    label = state.threads[first].label
    text = "; ".join(f"{t} waits: {w}" for t, w in blocked)
    if "lock" in kinds:
        waited = tuple(sorted({lock for _, _, lock in edges if lock is not None}))
        return Violation("deadlock", f"every thread is blocked: {text}", label,
                         getattr(op, "site", None), blocked, wait_cycle_locks(edges), waited)
    return Violation("hang", f"a wait nothing can satisfy any more: {text}", label,
                     getattr(op, "site", None), blocked)


def grace_text(op: ir.Grace, labels: list[str]) -> str:
    whom = ", ".join(labels)
    if op.what == "readers":
        return f"a grace period of `{op.target}`, for the read section of {whom}"
    if kthread := stopped_kthread(op):
        return f"kthread_stop({kthread}), for {whom} to return"
    return f"a flush of {op.target or 'the workqueue'}, for {whom} to finish"


def lock_holders(model: Model, state: State, index: int, op: ir.Acquire) -> list[int]:
    """The threads a blocked acquisition waits for: the owner, the readers (for an
    exclusive acquisition), and for a queued reader the writers queued before it."""
    entry = state.locks[model.lock_index[op.lock]]
    holders = [entry.writer] if entry.writer >= 0 else []
    if op.mode is ir.Mode.WRITE:
        holders += entry.readers
    elif op.mode is ir.Mode.READ and entry.writer < 0:
        holders += [other for other in range(len(state.threads)) if other != index
                    and _waits_to_write(model, state, other, op.lock)]
    return sorted(set(holders))


def _waits_to_write(model: Model, state: State, index: int, lock: str) -> bool:
    op = current_op(model, state, index)
    return (isinstance(op, ir.Acquire) and op.lock == lock and op.mode is ir.Mode.WRITE
            and not op.trylock)


def wait_cycle_locks(edges: list[tuple[int, int, str | None]]) -> tuple[str, ...]:
    """The locks on the cycles of the wait-for graph (preemption links included,
    they carry no lock): what the deadlock is made of."""
    succ: dict[int, set[int]] = {}
    for waiter, holder, _ in edges:
        succ.setdefault(waiter, set()).add(holder)
    on_cycle = {(w, h) for w, h, _ in edges if w == h or _reaches(succ, h, w)}
    return tuple(sorted({lock for w, h, lock in edges if lock is not None and (w, h) in on_cycle}))


def _reaches(succ: dict[int, set[int]], start: int, goal: int) -> bool:
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(succ.get(node, ()))
    return False


def _ww_context_owner(model: Model, state: State, op: ir.Acquire) -> int | None:
    """The owner of a ww_mutex that a thread waits for with an acquire context, when
    the owner took it with a context too (the wait-die relation), else None."""
    slot = model.lock_index.get(op.lock)
    if slot is None or op.nest is None or model.program.locks[op.lock].kind != "ww_mutex":
        return None
    entry = state.locks[slot]
    return entry.writer if entry.ctx and entry.writer >= 0 else None


def _has_cycle(ctx_waits: dict[int, int]) -> bool:
    """Wait-die lets an older context wait for a younger one and backs the younger
    off with -EDEADLK: contexts waiting on each other in a cycle always have one
    that backs off (specs cannot express the retry, so the state is not reported);
    an acyclic chain of context waits can be ordered by age and is a real wait."""
    for start in ctx_waits:
        node, steps = start, 0
        while node in ctx_waits and steps <= len(ctx_waits):
            node, steps = ctx_waits[node], steps + 1
            if node == start:
                return True
    return False


def _lock_wait(model: Model, state: State, op: ir.Acquire) -> str:
    entry = state.locks[model.lock_index[op.lock]]
    owners = ([state.threads[entry.writer].label] if entry.writer >= 0 else []) + [
        state.threads[r].label for r in dict.fromkeys(entry.readers)]
    mode = {"write": "", "read": " for read", "recursive": " for recursive read"}[
        ir.Mode(op.mode).value]
    held = f"held by {', '.join(owners)}"
    if entry.writer < 0 and op.mode is ir.Mode.READ:
        held += ", and a writer waits first"
    return f"`{op.lock}`{mode}, {held}"
