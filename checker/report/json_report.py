"""The JSON document of DESIGN.md: one object for the whole run.

Every key DESIGN.md shows is there with the meaning it gives; the rest add
what the other outputs show (chain, scenario table, verdict level, baseline).
The document's shape is versioned: `schema` is the version of the JSON Schema
shipped as checker/report/schemas/lockspec-report-<version>.json, and a change that
removes or renames a key needs a new version.
"""
from __future__ import annotations

import json
from importlib import resources

from checker.baseline import fingerprint
from checker.findings import FileResult, Finding
from checker.outcome import Run
from model.span import display_name

SCHEMA_VERSION = 1
SCHEMA_FILE = f"lockspec-report-{SCHEMA_VERSION}.json"


def schema() -> dict:
    """The JSON Schema this module's output follows (shipped as package data)."""
    text = resources.files("checker.report").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)


def _where(span) -> dict:
    return {"file": display_name(span.file), "line": span.line, "column": span.col}


def finding_json(run: Run, result: FileResult, finding: Finding) -> dict:
    entry = run.baseline_entry(result, finding)
    return {
        "code": finding.code,
        "severity": finding.severity,
        "line": finding.span.line,
        "column": finding.span.col,
        "end_line": finding.span.end_line,
        "end_column": finding.span.end_col,
        "file": display_name(finding.span.file),
        "message": finding.message,
        "locks": list(finding.locks),
        "paths": list(finding.paths),
        "scenario": finding.scenario,
        "expected": finding.expected,
        "confirmed": finding.confirmed,
        "status": finding.status,
        "disposition": run.disposition(result, finding),
        "engine": finding.engine,
        "reason": finding.reason,
        "fingerprint": fingerprint(result.path, finding),
        "baseline": None if entry is None else {
            "file": entry.source, "entry": entry.index, "justification": entry.justification},
        "chain": [{"text": link.text, **_where(link.span)} for link in finding.chain],
        "unsafe_scenario": [{"cpu": cpu, "text": text} for cpu, text in finding.unsafe_scenario],
        "witness": [{"step": number, "thread": step.thread, "cpu": step.cpu,
                     "action": step.action, **_where(step.span), "note": step.note}
                    for number, step in enumerate(finding.witness, 1)],
    }


def file_json(run: Run, result: FileResult) -> dict:
    # DESIGN.md's status has three values; `outcome` also tells an inconclusive
    # spec (exit code 3) from a pass.
    status = result.status if result.status in ("fail", "error") else "pass"
    return {
        "path": result.path,
        "status": status,
        "outcome": result.status,
        "title": result.title,
        "findings": [finding_json(run, result, f) for f in result.findings],
        "engines": [{"name": engine.name, "outcome": engine.outcome, "detail": engine.detail,
                     "exhaustive": engine.exhaustive, "bound": engine.bound}
                    for engine in result.engines],
        "unmet": [{"scenario": u.scenario, "verdict": u.verdict, **_where(u.span)}
                  for u in result.unmet],
        "errors": [{"code": d.code, "message": d.message, **_where(d.span),
                    "hints": list(d.hints)} for d in result.diagnostics],
    }


def json_document(run: Run) -> dict:
    counts = run.counts()
    summary = {"files": len(run.results), "passed": counts["pass"], "failed": counts["fail"],
               "errors": counts["error"], "inconclusive": counts["inconclusive"],
               "exit_code": run.exit_code()}
    return {"tool": "lockspec", "version": run.version, "schema": SCHEMA_VERSION,
            "files": [file_json(run, r) for r in run.results], "summary": summary}


def render_json(run: Run) -> str:
    return json.dumps(json_document(run), indent=2, ensure_ascii=False) + "\n"
