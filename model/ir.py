"""The core IR: every spec lowers to a control-flow graph per thread over these ops.

Each thread's code is a tuple of ops indexed by position; an op names its
successors by index. Calls are inlined during lowering, so an op's `site`
carries the span of the core statement and the stack of call sites that led
to it (outermost first). The graph is acyclic: `repeat` is unrolled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Union

from model.span import Span


class Mode(str, Enum):
    """lockdep's `read` argument: 0 exclusive, 1 non-recursive read, 2 recursive read."""

    WRITE = "write"
    READ = "read"
    RECURSIVE = "recursive"

    @property
    def lockdep_read(self) -> int:
        return {"write": 0, "read": 1, "recursive": 2}[self.value]


class Context(str, Enum):
    PROCESS = "process"
    SOFTIRQ = "softirq"
    HARDIRQ = "hardirq"
    HARDIRQ_NOTHREAD = "hardirq_nothread"
    IRQ_WORK = "irq_work"
    WORKQUEUE = "workqueue"

    @property
    def is_hardirq(self) -> bool:
        return self in (Context.HARDIRQ, Context.HARDIRQ_NOTHREAD, Context.IRQ_WORK)

    @property
    def is_interrupt(self) -> bool:
        return self.is_hardirq or self is Context.SOFTIRQ

    @property
    def lockdep_irq_context(self) -> int:
        """lockdep's irq_context: bit 1 hardirq, bit 0 softirq."""
        return 2 if self.is_hardirq else 1 if self is Context.SOFTIRQ else 0


# Lock kinds and what lockdep knows of them.
SLEEPING_KINDS = frozenset({"mutex", "rwsem", "ww_mutex"})
SPINNING_KINDS = frozenset({"spinlock", "raw_spinlock", "rwlock", "seqlock", "local_lock"})
LOCK_KINDS = SLEEPING_KINDS | SPINNING_KINDS | frozenset({"ww_ctx", "rcu", "rcu_sched", "srcu",
                                                         "lockdep_map"})
OBJECT_KINDS = frozenset({"revocable", "refcounted", "memory", "completion", "fence",
                          "flag", "counter", "waitqueue", "pointer"})
# What a pointer may point to (rcu_assign_pointer); NULL is its target number 0.
POINTEE_KINDS = frozenset({"revocable", "refcounted", "memory"})

# lockdep wait types (lockdep_types.h); a lock's inner type bounds what may nest in it.
WAIT_INV, WAIT_FREE, WAIT_SPIN, WAIT_CONFIG, WAIT_SLEEP = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Lock:
    """A lock instance; `lock_class` is the lockdep class it validates as."""

    name: str
    kind: str
    lock_class: str
    span: Span
    wait_inner: int = WAIT_INV
    wait_outer: int = WAIT_INV
    lockdep: str | None = None     # the kernel's class name (`lockdep "..."`), if it differs
    read_mode: str | None = None   # rwlock(read = ...): "queued" or "recursive" readers


@dataclass(frozen=True)
class Obj:
    name: str
    kind: str
    init: int
    span: Span
    lock: str | None = None        # a fence's lock, taken by signal and add_callback
    release: str | None = None     # code id run when a refcounted object drops to zero
    # A pointer's possible targets, numbered from 1 (0 is NULL); `init` is a number.
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Site:
    span: Span
    stack: tuple[Span, ...] = ()

    def frames(self) -> tuple[Span, ...]:
        return self.stack + (self.span,)


# ------------------------------------------------------------------ conditions

@dataclass(frozen=True)
class CConst:
    value: bool


@dataclass(frozen=True)
class CNondet:
    """A choice the spec leaves open (an error path)."""


@dataclass(frozen=True)
class CNot:
    operand: "Cond"


@dataclass(frozen=True)
class COr:
    """Any of the operands: a wait_event() condition read in one step
    (`ready || kthread_should_stop()`; `a && b` is `!(!a || !b)`)."""

    operands: tuple["Cond", ...]


@dataclass(frozen=True)
class CPred:
    """A state predicate: revoked(o), mapped(o), attached(o), freed(o), flag(f),
    signalled(c), armed(fence, fn), held(lock, mode or ""), in_atomic(),
    irqs_disabled(), gfp_may_fs(flags...), gfp_may_block(flags...),
    count(obj, op, value) comparing a counter or reference count, and
    points_to(pointer, number, target) (the target's name, or "NULL" for 0)."""

    name: str
    args: tuple[Union[str, int], ...] = ()


