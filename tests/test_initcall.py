"""`lockspec initcall`: the declared order as a C initcall, compiled with gcc -fsyntax-only
against tests/data/initcall/kernel_stub.h (every <linux/...> include resolves to it)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from checker.lockdep.initcall import render_initcall
from tests.conftest import DATA, compile_text, run_cli

STUB = DATA / "initcall"
GCC = shutil.which("gcc")

EVERY_KIND = """spec "every kind of lock in an order"
import kernel
lock A : spinlock
lock R : raw_spinlock
lock W : rwlock
lock Q : seqlock
lock M1, M2 : mutex class M
lock S : rwsem
lock ctx : ww_ctx class gpu_ww_class_acquire
lock bo : ww_mutex class gpu_ww_class_mutex
lock resv_ctx : ww_ctx class reservation_ww_class_acquire
lock resv : ww_mutex class reservation_ww_class_mutex
lock cb_map : lockdep_map
order mmap_lock -> M1 -> S -> ctx -> bo -> A -> R -> W -> Q
order resv_ctx -> resv -> fs_reclaim -> i_mmap_rwsem
order fs_reclaim -> mmu_notifier_invalidate_range_start -> dma_fence_map
order cb_map -> dma_fence_map -> M2
path p in process { mutex_lock(M1); mutex_unlock(M1); }
"""


def render(text: str):
    compiled = compile_text(text, "gpu_driver.lspec")
    assert compiled.diagnostics == (), [d.message for d in compiled.diagnostics]
    return render_initcall(compiled.program)


def compiles(source: str, tmp_path) -> subprocess.CompletedProcess:
    include = tmp_path / "include"
    for header in re.findall(r"#include <(.+?)>", source):
        target = include / header
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text('#include "kernel_stub.h"\n')
    c_file = tmp_path / "initcall.c"
    c_file.write_text(source)
    return subprocess.run([GCC, "-fsyntax-only", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                           "-nostdinc", "-I", str(include), "-I", str(STUB), str(c_file)],
                          capture_output=True, text=True, check=False)


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
@pytest.mark.parametrize("spec", ["design", "every_kind"])
def test_initcall_compiles(spec, tmp_path):
    if spec == "design":
        path = DATA / "design" / "vfio_dmabuf_revoke.lspec"
        code, out, err = run_cli("initcall", str(path))
        assert code == 0, err
    else:
        out, problems = render(EVERY_KIND)
        assert problems == []
    result = compiles(out, tmp_path)
    assert result.returncode == 0, result.stderr + out


def test_design_example_initcall_takes_the_order_nested():
    path = DATA / "design" / "vfio_dmabuf_revoke.lspec"
    code, out, _ = run_cli("initcall", str(path))
    assert code == 0
    body = out[out.index("/* order"):out.index("mmput")]
    steps = [line.strip() for line in body.splitlines()[1:] if line.strip()]
    assert steps == [
        "mmap_write_lock(mm);", "down_write(&memory_lock);", "dma_resv_lock(&resv, NULL);",
        "i_mmap_lock_write(&mapping);", "i_mmap_unlock_write(&mapping);",
        "dma_resv_unlock(&resv);", "up_write(&memory_lock);", "mmap_write_unlock(mm);"]
    assert "extern struct lock_class_key memory_lock_key;" in out
    assert "lockdep_set_class(&memory_lock, &memory_lock_key);" in out
    assert "subsys_initcall(vfio_dmabuf_revoke_lockdep);" in out


def test_each_order_is_primed_on_its_own_with_spinlocks_under_irqs_off():
    out, problems = render(EVERY_KIND)
    assert problems == []
    chains = out.split("/* order ")[1:]
    assert len(chains) == 4
    first = chains[0]
    assert first.index("local_irq_disable();") < first.index("spin_lock(&A);")
    assert first.index("spin_unlock(&A);") < first.index("local_irq_enable();")
    assert "ww_acquire_init(&ctx, &gpu_ww_class);" in first
    assert "ww_mutex_lock(&bo, &ctx);" in first
    assert "if (dma_resv_lock(&resv, &resv_ctx) == -EDEADLK)" in chains[1]
    assert "__dma_fence_might_wait();" in chains[2]
    assert "fence_cookie = dma_fence_begin_signalling();" in chains[3]
    # two instances of one class share one key
    assert out.count("extern struct lock_class_key M_key;") == 1


def test_orders_that_cannot_be_primed_are_reported():
    _, problems = render("""import kernel
lock A : spinlock
lock M : mutex
order A -> M
""")
    assert problems and "may sleep and cannot nest inside spinning `A`" in problems[0]
    _, problems = render("import kernel\norder rcu_read_lock_map -> mmap_lock\n")
    assert problems and "rcu" in problems[0]
    _, problems = render("import kernel\nlock A : mutex\n")
    assert problems and "no `order`" in problems[0]


def test_cli_initcall_problems_exit_2(tmp_path):
    spec = tmp_path / "bad.lspec"
    spec.write_text("import kernel\nlock A : spinlock\nlock M : mutex\norder A -> M\n")
    code, out, err = run_cli("initcall", str(spec))
    assert code == 2 and out == "" and "cannot nest" in err
