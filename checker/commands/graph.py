"""`lockspec graph FILE [--dot|--svg]`: a spec's lock graph with its cycles marked.

The cycles come from the graph engine alone (it is fast and needs no
scenario), through the runner like any check, so the marked edges are the
ones `lockspec check` reports.
"""
from __future__ import annotations

from typing import TextIO

from checker.outcome import EXIT_OK, EXIT_USAGE
from checker.report.graph_view import graph_view, render_dot, render_edge_list
from checker.report.svg_layout import render_graph_svg
from checker.runner import Options, check_compiled
from checker.spec_file import compile_reporting


def run_graph_command(path: str, shape: str, stdout: TextIO, stderr: TextIO) -> int:
    compiled = compile_reporting(path, stderr)
    if compiled is None or compiled.program is None or compiled.diagnostics:
        return EXIT_USAGE
    result = check_compiled(path, compiled, Options(engines=("graph",)))
    view = graph_view(compiled.program, result.findings)
    title = compiled.program.title or path
    if shape == "dot":
        stdout.write(render_dot(view, title))
    elif shape == "svg":
        svg = str(render_graph_svg(view))
        stdout.write(f'<?xml version="1.0" encoding="UTF-8"?>\n{svg}\n')
    else:
        stdout.write(render_edge_list(view))
    return EXIT_OK
