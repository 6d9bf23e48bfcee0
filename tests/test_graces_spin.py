"""Grace periods and flushes in the Promela export: on every spec of
tests/data/graces, SPIN's verdict is the one the spec expects and the one the
explorer finds (tests/test_spin.py skips, or fails with CI=true, without spin)."""
from pathlib import Path

import pytest

from checker.spin.promela import render_promela
from tests.conftest import DATA
from tests.test_spin import explore_verdict, load, spin_verdict

GRACES = sorted((DATA / "graces").glob("*.lspec"))


def expected(program) -> tuple[str, str]:
    """The spec's one scenario expectation: (scenario, verdict)."""
    pairs = [(e.scenario, e.verdict) for e in program.expectations if e.scenario is not None]
    assert len(pairs) == 1, pairs
    return pairs[0]


def test_the_grace_specs_are_found():
    assert len(GRACES) >= 11


@pytest.mark.parametrize("path", GRACES, ids=lambda p: p.stem)
def test_spin_agrees_with_the_spec_and_the_explorer(path: Path):
    program = load(path)
    scenario, verdict = expected(program)
    assert spin_verdict(program, scenario) == verdict
    assert explore_verdict(program, scenario) == verdict


def test_end_waits_for_an_empty_row():
    program = load(DATA / "graces" / "rcu_sync_in_reader.lspec")
    text, problems = render_promela(program, "s")
    assert problems == []
    assert "GBEGIN0(me);" in text
    assert "&& GIDLE0(me)) ->" in text            # `end` is guarded by the syncer's row


def test_specs_without_graces_declare_no_grace_state():
    program = load(DATA / "interleave" / "abba.lspec")
    text, _ = render_promela(program, None)
    assert "GROW" not in text and "gc0" not in text
