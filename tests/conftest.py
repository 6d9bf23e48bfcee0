"""Shared helpers: compile spec text, run the CLI in-process."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from checker.cli import main
from model.pipeline import compile_spec

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def compile_text(text: str, name: str = "spec.lspec"):
    return compile_spec(name, text.encode())


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(autouse=True, scope="session")
def private_result_cache(tmp_path_factory):
    """Keep the result cache of in-process runs out of the repository and the user's home."""
    patcher = pytest.MonkeyPatch()
    patcher.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patcher.undo()


def pytest_terminal_summary(terminalreporter):
    """The oracle's summary (tests/test_random_oracle.py records it as a property of its
    test), shown whatever pytest captures: a pytest-xdist worker's own output is not."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":      # every phase carries them
                continue
            for name, value in report.user_properties:
                if name == "oracle_summary":
                    terminalreporter.write_line("\n" + value)
