"""Text output for people who read lockdep splats every day.

A finding that fails the gate is printed the way lockdep prints a report: the
banner, the dependency chain with a file:line per edge, the "Possible unsafe
locking scenario" table with a column per CPU, then the witness interleaving
as a compact listing with a column per thread. Findings that do not fail
(expected, baselined, refuted) get one line each unless `--verbose`. The last
line is always a one-line summary.
"""
from __future__ import annotations

import os

from checker.findings import FileResult, Finding
from checker.interleave.witness_model import analyse
from checker.outcome import (BASELINED, EXPECTED, FAILING, INFORMATIONAL, NOTE, REFUTED_D, Run,
                             engine_summary, level_text, primary_span)
from model.span import display_name, render_diagnostic

# lockdep's banner for each finding code: (title format, whether lockdep prints
# "*** DEADLOCK ***" under its scenario table).
BANNERS: dict[str, tuple[str, bool]] = {
    "deadlock": ("WARNING: {}", True),
    "recursive-locking": ("WARNING: {}", True),
    "irq-inversion": ("WARNING: {}", True),
    "inconsistent-irq-state": ("WARNING: {}", True),
    "invalid-wait-context": ("[ BUG: {} ]", False),
    "order-violation": ("WARNING: {}", False),
    "use-after-revoke": ("BUG: {}", False),
    "use-after-free": ("BUG: {}", False),
    "refcount": ("WARNING: {}", False),
    "bad-unlock": ("WARNING: {}!", False),
    "held-at-exit": ("WARNING: {}!", False),
    "assertion": ("WARNING: {}", False),
    "hang": ("INFO: task blocked: {}", True),
    "union-cycle": ("WARNING: {}", True),
}
TAGS = {FAILING: "error", INFORMATIONAL: "warning", REFUTED_D: "note", EXPECTED: "expected",
        BASELINED: "baselined", NOTE: "note"}
COLOURS = {"error": "1;31", "warning": "1;33", "note": "36", "expected": "2", "baselined": "2",
           "pass": "1;32", "fail": "1;31", "error-status": "1;31", "inconclusive": "1;33",
           "banner": "1"}
CELL_MAX = 40
ROW_INDENT = 2       # lockdep: "  lock(A);" for CPU0
CPU_STRIDE = 29      # lockdep: CPU1's column starts at column 31


def banner(finding: Finding) -> str:
    template, _ = BANNERS.get(finding.code, ("WARNING: {}", False))
    return template.format(finding.headline)


def location(span) -> str:
    return f"{display_name(span.file)}:{span.line}:{span.col}"


def short_location(span) -> str:
    return f"{display_name(span.file)}:{span.line}"


def paint(text: str, what: str, colour: bool) -> str:
    return f"\033[{COLOURS[what]}m{text}\033[0m" if colour and text else text


def engine_bound(result: FileResult, engine_name: str) -> str:
    """How far the engine that made a finding searched: exhaustive, or to which depth."""
    for run in result.engines:
        if run.name == engine_name:
            if run.exhaustive:
                return "exhaustive" + (f" to depth {run.bound}" if run.bound else "")
            if run.bound:
                return f"bounded to depth {run.bound}, not exhaustive"
            return run.detail
    return ""


