"""The interleaving engine end to end: DESIGN.md's example and its variants, the
verdicts it gives graph cycles, witnesses, budgets and the wording of its verdicts."""
from __future__ import annotations

import dataclasses
import json

import pytest

from checker.findings import CONFIRMED, POTENTIAL, REFUTED, Finding
from checker.graph.engine import run_graph_engine
from checker.interleave.engine import run_interleaving_engine
from checker.interleave.z3 import witness as z3_witness
from checker.runner import Options, check_file
from tests.conftest import DATA, compile_text, run_cli

Z3 = DATA / "z3"


def check(path, **options):
    return check_file(str(path), path.read_bytes(), Options(**options))


def engine(result):
    return next(run for run in result.engines if run.name == "interleaving")


def found(result, code, engine_name="interleaving"):
    return [f for f in result.findings if f.code == code and f.engine == engine_name]


def run_engines(text: str, **options):
    program = compile_text(text).program
    findings, _ = run_graph_engine(program)
    return run_interleaving_engine(program, Options(**options), findings)


# ------------------------------------------------------------------ DESIGN.md's example

def test_design_example_is_proved_exhaustively():
    result = check(DATA / "design" / "vfio_dmabuf_revoke.lspec")
    run = engine(result)
    assert result.status == "pass"
    assert run.outcome == "complete" and run.exhaustive is True
    assert "race: proved (exhaustive, " in run.detail
    assert not [f for f in result.findings if f.engine == "interleaving"]


def test_revoked_check_before_the_lock_is_a_use_after_revoke_with_a_witness():
    result = check(Z3 / "vfio_check_before_lock.lspec")
    [finding] = found(result, "use-after-revoke")
    assert finding.status == CONFIRMED and finding.expected and finding.scenario == "race"
    assert (finding.span.line, finding.message) == (17, "map(buf) after buf was revoked")
    actions = [(step.thread, step.action) for step in finding.witness]
    revoke = actions.index(("revoke_ioctl(buf)#1", "revoke(buf)"))
    assert actions[-1][1] == "map(buf)" and actions[-1][0].startswith("fault(buf)#")
    check_index = next(i for i, (t, a) in enumerate(actions)
                       if t == actions[-1][0] and a == "if revoked(buf): false")
    assert check_index < revoke, "the fault checked before the revoke and mapped after it"
    assert set(finding.paths) == {"fault(buf)", "revoke_ioctl(buf)"}
    assert result.status == "pass"


def test_removing_zap_is_an_assertion_failure():
    result = check(Z3 / "vfio_no_zap.lspec")
    [finding] = found(result, "assertion")
    assert finding.message == "assert !mapped(b) fails" and finding.span.line == 27
    assert finding.witness[-1].action == "assert !mapped(b)"
    assert any(step.action == "map(buf)" for step in finding.witness)


# ------------------------------------------------------------------ graph cycles

def test_abba_cycle_is_confirmed_with_the_deadlock_witness():
    result = check(Z3 / "abba.lspec")
    [cycle] = found(result, "deadlock", "graph")
    assert cycle.status == CONFIRMED and cycle.scenario == "s" and cycle.expected
    assert cycle.witness and cycle.reason == ""
    acquired = [s.action for s in cycle.witness if s.action.startswith("acquire")]
    assert sorted(acquired) == ["acquire A", "acquire B"]
    [deadlock] = found(result, "deadlock")
    assert "every thread is blocked" in deadlock.message
    assert deadlock.locks == ("A", "B")


@pytest.mark.parametrize("name, reason", [
    ("abba_gate.lspec", "gate lock G is held on every edge"),
])
def test_cycles_the_search_refutes_say_why(name, reason):
    result = check(Z3 / name)
    [cycle] = found(result, "deadlock", "graph")
    assert cycle.status == REFUTED and cycle.reason == reason
    assert not found(result, "deadlock")
    assert result.status == "pass"


def test_a_cycle_one_scenario_cannot_reach_is_searched_in_its_world():
    # The spec's scenario pins the handler to the CPU whose irqs the process side
    # turns off, and there it cannot deadlock; a hardirq handler also runs on
    # other CPUs, where it takes B and waits for the A the process side holds.
    result = check(Z3 / "irq_off_same_cpu.lspec")
    [cycle] = found(result, "deadlock", "graph")
    assert cycle.status == CONFIRMED and cycle.scenario.startswith("world(")
    assert not [f for f in found(result, "deadlock") if f.engine == "interleaving"]