Cond = Union[CConst, CNondet, CNot, COr, CPred]


def any_of(values) -> bool | None:
    """Three-valued `or` of operand values (None: not known here)."""
    values = list(values)
    if True in values:
        return True
    return None if None in values else False

# Predicates whose value is private to the thread evaluating them.
THREAD_LOCAL_PREDICATES = frozenset({"held", "in_atomic", "irqs_disabled", "bh_disabled",
                                     "gfp_may_fs", "gfp_may_block"})


# ------------------------------------------------------------------------- ops

@dataclass(frozen=True)
class Acquire:
    lock: str
    mode: Mode
    site: Site
    next: int
    trylock: bool = False          # lockdep's trylock flag on an acquire that cannot fail
    nest: str | None = None        # nest_lock (a ww acquire context)
    subclass: int = 0
    check: bool = True             # False: tracked but not validated (rcu)
    cookie: bool = False           # skip if held or atomic, and remember for release


@dataclass(frozen=True)
class TryAcquire:
    """A trylock: `ok` when the lock was free, `fail` otherwise."""

    lock: str
    mode: Mode
    site: Site
    ok: int
    fail: int
    nest: str | None = None
    subclass: int = 0


@dataclass(frozen=True)
class Release:
    lock: str
    site: Site
    next: int
    cookie: bool = False


@dataclass(frozen=True)
class IrqOp:
    """hardirq_off/on/save/restore, softirq_off/on, preempt_off/on."""

    what: str      # "hardirq" | "softirq" | "preempt"
    action: str    # "off" | "on" | "save" | "restore"
    site: Site
    next: int


@dataclass(frozen=True)
class MightSleep:
    site: Site
    next: int
    grace: bool = False            # synchronize_rcu(): lockdep checks the RCU maps too


@dataclass(frozen=True)
class GfpScope:
    """memalloc_nofs_save / _noio_save push a scope that strips flags; end pops it."""

    action: str                    # "begin" | "end"
    strip: frozenset[str]
    site: Site
    next: int


@dataclass(frozen=True)
class Branch:
    cond: Cond
    site: Site
    then: int
    orelse: int


@dataclass(frozen=True)
class Choice:
    site: Site
    targets: tuple[int, ...]


@dataclass(frozen=True)
class StateOp:
    """revoke unrevoke map unmap access attach detach get free alloc set clear
    inc dec wait signal reinit, and disarm (a callback that is about to run);
    set_count (kref_init, refcount_set) writes `value` into a reference count;
    assign (rcu_assign_pointer) makes a pointer point to its target number `value`;
    on a completion, signal (complete) adds one to its count and signal_all
    (complete_all) lets every wait pass until reinit."""

    verb: str
    obj: str
    site: Site
    next: int
    value: int = 0


@dataclass(frozen=True)
class Put:
    """Drop a reference; `released` when it was the last one (the object's
    release function is inlined there), `next` otherwise. With `frees`, the
    object is freed when the release body returns (the declared `release =`
    destructor, or no release function at all); without it (a release function
    given per call, refcount_dec_and_test), only a `free` in the body frees it."""

    obj: str
    site: Site
    released: int
    next: int
    frees: bool = True


@dataclass(frozen=True)
class TryState:
    """An object operation that may fail instead of blocking or faulting, decided
    by the object's state: `get` takes a reference unless the count is zero
    (kref_get_unless_zero), `wait` takes one completion unless none is there
    (wait_for_completion_timeout, which then times out). `ok` or `fail`."""

    verb: str                      # "get" | "wait"
    obj: str
    site: Site
    ok: int
    fail: int


@dataclass(frozen=True)
class AddCallback:
    """Arm the function `code` to run when `fence` is signalled: `ok` if armed,
    `fail` if the fence had already signalled (dma_fence_add_callback's -ENOENT).
    Signal sites inline every callback of their fence behind an `armed` branch."""

    fence: str
    code: str
    site: Site
    ok: int
    fail: int


