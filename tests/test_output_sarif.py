"""SARIF 2.1.0 output, validated against the OASIS schema kept in tests/data/sarif."""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from checker.findings import CODES
from checker.report import finding_help
from tests.output_fixtures import (ROOT, SARIF_SCHEMA, private_cache, run_cli,  # noqa: F401
                                   sarif_validator, simulated, spec)


URI = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def uris(value):
    """Every `uri` in the log (jsonschema has no checker for the `uri` formats)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "uri":
                yield item
            yield from uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from uris(item)


def sarif(*argv: str) -> tuple[int, dict]:
    code, out, _ = run_cli("check", "--format", "sarif", *argv)
    document = json.loads(out)
    sarif_validator().validate(document)
    for uri in uris(document):
        assert URI.fullmatch(uri), uri
    return code, document


def artifact_uris(document) -> list[str]:
    return [a["location"]["uri"] for a in document["runs"][0]["artifacts"]]


def test_schema_is_the_official_one():
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert len(SARIF_SCHEMA.read_text(encoding="utf-8")) == 112318   # as published, unmodified


def test_abba_log(simulated):
    code, document = sarif(spec("abba.lspec"))
    assert code == 1 and document["version"] == "2.1.0"
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert set(CODES) <= set(ids) and len(ids) == len(set(ids))
    for rule in rules:
        assert rule["help"]["text"] == finding_help.full_help(rule["id"])
    (result,) = run["results"]
    assert result["ruleId"] == "deadlock" and ids[result["ruleIndex"]] == "deadlock"
    assert result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": spec("abba.lspec"), "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == 15
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert urlsplit(base).scheme == "file" and base.endswith("/")
    assert Path(urlsplit(base).path) == ROOT
    assert [r["id"] for r in result["relatedLocations"]] == [1, 2]


def test_witness_is_a_code_flow_with_execution_order(simulated):
    _, document = sarif(spec("abba.lspec"))
    (result,) = document["runs"][0]["results"]
    (flow,) = result["codeFlows"]
    threads = {tf["id"]: tf for tf in flow["threadFlows"]}
    assert set(threads) == {"t1#1", "t2#1"}
    orders = sorted(loc["executionOrder"] for tf in threads.values() for loc in tf["locations"])
    assert orders == [1, 2]
    first = threads["t1#1"]["locations"][0]
    assert first["executionOrder"] == 1 and first["kinds"] == ["acquire", "lock"]
    assert first["location"]["message"]["text"] == "acquire A"
    assert first["location"]["physicalLocation"]["region"]["startLine"] == 8
    assert threads["t2#1"]["locations"][-1]["importance"] == "essential"


def test_expected_and_baselined_results_are_suppressed(simulated, tmp_path):
    baseline = tmp_path / "baseline.toml"
    baseline.write_text(f'[[finding]]\ncode = "deadlock"\nfile = "{ROOT / spec("abba.lspec")}"\n'
                        'locks = ["A", "B"]\njustification = "A and B never meet: see the '
                        'hardware manual"\n')
    code, document = sarif("--baseline", str(baseline), spec("abba.lspec"),
                           spec("abba_expected.lspec"))
    assert code == 0
    by_file = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r
               for r in document["runs"][0]["results"]}
    expected = by_file[spec("abba_expected.lspec")]["suppressions"]
    assert expected == [{"kind": "inSource",
                         "justification": "expected by an `expect` line of the spec"}]
    (accepted,) = by_file[spec("abba.lspec")]["suppressions"]
    assert accepted["kind"] == "external" and "hardware manual" in accepted["justification"]


def test_spec_errors_and_real_engines_validate():
    code, document = sarif(spec("broken.lspec"), spec("hostile.lspec"), "tests/data/design")
    assert code == 2
    results = document["runs"][0]["results"]
    assert any(r["ruleId"] == "syntax-error" for r in results)
    assert document["runs"][0]["invocations"][0]["exitCode"] == 2


def test_help_comes_from_the_findings_reference():
    """docs/findings.md is embedded as package data; the copy must not be stale."""
    docs = ROOT / "docs" / "findings.md"
    embedded = resources.files("checker.report").joinpath("templates", finding_help.EMBEDDED)
    if not docs.exists():
        pytest.skip("docs/findings.md is not written yet; short help texts are used")
    assert embedded.is_file(), "run: python -m checker.report.finding_help docs/findings.md"
    assert embedded.read_text("utf-8") == docs.read_text("utf-8"), \
        "the embedded copy is stale; run: python -m checker.report.finding_help docs/findings.md"
    documented = finding_help.sections(docs.read_text("utf-8"))
    assert set(documented) == set(CODES)
    for code in CODES:
        assert finding_help.full_help(code) == documented[code]
        assert finding_help.description(code) in " ".join(documented[code].split())
