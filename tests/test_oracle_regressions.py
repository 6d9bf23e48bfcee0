"""Counterexamples the random oracle found, shrunk (tests/data/oracle): each spec's
header says its seed and what went wrong, and its `expect` lines give the true
verdict. The explorer must reach that verdict, lockspec must meet the `expect`
lines, and the oracle must find no disagreement on the spec."""
from collections import Counter
from pathlib import Path

import pytest

from checker.runner import Options, check_file
from model.pipeline import compile_spec
from tests.conftest import DATA
from tests.oracle import _Worlds, check_text

SPECS = sorted((DATA / "oracle").glob("*.lspec"))
GRACES = sorted((DATA / "graces").glob("*.lspec"))


def test_there_are_regression_specs():
    assert SPECS


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_explorer_reaches_the_true_verdict(path: Path):
    program = compile_spec(str(path), path.read_bytes()).program
    reached = set()
    worlds = _Worlds(program, 200_000, Counter())
    reached |= worlds.own()[0].codes()
    for scenario in program.scenarios:
        reached |= worlds.bumped(scenario.name)[0].codes()
    assert {e.verdict for e in program.expectations} <= reached


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_lockspec_gives_the_true_verdict(path: Path):
    result = check_file(str(path), path.read_bytes(), Options())
    assert result.unmet == [], [f"{f.code} {f.status}: {f.reason}" for f in result.findings]
    outcome = check_text(path.read_text(), str(path), budget=200_000)
    assert outcome.disagreements == []


@pytest.mark.parametrize("path", GRACES, ids=lambda p: p.stem)
def test_the_oracle_agrees_on_the_grace_specs(path: Path):
    """Work queued and flushed: a witness that queues a work item replays with the
    item spawned, not started as a thread of its own."""
    outcome = check_text(path.read_text(), str(path))
    assert outcome.disagreements == []
