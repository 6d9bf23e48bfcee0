"""Cycle verdicts are sound: a `refuted` is a proof about a world that runs every
path that can take part, and a `confirmed` has a witness that replays.

Each spec of tests/data/cycles is checked end to end; the explorer
(checker/interleave/explore.py) and SPIN then search the world the verdict names and
must agree with it.
"""
from __future__ import annotations

import pytest

from checker.findings import CONFIRMED, REFUTED
from checker.graph.engine import run_graph_engine
from checker.interleave.engine import cycle_codes, open_cycles
from checker.interleave.explore import explore
from checker.interleave.semantics import scenario_threads
from checker.interleave.worlds import SpecFacts, build_worlds, relevant_codes
from checker.runner import Options, check_file
from checker.spin.promela import render_promela
from checker.spin.run import run_spin
from tests.conftest import DATA, compile_text

CYCLES = DATA / "cycles"

# spec -> (finding code, status, the locks the confirmed witness deadlocks on)
VERDICTS = {
    "abc_ca": ("deadlock", CONFIRMED, ("A", "C")),
    "read_cycle_writer": ("deadlock", CONFIRMED, ("X", "Y")),
    "read_cycle_no_writer": ("deadlock", REFUTED, None),
    "ww_ctx_owner_stuck": ("deadlock", CONFIRMED, ("M", "r1")),
    "gate_lock": ("deadlock", REFUTED, None),
    "gate_lock_bypassed": ("deadlock", CONFIRMED, ("A", "B")),
    "scenario_leaves_out_writer": ("deadlock", CONFIRMED, ("X", "Y")),
    "irq_inversion": ("irq-inversion", CONFIRMED, ("A", "B")),
}


def check(name: str):
    path = CYCLES / f"{name}.lspec"
    return check_file(str(path), path.read_bytes(), Options())


def the_finding(result, code: str):
    [finding] = [f for f in result.findings if f.code == code and f.engine == "graph"]
    return finding


def test_every_spec_of_the_table_is_in_it():
    assert {p.stem for p in CYCLES.glob("*.lspec")} - {"trylock_backoff"} == set(VERDICTS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_the_verdict(name: str):
    code, status, locks = VERDICTS[name]
    result = check(name)
    finding = the_finding(result, code)
    assert finding.status == status, finding.reason
    assert result.status == "pass" and not result.unmet     # the `expect` lines hold
    if status == CONFIRMED:
        assert set(finding.locks) == set(locks)
        assert finding.witness and finding.scenario
    else:
        assert finding.scenario.startswith("world(") and finding.reason


def test_the_sub_cycle_is_named_in_the_message():
    finding = the_finding(check("abc_ca"), "deadlock")
    assert finding.locks == ("A", "C")
    assert finding.message.endswith("the interleaving deadlocks on A, C")


def whole_world(program, code: str):
    """The whole world of the spec's one graph finding of `code`, built from the
    graph engine's findings as the interleaving engine builds it."""
    findings, _ = run_graph_engine(program)
    facts = SpecFacts(program)
    [cycle] = [c for c in open_cycles(program, findings, facts)
               if findings[c.index].code == code]
    needs = cycle_codes(program, findings[cycle.index], cycle, facts)
    whole = build_worlds(facts, cycle.classes, needs)[-1]
    assert whole.complete and whole.scenario is not None
    assert {t.code for t in whole.scenario.threads} == relevant_codes(facts, cycle.classes)
    return cycle, whole.scenario


def explorer_deadlocks(program, scenario, classes) -> bool:
    """The explorer reaches a deadlock whose wait-for cycle has a lock of `classes`."""
    result = explore(program, scenario_threads(program, scenario))
    assert result.complete
    violation = result.violation
    return (violation is not None and violation.code == "deadlock"
            and any(program.locks[lock].lock_class in classes for lock in violation.cycle))


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_the_explorer_agrees_in_the_whole_world(name: str):
    code, status, _ = VERDICTS[name]
    program = compile_text((CYCLES / f"{name}.lspec").read_text(), name).program
    cycle, scenario = whole_world(program, code)
    assert explorer_deadlocks(program, scenario, cycle.classes) == (status == CONFIRMED)


@pytest.mark.parametrize("name", ["abc_ca", "read_cycle_writer", "read_cycle_no_writer",
                                  "ww_ctx_owner_stuck", "gate_lock"])
def test_spin_agrees_in_the_whole_world(name: str):
    code, status, _ = VERDICTS[name]
    text = (CYCLES / f"{name}.lspec").read_text()
    _, scenario = whole_world(compile_text(text, name).program, code)
    threads = " || ".join(f"{t.code}() @{t.cpu}" for t in scenario.threads)
    program = compile_text(f"{text}\nscenario whole = {threads}\n", name).program
    promela, problems = render_promela(program, "whole")
    assert problems == []
    assert run_spin(promela, timeout=300).verdict == ("deadlock" if status == CONFIRMED
                                                      else "pass")
