"""The reference semantics, rule by rule (docs/semantics.md)."""
from checker.interleave.semantics import (NOT_STARTED, START, Event, build_model, cycle_scenario,
                                          enabled_events, initial_state, scenario_threads,
                                          stuck_violation, valid_choices)
from checker.interleave.step import apply
from model import ir
from tests.conftest import compile_text


def program_of(text: str):
    compiled = compile_text("import kernel\n" + text)
    assert compiled.diagnostics == (), compiled.diagnostics
    return compiled.program


def start(program, scenario: str = "s"):
    model = build_model(program)
    chosen = next(s for s in program.scenarios if s.name == scenario)
    return model, initial_state(model, scenario_threads(program, chosen))


def run(model, state, *steps):
    """Apply steps given as (thread label, choice), each at the thread's current pc."""
    violation = None
    for label, choice in steps:
        index = [t.label for t in state.threads].index(label)
        pc = state.pcs[index]
        event = Event(label, START if pc == NOT_STARTED else pc, choice)
        assert choice in valid_choices(model, state, index), (label, pc)
        state, violation = apply(model, state, event)
    return state, violation


def advance_to(model, state, label, predicate):
    """Step `label` (first choice) until its current op satisfies `predicate`."""
    index = [t.label for t in state.threads].index(label)
    for _ in range(100):
        op = model.program.codes[state.threads[index].code].ops[state.pcs[index]]
        if predicate(op):
            return state
        state, violation = run(model, state, (label, valid_choices(model, state, index)[0]))
        assert violation is None
    raise AssertionError("op not reached")


def at_acquire(lock):
    return lambda op: isinstance(op, ir.Acquire) and op.lock == lock


TWO_PATHS = """
lock A : mutex
path p in process { mutex_lock(A); mutex_unlock(A); }
path q in process { mutex_lock(A); mutex_unlock(A); }
"""


def test_labels_and_cpus():
    program = program_of(TWO_PATHS + "scenario s = 2 * p() || q() @5 || p()\n")
    threads = scenario_threads(program, program.scenarios[0])
    assert [(t.label, t.cpu) for t in threads] == [("p#1", 6), ("p#2", 7), ("q#1", 5),
                                                   ("p#3", 8)]
    assert scenario_threads(program, program_of(TWO_PATHS + "scenario s = p() || q()\n")
                            .scenarios[0])[1].cpu == 1


def test_cycle_scenario_runs_each_code_once_on_its_own_cpu():
    program = program_of(TWO_PATHS)
    scenario = cycle_scenario(program, ["q", "p", "q"])
    threads = scenario_threads(program, scenario)
    assert [(t.label, t.cpu) for t in threads] == [("q#1", 0), ("p#1", 1)]


def test_exclusive_lock_blocks_and_releases():
    program = program_of(TWO_PATHS + "scenario s = p() || q()\n")
    model, state = start(program)
    state = advance_to(model, state, "p#1", lambda op: isinstance(op, ir.Release))
    state = advance_to(model, state, "q#1", at_acquire("A"))
    assert valid_choices(model, state, 1) == ()
    state, _ = run(model, state, ("p#1", 0))
    assert valid_choices(model, state, 1) == (0,)


def test_reader_queues_behind_waiting_writer():
    program = program_of("""
lock sem : rwsem
path r in process { down_read(sem); up_read(sem); }
path w in process { down_write(sem); up_write(sem); }
scenario s = 2 * r() || w()
""")
    model, state = start(program)
    state = advance_to(model, state, "r#1", lambda op: isinstance(op, ir.Release))
    state = advance_to(model, state, "r#2", at_acquire("sem"))
    assert valid_choices(model, state, 1) == (0,)         # no writer waiting yet
    state = advance_to(model, state, "w#1", at_acquire("sem"))
    assert valid_choices(model, state, 2) == ()           # readers hold it
    assert valid_choices(model, state, 1) == ()           # writer preference


def test_recursive_read_ignores_waiting_writer():
    program = program_of("""
lock L : rwlock
path r in hardirq { read_lock(L); read_unlock(L); }
path w in process { write_lock(L); write_unlock(L); }
scenario s = 2 * r() || w()
""")
    model, state = start(program)
    state, _ = run(model, state, ("r#1", 0))
    state = advance_to(model, state, "r#1", lambda op: isinstance(op, ir.Release))
    state = advance_to(model, state, "w#1", at_acquire("L"))
    state, _ = run(model, state, ("r#2", 0))
    assert valid_choices(model, state, 1) == (0,)


def test_trylock_outcome_follows_the_lock():
    program = program_of("""
lock A : mutex
path p in process { mutex_lock(A); mutex_unlock(A); }
path t in process { if mutex_trylock(A) { mutex_unlock(A); } }
scenario s = p() || t()
""")
    model, state = start(program)
    assert valid_choices(model, state, 1) == (0,)
    state = advance_to(model, state, "p#1", lambda op: isinstance(op, ir.Release))
    assert valid_choices(model, state, 1) == (1,)


