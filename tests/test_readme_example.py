"""The README's example shows the output a newcomer gets, byte for byte."""
from __future__ import annotations

from tests.conftest import ROOT, run_cli

COMMAND = "$ lockspec check -v tests/data/design/irqsafe4.lspec\n"


def test_the_readme_example_output_is_what_lockspec_prints(monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(COMMAND) + len(COMMAND)
    shown = readme[start:readme.index("```", start)]
    monkeypatch.chdir(ROOT)
    code, out, err = run_cli("check", "-v", "tests/data/design/irqsafe4.lspec")
    assert (code, err) == (0, "")
    assert out == shown
