"""Bad input never produces a traceback: every case is a located spec error and exit 2
through `lockspec check`, and the model pipeline returns diagnostics, never raises."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from model.loader import MAX_FILE_BYTES
from model.parser import MAX_NESTING
from model.pipeline import compile_spec
from tests.conftest import DATA, ROOT, run_cli

LOCATED = re.compile(r"^(\S+):(\d+):(\d+): error\[(syntax-error|unknown-name|type-error)\]: ",
                     re.MULTILINE)
REAL_SPECS = [DATA / "design" / "vfio_dmabuf_revoke.lspec", DATA / "design" / "irqsafe4.lspec",
              ROOT / "model" / "prelude" / "kernel.lspec"]


def check_bytes(tmp_path: Path, data: bytes, name: str = "bad.lspec") -> tuple[int, str]:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run_cli("check", str(path))
    text = out + err
    assert "Traceback" not in text and "internal error" not in text, text
    return code, text


def assert_located_error(tmp_path: Path, data: bytes) -> str:
    code, text = check_bytes(tmp_path, data)
    assert code == 2, text
    assert LOCATED.search(text), text
    return text


def assert_well_formed(compiled, data: bytes) -> None:
    """No exception got here; every diagnostic points inside its file."""
    assert (compiled.program is None) == bool(compiled.diagnostics)
    for diag in compiled.diagnostics:
        source = compiled.sources.get(diag.span.file)
        assert source is not None, diag
        assert 1 <= diag.span.line <= len(source.lines), diag
        assert diag.span.col >= 1 and diag.message, diag


# --------------------------------------------------------------- by the CLI

def test_empty_file(tmp_path):
    assert "this spec is empty" in assert_located_error(tmp_path, b"")


def test_whitespace_and_comments_only(tmp_path):
    assert "this spec is empty" in assert_located_error(tmp_path, b"\n  \t\n// x\n/* y */\n")


def test_non_utf8_bytes(tmp_path):
    text = assert_located_error(tmp_path, b"import kernel\nlock A : mutex // \xff\xfe\n")
    assert ":2:19: error[syntax-error]: invalid UTF-8 byte 0xff" in text


def test_nul_bytes(tmp_path):
    text = assert_located_error(tmp_path, b"import kernel\nlock A\x00\x00 : mutex\n")
    assert r"unexpected characters `\x00\x00`" in text


def test_only_nul_bytes(tmp_path):
    assert_located_error(tmp_path, b"\x00" * 5000)


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes(tmp_path, seed):
    rng = random.Random(seed)
    assert_located_error(tmp_path, rng.randbytes(rng.choice([1, 64, 4096, 200_000])))


@pytest.mark.parametrize("seed", range(6))
def test_random_text(tmp_path, seed):
    rng = random.Random(seed)
    alphabet = "lock path fn {}();:=,|&!<>->@*\"/ \n\tAZaz09_#é\x00\x7f"
    text = "".join(rng.choice(alphabet) for _ in range(rng.choice([10, 1000, 50_000])))
    assert_located_error(tmp_path, text.encode("utf-8"))


def test_truncated_file(tmp_path):
    data = (DATA / "design" / "vfio_dmabuf_revoke.lspec").read_bytes()
    assert "the file ends first" in assert_located_error(tmp_path, data[:len(data) // 2])


def test_deep_nesting(tmp_path):
    data = b"import kernel\npath p in process " + b"{" * 400 + b"}" * 400 + b"\n"
    assert f"nesting deeper than {MAX_NESTING} levels" in assert_located_error(tmp_path, data)


def test_deep_nesting_of_conditions(tmp_path):
    data = b"object x : flag\npath p in process { if " + b"(" * 300 + b"x" + b")" * 300 + \
        b" { } }\n"
    assert_located_error(tmp_path, data)


def test_a_10_mb_spec(tmp_path):
    unit = b"path p%d in process { spin_lock(A); spin_unlock(A); }\n"
    data = b"import kernel\nlock A : spinlock\n" + b"".join(
        unit % i for i in range(10 * 1024 * 1024 // len(unit) + 1))
    assert len(data) >= 10 * 1024 * 1024
    text = assert_located_error(tmp_path, data)
    assert f"lockspec reads specs up to {MAX_FILE_BYTES // (1024 * 1024)} MiB" in text


def test_a_large_spec_below_the_limit_is_checked(tmp_path):
    comment = b"// " + b"x" * 1021 + b"\n"
    data = comment * (3 * 1024) + b"import kernel\nlock A : spinlock\n" \
        b"path p in process { spin_lock(A); spin_unlock(A); }\n"
    code, text = check_bytes(tmp_path, data)
    assert code == 0, text


def test_a_directory_with_no_specs(tmp_path):
    (tmp_path / "notes.txt").write_text("not a spec")
    code, out, err = run_cli("check", str(tmp_path))
    assert code == 2 and "no *.lspec files" in err and "Traceback" not in out + err


def test_a_path_that_does_not_exist(tmp_path):
    code, out, err = run_cli("check", str(tmp_path / "missing.lspec"))
    assert code == 2 and "No such file or directory" in err and "Traceback" not in out + err


def test_an_unreadable_import(tmp_path):
    (tmp_path / "lib.lspec").mkdir()          # a directory where a module should be
    text = assert_located_error(tmp_path, b"import lib\n")
    assert "no module `lib` to import" in text


def test_an_import_cycle(tmp_path):
    (tmp_path / "a.lspec").write_text("import b\nlock A : mutex\n")
    (tmp_path / "b.lspec").write_text("import a\nlock B : mutex\n")
    code, out, err = run_cli("check", str(tmp_path / "a.lspec"))
    assert code == 0, out + err


def test_errors_in_several_files_are_all_reported(tmp_path):
    (tmp_path / "one.lspec").write_text("lock A = mutex\n")
    (tmp_path / "two.lspec").write_text("path p in procss { }\n")
    code, out, err = run_cli("check", str(tmp_path))
    assert code == 2
    assert "one.lspec:1:8: error[syntax-error]" in out + err
    assert "two.lspec:1:11: error[type-error]" in out + err


# ------------------------------------------------------ the model pipeline

@pytest.mark.parametrize("spec", REAL_SPECS, ids=lambda p: p.name)
def test_every_truncation_of_a_real_spec(spec):
    data = spec.read_bytes()
    step = max(1, len(data) // 150)
    for cut in range(0, len(data), step):
        compiled = compile_spec("cut.lspec", data[:cut])
        assert_well_formed(compiled, data[:cut])


@pytest.mark.parametrize("spec", REAL_SPECS, ids=lambda p: p.name)
def test_every_line_deleted_from_a_real_spec(spec):
    lines = spec.read_bytes().splitlines(keepends=True)
    for index in range(len(lines)):
        data = b"".join(lines[:index] + lines[index + 1:])
        assert_well_formed(compile_spec("cut.lspec", data), data)


def test_long_else_if_chain_runs_through_every_stage(tmp_path):
    arms = " else ".join("if nondet() { mutex_lock(M); mutex_unlock(M); }" for _ in range(300))
    data = f"import kernel\nlock M : mutex\npath p in process {{ {arms} }}\n".encode()
    code, text = check_bytes(tmp_path, data)
    assert code == 0, text


def test_deep_blocks_run_through_every_stage(tmp_path):
    depth = MAX_NESTING - 2
    data = ("import kernel\nlock M : mutex\npath p in process " + "{" * depth
            + " mutex_lock(M); mutex_unlock(M); " + "}" * depth + "\n").encode()
    code, text = check_bytes(tmp_path, data)
    assert code == 0, text
