"""lockdep's own selftest suite (lib/locking-selftest.c), case by case, as specs.

One table, read off the C source: each case is a list of events written with the
selftest's own macros (L/U, WL/RL, ML, WSL/RSL, LOCK/UNLOCK bound per lock-kind
column, IRQ_ENTER/IRQ_DISABLE bound per hard/soft variant, WWAI/WWL/WWT ...),
and lockdep's verdict: F (lockdep reports) or S (silent). The harness runs the
events one after another in one task and resets lockdep between tests; the spec
form is one `path` per event (an IRQ_ENTER ... IRQ_EXIT section becomes a path
in hardirq or softirq context), so the permutations GENERATE_PERMUTATIONS_*
produces are orderings of the paths. Every case is checked in every permutation
and once more with its declarations and paths shuffled.

Where a SUCCESS test leaves locks held (the harness's reset_locks() drops them),
the events release them at the end, marked `reset:`, so that held-at-exit does
not count against a silent verdict. A trylock the test asserts to succeed
(WARN_ON(!ret)) is lockdep's successful trylock, `acquire(x, trylock = true)`.
"""
from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

import pytest

from checker.graph.engine import run_graph_engine
from tests.conftest import compile_text

FAIL, SILENT = "F", "S"

# ------------------------------------------------------------------ the locks

FAMILIES = {            # prefix -> lock kind, as declared in locking-selftest.c
    "lock": "spinlock", "rwlock": "rwlock", "mutex": "mutex", "rwsem": "rwsem",
    "rtmutex": "mutex",     # rt_mutex: validated exactly like a mutex
}
STATIC = ("A", "B", "C", "D")
SHARED = {"X": ("X1", "X2"), "Y": ("Y1", "Y2"), "Z": ("Z1", "Z2")}


def declarations() -> list[str]:
    decls = []
    for prefix, kind in FAMILIES.items():
        decls.append(f"lock {', '.join(f'{prefix}_{n}' for n in STATIC)} : {kind}")
        for cls, members in SHARED.items():
            decls.append(f"lock {', '.join(f'{prefix}_{m}' for m in members)} : {kind} "
                         f"class {prefix}_{cls}")
    decls += ["lock raw_lock_A, raw_lock_B : raw_spinlock",
              "lock local_A : local_lock",
              "lock t, t2 : ww_ctx class ww_lockdep_acquire",
              "lock o, o2, o3 : ww_mutex class ww_lockdep_mutex"]
    return decls


# ------------------------------------------------------------------ the macros

PLAIN = {
    "L": "spin_lock(lock_{0})", "U": "spin_unlock(lock_{0})", "SI": "spin_lock_init(lock_{0})",
    "WL": "write_lock(rwlock_{0})", "WU": "write_unlock(rwlock_{0})",
    "RL": "read_lock(rwlock_{0})", "RU": "read_unlock(rwlock_{0})",
    "RWI": "rwlock_init(rwlock_{0})",
    "ML": "mutex_lock(mutex_{0})", "MU": "mutex_unlock(mutex_{0})", "MI": "mutex_init(mutex_{0})",
    "RTL": "rt_mutex_lock(rtmutex_{0})", "RTU": "rt_mutex_unlock(rtmutex_{0})",
    "RTI": "rt_mutex_init(rtmutex_{0})",
    "WSL": "down_write(rwsem_{0})", "WSU": "up_write(rwsem_{0})",
    "RSL": "down_read(rwsem_{0})", "RSU": "up_read(rwsem_{0})", "RWSI": "init_rwsem(rwsem_{0})",
    "RAWL": "raw_spin_lock(raw_lock_{0})", "RAWU": "raw_spin_unlock(raw_lock_{0})",
    "LL": "local_lock(local_{0})", "LLU": "local_unlock(local_{0})",
    "WWAI": "ww_acquire_init({0})", "WWAD": "ww_acquire_done({0})", "WWAF": "ww_acquire_fini({0})",
    "WWL": "ww_mutex_lock({0}, {1})", "WWL1": "ww_mutex_lock({0}, NULL)",
    "WWT": "acquire({0}, trylock = true)", "WWU": "ww_mutex_unlock({0})",
    "HARDIRQ_DISABLE": "local_irq_disable()", "HARDIRQ_ENABLE": "local_irq_enable()",
    "SOFTIRQ_DISABLE": "local_bh_disable()", "SOFTIRQ_ENABLE": "local_bh_enable()",
}
# The lock-kind headers: locking-selftest-{spin,wlock,rlock,mutex,wsem,rsem}.h
COLUMNS = {
    "spin": ("L", "U", "SI"), "wlock": ("WL", "WU", "RWI"), "rlock": ("RL", "RU", "RWI"),
    "mutex": ("ML", "MU", "MI"), "wsem": ("WSL", "WSU", "RWSI"), "rsem": ("RSL", "RSU", "RWSI"),
    "rtmutex": ("RTL", "RTU", "RTI"),
}
# The irq headers: locking-selftest-{hardirq,softirq}.h
IRQS = {"hard": ("hardirq", "HARDIRQ_DISABLE", "HARDIRQ_ENABLE"),
        "soft": ("softirq", "SOFTIRQ_DISABLE", "SOFTIRQ_ENABLE")}
