"""The HTML report: one self-contained page per spec and an index of every spec.

Pages carry their CSS and SVG inline and no script, so they open from disk,
offline, in any browser. Jinja2 renders them with autoescaping on, so text
from a spec (its title, lock names, messages) is always escaped. There are no
timestamps or absolute paths: the same specs and results give the same
bytes, which is what lets reports/ be checked for freshness in CI.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from checker.findings import FileResult, Finding
from checker.outcome import EXPECTED, FAILING, Run, engine_summary, level_text, primary_span
from checker.report import finding_help
from checker.report.graph_view import graph_view
from checker.report.svg_layout import render_graph_svg
from checker.report.swimlane import render_swimlane
from checker.report.text import banner, engine_bound, scenario_table, witness_listing
from model.span import display_name

GENERATOR = "lockspec report"
MARKER = f'<meta name="generator" content="{GENERATOR}">'


def environment() -> Environment:
    return Environment(loader=PackageLoader("checker.report", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def page_names(results: list[FileResult]) -> dict[str, str]:
    """Each spec's page, relative to the report directory, mirroring the spec tree."""
    if not results:
        return {}
    directories = [os.path.dirname(os.path.abspath(r.path)) for r in results]
    base = os.path.commonpath(directories)
    names = {}
    for result in results:
        relative = os.path.relpath(os.path.abspath(result.path), base)
        names[result.path] = Path(relative).with_suffix(".html").as_posix()
    return names


@dataclass(frozen=True)
class SourcePane:
    """One user source file shown beside the findings; `prefix` makes its anchors unique."""

    name: str
    prefix: str
    lines: list[tuple[int, str, bool]]     # (number, text, highlighted)


def _user_files(result: FileResult) -> list[str]:
    files = [result.path] + sorted(f for f in result.sources if f != result.path
                                   and not display_name(f).startswith("<"))
    return [f for f in files if f in result.sources]


def _highlighted(result: FileResult) -> dict[str, set[int]]:
    lines: dict[str, set[int]] = {}
    spans = [f.span for f in result.findings]
    spans += [link.span for f in result.findings for link in f.chain]
    spans += [step.span for f in result.findings for step in f.witness]
    spans += [d.span for d in result.diagnostics] + [u.span for u in result.unmet]
    for span in spans:
        last = max(span.line, span.end_line)
        lines.setdefault(span.file, set()).update(range(span.line, last + 1))
    return lines


def source_panes(result: FileResult) -> list[SourcePane]:
    marked = _highlighted(result)
    panes = []
    for index, file in enumerate(_user_files(result)):
        text = result.sources[file].text.expandtabs(4)
        lines = [(number, line.rstrip("\r"), number in marked.get(file, set()))
                 for number, line in enumerate(text.split("\n"), 1)]
        panes.append(SourcePane(display_name(file), "" if index == 0 else f"f{index}-", lines))
    return panes


def _anchor_function(panes: list[SourcePane], result: FileResult):
    prefixes = {file: pane.prefix for file, pane in zip(_user_files(result), panes)}

    def anchor(span) -> str | None:
        prefix = prefixes.get(span.file)
        return None if prefix is None or span.line < 1 else f"{prefix}L{span.line}"
    return anchor


def _verdict(run: Run, result: FileResult) -> dict:
    failing = run.failing(result)
    levels = sorted({f.status for f in failing})
    if result.status == "fail":
        level = ", ".join(levels) if levels else "unmet expectation"
    elif result.status == "pass":
        complete = [e for e in result.engines if e.outcome == "complete"]
        proved = complete and all(e.exhaustive for e in complete)
        level = "proved (exhaustive)" if proved else "no violation found"
    elif result.status == "inconclusive":
        level = "; ".join(f"{e.name} undecided: {e.detail}" for e in result.engines
                          if e.outcome == "inconclusive")
    else:
        level = "spec error"
    bounds = [f"{e.name}: " + ("exhaustive" if e.exhaustive else
                               f"bound {e.bound}" if e.bound else e.outcome)
              for e in result.engines]
    return {"status": result.status, "level": level, "bound": "; ".join(bounds)}


