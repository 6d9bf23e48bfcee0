"""Shared checks of the construct tables (tests/data/<construct>/*.lspec): every
spec states its scenario's verdict with an `expect` line, and lockspec's z3
engine, the explorer and SPIN must each give exactly that; docs examples give
the verdicts their `expect` lines state."""
from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT, run_cli
from tests.test_spin import engine_verdicts, explore_verdict, load, spin_verdict

LANGUAGE = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")


def scenario_verdict(program) -> str:
    """The one verdict the spec's scenario `expect` lines state."""
    (verdict,) = {e.verdict for e in program.expectations if e.scenario is not None}
    return verdict


def assert_engines_agree(path: Path, spin: bool = True) -> None:
    """The explorer, SPIN and the z3 engine give the spec's first scenario the
    stated verdict, and `lockspec check` meets every `expect` line."""
    program = load(path)
    scenario = program.scenarios[0].name
    verdict = scenario_verdict(program)
    assert explore_verdict(program, scenario) == verdict
    if spin:
        assert spin_verdict(program, scenario) == verdict
    assert engine_verdicts(path, scenario) == (set() if verdict == "pass" else {verdict})
    exit_code, out, err = run_cli("check", "--no-cache", str(path))
    assert exit_code == 0, out + err


def section_examples(title: str) -> list[str]:
    """The lspec examples of one `## ` section of docs/language.md."""
    text = LANGUAGE[LANGUAGE.index(title + "\n"):]
    text = text[:text.index("\n## ", 1)]
    return re.findall(r"```lspec\n(.*?)```", text, re.DOTALL)


def construct_table(name: str) -> list[Path]:
    """The specs of one construct's table, tests/data/<name>/*.lspec."""
    return sorted((ROOT / "tests" / "data" / name).glob("*.lspec"))


def assert_table_has_both(table: list[Path], passing: int, failing: int) -> None:
    """At least `passing` specs that pass and `failing` that fail."""
    verdicts = [scenario_verdict(load(p)) for p in table]
    assert verdicts.count("pass") >= passing
    assert len(verdicts) - verdicts.count("pass") >= failing


def assert_example_checks(text: str, directory: Path) -> None:
    """A docs example meets every `expect` line it states."""
    path = directory / "example.lspec"
    path.write_text(text, encoding="utf-8")
    exit_code, out, err = run_cli("check", "--no-cache", str(path))
    assert exit_code == 0, out + err