ENTER = {"IRQ_ENTER": None, "HARDIRQ_ENTER": "hardirq", "SOFTIRQ_ENTER": "softirq",
         "NOTTHREADED_HARDIRQ_ENTER": "hardirq_nothread"}
EXIT = {"IRQ_EXIT", "HARDIRQ_EXIT", "SOFTIRQ_EXIT", "NOTTHREADED_HARDIRQ_EXIT"}
TOKEN = re.compile(r"(\w+)(?:\(([^)]*)\))?")


@dataclass(frozen=True)
class Binding:
    column: str = "spin"
    irq: str = "hard"


def expand(event: str, binding: Binding) -> list[tuple[str, list[str]]]:
    """An event in selftest macros -> [(context, statements)], one per path."""
    lock, unlock, init = COLUMNS[binding.column]
    irq_context, irq_off, irq_on = IRQS[binding.irq]
    aliases = {"LOCK": lock, "UNLOCK": unlock, "INIT": init,
               "IRQ_DISABLE": irq_off, "IRQ_ENABLE": irq_on}
    paths: list[tuple[str, list[str]]] = []
    context, body = "process", []
    for name, args in TOKEN.findall(event.replace("reset:", "")):
        if name in ENTER or name in EXIT:
            if body:
                paths.append((context, body))
            context, body = (ENTER[name] or irq_context) if name in ENTER else "process", []
            continue
        params = [a.strip() for a in args.split(",")] if args else []
        if name == "LU2":
            body += [PLAIN[lock].format(params[0]), PLAIN[lock].format(params[1]),
                     PLAIN[unlock].format(params[1]), PLAIN[unlock].format(params[0])]
            continue
        if name in ("spin_lock_nest_lock", "fs_reclaim_acquire", "fs_reclaim_release",
                    "might_alloc", "memalloc_nofs_save", "memalloc_nofs_restore",
                    "read_lock", "read_unlock", "rcu_read_lock", "rcu_read_unlock",
                    "rcu_read_lock_bh", "rcu_read_unlock_bh", "rcu_read_lock_sched",
                    "rcu_read_unlock_sched", "ww_mutex_lock", "ww_mutex_trylock_if"):
            body.append(_call(name, params))
            continue
        body.append(PLAIN[aliases.get(name, name)].format(*params))
    if body:
        paths.append((context, body))
    return paths


def _call(name: str, params: list[str]) -> str:
    if name == "ww_mutex_trylock_if":     # a trylock on a lock the task holds: it fails
        return f"if ww_mutex_trylock({params[0]}, NULL) {{ ww_mutex_unlock({params[0]}); }}"
    return f"{name}({', '.join(params)})"


# ------------------------------------------------------------------ the cases

