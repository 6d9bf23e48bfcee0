"""Walking a thread's code the way lockdep watches a task, over every path.

The walker tracks only what is private to the thread (held locks, irq and bh
state, preemption, GFP scopes, signalling cookies), so thread-local conditions
such as `held(l)` or `gfp_may_fs(g)` are decided exactly, while conditions on
shared state (`revoked(b)`, flags) take both branches. It records what the
graph rules need: each acquisition with the locks held before it, irq enables
under held locks, sleeps, bad unlocks, failed lockdep assertions and locks
held at exit. Distinct states per op are walked once, so the work is bounded
by (ops x distinct states), not by the number of paths.

Contexts: a hardirq handler (and irq_work) starts with hardirqs and softirqs
off; a softirq handler starts with softirqs off and hardirqs ON, as the kernel
runs it. (lockdep's selftest SOFTIRQ_ENTER also disables hardirqs; on its
suite this only adds ENABLED_HARDIRQ marks to locks that no hardirq-safe lock
reaches, so every selftest keeps its verdict.)

The internal state is made of small tuples (op indices instead of sites) so
that hashing it for the visited set stays cheap at kernel scale; the public
events carry full `Held` records with their sites.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

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
    # lockdep re-acquires the locks above one released out of order; such a
    # re-acquisition only adds dependencies (it was validated when first taken).
    reacquire: bool = False


@dataclass(frozen=True)
class EnableEvent:
    """Irqs (or bh) went from disabled to enabled while these locks were held."""

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
    grace: bool = False        # the sleep of a grace period (synchronize_rcu)


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


# ------------------------------------------------------------ thread state

@dataclass(frozen=True)
class ThreadState:
    """A thread's lockdep-visible state (public: the interleaving engine steps it too)."""

    held: tuple[Held, ...] = ()
    hardirqs_off: bool = False
    irq_saves: tuple[bool, ...] = ()
    softirq_off: int = 0
    preempt_off: int = 0
    gfp_strips: tuple[frozenset[str], ...] = ()
    cookies: tuple[tuple[str, bool], ...] = ()


def initial_state(context: ir.Context) -> ThreadState:
    """Interrupt handlers run with their own kind of interrupt masked."""
    if context.is_hardirq:
        return ThreadState(hardirqs_off=True, softirq_off=1)
    if context is ir.Context.SOFTIRQ:
        return ThreadState(softirq_off=1)
    return ThreadState()


class _Entry(NamedTuple):
    """A held lock inside the walk: `at` is the index of the acquiring op."""

    lock: str
    lock_class: str
    read: int
    trylock: bool
    check: bool
    nest: str | None
    at: int
    references: int = 1
    merged: bool = False       # nest_lock re-acquisitions folded in (lockdep's references)


class _State(NamedTuple):
    """ThreadState's fields as a cheap-to-hash tuple, with `_Entry` held locks."""

    held: tuple[_Entry, ...] = ()
    hardirqs_off: bool = False
    irq_saves: tuple[bool, ...] = ()
    softirq_off: int = 0
    preempt_off: int = 0
    gfp_strips: tuple[frozenset, ...] = ()
    cookies: tuple[tuple[str, bool], ...] = ()


def _with_held(state: _State, held: tuple[_Entry, ...]) -> _State:
    """state._replace(held=held), without _replace's cost on the hot path."""
    return _State(held, state.hardirqs_off, state.irq_saves, state.softirq_off,
                  state.preempt_off, state.gfp_strips, state.cookies)


_INITIAL = {context: _State(hardirqs_off=initial_state(context).hardirqs_off,
                           softirq_off=initial_state(context).softirq_off)
            for context in ir.Context}


def _initial(context: ir.Context) -> _State:
    return _INITIAL[context]


