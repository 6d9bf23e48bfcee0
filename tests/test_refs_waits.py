"""Re-armed counts, conditional references, per-call release functions, and
completions that count and waits that time out: each spec of tests/data/refs states its verdict with an
`expect` line, and lockspec, the explorer and SPIN must all give exactly that;
the examples of docs/language.md's sections on them give the verdict they state."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import DATA, ROOT, compile_text, run_cli
from tests.test_spin import engine_verdicts, explore_verdict, load, spin_verdict

TABLE = sorted((DATA / "refs").glob("*.lspec"))
LANGUAGE = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
SECTIONS = ("## Atomics and references", "## Completions")


def expected(program) -> str:
    (verdict,) = {e.verdict for e in program.expectations}
    return verdict


def test_table_has_a_passing_and_a_failing_spec_per_construct():
    verdicts = {p.stem: expected(load(p)) for p in TABLE}
    assert sum(v == "pass" for v in verdicts.values()) >= 3
    assert sum(v != "pass" for v in verdicts.values()) >= 3


@pytest.mark.parametrize("path", TABLE, ids=lambda p: p.stem)
def test_lockspec_explorer_and_spin_agree(path):
    program = load(path)
    scenario = program.scenarios[0].name
    verdict = expected(program)
    assert explore_verdict(program, scenario) == verdict
    assert spin_verdict(program, scenario) == verdict
    codes = engine_verdicts(path, scenario)
    assert codes == (set() if verdict == "pass" else {verdict})
    exit_code, out, err = run_cli("check", "--no-cache", str(path))
    assert exit_code == 0, out + err            # the `expect` line is met, nothing else


def section_examples() -> list[str]:
    blocks = []
    for title in SECTIONS:
        text = LANGUAGE[LANGUAGE.index(title + "\n"):]
        text = text[:text.index("\n## ", 1)]
        blocks += re.findall(r"```lspec\n(.*?)```", text, re.DOTALL)
    return blocks


def test_the_sections_have_examples():
    assert len(section_examples()) >= 5


@pytest.mark.parametrize("index", range(len(section_examples())))
def test_docs_example_gives_its_stated_verdict(index, tmp_path):
    text = section_examples()[index]
    path = tmp_path / f"example{index}.lspec"
    path.write_text(text, encoding="utf-8")
    exit_code, out, err = run_cli("check", "--format", "json", "--no-cache", str(path))
    assert exit_code == 0, out + err            # every `expect` met, nothing else found
    stated = set(re.findall(r"^expect \w+: ([a-z-]+)$", text, re.M)) - {"pass"}
    (result,) = json.loads(out)["files"]
    found = {f["code"] for f in result["findings"]}
    assert found == stated, found


def test_defaults_are_checked():
    bad = compile_text("fn f(a: int = NULL) { }\nfn g(a = 1, b) { }\n"
                       "path p(x = 1) in process { }\nscenario s = p(x = 1)\n")
    messages = [d.message for d in bad.diagnostics]
    assert any("default of `a` is a null" in m for m in messages), messages
    assert any("`b` follows a parameter with a default" in m for m in messages), messages
    assert any("path's parameters have no defaults" in m for m in messages), messages


def test_kref_put_takes_a_release_function_or_none():
    good = compile_text("import kernel\nobject r : refcounted = 2\nfn rel(o: refcounted) { }\n"
                        "path p in process { kref_put(r); kref_put(r, rel); }\n")
    assert good.diagnostics == ()
    bad = compile_text("import kernel\nobject r : refcounted\nlock L : mutex\n"
                       "path p in process { kref_put(r, L); }\n")
    assert bad.diagnostics and "kref_put" in bad.diagnostics[0].message


@pytest.mark.parametrize("put", ["kref_put(r)", "kref_put(r, rel)"])
def test_the_declared_release_function_still_frees_on_return(put):
    """The declared release function is the destructor, as before, named or not."""
    compiled = compile_text("import kernel\nfn rel(o: refcounted) { }\n"
                            "object r : refcounted release rel\n"
                            f"path p in process {{ {put}; access(r); }}\nscenario s = p()\n")
    assert explore_verdict(compiled.program, "s") == "use-after-free"
    assert spin_verdict(compiled.program, "s") == "use-after-free"


def test_a_release_function_given_per_call_frees_only_if_it_says_so():
    text = ("import kernel\nfn park(o: refcounted) { }\nfn drop(o: refcounted) { kfree(o); }\n"
            "object r : refcounted\npath p in process { kref_put(r, FN); access(r); }\n"
            "scenario s = p()\n")
    parked = compile_text(text.replace("FN", "park")).program
    dropped = compile_text(text.replace("FN", "drop")).program
    assert explore_verdict(parked, "s") == spin_verdict(parked, "s") == "pass"
    assert explore_verdict(dropped, "s") == spin_verdict(dropped, "s") == "use-after-free"


def test_a_second_wait_after_one_complete_hangs_in_every_engine():
    compiled = compile_text("import kernel\nobject c : completion\n"
                            "path p in process { complete(c); wait_for_completion(c); "
                            "wait_for_completion(c); }\nscenario s = p()\n")
    assert compiled.diagnostics == ()
    assert explore_verdict(compiled.program, "s") == "hang"
    assert spin_verdict(compiled.program, "s") == "hang"


def test_a_timed_wait_is_a_condition_only_on_completions():
    bad = compile_text("import kernel\nobject f : fence\n"
                       "path p in process { if wait_for_completion_timeout(f) { } }\n")
    assert bad.diagnostics and "completion" in bad.diagnostics[0].message