def _where(span, column: bool = True) -> str:
    return f"{display_name(span.file)}:{span.line}" + (f":{span.col}" if column else "")


def _finding_view(run: Run, result: FileResult, finding: Finding, index: int, anchor) -> dict:
    disposition = run.disposition(result, finding)
    entry = run.baseline_entry(result, finding)
    return {
        "id": f"finding-{index}",
        "finding": finding,
        "banner": banner(finding),
        "help": finding_help.description(finding.code),
        "disposition": disposition,
        "level": level_text(finding),
        "bound": engine_bound(result, finding.engine),
        "anchor": anchor(primary_span(finding)),
        "where": _where(primary_span(finding)),
        "chain": [{"text": link.text, "anchor": anchor(link.span),
                   "where": _where(link.span, column=False)}
                  for link in finding.chain],
        "scenario_table": "\n".join(scenario_table(finding)) if finding.unsafe_scenario else "",
        "swimlane": render_swimlane(finding, anchor, f"swimlane-{index}")
        if finding.witness else "",
        "listing": "\n".join(witness_listing(finding, result.path)) if finding.witness else "",
        "baseline": entry,
    }


def render_spec_page(run: Run, result: FileResult, page: str, env: Environment,
                     css: str) -> str:
    panes = source_panes(result)
    anchor = _anchor_function(panes, result)
    graph, omitted = "", 0
    if result.program is not None:
        shown = [f for f in result.findings if run.disposition(result, f) != "refuted"]
        view = graph_view(result.program, shown)
        graph, omitted = render_graph_svg(view), view.omitted_nodes
    findings = [_finding_view(run, result, f, i, anchor)
                for i, f in enumerate(result.findings, 1)]
    diagnostics = [{"code": d.code, "message": d.message, "anchor": anchor(d.span),
                    "where": _where(d.span),
                    "hints": list(d.hints)} for d in result.diagnostics]
    unmet = [{"text": f"expected {u.verdict} in "
                      f"{'scenario ' + u.scenario if u.scenario else 'the spec'}, "
                      "but no engine found it", "anchor": anchor(u.span),
              "where": _where(u.span, column=False)} for u in result.unmet]
    depth = page.count("/")
    return env.get_template("spec.html.j2").render(
        marker=Markup(MARKER), css=Markup(css), result=result, path=display_name(result.path),
        title=result.title or display_name(result.path), verdict=_verdict(run, result),
        engines=result.engines, findings=findings, diagnostics=diagnostics, unmet=unmet,
        graph=graph, omitted=omitted, panes=panes, index_href="../" * depth + "index.html",
        version=run.version)


def render_index(run: Run, pages: dict[str, str], env: Environment, css: str) -> str:
    rows = []
    for result in run.results:
        dispositions = [run.disposition(result, f) for f in result.findings]
        rows.append({"path": display_name(result.path), "href": pages[result.path],
                     "title": result.title, "verdict": _verdict(run, result),
                     "failing": dispositions.count(FAILING),
                     "expected": dispositions.count(EXPECTED),
                     "engines": engine_summary(result)})
    counts = run.counts()
    return env.get_template("index.html.j2").render(
        marker=Markup(MARKER), css=Markup(css), rows=rows, counts=counts,
        total=len(run.results), version=run.version)


def report_files(run: Run) -> dict[str, str]:
    """Every file of the report, relative path -> content."""
    env = environment()
    css = env.loader.get_source(env, "report.css")[0]
    pages = page_names(run.results)
    files = {pages[r.path]: render_spec_page(run, r, pages[r.path], env, css)
             for r in run.results}
    files["index.html"] = render_index(run, pages, env, css)
    return files


def write_report(run: Run, directory: str) -> list[str]:
    """Write the report into `directory`; remove pages of an earlier report that are no
    longer produced (only files lockspec generated). Returns the files written."""
    root = Path(directory)
    files = report_files(run)
    for relative, content in sorted(files.items()):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    for stale in sorted(root.rglob("*.html")):
        relative = stale.relative_to(root).as_posix()
        if relative not in files and _generated(stale):
            stale.unlink()
    return sorted(files)


def _generated(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return MARKER in handle.read(4096)
    except OSError:
        return False
