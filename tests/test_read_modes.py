"""Recursive-read and queued rwlocks side by side (`rwlock(read = ...)`): each spec of
tests/data/read_modes gets its `expect` lines from lockspec, and in every scenario
the z3 engine, the exhaustive explorer and SPIN give the same verdict."""
import json
import os

import pytest

from checker.interleave.explore import explore_all
from checker.interleave.semantics import scenario_threads
from checker.spin.promela import render_promela
from checker.spin.run import run_spin, spin_available
from model import ir
from tests.conftest import DATA, compile_text, run_cli

SPECS = sorted((DATA / "read_modes").glob("*.lspec"))


def program_of(path) -> ir.Program:
    compiled = compile_text(path.read_text(), str(path))
    assert compiled.diagnostics == (), compiled.diagnostics
    return compiled.program


def scenario_verdicts(path) -> dict[str, set[str]]:
    """What lockspec's interleaving engine finds in each scenario."""
    code, out, err = run_cli("check", "--no-cache", "--format", "json", str(path))
    assert code == 0, out + err            # every `expect` line is met, nothing else
    (result,) = json.loads(out)["files"]
    found: dict[str, set[str]] = {s.name: set() for s in program_of(path).scenarios}
    for finding in result["findings"]:
        if finding["engine"] == "interleaving":
            found[finding["scenario"]].add(finding["code"])
    return found


def test_the_table_has_both_modes_and_both_verdicts():
    texts = [p.read_text() for p in SPECS]
    assert any("read = recursive" in t for t in texts) and any("read = queued" in t for t in texts)
    verdicts = [v for p in SPECS for v in scenario_verdicts(p).values()]
    assert set() in verdicts and {"deadlock"} in verdicts


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_the_explorer_and_spin_agree_with_lockspec(path):
    program = program_of(path)
    ours = scenario_verdicts(path)
    for scenario in program.scenarios:
        explored = explore_all(program, scenario_threads(program, scenario))
        assert explored.complete
        assert explored.codes() == ours[scenario.name], scenario.name
        if not spin_available():
            if os.environ.get("CI") == "true":
                pytest.fail("spin and gcc are required when CI=true")
            continue
        text, problems = render_promela(program, scenario.name)
        assert problems == []
        spin = run_spin(text, timeout=120)
        expected = next(iter(ours[scenario.name]), "pass")
        assert spin.verdict == expected, (scenario.name, spin.detail)


def test_the_declared_mode_wins_over_the_selftest_option():
    """`option lockdep_selftest` reads an rwlock without `read =` as recursive; one
    declared queued stays queued, and interrupt context reads recursively on both."""
    head = "import kernel\noption lockdep_selftest\nlock L : rwlock{}\n"
    body = "path p in {} {{ read_lock(L); read_unlock(L); }}\n"

    def mode(option: str, context: str) -> ir.Mode:
        program = compile_text(head.format(option) + body.format(context)).program
        (acquire,) = [op for op in program.codes["p"].ops if isinstance(op, ir.Acquire)]
        return acquire.mode

    assert mode("", "process") is ir.Mode.RECURSIVE
    assert mode("(read = queued)", "process") is ir.Mode.READ
    assert mode("(read = queued)", "softirq") is ir.Mode.RECURSIVE
    assert mode("(read = recursive)", "process") is ir.Mode.RECURSIVE
