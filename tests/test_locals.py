"""Per-thread locals (`let`): each spec of tests/data/locals states its verdict,
and lockspec, the explorer and SPIN must all give exactly that; the example in
docs/language.md's Statements section gives the verdicts it states; the
scoping rules are checked."""
from __future__ import annotations

import json
import re

import pytest

from model import ir
from tests.conftest import DATA, compile_text, run_cli
from tests.agreement import LANGUAGE, assert_engines_agree, scenario_verdict
from tests.test_spin import load

TABLE = sorted((DATA / "locals").glob("*.lspec"))


def test_table_has_passing_and_failing_specs():
    verdicts = [scenario_verdict(load(p)) for p in TABLE]
    assert verdicts.count("pass") >= 2 and len(verdicts) - verdicts.count("pass") >= 2


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_lockspec_the_explorer_and_spin_agree(path):
    assert_engines_agree(path)


def test_the_statements_example_gives_its_stated_verdicts(tmp_path):
    text = LANGUAGE[LANGUAGE.index("`let NAME = EXPR;`"):]
    example = re.search(r"```lspec\n(.*?)```", text, re.DOTALL).group(1)
    path = tmp_path / "example.lspec"
    path.write_text(example, encoding="utf-8")
    exit_code, out, err = run_cli("check", "--format", "json", "--no-cache", str(path))
    assert exit_code == 0, out + err
    (result,) = json.loads(out)["files"]
    assert {f["code"] for f in result["findings"]} == {"use-after-revoke"}


def test_a_condition_is_read_once_and_the_rest_is_lowered_per_value():
    program = compile_text("import kernel\nobject f : flag\nobject c : counter\n"
                           "path p in process { let x = f; inc(c); if x { dec(c); } }\n").program
    ops = program.codes["p"].ops
    branches = [op for op in ops if isinstance(op, ir.Branch)]
    assert [b.cond for b in branches] == [ir.CPred("flag", ("f",))]    # one read, first
    assert sum(isinstance(op, ir.StateOp) and op.verb == "inc" for op in ops) == 2


def test_a_value_is_bound_as_it_is():
    program = compile_text("import kernel\nlock M : mutex\n"
                           "path p in process { let l = M; mutex_lock(l); mutex_unlock(l); }\n"
                           ).program
    assert [op.lock for op in program.codes["p"].ops if isinstance(op, ir.Acquire)] == ["M"]


@pytest.mark.parametrize("body, message", [
    ("let M = true;", "`M` is already a name here"),
    ("let x = f; let x = f;", "`x` is already a name here"),
    ("{ let y = f; } if y { }", "unknown name `y`"),
    ("if y { } let y = f;", "unknown name `y`"),
    ("let x = 1; if x { }", "`x` is a int, not a condition"),
])
def test_scoping_and_types_are_checked(body, message):
    compiled = compile_text(f"import kernel\nlock M : mutex\nobject f : flag\n"
                            f"path p in process {{ {body} }}\n")
    assert any(message in d.message for d in compiled.diagnostics), compiled.diagnostics


def test_let_is_a_keyword():
    compiled = compile_text("object let : flag\n")
    assert any("keyword" in d.message for d in compiled.diagnostics), compiled.diagnostics
