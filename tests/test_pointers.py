"""RCU-protected pointers (`object p : pointer`, rcu_assign_pointer and the
rcu_dereference family): each spec of tests/data/pointers states its verdict,
and lockspec, the explorer and SPIN must all give exactly that; the docs
examples give the verdicts they state; a read is lowered once per target, NULL
is the kernel's NULL dereference, and lockdep's RCU check is the graph
engine's."""
from __future__ import annotations

import json

import pytest

from model import ir
from tests.agreement import (assert_engines_agree, assert_example_checks, assert_table_has_both,
                              construct_table, section_examples)
from tests.conftest import compile_text, run_cli

TABLE = construct_table("pointers")
EXAMPLES = section_examples("## RCU-protected pointers")


def test_table_has_passing_and_failing_specs():
    assert_table_has_both(TABLE, passing=4, failing=4)


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_lockspec_the_explorer_and_spin_agree(path):
    assert_engines_agree(path)


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_docs_examples_give_their_stated_verdicts(tmp_path, index):
    assert_example_checks(EXAMPLES[index], tmp_path)


def _codes(text: str) -> dict:
    return compile_text("import kernel\n" + text).program.codes


def _findings(tmp_path, text: str) -> list[tuple[str, str]]:
    path = tmp_path / "spec.lspec"
    path.write_text("import kernel\n" + text, encoding="utf-8")
    _, out, err = run_cli("check", "--format", "json", "--no-cache", str(path))
    (result,) = json.loads(out)["files"]
    return sorted((f["code"], f["message"]) for f in result["findings"])


def test_a_read_tests_each_target_once_and_the_rest_is_lowered_per_target():
    codes = _codes("object a : memory\nobject b : memory\nobject gp : pointer = a\n"
                   "path r in process { let p = READ_ONCE(gp); if p { access(p); } }\n"
                   "path w in process { rcu_assign_pointer(gp, b); }\n")
    ops = codes["r"].ops
    tests = [op.cond for op in ops if isinstance(op, ir.Branch)]
    assert tests == [ir.CPred("points_to", ("gp", 1, "a")), ir.CPred("points_to", ("gp", 2, "b"))]
    accessed = sorted(op.obj for op in ops if isinstance(op, ir.StateOp) and op.verb == "access")
    assert accessed == ["a", "b"]           # and nothing for NULL: `if p` is false there
    (assign,) = [op for op in codes["w"].ops if isinstance(op, ir.StateOp)]
    assert (assign.verb, assign.obj, assign.value) == ("assign", "gp", 2)


def test_targets_and_the_start_are_numbered_where_the_pointer_starts_first():
    program = compile_text("import kernel\nobject z : memory\nobject a : memory\n"
                           "object gp : pointer = z\n"
                           "path w in process { rcu_assign_pointer(gp, a); }\n").program
    assert program.objects["gp"].targets == ("z", "a")
    assert program.objects["gp"].init == 1
    unset = compile_text("import kernel\nobject gp : pointer\n"
                         "path r in process { let p = READ_ONCE(gp); }\n").program
    assert (unset.objects["gp"].targets, unset.objects["gp"].init) == ((), 0)


def test_a_target_assigned_through_a_parameter_is_found(tmp_path):
    text = ("object a : memory\nobject gp : pointer\n"
            "fn publish(x: memory) { rcu_assign_pointer(gp, x); }\n"
            "path w in process { publish(a); }\n"
            "path r in process { rcu_read_lock(); let p = rcu_dereference(gp); access(p); "
            "rcu_read_unlock(); }\nscenario s = r() || w()\n")
    assert compile_text("import kernel\n" + text).program.objects["gp"].targets == ("a",)
    # the reader may read NULL (before the publish) or `a`: only NULL fails
    assert [code for code, _ in _findings(tmp_path, text)] == ["use-after-free"]
    assert "NULL pointer dereference" in _findings(tmp_path, text)[0][1]


