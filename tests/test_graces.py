"""Grace periods and flushes: each spec of tests/data/graces states its verdict
with `expect` lines, and lockspec and the explorer must both give exactly that
(SPIN too: tests/test_graces_spin.py); the examples of docs/language.md's section
on them give the verdicts they state; the rules are checked one by one on the
reference semantics."""
from __future__ import annotations

import json
import re

import pytest

from checker.interleave.engine import annotation_reason
from checker.interleave.semantics import valid_choices
from checker.runner import Options, check_compiled
from model import ir
from tests.conftest import DATA, ROOT, compile_text, run_cli
from tests.test_semantics import advance_to, program_of, run, start
from tests import agreement
from tests.agreement import assert_engines_agree, scenario_verdict
from tests.test_spin import explore_verdict, load, spin_verdict

TABLE = sorted((DATA / "graces").glob("*.lspec"))


def test_table_has_passing_and_failing_specs_of_each_wait():
    verdicts = {p.stem: scenario_verdict(load(p)) for p in TABLE}
    for prefix in ("rcu", "srcu", "flush", "cancel", "work_item"):
        mine = [v for stem, v in verdicts.items() if stem.startswith(prefix)]
        assert "pass" in mine and any(v != "pass" for v in mine), prefix


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_lockspec_and_the_explorer_agree(path):
    assert_engines_agree(path, spin=False)      # SPIN: tests/test_graces_spin.py


NET = sorted(p for p in (ROOT / "specs" / "net").glob("*.lspec") if "common" not in p.stem)


@pytest.mark.parametrize("path", NET, ids=lambda p: p.stem)
def test_the_af_xdp_specs_get_their_verdict_from_the_explorer_and_spin(path):
    program = load(path)
    scenario = program.scenarios[0].name
    verdict = scenario_verdict(program)
    assert explore_verdict(program, scenario) == verdict
    assert spin_verdict(program, scenario) == verdict


def section_examples() -> list[str]:
    return agreement.section_examples("## Grace periods and flushes")


def test_the_section_has_examples():
    assert len(section_examples()) >= 5


@pytest.mark.parametrize("index", range(len(section_examples())))
def test_docs_example_gives_its_stated_verdicts(index, tmp_path):
    text = section_examples()[index]
    path = tmp_path / f"example{index}.lspec"
    path.write_text(text, encoding="utf-8")
    exit_code, out, err = run_cli("check", "--format", "json", "--no-cache", str(path))
    assert exit_code == 0, out + err
    stated = set(re.findall(r"^expect (?:\w+: )?([a-z-]+)$", text, re.M)) - {"pass"}
    (result,) = json.loads(out)["files"]
    assert {f["code"] for f in result["findings"]} == stated


# --------------------------------------------------------------- the rules, one by one

def at_grace(phase):
    return lambda op: isinstance(op, ir.Grace) and op.phase == phase


READER_AND_SYNCER = """
lock ss : srcu
path reader in process { srcu_read_lock(ss); srcu_read_unlock(ss); }
path syncer in process { synchronize_srcu(ss); }
scenario s = reader() || syncer()
"""


def test_a_grace_period_waits_for_a_reader_inside_when_it_began():
    model, state = start(program_of(READER_AND_SYNCER))
    state, _ = run(model, state, ("reader#1", 0))                      # in its read section
    state = advance_to(model, state, "syncer#1", at_grace("begin"))
    state, _ = run(model, state, ("syncer#1", 0))
    assert valid_choices(model, state, 1) == ()
    state, _ = run(model, state, ("reader#1", 0))                      # leaves it
    assert valid_choices(model, state, 1) == (0,)


def test_a_reader_that_enters_after_the_grace_period_began_is_not_waited_for():
    model, state = start(program_of(READER_AND_SYNCER))
    state = advance_to(model, state, "syncer#1", at_grace("begin"))
    state, _ = run(model, state, ("syncer#1", 0), ("reader#1", 0))
    assert valid_choices(model, state, 1) == (0,)


def test_leaving_and_reentering_counts_as_having_left():
    model, state = start(program_of("""
lock ss : srcu
path reader in process {
    srcu_read_lock(ss); srcu_read_unlock(ss); srcu_read_lock(ss); srcu_read_unlock(ss);
}
path syncer in process { synchronize_srcu(ss); }
scenario s = reader() || syncer()
"""))
    state, _ = run(model, state, ("reader#1", 0))
    state = advance_to(model, state, "syncer#1", at_grace("begin"))
    state, _ = run(model, state, ("syncer#1", 0), ("reader#1", 0), ("reader#1", 0))
    assert valid_choices(model, state, 1) == (0,)


def test_a_flush_waits_for_queued_work_and_not_for_work_queued_later():
    model, state = start(program_of("""
fn w() { }
path p in process { schedule_work(w); flush_work(w); schedule_work(w); }
scenario s = p()
"""))
    state = advance_to(model, state, "p#1", at_grace("begin"))
    state, _ = run(model, state, ("p#1", 0))
    assert [t.label for t in state.threads] == ["p#1", "w@workqueue#1"]
    assert valid_choices(model, state, 0) == ()
    while state.pcs[1] >= 0:
        state, _ = run(model, state, ("w@workqueue#1", 0))
    assert valid_choices(model, state, 0) == (0,)


