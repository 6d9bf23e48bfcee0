"""JUnit XML: a test case per spec and per expectation, parsed with xml.etree."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from checker.findings import FileResult
from checker.outcome import decide
from checker.report.junit import render_junit
from model.span import Diagnostic, SourceFile, Span
from tests.output_fixtures import private_cache, run_cli, simulated, spec  # noqa: F401


def junit(*argv: str) -> tuple[int, ET.Element]:
    code, out, _ = run_cli("check", "--format", "junit", *argv)
    return code, ET.fromstring(out.encode("utf-8"))


def cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    (element,) = [s for s in root.iter("testsuite") if s.get("name") == suite]
    return {case.get("name"): case for case in element.iter("testcase")}


def test_a_case_per_spec_and_per_expectation(simulated):
    code, root = junit(spec("abba.lspec"), spec("abba_expected.lspec"), spec("ordered.lspec"))
    assert code == 1
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "0")
    abba = cases(root, spec("abba.lspec"))
    assert list(abba) == ["spec"]
    failure = abba["spec"].find("failure")
    assert failure.get("type") == "deadlock" and "WARNING: possible circular" in failure.text
    expected = cases(root, spec("abba_expected.lspec"))
    assert list(expected) == ["spec", "expect deadlock"]
    assert all(case.find("failure") is None for case in expected.values())
    assert "expected: " in expected["spec"].find("system-out").text
    ordered = cases(root, spec("ordered.lspec"))
    assert list(ordered) == ["spec", "expect race: pass"]
    assert ordered["expect race: pass"].get("line") == "11"


def test_spec_error_is_an_error_and_unmet_expectation_a_failure(simulated, tmp_path):
    unmet = tmp_path / "unmet.lspec"
    unmet.write_text((spec_text := open(spec("ordered.lspec")).read()).replace(
        "expect race: pass", "expect race: deadlock"))
    assert "expect race: deadlock" in unmet.read_text() and spec_text
    code, root = junit(spec("broken.lspec"), str(unmet))
    assert code == 2
    broken = cases(root, spec("broken.lspec"))["spec"]
    assert broken.find("error") is not None and "syntax-error" in broken.find("error").text
    expectation = cases(root, str(unmet))["expect race: deadlock"]
    assert expectation.find("failure").get("type") == "unmet-expectation"


def test_inconclusive_is_skipped_and_control_characters_survive():
    from checker.findings import EngineRun
    path = "x\x00.lspec"
    result = FileResult(path=path, status="inconclusive",
                        engines=[EngineRun("z3", "inconclusive", "rlimit spent \x01")])
    error = FileResult(path="y.lspec", status="error", diagnostics=[
        Diagnostic("syntax-error", "NUL byte \x00 here", Span("y.lspec", 1, 1, 1, 2))],
        sources={"y.lspec": SourceFile("y.lspec", "a\x00b\n")})
    root = ET.fromstring(render_junit(decide([result, error], "1", ("confirmed",))).encode())
    assert root.get("skipped") == "1" and root.get("errors") == "1"
    skipped = root.find("testsuite/testcase/skipped")
    assert "rlimit spent" in skipped.get("message")