@dataclass(frozen=True)
class Case:
    name: str
    events: tuple[str, ...]
    verdict: str
    binding: Binding = Binding()
    options: tuple[str, ...] = ("lockdep_selftest",)
    codes: tuple[str, ...] = ()     # a failing case must report one of these


def single(name: str, event: str, verdicts: dict[str, str], codes=(), **kw) -> list[Case]:
    return [Case(f"{name}_{column}", (event,), verdict, Binding(column), codes=codes, **kw)
            for column, verdict in verdicts.items()]


def permuted(name: str, events: tuple[str, ...], verdicts: dict[tuple[str, str], str],
             codes=(), **kw) -> list[Case]:
    """GENERATE_PERMUTATIONS_2/3_EVENTS: every order of the events."""
    cases = []
    for (irq, column), verdict in verdicts.items():
        for order in itertools.permutations(range(len(events))):
            nr = "".join(str(i + 1) for i in order)
            cases.append(Case(f"{name}_{irq}_{column}_{nr}", tuple(events[i] for i in order),
                              verdict, Binding(column, irq), codes=codes, **kw))
    return cases


def cols(*names: str, rlock: str = SILENT, default: str = FAIL) -> dict[str, str]:
    return {n: (rlock if n == "rlock" else default) for n in names}


SIX = ("spin", "wlock", "rlock", "mutex", "wsem", "rsem")
SEVEN = SIX + ("rtmutex",)                        # with CONFIG_RT_MUTEXES
R6 = cols(*SEVEN)                                 # DO_TESTCASE_6R
ALL_F = cols(*SEVEN, rlock=FAIL)                  # DO_TESTCASE_6
IRQ3 = {(irq, c): (SILENT if c == "rlock" else FAIL)  # DO_TESTCASE_6I: hard+soft x 3
        for irq in ("hard", "soft") for c in ("spin", "wlock", "rlock")}
RW2 = {(irq, c): (SILENT if c == "rlock" else FAIL)   # DO_TESTCASE_2x2RW
       for irq in ("hard", "soft") for c in ("wlock", "rlock")}
CYCLE = ("deadlock", "recursive-locking")
IRQ = ("inconsistent-irq-state", "irq-inversion")

CASES: list[Case] = []

# 1.1 -- single class and circular dependencies (DO_TESTCASE_6R)
CASES += single("AA", "LOCK(X1) LOCK(X2) reset: UNLOCK(X2) UNLOCK(X1)", R6, CYCLE)
CASES += single("ABBA", "LU2(A, B) LU2(B, A)", R6, CYCLE)
CASES += single("ABBCCA", "LU2(A, B) LU2(B, C) LU2(C, A)", R6, CYCLE)
CASES += single("ABCABC", "LU2(A, B) LU2(C, A) LU2(B, C)", R6, CYCLE)
CASES += single("ABBCCDDA", "LU2(A, B) LU2(B, C) LU2(C, D) LU2(D, A)", R6, CYCLE)
CASES += single("ABCDBDDA", "LU2(A, B) LU2(C, D) LU2(B, D) LU2(D, A)", R6, CYCLE)
CASES += single("ABCDBCDA", "LU2(A, B) LU2(C, D) LU2(B, C) LU2(D, A)", R6, CYCLE)
CASES += single("double_unlock", "LOCK(A) UNLOCK(A) UNLOCK(A)", ALL_F, ("bad-unlock",))
CASES += single("init_held", "LOCK(A) INIT(A)", ALL_F, ("assertion",))
# the historical "bad unlock order" (DO_TESTCASE_6_SUCCESS): out-of-order release is fine
CASES += single("bad_unlock_order", "LOCK(A) LOCK(B) UNLOCK(A) UNLOCK(B)",
                cols(*SIX, rlock=SILENT, default=SILENT))

