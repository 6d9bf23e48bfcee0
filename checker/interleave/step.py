"""One step of the reference semantics: the effect of an enabled event.

`checker.interleave.semantics` decides which events are enabled; this module applies
one. A step has a thread-local part (`local_effect`: held locks, irq/bh and
preemption depths, GFP scopes, cookies), which depends on the thread alone
and is what the Promela export unfolds statically, and a shared part (lock
owners, objects, armed callbacks, threads and CPUs), written against a
mutable scratch copy of the state that is frozen again at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from checker.interleave.semantics import (FINISHED, MAX_THREADS, NOT_STARTED, START, Event,
                                          LockState, Model, State, ThreadLimit, ThreadSpec,
                                          Violation, cookie_skips, evaluate,
                                          grace_waited, left_grace, thread_index)
from model import ir, walk

# --------------------------------------------------------------- the thread-local part

@dataclass(frozen=True)
class LocalOutcome:
    local: walk.ThreadState
    violation: tuple[str, str] | None = None     # (code, message)
    acquired: walk.Held | None = None            # the entry an acquisition added
    released: walk.Held | None = None            # the entry a release removed


def local_effect(program: ir.Program, thread: ThreadSpec, local: walk.ThreadState,
                 op: ir.Op, choice: int) -> LocalOutcome:
    """The thread-local effect of `op` taking successor `choice` (shared state aside)."""
    if isinstance(op, ir.Acquire):
        return _local_acquire(program, thread, local, op)
    if isinstance(op, ir.TryAcquire):
        if choice != 0:
            return LocalOutcome(local)
        return _hold(program, thread, local, op.lock, ir.Mode(op.mode), True, op.nest,
                     op.subclass, True, op.site)
    if isinstance(op, ir.Release):
        return _local_release(local, op)
    if isinstance(op, ir.IrqOp):
        return _local_irq(local, op)
    if isinstance(op, ir.GfpScope):
        return _local_gfp(local, op)
    if isinstance(op, ir.Exit) and local.held:
        names = ", ".join(f"`{h.lock}`" for h in local.held)
        path = program.codes[thread.code].path
        return LocalOutcome(local, ("held-at-exit", f"{path} returns holding {names}"))
    return LocalOutcome(local)


def _local_acquire(program, thread, local, op: ir.Acquire) -> LocalOutcome:
    if op.cookie:
        if cookie_skips(program, local, thread.context, op):
            return LocalOutcome(replace(local, cookies=local.cookies + ((op.lock, False),)))
        local = replace(local, cookies=local.cookies + ((op.lock, True),))
    return _hold(program, thread, local, op.lock, ir.Mode(op.mode), op.trylock, op.nest,
                 op.subclass, op.check, op.site)


def _hold(program, thread, local, lock, mode, trylock, nest, subclass, check, site):
    entry = walk.Held(lock, walk.class_key(program.locks[lock], subclass), mode.lockdep_read,
                      trylock, check, nest, thread.context.lockdep_irq_context, site)
    return LocalOutcome(replace(local, held=local.held + (entry,)), acquired=entry)


def _local_release(local: walk.ThreadState, op: ir.Release) -> LocalOutcome:
    if op.cookie:
        positions = [i for i, c in enumerate(local.cookies) if c[0] == op.lock]
        if not positions:
            return LocalOutcome(local, ("bad-unlock",
                                        f"release of `{op.lock}` without a matching begin"))
        last = positions[-1]
        took = local.cookies[last][1]
        local = replace(local, cookies=local.cookies[:last] + local.cookies[last + 1:])
        if not took:
            return LocalOutcome(local)
    held = local.held
    for pos in range(len(held) - 1, -1, -1):
        if held[pos].lock == op.lock:
            return LocalOutcome(replace(local, held=held[:pos] + held[pos + 1:]),
                                released=held[pos])
    return LocalOutcome(local, ("bad-unlock", f"`{op.lock}` is released but not held"))


def _local_irq(local: walk.ThreadState, op: ir.IrqOp) -> LocalOutcome:
    if op.what == "preempt":
        depth = local.preempt_off + (1 if op.action == "off" else -1)
        return LocalOutcome(replace(local, preempt_off=max(0, depth)))
    if op.what == "softirq":
        if op.action == "off":
            return LocalOutcome(replace(local, softirq_off=local.softirq_off + 1))
        if local.softirq_off == 0:
            return LocalOutcome(local, ("bad-unlock",
                                        "local_bh_enable() without local_bh_disable()"))
        return LocalOutcome(replace(local, softirq_off=local.softirq_off - 1))
    if op.action == "save":
        return LocalOutcome(replace(local, irq_saves=local.irq_saves + (local.hardirqs_off,),
                                    hardirqs_off=True))
    if op.action == "restore":
        if not local.irq_saves:
            return LocalOutcome(local, ("bad-unlock", "irqs restored without a matching save"))
        return LocalOutcome(replace(local, irq_saves=local.irq_saves[:-1],
                                    hardirqs_off=local.irq_saves[-1]))
    return LocalOutcome(replace(local, hardirqs_off=op.action == "off"))


def _local_gfp(local: walk.ThreadState, op: ir.GfpScope) -> LocalOutcome:
    if op.action == "begin":
        return LocalOutcome(replace(local, gfp_strips=local.gfp_strips + (op.strip,)))
    if not local.gfp_strips:
        return LocalOutcome(local, ("bad-unlock", "memalloc scope restored without a save"))
    return LocalOutcome(replace(local, gfp_strips=local.gfp_strips[:-1]))


# --------------------------------------------------------------- the shared part

@dataclass
class _Step:
    """The state being built by one step (mutable while the step runs)."""

    model: Model
    state: State
    index: int
    pcs: list[int]
    locals: list[walk.ThreadState]
    locks: list[LockState]
    objects: list[tuple[int, ...]]
    armed: set[str]
    threads: list[ThreadSpec]
    running_irqs: list[int]
    graces: list[tuple[int, str, str, frozenset[int]]]
    sleepers: list[tuple[int, bool]]
    violation: Violation | None = None

    @property
    def thread(self) -> ThreadSpec:
        return self.threads[self.index]

    def fail(self, code: str, message: str, site: ir.Site | None) -> None:
        if self.violation is None:
            self.violation = Violation(code, message, self.thread.label, site)

    def obj(self, name: str) -> list[int]:
        return list(self.objects[self.model.object_index[name]])

    def store(self, name: str, values: list[int]) -> None:
        self.objects[self.model.object_index[name]] = tuple(values)

    def freeze(self) -> State:
        old = self.state
        threads = old.threads if len(self.threads) == len(old.threads) else tuple(self.threads)
        armed = old.armed if self.armed == old.armed else frozenset(self.armed)
        return State(threads, tuple(self.pcs), tuple(self.locals), tuple(self.locks),
                     tuple(self.objects), armed, tuple(self.running_irqs), tuple(self.graces),
                     tuple(sorted(self.sleepers)))


def apply(model: Model, state: State, event: Event) -> tuple[State, Violation | None]:
    """Execute an enabled event (see `valid_choices`); the new state and any violation."""
    index = thread_index(state, event.thread)
    step = _Step(model, state, index, list(state.pcs), list(state.locals), list(state.locks),
                 list(state.objects), set(state.armed), list(state.threads),
                 list(state.running_irqs), list(state.graces), list(state.sleepers))
    if event.op_index == START:
        step.pcs[index] = model.program.codes[step.thread.code].entry
        step.running_irqs.append(index)
        step.graces = [entry for entry in step.graces if entry[0] != index]
        return step.freeze(), None
    code = model.program.codes[step.thread.code]
    op = code.ops[event.op_index]
    outcome = local_effect(model.program, step.thread, state.locals[index], op, event.choice)
    step.locals[index] = outcome.local
    if outcome.violation is not None:
        step.fail(*outcome.violation, op.site)
    _shared_locks(step, outcome)
    _SHARED_EFFECTS.get(type(op), _on_nothing)(step, op, event.choice)
    if isinstance(op, ir.Exit):
        step.pcs[index] = FINISHED
        if index in step.running_irqs:
            step.running_irqs.remove(index)
    elif isinstance(op, ir.SleepUntil) and event.choice == 1:
        pass                                           # asleep at the same op
    else:
        step.pcs[index] = ir.successors(op)[event.choice]
        for obj in model.release_edges.get((code.id, event.op_index, event.choice), ()):
            values = step.obj(obj)
            values[1] = 1
            step.store(obj, values)
    state = step.freeze()
    if state.graces:
        state = replace(state, graces=_graces_after(model, state, index))
    return state, step.violation


def _graces_after(model: Model, state: State, index: int):
    """Thread `index` has stepped: threads no longer hold up the grace periods and
    flushes they have left (a read section ended, the work finished)."""
    out = []
    for syncer, what, target, waited in state.graces:
        # the stepping thread, or work a cancel has just taken off the queue
        waited = frozenset(i for i in waited if not left_grace(model, state, i, what, target))
        out.append((syncer, what, target, waited))
    return tuple(out)


def _shared_locks(step: _Step, outcome: LocalOutcome) -> None:
    """Owner and readers follow the held entries of blocking locks."""
    entry = outcome.acquired or outcome.released
    slot = step.model.lock_index.get(entry.lock) if entry is not None else None
    if slot is None:
        return
    shared = step.locks[slot]
    if outcome.acquired is not None and entry.read == 0:
        ctx = entry.nest is not None and step.model.program.locks[entry.lock].kind == "ww_mutex"
        step.locks[slot] = LockState(step.index, shared.readers, ctx)
    elif outcome.acquired is not None:
        step.locks[slot] = shared._replace(readers=tuple(sorted(shared.readers + (step.index,))))
    elif entry.read == 0:
        step.locks[slot] = LockState(-1, shared.readers, False)
    else:
        readers = list(shared.readers)
        readers.remove(step.index)
        step.locks[slot] = shared._replace(readers=tuple(readers))


def _on_nothing(step: _Step, op, choice: int) -> None:
    """Ops whose shared effect is nil."""


def _on_assert(step: _Step, op: ir.Assert, choice: int) -> None:
    if not op.lockdep and evaluate(step.model, step.state, step.index, op.cond) is False:
        step.fail(op.finding, op.failure_text(), op.site)


def _on_put(step: _Step, op: ir.Put, choice: int) -> None:
    values = step.obj(op.obj)
    if values[0] <= 0:
        what = "a freed" if values[1] else "an unreferenced"
        step.fail("refcount", f"put({op.obj}) on {what} object (count 0)", op.site)
        return
    values[0] -= 1
    step.store(op.obj, values)


def _on_try_state(step: _Step, op: ir.TryState, choice: int) -> None:
    values = step.obj(op.obj)
    if op.verb == "get" and values[1]:
        step.fail("use-after-free", f"get_unless_zero({op.obj}) after it was freed", op.site)
    elif op.verb == "get" and choice == 0:
        values[0] += 1
    elif op.verb == "wait" and choice == 0:
        values[1] -= 1             # see _completion: read only while no complete_all
    step.store(op.obj, values)


def _on_add_callback(step: _Step, op: ir.AddCallback, choice: int) -> None:
    if choice == 0:
        step.armed.add(f"{op.fence}:{op.code}")


def _on_grace(step: _Step, op: ir.Grace, choice: int) -> None:
    if op.phase == "begin":
        waited = grace_waited(step.model, step.state, op.what, op.target)
        if op.what == "cancel":
            waited = _dequeue(step, waited)
        step.graces.append((step.index, op.what, op.target, waited))
    else:
        step.graces = [entry for entry in step.graces if entry[0] != step.index]


def _on_sleep_until(step: _Step, op: ir.SleepUntil, choice: int) -> None:
    """A check: it passes (choice 0), or the thread sleeps until a wake-up (1)."""
    step.sleepers = [entry for entry in step.sleepers if entry[0] != step.index]
    if choice == 1:
        step.sleepers.append((step.index, False))


def _wake(step: _Step, op: ir.StateOp) -> None:
    """Every thread asleep on the queue is woken and will check again."""
    woken = []
    for thread, was_woken in step.sleepers:
        waiting = step.model.program.codes[step.threads[thread].code].ops[step.pcs[thread]]
        woken.append((thread, was_woken or waiting.queue == op.obj))
    step.sleepers = woken


def _dequeue(step: _Step, instances: frozenset[int]) -> frozenset[int]:
    """Instances that have not begun to run (at their entry: code is acyclic) are
    taken off the queue, as if they had run to the end; the others are left."""
    running = set()
    for index in instances:
        if step.pcs[index] == step.model.program.codes[step.threads[index].code].entry:
            step.pcs[index] = FINISHED
        else:
            running.add(index)
    return frozenset(running)


def _on_spawn(step: _Step, op: ir.Spawn, choice: int) -> None:
    if len(step.threads) >= MAX_THREADS:
        raise ThreadLimit(f"more than {MAX_THREADS} threads")
    context = step.model.program.codes[op.code].context
    copy = 1 + sum(1 for t in step.threads if t.code == op.code)
    if context.is_interrupt:
        cpu = step.thread.cpu
    else:
        cpu = 1 + max(t.cpu for t in step.threads)
    if op.after_grace is not None:
        step.graces.append((len(step.threads), "readers", op.after_grace,
                            grace_waited(step.model, step.state, "readers", op.after_grace)))
    step.threads.append(ThreadSpec(f"{op.code}#{copy}", op.code, cpu, context))
    step.pcs.append(NOT_STARTED if context.is_interrupt
                    else step.model.program.codes[op.code].entry)
    step.locals.append(walk.initial_state(context))


def _on_state(step: _Step, op: ir.StateOp, choice: int) -> None:
    if op.verb == "disarm":
        step.armed.discard(op.obj)
        return
    if op.verb == "wake_queue":
        _wake(step, op)
        return
    kind = step.model.program.objects[op.obj].kind
    values = step.obj(op.obj)
    handler = _STATE_VERBS.get((kind, op.verb)) or _STATE_VERBS.get(("*", op.verb))
    if handler is not None:
        handler(step, op, values)
        step.store(op.obj, values)


def _revocable(verb: str):
    def run(step: _Step, op: ir.StateOp, values: list[int]) -> None:
        if verb in ("map", "attach", "access") and values[0]:
            step.fail("use-after-revoke", f"{verb}({op.obj}) after {op.obj} was revoked",
                      op.site)
        elif verb == "map":
            values[1] += 1
        elif verb == "attach":
            values[2] += 1
        elif verb == "unmap":
            values[1] = 0
        elif verb == "detach":
            values[2] = max(0, values[2] - 1)
        elif verb in ("revoke", "unrevoke"):
            values[0] = 1 if verb == "revoke" else 0
    return run


def _memory(verb: str):
    def run(step: _Step, op: ir.StateOp, values: list[int]) -> None:
        if verb == "access" and values[0]:
            step.fail("use-after-free", f"access({op.obj}) after it was freed", op.site)
        elif verb == "free" and values[0]:
            step.fail("refcount", f"{op.obj} is freed twice", op.site)
        elif verb in ("free", "alloc"):
            values[0] = 1 if verb == "free" else 0
    return run


def _refcounted(verb: str):
    def run(step: _Step, op: ir.StateOp, values: list[int]) -> None:
        if verb in ("access", "get") and values[1]:
            step.fail("use-after-free", f"{verb}({op.obj}) after it was freed", op.site)
        elif verb == "get" and values[0] <= 0:
            step.fail("use-after-free", f"get({op.obj}) on a count of zero (being released)",
                      op.site)
        elif verb == "get":
            values[0] += 1
        elif verb == "free" and values[1]:
            step.fail("refcount", f"{op.obj} is freed twice", op.site)
        elif verb == "free":
            values[1] = 1
        elif verb == "set_count" and values[1]:
            step.fail("use-after-free", f"{op.obj}'s count re-armed after it was freed",
                      op.site)
        elif verb == "set_count":
            values[0] = op.value
    return run


def _completion(verb: str):
    """signal_all (complete_all) sets the done-for-all bit, signal (complete) adds one
    to the count, a wait takes one away, reinit clears both. The count is read only while the bit
    is clear (semantics.completion_available), so a wait takes one away whether or
    not the bit is set: it may go below zero then, unseen, until reinit zeroes it."""
    def run(step: _Step, op: ir.StateOp, values: list[int]) -> None:
        if verb == "signal_all":
            values[0] = 1
        elif verb == "signal":
            values[1] += 1
        elif verb == "wait":
            values[1] -= 1
        elif verb == "reinit":
            values[0], values[1] = 0, 0
    return run


def _pointer(step: _Step, op: ir.StateOp, values: list[int]) -> None:
    values[0] = op.value


def _scalar(verb: str):
    def run(step: _Step, op: ir.StateOp, values: list[int]) -> None:
        values[0] = {"set": 1, "clear": 0, "inc": values[0] + 1, "dec": values[0] - 1,
                     "signal": 1, "reinit": 0, "wait": values[0]}[verb]
    return run


_STATE_VERBS = {
    **{("revocable", v): _revocable(v) for v in ("revoke", "unrevoke", "map", "unmap",
                                                 "access", "attach", "detach")},
    **{("memory", v): _memory(v) for v in ("access", "free", "alloc")},
    **{("refcounted", v): _refcounted(v) for v in ("access", "get", "free", "set_count")},
    **{("completion", v): _completion(v) for v in ("signal", "signal_all", "wait", "reinit")},
    ("pointer", "assign"): _pointer,
    **{("*", v): _scalar(v) for v in ("set", "clear", "inc", "dec", "signal", "reinit", "wait")},
}

_SHARED_EFFECTS = {
    ir.StateOp: _on_state, ir.Put: _on_put, ir.TryState: _on_try_state,
    ir.AddCallback: _on_add_callback,
    ir.Spawn: _on_spawn, ir.Grace: _on_grace, ir.SleepUntil: _on_sleep_until,
    ir.Assert: _on_assert,
}
