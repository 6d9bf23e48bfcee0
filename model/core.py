"""The small core the prelude is written over: builtin verbs, conditions, constants.

Types are sets of names: a lock kind, an object kind, `lock` or `object` for any
of them, or one of gfp, fn, int, bool, mode, context, string, null.
"""
from __future__ import annotations

from dataclasses import dataclass

from model.ir import LOCK_KINDS, OBJECT_KINDS, Context

LOCK_KIND_NAMES = LOCK_KINDS | frozenset({"rcu_sched"})
VALUE_TYPES = frozenset({"gfp", "fn", "int", "bool", "mode", "context", "string", "null",
                         "cond"})
# Declared like objects but with no state of their own: a work item (INIT_WORK)
# names the work its function does; lowering turns it into a deferred thread.
DECLARED_KINDS = frozenset({"work"})
TYPE_NAMES = (LOCK_KIND_NAMES | OBJECT_KINDS | DECLARED_KINDS | VALUE_TYPES
              | frozenset({"lock", "object"}))

REQUIRED = object()


@dataclass(frozen=True)
class CoreParam:
    name: str
    types: frozenset[str]
    default: object = REQUIRED


@dataclass(frozen=True)
class Builtin:
    name: str
    params: tuple[CoreParam, ...]
    # "stmt", "cond" (usable in `if`), "effect" (a cond with a side effect), "value",
    # "object" (a pointer read: only in `let x = ...;` or a `-> object` return)
    role: str


def _p(name: str, types: str, default: object = REQUIRED) -> CoreParam:
    return CoreParam(name, frozenset(types.split("|")), default)


_LOCK = "lock"
_ACQUIRE_OPTIONS = (_p("mode", "mode", "write"), _p("nest", "lock|null", None),
                    _p("subclass", "int", 0))

BUILTINS: dict[str, Builtin] = {b.name: b for b in [
    Builtin("acquire", (_p("l", _LOCK),) + _ACQUIRE_OPTIONS + (
        _p("check", "bool", True), _p("trylock", "bool", False), _p("cookie", "bool", False)), "stmt"),
    Builtin("release", (_p("l", _LOCK), _p("cookie", "bool", False)), "stmt"),
    Builtin("try_acquire", (_p("l", _LOCK),) + _ACQUIRE_OPTIONS, "effect"),
    *[Builtin(n, (), "stmt") for n in (
        "hardirq_off", "hardirq_on", "hardirq_save", "hardirq_restore",
        "softirq_off", "softirq_on", "preempt_off", "preempt_on", "gfp_scope_end")],
    Builtin("sleep_point", (_p("grace", "bool", False),), "stmt"),
    Builtin("gfp_scope_begin", (_p("g", "gfp"),), "stmt"),
    *[Builtin(n, (_p("o", "revocable"),), "stmt")
      for n in ("revoke", "unrevoke", "map", "unmap", "attach", "detach")],
    Builtin("access", (_p("o", "revocable|memory|refcounted"),), "stmt"),
    Builtin("get", (_p("r", "refcounted"),), "stmt"),
    Builtin("put", (_p("r", "refcounted"), _p("release", "fn|null", None)), "stmt"),
    Builtin("set_count", (_p("r", "refcounted"), _p("n", "int")), "stmt"),
    Builtin("get_unless_zero", (_p("r", "refcounted"),), "effect"),
    Builtin("dec_and_test", (_p("r", "refcounted"),), "effect"),
    Builtin("free", (_p("o", "memory|refcounted"),), "stmt"),
    Builtin("alloc", (_p("o", "memory"),), "stmt"),
    Builtin("set", (_p("f", "flag"),), "stmt"),
    Builtin("clear", (_p("f", "flag"),), "stmt"),
    Builtin("inc", (_p("c", "counter"),), "stmt"),
    Builtin("dec", (_p("c", "counter"),), "stmt"),
    Builtin("wait", (_p("c", "completion|fence"),), "stmt"),
    Builtin("signal", (_p("c", "completion|fence"),), "stmt"),
    Builtin("reinit", (_p("c", "completion|fence"),), "stmt"),
    Builtin("signal_all", (_p("c", "completion"),), "stmt"),
    Builtin("try_wait", (_p("c", "completion"),), "effect"),
    Builtin("spawn", (_p("work", "fn|work"), _p("ctx", "context")), "stmt"),
    # Grace periods and flushes wait for what was under way when they began.
    Builtin("grace_period", (_p("l", "rcu|rcu_sched|srcu"),), "stmt"),
    Builtin("wait_work", (_p("work", "fn|work"),), "stmt"),
    Builtin("wait_all_work", (), "stmt"),
    Builtin("cancel_work", (_p("work", "fn|work"),), "stmt"),
    # Wait queues: sleep until a condition holds at a check after a wake-up.
    Builtin("sleep_on", (_p("q", "waitqueue"), _p("c", "cond")), "stmt"),
    Builtin("wake_queue", (_p("q", "waitqueue"),), "stmt"),
    # kthreads: kthread_stop() sets a flag the kthread reads, wakes it, waits for it.
    Builtin("stop_thread", (_p("work", "fn"),), "stmt"),
    Builtin("should_stop", (), "cond"),
    Builtin("park_thread", (_p("work", "fn"),), "stmt"),
    Builtin("unpark_thread", (_p("work", "fn"),), "stmt"),
    Builtin("should_park", (), "cond"),
    Builtin("park_me", (), "stmt"),
    Builtin("spawn_after_grace", (_p("work", "fn"), _p("l", "rcu|rcu_sched|srcu")), "stmt"),
    Builtin("free_after_grace", (_p("o", "memory|refcounted"), _p("l", "rcu|rcu_sched|srcu")),
            "stmt"),
    # Pointers: rcu_assign_pointer() writes one; `let x = deref(p);` reads it once.
    Builtin("assign", (_p("p", "pointer"), _p("v", "revocable|memory|refcounted|null")),
            "stmt"),
    Builtin("deref", (_p("p", "pointer"),), "object"),
    Builtin("assert_held", (_p("l", _LOCK), _p("mode", "mode|null", None)), "stmt"),
    # A lockdep WARN that fires where it is reached (RCU_LOCKDEP_WARN), with its text.
    Builtin("warn", (_p("message", "string"),), "stmt"),
    Builtin("assert_not_held", (_p("l", _LOCK),), "stmt"),
    Builtin("add_callback", (_p("f", "fence"), _p("cb", "fn")), "effect"),
    Builtin("nondet", (), "cond"),
    *[Builtin(n, (_p("o", "revocable"),), "cond") for n in ("revoked", "mapped", "attached")],
    Builtin("freed", (_p("o", "memory|refcounted"),), "cond"),
    Builtin("signalled", (_p("c", "completion|fence"),), "cond"),
    Builtin("held", (_p("l", _LOCK), _p("mode", "mode|null", None)), "cond"),
    *[Builtin(n, (), "cond") for n in (
        "in_atomic", "irqs_disabled", "bh_disabled", "in_interrupt", "in_hardirq",
        "in_softirq")],
    # lockdep's read_lock_is_recursive(), for the rwlock `l` a read_lock() takes.
    Builtin("read_lock_is_recursive", (_p("l", "rwlock|null", None),), "cond"),
    Builtin("gfp_may_fs", (_p("g", "gfp"),), "cond"),
    Builtin("gfp_may_block", (_p("g", "gfp"),), "cond"),
    Builtin("lock_of", (_p("f", "fence"),), "value"),
    Builtin("count", (_p("o", "refcounted|counter"),), "value"),
]}

