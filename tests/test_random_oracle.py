"""The differential oracle on random designs: lockspec against the exhaustive
explorer (tests/oracle.py), and a sample of the explorer against SPIN.

LOCKSPEC_ORACLE_SEED and LOCKSPEC_ORACLE_DESIGNS override the seed and the number
of designs; design k of a run is `random_designs.generate(seed + k)`, so a failure
reproduces from the seed it prints. The summary (count, seed, coverage, any
disagreement with its shrunk design) is printed whatever pytest captures.
"""
import multiprocessing
import os

import pytest

from checker.interleave.explore import explore_all
from checker.interleave.semantics import scenario_threads
from checker.spin.promela import render_promela
from checker.spin.run import run_spin, spin_available
from model.pipeline import compile_spec
from tests.oracle_run import DEFAULT_SEED, run_designs
from tests.random_designs import generate, render

SEED = int(os.environ.get("LOCKSPEC_ORACLE_SEED", DEFAULT_SEED))
COUNT = int(os.environ.get("LOCKSPEC_ORACLE_DESIGNS", 2000))
SPIN_SAMPLE = 20
SPIN_CANDIDATES = 28       # designs with a scenario, of which SPIN_SAMPLE must export

# Every feature the generator must exercise, in at least this share of the designs.
FEATURES = ("kind:mutex", "kind:spinlock", "kind:rwsem", "down_read", "rwsem:write",
            "trylock", "trylock-else", "max-depth=3", "max-depth=4", "planted:gate",
            "planted:abc-ca", "planted:read-cycle", "planted:abba", "context:hardirq",
            "context:softirq", "spin_lock_irqsave", "local_irq_disable", "revocable",
            "check-then-act", "scenario", "no-scenario", "scenario:2-instances",
            "locks=2", "locks=5", "paths=2", "paths=4", "refcounted", "refcounted:parked",
            "ref:lookup", "ref:drop", "ref:rearm", "ref:put", "completion", "completion:wait",
            "completion:complete", "completion:complete_all", "completion:timed",
            "completion:reinit", "kind:rwlock(read = queued)", "kind:rwlock(read = recursive)",
            "read_lock:(read = queued)", "read_lock:(read = recursive)", "published",
            "kind:srcu", "rcu_read_lock", "rcu_read_lock_bh", "srcu_read_lock", "guarded-use",
            "access:rcu-reader", "access:srcu-reader", "access:implicit-rcu-reader",
            "mem:unpublish", "mem:free", "synchronize_rcu", "synchronize_srcu",
            "synchronize-under-lock", "synchronize-in-reader", "work", "work:takes-lock",
            "work:uses-object", "schedule_work", "flush_work", "flush_workqueue",
            "flush-under-lock", "cancel_work_sync", "mem:free_rcu", "mem:call_rcu",
            "let-snapshot", "waitqueue", "waitqueue:wait", "waitqueue:timed", "waitqueue:wake",
            "waitqueue:wake_early", "waitqueue:set_only", "pointer", "pointer-read",
            "pointer-read:unchecked", "kthread_run", "kthread_stop", "kthread_feed",
            "kthread:wait-right", "kthread:wait-wrong", "kthread:wait-none",
            "kthread_stop-under-lock", "kthread:parks", "kthread_park", "kthread_park_only",
            "work:item")
MIN_SHARE = 0.02


@pytest.fixture(scope="module")
def summary():
    return run_designs(SEED, COUNT, workers=2, shrink_seconds=20)


def test_random_designs_agree_with_the_explorer(summary, record_property):
    # Printed at the end of the run by tests/conftest.py, so the figures show without
    # -s and from whichever pytest-xdist worker ran this test.
    record_property("oracle_summary", summary.report())
    assert summary.count >= 2000 or "LOCKSPEC_ORACLE_DESIGNS" in os.environ
    assert not summary.failures, summary.report()


def test_generator_coverage(summary):
    missing = {f: summary.coverage[f] for f in FEATURES
               if summary.coverage[f] < MIN_SHARE * summary.count}
    assert not missing, f"features below {MIN_SHARE:.0%} of the designs: {missing}"


def _spin_seeds(count: int) -> list[int]:
    """The first `count` seeds from SEED whose design has a scenario."""
    seeds: list[int] = []
    seed = SEED
    while len(seeds) < count:
        if generate(seed).scenario:
            seeds.append(seed)
        seed += 1
    return seeds


def _spin_case(seed: int):
    """(seed, explorer codes, SPIN verdict) for a design with a scenario, or None."""
    design = generate(seed)
    program = compile_spec(f"seed{seed}.lspec", render(design).encode()).program
    explored = explore_all(program, scenario_threads(program, program.scenarios[0]),
                           max_states=20_000)
    if not explored.complete:
        return None
    text, problems = render_promela(program, "s")
    if problems:
        return None
    return seed, explored.codes(), run_spin(text, timeout=120)


def test_spin_agrees_with_the_explorer_on_a_sample():
    if not spin_available():
        if os.environ.get("CI") == "true":
            pytest.fail("spin and gcc are required when CI=true")
        pytest.skip("spin or gcc is not installed")
    with multiprocessing.get_context("fork").Pool(2) as pool:
        cases = [c for c in pool.imap(_spin_case, _spin_seeds(SPIN_CANDIDATES)) if c is not None]
    cases = cases[:SPIN_SAMPLE]
    assert len(cases) == SPIN_SAMPLE
    for seed, codes, spin in cases:
        assert spin.verdict is not None, (seed, spin.detail)
        if codes:
            assert spin.verdict in codes, (seed, codes, spin.verdict)
        else:
            assert spin.verdict == "pass", (seed, spin.verdict)
