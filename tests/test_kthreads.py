"""kthreads (kthread_run, kthread_stop, kthread_park and their flags): each spec of
tests/data/kthreads states its verdict, and lockspec, the explorer and SPIN
must all give exactly that; the docs example gives the verdicts it states;
the lowering sets the kthread's flag, wakes its queues and waits for it."""
from __future__ import annotations

import pytest

from model import ir
from tests.agreement import (assert_engines_agree, assert_example_checks, assert_table_has_both,
                              construct_table, section_examples)
from tests.conftest import compile_text, run_cli

TABLE = construct_table("kthreads")
EXAMPLES = section_examples("## Kthreads")


def test_table_has_passing_and_failing_specs():
    assert_table_has_both(TABLE, passing=2, failing=3)


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_lockspec_the_explorer_and_spin_agree(path):
    assert_engines_agree(path)


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_the_docs_examples_give_their_stated_verdicts(tmp_path, index):
    assert_example_checks(EXAMPLES[index], tmp_path)


def test_a_stop_sets_the_flag_wakes_the_queues_and_waits_for_the_kthread():
    program = compile_text(
        "import kernel\nobject a, b : waitqueue\nobject f : flag\n"
        "fn k() { if kthread_should_stop() { return; } wait_event(b, f); wait_event(a, f); }\n"
        "path p in process { kthread_run(k); kthread_stop(k); }\n").program
    assert program.objects["k__should_stop"].kind == "flag"
    ops = [op for op in program.codes["p"].ops
           if isinstance(op, (ir.StateOp, ir.Grace))]
    assert [(type(op).__name__, op.verb, op.obj) if isinstance(op, ir.StateOp)
            else (type(op).__name__, op.what, op.target) for op in ops] == [
        ("StateOp", "set", "k__should_stop"), ("StateOp", "wake_queue", "a"),
        ("StateOp", "wake_queue", "b"), ("Grace", "work", "k@process"),
        ("Grace", "work", "k@process")]
    tests = [op.cond for op in program.codes["k@process"].ops if isinstance(op, ir.Branch)]
    assert tests == [ir.CPred("flag", ("k__should_stop",))]


def test_should_stop_outside_a_kthread_is_an_error(tmp_path):
    path = tmp_path / "bad.lspec"
    path.write_text("import kernel\npath p in process { if kthread_should_stop() { } }\n",
                    encoding="utf-8")
    exit_code, out, err = run_cli("check", "--no-cache", str(path))
    assert exit_code == 2
    assert "call it in a function started with kthread_run()" in out + err


def test_a_park_sets_the_flag_wakes_and_waits_and_the_kthread_completes_when_it_returns():
    program = compile_text(
        "import kernel\nfn k() { if kthread_should_park() { kthread_parkme(); } }\n"
        "path p in process { kthread_run(k); kthread_park(k); kthread_unpark(k); }\n").program
    assert {n: o.kind for n, o in program.objects.items()} == {
        "k__parked": "completion", "k__should_park": "flag", "k__unparked": "waitqueue"}
    steps = [(op.verb, op.obj) for op in program.codes["p"].ops if isinstance(op, ir.StateOp)]
    assert steps == [("set", "k__should_park"), ("wake_queue", "k__unparked"),
                     ("wait", "k__parked"), ("clear", "k__should_park"),
                     ("wake_queue", "k__unparked")]
    kthread = program.codes["k@process"].ops
    assert ("signal_all", "k__parked") in [(op.verb, op.obj) for op in kthread
                                           if isinstance(op, ir.StateOp)]
