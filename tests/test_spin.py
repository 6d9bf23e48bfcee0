"""SPIN, side by side: on a table of small specs (a third with planted bugs),
lockspec's verdict equals SPIN's on the exported Promela model.

lockspec's verdict comes from the interleaving engine once it is implemented
(and from the explicit-state explorer in any case). With CI=true these tests
never skip: a missing spin is a failure there.
"""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.findings import CONFIRMED
from checker.interleave.explore import explore_scenario
from checker.runner import Options, check_file
from checker.spin.promela import render_promela
from checker.spin.run import run_spin, spin_available
from tests.conftest import DATA, compile_text

TABLE = sorted((DATA / "interleave").glob("*.lspec")) + [
    DATA / "design" / "vfio_dmabuf_revoke.lspec"]

if not spin_available():
    if os.environ.get("CI") == "true":
        pytest.fail("spin and gcc are required when CI=true", pytrace=False)
    pytest.skip("spin or gcc is not installed", allow_module_level=True)


def load(path: Path, text: str | None = None):
    compiled = compile_text(path.read_text() if text is None else text, str(path))
    assert compiled.diagnostics == (), compiled.diagnostics
    return compiled.program


def spin_verdict(program, scenario=None) -> str:
    text, problems = render_promela(program, scenario)
    assert problems == []
    result = run_spin(text, timeout=120)
    assert result.verdict is not None, result.detail
    return result.verdict


def explore_verdict(program, scenario=None) -> str:
    result = explore_scenario(program, scenario)
    assert result.complete
    return result.violation.code if result.violation else "pass"


def engine_verdicts(path: Path, scenario: str) -> set[str] | None:
    """The codes the interleaving engine confirms for the scenario; None while the
    engine is the placeholder."""
    result = check_file(str(path), path.read_bytes(), Options(engines=("graph", "interleaving")))
    run = next((r for r in result.engines if r.name == "interleaving"), None)
    if run is None or run.detail == "not implemented":
        return None
    assert run.outcome == "complete", run.detail       # a pass must be a proof
    return {f.code for f in result.findings if f.engine == "interleaving"
            and f.status == CONFIRMED and f.scenario == scenario}


@pytest.fixture(scope="module")
def spin_verdicts():
    return {path: spin_verdict(load(path)) for path in TABLE}


def test_table_has_a_third_planted_bugs(spin_verdicts):
    bugs = [p for p, verdict in spin_verdicts.items() if verdict != "pass"]
    assert 3 * len(bugs) >= len(TABLE) - 1
    assert len({spin_verdicts[p] for p in bugs}) >= 5          # varied bugs


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_explorer_agrees_with_spin(path, spin_verdicts):
    program = load(path)
    assert explore_verdict(program) == spin_verdicts[path]
    assert {e.verdict for e in program.expectations} == {spin_verdicts[path]}


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_interleaving_engine_agrees_with_spin(path, spin_verdicts):
    program = load(path)
    scenario = program.scenarios[0].name
    codes = engine_verdicts(path, scenario)
    if codes is None:                  # the z3 engine has not landed: the explorer decides
        codes = set() if explore_verdict(program) == "pass" else {explore_verdict(program)}
    expected = spin_verdicts[path]
    if expected == "pass":
        assert codes == set()
    else:
        assert expected in codes


def test_design_example_variants_agree():
    path = DATA / "design" / "vfio_dmabuf_revoke.lspec"
    early_check = path.read_text().replace(
        "    mmap_read_lock();\n    down_read(memory_lock);\n"
        "    if revoked(b) { up_read(memory_lock); mmap_read_unlock(); return; }\n",
        "    if revoked(b) { return; }\n    mmap_read_lock();\n    down_read(memory_lock);\n")
    no_zap = path.read_text().replace("    zap(b);\n", "")
    for text, verdict in ((early_check, "use-after-revoke"), (no_zap, "assertion")):
        program = load(path, text)
        assert spin_verdict(program) == explore_verdict(program) == verdict


# ------------------------------------------------------------ random specs

STEPS = ("down_read(A)", "down_write(A)", "mutex_lock(M)", "spin_lock(S)", "spin_lock_irq(S)",
         "revoke(buf)", "map(buf)", "if revoked(buf) { return; }", "complete(done)",
         "wait_for_completion(done)", "kref_put(ref)", "kref_get(ref)")
RELEASE = {"down_read(A)": "up_read(A)", "down_write(A)": "up_write(A)",
           "mutex_lock(M)": "mutex_unlock(M)", "spin_lock(S)": "spin_unlock(S)",
           "spin_lock_irq(S)": "spin_unlock_irq(S)"}


@st.composite
def bodies(draw):
    body, held = [], []
    for _ in range(draw(st.integers(1, 4))):
        if held and draw(st.booleans()):
            body.append(held.pop() + ";")
            continue
        step = draw(st.sampled_from(STEPS))
        if step in RELEASE and any(RELEASE[step] == h for h in held):
            continue
        if step.startswith("spin_lock") and "spin_unlock" in " ".join(held):
            continue
        body.append(step if step.endswith("}") else step + ";")
        if step in RELEASE:
            held.append(RELEASE[step])
    return " ".join(body + [h + ";" for h in reversed(held)])


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bodies(), min_size=2, max_size=3), st.booleans())
def test_random_specs_agree(threads, with_irq):
    text = ("import kernel\nlock A : rwsem\nlock M : mutex\nlock S : spinlock\n"
            "object buf : revocable\nobject done : completion\nobject ref : refcounted = 2\n")
    for number, body in enumerate(threads):
        text += f"path t{number} in process {{ {body} }}\n"
    text += "path irq in hardirq { spin_lock(S); spin_unlock(S); }\n"
    parts = [f"t{n}() @{n}" for n in range(len(threads))] + (["irq() @0"] if with_irq else [])
    text += "scenario s = " + " || ".join(parts) + "\n"
    program = load(Path("random.lspec"), text)
    lockspec = explore_verdict(program)
    spin = spin_verdict(program)
    assert (lockspec == "pass") == (spin == "pass")
