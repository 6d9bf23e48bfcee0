"""Checking one spec: compile, run the engines, match findings with `expect` lines."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from checker.findings import REFUTED, FileResult, Finding, Unmet
from checker.graph.engine import run_graph_engine
from model.pipeline import Compiled, compile_spec


@dataclass(frozen=True)
class Options:
    """What a check run may do; every field has a command-line flag."""

    engines: tuple[str, ...] = ("graph", "interleaving")
    fail_on: tuple[str, ...] = ("confirmed", "potential")   # which statuses fail a spec
    bound: int | None = None
    timeout: float = 60.0
    rlimit: int | None = None
    seed: int = 0


def engine_table():
    """The engines by name, in the order they run.

    An engine is called as `engine(program, options, findings)` with the findings
    of the engines before it and returns `(findings, EngineRun)`: the whole new
    list, so the interleaving engine can confirm or refute the graph's cycles.
    """
    from checker.interleave.engine import run_interleaving_engine
    return {
        "graph": lambda program, options, findings: run_graph_engine(program),
        "interleaving": run_interleaving_engine,
    }


def check_file(path: str, data: bytes, options: Options) -> FileResult:
    return check_compiled(path, compile_spec(path, data), options)


def check_compiled(path: str, compiled: Compiled, options: Options) -> FileResult:
    """Check an already compiled spec (the cache compiles first to learn its imports)."""
    result = FileResult(path=path, sources=compiled.sources)
    if compiled.diagnostics or compiled.program is None:
        result.status = "error"
        result.diagnostics = list(compiled.diagnostics)
        return result
    program = compiled.program
    result.program = program
    result.title = program.title
    findings: list[Finding] = []
    table = engine_table()
    for name in options.engines:
        if name not in table:
            continue
        findings, run = table[name](program, options, findings)
        result.engines.append(run)
    findings = _merge(findings)
    result.findings, result.unmet = match_expectations(program, findings)
    result.status = _status(result, options)
    return result


def _merge(findings: list[Finding]) -> list[Finding]:
    """Drop exact repeats (the same finding from two threads of one scenario)."""
    seen = {}
    for finding in findings:
        key = (finding.code, finding.span, finding.message, finding.scenario, finding.engine)
        seen.setdefault(key, finding)
    return sorted(seen.values(), key=Finding.sort_key)


def match_expectations(program, findings: list[Finding]) -> tuple[list[Finding], list[Unmet]]:
    expectations = program.expectations
    marked = []
    for finding in findings:
        expected = finding.status != REFUTED and any(
            e.verdict == finding.code and (e.scenario is None or e.scenario == finding.scenario)
            for e in expectations)
        marked.append(dataclasses.replace(finding, expected=expected))
    unmet = []
    for expectation in expectations:
        if expectation.verdict == "pass":
            continue
        if not any(f.expected and f.code == expectation.verdict and (
                expectation.scenario is None or f.scenario == expectation.scenario)
                for f in marked):
            unmet.append(Unmet(expectation.scenario, expectation.verdict, expectation.span))
    return marked, unmet


def failing(finding: Finding, options: Options) -> bool:
    return not finding.expected and finding.status in options.fail_on


def _status(result: FileResult, options: Options) -> str:
    if any(failing(f, options) for f in result.findings) or result.unmet:
        return "fail"
    if any(run.outcome == "inconclusive" for run in result.engines):
        return "inconclusive"
    return "pass"


def collect_spec_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """Expand directories to their *.lspec files (sorted). Returns (files, problems)."""
    files: list[str] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*.lspec") if p.is_file())
            if not found:
                problems.append(f"{raw}: no *.lspec files in this directory")
            files += found
        elif path.is_file():
            files.append(str(path))
        else:
            problems.append(f"{raw}: No such file or directory")  # as the OS words it
    return list(dict.fromkeys(files)), problems
