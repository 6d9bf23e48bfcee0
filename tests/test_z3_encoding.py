"""Pieces of the z3 engine: the unfolding, visibility, the no-search theorem,
critical sections and the budgets of one search."""
from __future__ import annotations

import time

import z3

from checker.interleave.semantics import scenario_threads
from checker.interleave.z3.encode import Encoding
from checker.interleave.z3.scenario import check_scenario
from checker.interleave.z3.search import SAT, UNKNOWN, UNSAT, Search, Settings
from checker.interleave.z3.sections import Sections
from checker.interleave.z3.state import Store
from checker.interleave.z3.theorem import cannot_get_stuck, scenario_lock_graph, static_hazards
from checker.interleave.z3.threads import unfold
from checker.runner import Options
from model import ir
from tests.conftest import DATA, compile_text

Z3 = DATA / "z3"


def unfolded(text: str, reduce: bool = True):
    program = compile_text(text).program
    return unfold(program, scenario_threads(program, program.scenarios[0]), reduce)


def from_file(name: str):
    return unfolded((Z3 / name).read_text())


RING_WITH_FILLERS = """import kernel
lock R0, R1 : mutex
lock F0, F1 : mutex
path t0 in process { mutex_lock(F0); mutex_unlock(F0); mutex_lock(R0); mutex_lock(R1);
                     mutex_unlock(R1); mutex_unlock(R0); }
path t1 in process { mutex_lock(F1); mutex_unlock(F1); mutex_lock(R1); mutex_lock(R0);
                     mutex_unlock(R0); mutex_unlock(R1); }
scenario s = t0() || t1()
"""


def test_private_locks_are_local_and_shared_ones_visible():
    u = unfolded(RING_WITH_FILLERS)
    assert u.contended == frozenset({"R0", "R1"})
    for thread in u.threads:
        visible = [n.op for n in thread.nodes if n.visible]
        assert all(getattr(op, "lock", None) in ("R0", "R1") or isinstance(op, ir.MightSleep)
                   for op in visible)
        fillers = [n for n in thread.nodes if getattr(n.op, "lock", "").startswith("F")]
        assert fillers and not any(n.visible for n in fillers)
    every = unfolded(RING_WITH_FILLERS, reduce=False)
    assert all(n.visible for t in every.threads for n in t.nodes)


def test_the_step_before_an_exclusive_acquire_is_visible():
    # Arriving at down_write makes a waiting writer, which readers queue behind.
    u = from_file("revoke_locked.lspec")
    revoker = next(t for t in u.threads if t.code.id == "revoker")
    entry = revoker.nodes[revoker.entry]
    assert isinstance(entry.op, ir.MightSleep) and entry.visible


def test_spawned_work_is_a_potential_thread_on_a_cpu_of_its_own():
    u = from_file("flush_under_lock.lspec")
    caller, work = u.threads
    assert work.parent is not None and work.parent[0] == caller.index
    assert work.spec is None and work.cpu != caller.cpu and not work.interrupt
    assert caller.children == {work.parent[1]: work.index}


def test_queued_irq_work_interrupts_its_own_cpu():
    u = from_file("irq_work_self.lspec")
    user, kick = u.threads
    assert kick.interrupt and kick.cpu == user.cpu
    assert u.interrupt_cpus == {user.cpu: (kick.index,)}
    assert u.steps() == sum(_longest(t) for t in u.threads) + 1


def _longest(thread) -> int:
    best = {}
    for node in reversed(thread.nodes):
        best[node.index] = 1 + max((best[o.target] for o in node.outcomes
                                    if o.target is not None), default=0)
    return best[thread.entry]


def test_a_trylock_splits_the_local_state():
    u = from_file("abba_trylock.lspec")
    ba = next(t for t in u.threads if t.code.id == "ba")
    releases_of_b = [n for n in ba.nodes if isinstance(n.op, ir.Release) and n.op.lock == "B"]
    assert len(releases_of_b) == 1
    after_try = [n for n in ba.nodes if isinstance(n.op, ir.Release) and n.op.lock == "A"]
    assert len(after_try) == 1 and [h.lock for h in after_try[0].pre.held] == ["B", "A"]


def test_the_scenario_lock_graph_and_the_theorem():
    assert not cannot_get_stuck(from_file("ring3.lspec"))
    ordered = from_file("ring3_ordered.lspec")
    assert cannot_get_stuck(ordered)
    assert set(scenario_lock_graph(ordered).edges) == {("L0", "L1"), ("L1", "L2"), ("L0", "L2")}
    assert not cannot_get_stuck(from_file("completion_ok.lspec"))     # a wait may block
    assert not static_hazards(ordered) and static_hazards(from_file("counter_race.lspec"))


