"""JSON output: DESIGN.md's document, validated against the schema shipped in the package."""
from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from checker.report.json_report import SCHEMA_FILE, SCHEMA_VERSION, schema
from tests.output_fixtures import private_cache, run_cli, simulated, spec  # noqa: F401

DESIGN_FILE_KEYS = {"path", "status", "findings"}
DESIGN_FINDING_KEYS = {"code", "severity", "line", "column", "message", "locks", "paths",
                       "expected", "confirmed", "witness"}


def validate(text: str) -> dict:
    document = json.loads(text)
    jsonschema.Draft202012Validator(schema()).validate(document)
    return document


def test_schema_is_versioned_package_data():
    assert SCHEMA_FILE == f"lockspec-report-{SCHEMA_VERSION}.json"
    shipped = resources.files("checker.report").joinpath("schemas", SCHEMA_FILE)
    assert shipped.is_file()
    jsonschema.Draft202012Validator.check_schema(schema())


def test_abba_document_keeps_every_design_key(simulated):
    code, out, _ = run_cli("check", "--format", "json", spec("abba.lspec"))
    assert code == 1
    document = validate(out)
    assert document["tool"] == "lockspec" and document["version"]
    assert set(document["summary"]) >= {"files", "passed", "failed", "errors"}
    assert document["summary"] == {"files": 1, "passed": 0, "failed": 1, "errors": 0,
                                   "inconclusive": 0, "exit_code": 1}
    (entry,) = document["files"]
    assert DESIGN_FILE_KEYS <= set(entry) and entry["status"] == "fail"
    (finding,) = entry["findings"]
    assert DESIGN_FINDING_KEYS <= set(finding)
    assert finding["code"] == "deadlock" and finding["confirmed"] is True
    assert finding["locks"] == ["A", "B"] and finding["paths"] == ["t1", "t2"]
    assert finding["line"] == 15 and finding["file"] == spec("abba.lspec")
    assert [step["step"] for step in finding["witness"]] == [1, 2]
    assert finding["witness"][0]["thread"] == "t1#1" and finding["witness"][0]["cpu"] == 0
    assert finding["unsafe_scenario"][0] == {"cpu": 0, "text": "lock(A);"}
    assert finding["disposition"] == "failing" and finding["baseline"] is None


@pytest.mark.parametrize("names", [
    ("abba.lspec", "abba_expected.lspec", "ordered.lspec", "hostile.lspec"),
    ("broken.lspec",),
])
def test_every_document_validates(simulated, names):
    _, out, _ = run_cli("check", "--format", "json", *[spec(n) for n in names])
    document = validate(out)
    assert [f["path"] for f in document["files"]] == [spec(n) for n in names]


def test_real_engines_output_validates():
    _, out, _ = run_cli("check", "--format", "json", spec("abba.lspec"), spec("ordered.lspec"),
                        spec("broken.lspec"), "tests/data/design")
    document = validate(out)
    assert document["summary"]["errors"] == 1
    broken = next(f for f in document["files"] if f["path"].endswith("broken.lspec"))
    assert broken["status"] == "error" and broken["errors"][0]["line"] == 4


def test_expected_finding_does_not_fail(simulated):
    code, out, _ = run_cli("check", "--format", "json", spec("abba_expected.lspec"))
    document = validate(out)
    assert code == 0 and document["files"][0]["status"] == "pass"
    finding = document["files"][0]["findings"][0]
    assert finding["expected"] is True and finding["disposition"] == "expected"
