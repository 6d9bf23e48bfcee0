"""DESIGN.md's two example specs, as written there, parse and run end to end."""
from __future__ import annotations

import json

from model import ast
from model.parser import parse
from tests.conftest import DATA, run_cli

DESIGN = DATA / "design"


def test_both_examples_parse_as_written():
    for name in ("vfio_dmabuf_revoke.lspec", "irqsafe4.lspec"):
        path = DESIGN / name
        module, errors = parse(str(path), path.read_text(encoding="utf-8"))
        assert errors == [] and module.decls, name
    module, _ = parse("x", (DESIGN / "vfio_dmabuf_revoke.lspec").read_text())
    kinds = {type(d) for d in module.decls}
    assert {ast.Title, ast.Import, ast.LockDecl, ast.ObjectDecl, ast.OrderDecl, ast.FnDecl,
            ast.PathDecl, ast.ScenarioDecl, ast.ExpectDecl} == kinds


def test_the_first_example_passes_end_to_end_naming_the_engines():
    code, out, err = run_cli("check", str(DESIGN / "vfio_dmabuf_revoke.lspec"))
    assert code == 0, out + err
    assert "PASS (graph: " in out and "interleaving: " in out
    code, out, err = run_cli("check", "--format", "json", str(DESIGN / "vfio_dmabuf_revoke.lspec"))
    (result,) = json.loads(out)["files"]
    assert code == 0 and result["status"] == "pass" and result["findings"] == []


def test_the_second_example_gets_its_expected_irq_inversion():
    code, out, err = run_cli("check", "--format", "json", str(DESIGN / "irqsafe4.lspec"))
    (result,) = json.loads(out)["files"]
    assert code == 0 and result["status"] == "pass", out + err
    assert [(f["code"], f["expected"]) for f in result["findings"]] == [("irq-inversion", True)]
