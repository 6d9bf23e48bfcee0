"""Golden files for spec errors: each tests/data/errors/NAME.lspec renders exactly as
tests/golden/errors/NAME.txt, and `lockspec check` exits 2 on it with that text.

To accept new output after a deliberate change, regenerate and review the diff:

    LOCKSPEC_REGEN_GOLDEN=1 python -m pytest tests/test_errors.py
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from model.pipeline import compile_spec
from model.span import render_diagnostic
from tests.conftest import DATA, ROOT, run_cli

CASES = DATA / "errors"
GOLDEN = Path(__file__).parent / "golden" / "errors"
UPDATE = bool(os.environ.get("LOCKSPEC_REGEN_GOLDEN"))
HEADER = re.compile(r"^(\S+):(\d+):(\d+): error\[(syntax-error|unknown-name|type-error)\]: .+$")


def case_names() -> list[str]:
    return sorted(p.stem for p in CASES.glob("*.lspec"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def render(name: str) -> str:
    path = CASES / f"{name}.lspec"
    compiled = compile_spec(relative(path), path.read_bytes())
    assert compiled.program is None, f"{name} is expected to be a bad spec"
    return "\n".join(render_diagnostic(d, compiled.sources) for d in compiled.diagnostics) + "\n"


@pytest.mark.parametrize("name", case_names())
def test_rendered_errors_match_the_golden_file(name):
    text = render(name)
    golden = GOLDEN / f"{name}.txt"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file; run with LOCKSPEC_REGEN_GOLDEN=1 ({golden})"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", case_names())
def test_every_error_has_a_header_a_source_line_and_a_caret(name):
    blocks = re.split(r"\n(?=\S)", render(name).rstrip("\n"))
    for block in blocks:
        lines = block.split("\n")
        match = HEADER.match(lines[0])
        assert match, lines[0]
        assert re.match(rf"^ *{match.group(2)} \| ", lines[1]), block
        assert re.fullmatch(r" {8,}\^~*", lines[2]), block
        assert all(line.startswith("      = help: ") for line in lines[3:]), block


@pytest.mark.parametrize("name", case_names())
def test_the_cli_reports_the_same_errors_and_exits_2(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, err = run_cli("check", relative(CASES / f"{name}.lspec"))
    assert code == 2
    for header in (line for line in render(name).splitlines() if HEADER.match(line)):
        assert header in out + err


def test_no_golden_file_is_orphaned():
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == case_names()
