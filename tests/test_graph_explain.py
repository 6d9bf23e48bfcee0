"""Graph findings explain themselves: the shortest cycle, each edge's provenance, and
lockdep's "Possible unsafe locking scenario"; and they do not depend on spec order."""
from __future__ import annotations

import random

from checker.graph.engine import run_graph_engine
from model.pipeline import compile_spec
from tests.conftest import DATA, compile_text


def findings_of(text: str, name: str = "spec.lspec"):
    compiled = compile_text(text, name)
    assert compiled.diagnostics == (), [d.message for d in compiled.diagnostics]
    return run_graph_engine(compiled.program)


ABBA = """import kernel
lock A, B : mutex
path one in process { mutex_lock(A); mutex_lock(B); mutex_unlock(B); mutex_unlock(A); }
path two in process { mutex_lock(B); mutex_lock(A); mutex_unlock(A); mutex_unlock(B); }
"""


def test_design_second_example_reports_irq_inversion_with_a_scenario():
    path = DATA / "design" / "irqsafe4.lspec"
    compiled = compile_spec(str(path), path.read_bytes())
    findings, run = run_graph_engine(compiled.program)
    assert [f.code for f in findings] == ["irq-inversion"]
    finding = findings[0]
    assert finding.status == "potential"
    assert finding.locks == ("A", "B")
    assert finding.paths == ("e1", "e2", "e3")
    assert finding.unsafe_scenario == (
        (0, "lock(B);"), (1, "local_irq_disable();"), (1, "lock(A);"), (1, "lock(B);"),
        (0, "<Interrupt>"), (0, "  lock(A);"))
    assert "hardirq-safe `A` {IN-HARDIRQ-W} -> hardirq-unsafe `B` {HARDIRQ-ON-W}" in finding.message
    # the chain: where A became irq-safe, the A -> B edge, where B became irq-unsafe
    assert [link.span.line for link in finding.chain] == [6, 3, 5]
    assert run.detail.startswith("2 lock classes used, 1 dependencies over 3 threads")


def test_abba_explains_each_edge_and_prints_lockdeps_table():
    findings, _ = findings_of(ABBA)
    assert [f.code for f in findings] == ["deadlock"]
    finding = findings[0]
    assert finding.status == "potential" and finding.engine == "graph"
    assert finding.message == "circular lock dependency A -> B -> A"
    assert finding.locks == ("A", "B") and finding.paths == ("one", "two")
    assert (finding.span.line, finding.span.col) == (4, 38)       # two's mutex_lock(A)
    first, second = finding.chain
    assert first.text.startswith("A -> B [EN]: one takes `B` holding `A`")
    assert (first.span.line, first.span.col) == (3, 38)
    assert second.text.startswith("B -> A [EN]: two takes `A` holding `B`")
    assert "`B` taken at spec.lspec:4" in second.text
    assert finding.unsafe_scenario == ((0, "lock(B);"), (1, "lock(A);"), (1, "lock(B);"),
                                       (0, "lock(A);"))


def test_longer_cycles_say_the_chain_exists():
    findings, _ = findings_of("""import kernel
lock A, B, C : spinlock
path ab in process { spin_lock(A); spin_lock(B); spin_unlock(B); spin_unlock(A); }
path bc in process { spin_lock(B); spin_lock(C); spin_unlock(C); spin_unlock(B); }
path ca in process { spin_lock(C); spin_lock(A); spin_unlock(A); spin_unlock(C); }
""")
    (finding,) = findings
    assert finding.message == ("circular lock dependency A -> B -> C -> A "
                               "(chain exists of A --> B --> C)")
    assert finding.unsafe_scenario == ((0, "lock(C);"), (1, "lock(B);"), (1, "lock(C);"),
                                       (0, "lock(A);"))


def test_read_locks_print_as_rlock():
    findings, _ = findings_of("""import kernel
lock S : rwsem
lock M : mutex
path r in process { down_read(S); mutex_lock(M); mutex_unlock(M); up_read(S); }
path w in process { mutex_lock(M); down_read(S); up_read(S); mutex_unlock(M); }
""")
    (finding,) = findings
    # w's down_read(S) under M closes the cycle, as lockdep running r then w sees it.
    assert finding.message == "circular lock dependency S -> M -> S"
    assert finding.unsafe_scenario == ((0, "lock(M);"), (1, "lock(S);"), (1, "lock(M);"),
                                       (0, "rlock(S);"))


def test_the_witness_is_a_shortest_cycle():
    """One strongly connected component holding a 4-cycle and a 2-cycle through A."""
    findings, _ = findings_of("""import kernel
lock A, B, C, D : spinlock
path ab in process { spin_lock(A); spin_lock(B); spin_unlock(B); spin_unlock(A); }
path bc in process { spin_lock(B); spin_lock(C); spin_unlock(C); spin_unlock(B); }
path cd in process { spin_lock(C); spin_lock(D); spin_unlock(D); spin_unlock(C); }
path da in process { spin_lock(D); spin_lock(A); spin_unlock(A); spin_unlock(D); }
path ca in process { spin_lock(C); spin_lock(A); spin_unlock(A); spin_unlock(C); }
""")
    (finding,) = findings
    assert finding.message.startswith("circular lock dependency A -> B -> C -> A")
    assert len(finding.chain) == 3