# recursive read-lock, mixed read-write (rlock and rsem/rwsem columns)
CASES += [
    Case("rlock_AA1", ("RL(X1) RL(X1) reset: RU(X1) RU(X1)",), SILENT),
    Case("rsem_AA1", ("RSL(X1) RSL(X1)",), FAIL, codes=CYCLE),
    Case("rlock_AA1B", ("RL(X1) RL(X2) reset: RU(X2) RU(X1)",), SILENT),
    Case("rsem_AA1B", ("RSL(X1) RSL(X2)",), FAIL, codes=CYCLE),
    Case("rlock_AA2", ("RL(X1) WL(X2)",), FAIL, codes=CYCLE),
    Case("rsem_AA2", ("RSL(X1) WSL(X2)",), FAIL, codes=CYCLE),
    Case("rlock_AA3", ("WL(X1) RL(X2)",), FAIL, codes=CYCLE),
    Case("rsem_AA3", ("WSL(X1) RSL(X2)",), FAIL, codes=CYCLE),
    Case("rlock_ABBA1", ("RL(X1) L(Y1) U(Y1) RU(X1) L(Y1) WL(X1) WU(X1) U(Y1)",), FAIL,
         codes=CYCLE),
    Case("rwsem_ABBA1", ("RSL(X1) ML(Y1) MU(Y1) RSU(X1) ML(Y1) WSL(X1) WSU(X1) MU(Y1)",), FAIL,
         codes=CYCLE),
    Case("rlock_ABBA2", ("RL(X1) L(Y1) U(Y1) RU(X1) L(Y1) RL(X1) RU(X1) U(Y1)",), SILENT),
    Case("rwsem_ABBA2", ("RSL(X1) ML(Y1) MU(Y1) RSU(X1) ML(Y1) RSL(X1) RSU(X1) MU(Y1)",), FAIL,
         codes=CYCLE),
    Case("rlock_ABBA3", ("WL(X1) L(Y1) U(Y1) WU(X1) L(Y1) WL(X1) WU(X1) U(Y1)",), FAIL,
         codes=CYCLE),
    Case("rwsem_ABBA3", ("WSL(X1) ML(Y1) MU(Y1) WSU(X1) ML(Y1) WSL(X1) WSU(X1) MU(Y1)",), FAIL,
         codes=CYCLE),
    Case("rlock_chaincache_ABBA1", ("RL(X1) L(Y1) U(Y1) RU(X1) L(Y1) RL(X1) RU(X1) U(Y1) "
                                    "L(Y1) WL(X1) WU(X1) U(Y1)",), FAIL, codes=CYCLE),
]

# rlock W/R cycles (DO_TESTCASE_6x1RR / 6x1RRB): strong paths with recursive readers
W1R2 = "WL(X1) RL(Y1) RU(Y1) WU(X1)"
W2R3 = "WL(Y1) RL(Z1) RU(Z1) WU(Y1)"
W3R1 = "WL(Z1) RL(X1) RU(X1) WU(Z1)"
W1W2 = "WL(X1) WL(Y1) WU(Y1) WU(X1)"
R2R3 = "RL(Y1) RL(Z1) RU(Z1) RU(Y1)"
R3W1 = "RL(Z1) WL(X1) WU(X1) RU(Z1)"
W3W1 = "WL(Z1) WL(X1) WU(X1) WU(Z1)"
CASES += permuted("W1R2_W2R3_W3R1", (W1R2, W2R3, W3R1), {("hard", "rlock"): FAIL}, CYCLE)
CASES += permuted("W1W2_R2R3_W3R1", (W1W2, R2R3, W3R1), {("hard", "rlock"): FAIL}, CYCLE)
CASES += permuted("W1W2_R2R3_R3W1", (W1W2, R2R3, R3W1), {("hard", "rlock"): SILENT})
CASES += permuted("W1R2_R2R3_W3W1", (W1R2, R2R3, W3W1), {("hard", "rlock"): SILENT})

# 1.3 -- irq contexts
CASES += permuted("irqsafe1", ("IRQ_ENTER LOCK(A) UNLOCK(A) IRQ_EXIT", "LOCK(A) UNLOCK(A)"),
                  IRQ3, IRQ)
CASES += permuted("irqsafe2A", ("SOFTIRQ_ENTER LOCK(A) UNLOCK(A) SOFTIRQ_EXIT",
                                "HARDIRQ_DISABLE LOCK(A) HARDIRQ_ENABLE UNLOCK(A)"),
                  {k: v for k, v in IRQ3.items() if k[0] == "hard"}, IRQ)