# GFP masks as the flags that matter to reclaim: may block (direct reclaim),
# may do IO, may recurse into the filesystem.
GFP_CONSTANTS: dict[str, frozenset[str]] = {
    "GFP_KERNEL": frozenset({"block", "io", "fs"}),
    "GFP_USER": frozenset({"block", "io", "fs"}),
    "GFP_HIGHUSER": frozenset({"block", "io", "fs"}),
    "GFP_NOFS": frozenset({"block", "io"}),
    "GFP_NOIO": frozenset({"block"}),
    "GFP_ATOMIC": frozenset(),
    "GFP_NOWAIT": frozenset(),
}

MODE_CONSTANTS = {"write": "write", "read": "read", "recursive": "recursive"}
CONTEXT_CONSTANTS = {c.value: c for c in Context}
INT_CONSTANTS = {"SINGLE_DEPTH_NESTING": 1}

# Options a spec may set with `option NAME [= value]`.
OPTIONS = {
    "lockdep_selftest": bool,   # read_lock() is a recursive read everywhere
    "prove_raw_lock_nesting": bool,  # CONFIG_PROVE_RAW_LOCK_NESTING: no spinlock_t in raw contexts
    "bound": int,               # interleaving search depth bound
    "timeout": int,             # seconds for the interleaving search
    "cpus": int,
}


def constant_type(name: str) -> str | None:
    if name in GFP_CONSTANTS:
        return "gfp"
    if name in MODE_CONSTANTS:
        return "mode"
    if name in CONTEXT_CONSTANTS:
        return "context"
    if name in INT_CONSTANTS:
        return "int"
    return None


def lock_wait_types(kind: str) -> tuple[int, int]:
    """(inner, outer) lockdep wait types of a lock kind (lockdep_types.h)."""
    from model.ir import WAIT_CONFIG, WAIT_FREE, WAIT_INV, WAIT_SLEEP, WAIT_SPIN
    table = {
        "spinlock": (WAIT_CONFIG, WAIT_CONFIG), "rwlock": (WAIT_CONFIG, WAIT_CONFIG),
        "seqlock": (WAIT_CONFIG, WAIT_CONFIG), "local_lock": (WAIT_CONFIG, WAIT_CONFIG),
        "raw_spinlock": (WAIT_SPIN, WAIT_SPIN),
        "mutex": (WAIT_SLEEP, WAIT_SLEEP), "rwsem": (WAIT_SLEEP, WAIT_SLEEP),
        "ww_mutex": (WAIT_SLEEP, WAIT_SLEEP),
        "rcu": (WAIT_CONFIG, WAIT_FREE), "rcu_sched": (WAIT_SPIN, WAIT_FREE),
        "srcu": (WAIT_SLEEP, WAIT_FREE),
    }
    return table.get(kind, (WAIT_INV, WAIT_INV))


def type_matches(actual: str, allowed: frozenset[str]) -> bool:
    if actual in allowed:
        return True
    if "lock" in allowed and actual in LOCK_KIND_NAMES:
        return True
    if "object" in allowed and actual in OBJECT_KINDS:
        return True
    return False
