"""`--format github`: workflow-command annotations on the spec lines."""
from __future__ import annotations

import re

from checker.report.github import command, escape_data, escape_property
from model.span import Span
from tests.output_fixtures import private_cache, run_cli, simulated, spec  # noqa: F401

COMMAND = re.compile(r"^::(error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


def annotations(out: str) -> list[dict]:
    found = []
    for line in out.splitlines():
        match = COMMAND.match(line)
        if match:
            props = dict(item.split("=", 1) for item in match.group("props").split(","))
            found.append({"kind": match.group(1), **props, "message": match.group("message")})
    return found


def test_abba_annotates_the_blocking_line(simulated):
    code, out, _ = run_cli("check", "--format", "github", spec("abba.lspec"),
                           spec("abba_expected.lspec"))
    assert code == 1
    (note,) = annotations(out)          # the expected finding is not annotated
    assert note["kind"] == "error" and note["file"] == spec("abba.lspec")
    assert (note["line"], note["col"]) == ("15", "5")
    source = open(spec("abba.lspec")).read().splitlines()[14]
    assert source.strip() == "spin_lock(A);"
    assert note["title"] == "lockspec deadlock"
    assert note["message"].startswith("ABBA deadlock A -> B -> A [scenario race]%0Averdict: ")
    assert "%0A#0 tests/data/reports/abba.lspec:9: A -> B in t1 (holding A)" in note["message"]
    assert out.splitlines()[-1].startswith("2 specs: 1 passed, 1 failed")


def test_spec_errors_are_errors_at_their_line(simulated):
    code, out, _ = run_cli("check", "--format", "github", spec("broken.lspec"))
    (note,) = annotations(out)
    assert code == 2 and note["kind"] == "error" and note["line"] == "4"
    assert note["title"] == "lockspec syntax-error"


def test_potential_outside_fail_on_is_a_warning():
    code, out, _ = run_cli("check", "--format", "github", "--engines", "graph",
                           "--fail-on", "confirmed", spec("abba.lspec"))
    notes = annotations(out)
    assert code == 0 and notes and {n["kind"] for n in notes} == {"warning"}


def test_escaping_keeps_one_command_per_line():
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"
    line = command("error", Span("dir,x:y.lspec", 3, 2, 3, 9), "t,i:t", "one\n::error::two")
    assert line == ("::error file=dir%2Cx%3Ay.lspec,line=3,col=2,endLine=3,endColumn=9,"
                    "title=t%2Ci%3At::one%0A::error::two")
    assert "\n" not in line