def test_the_witness_is_the_shortest_cycle_of_the_component_even_away_from_its_start():
    findings, _ = findings_of("""import kernel
lock A, B, C, D : spinlock
path ab in process { spin_lock(A); spin_lock(B); spin_unlock(B); spin_unlock(A); }
path bc in process { spin_lock(B); spin_lock(C); spin_unlock(C); spin_unlock(B); }
path cd in process { spin_lock(C); spin_lock(D); spin_unlock(D); spin_unlock(C); }
path da in process { spin_lock(D); spin_lock(A); spin_unlock(A); spin_unlock(D); }
path dc in process { spin_lock(D); spin_lock(C); spin_unlock(C); spin_unlock(D); }
""")
    (finding,) = findings
    assert finding.message == "circular lock dependency C -> D -> C"


def test_inconsistent_state_and_recursion_tables():
    findings, _ = findings_of("""import kernel
lock A : spinlock
lock X1, X2 : mutex class X
path h in hardirq { spin_lock(A); spin_unlock(A); }
path p in process { spin_lock(A); spin_unlock(A); }
path r in process { mutex_lock(X1); mutex_lock(X2); mutex_unlock(X2); mutex_unlock(X1); }
""")
    by_code = {f.code: f for f in findings}
    assert set(by_code) == {"inconsistent-irq-state", "recursive-locking"}
    assert by_code["inconsistent-irq-state"].unsafe_scenario == (
        (0, "lock(A);"), (0, "<Interrupt>"), (0, "  lock(A);"))
    assert by_code["inconsistent-irq-state"].status == "confirmed"
    recursion = by_code["recursive-locking"]
    assert recursion.unsafe_scenario == ((0, "lock(X);"), (0, "lock(X);"))
    assert recursion.locks == ("X1", "X2")
    assert recursion.chain[0].span.line == 6


def test_findings_point_at_the_users_spec_not_the_prelude():
    findings, _ = findings_of("""import kernel
lock A : spinlock
lock M : mutex
fn helper() { mutex_lock(M); mutex_unlock(M); }
path p in process { spin_lock(A); helper(); spin_unlock(A); }
""", name="user.lspec")
    (finding,) = findings
    assert finding.span.file == "user.lspec" and finding.span.line == 4


def test_used_classes_only_are_counted():
    _, run = findings_of(ABBA)
    assert run.detail.startswith("2 lock classes used, 2 dependencies over 2 threads")


def _shuffled(text: str, seed: int) -> str:
    head, *lines = text.strip().splitlines()
    random.Random(seed).shuffle(lines)
    return "\n".join([head] + lines) + "\n"


def test_verdict_does_not_depend_on_spec_order():
    text = """import kernel
option lockdep_selftest
lock A, B, C : rwlock
lock S : spinlock
path e1 in process { local_irq_disable(); write_lock(A); spin_lock(S); spin_unlock(S); write_unlock(A); local_irq_enable(); }
path e2 in process { spin_lock(S); spin_unlock(S); }
path e3 in hardirq { read_lock(A); read_unlock(A); }
path e4 in process { write_lock(B); write_lock(C); write_unlock(C); write_unlock(B); }
path e5 in process { write_lock(C); write_lock(B); write_unlock(B); write_unlock(C); }
"""
    def summary(source: str):
        findings, _ = findings_of(source)
        return sorted((f.code, f.status, frozenset(f.locks), f.paths,
                       frozenset(link.text.split(" (")[0] for link in f.chain))
                      for f in findings)
    expected = summary(text)
    assert [entry[0] for entry in expected] == ["deadlock", "irq-inversion"]
    for seed in range(5):
        assert summary(_shuffled(text, seed)) == expected


def test_a_cycle_is_told_from_the_dependency_written_last():
    """lockdep reports a cycle when the acquisition that closes it runs, and prints
    CPU0 as the thread making it; paths written in the kernel's order read the same."""
    ab = "path ab in process { spin_lock(A); spin_lock(B); spin_unlock(B); spin_unlock(A); }\n"
    ba = "path ba in process { spin_lock(B); spin_lock(A); spin_unlock(A); spin_unlock(B); }\n"
    head = "import kernel\nlock A, B : spinlock\n"
    (ab_first,), _ = findings_of(head + ab + ba)
    assert ab_first.unsafe_scenario == ((0, "lock(B);"), (1, "lock(A);"), (1, "lock(B);"),
                                        (0, "lock(A);"))
    assert ab_first.span.line == 4 and ab_first.message.startswith("circular lock dependency A")
    (ba_first,), _ = findings_of(head + ba + ab)
    assert ba_first.unsafe_scenario == ((0, "lock(A);"), (1, "lock(B);"), (1, "lock(A);"),
                                        (0, "lock(B);"))
    assert ba_first.span.line == 4 and ba_first.message.startswith("circular lock dependency B")


def test_byte_identical_runs():
    first, _ = findings_of(ABBA)
    second, _ = findings_of(ABBA)
    assert repr(first) == repr(second)
