"""Walking a thread's code the way lockdep watches a task, over every path.

The walker tracks only what is private to the thread (held locks, irq and bh
state, preemption, GFP scopes, signalling cookies), so thread-local conditions
such as `held(l)` or `gfp_may_fs(g)` are decided exactly, while conditions on
shared state (`revoked(b)`, flags) take both branches. It records what the
graph rules need: each acquisition with the locks held before it, irq enables
under held locks, sleeps, bad unlocks, failed lockdep assertions and locks
held at exit. Distinct states per op are walked once, so the work is bounded
by (ops x distinct states), not by the number of paths.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from model import ir

MAX_STATES_PER_CODE = 100_000


@dataclass(frozen=True)
class Held:
    lock: str
    lock_class: str            # the class key, with the subclass: "X" or "X/1"
    read: int                  # lockdep read: 0, 1 or 2
    trylock: bool
    check: bool
    nest: str | None
    irq_context: int
    site: ir.Site
    references: int = 1


@dataclass(frozen=True)
class ThreadState:
    held: tuple[Held, ...] = ()
    hardirqs_off: bool = False
    irq_saves: tuple[bool, ...] = ()
    softirq_off: int = 0
    preempt_off: int = 0
    gfp_strips: tuple[frozenset[str], ...] = ()
    cookies: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class AcquireEvent:
    code: str
    context: ir.Context
    site: ir.Site
    lock: str
    lock_class: str
    read: int
    trylock: bool
    check: bool
    nest: str | None
    held: tuple[Held, ...]     # everything held before, innermost last
    hardirqs_off: bool
    softirqs_off: bool
    irq_context: int


@dataclass(frozen=True)
class EnableEvent:
    """Irqs (or bh) were enabled while these locks were held."""

    code: str
    context: ir.Context
    site: ir.Site
    what: str                  # "hardirq" or "softirq"
    held: tuple[Held, ...]
    softirqs_on: bool


@dataclass(frozen=True)
class SleepEvent:
    code: str
    context: ir.Context
    site: ir.Site
    held: tuple[Held, ...]
    hardirqs_off: bool
    softirqs_off: bool
    preempt_off: bool


@dataclass(frozen=True)
class Problem:
    """A thread-local fault: bad-unlock, held-at-exit, assertion, irq-state."""

    code_id: str
    kind: str
    message: str
    site: ir.Site
    locks: tuple[str, ...] = ()
    held: tuple[Held, ...] = ()


@dataclass
class WalkResult:
    acquires: list[AcquireEvent] = field(default_factory=list)
    enables: list[EnableEvent] = field(default_factory=list)
    sleeps: list[SleepEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False


def class_key(lock: ir.Lock, subclass: int) -> str:
    return lock.lock_class if subclass == 0 else f"{lock.lock_class}/{subclass}"


def initial_state(context: ir.Context) -> ThreadState:
    """Interrupt handlers run with their own kind of interrupt masked."""
    if context.is_hardirq:
        return ThreadState(hardirqs_off=True, softirq_off=1)
    if context is ir.Context.SOFTIRQ:
        return ThreadState(softirq_off=1)
    return ThreadState()


class _Walker:
    def __init__(self, program: ir.Program, code: ir.Code, result: WalkResult):
        self.program = program
        self.code = code
        self.result = result
        self.irq_context = code.context.lockdep_irq_context
        self.seen_events: set = set()

    def record(self, bucket: list, event) -> None:
        if event not in self.seen_events:
            self.seen_events.add(event)
            bucket.append(event)

    def problem(self, kind: str, message: str, site: ir.Site, locks=(), held=()) -> None:
        self.record(self.result.problems, Problem(self.code.id, kind, message, site,
                                                  tuple(locks), tuple(held)))

    def run(self) -> None:
        start = (self.code.entry, initial_state(self.code.context))
        stack = [start]
        visited = {start}
        while stack:
            index, state = stack.pop()
            for nxt in self.step(self.code.ops[index], state):
                if nxt not in visited:
                    if len(visited) >= MAX_STATES_PER_CODE:
                        self.result.truncated = True
                        return
                    visited.add(nxt)
                    stack.append(nxt)

    # Each handler returns the successor (index, state) pairs.
    def step(self, op: ir.Op, state: ThreadState) -> list[tuple[int, ThreadState]]:
        handler = getattr(self, "on_" + type(op).__name__)
        return handler(op, state)

    def on_Acquire(self, op: ir.Acquire, state: ThreadState):
        if op.cookie:
            already = any(h.lock == op.lock for h in state.held)
            if already or in_atomic_strict(state, self.code.context, self.program):
                return [(op.next, replace(state, cookies=state.cookies + ((op.lock, False),)))]
            state = replace(state, cookies=state.cookies + ((op.lock, True),))
        return [(op.next, self.acquire(op.lock, ir.Mode(op.mode), op.trylock, op.nest,
                                       op.subclass, op.check, op.site, state))]

    def on_TryAcquire(self, op: ir.TryAcquire, state: ThreadState):
        taken = self.acquire(op.lock, ir.Mode(op.mode), True, op.nest, op.subclass, True,
                             op.site, state)
        return [(op.ok, taken), (op.fail, state)]

    def acquire(self, lock_name, mode, trylock, nest, subclass, check, site, state):
        lock = self.program.locks[lock_name]
        key = class_key(lock, subclass)
        same_ctx = tuple(h for h in state.held if h.irq_context == self.irq_context)
        top = same_ctx[-1] if same_ctx else None
        if top is not None and nest is not None and top.lock_class == key:
            merged = replace(top, references=top.references + 1)
            return replace(state, held=state.held[:-1] + (merged,))
        self.record(self.result.acquires, AcquireEvent(
            self.code.id, self.code.context, site, lock_name, key, mode.lockdep_read,
            trylock, check, nest, same_ctx, state.hardirqs_off, self.softirqs_off(state),
            self.irq_context))
        entry = Held(lock_name, key, mode.lockdep_read, trylock, check, nest,
                     self.irq_context, site)
        return replace(state, held=state.held + (entry,))

    def softirqs_off(self, state: ThreadState) -> bool:
        return state.softirq_off > 0

    def on_Release(self, op: ir.Release, state: ThreadState):
        if op.cookie:
            cookies = [c for c in state.cookies if c[0] == op.lock]
            if not cookies:
                self.problem("bad-unlock", f"release of `{op.lock}` without a matching begin",
                             op.site, (op.lock,), state.held)
                return [(op.next, state)]
            last = max(i for i, c in enumerate(state.cookies) if c[0] == op.lock)
            took = state.cookies[last][1]
            state = replace(state, cookies=state.cookies[:last] + state.cookies[last + 1:])
            if not took:
                return [(op.next, state)]
        return [(op.next, self.release(op.lock, op.site, state))]

    def release(self, lock_name: str, site: ir.Site, state: ThreadState) -> ThreadState:
        for pos in range(len(state.held) - 1, -1, -1):
            entry = state.held[pos]
            if entry.lock != lock_name:
                continue
            if entry.irq_context != self.irq_context:
                break
            if entry.references > 1:
                kept = replace(entry, references=entry.references - 1)
                return replace(state, held=state.held[:pos] + (kept,) + state.held[pos + 1:])
            return replace(state, held=state.held[:pos] + state.held[pos + 1:])
        self.problem("bad-unlock", f"`{lock_name}` is released but not held here", site,
                     (lock_name,), state.held)
        return state

    def on_IrqOp(self, op: ir.IrqOp, state: ThreadState):
        return [(op.next, self.irq(op, state))]

    def irq(self, op: ir.IrqOp, state: ThreadState) -> ThreadState:
        if op.what == "preempt":
            depth = state.preempt_off + (1 if op.action == "off" else -1)
            return replace(state, preempt_off=max(0, depth))
        if op.what == "softirq":
            if op.action == "off":
                return replace(state, softirq_off=state.softirq_off + 1)
            if state.softirq_off == 0:
                self.problem("bad-unlock", "local_bh_enable() without local_bh_disable()",
                             op.site)
                return state
            state = replace(state, softirq_off=state.softirq_off - 1)
            if state.softirq_off == 0 and not state.hardirqs_off:
                self.enabled("softirq", op.site, state)
            return state
        if op.action == "save":
            return replace(state, irq_saves=state.irq_saves + (state.hardirqs_off,),
                           hardirqs_off=True)
        if op.action == "restore":
            if not state.irq_saves:
                self.problem("bad-unlock", "irqs restored without a matching save", op.site)
                return state
            was_off = state.irq_saves[-1]
            state = replace(state, irq_saves=state.irq_saves[:-1], hardirqs_off=was_off)
            if not was_off:
                self.enabled("hardirq", op.site, state)
            return state
        if op.action == "off":
            return replace(state, hardirqs_off=True)
        if self.code.context.is_hardirq:
            self.problem("inconsistent-irq-state", "irqs enabled inside a hardirq handler",
                         op.site)
        state = replace(state, hardirqs_off=False)
        self.enabled("hardirq", op.site, state)
        return state

    def enabled(self, what: str, site: ir.Site, state: ThreadState) -> None:
        if state.held:
            self.record(self.result.enables, EnableEvent(
                self.code.id, self.code.context, site, what, state.held,
                state.softirq_off == 0))

    def on_MightSleep(self, op: ir.MightSleep, state: ThreadState):
        self.record(self.result.sleeps, SleepEvent(
            self.code.id, self.code.context, op.site, state.held, state.hardirqs_off,
            state.softirq_off > 0, state.preempt_off > 0))
        return [(op.next, state)]

    def on_GfpScope(self, op: ir.GfpScope, state: ThreadState):
        if op.action == "begin":
            return [(op.next, replace(state, gfp_strips=state.gfp_strips + (op.strip,)))]
        if not state.gfp_strips:
            self.problem("bad-unlock", "memalloc scope restored without a save", op.site)
            return [(op.next, state)]
        return [(op.next, replace(state, gfp_strips=state.gfp_strips[:-1]))]

    def on_Branch(self, op: ir.Branch, state: ThreadState):
        value = evaluate_local(op.cond, state, self.code.context, self.program)
        if value is None:
            return [(op.then, state), (op.orelse, state)]
        return [(op.then if value else op.orelse, state)]

    def on_Choice(self, op: ir.Choice, state: ThreadState):
        return [(target, state) for target in op.targets]

    def on_StateOp(self, op: ir.StateOp, state: ThreadState):
        return [(op.next, state)]

    def on_Put(self, op: ir.Put, state: ThreadState):
        return [(op.released, state), (op.next, state)]

    def on_AddCallback(self, op: ir.AddCallback, state: ThreadState):
        return [(op.ok, state), (op.fail, state)]

    def on_Spawn(self, op: ir.Spawn, state: ThreadState):
        return [(op.next, state)]

    def on_Assert(self, op: ir.Assert, state: ThreadState):
        value = evaluate_local(op.cond, state, self.code.context, self.program)
        if value is False and is_thread_local(op.cond):
            self.problem("assertion", f"{op.message} fails on this path", op.site,
                         held=state.held)
        return [(op.next, state)]

    def on_Exit(self, op: ir.Exit, state: ThreadState):
        if state.held:
            names = tuple(h.lock for h in state.held)
            self.problem("held-at-exit", f"{self.code.path} can return holding "
                         + ", ".join(f"`{n}`" for n in names), op.site, names, state.held)
        if state.irq_saves or (state.hardirqs_off and not self.code.context.is_hardirq):
            self.problem("inconsistent-irq-state",
                         f"{self.code.path} can return with irqs disabled", op.site)
        return []


def evaluate_local(cond: ir.Cond, state: ThreadState, context: ir.Context,
                   program: ir.Program) -> bool | None:
    """The value of a condition from thread-local state, or None if it depends on shared state."""
    if isinstance(cond, ir.CConst):
        return cond.value
    if isinstance(cond, ir.CNot):
        inner = evaluate_local(cond.operand, state, context, program)
        return None if inner is None else not inner
    if isinstance(cond, ir.CNondet) or not isinstance(cond, ir.CPred):
        return None
    name, args = cond.name, cond.args
    if name == "held":
        lock, mode = args
        for entry in state.held:
            if entry.lock == lock:
                return not mode or (mode == "write") == (entry.read == 0)
        return False
    if name == "irqs_disabled":
        return state.hardirqs_off
    if name == "in_atomic":
        return in_atomic_strict(state, context, program)
    if name in ("gfp_may_fs", "gfp_may_block"):
        flags = set(args)
        for strip in state.gfp_strips:
            flags -= strip
        if name == "gfp_may_block":
            return "block" in flags
        return "block" in flags and "fs" in flags
    return None


def in_atomic_strict(state: ThreadState, context: ir.Context, program: ir.Program) -> bool:
    """in_atomic(): interrupt context, irqs or preemption off, or a spinning lock held."""
    if context.is_interrupt or state.hardirqs_off or state.softirq_off or state.preempt_off:
        return True
    return any(program.locks[h.lock].kind in ir.SPINNING_KINDS
               or program.locks[h.lock].kind in ("rcu", "rcu_sched") for h in state.held)


def is_thread_local(cond: ir.Cond) -> bool:
    if isinstance(cond, ir.CNot):
        return is_thread_local(cond.operand)
    return isinstance(cond, ir.CPred) and cond.name in ir.THREAD_LOCAL_PREDICATES


def walk(program: ir.Program, code: ir.Code) -> WalkResult:
    result = WalkResult()
    _Walker(program, code, result).run()
    return result


def walk_program(program: ir.Program) -> dict[str, WalkResult]:
    return {code_id: walk(program, program.codes[code_id]) for code_id in program.roots}