def test_interrupts_add_edges_only_where_they_can_start():
    unsafe = from_file("irq_self.lspec")
    assert ("A", "A") in scenario_lock_graph(unsafe).edges
    safe = unfolded("""import kernel
lock A : spinlock
path user in process { spin_lock_irq(A); spin_unlock_irq(A); }
path handler in hardirq { spin_lock(A); spin_unlock(A); }
scenario s = user() @0 || handler() @0
""")
    assert not scenario_lock_graph(safe).edges and cannot_get_stuck(safe)


def test_sections_order_what_the_lock_excludes():
    u = from_file("counter_locked.lspec")
    enc = Encoding(u)
    store = Store(enc)
    sections = store.sections
    assert isinstance(sections, Sections)
    first, second = u.threads
    [inc1] = [n.index for n in first.nodes if getattr(n.op, "verb", "") == "inc"]
    [inc2] = [n.index for n in second.nodes if getattr(n.op, "verb", "") == "inc"]
    pair = sections.common(enc.ev(0, inc1), enc.ev(1, inc2))
    assert pair is not None and pair[0].hold.lock == "M"
    # One way through increments, the other does not: no single net amount.
    assert sections.completed_net(pair[0], ("users", 0)) is None


def test_a_section_that_gives_back_what_it_takes_adds_nothing():
    u = unfolded("""import kernel
lock M : mutex
object users : counter
path t in process { mutex_lock(M); inc(users); assert count(users) == 1; dec(users); mutex_unlock(M); }
scenario s = 2 * t()
""")
    enc = Encoding(u)
    sections = Store(enc).sections
    [inc1] = [n.index for n in u.threads[0].nodes if getattr(n.op, "verb", "") == "inc"]
    [inc2] = [n.index for n in u.threads[1].nodes if getattr(n.op, "verb", "") == "inc"]
    theirs, _ = sections.common(enc.ev(0, inc1), enc.ev(1, inc2))
    assert sections.completed_net(theirs, ("users", 0)) == 0


def test_read_sections_do_not_exclude_each_other():
    u = from_file("rwsem_read_cycle_no_writer.lspec")
    enc = Encoding(u)
    assert not enc.holds                           # no writer: no lock is contended


def test_one_solver_answers_every_question():
    u = from_file("revoke_unlocked.lspec")
    search = Search(u, Settings())
    first = search.violation(set())
    assert first.result == SAT
    assert search.violation({key for key in search.groups}).result == UNSAT
    assert search.stuck("deadlock").result == UNSAT
    assert search.stuck("hang").result == UNSAT


def test_a_spent_deadline_is_unknown_not_unsat():
    program = compile_text((Z3 / "revoke_locked.lspec").read_text()).program
    settings = Settings(deadline=time.monotonic() - 1)
    result = check_scenario(program, "s", scenario_threads(program, program.scenarios[0]),
                            settings, [])
    assert result.unknown == "budget spent (time)"
    assert "inconclusive" in result.describe(None)


def test_an_rlimit_is_per_question_and_gives_unknown():
    u = from_file("revoke_locked.lspec")
    answer = Search(u, Settings(rlimit=1)).violation(set())
    assert answer.result == UNKNOWN and answer.reason


def _steps(search: Search, answer) -> int:
    return sum(1 for e in search.enc.event_count()
               if z3.is_true(answer.model.eval(e, model_completion=True)))


def test_a_witness_is_shortened_by_questions_under_their_own_cap(monkeypatch):
    u = from_file("revoke_unlocked.lspec")
    full = Search(u, Settings())
    shortest = _steps(full, full.violation(set()))
    # A cap no question fits under keeps the first answer, unshortened; it is not
    # kept for the questions after it, which the run's own rlimit alone bounds.
    monkeypatch.setattr("checker.interleave.z3.search.SHRINK_RLIMIT", 1)
    capped = Search(u, Settings())
    first = capped.ask([capped.want_violation] + list(capped.groups.values()))
    unshortened = _steps(capped, first)
    assert unshortened > shortest
    assert _steps(capped, capped.violation(set())) == unshortened
    assert capped.stuck("deadlock").result == UNSAT
    assert capped.violation(set()).result == SAT


def test_engine_options_come_from_the_spec_too():
    from checker.interleave.engine import engine_settings
    program = compile_text("import kernel\noption bound = 7\noption timeout = 2\n").program
    settings = engine_settings(program, Options(timeout=60.0))
    assert settings.bound == 7 and settings.deadline - time.monotonic() <= 2
    assert engine_settings(program, Options(bound=3)).bound == 3