CASES += permuted("irqsafe2B", ("IRQ_ENTER LOCK(A) UNLOCK(A) IRQ_EXIT",
                                "IRQ_DISABLE LOCK(A) IRQ_ENABLE UNLOCK(A)"), IRQ3, IRQ)
CASES += permuted("irqsafe3", ("LOCK(A) LOCK(B) UNLOCK(B) UNLOCK(A)", "LOCK(B) UNLOCK(B)",
                               "IRQ_ENTER LOCK(A) UNLOCK(A) IRQ_EXIT"), IRQ3, IRQ)
CASES += permuted("irqsafe4", ("IRQ_DISABLE LOCK(A) LOCK(B) UNLOCK(B) UNLOCK(A) IRQ_ENABLE",
                               "LOCK(B) UNLOCK(B)", "IRQ_ENTER LOCK(A) UNLOCK(A) IRQ_EXIT"),
                  IRQ3, ("irq-inversion",))
CASES += permuted("irq_inversion", ("IRQ_DISABLE WL(A) LOCK(B) UNLOCK(B) WU(A) IRQ_ENABLE",
                                    "LOCK(B) UNLOCK(B)", "IRQ_ENTER RL(A) RU(A) IRQ_EXIT"),
                  IRQ3, ("irq-inversion",))
CASES += permuted("irq_read_recursion", ("IRQ_DISABLE WL(A) WU(A) IRQ_ENABLE", "RL(A) RU(A)",
                                         "IRQ_ENTER LOCK(A) L(B) U(B) UNLOCK(A) IRQ_EXIT"),
                  RW2, IRQ)
CASES += permuted("irq_read_recursion2", ("IRQ_DISABLE L(B) LOCK(A) UNLOCK(A) U(B) IRQ_ENABLE",
                                          "RL(A) RU(A)", "IRQ_ENTER L(B) U(B) IRQ_EXIT"),
                  RW2, ("irq-inversion",))
CASES += permuted("irq_read_recursion3", ("IRQ_DISABLE WL(B) LOCK(A) UNLOCK(A) WU(B) IRQ_ENABLE",
                                          "RL(A) RU(A)", "IRQ_ENTER RL(B) RU(B) IRQ_EXIT"),
                  RW2, ("irq-inversion",))