def test_a_softirq_handler_and_a_spinlock_holder_are_rcu_readers():
    program = program_of("""
lock L : spinlock
path poll in softirq { }
path holder in process { spin_lock(L); spin_unlock(L); }
path syncer in process { synchronize_rcu(); }
scenario locked = holder() || syncer()
scenario napi = poll() || syncer()
""")
    model, state = start(program, "locked")
    state, _ = run(model, state, ("holder#1", 0))                      # holds L
    state = advance_to(model, state, "syncer#1", at_grace("begin"))
    state, _ = run(model, state, ("syncer#1", 0))
    assert valid_choices(model, state, 1) == ()
    model, state = start(program, "napi")
    state, _ = run(model, state, ("poll#1", 0))                        # the handler starts
    state = advance_to(model, state, "syncer#1", at_grace("begin"))
    state, _ = run(model, state, ("syncer#1", 0))
    assert valid_choices(model, state, 1) == ()
    state, _ = run(model, state, ("poll#1", 0))                        # and returns
    assert valid_choices(model, state, 1) == (0,)


def test_work_nothing_flushes_keeps_its_code_and_no_map_is_declared():
    compiled = compile_text("import kernel\nfn w() { }\npath p in process { schedule_work(w); }\n")
    program = compiled.program
    assert not any(name.startswith("(work_completion)") for name in program.locks)
    assert not any(isinstance(op, ir.Acquire) for op in program.codes["w@workqueue"].ops)


def test_the_worker_holds_the_maps_of_what_flushes_it():
    compiled = compile_text("import kernel\nfn w() { }\n"
                            "path p in process { schedule_work(w); flush_work(w); "
                            "flush_workqueue(); }\n")
    program = compiled.program
    ops = program.codes["w@workqueue"].ops
    taken = [op.lock for op in ops if isinstance(op, ir.Acquire)]
    released = [op.lock for op in ops if isinstance(op, ir.Release)]
    assert taken == ["(wq_completion)events", "(work_completion)(w)"]
    assert released == ["(work_completion)(w)", "(wq_completion)events"]
    assert program.locks["(work_completion)(w)"].kind == "lockdep_map"


def test_a_flush_under_a_lock_the_work_takes_is_a_confirmed_cycle():
    exit_code, out, _ = run_cli("check", "--format", "json", "--no-cache",
                                str(DATA / "graces" / "flush_under_lock.lspec"))
    assert exit_code == 0
    (result,) = json.loads(out)["files"]
    cycle = next(f for f in result["findings"] if f["engine"] == "graph")
    assert cycle["status"] == "confirmed"
    assert "(work_completion)(work)" in cycle["message"]


def test_synchronize_rcu_in_a_read_section_gets_lockdeps_message():
    result = check_compiled("spec.lspec", compile_text(
        "import kernel\npath p in process { rcu_read_lock(); synchronize_rcu(); "
        "rcu_read_unlock(); }\n"), Options(engines=("graph",)))
    (finding,) = result.findings
    assert finding.code == "invalid-wait-context"
    assert "Illegal synchronize_rcu() in RCU read-side critical section" in finding.message
    sleeping = check_compiled("spec.lspec", compile_text(
        "import kernel\nlock L : spinlock\npath p in process { spin_lock(L); "
        "synchronize_rcu(); spin_unlock(L); }\n"), Options(engines=("graph",)))
    assert "sleeping function called from invalid context" in sleeping.findings[0].message


def test_synchronize_takes_only_a_grace_domain():
    bad = compile_text("import kernel\nlock M : mutex\npath p in process { grace_period(M); }\n")
    assert any("grace_period" in d.message or "rcu" in d.message for d in bad.diagnostics), \
        bad.diagnostics


def test_a_flush_cycle_is_confirmed_in_a_world_that_queues_the_work_first():
    text = ("import kernel\nlock M : mutex\nfn w() { mutex_lock(M); mutex_unlock(M); }\n"
            "path q in process { schedule_work(w); }\n"
            "path p in process { mutex_lock(M); flush_work(w); mutex_unlock(M); }\n"
            "scenario s = p()\n")
    result = check_compiled("spec.lspec", compile_text(text),
                            Options(engines=("graph", "interleaving")))
    (cycle,) = [f for f in result.findings if f.code == "deadlock" and f.engine == "graph"]
    assert cycle.status == "confirmed"
    assert cycle.scenario == "world(p || q)"


def test_a_flush_cycle_left_potential_says_the_map_is_a_flush():
    reason = annotation_reason("(work_completion)(w)")
    assert "the lockdep map of a flush" in reason
    assert "reclaim" in annotation_reason("fs_reclaim")


def test_a_work_item_is_its_own_work_and_names_its_map():
    program = compile_text("import kernel\nfn f() { }\nobject a : work(func = f)\n"
                           "object b : work(func = f)\n"
                           "path p in process { schedule_work(a); schedule_work(b); "
                           "flush_work(a); }\n").program
    assert {"a@workqueue", "b@workqueue"} <= set(program.codes)
    assert "a" not in program.objects and "b" not in program.objects
    taken = [op.lock for op in program.codes["a@workqueue"].ops if isinstance(op, ir.Acquire)]
    assert taken == ["(work_completion)(a)"]
    assert not any(isinstance(op, ir.Acquire) for op in program.codes["b@workqueue"].ops)


@pytest.mark.parametrize("decl, message", [
    ("object w : work\n", "work item `w` needs its function"),
    ("object w : work(func = nowhere)\n", "unknown function `nowhere`"),
    ("fn g(x) { }\nobject w : work(func = g)\n", "so it takes no parameters"),
    ("fn f() { }\nobject w : work(func = f) = 1\n", "a work item takes no initial value"),
    ("fn f() { }\nobject w : revocable(func = f)\n", "func"),
])
def test_work_item_declaration_errors(decl, message):
    compiled = compile_text("import kernel\n" + decl)
    assert any(message in d.message or message in " ".join(d.hints)
               for d in compiled.diagnostics), compiled.diagnostics
