"""The explorer's exhaustive mode on hand-checked designs (tests/data/explorer_trust):
each spec's `expect` line is its verdict worked out by hand, and a `// stuck on:`
comment names the locks the blocked threads of its deadlock wait for. The explorer
must give exactly that, with and without its reductions, and SPIN must agree."""
import os
import re
from pathlib import Path

import pytest

from checker.interleave.explore import explore_all
from checker.interleave.semantics import scenario_threads
from checker.spin.promela import render_promela
from checker.spin.run import run_spin, spin_available
from tests.conftest import DATA, compile_text

TABLE = sorted((DATA / "explorer_trust").glob("*.lspec"))


def load(path: Path):
    compiled = compile_text(path.read_text(), str(path))
    assert compiled.diagnostics == (), compiled.diagnostics
    return compiled.program


def hand_verdict(program) -> set[str]:
    verdicts = {e.verdict for e in program.expectations}
    return set() if verdicts == {"pass"} else verdicts


def stuck_on(path: Path) -> set[str] | None:
    match = re.search(r"^// stuck on: (.*)$", path.read_text(), re.M)
    return set(match.group(1).split()) if match else None


def test_table_has_the_hand_checked_shapes():
    names = {p.stem for p in TABLE}
    assert {"abba", "abc_ca", "abba_gated", "trylock_backoff", "rwsem_read_cycle_writer",
            "irq_preempts_holder"} <= names
    assert sum(1 for p in TABLE if hand_verdict(load(p)) == set()) >= 2


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", ["reduced", "por-only", "full"])
def test_explorer_gives_the_hand_checked_verdict(path, mode):
    program = load(path)
    threads = scenario_threads(program, program.scenarios[0])
    result = explore_all(program, threads, por=mode != "full", symmetry=mode == "reduced")
    assert result.complete
    assert result.codes() == hand_verdict(program)
    locks = stuck_on(path)
    if locks is not None:
        waited = [{lock for lock, _ in r.waits} for r in result.stuck]
        assert locks in waited, waited


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_spin_agrees_with_the_explorer(path):
    if not spin_available():
        if os.environ.get("CI") == "true":
            pytest.fail("spin and gcc are required when CI=true")
        pytest.skip("spin or gcc is not installed")
    program = load(path)
    text, problems = render_promela(program, program.scenarios[0].name)
    assert problems == []
    spin = run_spin(text, timeout=120)
    assert spin.verdict is not None, spin.detail
    expected = hand_verdict(program)
    assert spin.verdict in expected if expected else spin.verdict == "pass"