class _Walker:
    def __init__(self, program: ir.Program, code: ir.Code, result: WalkResult):
        self.program = program
        self.code = code
        self.ops = code.ops
        self.result = result
        self.context = code.context
        self.irq_context = code.context.lockdep_irq_context
        self.softirq_base = _initial(code.context).softirq_off
        self.seen: set = set()
        self.published: dict[tuple[_Entry, ...], tuple[Held, ...]] = {(): ()}

    # ------------------------------------------------------------ recording
    def publics(self, held: tuple[_Entry, ...]) -> tuple[Held, ...]:
        """The public form of a held stack, built once per distinct stack (and
        prefix-shared, as stacks grow one lock at a time)."""
        out = self.published.get(held)
        if out is not None:
            return out
        known = len(held) - 1
        while held[:known] not in self.published:
            known -= 1
        out = self.published[held[:known]]
        for size in range(known + 1, len(held) + 1):
            entry = held[size - 1]
            out = out + (Held(entry.lock, entry.lock_class, entry.read, entry.trylock,
                              entry.check, entry.nest, self.irq_context,
                              self.ops[entry.at].site, entry.references),)
            self.published[held[:size]] = out
        return out

    def once(self, key) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def problem(self, kind: str, message: str, at: int, locks=(), held=()) -> None:
        if self.once(("problem", kind, message, at, held)):
            self.result.problems.append(Problem(
                self.code.id, kind, message, self.ops[at].site, tuple(locks),
                self.publics(held)))

    # ----------------------------------------------------------------- walk
    def run(self) -> None:
        """Depth-first over (op, state). Only ops with several incoming edges can be
        reached twice in one state, so only there is the visited set consulted."""
        ops = self.ops
        joins = _join_points(ops)
        handlers = _HANDLERS
        start = (self.code.entry, _initial(self.context))
        stack = [start]
        visited = {start}
        steps = 0
        while stack:
            steps += 1
            if steps > MAX_STATES_PER_CODE:
                self.result.truncated = True
                return
            index, state = stack.pop()
            op = ops[index]
            for nxt in handlers[type(op)](self, index, op, state):
                if nxt[0] in joins:
                    if nxt in visited:
                        continue
                    visited.add(nxt)
                stack.append(nxt)

    # ---------------------------------------------------------------- locks
    def on_Acquire(self, at: int, op: ir.Acquire, state: _State):
        if op.cookie:
            # dma_fence_begin_signalling(): nothing when already in a signalling
            # section (read-held) or atomic; the cookie remembers which.
            already = any(e.lock == op.lock and e.read != 0 for e in state.held)
            if already or in_atomic(state, self.context, self.program):
                return [(op.next, state._replace(cookies=state.cookies + ((op.lock, False),)))]
            state = state._replace(cookies=state.cookies + ((op.lock, True),))
        return [(op.next, self.acquire(at, op.lock, _READ[ir.Mode(op.mode)], op.trylock,
                                       op.nest, op.subclass, op.check, state))]

    def on_TryAcquire(self, at: int, op: ir.TryAcquire, state: _State):
        read = _READ[ir.Mode(op.mode)]
        if any(e.lock == op.lock and (read == 0 or e.read == 0) for e in state.held):
            return [(op.fail, state)]      # a task's trylock on a lock it holds fails
        taken = self.acquire(at, op.lock, read, True, op.nest, op.subclass, True, state)
        return [(op.ok, taken), (op.fail, state)]

    def acquire(self, at, lock_name, read, trylock, nest, subclass, check, state):
        lock = self.program.locks[lock_name]
        key = class_key(lock, subclass)
        held = state.held
        top = held[-1] if held else None
        if top is not None and nest is not None and top.lock_class == key:
            # __lock_acquire(): same class on top with a nest_lock -> one entry, counted.
            merged = top._replace(references=top.references + 1, merged=True)
            return _with_held(state, held[:-1] + (merged,))
        if nest is not None and not any(_matches(e, nest, self.program) for e in held):
            self.problem("assertion", f"`{lock_name}` is acquired nested under `{nest}`, "
                         f"which is not held (lockdep: Nested lock was not taken)", at,
                         (lock_name, nest), held)
        self.record_acquire(at, lock_name, key, read, trylock, check, nest, held, state, False)
        entry = _Entry(lock_name, key, read, trylock, check, nest, at)
        return _with_held(state, held + (entry,))

    def record_acquire(self, at, lock_name, key, read, trylock, check, nest, held, state,
                       reacquire: bool) -> None:
        hardirqs_off = state.hardirqs_off
        softirqs_off = state.softirq_off > 0
        if self.once(("acquire", at, held, hardirqs_off, softirqs_off, reacquire)):
            self.result.acquires.append(AcquireEvent(
                self.code.id, self.context, self.ops[at].site, lock_name, key, read, trylock,
                check, nest, self.publics(held), hardirqs_off, softirqs_off,
                self.irq_context, reacquire))

    def on_Release(self, at: int, op: ir.Release, state: _State):
        if op.cookie:
            positions = [i for i, c in enumerate(state.cookies) if c[0] == op.lock]
            if not positions:
                self.problem("bad-unlock", f"release of `{op.lock}` without a matching begin",
                             at, (op.lock,), state.held)
                return [(op.next, state)]
            last = positions[-1]
            took = state.cookies[last][1]
            state = state._replace(cookies=state.cookies[:last] + state.cookies[last + 1:])
            if not took:
                return [(op.next, state)]
        return [(op.next, self.release(at, op.lock, state))]

    def release(self, at: int, lock_name: str, state: _State) -> _State:
        held = state.held
        for pos in range(len(held) - 1, -1, -1):
            entry = held[pos]
            if not _matches(entry, lock_name, self.program):
                continue
            if entry.references > 1:
                kept = entry._replace(references=entry.references - 1)
                return _with_held(state, held[:pos] + (kept,) + held[pos + 1:])
            below, above = held[:pos], held[pos + 1:]
            self.reacquire(at, lock_name, below, above, state)
            return _with_held(state, below + above)
        self.problem("bad-unlock", f"`{lock_name}` is released but not held here", at,
                     (lock_name,), held)
        return state

    def reacquire(self, at: int, released: str, below, above, state: _State) -> None:
        """lockdep pops a lock released out of order and re-acquires the ones above it:
        a lock nested under the released one loses its nest lock, and the re-acquired
        locks get dependencies on what is now below them."""
        stack = below
        for entry in above:
            if entry.nest == released:
                self.problem("bad-unlock", f"`{released}` is released while `{entry.lock}`, "
                             f"nested under it, is still held", at, (released, entry.lock),
                             below + above)
            if stack:
                self.record_acquire(entry.at, entry.lock, entry.lock_class, entry.read,
                                    entry.trylock, entry.check, entry.nest, stack, state, True)
            stack = stack + (entry,)

    # ---------------------------------------------------------- irqs and bh
    def on_IrqOp(self, at: int, op: ir.IrqOp, state: _State):
        return [(op.next, self.irq(at, op, state))]

    def irq(self, at: int, op: ir.IrqOp, state: _State) -> _State:
        if op.what == "preempt":
            depth = state.preempt_off + (1 if op.action == "off" else -1)
            return state._replace(preempt_off=max(0, depth))
        if op.what == "softirq":
            return self.softirq(at, op.action, state)
        if op.action == "save":
            return state._replace(irq_saves=state.irq_saves + (state.hardirqs_off,),
                                  hardirqs_off=True)
        if op.action == "restore":
            if not state.irq_saves:
                self.problem("bad-unlock", "irqs restored without a matching save", at)
                return state
            was_off = state.irq_saves[-1]
            state = state._replace(irq_saves=state.irq_saves[:-1], hardirqs_off=was_off)
            return self.hardirqs_enabled(at, state) if not was_off else state
        if op.action == "off":
            return state._replace(hardirqs_off=True)
        return self.hardirqs_enabled(at, state)

    def hardirqs_enabled(self, at: int, state: _State) -> _State:
        if not state.hardirqs_off:
            return state       # lockdep ignores a redundant enable
        if self.context.is_hardirq:
            self.problem("inconsistent-irq-state", "irqs enabled inside a hardirq handler", at)
        state = state._replace(hardirqs_off=False)
        self.enabled(at, "hardirq", state)
        return state

    def softirq(self, at: int, action: str, state: _State) -> _State:
        if action == "off":
            return state._replace(softirq_off=state.softirq_off + 1)
        if state.softirq_off <= self.softirq_base:
            self.problem("bad-unlock", "local_bh_enable() without local_bh_disable()", at)
            return state
        state = state._replace(softirq_off=state.softirq_off - 1)
        if state.softirq_off == 0 and not state.hardirqs_off:
            self.enabled(at, "softirq", state)
        return state

    def enabled(self, at: int, what: str, state: _State) -> None:
        if state.held and self.once(("enable", at, what, state.held, state.softirq_off)):
            self.result.enables.append(EnableEvent(
                self.code.id, self.context, self.ops[at].site, what,
                self.publics(state.held), state.softirq_off == 0))

    # --------------------------------------------------------------- others
    def on_MightSleep(self, at: int, op: ir.MightSleep, state: _State):
        key = ("sleep", at, state.held, state.hardirqs_off, state.softirq_off > 0,
               state.preempt_off > 0)
        if self.once(key):
            self.result.sleeps.append(SleepEvent(
                self.code.id, self.context, op.site, self.publics(state.held),
                state.hardirqs_off, state.softirq_off > 0, state.preempt_off > 0, op.grace))
        return [(op.next, state)]

    def on_GfpScope(self, at: int, op: ir.GfpScope, state: _State):
        if op.action == "begin":
            return [(op.next, state._replace(gfp_strips=state.gfp_strips + (op.strip,)))]
        if not state.gfp_strips:
            self.problem("bad-unlock", "memalloc scope restored without a save", at)
            return [(op.next, state)]
        return [(op.next, state._replace(gfp_strips=state.gfp_strips[:-1]))]

    def on_Branch(self, at: int, op: ir.Branch, state: _State):
        value = evaluate_local(op.cond, state, self.context, self.program)
        if value is None:
            return [(op.then, state), (op.orelse, state)]
        return [(op.then if value else op.orelse, state)]

    def on_Choice(self, at: int, op: ir.Choice, state: _State):
        return [(target, state) for target in op.targets]

    def on_StateOp(self, at: int, op: ir.StateOp, state: _State):
        return [(op.next, state)]

    def on_Put(self, at: int, op: ir.Put, state: _State):
        return [(op.released, state), (op.next, state)]

    def on_AddCallback(self, at: int, op: ir.AddCallback, state: _State):
        return [(op.ok, state), (op.fail, state)]

    def on_TryState(self, at: int, op: ir.TryState, state: _State):
        return [(op.ok, state), (op.fail, state)]

    def on_Spawn(self, at: int, op: ir.Spawn, state: _State):
        return [(op.next, state)]

    def on_Grace(self, at: int, op: ir.Grace, state: _State):
        return [(op.next, state)]

    def on_SleepUntil(self, at: int, op: ir.SleepUntil, state: _State):
        return [(op.next, state)]

    def on_Assert(self, at: int, op: ir.Assert, state: _State):
        value = evaluate_local(op.cond, state, self.context, self.program)
        if value is False and (is_thread_local(op.cond) or op.lockdep):
            self.problem("assertion", f"{op.failure_text()} on this path", at,
                         held=state.held)
        return [(op.next, state)]

    def on_Exit(self, at: int, op: ir.Exit, state: _State):
        if state.held:
            names = tuple(e.lock for e in state.held)
            self.problem("held-at-exit", f"{self.code.path} can return holding "
                         + ", ".join(f"`{n}`" for n in names), at, names, state.held)
        if state.irq_saves or (state.hardirqs_off and not self.context.is_hardirq):
            self.problem("inconsistent-irq-state",
                         f"{self.code.path} can return with irqs disabled", at)
        return []


