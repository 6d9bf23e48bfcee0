"""The HTML report: self-contained pages, escaping, anchors, determinism, the index."""
from __future__ import annotations

import re
from pathlib import Path

from checker.findings import CONFIRMED, EngineRun, FileResult, Finding, Step
from checker.outcome import decide
from checker.report.html_pages import MARKER, report_files
from checker.report.swimlane import render_swimlane
from model.pipeline import compile_spec
from model.span import Span
from tests.output_fixtures import private_cache, run_cli, simulated, spec  # noqa: F401

SPECS = [spec(name) for name in ("abba.lspec", "abba_expected.lspec", "ordered.lspec",
                                 "hostile.lspec", "broken.lspec")]


def write(tmp_path: Path, name: str = "out") -> dict[str, bytes]:
    target = tmp_path / name
    code, out, err = run_cli("report", *SPECS, "-o", str(target))
    assert code == 2, err          # broken.lspec is a spec error
    assert "5 specs: 2 passed, 2 failed, 1 with errors" in out
    return {p.relative_to(target).as_posix(): p.read_bytes()
            for p in sorted(target.rglob("*")) if p.is_file()}


def test_a_page_per_spec_and_an_index(simulated, tmp_path):
    files = write(tmp_path)
    assert sorted(files) == ["abba.html", "abba_expected.html", "broken.html", "hostile.html",
                             "index.html", "ordered.html"]
    index = files["index.html"].decode()
    for name, verdict in (("abba", "fail"), ("abba_expected", "pass"), ("ordered", "pass"),
                          ("hostile", "fail"), ("broken", "error")):
        row = re.search(rf'<tr class="(\w+)">\s*<td><a href="{name}\.html"', index)
        assert row and row.group(1) == verdict, name


def test_output_is_byte_identical_run_to_run(simulated, tmp_path):
    assert write(tmp_path, "one") == write(tmp_path, "two")


def test_check_html_writes_the_same_report(simulated, tmp_path):
    reported = write(tmp_path, "report")
    code, _, err = run_cli("check", *SPECS, "--html", str(tmp_path / "check"))
    assert code == 2 and "report pages" in err
    checked = {p.relative_to(tmp_path / "check").as_posix(): p.read_bytes()
               for p in sorted((tmp_path / "check").rglob("*")) if p.is_file()}
    assert checked == reported


def test_pages_are_self_contained_and_script_free(simulated, tmp_path):
    for name, content in write(tmp_path).items():
        html = content.decode()
        assert "<script" not in html, name
        assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html), name
        assert "<style>" in html and "<link" not in html
        assert MARKER in html


def test_hostile_text_is_escaped(simulated, tmp_path):
    html = write(tmp_path)["hostile.html"].decode()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    assert "<script>alert" not in html
    index = write(tmp_path, "again")["index.html"].decode()
    assert "&lt;script&gt;" in index and "<script>" not in index


def test_steps_link_to_highlighted_source_lines(simulated, tmp_path):
    html = write(tmp_path)["abba.html"].decode()
    assert 'class="lock-graph"' in html and 'class="edge cycle"' in html
    assert 'class="swimlane"' in html
    links = re.findall(r'<g class="step" data-step="(\d+)"[^>]*>.*?<a href="#L(\d+)">', html,
                       re.S)
    assert links == [("1", "8"), ("2", "14")]
    for _, line in links:
        assert re.search(rf'<span class="line hl" id="L{line}">', html)
    assert re.search(r'<g class="block" data-thread="t1#1" data-lock="B" data-holder="t2#1">',
                     html)
    assert re.search(r'<g class="hold" data-lock="A" data-thread="t1#1">', html)


def test_stale_pages_are_removed_but_other_files_kept(simulated, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "gone.html").write_text(f"<html>{MARKER}</html>")
    (target / "notes.html").write_text("<html>mine</html>")
    run_cli("report", spec("ordered.lspec"), "-o", str(target))
    assert not (target / "gone.html").exists() and (target / "notes.html").exists()
    assert (target / "ordered.html").exists()


def test_swimlane_marks_interrupts_revokes_and_lock_bars():
    program = compile_spec(spec("abba.lspec"), Path(spec("abba.lspec")).read_bytes()).program
    at = Span(spec("abba.lspec"), 8, 5, 8, 17)
    witness = (Step("fault#1", 0, "acquire memory_lock (read)", at),
               Step("irq#1", 0, "hardirq starts", at, "interrupts the CPU"),
               Step("irq#1", 0, "acquire A", at), Step("irq#1", 0, "release A", at),
               Step("revoke#1", 1, "acquire memory_lock", at),
               Step("revoke#1", 1, "revoke(buf)", at),
               Step("fault#1", 0, "release memory_lock", at))
    finding = Finding("use-after-revoke", "map after revoke", at, "z3", status=CONFIRMED,
                      witness=witness)
    svg = str(render_swimlane(finding, lambda span: f"L{span.line}", "s"))
    assert svg.count('class="marker interrupt"') == 1 and svg.count('class="marker revoke"') == 1
    assert 'data-lock="A" data-thread="irq#1"' in svg
    # memory_lock is taken for write while a reader holds it: the witness shows the block.
    assert 'data-thread="revoke#1" data-lock="memory_lock" data-holder="fault#1"' in svg
    assert svg.count('<g class="cpu">') == 2
    result = FileResult(path=spec("abba.lspec"), title="t", status="fail", findings=[finding],
                        engines=[EngineRun("z3", "complete", "proved", True, 7)],
                        sources=compile_spec(spec("abba.lspec"),
                                             Path(spec("abba.lspec")).read_bytes()).sources,
                        program=program)
    files = report_files(decide([result], "1", ("confirmed",)))
    assert 'class="marker revoke"' in files["abba.html"]


def test_identical_across_processes_with_different_hash_seeds(tmp_path):
    """Two separate runs (as CI and a developer make them) write the same bytes: nothing
    depends on the order of a set or dict of strings, which changes with the seed."""
    import os
    import subprocess
    import sys
    trees = []
    for seed in ("1", "2"):
        target = tmp_path / f"seed{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "checker.cli", "report", "--no-cache", *SPECS,
                        "-o", str(target)], env=env, capture_output=True, check=False,
                       timeout=300)
        trees.append({p.relative_to(target).as_posix(): p.read_bytes()
                      for p in sorted(target.rglob("*")) if p.is_file()})
    assert trees[0] and trees[0] == trees[1]


def test_real_engines_abba_page_has_the_cycle_and_the_swimlane(tmp_path):
    code, _, _ = run_cli("report", spec("abba.lspec"), "-o", str(tmp_path))
    html = (tmp_path / "abba.html").read_text(encoding="utf-8")
    assert code == 1
    assert 'class="edge cycle" data-source="A" data-target="B"' in html
    assert 'class="edge cycle" data-source="B" data-target="A"' in html
    assert 'class="swimlane"' in html and 'class="block"' in html
