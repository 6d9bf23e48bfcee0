"""Text output for people who read lockdep splats every day."""
from __future__ import annotations

from checker.findings import FileResult, Finding
from model.span import display_name, render_diagnostic

RULE = "-" * 60


def _loc(span) -> str:
    return f"{display_name(span.file)}:{span.line}:{span.col}"


def render_finding(finding: Finding, color: bool = False) -> list[str]:
    tag = "expected" if finding.expected else finding.severity
    where = f" [scenario {finding.scenario}]" if finding.scenario else ""
    head = f"{_loc(finding.span)}: {tag}[{finding.code}]: {finding.message}{where}"
    out = [_paint(head, "31" if tag == "error" else "33", color)]
    out.append(f"  WARNING: {finding.headline}")
    out.append(f"  verdict: {finding.status} ({finding.engine} engine)"
               + (f"; {finding.reason}" if finding.reason else ""))
    if finding.paths:
        out.append("  paths: " + ", ".join(finding.paths))
    if finding.chain:
        out.append("  the existing dependency chain:")
        for number, link in enumerate(finding.chain):
            out.append(f"    #{number}: {link.text}  at {_loc(link.span)}")
    if finding.unsafe_scenario:
        out += ["  Possible unsafe locking scenario:", ""] + _table(finding.unsafe_scenario)
        out.append("")
        out.append("   *** DEADLOCK ***" if finding.code != "invalid-wait-context" else "")
    if finding.witness:
        out.append("  witness interleaving:")
        out += _witness(finding)
    return out


def _table(rows) -> list[str]:
    width = 28
    cpus = max(cpu for cpu, _ in rows) + 1
    header = "".join(f"{_cpu_name(c):<{width}}" for c in range(cpus)).rstrip()
    under = "".join(f"{'----':<{width}}" for c in range(cpus)).rstrip()
    lines = ["         " + header, "         " + under]
    for cpu, text in rows:
        lines.append("         " + " " * (width * cpu) + text)
    return lines


def _cpu_name(cpu: int) -> str:
    return f"CPU{cpu}"


def _witness(finding: Finding) -> list[str]:
    threads = sorted({step.thread for step in finding.witness},
                     key=lambda t: [s.thread for s in finding.witness].index(t))
    width = max(24, max(len(s.action) for s in finding.witness) + 2)
    lines = ["    step " + "".join(f"{t[:width - 2]:<{width}}" for t in threads).rstrip()]
    for number, step in enumerate(finding.witness, 1):
        column = threads.index(step.thread)
        cell = " " * (width * column) + step.action
        note = f"  ({step.note})" if step.note else ""
        lines.append(f"    {number:>4} {cell}{note}   {display_name(step.span.file)}:{step.span.line}")
    return lines


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def render_file(result: FileResult, color: bool = False) -> list[str]:
    out: list[str] = []
    if result.status == "error":
        for diag in result.diagnostics:
            out.append(render_diagnostic(diag, result.sources))
        return out
    for finding in result.findings:
        out += render_finding(finding, color)
        out.append("")
    for unmet in result.unmet:
        target = f"scenario {unmet.scenario}" if unmet.scenario else "the spec"
        out.append(f"{_loc(unmet.span)}: error[expectation]: expected {unmet.verdict} "
                   f"in {target}, but no engine found it")
    engines = "; ".join(f"{run.name}: {run.detail}" for run in result.engines)
    out.append(f"{display_name(result.path)}: {result.status.upper()} ({engines})")
    return out


def render_summary(results: list[FileResult]) -> str:
    counts = {key: sum(1 for r in results if r.status == key)
              for key in ("pass", "fail", "error", "inconclusive")}
    findings = sum(1 for r in results for f in r.findings if not f.expected)
    expected = sum(1 for r in results for f in r.findings if f.expected)
    return (f"{len(results)} spec{'s' if len(results) != 1 else ''}: {counts['pass']} passed, "
            f"{counts['fail']} failed, {counts['error']} with errors, "
            f"{counts['inconclusive']} inconclusive; {findings} unexpected finding"
            f"{'s' if findings != 1 else ''}, {expected} expected")
