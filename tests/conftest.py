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
