"""Wait queues: each spec of tests/data/waitqueues states its verdict, and
lockspec, the explorer and SPIN must all give exactly that; the example of
docs/language.md's section gives the verdicts it states; the rules are checked
on the reference semantics."""
from __future__ import annotations

import json

import pytest

from checker.interleave.semantics import stuck_violation, valid_choices
from model import ir
from tests.conftest import DATA, compile_text, run_cli
from tests.test_semantics import program_of, run, start
from tests.agreement import assert_engines_agree, scenario_verdict, section_examples
from tests.test_spin import load

TABLE = sorted((DATA / "waitqueues").glob("*.lspec"))


def test_table_has_passing_and_failing_specs():
    verdicts = [scenario_verdict(load(p)) for p in TABLE]
    assert verdicts.count("pass") >= 2 and {"hang", "deadlock"} <= set(verdicts)


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_lockspec_the_explorer_and_spin_agree(path):
    assert_engines_agree(path)


def test_the_section_example_gives_its_stated_verdicts(tmp_path):
    (example,) = section_examples("## Wait queues")
    path = tmp_path / "example.lspec"
    path.write_text(example, encoding="utf-8")
    exit_code, out, err = run_cli("check", "--format", "json", "--no-cache", str(path))
    assert exit_code == 0, out + err
    (result,) = json.loads(out)["files"]
    assert {(f["scenario"], f["code"]) for f in result["findings"]} == {
        ("early", "hang"), ("lost", "hang")}


SLEEPER = """
object wq : waitqueue
object done : flag
path waiter in process { wait_event(wq, done); }
path waker in process { wake_up(wq); set(done); wake_up(wq); }
scenario s = waiter() || waker()
"""


def test_a_false_check_sleeps_until_a_wake_up_then_checks_again():
    model, state = start(program_of(SLEEPER))
    state, _ = run(model, state, ("waiter#1", 0))                   # might_sleep
    assert valid_choices(model, state, 0) == (1,)
    state, _ = run(model, state, ("waiter#1", 1))                   # asleep
    assert valid_choices(model, state, 0) == ()
    state, _ = run(model, state, ("waker#1", 0))                    # wake_up
    assert valid_choices(model, state, 0) == (1,)                   # checks again, still false
    state, _ = run(model, state, ("waiter#1", 1), ("waker#1", 0))   # asleep; set(done)
    assert valid_choices(model, state, 0) == ()
    state, _ = run(model, state, ("waker#1", 0))                    # the second wake_up
    assert valid_choices(model, state, 0) == (0,)


def test_a_sleeper_nothing_wakes_is_a_hang():
    model, state = start(program_of(SLEEPER.replace("wake_up(wq); set(done); wake_up(wq);",
                                                    "set(done);")))
    state, _ = run(model, state, ("waiter#1", 0), ("waiter#1", 1), ("waker#1", 0),
                   ("waker#1", 0))
    assert stuck_violation(model, state).code == "hang"


@pytest.mark.parametrize("cond", ["held(M) || done", "nondet()", "mutex_trylock(M)",
                                  "done && !irqs_disabled()"])
def test_a_wait_condition_reads_shared_state_in_one_step(cond):
    compiled = compile_text("import kernel\nlock M : mutex\nobject wq : waitqueue\n"
                            f"object done, other : flag\n"
                            f"path p in process {{ wait_event(wq, {cond}); }}\n")
    assert any("a wait condition is re-read at every check" in d.message
               for d in compiled.diagnostics), compiled.diagnostics


def test_a_combined_wait_condition_is_one_read():
    compiled = compile_text("import kernel\nobject wq : waitqueue\nobject done, other : flag\n"
                            "path p in process { wait_event(wq, done || !other && done); }\n")
    assert compiled.diagnostics == ()
    (sleep,) = [op for op in compiled.program.codes["p"].ops if isinstance(op, ir.SleepUntil)]
    done, other = ir.CPred("flag", ("done",)), ir.CPred("flag", ("other",))
    both = ir.CNot(ir.COr((ir.CNot(ir.CNot(other)), ir.CNot(done))))
    assert sleep.cond == ir.COr((done, both))