# ww_mutex: contexts are nest locks; ww_mutex_lock(o, NULL) is a plain mutex
CASES += [Case(name, (event,), verdict, codes=codes) for name, event, verdict, codes in [
    ("ww_test_fail_acquire", "WWAI(t) WWL(o, t) ww_mutex_trylock_if(o) WWU(o) "
                             "WWT(o) WWU(o) reset: WWAF(t)", SILENT, ()),
    ("ww_test_normal", "WWL1(o) WWU(o) WWL1(o) WWU(o) WWT(o) WWU(o) WWL1(o) "
                       "ww_mutex_trylock_if(o) WWU(o) WWAI(t) WWL(o, t) WWU(o) reset: WWAF(t)",
     SILENT, ()),
    ("ww_test_two_contexts", "WWAI(t) WWAI(t2)", FAIL, CYCLE),
    ("ww_test_context_unlock_twice", "WWAI(t) WWAD(t) WWAF(t) WWAF(t)", FAIL, ("bad-unlock",)),
    ("ww_test_context_fini_early", "WWAI(t) WWL(o, t) WWAD(t) WWAF(t)", FAIL, ("bad-unlock",)),
    ("ww_test_object_unlock_twice", "WWL1(o) WWU(o) WWU(o)", FAIL, ("bad-unlock",)),
    ("ww_test_spin_nest_unlocked", "spin_lock_nest_lock(lock_A, o) U(A)", FAIL, ("assertion",)),
    ("ww_test_spin_nest_lock", "L(X1) spin_lock_nest_lock(lock_Y1, lock_X1) L(A) "
                               "spin_lock_nest_lock(lock_Y2, lock_X1) U(A) U(Y2) U(Y1) U(X1)",
     SILENT, ()),
    ("ww_test_context_block", "WWAI(t) WWL(o, t) WWL1(o2)", FAIL, CYCLE),
    ("ww_test_context_try", "WWAI(t) WWL(o, t) WWT(o2) WWU(o2) WWU(o) reset: WWAF(t)",
     SILENT, ()),
    ("ww_test_context_context", "WWAI(t) WWL(o, t) WWL(o2, t) WWU(o2) WWU(o) reset: WWAF(t)",
     SILENT, ()),
    ("ww_test_try_block", "WWT(o) WWL1(o2) WWU(o2) WWU(o)", FAIL, CYCLE),
    ("ww_test_try_try", "WWT(o) WWT(o2) WWU(o2) WWU(o)", SILENT, ()),
    ("ww_test_try_context", "WWT(o) WWAI(t) WWL(o2, t)", FAIL, CYCLE),
    ("ww_test_block_block", "WWL1(o) WWL1(o2)", FAIL, CYCLE),
    ("ww_test_block_try", "WWL1(o) WWT(o2) reset: WWU(o2) WWU(o)", SILENT, ()),
    ("ww_test_block_context", "WWL1(o) WWAI(t) WWL(o2, t)", FAIL, CYCLE),
    ("ww_test_spin_block", "L(A) U(A) WWL1(o) L(A) U(A) WWU(o) L(A) WWL1(o) WWU(o) U(A)",
     FAIL, CYCLE + ("invalid-wait-context",)),
    ("ww_test_spin_try", "L(A) U(A) WWT(o) L(A) U(A) WWU(o) L(A) WWT(o) WWU(o) U(A)",
     SILENT, ()),
    ("ww_test_spin_context", "L(A) U(A) WWAI(t) WWL(o, t) L(A) U(A) WWU(o) L(A) WWL(o, t) "
                             "WWU(o) U(A) reset: WWAF(t)",
     FAIL, CYCLE + ("invalid-wait-context",)),
]]

# queued rwlocks: force_read_lock_recursive = 0, so read_lock() is recursive only in irqs
QUEUED = ()
CASES += [Case(name, events, verdict, options=QUEUED, codes=codes)
          for name, events, verdict, codes in [
    ("queued_read_lock_hardirq_RE_Er",
     ("HARDIRQ_ENTER read_lock(rwlock_A) L(B) U(B) read_unlock(rwlock_A) HARDIRQ_EXIT",
      "HARDIRQ_DISABLE L(B) read_lock(rwlock_A) read_unlock(rwlock_A) U(B) HARDIRQ_ENABLE"),
     FAIL, CYCLE),
    ("queued_read_lock_hardirq_ER_rE",
     ("HARDIRQ_ENTER L(B) read_lock(rwlock_A) read_unlock(rwlock_A) U(B) HARDIRQ_EXIT",
      "HARDIRQ_DISABLE read_lock(rwlock_A) L(B) U(B) read_unlock(rwlock_A) HARDIRQ_ENABLE"),
     SILENT, ()),
    ("queued_read_lock_hardirq_inversion",
     ("HARDIRQ_ENTER L(B) U(B) HARDIRQ_EXIT",
      "HARDIRQ_DISABLE L(B) read_lock(rwlock_A) read_unlock(rwlock_A) U(B) HARDIRQ_ENABLE",
      "read_lock(rwlock_A) read_unlock(rwlock_A)"), FAIL, ("irq-inversion",)),
    # without force_read_lock_recursive, rlock_AA1 is a non-recursive read: recursion
    ("queued_rlock_AA1", ("RL(X1) RL(X1)",), FAIL, CYCLE),
]]