@dataclass(frozen=True)
class Spawn:
    """Deferral: start the thread `code` (schedule_work, irq_work_queue). With
    `after_grace` (call_rcu, kfree_rcu), the thread, an interrupt, may start only
    once every read section of that domain in force at the spawn has ended."""

    code: str
    site: Site
    next: int
    after_grace: str | None = None


@dataclass(frozen=True)
class Grace:
    """A wait for what was under way when it began, in two ops: `begin` notes it,
    `end` blocks until it is over. `readers` (synchronize_rcu, synchronize_srcu):
    every read section of domain `target` (a lock) in force at `begin` has ended.
    `work` (flush_work): every instance of the work `target` (a code id) queued or
    running at `begin` has finished; `workqueue` (flush_workqueue): every work
    item's; `cancel` (cancel_work_sync): instances still queued at `begin` are
    taken off the queue and never run, running ones are waited for. What starts
    after `begin` is not waited for."""

    what: str                      # "readers" | "work" | "workqueue" | "cancel"
    target: str
    phase: str                     # "begin" | "end"
    site: Site
    next: int


@dataclass(frozen=True)
class SleepUntil:
    """wait_event(queue, cond): a check that finds `cond` true passes; one that finds
    it false puts the thread to sleep on `queue` until a wake-up (`StateOp wake`)
    and it checks again. A wake-up that comes before the sleep is lost."""

    queue: str
    cond: "Cond"
    site: Site
    next: int


@dataclass(frozen=True)
class Assert:
    """Fails when `cond` is false: an `assert`, a lockdep assertion or WARN
    (`finding` "assertion"), or a use of a NULL pointer ("use-after-free"). A
    lockdep WARN (`lockdep`, always false) is the graph engine's: it is reported on
    any path that reaches it, as lockdep does when that path runs; the
    interleaving engines step over it, as the kernel goes on after a WARN."""

    cond: Cond
    message: str
    site: Site
    next: int
    finding: str = "assertion"
    lockdep: bool = False

    def failure_text(self) -> str:
        """What a failing assertion says: a WARN and a NULL use say it whole."""
        if self.lockdep or self.finding != "assertion":
            return self.message
        return f"{self.message} fails"


@dataclass(frozen=True)
class Exit:
    site: Site


Op = Union[Acquire, TryAcquire, Release, IrqOp, MightSleep, GfpScope, Branch, Choice,
           StateOp, Put, TryState, AddCallback, Spawn, Grace, SleepUntil, Assert, Exit]


def successors(op: Op) -> tuple[int, ...]:
    if isinstance(op, (TryAcquire, TryState, AddCallback)):
        return (op.ok, op.fail)
    if isinstance(op, Branch):
        return (op.then, op.orelse)
    if isinstance(op, Put):
        return (op.released, op.next)
    if isinstance(op, Choice):
        return op.targets
    if isinstance(op, Exit):
        return ()
    return (op.next,)


def code_id(fn: str, context: Context) -> str:
    """The id of the code that runs `fn` as deferred work in `context`."""
    return f"{fn}@{context.value}"


@dataclass(frozen=True)
class Code:
    """The lowered body of one thread: a path instance, a work item or a callback."""

    id: str                        # e.g. "fault(buf)", "kill_jobs_work@workqueue"
    path: str                      # the path or fn name it came from
    context: Context
    ops: tuple[Op, ...]
    entry: int
    span: Span


@dataclass(frozen=True)
class ScenarioThread:
    code: str
    cpu: int | None
    count: int
    span: Span


@dataclass(frozen=True)
class Scenario:
    name: str
    threads: tuple[ScenarioThread, ...]
    span: Span


@dataclass(frozen=True)
class Expectation:
    scenario: str | None
    verdict: str                   # "pass" or a finding code
    span: Span


@dataclass(frozen=True)
class OrderChain:
    locks: tuple[str, ...]
    spans: tuple[Span, ...]
    span: Span


@dataclass(frozen=True)
class Program:
    """A resolved, lowered spec: the input of every engine."""

    file: str
    title: str
    locks: dict[str, Lock]
    objects: dict[str, Obj]
    codes: dict[str, Code]
    roots: tuple[str, ...]         # codes the graph engine walks (paths, their work)
    scenarios: tuple[Scenario, ...]
    expectations: tuple[Expectation, ...]
    orders: tuple[OrderChain, ...]
    options: dict[str, object] = field(default_factory=dict)
