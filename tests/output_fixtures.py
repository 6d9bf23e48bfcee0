"""Fixtures for the output tests: small specs, a stand-in engine, helpers to run the CLI.

The engines are developed alongside the outputs, and their messages change;
the output tests must test the outputs. So most of them run the real
pipeline (parse, compile, runner, gate, writers) with `lock_simulation`, a
small deterministic engine defined here: it runs the first scenario's
threads round-robin over straight-line lock code and reports a deadlock with
the witness, chain and CPU table a real engine gives. Tests that check the
real engines' output structurally (schemas, exit codes) use the real ones.
"""
from __future__ import annotations

import io
import json
import os
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest

from checker import runner
from checker.cli import main
from checker.findings import CONFIRMED, EngineRun, Finding, Link, Step
from model import ir

ROOT = Path(__file__).parent.parent
SPECS = Path(__file__).parent / "data" / "reports"
GOLDEN = Path(__file__).parent / "golden"
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json"


def user_span(program: ir.Program, site: ir.Site):
    for span in reversed(site.frames()):
        if span.file == program.file:
            return span
    return site.span


def lock_simulation(program: ir.Program, options, findings):
    """Round-robin over the first scenario's threads; a deadlock when all are blocked."""
    if not program.scenarios:
        return findings, EngineRun("lock-simulation", "complete", "no scenario", True, 0)
    scenario = program.scenarios[0]
    threads = [(f"{t.code}#1", program.codes[t.code], cpu)
               for cpu, t in enumerate(scenario.threads)]
    pcs = {label: code.entry for label, code, _ in threads}
    owner: dict[str, str] = {}
    taken: dict[str, ir.Acquire] = {}
    waiting: dict[str, tuple[str, ir.Acquire]] = {}
    steps: list[Step] = []
    progress = True
    while progress:
        progress = False
        for label, code, cpu in threads:
            op = code.ops[pcs[label]] if pcs[label] is not None else None
            while isinstance(op, (ir.IrqOp, ir.MightSleep, ir.Assert, ir.StateOp)):
                pcs[label] = op.next
                op = code.ops[op.next]
            if op is None or isinstance(op, ir.Exit):
                pcs[label] = None
                continue
            if isinstance(op, ir.Acquire):
                if owner.get(op.lock, label) != label:
                    waiting[label] = (op.lock, op)
                    continue
                owner[op.lock] = label
                taken[op.lock] = op
                waiting.pop(label, None)
                steps.append(Step(label, cpu, f"acquire {op.lock}", user_span(program, op.site)))
            elif isinstance(op, ir.Release):
                owner.pop(op.lock, None)
                steps.append(Step(label, cpu, f"release {op.lock}", user_span(program, op.site)))
            pcs[label] = op.next
            progress = True
    run = EngineRun("lock-simulation", "complete",
                    f"round-robin run of scenario {scenario.name}: {len(steps)} steps",
                    exhaustive=True, bound=len(steps))
    if not waiting:
        return findings, run
    return findings + [_deadlock(program, scenario, threads, owner, taken, waiting, steps)], run


def _deadlock(program, scenario, threads, owner, taken, waiting, steps) -> Finding:
    cpus = {label: cpu for label, _, cpu in threads}
    blocked = [label for label, _, _ in threads if label in waiting]
    held = {label: [lock for lock, who in owner.items() if who == label] for label in blocked}
    locks = tuple(held[label][-1] for label in blocked)
    chain = tuple(Link(f"{held[label][-1]} -> {waiting[label][0]} in {label.split('#')[0]} "
                       f"(holding {held[label][-1]})", user_span(program, waiting[label][1].site))
                  for label in blocked)
    rows = [(cpus[label], f"lock({held[label][-1]});") for label in blocked]
    rows += [(cpus[label], f"lock({waiting[label][0]});") for label in reversed(blocked)]
    last = waiting[blocked[-1]][1]
    return Finding("deadlock", "ABBA deadlock " + " -> ".join(locks + locks[:1]),
                   user_span(program, last.site), "lock-simulation", status=CONFIRMED,
                   locks=locks, paths=tuple(label.split("#")[0] for label in blocked),
                   scenario=scenario.name, chain=chain, unsafe_scenario=tuple(rows),
                   witness=tuple(steps))


def simulation_engines():
    return {"lock-simulation": lock_simulation}


@pytest.fixture
def simulated(monkeypatch):
    """Replace the engines with the stand-in for the duration of a test."""
    monkeypatch.setattr(runner, "engine_table", simulation_engines)


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    """Every test runs from the repository root (spec paths as a user types them) with a
    cache of its own; none touches the developer's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.chdir(ROOT)


def run_cli(*argv: str, stdout=None) -> tuple[int, str, str]:
    """Run lockspec in-process. Every JSON or SARIF document it writes is validated
    against its schema on the way out, whatever the test goes on to check."""
    out, err = stdout or io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    validate_documents(list(argv), out.getvalue())
    return code, out.getvalue(), err.getvalue()


def _option(argv: list[str], *names: str) -> str | None:
    for index, word in enumerate(argv[:-1]):
        if word in names:
            return argv[index + 1]
    return None


def validate_documents(argv: list[str], stdout: str) -> None:
    if not argv or argv[0] != "check":
        return
    fmt, target = _option(argv, "--format"), _option(argv, "--output", "-o")
    if fmt not in ("json", "sarif"):
        return
    if target is not None:
        if not Path(target).exists():
            return
        text = Path(target).read_text(encoding="utf-8")
    else:
        text = stdout
    if not text.strip():
        return                 # a usage error: nothing was written
    document = json.loads(text)
    if fmt == "json":
        from checker.report.json_report import schema
        jsonschema.Draft202012Validator(schema()).validate(document)
    else:
        sarif_validator().validate(document)


@lru_cache(maxsize=1)
def sarif_validator():
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def spec(name: str) -> str:
    """A test spec's path as a user would type it from the repository root."""
    return str((SPECS / name).relative_to(ROOT))


def check_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; LOCKSPEC_REGEN_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / name
    if os.environ.get("LOCKSPEC_REGEN_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with LOCKSPEC_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")