# 1.6 -- fs_reclaim
CASES += [Case(name, (event,), verdict, options=(), codes=codes)
          for name, event, verdict, codes in [
    ("fs_reclaim_correct_nesting", "fs_reclaim_acquire(GFP_KERNEL) might_alloc(GFP_NOFS) "
                                   "fs_reclaim_release(GFP_KERNEL)", SILENT, ()),
    ("fs_reclaim_wrong_nesting", "fs_reclaim_acquire(GFP_KERNEL) might_alloc(GFP_KERNEL) "
                                 "fs_reclaim_release(GFP_KERNEL)", FAIL, CYCLE),
    ("fs_reclaim_protected_nesting", "fs_reclaim_acquire(GFP_KERNEL) memalloc_nofs_save() "
                                     "might_alloc(GFP_KERNEL) memalloc_nofs_restore() "
                                     "fs_reclaim_release(GFP_KERNEL)", SILENT, ()),
]]

# 1.7 -- wait contexts: inner_in_outer (guard(outer); guard(inner)), raw lock nesting
OUTER = {   # outer -> (enter, exit) around the inner guard
    "HARDIRQ": ("HARDIRQ_ENTER", "HARDIRQ_EXIT"),
    "NOTTHREADED_HARDIRQ": ("NOTTHREADED_HARDIRQ_ENTER", "NOTTHREADED_HARDIRQ_EXIT"),
    "SOFTIRQ": ("SOFTIRQ_ENTER", "SOFTIRQ_EXIT"),
    "RCU": ("rcu_read_lock()", "rcu_read_unlock()"),
    "RCU_BH": ("rcu_read_lock_bh()", "rcu_read_unlock_bh()"),
    "RCU_SCHED": ("rcu_read_lock_sched()", "rcu_read_unlock_sched()"),
    "raw_spinlock": ("RAWL(A)", "RAWU(A)"),
    "spinlock": ("L(A)", "U(A)"),
    "mutex": ("ML(A)", "MU(A)"),
}
INNER = {"RCU": ("rcu_read_lock()", "rcu_read_unlock()"), "raw_spinlock": ("RAWL(B)", "RAWU(B)"),
         "spinlock": ("L(B)", "U(B)"), "mutex": ("ML(B)", "MU(B)")}
PREEMPTIBLE = "oooo"                # DO_CONTEXT_TESTCASE_OUTER_PREEMPTIBLE
LIMITED = "ooox"                    # ..._LIMITED_PREEMPTIBLE
NOT_PREEMPTIBLE = "ooxx"            # ..._NOT_PREEMPTIBLE
WAIT_TABLE = {"HARDIRQ": LIMITED, "NOTTHREADED_HARDIRQ": NOT_PREEMPTIBLE, "SOFTIRQ": LIMITED,
              "RCU": LIMITED, "RCU_BH": LIMITED, "RCU_SCHED": NOT_PREEMPTIBLE,
              "raw_spinlock": NOT_PREEMPTIBLE, "spinlock": LIMITED, "mutex": PREEMPTIBLE}


def wait_context_cases() -> list[Case]:
    cases = []
    for outer, row in WAIT_TABLE.items():
        for (inner, (take, drop)), mark in zip(INNER.items(), row):
            enter, leave = OUTER[outer]
            event = f"{enter} {take} {drop} {leave}"
            verdict = FAIL if mark == "x" else SILENT
            cases.append(Case(f"{inner}_in_{outer}", (event,), verdict,
                              options=("prove_raw_lock_nesting",),
                              codes=("invalid-wait-context",)))
            # Without CONFIG_PROVE_RAW_LOCK_NESTING spinlock_t waits like raw_spinlock_t.
            plain = SILENT if inner == "spinlock" else verdict
            cases.append(Case(f"{inner}_in_{outer}_no_raw_nesting", (event,), plain,
                              options=(), codes=("invalid-wait-context",)))
    return cases


CASES += wait_context_cases()

