"""The explicit-state explorer: verdicts on the small specs, with and without the
partial-order reduction, and witnesses that replay."""
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.interleave.explore import explore, explore_scenario
from checker.interleave.semantics import scenario_threads
from checker.interleave.simulate import replay
from tests.conftest import DATA, compile_text

SPECS = sorted((DATA / "interleave").glob("*.lspec"))
DESIGN = DATA / "design" / "vfio_dmabuf_revoke.lspec"


def load(path: Path, text: str | None = None):
    compiled = compile_text(text if text is not None else path.read_text(), str(path))
    assert compiled.diagnostics == (), compiled.diagnostics
    return compiled.program


def expected_verdict(program) -> str:
    verdicts = {e.verdict for e in program.expectations}
    assert len(verdicts) == 1
    return verdicts.pop()


def verdict(result) -> str:
    return result.violation.code if result.violation else "pass"


def assert_replays(program, result):
    threads = scenario_threads(program, program.scenarios[0])
    replayed = replay(program, threads, list(result.events))
    assert replayed.error is None
    assert replayed.violation == result.violation


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
@pytest.mark.parametrize("por", [True, False], ids=["por", "full"])
def test_small_spec_verdicts(path, por):
    program = load(path)
    result = explore_scenario(program, por=por)
    assert result.complete
    assert verdict(result) == expected_verdict(program)
    if result.violation:
        assert_replays(program, result)


def test_planted_bugs_are_a_third_of_the_table():
    bugs = [p for p in SPECS if expected_verdict(load(p)) != "pass"]
    assert len(bugs) * 3 >= len(SPECS) - 1


def test_design_example_is_proved():
    result = explore_scenario(load(DESIGN))
    assert result.complete and result.violation is None and result.states > 100


def test_design_example_revoked_check_outside_the_lock():
    text = DESIGN.read_text().replace(
        "    mmap_read_lock();\n    down_read(memory_lock);\n"
        "    if revoked(b) { up_read(memory_lock); mmap_read_unlock(); return; }\n",
        "    if revoked(b) { return; }\n    mmap_read_lock();\n    down_read(memory_lock);\n")
    program = load(DESIGN, text)
    result = explore_scenario(program)
    assert verdict(result) == "use-after-revoke"
    assert_replays(program, result)


def test_design_example_without_zap():
    program = load(DESIGN, DESIGN.read_text().replace("    zap(b);\n", ""))
    result = explore_scenario(program)
    assert verdict(result) == "assertion"
    assert result.violation.message == "assert !mapped(b) fails"
    assert_replays(program, result)


def test_reduction_visits_fewer_states():
    program = load(DATA / "interleave" / "ring_ordered.lspec")
    reduced, full = explore_scenario(program), explore_scenario(program, por=False)
    assert reduced.states < full.states


def test_state_budget_makes_the_result_incomplete():
    result = explore_scenario(load(DATA / "interleave" / "ring_ordered.lspec"), max_states=10)
    assert not result.complete and result.violation is None
    assert "budget" in result.summary()


# ------------------------------------------------------------ random specs, POR vs full

# (take, drop) verb pairs over two rwsems and a mutex
TAKES = (("down_read(A)", "up_read(A)"), ("down_write(A)", "up_write(A)"),
         ("down_read(B)", "up_read(B)"), ("down_write(B)", "up_write(B)"),
         ("mutex_lock(M)", "mutex_unlock(M)"))


@st.composite
def thread_bodies(draw):
    body, held = [], []
    for _ in range(draw(st.integers(1, 4))):
        if held and draw(st.booleans()):
            body.append(held.pop())
            continue
        take, drop = draw(st.sampled_from(TAKES))
        body.append(take)
        held.append(drop)
        if draw(st.integers(0, 4)) == 0:
            body.append("if revoked(buf) { } else { map(buf); }")
        if draw(st.integers(0, 5)) == 0:
            body.append("revoke(buf);")
    if draw(st.integers(0, 3)) > 0:     # usually release everything
        body += reversed(held)
    return " ".join(s if s.endswith("}") or s.endswith(";") else s + ";" for s in body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(thread_bodies(), min_size=2, max_size=3))
def test_reduction_preserves_violations(bodies):
    text = "import kernel\nlock A, B : rwsem\nlock M : mutex\nobject buf : revocable\n"
    for number, body in enumerate(bodies):
        text += f"path t{number} in process {{ {body} }}\n"
    text += "scenario s = " + " || ".join(f"t{n}()" for n in range(len(bodies))) + "\n"
    program = load(Path("random.lspec"), text)
    threads = scenario_threads(program, program.scenarios[0])
    reduced, full = explore(program, threads), explore(program, threads, por=False)
    assert (reduced.violation is None) == (full.violation is None)
    for result in (reduced, full):
        if result.violation:
            assert replay(program, threads, list(result.events)).violation == result.violation


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(thread_bodies(), thread_bodies(), st.booleans())
def test_symmetry_finds_the_same_violation_by_the_same_events(first, second, irq):
    """Two copies of a path on CPUs of their own (each with an interrupt, maybe) and
    another path: skipping states whose CPU-swapped image was visited changes
    nothing but the number of states."""
    text = ("import kernel\nlock A, B : rwsem\nlock M : mutex\nobject buf : revocable\n"
            f"path t0 in process {{ {first} }}\npath t1 in process {{ {second} }}\n"
            "path h in hardirq { if revoked(buf) { } else { map(buf); } }\n")
    threads = ["t0() @0", "t0() @1", "t1() @2"] + (["h() @0", "h() @1"] if irq else [])
    program = load(Path("random.lspec"), text + "scenario s = " + " || ".join(threads) + "\n")
    world = scenario_threads(program, program.scenarios[0])
    plain = explore(program, world, symmetry=False)
    folded = explore(program, world)
    assert (folded.violation, folded.events) == (plain.violation, plain.events)
    assert folded.complete == plain.complete and folded.states <= plain.states


def test_symmetry_visits_fewer_states_where_cpus_are_interchangeable():
    text = ("import kernel\nlock A, B : mutex\n"
            "path ab in process { mutex_lock(A); mutex_lock(B); mutex_unlock(B); "
            "mutex_unlock(A); }\n"
            "path ba in process { mutex_lock(B); mutex_lock(A); mutex_unlock(A); "
            "mutex_unlock(B); }\nscenario s = 2 * ab() || 2 * ba()\n")
    program = load(Path("abba.lspec"), text)
    world = scenario_threads(program, program.scenarios[0])
    plain, folded = explore(program, world, symmetry=False), explore(program, world)
    assert folded.violation is not None and folded.violation.code == "deadlock"
    assert (folded.violation, folded.events) == (plain.violation, plain.events)
    assert folded.states < plain.states
