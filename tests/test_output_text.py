"""Text output: lockdep's banner, chain, CPU table and the witness; golden files."""
from __future__ import annotations

import dataclasses
import io
import re

from checker.findings import Finding, Step
from checker.report.text import scenario_table, witness_listing
from model.span import Span
from tests.output_fixtures import check_golden, private_cache, run_cli, simulated, spec  # noqa: F401

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_abba_golden(simulated):
    code, out, err = run_cli("check", spec("abba.lspec"))
    assert code == 1, err
    check_golden("abba.txt", out)


def test_mixed_run_golden(simulated):
    code, out, err = run_cli("check", spec("abba.lspec"), spec("abba_expected.lspec"),
                             spec("ordered.lspec"))
    assert code == 1, err
    check_golden("mixed.txt", out)


def test_spec_errors_are_located_and_outrank_findings(simulated):
    code, out, _ = run_cli("check", spec("abba.lspec"), spec("broken.lspec"))
    assert code == 2
    assert re.search(r"broken\.lspec:4:\d+: error\[syntax-error\]", out)
    assert "broken.lspec: ERROR" in out and out.splitlines()[-1].startswith(
        "2 specs: 0 passed, 1 failed, 1 with errors")


def test_abba_reads_like_lockdep(simulated):
    code, out, _ = run_cli("check", spec("abba.lspec"))
    lines = out.splitlines()
    title = "WARNING: possible circular locking dependency detected"
    at = lines.index(title)
    assert lines[at - 1] == "=" * len(title) and lines[at + 1] == "-" * len(title)
    assert " Possible unsafe locking scenario:" in lines
    header = next(line for line in lines if line.startswith("       CPU0"))
    assert header.index("CPU1") == 31           # lockdep's column for CPU1
    assert " *** DEADLOCK ***" in lines
    chain = [line for line in lines if line.startswith("-> #")]
    assert len(chain) == 2 and all(re.search(r"abba\.lspec:\d+:\d+: ", line) for line in chain)
    assert "verdict: confirmed: an interleaving reaches it (replayed)" in out
    assert "exhaustive to depth" in out
    assert lines[-1].startswith("1 spec: 0 passed, 1 failed")


def test_witness_has_a_column_per_thread(simulated):
    _, out, _ = run_cli("check", spec("abba.lspec"))
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("witness interleaving")))
    header = lines[start + 1]
    assert "CPU0 t1#1" in header and "CPU1 t2#1" in header
    column = header.index("CPU1 t2#1")
    count = int(re.search(r"\((\d+) steps\)", lines[start]).group(1))
    rows = lines[start + 2:start + 2 + count]
    blocked = lines[start + 2 + count]
    assert count == 2 and blocked.startswith("   *  blocked on B")
    assert blocked.index("blocked on A") == column        # the deadlock, in each column
    assert blocked.endswith("(B is held by t2#1; A is held by t1#1)")
    assert rows[0].split()[1:3] == ["acquire", "A"] and rows[0].index("acquire") < column
    assert rows[1].index("acquire") == column     # t2's step sits in t2's column
    assert all(re.search(r"abba\.lspec:\d+$", row) for row in rows)


def test_colour_only_on_a_terminal(simulated, monkeypatch):
    _, plain, _ = run_cli("check", spec("abba.lspec"))
    assert not ANSI.search(plain)
    _, coloured, _ = run_cli("check", spec("abba.lspec"), stdout=FakeTerminal())
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain
    _, forced, _ = run_cli("check", "--color", "always", spec("abba.lspec"))
    assert ANSI.search(forced)
    monkeypatch.setenv("NO_COLOR", "1")
    _, no_colour, _ = run_cli("check", spec("abba.lspec"), stdout=FakeTerminal())
    assert not ANSI.search(no_colour)


def test_expected_findings_are_one_line_unless_verbose(simulated):
    _, short, _ = run_cli("check", spec("abba_expected.lspec"))
    assert "expected[deadlock]" in short and "Possible unsafe" not in short
    assert "= expected by an `expect` line" in short
    _, full, _ = run_cli("check", "--verbose", spec("abba_expected.lspec"))
    assert "Possible unsafe locking scenario" in full and "witness interleaving" in full


