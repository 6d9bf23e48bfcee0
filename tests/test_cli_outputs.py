"""The command line: every exit code, every format, the graph and report commands."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from checker import runner
from checker.findings import EngineRun
from tests.output_fixtures import private_cache, run_cli, simulated, spec  # noqa: F401


def engines(monkeypatch, **table):
    monkeypatch.setattr(runner, "engine_table", lambda: table)


def test_exit_0_when_every_finding_is_expected(simulated):
    code, out, _ = run_cli("check", spec("abba_expected.lspec"), spec("ordered.lspec"))
    assert code == 0 and out.splitlines()[-1].startswith("2 specs: 2 passed")


def test_exit_1_on_an_unexpected_finding(simulated):
    assert run_cli("check", spec("abba.lspec"), spec("ordered.lspec"))[0] == 1


def test_exit_2_on_spec_and_usage_errors(simulated, tmp_path):
    assert run_cli("check", spec("broken.lspec"), spec("abba.lspec"))[0] == 2
    code, _, err = run_cli("check", str(tmp_path / "missing.lspec"))
    assert code == 2 and "No such file or directory" in err
    code, _, err = run_cli("check", "--format", "yaml", spec("abba.lspec"))
    assert code == 2 and "invalid choice: 'yaml'" in err
    code, _, err = run_cli("check", "--fail-on", "maybe", spec("abba.lspec"))
    assert code == 2 and "unknown level maybe" in err
    code, _, err = run_cli("check", "--jobs", "0", spec("abba.lspec"))
    assert code == 2 and "positive integer" in err
    code, _, err = run_cli("report", spec("abba.lspec"))
    assert code == 2 and "-o DIR" in err


def test_exit_3_when_inconclusive_and_nothing_failed(monkeypatch):
    engines(monkeypatch, z3=lambda program, options, findings: (
        findings, EngineRun("z3", "inconclusive", "rlimit spent at depth 12", False, 12)))
    code, out, _ = run_cli("check", spec("ordered.lspec"))
    assert code == 3 and "INCONCLUSIVE (z3: rlimit spent at depth 12)" in out


def test_exit_4_on_an_internal_error(monkeypatch):
    def broken_engine(program, options, findings):
        raise RuntimeError("engine bug")
    engines(monkeypatch, broken=broken_engine)
    code, out, err = run_cli("check", spec("ordered.lspec"))
    assert code == 4 and out == ""
    assert "internal error: RuntimeError: engine bug" in err and "Traceback" not in err


def test_precedence_spec_error_over_failure_over_inconclusive(monkeypatch):
    from tests.output_fixtures import lock_simulation

    def mixed(program, options, findings):
        findings, run = lock_simulation(program, options, findings)
        if "ordered" in program.file:
            return findings, EngineRun("mixed", "inconclusive", "budget spent")
        return findings, run
    engines(monkeypatch, mixed=mixed)
    assert run_cli("check", spec("ordered.lspec"))[0] == 3
    assert run_cli("check", spec("ordered.lspec"), spec("abba.lspec"))[0] == 1
    assert run_cli("check", spec("ordered.lspec"), spec("abba.lspec"),
                   spec("broken.lspec"))[0] == 2


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "github"])
def test_every_format_to_a_file(simulated, tmp_path, fmt):
    target = tmp_path / f"out.{fmt}"
    code, out, _ = run_cli("check", "--format", fmt, "--output", str(target), spec("abba.lspec"))
    assert code == 1
    assert out.startswith("1 spec: 0 passed, 1 failed")     # the summary stays on stdout
    text = target.read_text(encoding="utf-8")
    if fmt in ("json", "sarif"):
        json.loads(text)
    elif fmt == "junit":
        ET.fromstring(text.encode())
    elif fmt == "github":
        assert text.startswith("::error ")
    else:
        assert "WARNING: possible circular locking dependency detected" in text
    assert run_cli("check", "--format", fmt, spec("abba.lspec"))[1] == text


def test_graph_command_marks_the_cycle():
    code, out, _ = run_cli("graph", spec("abba.lspec"))
    assert code == 0
    assert "A -> B [EN]  <-- cycle" in out and "B -> A [EN]  <-- cycle" in out
    code, dot, _ = run_cli("graph", "--dot", spec("abba.lspec"))
    assert dot.startswith("digraph lockspec {") and dot.rstrip().endswith("}")
    assert re.search(r'"A" -> "B" \[label="EN".*color=red', dot)
    code, svg, _ = run_cli("graph", "--svg", spec("ordered.lspec"))
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    ET.fromstring(svg.encode())
    assert "cycle" not in svg.split("</defs>")[1]
    code, _, err = run_cli("graph", "--dot", "--svg", spec("abba.lspec"))
    assert code == 2 and "not allowed with" in err
    code, _, err = run_cli("graph", spec("broken.lspec"))
    assert code == 2 and "syntax-error" in err


def test_help_and_version():
    code, out, _ = run_cli("--help")
    assert code == 0 and "check" in out and "report" in out and "graph" in out
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("lockspec ")
    assert run_cli()[0] == 2


@pytest.mark.parametrize("command", [
    ["check"], ["report", "-o", "out"], ["graph"], ["initcall"], ["export", "--promela"],
    ["import-splat"], ["conform", "--lockdep", "lockdep.txt"]])
def test_every_command_words_a_missing_file_as_the_os_does(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(*command, "missing.lspec")
    assert code == 2 and "missing.lspec: No such file or directory" in err, (out, err)
    assert "Traceback" not in out + err
