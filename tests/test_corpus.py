"""The shipped corpus: `lockspec check specs/` meets every expectation, and each
spec gets the verdict this table records for it.

The table is kept here as well as in the specs' `expect` lines on purpose: a
spec whose expectation is weakened, or whose finding moves to another code or
scenario, fails this test even though its own `expect` lines still match.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

SPECS = ROOT / "specs"

# Modules other specs import for their locks, objects and functions.
LIBRARIES = {
    "drm/sched_kill_jobs_common.lspec",
    "iommufd/dmabuf_import_common.lspec",
    "vfio/dmabuf_common.lspec",
    "vfio/rfc_v2_common.lspec",
}

# spec -> the findings it must report, as (scenario or None, code); () is a pass.
CORPUS: dict[str, tuple[tuple[str | None, str], ...]] = {
    "dma-buf/alloc_under_i_mmap.lspec": ((None, "deadlock"), (None, "order-violation")),
    "dma-buf/interconnect.lspec": (("revoke_vs_rebind", "use-after-revoke"),),
    "dma-buf/resv_order.lspec": (),
    "drm/sched_kill_jobs.lspec": ((None, "irq-inversion"), (None, "recursive-locking"),
                                  (None, "deadlock")),
    "drm/sched_kill_jobs_fixed.lspec": (),
    "iommufd/dmabuf_import.lspec": (),
    "iommufd/dmabuf_import_no_revoked_check.lspec": (("map_vs_reset", "use-after-revoke"),),
    "iommufd/pages_mutex_class.lspec": (),
    "iommufd/pages_mutex_shared_class.lspec": ((None, "deadlock"),),
    "tenstorrent/pin_pages_vs_mmap.lspec": ((None, "deadlock"),),
    "tenstorrent/pin_pages_vs_mmap_fixed.lspec": (),
    "vfio/b06_revoke_wait_importers.lspec": (("before", "use-after-revoke"),),
    "vfio/cleanup_double_put.lspec": (("off_then_close", "assertion"),),
    "vfio/dmabuf_export.lspec": (("before", "use-after-free"),),
    "vfio/dmabuf_mmap_revoke.lspec": (),
    "vfio/rfc_v2_perm_upgrade.lspec": (("disable_then_revoke", "assertion"),),
    "vfio/rfc_v2_revoke_read_lock.lspec": (("race", "use-after-revoke"),),
    "vfio/variant_close_disable_first.lspec": (("race", "use-after-revoke"),),
    "vfio/variant_fault_check_unlocked.lspec": (("race", "use-after-revoke"),),
    "vfio/variant_revoke_foreign_dmabuf.lspec": ((None, "assertion"),),
    "vfio/variant_revoke_no_wait.lspec": (("race", "use-after-revoke"),),
    "vfio/variant_zap_under_memory_lock_2020.lspec": ((None, "deadlock"),),
    "vfio/zap_under_memory_lock_2020_trylock.lspec": (),
}

# Scenarios whose violation-free interleavings are part of a spec's verdict:
# for these the interleaving engine must have searched exhaustively.
PROVED = {
    "dma-buf/interconnect.lspec": ("import_only",),
    "drm/sched_kill_jobs_fixed.lspec": ("kill",),
    "iommufd/dmabuf_import.lspec": ("flr_with_unmap", "map_vs_reset"),
    "tenstorrent/pin_pages_vs_mmap_fixed.lspec": ("abba",),
    "vfio/b06_revoke_wait_importers.lspec": ("after",),
    "vfio/dmabuf_export.lspec": ("after",),
    "vfio/dmabuf_mmap_revoke.lspec": (
        "revoke_vs_fault", "revoke_vs_importer", "revoke_vs_mmap", "revoke_temporary",
        "bar_mmap", "reset_vs_users", "memory_disable", "hot_reset_vs_users",
        "close_vs_users", "release_vs_disable", "foreign_dmabuf"),
    "vfio/zap_under_memory_lock_2020_trylock.lspec": ("retry",),
}


def relative(path: str) -> str:
    return Path(path).resolve().relative_to(SPECS.resolve()).as_posix()


@pytest.fixture(scope="module")
def corpus_run():
    code, out, err = run_cli("check", str(SPECS), "--format", "json")
    document = json.loads(out)
    files = {relative(entry["path"]): entry for entry in document["files"]}
    return code, files, err


def test_every_expectation_is_met(corpus_run):
    code, files, err = corpus_run
    failing = {name: (entry["outcome"], entry["unmet"], entry["errors"],
                      [f["code"] for f in entry["findings"] if not f["expected"]])
               for name, entry in files.items() if entry["outcome"] != "pass"}
    assert failing == {}, err
    assert code == 0


def test_the_table_lists_every_spec(corpus_run):
    _, files, _ = corpus_run
    assert set(files) == set(CORPUS) | LIBRARIES


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_spec_reports_its_recorded_verdict(corpus_run, name):
    _, files, _ = corpus_run
    findings = files[name]["findings"]
    assert not [f for f in findings if not f["expected"] and f["status"] != "refuted"]
    reported = {(f["scenario"], f["code"]) for f in findings if f["status"] != "refuted"}
    for scenario, code in CORPUS[name]:
        if scenario is None:
            assert code in {c for _, c in reported}, (name, code, reported)
        else:
            assert (scenario, code) in reported, (name, scenario, code, reported)
    if not CORPUS[name]:
        assert reported == set()


@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_library_modules_check_clean(corpus_run, name):
    entry = corpus_run[1][name]
    assert entry["findings"] == [] and entry["outcome"] == "pass"


def test_corpus_size():
    failing = [name for name, verdict in CORPUS.items() if verdict]
    assert len(CORPUS) >= 10
    assert len(failing) >= 8


def test_every_spec_cites_its_sources():
    for name in sorted(CORPUS) + sorted(LIBRARIES):
        head = (SPECS / name).read_text().split("\nspec ", 1)[0]
        assert "Source" in head, name


@pytest.mark.parametrize("name", sorted(PROVED))
def test_passing_scenarios_are_proved_exhaustively(corpus_run, name):
    entry = corpus_run[1][name]
    runs = {engine["name"]: engine for engine in entry["engines"]}
    interleaving = runs["interleaving"]
    if interleaving["detail"] == "not implemented":
        pytest.skip("the z3 interleaving engine is not in yet")
    assert interleaving["exhaustive"] is True, interleaving
    detail = interleaving["detail"]
    for scenario in PROVED[name]:
        assert f"{scenario}: proved (exhaustive" in detail, (scenario, detail)
