"""Each run of the interleaving engine has a z3 context of its own.

A witness is whatever model z3 finds first, and z3 finds it differently
once a context holds terms other checks declared. With one context per run
a spec's report depends on the spec alone: the same in a long process (the
test suite, a serial batch, the LSP) as in a fresh one or a `--jobs` worker.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
import z3

from checker.cli import main
from checker.interleave.engine import engine_settings
from checker.interleave.semantics import scenario_threads
from checker.interleave.z3.search import Search, Settings
from checker.interleave.z3.threads import unfold
from checker.runner import Options
from tests.conftest import compile_text
from tests.output_fixtures import ROOT, private_cache  # noqa: F401

# Specs whose witnesses came out differently after other checks in the same
# process while the engine shared z3's process-wide context.
WITNESSED = ["tests/data/z3/counter_race.lspec", "tests/data/z3/use_after_release.lspec",
             "tests/data/z3/vfio_no_zap.lspec", "tests/data/interleave/counter_racy.lspec"]
OTHERS = ["tests/data/z3", "specs/vfio/dmabuf_mmap_revoke.lspec"]


def in_process(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--no-cache", *argv], out, err)
    assert code in (0, 1), err.getvalue()
    return out.getvalue()


def fresh_process(tmp_path, *argv: str) -> str:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "fresh-cache"))
    run = subprocess.run([sys.executable, "-m", "checker.cli", "check", "--no-cache", *argv],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode in (0, 1), run.stderr
    return run.stdout


def test_parallel_output_is_the_serial_output(tmp_path):
    specs = ["specs/vfio/dmabuf_mmap_revoke.lspec", "specs/iommufd/dmabuf_import.lspec",
             *WITNESSED]
    serial = in_process(*specs)
    assert in_process("--jobs", "2", *specs) == serial
    assert fresh_process(tmp_path, "--jobs", "2", *specs) == serial


@pytest.mark.parametrize("spec", WITNESSED)
def test_a_witness_does_not_depend_on_earlier_checks(tmp_path, spec):
    in_process(*OTHERS)                     # declares terms of other specs first
    here = in_process("--format", "json", spec)
    assert '"step"' in here                 # a finding with a witness to compare
    assert here == fresh_process(tmp_path, "--format", "json", spec)


def test_every_run_has_a_context_of_its_own():
    program = compile_text((ROOT / WITNESSED[0]).read_text()).program
    options = Options(timeout=0)            # no deadline: settings that compare equal
    first, second = engine_settings(program, options), engine_settings(program, options)
    assert first.ctx is not None and second.ctx is not None and first.ctx is not second.ctx
    assert first == second                  # the context is an identity, not a setting
    threads = scenario_threads(program, program.scenarios[0])
    searches = [Search(unfold(program, threads, True), s) for s in (first, second, Settings())]
    contexts = [s.enc.ctx for s in searches]
    assert contexts[:2] == [first.ctx, second.ctx]
    assert len({c.ref().value for c in contexts}) == 3
    assert all(s.solver.ctx is s.enc.ctx for s in searches)
    assert all(s.want_violation.ctx is s.enc.ctx for s in searches)


def test_the_engine_never_uses_the_process_wide_context(monkeypatch):
    def refuse():
        raise AssertionError("a z3 term was made in the process-wide context")
    monkeypatch.setattr(z3.z3, "main_ctx", refuse)
    in_process("--bound", "40", *WITNESSED, "tests/data/z3")
