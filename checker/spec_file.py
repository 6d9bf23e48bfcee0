"""The one file a single-file command works on (graph, initcall, export, conform,
import-splat): read, and a spec compiled, its errors printed the way `lockspec
check` prints them; a file that cannot be read is worded as the OS words it."""
from __future__ import annotations

from typing import TextIO

from model.pipeline import Compiled, compile_spec
from model.span import render_diagnostic


def read_reporting(path: str, stderr: TextIO) -> bytes | None:
    """The file's bytes; None, with the reason printed, if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        print(f"lockspec: error: {path}: {err.strerror or err}", file=stderr)
        return None


def compile_reporting(path: str, stderr: TextIO) -> Compiled | None:
    """The compiled spec, its diagnostics already printed; None if it cannot be read."""
    data = read_reporting(path, stderr)
    if data is None:
        return None
    compiled = compile_spec(path, data)
    for diag in compiled.diagnostics:
        print(render_diagnostic(diag, compiled.sources), file=stderr)
    return compiled
