"""One step of the reference semantics: the effect of an enabled event.

`checker.semantics` decides which events are enabled; this module applies
one. Effects are written against a mutable scratch copy of the state that is
frozen again at the end of the step.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from checker.semantics import (FINISHED, MAX_THREADS, NOT_STARTED, START, Event, LockState,
                               Model, State, ThreadLimit, ThreadSpec, Violation, cookie_skips,
                               evaluate, thread_index)
from model import ir, walk



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
    violation: Violation | None = None

    @property
    def thread(self) -> ThreadSpec:
        return self.threads[self.index]

    @property
    def local(self) -> walk.ThreadState:
        return self.locals[self.index]

    @local.setter
    def local(self, value: walk.ThreadState) -> None:
        self.locals[self.index] = value

    def fail(self, code: str, message: str, site: ir.Site | None) -> None:
        if self.violation is None:
            self.violation = Violation(code, message, self.thread.label, site)

    def obj(self, name: str) -> list[int]:
        return list(self.objects[self.model.object_index[name]])

    def store(self, name: str, values: list[int]) -> None:
        self.objects[self.model.object_index[name]] = tuple(values)

    def freeze(self) -> State:
        return State(tuple(self.threads), tuple(self.pcs), tuple(self.locals), tuple(self.locks),
                     tuple(self.objects), frozenset(self.armed), tuple(self.running_irqs))


def apply(model: Model, state: State, event: Event) -> tuple[State, Violation | None]:
    """Execute an enabled event (see `valid_choices`); the new state and any violation."""
    index = thread_index(state, event.thread)
    step = _Step(model, state, index, list(state.pcs), list(state.locals), list(state.locks),
                 list(state.objects), set(state.armed), list(state.threads),
                 list(state.running_irqs))
    if event.op_index == START:
        step.pcs[index] = model.program.codes[step.thread.code].entry
        step.running_irqs.append(index)
        return step.freeze(), None
    code = model.program.codes[step.thread.code]
    op = code.ops[event.op_index]
    _EFFECTS[type(op)](step, op, event.choice)
    if isinstance(op, ir.Exit):
        step.pcs[index] = FINISHED
        if index in step.running_irqs:
            step.running_irqs.remove(index)
    else:
        step.pcs[index] = ir.successors(op)[event.choice]
        for obj in model.release_edges.get((code.id, event.op_index, event.choice), ()):
            values = step.obj(obj)
            values[1] = 1
            step.store(obj, values)
    return step.freeze(), step.violation


def _acquire(step: _Step, lock: str, mode: ir.Mode, trylock: bool, nest: str | None,
             subclass: int, check: bool, site: ir.Site) -> None:
    program = step.model.program
    entry = walk.Held(lock, walk.class_key(program.locks[lock], subclass), mode.lockdep_read,
                      trylock, check, nest, step.thread.context.lockdep_irq_context, site)
    step.local = replace(step.local, held=step.local.held + (entry,))
    slot = step.model.lock_index.get(lock)
    if slot is None:
        return
    shared = step.locks[slot]
    if mode is ir.Mode.WRITE:
        ctx = nest is not None and program.locks[lock].kind == "ww_mutex"
        step.locks[slot] = LockState(step.index, shared.readers, ctx)
    else:
        readers = tuple(sorted(shared.readers + (step.index,)))
        step.locks[slot] = replace(shared, readers=readers)


def _release(step: _Step, lock: str, site: ir.Site) -> None:
    held = step.local.held
    for pos in range(len(held) - 1, -1, -1):
        if held[pos].lock != lock:
            continue
        step.local = replace(step.local, held=held[:pos] + held[pos + 1:])
        slot = step.model.lock_index.get(lock)
        if slot is not None:
            shared = step.locks[slot]
            if held[pos].read == 0:
                step.locks[slot] = LockState(-1, shared.readers, False)
            else:
                readers = list(shared.readers)
                readers.remove(step.index)
                step.locks[slot] = replace(shared, readers=tuple(readers))
        return
    step.fail("bad-unlock", f"`{lock}` is released but not held by {step.thread.label}", site)


def _on_acquire(step: _Step, op: ir.Acquire, choice: int) -> None:
    if op.cookie:
        if cookie_skips(step.model, step.state, step.index, op):
            step.local = replace(step.local, cookies=step.local.cookies + ((op.lock, False),))
            return
        step.local = replace(step.local, cookies=step.local.cookies + ((op.lock, True),))
    _acquire(step, op.lock, ir.Mode(op.mode), op.trylock, op.nest, op.subclass, op.check,
             op.site)


def _on_try_acquire(step: _Step, op: ir.TryAcquire, choice: int) -> None:
    if choice == 0:
        _acquire(step, op.lock, ir.Mode(op.mode), True, op.nest, op.subclass, True, op.site)


def _on_release(step: _Step, op: ir.Release, choice: int) -> None:
    if op.cookie:
        cookies = step.local.cookies
        positions = [i for i, c in enumerate(cookies) if c[0] == op.lock]
        if not positions:
            step.fail("bad-unlock", f"release of `{op.lock}` without a matching begin", op.site)
            return
        last = positions[-1]
        step.local = replace(step.local, cookies=cookies[:last] + cookies[last + 1:])
        if not cookies[last][1]:
            return
    _release(step, op.lock, op.site)


def _on_irq(step: _Step, op: ir.IrqOp, choice: int) -> None:
    local = step.local
    if op.what == "preempt":
        depth = local.preempt_off + (1 if op.action == "off" else -1)
        step.local = replace(local, preempt_off=max(0, depth))
    elif op.what == "softirq":
        if op.action == "off":
            step.local = replace(local, softirq_off=local.softirq_off + 1)
        elif local.softirq_off == 0:
            step.fail("bad-unlock", "local_bh_enable() without local_bh_disable()", op.site)
        else:
            step.local = replace(local, softirq_off=local.softirq_off - 1)
    elif op.action == "save":
        step.local = replace(local, irq_saves=local.irq_saves + (local.hardirqs_off,),
                             hardirqs_off=True)
    elif op.action == "restore":
        if not local.irq_saves:
            step.fail("bad-unlock", "irqs restored without a matching save", op.site)
        else:
            step.local = replace(local, irq_saves=local.irq_saves[:-1],
                                 hardirqs_off=local.irq_saves[-1])
    else:
        step.local = replace(local, hardirqs_off=op.action == "off")


def _on_gfp(step: _Step, op: ir.GfpScope, choice: int) -> None:
    strips = step.local.gfp_strips
    if op.action == "begin":
        step.local = replace(step.local, gfp_strips=strips + (op.strip,))
    elif not strips:
        step.fail("bad-unlock", "memalloc scope restored without a save", op.site)
    else:
        step.local = replace(step.local, gfp_strips=strips[:-1])


def _on_nothing(step: _Step, op, choice: int) -> None:
    """Ops whose only effect is the successor they choose."""


def _on_assert(step: _Step, op: ir.Assert, choice: int) -> None:
    if evaluate(step.model, step.state, step.index, op.cond) is False:
        step.fail("assertion", f"{op.message} fails", op.site)


def _on_exit(step: _Step, op: ir.Exit, choice: int) -> None:
    if step.local.held:
        names = ", ".join(f"`{h.lock}`" for h in step.local.held)
        code = step.model.program.codes[step.thread.code]
        step.fail("held-at-exit", f"{code.path} returns holding {names}", op.site)


def _on_put(step: _Step, op: ir.Put, choice: int) -> None:
    values = step.obj(op.obj)
    if values[0] <= 0:
        what = "a freed" if values[1] else "an unreferenced"
        step.fail("refcount", f"put({op.obj}) on {what} object (count 0)", op.site)
        return
    values[0] -= 1
    step.store(op.obj, values)


def _on_add_callback(step: _Step, op: ir.AddCallback, choice: int) -> None:
    if choice == 0:
        step.armed.add(f"{op.fence}:{op.code}")


def _on_spawn(step: _Step, op: ir.Spawn, choice: int) -> None:
    if len(step.threads) >= MAX_THREADS:
        raise ThreadLimit(f"more than {MAX_THREADS} threads")
    context = step.model.program.codes[op.code].context
    copy = 1 + sum(1 for t in step.threads if t.code == op.code)
    if context.is_interrupt:
        cpu = step.thread.cpu
    else:
        cpu = 1 + max(t.cpu for t in step.threads)
    step.threads.append(ThreadSpec(f"{op.code}#{copy}", op.code, cpu, context))
    step.pcs.append(NOT_STARTED if context.is_interrupt
                    else step.model.program.codes[op.code].entry)
    step.locals.append(walk.initial_state(context))


def _on_state(step: _Step, op: ir.StateOp, choice: int) -> None:
    if op.verb == "disarm":
        step.armed.discard(op.obj)
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
    return run


def _scalar(verb: str):
    def run(step: _Step, op: ir.StateOp, values: list[int]) -> None:
        values[0] = {"set": 1, "clear": 0, "inc": values[0] + 1, "dec": values[0] - 1,
                     "signal": 1, "reinit": 0, "wait": values[0]}[verb]
    return run


_STATE_VERBS = {
    **{("revocable", v): _revocable(v) for v in ("revoke", "unrevoke", "map", "unmap",
                                                 "access", "attach", "detach")},
    **{("memory", v): _memory(v) for v in ("access", "free", "alloc")},
    **{("refcounted", v): _refcounted(v) for v in ("access", "get", "free")},
    **{("*", v): _scalar(v) for v in ("set", "clear", "inc", "dec", "signal", "reinit", "wait")},
}

_EFFECTS = {
    ir.Acquire: _on_acquire, ir.TryAcquire: _on_try_acquire, ir.Release: _on_release,
    ir.IrqOp: _on_irq, ir.MightSleep: _on_nothing, ir.GfpScope: _on_gfp,
    ir.Branch: _on_nothing, ir.Choice: _on_nothing, ir.StateOp: _on_state, ir.Put: _on_put,
    ir.AddCallback: _on_add_callback, ir.Spawn: _on_spawn, ir.Assert: _on_assert,
    ir.Exit: _on_exit,
}