_OP_KINDS = (ir.Acquire, ir.TryAcquire, ir.Release, ir.IrqOp, ir.MightSleep, ir.GfpScope,
             ir.Branch, ir.Choice, ir.StateOp, ir.Put, ir.TryState, ir.AddCallback, ir.Spawn,
             ir.Grace, ir.SleepUntil, ir.Assert, ir.Exit)
_READ = {ir.Mode.WRITE: 0, ir.Mode.READ: 1, ir.Mode.RECURSIVE: 2}


_FORKS = frozenset({ir.Branch, ir.Choice, ir.TryAcquire, ir.Put, ir.TryState,
                    ir.AddCallback})


def _join_points(ops: tuple[ir.Op, ...]) -> set[int]:
    """Ops with more than one incoming edge (none in straight-line code)."""
    if _FORKS.isdisjoint(map(type, ops)):
        return set()
    seen: set[int] = set()
    joins: set[int] = set()
    for op in ops:
        for target in ir.successors(op):
            if target in seen:
                joins.add(target)
            seen.add(target)
    return joins


def _matches(entry, lock_name: str, program: ir.Program) -> bool:
    """lockdep's match_held_lock(): the instance, or any lock of the class of an
    entry that counts nest_lock re-acquisitions."""
    if entry.lock == lock_name:
        return True
    return (getattr(entry, "merged", False)
            and entry.lock_class == program.locks[lock_name].lock_class)