def test_irq_disabled_pair_deadlocks_across_cpus():
    result = check(Z3 / "irq_other_cpu.lspec")
    [cycle] = found(result, "deadlock", "graph")
    assert cycle.status == CONFIRMED
    assert {s.cpu for s in cycle.witness} == {0, 1}


TRYLOCK = """import kernel
lock A, B : mutex
path ab in process { mutex_lock(A); mutex_lock(B); mutex_unlock(B); mutex_unlock(A); }
path ba in process { mutex_lock(B); if mutex_trylock(A) { mutex_unlock(A); } mutex_unlock(B); }
scenario s = ab() || ba()
"""


def test_a_cycle_closed_by_a_trylock_is_refuted_because_the_trylock_fails():
    # lockdep adds no edge into a trylock, so this cycle is handed to the
    # engine directly, as a graph engine that did would report it.
    program = compile_text(TRYLOCK).program
    cycle = Finding("deadlock", "circular lock dependency A -> B -> A",
                    program.codes["ba"].span, "graph", status=POTENTIAL,
                    locks=("A", "B"), paths=("ab", "ba"))
    findings, run = run_interleaving_engine(program, Options(), [cycle])
    assert findings[0].status == REFUTED
    assert findings[0].reason == "the trylock fails instead"
    assert ("cycle A -> B -> A: refuted in world(2 * ab || 2 * ba): the trylock fails instead"
            in run.detail)


def test_a_cycle_without_a_covering_scenario_gets_one_of_its_own():
    text = TRYLOCK.replace("if mutex_trylock(A) { mutex_unlock(A); }",
                           "mutex_lock(A); mutex_unlock(A);").replace("scenario s = ab() || ba()\n", "")
    findings, run = run_engines(text)
    [cycle] = [f for f in findings if f.code == "deadlock"]
    assert cycle.status == CONFIRMED and cycle.scenario == "world(ab || ba)"
    assert {s.thread for s in cycle.witness} == {"ab#1", "ba#1"}
    assert run.outcome == "complete"


def test_one_path_taking_both_orders_needs_two_threads_of_it():
    text = """import kernel
lock A, B : mutex
path p in process {
    either { mutex_lock(A); mutex_lock(B); mutex_unlock(B); mutex_unlock(A); }
    or { mutex_lock(B); mutex_lock(A); mutex_unlock(A); mutex_unlock(B); }
}
"""
    findings, _ = run_engines(text)
    [cycle] = [f for f in findings if f.code == "deadlock"]
    assert cycle.status == CONFIRMED
    assert {s.thread for s in cycle.witness} == {"p#1", "p#2"}


def test_a_cycle_through_a_lockdep_annotation_stays_potential():
    text = """import kernel
lock M : mutex
path a in process { mutex_lock(M); kmalloc(GFP_KERNEL); mutex_unlock(M); }
path b in process { fs_reclaim_acquire(GFP_KERNEL); mutex_lock(M); mutex_unlock(M);
                    fs_reclaim_release(GFP_KERNEL); }
scenario s = a() || b()
"""
    findings, run = run_engines(text)
    [cycle] = [f for f in findings if f.code == "deadlock"]
    assert cycle.status == POTENTIAL and "fs_reclaim" in cycle.reason
    assert "lockdep annotation" in cycle.reason


# ------------------------------------------------------------------ witnesses

def test_every_witness_is_replayed_and_a_bad_one_is_an_internal_error(monkeypatch):
    seen = []
    real = z3_witness.replay

    def recording(program, threads, events):
        seen.append(events)
        return real(program, threads, events)

    monkeypatch.setattr(z3_witness, "replay", recording)
    result = check(Z3 / "revoke_unlocked.lspec")
    assert found(result, "use-after-revoke") and seen

    def corrupt(program, threads, events):
        return real(program, threads, list(reversed(events)))

    monkeypatch.setattr(z3_witness, "replay", corrupt)
    with pytest.raises(z3_witness.WitnessError):
        check(Z3 / "revoke_unlocked.lspec")
    code, _, err = run_cli("check", "--no-cache", str(Z3 / "revoke_unlocked.lspec"))
    assert code == 4 and "internal error" in err


def test_interrupt_witness_has_its_start_step():
    result = check(Z3 / "irq_self.lspec")
    [deadlock] = found(result, "deadlock")
    starts = [s for s in deadlock.witness if s.action == "hardirq starts"]
    assert len(starts) == 1 and starts[0].note == "interrupts the CPU"


