"""The CI gate: [tool.lockspec] with command-line precedence, fail-on, baselines,
the result cache, parallel checking and the progress bar."""
from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from checker import runner
from checker.progress import Progress
from tests.output_fixtures import (SPECS, lock_simulation, private_cache, run_cli,  # noqa: F401
                                   simulated)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory with specs/ and a pyproject.toml, as the working directory."""
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    for name in ("abba.lspec", "abba_expected.lspec", "ordered.lspec"):
        shutil.copy(SPECS / name, root / "specs" / name)
    monkeypatch.chdir(root)
    return root


def pyproject(root: Path, table: str) -> None:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.lockspec]\n{table}\n")


# ---------------------------------------------------------------- configuration

def test_config_supplies_paths_and_format(simulated, project):
    pyproject(project, 'paths = ["specs/ordered.lspec"]\nformat = "json"')
    code, out, _ = run_cli("check")
    assert code == 0 and json.loads(out)["files"][0]["path"] == "specs/ordered.lspec"


def test_command_line_wins_over_config(simulated, project):
    pyproject(project, 'paths = ["specs/ordered.lspec"]\nformat = "json"')
    code, out, _ = run_cli("check", "--format", "text", "specs/abba.lspec")
    assert code == 1 and out.splitlines()[-1].startswith("1 spec: 0 passed, 1 failed")


def test_config_is_found_from_a_subdirectory(simulated, project, monkeypatch):
    pyproject(project, 'paths = ["specs/abba_expected.lspec"]')
    monkeypatch.chdir(project / "specs")
    code, out, _ = run_cli("check")
    assert code == 0 and "abba_expected.lspec: PASS" in out


def test_fail_on_from_config_and_command_line(project):
    # Only the graph engine: its ABBA is `potential`.
    pyproject(project, 'paths = ["specs/abba.lspec"]\nengines = ["graph"]\nfail-on = ["confirmed"]')
    code, out, _ = run_cli("check")
    assert code == 0 and "warning[deadlock]" in out
    assert "potential findings do not fail this run (fail-on: confirmed)" in out
    code, _, _ = run_cli("check", "--fail-on", "confirmed,potential")
    assert code == 1


def test_bad_config_is_a_usage_error_listing_every_problem(project):
    pyproject(project, 'paths = "specs"\nbound = true\ncolour = "red"\nfail-on = ["maybe"]')
    code, _, err = run_cli("check", "specs")
    assert code == 2
    for text in ("`paths` must be a list", "`bound` must be a positive integer",
                 "unknown key `colour`", "unknown: maybe"):
        assert text in err


def test_no_paths_anywhere_is_a_usage_error(project):
    code, _, err = run_cli("check")
    assert code == 2 and "no spec files given" in err


def test_budgets_reach_the_engines(project, monkeypatch):
    seen = []

    def spy(program, options, findings):
        seen.append((options.bound, options.timeout, options.rlimit, options.fail_on))
        return lock_simulation(program, options, findings)
    monkeypatch.setattr(runner, "engine_table", lambda: {"spy": spy})
    pyproject(project, 'bound = 40\ntimeout = 5\nrlimit = 1000000\nfail-on = ["confirmed"]')
    run_cli("check", "--no-cache", "specs/ordered.lspec")
    run_cli("check", "--no-cache", "--bound", "7", "--timeout", "1.5", "specs/ordered.lspec")
    assert seen == [(40, 5.0, 1000000, ("confirmed",)), (7, 1.5, 1000000, ("confirmed",))]


# ---------------------------------------------------------------- baselines

def baseline_file(root: Path, body: str, suffix: str = ".toml") -> str:
    path = root / f"lockspec-baseline{suffix}"
    path.write_text(body)
    return path.name


ACCEPT_ABBA = ('[[finding]]\ncode = "deadlock"\nfile = "specs/abba.lspec"\nlocks = ["B", "A"]\n'
               'justification = "A and B are never taken in interrupt context and t2 runs '
               'only at probe"\n')


def test_baselined_finding_does_not_fail_but_a_new_one_does(simulated, project):
    name = baseline_file(project, ACCEPT_ABBA)
    code, out, _ = run_cli("check", "--baseline", name, "specs/abba.lspec")
    assert code == 0 and "baselined[deadlock]" in out and "runs only at probe" in out
    shutil.copy(project / "specs" / "abba.lspec", project / "specs" / "abba2.lspec")
    code, out, _ = run_cli("check", "--baseline", name, "specs/abba.lspec", "specs/abba2.lspec")
    assert code == 1 and "abba2.lspec:15:5: error[deadlock]" in out


def test_baseline_in_json_and_from_config(simulated, project):
    entry = {"code": "deadlock", "file": "specs/abba.lspec", "locks": ["A", "B"],
             "justification": "known, fixed by the next series"}
    name = baseline_file(project, json.dumps({"finding": [entry]}), ".json")
    pyproject(project, f'baseline = "{name}"')
    code, out, _ = run_cli("check", "--format", "json", "specs/abba.lspec")
    finding = json.loads(out)["files"][0]["findings"][0]
    assert code == 0 and finding["disposition"] == "baselined"
    assert finding["baseline"]["justification"] == "known, fixed by the next series"


def test_entry_without_justification_is_a_usage_error(simulated, project):
    name = baseline_file(project, ACCEPT_ABBA.replace("justification", "#") +
                         '[[finding]]\ncode = "deadlock"\nfile = "x.lspec"\nmessage = "m"\n'
                         'justification = "   "\n')
    code, _, err = run_cli("check", "--baseline", name, "specs/abba.lspec")
    assert code == 2
    assert err.count("no justification") == 2


def test_unused_entry_is_reported(simulated, project):
    name = baseline_file(project, ACCEPT_ABBA.replace('locks = ["B", "A"]', 'locks = ["C"]'))
    code, _, err = run_cli("check", "--baseline", name, "specs/abba.lspec")
    assert code == 1 and "entry 1 (deadlock in specs/abba.lspec) matches no finding" in err


# ---------------------------------------------------------------- cache

def counting_engine(monkeypatch) -> list[str]:
    calls: list[str] = []

    def engine(program, options, findings):
        calls.append(Path(program.file).name)
        return lock_simulation(program, options, findings)
    monkeypatch.setattr(runner, "engine_table", lambda: {"lock-simulation": engine})
    return calls


def test_unchanged_spec_is_not_solved_again(project, monkeypatch):
    calls = counting_engine(monkeypatch)
    first = run_cli("check", "specs/abba.lspec", "specs/ordered.lspec")
    second = run_cli("check", "specs/abba.lspec", "specs/ordered.lspec")
    assert calls == ["abba.lspec", "ordered.lspec"]
    assert first == second
    assert run_cli("check", "--format", "sarif", "specs/abba.lspec")[0] == 1
    assert calls == ["abba.lspec", "ordered.lspec"]        # another format, same result


def test_cache_misses_on_changed_spec_import_or_options(project, monkeypatch):
    calls = counting_engine(monkeypatch)
    (project / "specs" / "locks.lspec").write_text("lock A, B : spinlock\n")
    (project / "specs" / "user.lspec").write_text(
        "import kernel\nimport locks\npath t1 in process { spin_lock(A); spin_unlock(A); }\n"
        "scenario s = t1()\n")
    run_cli("check", "specs/user.lspec")
    run_cli("check", "specs/user.lspec")
    assert calls == ["user.lspec"]
    (project / "specs" / "locks.lspec").write_text("lock A, B, C : spinlock\n")
    run_cli("check", "specs/user.lspec")
    assert calls == ["user.lspec"] * 2                   # an imported module changed
    run_cli("check", "--bound", "3", "specs/user.lspec")
    assert calls == ["user.lspec"] * 3                   # the options changed
    run_cli("check", "--no-cache", "specs/user.lspec")
    assert calls == ["user.lspec"] * 4
    other: list[str] = []
    monkeypatch.setattr(runner, "engine_table", lambda: {"lock-simulation": (
        lambda program, options, findings: (other.append("x"), lock_simulation(
            program, options, findings))[1])})
    run_cli("check", "specs/user.lspec")
    assert other == ["x"]                                # another engine under the same name


def test_cache_lives_under_xdg_cache_home_or_the_project(project, monkeypatch, tmp_path):
    counting_engine(monkeypatch)
    run_cli("check", "specs/ordered.lspec")
    assert list((tmp_path / "xdg-cache" / "lockspec").rglob("*.json"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    pyproject(project, "")
    run_cli("check", "specs/ordered.lspec")
    assert list((project / ".lockspec-cache").rglob("*.json"))


def test_corrupt_cache_entry_is_a_miss(project, monkeypatch, tmp_path):
    calls = counting_engine(monkeypatch)
    run_cli("check", "specs/ordered.lspec")
    for entry in (tmp_path / "xdg-cache").rglob("*.json"):
        entry.write_text("{not json")
    assert run_cli("check", "specs/ordered.lspec")[0] == 0
    assert calls == ["ordered.lspec", "ordered.lspec"]


# ---------------------------------------------------------------- parallel checking

def test_jobs_give_the_same_output_in_the_same_order(project):
    for index in range(4):
        shutil.copy(SPECS / "abba.lspec", project / "specs" / f"z{index}.lspec")
    serial = run_cli("check", "--no-cache", "--format", "json", "specs")
    parallel = run_cli("check", "--no-cache", "--jobs", "3", "--format", "json", "specs")
    assert parallel == serial
    paths = [f["path"] for f in json.loads(parallel[1])["files"]]
    assert paths == sorted(paths) and len(paths) == 7
    text = run_cli("check", "--no-cache", "--jobs", "3", "specs")
    status_lines = re.findall(r"^(\S+\.lspec): (?:PASS|FAIL|ERROR|INCONCLUSIVE)\b", text[1],
                              re.M)
    assert status_lines == paths


# ---------------------------------------------------------------- progress bar

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_off_a_terminal_and_erased_on_one():
    quiet = io.StringIO()
    with Progress(quiet, 3, delay=0.0) as progress:
        progress.working_on("a.lspec")
        progress.advance()
    assert quiet.getvalue() == ""
    terminal = Terminal()
    with Progress(terminal, 2, delay=0.0) as progress:
        progress.working_on("specs/a.lspec")
        progress.advance()
        progress.stopped.wait(0.35)                   # let it draw a few frames
    drawn = terminal.getvalue()
    assert "1/2 specs" in drawn and "specs/a.lspec" in drawn
    assert drawn.endswith("\r\x1b[K")                  # erased at the end


def test_no_progress_for_checks_under_a_second():
    terminal = Terminal()
    with Progress(terminal, 1) as progress:         # the default delay: one second
        progress.advance()
    assert terminal.getvalue() == ""


def test_cached_results_round_trip_exactly():
    from checker.cache import decode_result, encode_result
    from checker.findings import CONFIRMED, EngineRun, FileResult, Finding, Link, Step, Unmet
    from model.span import Span
    at = Span("s.lspec", 3, 5, 3, 17)
    finding = Finding("deadlock", "cycle", at, "z3", status=CONFIRMED, locks=("A", "B"),
                      paths=("t1", "t2"), scenario="race", chain=(Link("A -> B", at),),
                      unsafe_scenario=((0, "lock(A);"), (1, "lock(B);")),
                      witness=(Step("t1#1", 0, "acquire A", at, "note"),
                               Step("irq#1", None, "hardirq starts", at)), reason="r")
    result = FileResult(path="s.lspec", status="fail", findings=[finding],
                        engines=[EngineRun("z3", "complete", "proved", True, 12)],
                        unmet=[Unmet("race", "hang", at)])
    document = json.loads(json.dumps(encode_result(result)))
    again = decode_result(document, FileResult(path="s.lspec"))
    assert again.findings == [finding] and again.engines == result.engines
    assert again.unmet == result.unmet and again.status == "fail"
    assert hash(again.findings[0]) == hash(finding)