def evaluate_local(cond: ir.Cond, state, context: ir.Context,
                   program: ir.Program) -> bool | None:
    """The value of a condition from thread-local state (a ThreadState or the walk's
    own tuple form), or None if it depends on shared state."""
    if isinstance(cond, ir.CConst):
        return cond.value
    if isinstance(cond, ir.CNot):
        inner = evaluate_local(cond.operand, state, context, program)
        return None if inner is None else not inner
    if isinstance(cond, ir.COr):
        return ir.any_of(evaluate_local(o, state, context, program) for o in cond.operands)
    if isinstance(cond, ir.CNondet) or not isinstance(cond, ir.CPred):
        return None
    name, args = cond.name, cond.args
    if name == "held":
        lock, mode = args
        for entry in state.held:
            if _matches(entry, lock, program):
                return not mode or (mode == "write") == (entry.read == 0)
        return False
    if name == "irqs_disabled":
        return state.hardirqs_off
    if name == "bh_disabled":           # the kernel's in_softirq(): softirq_count() != 0
        return context is ir.Context.SOFTIRQ or bool(state.softirq_off)
    if name == "in_atomic":
        return in_atomic(state, context, program)
    if name in ("gfp_may_fs", "gfp_may_block"):
        flags = set(args)
        for strip in state.gfp_strips:
            flags -= strip
        if name == "gfp_may_block":
            return "block" in flags
        return "block" in flags and "fs" in flags
    return None