def test_spawned_threads_are_labelled_in_spawn_order():
    result = check(Z3 / "flush_under_lock.lspec")
    [deadlock] = found(result, "deadlock")
    assert "work@workqueue#1" in {s.thread for s in deadlock.witness}
    assert "caller#1 waits: wait(done)" in deadlock.message


# ------------------------------------------------------------------ determinism

def test_same_input_same_output():
    path = str(Z3 / "rwsem_read_cycle.lspec")
    first = run_cli("check", "--no-cache", "--format", "json", path)
    second = run_cli("check", "--no-cache", "--format", "json", path)
    assert first == second and first[0] == 0
    document = json.loads(first[1])
    assert any(f["engine"] == "interleaving" for f in document["files"][0]["findings"])


def test_same_output_whatever_the_hash_seed(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, XDG_CACHE_HOME=str(tmp_path / hash_seed))
        done = subprocess.run([sys.executable, "-m", "checker.cli", "check", "--no-cache",
                               "--format", "json", str(Z3 / "vfio_check_before_lock.lspec"),
                               str(Z3 / "nested_irq.lspec")],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        outputs.append((done.returncode, done.stdout))
    assert outputs[0] == outputs[1] and outputs[0][0] == 0


def test_findings_do_not_depend_on_the_seed_for_a_decided_verdict():
    a, b = check(Z3 / "ring3.lspec", seed=0), check(Z3 / "ring3.lspec", seed=7)
    assert [(f.code, f.status) for f in a.findings] == [(f.code, f.status) for f in b.findings]


# ------------------------------------------------------------------ budgets and wording

def test_a_pass_is_a_proof_only_when_exhaustive():
    path = Z3 / "revoke_locked.lspec"
    proved = engine(check(path))
    assert proved.exhaustive is True and "s: proved (exhaustive, " in proved.detail
    bounded = engine(check(path, bound=4))
    assert bounded.exhaustive is False and bounded.bound == 4
    assert "s: no violation up to depth 4" in bounded.detail and "proved" not in bounded.detail


def test_a_bound_too_short_for_the_bug_does_not_find_it():
    path = Z3 / "revoke_unlocked.lspec"
    assert not found(check(path, bound=3), "use-after-revoke")
    assert found(check(path, bound=40), "use-after-revoke")


def test_spec_options_set_the_bound():
    text = (Z3 / "revoke_locked.lspec").read_text().replace("import kernel",
                                                            "import kernel\noption bound = 5")
    _, run = run_engines(text)
    assert "s: no violation up to depth 5" in run.detail and run.exhaustive is False


def test_a_tiny_rlimit_is_inconclusive_never_a_pass():
    result = check(Z3 / "revoke_locked.lspec", rlimit=1)
    run = engine(result)
    assert run.outcome == "inconclusive" and "s: inconclusive: budget spent (rlimit)" in run.detail
    assert result.status == "inconclusive"
    code, _, _ = run_cli("check", "--no-cache", "--rlimit", "1", str(Z3 / "revoke_locked.lspec"))
    assert code == 3


def test_no_search_when_a_theorem_decides():
    run = engine(check(Z3 / "ring3_ordered.lspec", rlimit=1))
    assert run.outcome == "complete"
    assert "s: proved (exhaustive, " in run.detail and "no search needed" in run.detail


def test_an_unknown_cycle_stays_potential_with_the_reason():
    result = check(Z3 / "ring3.lspec", rlimit=1)
    [cycle] = found(result, "deadlock", "graph")
    assert cycle.status == POTENTIAL and "could not decide" in cycle.reason
    assert engine(result).outcome == "inconclusive"


def test_the_reductions_do_not_change_verdicts():
    for name in ("rwsem_read_cycle.lspec", "revoke_unlocked.lspec", "nested_irq.lspec"):
        program = compile_text((Z3 / name).read_text()).program
        graph, _ = run_graph_engine(program)
        reduced, _ = run_interleaving_engine(program, Options(), graph)
        full, _ = run_interleaving_engine(program, Options(), graph, reduce=False)
        summary = [(f.code, f.status, f.engine, f.span) for f in reduced]
        assert summary == [(f.code, f.status, f.engine, f.span) for f in full]


def test_findings_keep_their_shape():
    result = check(Z3 / "counter_race.lspec")
    [finding] = found(result, "assertion")
    assert dataclasses.asdict(finding)["witness"]
    assert finding.paths == ("user",) and finding.scenario == "s"
    assert finding.locks == ()
