"""The folders show the architecture: a module imports only from its own stage,
from stages before it, and, inside a stage whose package docstring gives a
reading order, only from modules above it. model/ never imports the checker
nor z3."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Stage of each top-level name under checker/, in the order data flows.
STAGES = {
    "findings": 0, "config": 0, "progress": 0, "spec_file": 0,
    "graph": 1,
    "interleave": 2,
    "spin": 3, "lockdep": 3,
    "baseline": 4, "outcome": 4, "runner": 4, "cache": 4, "batch": 4,
    "report": 5,
    "commands": 6,
    "cli": 7,
}
# Packages read top to bottom: a module may import only those listed before it.
READING_ORDER = {
    "checker.interleave": ["semantics", "step", "simulate", "explore", "worlds", "unrecorded",
                           "z3", "witness_model", "engine"],
    "checker.interleave.z3": ["threads", "terms", "encode", "sections", "state", "graces", "rules",
                              "theorem", "search", "witness", "scenario"],
    "checker.graph": ["explain", "cycles", "rules", "usage", "engine"],
    "checker.spin": ["unfold", "graces", "ops", "promela", "run"],
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement is."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


MODULES = sorted(ROOT.glob("checker/**/*.py"))


def test_every_top_level_name_has_a_stage():
    names = {p.relative_to(ROOT / "checker").parts[0].removesuffix(".py") for p in MODULES}
    assert names - {"__init__"} == set(STAGES)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_a_later_stage(path):
    me = module_name(path)
    if me == "checker":
        return
    my_stage = me.split(".")[1]
    for name in sorted(n for n in imported(path) if n.startswith("checker.") and is_module(n)):
        stage = name.split(".")[1]
        assert STAGES[stage] < STAGES[my_stage] or stage == my_stage or \
            STAGES[stage] == STAGES[my_stage] == STAGES["baseline"], f"{me} imports {name}"


@pytest.mark.parametrize("package", sorted(READING_ORDER))
def test_a_package_reads_top_to_bottom(package):
    order = READING_ORDER[package]
    folder = ROOT.joinpath(*package.split("."))
    present = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    present |= {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
    assert present == set(order)
    for rank, leaf in enumerate(order):
        sources = ([folder / f"{leaf}.py"] if (folder / f"{leaf}.py").exists()
                   else sorted((folder / leaf).rglob("*.py")))
        for source in sources:
            for name in imported(source):
                if name.startswith(package + "."):
                    used = name[len(package) + 1:].split(".")[0]
                    if used in order and used != leaf:
                        assert order.index(used) < rank, f"{module_name(source)} imports {name}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("model/**/*.py")), ids=lambda p: module_name(p))
def test_model_never_imports_the_checker_or_z3(path):
    for name in imported(path):
        assert not name.startswith(("checker", "z3")), f"{module_name(path)} imports {name}"