def in_atomic(state, context: ir.Context, program: ir.Program) -> bool:
    """in_atomic(): a non-zero preempt count -- interrupt context, bh or preemption
    disabled, or a spinning lock held (spin_lock() disables preemption). Disabling
    irqs alone does not raise the preempt count."""
    if context.is_interrupt or state.softirq_off or state.preempt_off:
        return True
    return any(program.locks[e.lock].kind in ir.SPINNING_KINDS for e in state.held)


# The name the interleaving engine knows it by.
in_atomic_strict = in_atomic


def is_thread_local(cond: ir.Cond) -> bool:
    if isinstance(cond, ir.CNot):
        return is_thread_local(cond.operand)
    if isinstance(cond, ir.COr):
        return all(is_thread_local(o) for o in cond.operands)
    return isinstance(cond, ir.CPred) and cond.name in ir.THREAD_LOCAL_PREDICATES


_HANDLERS = {kind: getattr(_Walker, "on_" + kind.__name__) for kind in _OP_KINDS}


def walk(program: ir.Program, code: ir.Code) -> WalkResult:
    result = WalkResult()
    _Walker(program, code, result).run()
    return result


def walk_program(program: ir.Program) -> dict[str, WalkResult]:
    return {code_id: walk(program, program.codes[code_id]) for code_id in program.roots}