def render_finding(run: Run, result: FileResult, finding: Finding, colour: bool = False,
                   verbose: bool = False) -> list[str]:
    disposition = run.disposition(result, finding)
    tag = TAGS[disposition]
    where = f" [scenario {finding.scenario}]" if finding.scenario else ""
    head = f"{location(primary_span(finding))}: {tag}[{finding.code}]: {finding.message}{where}"
    out = [paint(head, tag, colour)]
    if disposition not in (FAILING, INFORMATIONAL) and not verbose:
        return out + _one_line_reason(run, result, finding, disposition)
    title = banner(finding)
    out += ["", paint("=" * len(title), "banner", colour), paint(title, "banner", colour),
            paint("-" * len(title), "banner", colour)]
    bound = engine_bound(result, finding.engine)
    out.append(f"verdict: {level_text(finding)}"
               f" [{finding.engine} engine{'; ' + bound if bound else ''}]")
    if finding.reason:
        out.append(f"reason: {finding.reason}")
    out += _one_line_reason(run, result, finding, disposition)
    if finding.paths:
        out.append("paths: " + ", ".join(finding.paths))
    if finding.chain:
        out += ["", "the dependency chain:"]
        out += [f"-> #{number} {location(link.span)}: {link.text}"
                for number, link in enumerate(finding.chain)]
    if finding.unsafe_scenario:
        out += [""] + scenario_table(finding)
    if finding.witness:
        out += ["", f"witness interleaving ({len(finding.witness)} steps):"]
        out += witness_listing(finding, result.path)
    return out


def _one_line_reason(run: Run, result: FileResult, finding: Finding, disposition: str) -> list[str]:
    if disposition == EXPECTED:
        return ["  = expected by an `expect` line: does not fail the spec"]
    if disposition == BASELINED:
        entry = run.baseline_entry(result, finding)
        return [f"  = accepted by {entry.source} entry {entry.index}: {entry.justification}"]
    if disposition == REFUTED_D:
        where = f" in {finding.scenario}" if finding.scenario else ""
        return [f"  = refuted{where}: {finding.reason or 'no interleaving reaches it'}"]
    if disposition == NOTE:
        return ["  = a note: does not fail the run"]
    if disposition == INFORMATIONAL:
        return [f"  = {finding.status} findings do not fail this run (fail-on: "
                f"{', '.join(run.fail_on) or 'nothing'})"]
    return []


def scenario_table(finding: Finding) -> list[str]:
    """lockdep's "Possible unsafe locking scenario", laid out exactly as lockdep does."""
    rows = finding.unsafe_scenario
    cpus = max(cpu for cpu, _ in rows) + 1
    interrupt = any("<Interrupt>" in text for _, text in rows)
    title = " Possible interrupt unsafe locking scenario:" if (
        interrupt and cpus > 1) else " Possible unsafe locking scenario:"
    header, rule = "       CPU0", "       ----"
    for cpu in range(1, cpus):
        column = ROW_INDENT + CPU_STRIDE * cpu
        header = header.ljust(column) + f"CPU{cpu}"
        rule = rule.ljust(column) + "----"
    out = [title, "", header, rule]
    out += [" " * (ROW_INDENT + CPU_STRIDE * cpu) + text for cpu, text in rows]
    if BANNERS.get(finding.code, ("", False))[1]:
        out += ["", " *** DEADLOCK ***"]
    return out


def thread_columns(witness) -> list[tuple[str, int | None]]:
    """The witness's threads with their CPUs, by CPU, then in order of first appearance
    (the swimlane's order too)."""
    first: dict[str, tuple[int, int | None]] = {}
    for index, step in enumerate(witness):
        first.setdefault(step.thread, (index, step.cpu))
    order = sorted(first.items(), key=lambda i: (i[1][1] is None, i[1][1] or 0, i[1][0]))
    return [(name, cpu) for name, (_, cpu) in order]


def _cell(text: str, width: int) -> str:
    if len(text) > width:
        text = text[:width - 1] + "~"
    return text.ljust(width)


def _step_location(span, spec_file: str | None) -> str:
    """The spec's own lines by file name and line; other modules in full."""
    if spec_file is not None and span.file == spec_file:
        return f"{os.path.basename(span.file)}:{span.line}"
    return short_location(span)


