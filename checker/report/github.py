"""`--format github`: GitHub Actions workflow commands that annotate the spec lines.

    ::error file=specs/x.lspec,line=12,col=5,endLine=12,endColumn=19,title=lockspec deadlock::...

A finding that fails the gate is an `error`, one that is reported but does
not fail (a potential finding outside fail-on) a `warning`, a refuted or
baselined one a `notice`; expected findings are not annotated. Spec errors
and unmet expectations are errors at their line; an inconclusive spec is a
warning on the file. Values are escaped as the workflow-command syntax
requires (%, CR, LF; and `:` `,` in properties), so a message cannot end the
command early or inject another one. The last line is the plain summary.
"""
from __future__ import annotations

from checker.findings import FileResult, Finding
from checker.outcome import (BASELINED, EXPECTED, FAILING, INFORMATIONAL, NOTE, REFUTED_D, Run,
                             engine_summary, in_user_file, level_text, primary_span)
from checker.report.text import render_summary, short_location
from model.span import Span, display_name

WITNESS_STEPS = 30      # an annotation is a summary; the full witness is in SARIF and HTML
COMMANDS = {FAILING: "error", INFORMATIONAL: "warning", REFUTED_D: "notice",
            BASELINED: "notice", NOTE: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, span, title: str, message: str) -> str:
    props = []
    if not display_name(span.file).startswith("<"):
        props.append(f"file={escape_property(span.file)}")
        if span.line >= 1:
            props.append(f"line={span.line}")
            if span.col >= 1:
                props.append(f"col={span.col}")
            if span.end_line >= span.line:
                props.append(f"endLine={span.end_line}")
                if span.end_line == span.line and span.end_col > span.col:
                    props.append(f"endColumn={span.end_col}")
    props.append(f"title={escape_property(title)}")
    return f"::{kind} {','.join(props)}::{escape_data(message)}"


def _finding_message(run: Run, result: FileResult, finding: Finding) -> str:
    lines = [finding.message + (f" [scenario {finding.scenario}]" if finding.scenario else ""),
             f"verdict: {level_text(finding)} ({finding.engine} engine)"]
    entry = run.baseline_entry(result, finding)
    if entry is not None:
        lines.append(f"baselined: {entry.justification}")
    lines += [f"#{n} {short_location(link.span)}: {link.text}"
              for n, link in enumerate(finding.chain)]
    if finding.witness:
        shown = finding.witness[:WITNESS_STEPS]
        rest = len(finding.witness) - len(shown)
        lines.append("witness: " + "; ".join(f"{step.thread}: {step.action}" for step in shown)
                     + (f"; ... {rest} more steps in the SARIF code flow and the HTML report"
                        if rest else ""))
    return "\n".join(lines)


def _file_lines(run: Run, result: FileResult) -> list[str]:
    out = [command("error", d.span, f"lockspec {d.code}", d.message) for d in result.diagnostics]
    for finding in result.findings:
        disposition = run.disposition(result, finding)
        if disposition == EXPECTED:
            continue
        span = primary_span(finding)
        if not in_user_file(span):   # no line of the user's to annotate: the spec file
            span = Span(result.path, 0, 0, 0, 0)
        out.append(command(COMMANDS[disposition], span, f"lockspec {finding.code}",
                           _finding_message(run, result, finding)))
    for unmet in result.unmet:
        target = f"scenario {unmet.scenario}" if unmet.scenario else "the spec"
        out.append(command("error", unmet.span, "lockspec unmet expectation",
                           f"expected {unmet.verdict} in {target}, but no engine found it"))
    if result.status == "inconclusive":
        out.append(f"::warning file={escape_property(result.path)},title=lockspec inconclusive::"
                   + escape_data(engine_summary(result)))
    return out


def render_github(run: Run) -> str:
    lines = [line for result in run.results for line in _file_lines(run, result)]
    lines.append(render_summary(run))
    return "\n".join(lines) + "\n"
