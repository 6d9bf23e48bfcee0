"""The graph engine's rules, one small spec each (lockdep-rules.md §2)."""
from __future__ import annotations

import pytest

from checker.graph.engine import run_graph_engine
from model.lockgraph import build_lock_graph
from model.walk import walk_program
from tests.conftest import compile_text


def program_of(body: str):
    compiled = compile_text("import kernel\n" + body)
    assert compiled.diagnostics == (), [d.message for d in compiled.diagnostics]
    return compiled.program


def findings_of(body: str):
    findings, run = run_graph_engine(program_of(body))
    assert run.outcome == "complete"
    return findings


def codes(body: str) -> list[str]:
    return sorted({f.code for f in findings_of(body)})


def edge_types(body: str) -> dict[tuple[str, str], set[str]]:
    program = program_of(body)
    graph = build_lock_graph(program, walk_program(program))
    out: dict[tuple[str, str], set[str]] = {}
    for prev, nxt, data in graph.edges(data=True):
        out.setdefault((prev, nxt), set()).add(data["type"])
    return out


# ------------------------------------------------------------ dependency types

def test_dependency_types_follow_read_of_prev_and_next():
    types = edge_types("""
        option lockdep_selftest
        lock R : rwlock
        lock S : rwsem
        lock M : mutex
        path a in process { read_lock(R); mutex_lock(M); mutex_unlock(M); read_unlock(R); }
        path b in process { mutex_lock(M); read_lock(R); read_unlock(R); mutex_unlock(M); }
        path c in process { down_read(S); mutex_lock(M); mutex_unlock(M); up_read(S); }
        path d in process { mutex_lock(M); down_read(S); up_read(S); mutex_unlock(M); }
    """)
    assert types[("R", "M")] == {"SN"}
    assert types[("M", "R")] == {"ER"}
    assert types[("S", "M")] == {"SN"}
    assert types[("M", "S")] == {"EN"}


def test_one_class_pair_keeps_every_type():
    """rlock_chaincache_ABBA1: the same class order with another read type is new."""
    types = edge_types("""
        option lockdep_selftest
        lock Y : spinlock
        lock X : rwlock
        path a in process { spin_lock(Y); read_lock(X); read_unlock(X); spin_unlock(Y); }
        path b in process { spin_lock(Y); write_lock(X); write_unlock(X); spin_unlock(Y); }
    """)
    assert types[("Y", "X")] == {"ER", "EN"}


def test_rwsem_readers_are_never_recursive_rwlock_readers_are_in_irq():
    assert codes("""
        lock S : rwsem
        path a in process { down_read(S); down_read(S); up_read(S); up_read(S); }
    """) == ["recursive-locking"]
    assert codes("""
        lock R : rwlock
        path a in softirq { read_lock(R); read_lock(R); read_unlock(R); read_unlock(R); }
    """) == []
    assert codes("""
        lock R : rwlock
        path a in process { read_lock(R); read_lock(R); read_unlock(R); read_unlock(R); }
    """) == ["recursive-locking"]


def test_no_edges_across_irq_contexts():
    types = edge_types("""
        lock A, B : spinlock
        path p in process { spin_lock_irq(A); spin_unlock_irq(A); }
        path h in hardirq { spin_lock(B); spin_unlock(B); }
    """)
    assert types == {}


# ------------------------------------------------------------ same-class nesting

def test_subclass_makes_a_distinct_class():
    body = """
        lock X1, X2 : mutex class X
        path a in process { mutex_lock(X1); mutex_lock_nested(X2, SINGLE_DEPTH_NESTING);
                            mutex_unlock(X2); mutex_unlock(X1); }
    """
    assert codes(body) == []
    assert codes(body + """
        path b in process { mutex_lock_nested(X2, SINGLE_DEPTH_NESTING); mutex_lock(X1);
                            mutex_unlock(X1); mutex_unlock(X2); }
    """) == ["deadlock"]


def test_nest_lock_must_be_held_before_the_same_class_lock():
    assert codes("""
        lock t : ww_ctx class acquire
        lock a, b : ww_mutex class resv
        path p in process { ww_acquire_init(t); dma_resv_lock(a, t); dma_resv_lock(b, t);
                            dma_resv_unlock(a); dma_resv_unlock(b); ww_acquire_fini(t); }
    """) == []
    assert "recursive-locking" in codes("""
        lock t : ww_ctx class acquire
        lock a, b : ww_mutex class resv
        path p in process { dma_resv_lock(a, NULL); ww_acquire_init(t); dma_resv_lock(b, t);
                            dma_resv_unlock(b); ww_acquire_fini(t); dma_resv_unlock(a); }
    """)


