"""The JSON document of DESIGN.md: one object for the whole run."""
from __future__ import annotations

import json

from checker.findings import FileResult, Finding
from model.span import display_name

SCHEMA_VERSION = 1


def finding_json(finding: Finding) -> dict:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "line": finding.span.line,
        "column": finding.span.col,
        "file": display_name(finding.span.file),
        "message": finding.message,
        "locks": list(finding.locks),
        "paths": list(finding.paths),
        "scenario": finding.scenario,
        "expected": finding.expected,
        "confirmed": finding.confirmed,
        "status": finding.status,
        "engine": finding.engine,
        "reason": finding.reason,
        "chain": [{"text": link.text, "file": display_name(link.span.file),
                   "line": link.span.line, "column": link.span.col} for link in finding.chain],
        "witness": [{"thread": step.thread, "cpu": step.cpu, "action": step.action,
                     "file": display_name(step.span.file), "line": step.span.line,
                     "column": step.span.col, "note": step.note}
                    for step in finding.witness],
    }


def file_json(result: FileResult) -> dict:
    status = "error" if result.status == "error" else (
        "fail" if result.status == "fail" else "pass")
    doc = {
        "path": result.path,
        "status": status,
        "outcome": result.status,
        "title": result.title,
        "findings": [finding_json(f) for f in result.findings],
        "engines": [{"name": run.name, "outcome": run.outcome, "detail": run.detail,
                     "exhaustive": run.exhaustive, "bound": run.bound}
                    for run in result.engines],
        "unmet": [{"scenario": u.scenario, "verdict": u.verdict, "line": u.span.line,
                   "column": u.span.col} for u in result.unmet],
        "errors": [{"code": d.code, "message": d.message, "file": display_name(d.span.file),
                    "line": d.span.line, "column": d.span.col, "hints": list(d.hints)}
                   for d in result.diagnostics],
    }
    return doc


def render_json(results: list[FileResult], version: str) -> str:
    summary = {
        "files": len(results),
        "passed": sum(1 for r in results if r.status == "pass"),
        "failed": sum(1 for r in results if r.status == "fail"),
        "errors": sum(1 for r in results if r.status == "error"),
        "inconclusive": sum(1 for r in results if r.status == "inconclusive"),
    }
    doc = {"tool": "lockspec", "version": version, "schema": SCHEMA_VERSION,
           "files": [file_json(r) for r in results], "summary": summary}
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
