"""JUnit XML: a test suite per spec file, a test case for the spec and one per `expect`.

The spec's own test case fails on a finding that fails the gate, errors on a
spec error and is skipped when an engine was inconclusive; each expectation's
test case fails when its `expect` line is not met (for `expect ...: pass`,
when a failing finding lands in its scenario). No timestamps or durations, so
the file is identical run to run. Written with xml.etree, which escapes text
and attributes.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from checker.findings import FileResult
from checker.outcome import BASELINED, EXPECTED, FAILING, Run, engine_summary
from checker.report.text import location, render_finding
from model.span import display_name, render_diagnostic


def _classname(path: str) -> str:
    name = display_name(path)
    if name.endswith(".lspec"):
        name = name[:-len(".lspec")]
    return name.replace("/", ".").replace("\\", ".").strip(".")


def _spec_case(run: Run, result: FileResult) -> ET.Element:
    case = ET.Element("testcase", classname=_classname(result.path), name="spec",
                      file=result.path)
    if result.status == "error":
        error = ET.SubElement(case, "error", type="spec-error",
                              message=f"{len(result.diagnostics)} spec error(s)")
        error.text = "\n".join(render_diagnostic(d, result.sources) for d in result.diagnostics)
        return case
    failing = run.failing(result)
    if failing:
        failure = ET.SubElement(case, "failure", type=failing[0].code, message="; ".join(
            f"{f.code}: {f.message}" for f in failing))
        failure.text = "\n".join(line for f in failing for line in
                                 render_finding(run, result, f) + [""])
    elif result.status == "inconclusive":
        ET.SubElement(case, "skipped", message=f"inconclusive: {engine_summary(result)}")
    accepted = [f for f in result.findings if run.disposition(result, f) in (EXPECTED, BASELINED)]
    notes = [f"{run.disposition(result, f)}: {location(f.span)}: {f.code}: {f.message}"
             for f in accepted]
    engines = engine_summary(result)
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(([f"engines: {engines}"] if engines else []) + notes) + "\n"
    return case


def _expectation_cases(run: Run, result: FileResult) -> list[ET.Element]:
    program = result.program
    if program is None:
        return []
    cases = []
    unmet = {(u.scenario, u.verdict, u.span) for u in result.unmet}
    for expectation in program.expectations:
        target = f"{expectation.scenario}: " if expectation.scenario else ""
        case = ET.Element("testcase", classname=_classname(result.path),
                          name=f"expect {target}{expectation.verdict}", file=result.path,
                          line=str(expectation.span.line))
        if expectation.verdict == "pass":
            spoilers = [f for f in result.findings if run.disposition(result, f) == FAILING
                        and expectation.scenario in (None, f.scenario)]
            if spoilers:
                failure = ET.SubElement(case, "failure", type=spoilers[0].code,
                                        message=f"expected pass, found {len(spoilers)} failing "
                                                "finding(s)")
                failure.text = "\n".join(f"{location(f.span)}: {f.code}: {f.message}"
                                         for f in spoilers)
        elif (expectation.scenario, expectation.verdict, expectation.span) in unmet:
            ET.SubElement(case, "failure", type="unmet-expectation",
                          message=f"expected {expectation.verdict}, but no engine found it")
        cases.append(case)
    return cases


def _count(cases: list[ET.Element], tag: str) -> int:
    return sum(1 for case in cases if case.find(tag) is not None)


def junit_tree(run: Run) -> ET.Element:
    root = ET.Element("testsuites", name="lockspec")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for result in run.results:
        cases = [_spec_case(run, result)] + _expectation_cases(run, result)
        counts = {"tests": len(cases), "failures": _count(cases, "failure"),
                  "errors": _count(cases, "error"), "skipped": _count(cases, "skipped")}
        suite = ET.SubElement(root, "testsuite", name=display_name(result.path),
                              **{key: str(value) for key, value in counts.items()})
        suite.extend(cases)
        for key, value in counts.items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    return root


# Characters XML 1.0 cannot carry at all, even escaped; a hostile spec may contain them.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(tree: ET.Element) -> None:
    for element in tree.iter():
        if element.text:
            element.text = _NOT_XML.sub("\ufffd", element.text)
        for key, value in element.attrib.items():
            element.set(key, _NOT_XML.sub("\ufffd", value))


def render_junit(run: Run) -> str:
    tree = junit_tree(run)
    _xml_safe(tree)
    ET.indent(tree)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="unicode") + "\n"
