"""`lockspec import-splat FILE [-o SPEC]`: a kernel log's lockdep reports as a spec.

A report that cannot be read is a located error (the log's line, the line
itself, a caret) and exit 2; what the spec had to assume is printed on stderr
as well as written into the spec as a comment.
"""
from __future__ import annotations

import sys
from typing import TextIO

from checker.lockdep.splat_parse import SplatError, find_reports
from checker.lockdep.splat_spec import write_spec
from checker.outcome import EXIT_OK, EXIT_USAGE
from checker.spec_file import read_reporting
from model.span import Diagnostic, SourceFile, Span, render_diagnostic

SPLAT_ERROR = "splat"


def run_import_splat(path: str, output: str | None, stdout: TextIO, stderr: TextIO) -> int:
    if path == "-":
        text = sys.stdin.read()
    else:
        data = read_reporting(path, stderr)
        if data is None:
            return EXIT_USAGE
        text = data.decode("utf-8", errors="replace")
    try:
        reports = find_reports(text)
    except SplatError as err:
        print(_located(path, text, err), file=stderr)
        return EXIT_USAGE
    if not reports:
        print(f"lockspec: error: {path}: no lockdep report found (looked for the banners of "
              "circular dependency, recursive locking, inconsistent lock state, irq lock "
              "inversion and invalid wait context reports)", file=stderr)
        return EXIT_USAGE
    spec, notes, _ = write_spec(reports, path)
    for line, note in notes:
        print(f"{path}:{line}: note: {note}", file=stderr)
    if output is None:
        stdout.write(spec)
        return EXIT_OK
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(spec)
    except OSError as err:
        print(f"lockspec: error: cannot write {output}: {err.strerror or err}", file=stderr)
        return EXIT_USAGE
    print(f"lockspec: wrote {output}: {len(reports)} report{'s' if len(reports) != 1 else ''}",
          file=stderr)
    return EXIT_OK


def _located(path: str, text: str, err: SplatError) -> str:
    source = SourceFile(path, text)
    line_text = source.line_text(err.line)
    col = len(line_text) - len(line_text.lstrip()) + 1
    span = Span(path, err.line, col, err.line, max(col + 1, len(line_text) + 1))
    return render_diagnostic(Diagnostic(SPLAT_ERROR, err.message, span), {path: source})
