"""SARIF 2.1.0: one run, a rule per finding code, results located in the spec files.

Each witness interleaving becomes a codeFlow with one threadFlow per thread;
every step carries its global `executionOrder`, so a viewer can replay the
interleaving across threads. Expected findings are suppressed `inSource` (the
spec's `expect` line), baselined ones `external` with their justification,
which is how GitHub code scanning and other SARIF consumers hide accepted
results. (A suppression's review state is left out: the committee draft calls it
`state`, the OASIS Standard `status`; without it the log is valid under both.)
Locations in prelude modules have no file in the repository; they are given
as messages without a physical location.
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from checker.baseline import fingerprint
from checker.findings import CODES, FileResult, Finding
from checker.interleave.witness_model import analyse, thread_order
from checker.outcome import (BASELINED, EXPECTED, FAILING, INFORMATIONAL, NOTE, REFUTED_D, Run,
                             engine_summary, level_text, primary_span)
from checker.report import finding_help
from model.span import display_name

SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
SRCROOT = "%SRCROOT%"
LEVELS = {FAILING: "error", INFORMATIONAL: "warning", REFUTED_D: "note", EXPECTED: "note",
          BASELINED: "note", NOTE: "note"}


def rule_ids() -> list[str]:
    return list(CODES) + list(finding_help.OTHER_RULES)


def _rule(code: str) -> dict:
    if code in CODES:
        short = CODES[code][1][0].upper() + CODES[code][1][1:]
        level, tags = CODES[code][0], ["locking", "concurrency"]
    else:
        short, level, tags = finding_help.OTHER_RULES[code][0], "error", ["spec"]
    full = finding_help.full_help(code)
    return {
        "id": code,
        "name": "".join(part.capitalize() for part in code.split("-")),
        "shortDescription": {"text": short},
        "fullDescription": {"text": finding_help.description(code)},
        "help": {"text": full, "markdown": full},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": tags},
    }


def _in_repository(path: str) -> bool:
    return not display_name(path).startswith("<")


def _uri(path: str) -> dict:
    posix = Path(path).as_posix()
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(posix, safe="/._-~"), "uriBaseId": SRCROOT}


def _location(span, message: str = "", ident: int | None = None) -> dict:
    location: dict = {}
    if ident is not None:
        location["id"] = ident
    if _in_repository(span.file) and span.line >= 1:
        region = {"startLine": span.line, "startColumn": max(1, span.col)}
        if span.end_line >= span.line and span.end_line >= 1:
            region["endLine"] = span.end_line
            if span.end_col >= 1 and (span.end_line > span.line or span.end_col > span.col):
                region["endColumn"] = span.end_col
        location["physicalLocation"] = {"artifactLocation": _uri(span.file), "region": region}
    text = message or ("" if _in_repository(span.file) else
                       f"in {display_name(span.file)} line {span.line}")
    if text:
        location["message"] = {"text": text}
    return location


def _code_flow(finding: Finding) -> dict:
    model = analyse(finding)
    last = len(finding.witness)
    flows = []
    for thread, cpu in thread_order(finding.witness):
        locations = []
        for number, step in enumerate(finding.witness, 1):
            if step.thread != thread:
                continue
            text = step.action + (f" ({step.note})" if step.note else "")
            entry = {"location": _location(step.span, text), "executionOrder": number,
                     "importance": "essential" if number == last else "important"}
            if number in model.kinds:
                entry["kinds"] = list(model.kinds[number])
            locations.append(entry)
        where = f" on CPU{cpu}" if cpu is not None else ""
        flows.append({"id": thread, "message": {"text": f"{thread}{where}"},
                      "locations": locations})
    return {"message": {"text": f"witness interleaving, {last} steps"}, "threadFlows": flows}


def _suppressions(run: Run, result: FileResult, finding: Finding, disposition: str) -> list:
    if disposition == EXPECTED:
        return [{"kind": "inSource",
                 "justification": "expected by an `expect` line of the spec"}]
    if disposition == BASELINED:
        entry = run.baseline_entry(result, finding)
        return [{"kind": "external", "justification": entry.justification,
                 "location": {"physicalLocation": {"artifactLocation": _uri(entry.source)}}}]
    return []


def _result(run: Run, result: FileResult, finding: Finding, ids: list[str]) -> dict:
    disposition = run.disposition(result, finding)
    text = finding.message + (f" [scenario {finding.scenario}]" if finding.scenario else "")
    sarif = {
        "ruleId": finding.code,
        "ruleIndex": ids.index(finding.code),
        "level": LEVELS[disposition],
        "message": {"text": f"{text}. Verdict: {level_text(finding)}."},
        "locations": [_location(primary_span(finding))],
        "partialFingerprints": {"lockspecFinding/v1": fingerprint(result.path, finding)},
        "properties": {"status": finding.status, "disposition": disposition,
                       "engine": finding.engine, "scenario": finding.scenario,
                       "locks": list(finding.locks), "paths": list(finding.paths),
                       "reason": finding.reason,
                       "unsafeScenario": [{"cpu": cpu, "text": text}
                                          for cpu, text in finding.unsafe_scenario]},
    }
    if finding.chain:
        sarif["relatedLocations"] = [_location(link.span, f"#{n}: {link.text}", n + 1)
                                     for n, link in enumerate(finding.chain)]
    if finding.witness:
        sarif["codeFlows"] = [_code_flow(finding)]
    suppressions = _suppressions(run, result, finding, disposition)
    if suppressions:
        sarif["suppressions"] = suppressions
    return sarif


def _other_results(result: FileResult, ids: list[str]) -> list[dict]:
    out = []
    for diag in result.diagnostics:
        code = diag.code if diag.code in ids else "syntax-error"
        out.append({"ruleId": code, "ruleIndex": ids.index(code), "level": "error",
                    "message": {"text": diag.message}, "locations": [_location(diag.span)]})
    for unmet in result.unmet:
        target = f"scenario {unmet.scenario}" if unmet.scenario else "the spec"
        out.append({"ruleId": "unmet-expectation", "ruleIndex": ids.index("unmet-expectation"),
                    "level": "error",
                    "message": {"text": f"expected {unmet.verdict} in {target}, but no engine "
                                        "found it"},
                    "locations": [_location(unmet.span)]})
    return out


def _notifications(run: Run) -> list[dict]:
    """Inconclusive specs: the tool could not decide, which is not a result in a file."""
    return [{"level": "warning",
             "message": {"text": f"{r.path}: inconclusive ({engine_summary(r)})"},
             "locations": [{"physicalLocation": {"artifactLocation": _uri(r.path)}}]}
            for r in run.results if r.status == "inconclusive"]


def sarif_document(run: Run) -> dict:
    ids = rule_ids()
    results = []
    for result in run.results:
        results += _other_results(result, ids)
        results += [_result(run, result, f, ids) for f in result.findings]
    artifacts = [{"location": _uri(r.path), "roles": ["analysisTarget"]} for r in run.results]
    invocation = {"executionSuccessful": True, "exitCode": run.exit_code()}
    notifications = _notifications(run)
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    driver = {"name": "lockspec", "version": run.version, "semanticVersion": run.version,
              "rules": [_rule(code) for code in ids]}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": driver},
        "invocations": [invocation],
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}},
        "artifacts": artifacts,
        "columnKind": "unicodeCodePoints",
        "results": results,
    }]}


def render_sarif(run: Run) -> str:
    return json.dumps(sarif_document(run), indent=2, ensure_ascii=False) + "\n"