def test_interrupt_starts_only_with_irqs_on_and_preempts():
    program = program_of("""
lock A : spinlock
path user in process { spin_lock_irq(A); spin_unlock_irq(A); spin_lock(A); spin_unlock(A); }
path handler in hardirq { spin_lock(A); spin_unlock(A); }
scenario s = user() @0 || handler() @0
""")
    model, state = start(program)
    assert valid_choices(model, state, 1) == (0,)         # may start right away
    state, _ = run(model, state, ("user#1", 0))           # irqs off
    assert valid_choices(model, state, 1) == ()
    state, _ = run(model, state, *[("user#1", 0)] * 4)    # lock, unlock, irqs on, lock
    assert state.locals[0].held and not state.locals[0].hardirqs_off
    state, _ = run(model, state, ("handler#1", 0))        # interrupts the lock holder
    assert valid_choices(model, state, 0) == ()           # preempted
    assert valid_choices(model, state, 1) == ()           # spins on A
    assert enabled_events(model, state) == []
    violation = stuck_violation(model, state)
    assert violation.code == "deadlock"
    assert dict(violation.blocked)["user#1"] == "interrupted by handler#1"


def test_softirq_waits_for_bh_on():
    program = program_of("""
lock A : spinlock
path user in process { spin_lock_bh(A); spin_unlock_bh(A); }
path timer in softirq { spin_lock(A); spin_unlock(A); }
scenario s = user() @0 || timer() @0
""")
    model, state = start(program)
    state, _ = run(model, state, ("user#1", 0))           # bh off
    assert state.locals[0].softirq_off == 1
    assert valid_choices(model, state, 1) == ()


def test_completion_wait_and_hang():
    program = program_of("""
object done : completion
path w in process { wait_for_completion(done); }
scenario s = w()
""")
    model, state = start(program)
    state = advance_to(model, state, "w#1", lambda op: isinstance(op, ir.StateOp))
    assert enabled_events(model, state) == []
    assert stuck_violation(model, state).code == "hang"


def test_revoke_then_map_is_use_after_revoke():
    program = program_of("""
object buf : revocable
path a in process { revoke(buf); map(buf); }
scenario s = a()
""")
    model, state = start(program)
    state, violation = run(model, state, ("a#1", 0), ("a#1", 0))
    assert violation.code == "use-after-revoke"


def test_unmap_zaps_every_mapping():
    program = program_of("""
object buf : revocable
path a in process { map(buf); map(buf); unmap(buf); assert !mapped(buf); }
scenario s = a()
""")
    model, state = start(program)
    state, violation = run(model, state, *[("a#1", 0)] * 4)
    assert violation is None


def test_put_frees_after_the_release_function():
    program = program_of("""
fn rel(o) { access(o); }
object r : refcounted release rel
path a in process { kref_put(r); access(r); }
scenario s = a()
""")
    model, state = start(program)
    index = model.object_index["r"]
    state, _ = run(model, state, ("a#1", 0))              # the last put
    assert state.objects[index] == (0, 0)                 # releasing, not yet freed
    state, violation = run(model, state, ("a#1", 0))      # access inside the release fn
    assert violation is None and state.objects[index] == (0, 1)
    state, violation = run(model, state, ("a#1", 0))
    assert violation.code == "use-after-free"


def test_put_below_zero_is_refcount():
    program = program_of("""
object r : refcounted
path a in process { kref_put(r); kref_put(r); }
scenario s = a()
""")
    model, state = start(program)
    state, violation = run(model, state, ("a#1", 0), ("a#1", 1))
    assert violation.code == "refcount"


def test_add_callback_fails_once_signalled():
    program = program_of("""
object f : fence
fn cb() { }
path a in process { signal(f); if add_callback(f, cb) { } }
scenario s = a()
""")
    model, state = start(program)
    state, _ = run(model, state, ("a#1", 0))
    assert valid_choices(model, state, 0) == (1,)


def test_held_at_exit_and_bad_unlock():
    program = program_of("""
lock A : mutex
path a in process { mutex_lock(A); }
path b in process { mutex_unlock(A); }
scenario s = a()
scenario t = b()
""")
    model, state = start(program, "s")
    state, violation = run(model, state, ("a#1", 0), ("a#1", 0), ("a#1", 0))
    assert violation.code == "held-at-exit"
    model, state = start(program, "t")
    state, violation = run(model, state, ("b#1", 0))
    assert violation.code == "bad-unlock"


def test_spawned_work_gets_label_and_cpu():
    program = program_of("""
fn work() { }
fn kick() { }
path a in process { schedule_work(work); irq_work_queue(kick); }
scenario s = a() @3
""")
    model, state = start(program)
    state, _ = run(model, state, ("a#1", 0), ("a#1", 0))
    spawned = [(t.label, t.cpu, t.context) for t in state.threads[1:]]
    assert spawned == [("work@workqueue#1", 4, ir.Context.WORKQUEUE),
                       ("kick@irq_work#1", 3, ir.Context.IRQ_WORK)]
    assert state.pcs[2] == NOT_STARTED


def test_aa_deadlock_on_reacquire():
    program = program_of("""
lock A : mutex
path a in process { mutex_lock(A); mutex_lock(A); }
scenario s = a()
""")
    model, state = start(program)
    state, _ = run(model, state, *[("a#1", 0)] * 3)
    assert enabled_events(model, state) == []
    assert stuck_violation(model, state).code == "deadlock"


def test_pseudo_locks_never_block():
    program = program_of("""
lock m : lockdep_map
path a in process { lock_map_acquire(m); lock_map_release(m); }
scenario s = 2 * a()
""")
    model, state = start(program)
    state, _ = run(model, state, ("a#1", 0), ("a#2", 0))
    assert "m" not in model.lock_index
    assert len(state.locals[0].held) == len(state.locals[1].held) == 1


def test_violation_codes_are_finding_codes():
    from checker.findings import CODES
    from checker.interleave.semantics import VIOLATION_CODES
    assert VIOLATION_CODES <= set(CODES)