def test_ww_mutex_without_context_is_a_plain_mutex():
    found = findings_of("""
        lock a, b : ww_mutex class resv
        path p in process { dma_resv_lock(a, NULL); dma_resv_lock(b, NULL);
                            dma_resv_unlock(b); dma_resv_unlock(a); }
    """)
    assert [f.code for f in found] == ["recursive-locking"]
    assert found[0].status == "confirmed"


def test_serialised_nesting_adds_no_dependencies():
    """check_deadlock() returning 2: no edge from the lock in between (A)."""
    types = edge_types("""
        lock X1 : spinlock class X
        lock Y1, Y2 : spinlock class Y
        lock A : spinlock
        path p in process { spin_lock(X1); spin_lock_nest_lock(Y1, X1); spin_lock(A);
                            spin_lock_nest_lock(Y2, X1); spin_unlock(A); spin_unlock(Y2);
                            spin_unlock(Y1); spin_unlock(X1); }
    """)
    assert set(types) == {("X", "Y"), ("Y", "A")}


# ------------------------------------------------------------------- trylocks

def test_no_dependency_into_a_trylock():
    assert codes("""
        lock A, B : spinlock
        path p in process { spin_lock(A); if spin_trylock(B) { spin_unlock(B); } spin_unlock(A); }
        path q in process { spin_lock(B); spin_lock(A); spin_unlock(A); spin_unlock(B); }
    """) == []


def test_dependencies_out_of_a_trylock():
    assert codes("""
        lock A, B : spinlock
        path p in process { if spin_trylock(A) { spin_lock(B); spin_unlock(B); spin_unlock(A); } }
        path q in process { spin_lock(B); spin_lock(A); spin_unlock(A); spin_unlock(B); }
    """) == ["deadlock"]


def test_trylock_sets_no_irq_safe_bit_and_needs_no_wait_context():
    assert codes("""
        lock A : spinlock
        lock M : mutex
        path h in hardirq { if spin_trylock(A) { spin_unlock(A); } }
        path p in process { spin_lock(A); if mutex_trylock(M) { mutex_unlock(M); }
                            spin_unlock(A); }
    """) == []


def test_trylock_of_a_lock_the_thread_holds_fails():
    assert codes("""
        lock M : mutex
        path p in process { mutex_lock(M); if mutex_trylock(M) { mutex_unlock(M); }
                            mutex_unlock(M); }
    """) == []


# ----------------------------------------------------------------- irq usage

def test_enabling_hardirqs_marks_held_locks_softirq_unsafe_too():
    """irqsafe2A: softirq-safe A, and hardirqs enabled while A is held."""
    found = findings_of("""
        lock A : spinlock
        path s in softirq { spin_lock(A); spin_unlock(A); }
        path p in process { local_irq_disable(); spin_lock(A); local_irq_enable();
                            spin_unlock(A); }
    """)
    assert [f.code for f in found] == ["inconsistent-irq-state"]
    assert "{IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W}" in found[0].message


def test_softirq_handlers_run_with_hardirqs_enabled():
    """A lock a softirq takes with plain spin_lock() is hardirq-unsafe."""
    found = findings_of("""
        lock A : spinlock
        path s in softirq { spin_lock(A); spin_unlock(A); }
        path h in hardirq { spin_lock(A); spin_unlock(A); }
    """)
    assert [f.code for f in found] == ["inconsistent-irq-state"]
    assert "{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}" in found[0].message


def test_read_usage_refinements():
    """USED_IN_READ + ENABLED_READ is allowed; a path starting with -(S*)-> from a
    class only read in irq is no inversion; a -(E*)-> start is."""
    base = """
        lock A : rwlock
        lock B : spinlock
        path h in hardirq { read_lock(A); read_unlock(A); }
        path on in process { read_lock(A); read_unlock(A); spin_lock(B); spin_unlock(B); }
    """
    assert codes(base) == []
    assert codes(base + """
        path e in process { local_irq_disable(); read_lock(A); spin_lock(B); spin_unlock(B);
                            read_unlock(A); local_irq_enable(); }
    """) == []
    assert codes(base + """
        path e in process { local_irq_disable(); write_lock(A); spin_lock(B); spin_unlock(B);
                            write_unlock(A); local_irq_enable(); }
    """) == ["irq-inversion"]


def test_unchecked_locks_set_no_usage():
    assert codes("""
        path h in hardirq { rcu_read_lock(); rcu_read_unlock(); }
        path p in process { rcu_read_lock(); rcu_read_unlock(); }
    """) == []


def test_enabling_irqs_in_a_hardirq_handler():
    assert "inconsistent-irq-state" in codes("""
        path h in hardirq { local_irq_enable(); local_irq_disable(); }
    """)


