"""The kernel baselines a spec imports: dma_resv_lockdep()'s order and the mm lock order."""
from __future__ import annotations

import pytest

from checker.graph.engine import run_graph_engine
from tests.conftest import DATA, compile_text


def check(text: str):
    compiled = compile_text(text)
    assert compiled.diagnostics == (), [d.message for d in compiled.diagnostics]
    findings, run = run_graph_engine(compiled.program)
    assert run.outcome == "complete"
    return findings


@pytest.mark.parametrize("imports", [
    ["kernel.dma_resv_order"], ["kernel.mm_order"], ["kernel.dma_resv_order", "kernel.mm_order"]])
def test_baselines_are_consistent_on_their_own(imports):
    assert check("".join(f"import {m}\n" for m in imports)) == []


def test_gfp_kernel_allocation_under_i_mmap_rwsem_deadlocks_through_fs_reclaim():
    findings = check("""import kernel.dma_resv_order
path shrink in process { i_mmap_lock_write(); kmalloc(GFP_KERNEL); i_mmap_unlock_write(); }
""")
    assert [f.code for f in findings] == ["deadlock"]
    finding = findings[0]
    assert finding.message == "circular lock dependency fs_reclaim -> i_mmap_rwsem -> fs_reclaim"
    assert finding.paths == ("dma_resv_lockdep", "shrink")
    assert finding.span.line == 2


def test_nofs_allocation_under_i_mmap_rwsem_is_fine():
    assert check("""import kernel.dma_resv_order
path shrink in process { i_mmap_lock_write(); kmalloc(GFP_NOFS); i_mmap_unlock_write(); }
""") == []


def test_dma_resv_lock_in_a_signalling_section_closes_through_the_fence_map():
    findings = check("""import kernel.dma_resv_order
lock resv : ww_mutex class reservation_ww_class_mutex
path signaller in process {
    dma_fence_begin_signalling();
    dma_resv_lock(resv, NULL);
    dma_resv_unlock(resv);
    dma_fence_end_signalling();
}
""")
    assert [f.code for f in findings] == ["deadlock"]
    assert "dma_fence_map" in findings[0].message


def test_mm_order_catches_an_inverted_rmap_nesting():
    findings = check("""import kernel.mm_order
path p in process { down_write(anon_vma_rwsem); i_mmap_lock_write(); i_mmap_unlock_write();
                    up_write(anon_vma_rwsem); }
""")
    assert [f.code for f in findings] == ["deadlock"]
    assert set(findings[0].locks) == {"anon_vma_rwsem", "i_mmap_rwsem"}
    # The baseline is imported before the path is written: the path closes the cycle.
    assert findings[0].span.line == 2


def test_design_example_stays_clean_against_the_baselines():
    text = (DATA / "design" / "vfio_dmabuf_revoke.lspec").read_text()
    text = text.replace("import kernel ", "import kernel.dma_resv_order\nimport kernel.mm_order ")
    assert check(text) == []
