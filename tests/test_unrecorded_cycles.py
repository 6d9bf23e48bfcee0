"""Cycles lockdep's graph does not record (checker/interleave/unrecorded.py): the
graph engine keeps lockdep's verdict, and the interleaving engine decides them."""
from checker.graph.engine import run_graph_engine
from checker.runner import Options, check_file
from tests.conftest import DATA, compile_text

HIDDEN = DATA / "oracle" / "recursive_read_hides_abba.lspec"
GATED = """import kernel
lock G : mutex
lock A : rwlock(read = recursive)
lock B : spinlock
lock D : rwlock(read = recursive)
path p0 in process { mutex_lock(G); write_lock(A); read_lock(D); spin_lock(B);
                     spin_unlock(B); read_unlock(D); write_unlock(A); mutex_unlock(G); }
path p1 in process { mutex_lock(G); spin_lock(B); write_lock(A); write_unlock(A);
                     spin_unlock(B); mutex_unlock(G); }
"""


def test_lockdep_reports_no_cycle_through_a_recursive_read():
    program = compile_text(HIDDEN.read_text(), str(HIDDEN)).program
    findings, _ = run_graph_engine(program)
    assert [f for f in findings if f.code == "deadlock"] == []


def test_the_interleaving_engine_confirms_the_deadlock_lockdep_misses():
    result = check_file(str(HIDDEN), HIDDEN.read_bytes(), Options())
    (finding,) = [f for f in result.findings if f.code == "deadlock"]
    assert finding.engine == "interleaving" and finding.status == "confirmed"
    assert set(finding.locks) == {"A", "B"} and finding.witness
    assert finding.unsafe_scenario[0] == (0, "lock(B);")
    assert result.unmet == []


def test_a_refuted_unrecorded_cycle_is_not_reported(tmp_path):
    """The gate lock G serialises p0 and p1: the whole world refutes the cycle, and
    lockdep has nothing to say either, so neither does lockspec."""
    spec = tmp_path / "gated.lspec"
    spec.write_text(GATED)
    result = check_file(str(spec), GATED.encode(), Options())
    assert result.findings == []
    interleaving = next(run for run in result.engines if run.name == "interleaving")
    assert "cycle A -> B -> A: refuted in world(" in interleaving.detail