def test_interrupt_table_and_three_cpus():
    span = Span("x.lspec", 1, 1, 1, 2)
    finding = Finding("irq-inversion", "m", span, "graph", unsafe_scenario=(
        (0, "lock(B);"), (1, "local_irq_disable();"), (1, "lock(A);"), (1, "lock(B);"),
        (0, "<Interrupt>"), (0, "  lock(A);")))
    table = scenario_table(finding)
    assert table[0] == " Possible interrupt unsafe locking scenario:"
    assert table[-1] == " *** DEADLOCK ***"
    three = Finding("deadlock", "m", span, "graph", unsafe_scenario=(
        (0, "lock(A);"), (1, "lock(B);"), (2, "lock(C);")))
    lines = scenario_table(three)
    assert lines[2].index("CPU2") == 60 and lines[6].index("lock(C);") == 60


def test_long_actions_are_cut_to_the_column():
    span = Span("x.lspec", 3, 1, 3, 2)
    witness = (Step("a#1", 0, "acquire " + "x" * 80, span), Step("b#1", 1, "release y", span))
    finding = Finding("deadlock", "m", span, "z3", witness=witness)
    listing = witness_listing(finding)
    assert "~" in listing[1] and listing[2].index("release") == listing[0].index("CPU1 b#1")


def test_real_engines_abba_shows_the_scenario_and_the_witness():
    """DESIGN's first promise, end to end with the real engines: an ABBA deadlock is
    reported with lockdep's CPU0/CPU1 table and a witness interleaving."""
    code, out, _ = run_cli("check", spec("abba.lspec"))
    assert code == 1
    assert "WARNING: possible circular locking dependency detected" in out
    assert " Possible unsafe locking scenario:" in out and " *** DEADLOCK ***" in out
    assert re.search(r"witness interleaving \(\d+ steps\):", out)
    assert "verdict: confirmed" in out


def test_a_read_wait_ends_the_witness_in_its_column():
    """The interleaving states a reader's wait as "`L` for read, held by ..."."""
    span = Span("x.lspec", 3, 1, 3, 2)
    witness = (Step("r#1", 0, "acquire M", span), Step("w#1", 1, "acquire S", span))
    finding = Finding("deadlock", "every thread is blocked: r#1 waits: `S` for read, held by "
                      "w#1; w#1 waits: `M`, held by r#1", span, "interleaving", witness=witness)
    end = witness_listing(finding)[-1]
    assert end.startswith("   *  blocked on S") and "blocked on M" in end
    assert end.endswith("(S is held by w#1; M is held by r#1)")


def test_a_confirmed_graph_finding_ends_its_witness_with_the_stuck_state():
    """lockdep's message stays the finding's; the stuck state its interleaving ends in
    is kept aside and drawn as the witness's last row, one note per lock and holder."""
    span = Span("x.lspec", 3, 1, 3, 2)
    witness = (Step("e1#1", 0, "acquire A", span), Step("e2#1", 1, "acquire B", span),
               Step("e3#1", 1, "hardirq starts", span, "interrupts the CPU"))
    stuck = ("every thread is blocked: e1#1 waits: `B`, held by e2#1; e2#1 waits: interrupted "
             "by e3#1; e3#1 waits: `A`, held by e1#1; e3#2 waits: `A`, held by e1#1")
    finding = Finding("irq-inversion", "hardirq-safe `A` -> hardirq-unsafe `B`", span, "graph",
                      witness=witness, end_state=stuck)
    end = witness_listing(finding)[-1]
    assert end.split()[1:] == ["blocked", "on", "B", "interrupted", "blocked", "on", "A",
                               "(B", "is", "held", "by", "e2#1;", "A", "is", "held", "by",
                               "e1#1)"]
    assert witness_listing(dataclasses.replace(finding, end_state=""))[-1].startswith("   3")