def test_kfree_of_null_does_nothing(tmp_path):
    text = ("object a : memory\nobject gp : pointer\n"
            "path p in process { let old = rcu_access_pointer(gp); kfree(old); kfree_rcu(old); }\n"
            "scenario s = p()\n")
    assert _findings(tmp_path, text) == []


def test_a_dereference_outside_a_read_section_is_lockdeps_suspicious_rcu_usage(tmp_path):
    found = _findings(tmp_path, "object a : memory\nobject gp : pointer = a\n"
                      "path p in process { let x = rcu_dereference(gp); }\n")
    assert found == [("assertion", "suspicious rcu_dereference_check() usage on this path")]


@pytest.mark.parametrize("reader", [
    "rcu_read_lock(); let x = rcu_dereference(gp); rcu_read_unlock();",
    "rcu_read_lock_bh(); let x = rcu_dereference_bh(gp); rcu_read_unlock_bh();",
    "spin_lock_bh(L); let x = rcu_dereference_bh(gp); spin_unlock_bh(L);",
    "preempt_disable(); let x = rcu_dereference_sched(gp); preempt_enable();",
    "mutex_lock(M); let x = rcu_dereference_protected(gp, held(M)); mutex_unlock(M);",
    "mutex_lock(M); let x = rcu_dereference_check(gp, held(M)); mutex_unlock(M);",
    "srcu_read_lock(S); let x = srcu_dereference(gp, S); srcu_read_unlock(S);",
    "let x = rcu_access_pointer(gp);",
])
def test_reads_lockdep_accepts(tmp_path, reader):
    text = ("lock L : spinlock\nlock M : mutex\nlock S : srcu\nobject a : memory\n"
            "object gp : pointer = a\npath p in process { " + reader + " }\n")
    assert _findings(tmp_path, text) == []


@pytest.mark.parametrize("reader, message", [
    ("rcu_read_lock_bh(); let x = rcu_dereference(gp); rcu_read_unlock_bh();",
     "suspicious rcu_dereference_check() usage"),
    ("rcu_read_lock(); let x = rcu_dereference_bh(gp); rcu_read_unlock();",
     "suspicious rcu_dereference_check() usage"),
    ("let x = rcu_dereference_protected(gp, held(M));",
     "suspicious rcu_dereference_protected() usage"),
    ("srcu_read_lock(S); let x = rcu_dereference(gp); srcu_read_unlock(S);",
     "suspicious rcu_dereference_check() usage"),
])
def test_reads_lockdep_warns_of(tmp_path, reader, message):
    text = ("lock M : mutex\nlock S : srcu\nobject a : memory\n"
            "object gp : pointer = a\npath p in process { " + reader + " }\n")
    assert _findings(tmp_path, text) == [("assertion", message + " on this path")]


@pytest.mark.parametrize("text, message", [
    ("object gp : pointer = nowhere\n", "unknown object `nowhere`"),
    ("object f : flag\nobject gp : pointer = f\n", "but `f` is a flag"),
    ("object gp : pointer = 1\n", "a pointer starts as an object's name or `NULL`"),
    ("object a : memory\nobject gp : pointer = a\n"
     "path p in process { access(rcu_dereference(gp)); }\n", "a value here is"),
    ("object a : memory\nobject gp : pointer = a\n"
     "path p in process { rcu_dereference(gp); }\n", "gives what a pointer points to"),
    ("object a : memory\nobject gp : pointer = a\n"
     "path p in process { if rcu_access_pointer(gp) { } }\n", "gives what a pointer points to"),
    ("object a : memory\nfn f() -> object { access(a); }\n", "can end without returning"),
    ("fn f() -> object { return 1; }\n", "not a int"),
    ("fn f() -> thing { return true; }\n", "not `thing`"),
])
def test_pointer_errors(tmp_path, text, message):
    path = tmp_path / "bad.lspec"
    path.write_text("import kernel\n" + text, encoding="utf-8")
    exit_code, out, err = run_cli("check", "--no-cache", str(path))
    assert exit_code == 2
    assert message in out + err
