"""`lockspec conform SPEC --lockdep FILE [--chains FILE]`: read, compare, report.

The comparison is checker.lockdep.conform's; this module reads the files, turns a
malformed dump into a located error (exit 2), and hands the findings to the
same writers as `lockspec check`, so every output format reads them alike.
Timings by stage go to stderr with `--timings` (the benchmark reads them).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO

from checker.findings import EngineRun, FileResult
from checker.lockdep.conform import conform
from checker.lockdep.dump import DumpError, parse_chains, parse_lockdep
from checker.outcome import EXIT_USAGE, Run, decide
from checker.spec_file import compile_reporting, read_reporting
from model.span import Diagnostic, SourceFile, Span, render_diagnostic

DUMP_ERROR = "lockdep-dump"


@dataclass(frozen=True)
class ConformRequest:
    spec: str
    lockdep: str
    chains: str | None
    fail_on: tuple[str, ...]
    version: str
    timings: bool = False


def _read(path: str, stderr: TextIO) -> str | None:
    data = read_reporting(path, stderr)
    return None if data is None else data.decode("utf-8", errors="replace")


def dump_error(err: DumpError) -> str:
    diag = Diagnostic(DUMP_ERROR, err.message, Span(err.path, err.line, err.col, err.line,
                                                    max(err.col + 1, len(err.text) + 1)))
    # Only the offending line is quoted: the rest of a large dump is not kept around.
    return render_diagnostic(diag, {err.path: SourceFile(err.path,
                                                         "\n" * (err.line - 1) + err.text)})


def run_conform(request: ConformRequest, stderr: TextIO) -> Run | int:
    """The decided run, or an exit code when a file could not be read or parsed."""
    stages: list[tuple[str, float]] = []
    start = time.perf_counter()
    compiled = _compile(request.spec, stderr)
    if compiled is None:
        return EXIT_USAGE
    program, sources = compiled
    stages.append(("compile spec", time.perf_counter() - start))
    text = _read(request.lockdep, stderr)
    chains_text = _read(request.chains, stderr) if request.chains else ""
    if text is None or chains_text is None:
        return EXIT_USAGE
    mark = time.perf_counter()
    try:
        dump = parse_lockdep(text, request.lockdep)
        chains = parse_chains(chains_text, request.chains) if request.chains else ()
    except DumpError as err:
        print(dump_error(err), file=stderr)
        return EXIT_USAGE
    stages.append(("parse dump", time.perf_counter() - mark))
    mark = time.perf_counter()
    result = conform(program, dump, chains, request.chains or "")
    stages.append(("compare", time.perf_counter() - mark))
    for name in result.ambiguous:
        print(f"lockspec: warning: lockdep class `{name}` is claimed by two classes of the "
              "spec; its dependencies are matched to the first", file=stderr)
    print(f"lockspec: {request.lockdep}: {len(dump.classes)} lock classes, "
          f"{len(dump.dependencies)} dependencies; {result.classes_named} classes named by "
          f"the spec, {result.classes_ignored} ignored (not named by the spec)", file=stderr)
    if request.timings:
        for name, seconds in stages:
            print(f"lockspec: time: {name}: {seconds:.3f} s", file=stderr)
    detail = (f"{result.runtime_edges} runtime dependencies between the spec's classes, "
              f"{result.design_edges} in the design; {result.classes_ignored} runtime classes "
              "not named by the spec ignored")
    file_result = FileResult(path=request.spec, title=program.title,
                             findings=list(result.findings), engines=[EngineRun("conform", "complete", detail, exhaustive=True)],
                             sources=sources, program=program)
    return decide([file_result], request.version, request.fail_on)


def _compile(path: str, stderr: TextIO):
    compiled = compile_reporting(path, stderr)
    if compiled is None or compiled.diagnostics or compiled.program is None:
        return None
    return compiled.program, compiled.sources