# --------------------------------------------------------------- wait contexts

@pytest.mark.parametrize("call", [
    "mutex_lock(M); mutex_unlock(M);", "down_read(S); up_read(S);", "might_sleep();",
    "kmalloc(GFP_KERNEL);", "wait_for_completion(c);", "synchronize_rcu();",
    "dma_fence_wait(f);", "dma_resv_lock(r, NULL); dma_resv_unlock(r);"])
@pytest.mark.parametrize("atomic", [
    ("spin_lock(A);", "spin_unlock(A);"), ("raw_spin_lock(R);", "raw_spin_unlock(R);"),
    ("write_lock(W);", "write_unlock(W);"), ("local_irq_disable();", "local_irq_enable();"),
    ("rcu_read_lock();", "rcu_read_unlock();"), ("preempt_disable();", "preempt_enable();"),
    ("local_bh_disable();", "local_bh_enable();")])
def test_sleeping_in_atomic_context(call, atomic):
    enter, leave = atomic
    found = findings_of(f"""
        lock A : spinlock
        lock R : raw_spinlock
        lock W : rwlock
        lock M : mutex
        lock S : rwsem
        lock r : ww_mutex
        object c : completion
        object f : fence
        path p in process {{ {enter} {call} {leave} }}
    """)
    assert [f.code for f in found] == ["invalid-wait-context"]
    assert found[0].status == "confirmed"


@pytest.mark.parametrize("context", ["hardirq", "softirq", "irq_work"])
def test_sleeping_in_interrupt_context(context):
    assert codes(f"""
        lock M : mutex
        path p in {context} {{ mutex_lock(M); mutex_unlock(M); }}
    """) == ["invalid-wait-context"]


def test_non_sleeping_calls_under_a_spinlock_are_fine():
    assert codes("""
        lock A : spinlock
        lock B : raw_spinlock
        path p in process { spin_lock(A); kmalloc(GFP_ATOMIC); kmalloc(GFP_NOWAIT);
                            raw_spin_lock(B); raw_spin_unlock(B); spin_unlock(A); }
    """) == []


def test_raw_lock_nesting_needs_its_option():
    body = """
        lock A : spinlock
        lock R : raw_spinlock
        path p in process { raw_spin_lock(R); spin_lock(A); spin_unlock(A); raw_spin_unlock(R); }
    """
    assert codes(body) == []
    found = findings_of("option prove_raw_lock_nesting\n" + body)
    assert [f.code for f in found] == ["invalid-wait-context"]
    assert "holding raw_spinlock `R`" in found[0].message


def test_sleep_and_wait_context_at_one_call_are_one_finding():
    found = findings_of("""
        lock A : spinlock
        lock M : mutex
        path p in process { spin_lock(A); mutex_lock(M); mutex_unlock(M); spin_unlock(A); }
    """)
    assert [f.code for f in found] == ["invalid-wait-context"]
    assert found[0].span.line == 5


# --------------------------------------------------------------- pseudo-locks

def test_fs_reclaim_closes_cycles_only_for_fs_allocations():
    body = """
        lock M : mutex
        path shrinker in process { fs_reclaim_acquire(GFP_KERNEL); mutex_lock(M);
                                   mutex_unlock(M); fs_reclaim_release(GFP_KERNEL); }
        path allocator in process { mutex_lock(M); ALLOC mutex_unlock(M); }
    """
    assert codes(body.replace("ALLOC", "kmalloc(GFP_KERNEL);")) == ["deadlock"]
    assert codes(body.replace("ALLOC", "kmalloc(GFP_NOFS);")) == []
    assert codes(body.replace("ALLOC", "kmalloc(GFP_ATOMIC);")) == []
    assert codes(body.replace("ALLOC", "memalloc_nofs_save(); kmalloc(GFP_KERNEL); "
                                       "memalloc_nofs_restore();")) == []


def test_dma_fence_wait_under_a_lock_taken_in_a_signalling_section():
    body = """
        lock A : mutex
        object f : fence
        path signaller in process { dma_fence_begin_signalling(); mutex_lock(A);
                                    mutex_unlock(A); dma_fence_end_signalling(); }
        path waiter in process { mutex_lock(A); WAIT mutex_unlock(A); }
    """
    assert codes(body.replace("WAIT", "dma_fence_wait(f);")) == ["deadlock"]
    assert codes(body.replace("WAIT", "")) == []