def witness_listing(finding: Finding, spec_file: str | None = None) -> list[str]:
    columns = thread_columns(finding.witness)
    headers = [(f"CPU{cpu} " if cpu is not None else "") + name for name, cpu in columns]
    widths = []
    blocked = end_state(analyse(finding))
    for (name, _), header in zip(columns, headers):
        actions = [s.action for s in finding.witness if s.thread == name]
        actions += [blocked[name]] if name in blocked else []
        widths.append(min(CELL_MAX, max(len(header), *(len(a) for a in actions))) + 2)
    out = ["   #  " + "".join(_cell(h, w) for h, w in zip(headers, widths)).rstrip()]
    names = [name for name, _ in columns]
    for number, step in enumerate(finding.witness, 1):
        column = names.index(step.thread)
        cells = "".join(" " * w for w in widths[:column]) + _cell(step.action, widths[column])
        cells = cells.ljust(sum(widths))
        note = f"  ({step.note})" if step.note else ""
        out.append(f"{number:>4}  {cells}{_step_location(step.span, spec_file)}{note}")
    return out + _blocked_row(finding, names, widths)


def _blocked_row(finding: Finding, names: list[str], widths: list[int]) -> list[str]:
    """At a deadlock, what each thread is stuck on, in its column, after the last step."""
    model = analyse(finding)
    stuck = end_state(model)
    if not stuck:
        return []
    cells = "".join(_cell(stuck.get(name, ""), width) for name, width in zip(names, widths))
    ends = sorted((b for b in model.blocks if b.at_end and b.thread in names),
                  key=lambda b: names.index(b.thread))
    # Two threads waiting for the same lock of the same holder make one note.
    holders = "; ".join(dict.fromkeys(
        f"{b.lock} is held by {'itself' if b.holder == b.thread else b.holder}" for b in ends))
    return [f"{'*':>4}  {cells.rstrip()}" + (f"   ({holders})" if holders else "")]


def end_state(model) -> dict[str, str]:
    """What each thread is stuck on when a deadlock witness ends."""
    stuck = {thread: "interrupted" for thread in model.preempted}
    stuck.update({b.thread: f"blocked on {b.lock}" for b in model.blocks if b.at_end})
    return stuck


def render_file(run: Run, result: FileResult, colour: bool = False,
                verbose: bool = False) -> list[str]:
    out: list[str] = []
    if result.status == "error":
        out += [render_diagnostic(diag, result.sources) for diag in result.diagnostics]
    for finding in result.findings:
        out += render_finding(run, result, finding, colour, verbose)
        out.append("")
    for unmet in result.unmet:
        target = f"scenario {unmet.scenario}" if unmet.scenario else "the spec"
        out.append(paint(f"{location(unmet.span)}: error[expectation]: expected "
                         f"{unmet.verdict} in {target}, but no engine found it", "error", colour))
    status = "error-status" if result.status == "error" else result.status
    engines = engine_summary(result)
    out.append(paint(f"{display_name(result.path)}: {result.status.upper()}", status, colour)
               + (f" ({engines})" if engines else ""))
    return out


def render_summary(run: Run) -> str:
    counts = run.counts()
    dispositions = [run.disposition(r, f) for r in run.results for f in r.findings]
    specs = len(run.results)
    line = (f"{specs} spec{'s' if specs != 1 else ''}: {counts['pass']} passed, "
            f"{counts['fail']} failed, {counts['error']} with errors, "
            f"{counts['inconclusive']} inconclusive; "
            f"{dispositions.count(FAILING)} failing finding"
            f"{'s' if dispositions.count(FAILING) != 1 else ''}, "
            f"{dispositions.count(EXPECTED)} expected")
    for name in (BASELINED, INFORMATIONAL, REFUTED_D, NOTE):
        if dispositions.count(name):
            line += f", {dispositions.count(name)} {name}"
    return line


def render_text(run: Run, colour: bool = False, verbose: bool = False) -> str:
    lines: list[str] = []
    for result in run.results:
        lines += render_file(run, result, colour, verbose)
        lines.append("")
    lines.append(render_summary(run))
    return "\n".join(lines) + "\n"
