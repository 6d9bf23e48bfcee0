"""The one spec a single-file command works on (graph, initcall, export, conform):
read and compiled, its errors printed the way `lockspec check` prints them."""
from __future__ import annotations

from typing import TextIO

from model.pipeline import Compiled, compile_spec
from model.span import render_diagnostic


def compile_reporting(path: str, stderr: TextIO) -> Compiled | None:
    """The compiled spec, its diagnostics already printed; None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        print(f"lockspec: error: {path}: {err.strerror or err}", file=stderr)
        return None
    compiled = compile_spec(path, data)
    for diag in compiled.diagnostics:
        print(render_diagnostic(diag, compiled.sources), file=stderr)
    return compiled