# local_lock: skipped by the irq-inversion search, a real lock otherwise
CASES += [Case(name, events, verdict, options=(), codes=codes)
          for name, events, verdict, codes in [
    ("local_lock_2", ("LL(A) LLU(A)", "HARDIRQ_ENTER L(A) U(A) HARDIRQ_EXIT",
                      "HARDIRQ_DISABLE L(A) LL(A) LLU(A) U(A) HARDIRQ_ENABLE"), SILENT, ()),
    ("local_lock_3A", ("LL(A) L(B) U(B) LLU(A)", "HARDIRQ_ENTER L(A) U(A) HARDIRQ_EXIT",
                       "HARDIRQ_DISABLE L(A) LL(A) LLU(A) U(A) HARDIRQ_ENABLE"), SILENT, ()),
    # (the C test ends with a second HARDIRQ_DISABLE where it means HARDIRQ_ENABLE)
    ("local_lock_3B", ("LL(A) L(B) U(B) LLU(A)", "HARDIRQ_ENTER L(A) U(A) HARDIRQ_EXIT",
                       "HARDIRQ_DISABLE L(A) LL(A) LLU(A) U(A) HARDIRQ_ENABLE",
                       "HARDIRQ_DISABLE L(A) L(B) U(B) U(A) HARDIRQ_ENABLE"),
     FAIL, ("irq-inversion",)),
    ("hardirq_deadlock_softirq_not_deadlock", (
        "ML(A) HARDIRQ_DISABLE L(C) U(C) HARDIRQ_ENABLE MU(A)",
        "HARDIRQ_ENTER L(A) U(A) HARDIRQ_EXIT",
        "HARDIRQ_DISABLE L(A) L(B) U(B) U(A) HARDIRQ_ENABLE",
        "HARDIRQ_DISABLE L(B) L(C) U(C) U(B) HARDIRQ_ENABLE",
        "SOFTIRQ_ENTER L(D) U(D) SOFTIRQ_EXIT",
        "SOFTIRQ_DISABLE L(D) U(D) SOFTIRQ_ENABLE",
        "HARDIRQ_DISABLE L(C) L(D) U(D) U(C) HARDIRQ_ENABLE"), FAIL, ("irq-inversion",)),
]]


# ------------------------------------------------------------------ the specs

def spec_text(case: Case, shuffle_seed: int | None = None) -> str:
    paths = [p for event in case.events for p in expand(event, case.binding)]
    decls = declarations()
    if shuffle_seed is not None:
        rng = random.Random(shuffle_seed)
        rng.shuffle(paths)
        rng.shuffle(decls)
    lines = ["import kernel"] + [f"option {o}" for o in case.options] + decls
    for number, (context, body) in enumerate(paths, 1):
        lines.append(f"path e{number} in {context} {{ " + " ".join(s + ";" for s in body)
                     + " }")
    return "\n".join(lines) + "\n"


def graph_verdict(text: str):
    compiled = compile_text(text)
    assert compiled.diagnostics == (), [d.message for d in compiled.diagnostics]
    findings, run = run_graph_engine(compiled.program)
    assert run.outcome == "complete"
    return findings


def check_case(case: Case, shuffle_seed: int | None) -> None:
    findings = graph_verdict(spec_text(case, shuffle_seed))
    codes = sorted({f.code for f in findings})
    if case.verdict == SILENT:
        assert codes == [], [f.message for f in findings]
    else:
        assert codes, "lockdep reports this case; the graph engine found nothing"
        if case.codes:
            assert set(codes) & set(case.codes), (codes, [f.message for f in findings])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_selftest_case(case):
    check_case(case, None)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_selftest_case_shuffled(case):
    seed = sum(map(ord, case.name))
    check_case(case, seed)


def test_table_covers_every_listed_test():
    names = {c.name for c in CASES}
    for base in ("AA", "ABBA", "ABBCCA", "ABCABC", "ABBCCDDA", "ABCDBDDA", "ABCDBCDA",
                 "double_unlock", "init_held"):
        assert {f"{base}_{col}" for col in SEVEN} <= names
    for base, events in (("irqsafe1", 2), ("irqsafe2B", 2), ("irqsafe3", 3), ("irqsafe4", 3),
                         ("irq_inversion", 3)):
        perms = [c for c in CASES if c.name.startswith(base + "_")]
        assert len(perms) == 6 * (2 if events == 2 else 6), base
    assert len([c for c in CASES if c.name.endswith("_no_raw_nesting")]) == 36