def test_signalling_sections_are_read_trylocks():
    """Two sections taking locks in either order are fine, and sections nest."""
    assert codes("""
        lock A : mutex
        path p in process { dma_fence_begin_signalling(); mutex_lock(A); mutex_unlock(A);
                            dma_fence_end_signalling(); }
        path q in process { mutex_lock(A); dma_fence_begin_signalling();
                            dma_fence_begin_signalling(); dma_fence_end_signalling();
                            dma_fence_end_signalling(); mutex_unlock(A); }
    """) == []


def test_wait_inside_a_signalling_section_is_allowed():
    assert codes("""
        object f : fence
        path p in process { dma_fence_begin_signalling(); dma_fence_wait(f);
                            dma_fence_end_signalling(); }
    """) == []


def test_lock_maps_and_might_lock():
    assert codes("""
        lock cb_map : lockdep_map
        lock A : mutex
        path p in process { lock_map_acquire(cb_map); mutex_lock(A); mutex_unlock(A);
                            lock_map_release(cb_map); }
        path q in process { mutex_lock(A); might_lock(cb_map); mutex_unlock(A); }
    """) == ["deadlock"]
    assert codes("""
        lock cb_map : lockdep_map
        lock A : mutex
        path p in process { lock_map_acquire_read(cb_map); mutex_lock(A); mutex_unlock(A);
                            lock_map_release(cb_map); }
        path q in process { mutex_lock(A); lock_map_acquire_read(cb_map); lock_map_release(cb_map);
                            mutex_unlock(A); }
    """) == []


def test_might_lock_of_a_mutex_under_a_spinlock():
    assert codes("""
        lock A : spinlock
        lock M : mutex
        path p in process { spin_lock(A); might_lock(M); spin_unlock(A); }
    """) == ["invalid-wait-context"]


# --------------------------------------------------------- unlock and exit

def test_bad_unlocks():
    assert codes("lock A : spinlock\npath p in process { spin_unlock(A); }") == ["bad-unlock"]
    assert codes("path p in process { local_bh_enable(); }") == ["bad-unlock"]
    assert codes("path p in process { local_irq_restore(); }") == ["bad-unlock"]


def test_out_of_order_release_is_fine_and_relinks_the_locks_above():
    body = """
        lock A, B, C : spinlock
        path p in process { spin_lock(A); spin_lock(B); spin_lock(C); spin_unlock(B);
                            spin_unlock(C); spin_unlock(A); }
    """
    assert codes(body) == []
    assert ("A", "C") in edge_types(body)


def test_releasing_a_nest_lock_under_nested_locks():
    assert "bad-unlock" in codes("""
        lock t : ww_ctx class acquire
        lock o : ww_mutex class resv
        path p in process { ww_acquire_init(t); ww_mutex_lock(o, t); ww_acquire_fini(t);
                            ww_mutex_unlock(o); }
    """)


def test_held_at_exit_on_one_branch():
    found = findings_of("""
        lock M : mutex
        path p in process { mutex_lock(M); if nondet() { return; } mutex_unlock(M); }
    """)
    assert [f.code for f in found] == ["held-at-exit"]
    assert "`M`" in found[0].message


def test_lock_init_of_a_held_lock():
    assert codes("""
        lock M : mutex
        path p in process { mutex_init(M); mutex_lock(M); mutex_unlock(M); }
    """) == []
    assert codes("""
        lock M : mutex
        path p in process { mutex_lock(M); mutex_init(M); mutex_unlock(M); }
    """) == ["assertion"]


# ------------------------------------------------------------ declared order

def test_order_violation_reports_both_locations():
    found = findings_of("""
        lock A, B, C : mutex
        order A -> B
        order B -> C
        path p in process { mutex_lock(C); mutex_lock(A); mutex_unlock(A); mutex_unlock(C); }
    """)
    assert [f.code for f in found] == ["order-violation"]
    finding = found[0]
    assert finding.status == "confirmed"
    assert (finding.span.line, finding.span.col) == (6, 44)       # mutex_lock(A)
    assert [link.span.line for link in finding.chain] == [6, 4]   # mutex_lock(C), the order
    assert finding.chain[0].span.col == 29
    assert finding.locks == ("C", "A")


def test_order_is_not_checked_for_trylocks_or_unrelated_locks():
    assert codes("""
        lock A, B, C : mutex
        order A -> B
        path p in process { mutex_lock(B); if mutex_trylock(A) { mutex_unlock(A); }
                            mutex_lock(C); mutex_unlock(C); mutex_unlock(B); }
    """) == []


def test_thousands_of_nested_acquisitions_need_no_recursion():
    found = findings_of("""
        lock A : spinlock
        path p in process { repeat 40 { repeat 40 { spin_lock(A); } } }
    """)
    assert {f.code for f in found} == {"recursive-locking", "held-at-exit"}
