"""The z3 engine against the explicit-state explorer (checker/interleave/explore.py).

Both decide the same question over the same semantics in different ways:
z3 over an event encoding with merged local steps and symmetry reduction,
the explorer by walking states. On a table of small specs (a third with a
planted bug, each with the verdict it must get) and on seeded random specs,
their verdicts must agree, with and without the z3 engine's reductions.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from checker.graph.engine import run_graph_engine
from checker.interleave.engine import run_interleaving_engine
from checker.interleave.explore import explore
from checker.interleave.semantics import scenario_threads
from checker.interleave.z3.search import SAT, UNSAT, Search, Settings
from checker.interleave.z3.threads import unfold
from checker.interleave.z3.witness import extract
from checker.runner import Options
from tests.conftest import DATA, compile_text

TABLE = sorted((DATA / "z3").glob("*.lspec"))
SHARED_TABLE = sorted((DATA / "interleave").glob("*.lspec"))


def z3_codes(program, scenario: str, reduce: bool = True) -> set[str]:
    graph, _ = run_graph_engine(program)
    findings, run = run_interleaving_engine(program, Options(), graph, reduce=reduce)
    assert run.outcome == "complete", run.detail
    return {f.code for f in findings if f.engine == "interleaving" and f.scenario == scenario}


def explorer_code(program, scenario) -> str:
    result = explore(program, scenario_threads(program, scenario))
    assert result.complete
    return result.violation.code if result.violation else "pass"


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_table_verdicts_agree(path: Path):
    program = compile_text(path.read_text(), path.name).program
    for scenario in program.scenarios:
        [expected] = [e.verdict for e in program.expectations if e.scenario == scenario.name]
        z3_reduced = z3_codes(program, scenario.name)
        assert z3_reduced == ({expected} if expected != "pass" else set())
        assert z3_codes(program, scenario.name, reduce=False) == z3_reduced
        assert explorer_code(program, scenario) == expected


def test_the_table_plants_enough_bugs():
    verdicts = [e.verdict for p in TABLE
                for e in compile_text(p.read_text(), p.name).program.expectations if e.scenario]
    planted = [v for v in verdicts if v != "pass"]
    assert len(verdicts) >= 30 and len(planted) * 3 >= len(verdicts)
    assert {"deadlock", "hang", "use-after-revoke", "use-after-free", "refcount", "assertion",
            "held-at-exit"} <= set(planted)


@pytest.mark.parametrize("path", SHARED_TABLE, ids=lambda p: p.stem)
def test_interleaving_specs_agree_with_the_explorer(path: Path):
    program = compile_text(path.read_text(), path.name).program
    for scenario in program.scenarios:
        code = explorer_code(program, scenario)
        codes = z3_codes(program, scenario.name)
        assert (code in codes) if code != "pass" else not codes


# ------------------------------------------------------------------ random specs

LOCKS = [("A", "mutex"), ("B", "mutex"), ("C", "spinlock"), ("R", "rwsem")]
OBJECTS = ["object f : flag", "object n : counter", "object c : completion",
           "object b : revocable", "object r : refcounted = 2", "object m : memory",
           "lock FL : spinlock", "object fe : fence(lock = FL)"]
ATOMS = ["set(f);", "clear(f);", "inc(n);", "dec(n);", "complete(c);", "revoke(b);", "map(b);",
         "unmap(b);", "attach(b);", "detach(b);", "kref_get(r);", "kref_put(r);", "access(r);",
         "access(m);", "kfree(m);", "dma_fence_signal(fe);", "assert !mapped(b);",
         "assert count(n) >= 0;", "assert !freed(m);", "if dma_fence_add_callback(fe, cb) { }",
         "complete_all(c);", "reinit_completion(c);", "if try_wait_for_completion(c) { set(f); }",
         "kref_init(r);", "kref_put(r, rel);", "if refcount_dec_and_test(r) { kfree(r); }",
         "if kref_get_unless_zero(r) { access(r); kref_put(r, rel); }"]
CONDITIONS = ["f", "!f", "revoked(b)", "count(n) > 0", "count(r) == 1", "signalled(fe)",
              "signalled(c)", "nondet()"]


def _statement(rng: random.Random, depth: int, held: set, context: str) -> list[str]:
    roll = rng.random()
    if roll < 0.3 and depth < 3:
        name, kind = rng.choice(LOCKS)
        if name in held or (kind in ("mutex", "rwsem") and context != "process"):
            return []
        take, drop = {"mutex": ("mutex_lock", "mutex_unlock"),
                      "spinlock": (rng.choice(["spin_lock", "spin_lock_irq"]), None),
                      "rwsem": (rng.choice(["down_read", "down_write"]), None)}[kind]
        drop = drop or {"spin_lock": "spin_unlock", "spin_lock_irq": "spin_unlock_irq",
                        "down_read": "up_read", "down_write": "up_write"}[take]
        if take == "spin_lock_irq" and context != "process":
            take, drop = "spin_lock", "spin_unlock"
        return [f"{take}({name});"] + _block(rng, depth + 1, held | {name}, context) + [
            f"{drop}({name});"]
    if roll < 0.4 and depth < 3:
        return [f"if {rng.choice(CONDITIONS)} {{"] + _block(rng, depth + 1, held, context) + [
            "} else {"] + _block(rng, depth + 1, held, context) + ["}"]
    if roll < 0.45 and context == "process" and not held:
        return ["wait_for_completion(c);"]
    if roll < 0.5 and context == "process":
        return ["schedule_work(work);"]
    return [rng.choice(ATOMS)]


def _block(rng: random.Random, depth: int, held: set, context: str) -> list[str]:
    out: list[str] = []
    for _ in range(rng.randint(0, 2)):
        out += _statement(rng, depth, held, context)
    return out


def random_spec(seed: int) -> str:
    rng = random.Random(seed)
    lines = ["import kernel"] + [f"lock {n} : {k}" for n, k in LOCKS] + OBJECTS
    lines.append("fn cb() { " + rng.choice(["complete(c);", "set(f);", "access(m);"]) + " }")
    lines.append("fn rel(o: refcounted) { " + rng.choice(["kfree(o);", "set(f);"]) + " }")
    lines.append("fn work() { " + " ".join(s for _ in range(2) for s in _statement(
        rng, 2, set(), "workqueue") if "schedule_work" not in s) + " }")
    threads = []
    for index in range(rng.randint(2, 3)):
        context = rng.choice(["process", "process", "hardirq", "softirq"])
        body = []
        while not body:
            body = _block(rng, 0, set(), context) + _block(rng, 0, set(), context)
        lines.append(f"path p{index} in {context} {{ " + " ".join(body) + " }")
        threads.append(f"p{index}(){rng.choice(['', ' @0', ' @1'])}")
    lines.append("scenario s = " + " || ".join(threads))
    return "\n".join(lines) + "\n"


def all_z3_violations(program, threads, reduce: bool) -> set:
    """Every first violation the z3 search reaches, as (code, site); stuck states as
    (code, None)."""
    search = Search(unfold(program, threads, reduce), Settings(), reduce)
    reported: set = set()
    while (answer := search.violation(reported)).result == SAT:
        violation = extract(search.rules, answer.model, "violation").violation
        reported.add((violation.code, violation.site))
    assert answer.result == UNSAT
    out = set(reported)
    for kind in ("deadlock", "hang"):
        answer = search.stuck(kind)
        assert answer.result in (SAT, UNSAT)
        if answer.result == SAT:
            out.add((extract(search.rules, answer.model, "stuck").violation.code, None))
    return out


def test_random_specs_agree_with_the_explorer():
    compared = violations = 0
    for seed in range(40):
        text = random_spec(seed)
        compiled = compile_text(text, f"random{seed}.lspec")
        assert not compiled.diagnostics, (text, compiled.diagnostics)
        program = compiled.program
        threads = scenario_threads(program, program.scenarios[0])
        result = explore(program, threads, max_states=20_000)
        if not result.complete:
            continue
        reduced = all_z3_violations(program, threads, reduce=True)
        assert all_z3_violations(program, threads, reduce=False) == reduced, text
        if result.violation is None:
            assert reduced == set(), text
        else:
            violation = result.violation
            site = None if violation.code in ("deadlock", "hang") else violation.site
            assert (violation.code, site) in reduced, text
            violations += 1
        compared += 1
    assert compared >= 30 and violations >= 8
