"""The documentation's examples are real: every spec in docs/language.md compiles,
every example in docs/findings.md gets the finding its section documents, and the
docs cover every finding code, core builtin and prelude verb."""
from __future__ import annotations

import json
import re

import pytest

from checker.findings import CODES
from model import ast, core
from model.parser import parse
from model.pipeline import compile_spec
from tests.conftest import ROOT, run_cli

DOCS = ROOT / "docs"
LANGUAGE = (DOCS / "language.md").read_text(encoding="utf-8")
FINDINGS = (DOCS / "findings.md").read_text(encoding="utf-8")
SPEC_BLOCK = re.compile(r"```lspec\n(.*?)```", re.DOTALL)
DUMP_BLOCK = re.compile(r"```proc-lockdep\n(.*?)```", re.DOTALL)
# Codes of `lockspec conform`: their example is a spec and a /proc/lockdep.
CONFORM_CODES = ("design-drift", "runtime-order-violation", "union-cycle", "coverage")


def finding_sections() -> dict[str, str]:
    parts = re.split(r"^## `([a-z-]+)`\n", FINDINGS.split("\n# Spec errors")[0], flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("index", range(len(SPEC_BLOCK.findall(LANGUAGE))))
def test_language_examples_compile(index):
    text = SPEC_BLOCK.findall(LANGUAGE)[index]
    compiled = compile_spec(f"language-example-{index}.lspec", text.encode())
    assert compiled.diagnostics == (), (text, compiled.diagnostics)


def test_every_finding_code_has_a_section():
    assert sorted(finding_sections()) == sorted(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_finding_section_has_a_lockdep_line_and_one_example(code):
    section = finding_sections()[code]
    assert re.search(r"^lockdep: ", section, re.M), code
    assert len(SPEC_BLOCK.findall(section)) == 1, code


@pytest.mark.parametrize("code", sorted(CONFORM_CODES))
def test_conform_example_reports_exactly_its_code(code, tmp_path):
    section = finding_sections()[code]
    (example,), (dump,) = SPEC_BLOCK.findall(section), DUMP_BLOCK.findall(section)
    (tmp_path / "spec.lspec").write_text(example, encoding="utf-8")
    (tmp_path / "lockdep").write_text(dump, encoding="utf-8")
    exit_code, out, err = run_cli("conform", str(tmp_path / "spec.lspec"), "--lockdep",
                                  str(tmp_path / "lockdep"), "--format", "json")
    (result,) = json.loads(out)["files"]
    assert [f["code"] for f in result["findings"]] == [code], (out, err)
    assert exit_code == (0 if code == "coverage" else 1), err


@pytest.mark.parametrize("code", sorted(set(CODES) - set(CONFORM_CODES)))
def test_finding_example_reports_its_code(code, tmp_path):
    (example,) = SPEC_BLOCK.findall(finding_sections()[code])
    path = tmp_path / f"{code}.lspec"
    path.write_text(example, encoding="utf-8")
    exit_code, out, err = run_cli("check", "--format", "json", "--no-cache", str(path))
    assert exit_code == 0, out + err          # the example expects its finding
    (result,) = json.loads(out)["files"]
    reported = {f["code"] for f in result["findings"]}
    assert code in reported, (code, result)


def test_every_core_builtin_is_documented():
    missing = [name for name in core.BUILTINS if f"`{name}(" not in LANGUAGE]
    assert missing == []


def test_every_prelude_verb_is_documented():
    prelude = ROOT / "model" / "prelude" / "kernel.lspec"
    module, errors = parse(str(prelude), prelude.read_text(encoding="utf-8"))
    assert errors == []
    verbs = [d.name.text for d in module.decls if isinstance(d, ast.FnDecl)]
    missing = [v for v in verbs if not re.search(rf"`{re.escape(v)}[`(]", LANGUAGE)]
    assert missing == [], "document these verbs in docs/language.md: " + ", ".join(missing)


EXPECTING = [i for i, text in enumerate(SPEC_BLOCK.findall(LANGUAGE))
             if re.search(r"^expect ", text, re.M)]


@pytest.mark.parametrize("index", EXPECTING)
def test_language_examples_get_the_verdicts_they_expect(index, tmp_path):
    """An example that states its verdict with `expect` lines must get exactly it."""
    path = tmp_path / f"language-example-{index}.lspec"
    path.write_text(SPEC_BLOCK.findall(LANGUAGE)[index], encoding="utf-8")
    exit_code, out, err = run_cli("check", "--no-cache", str(path))
    assert exit_code == 0, out + err
