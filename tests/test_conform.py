"""`lockspec conform`: /proc/lockdep as kernel/locking/lockdep_proc.c prints it, held
against a design."""
from __future__ import annotations

import json

import pytest

from checker.lockdep.conform import class_names, design_class
from checker.lockdep.dump import DumpError, parse_chains, parse_lockdep, split_name
from tests.conftest import DATA, compile_text, run_cli
from tests.output_fixtures import check_golden

VFIO = "specs/vfio/dmabuf_mmap_revoke.lspec"
DUMP = str((DATA / "conform" / "vfio_drift.lockdep").relative_to(DATA.parent.parent))
CHAINS = DUMP + "_chains"

# l_show(): "%p", " OPS:%8ld" (CONFIG_DEBUG_LOCKDEP), " FD:%5ld BD:%5ld"
# (CONFIG_PROVE_LOCKING), " %s" usage, ": ", print_name() (name, "#%d" version when
# > 1, "/%d" subclass), "\n"; then " -> [%p] NAME\n" per distance-1 entry; then "\n".
PROC_LOCKDEP = (
    "all lock classes:\n"
    "ffffffff8a61d2e0 OPS:      12 FD:   12 BD:    1 +.+.: cgroup_mutex\n"
    " -> [ffffffff8a4f7000] &rq->__lock\n"
    " -> [ffffffff8a61d2f0] &x->wait_lock#2/1\n"
    "\n"
    "ffffffff8a4f7000 OPS:   53721 FD:    0 BD: 1021 -.-.: &rq->__lock\n"
    "\n"
    "ffffffff8a61d2f0 OPS:       3 FD:    0 BD:    1 ....: &x->wait_lock#2/1\n"
    "\n"
    "00000000c3a5e9d1 ?.?.: (work_completion)(&(&dev->work)->work)\n"
    "\n")


def test_proc_lockdep_layout_is_parsed():
    dump = parse_lockdep(PROC_LOCKDEP, "lockdep")
    assert [(c.name, c.usage, c.forward, c.backward, c.line) for c in dump.classes] == [
        ("cgroup_mutex", "+.+.", 12, 1, 2),
        ("&rq->__lock", "-.-.", 0, 1021, 6),
        ("&x->wait_lock#2/1", "....", 0, 1, 8),
        ("(work_completion)(&(&dev->work)->work)", "?.?.", None, None, 10)]
    assert [(d.prev, d.next, d.line) for d in dump.dependencies] == [
        ("cgroup_mutex", "&rq->__lock", 3), ("cgroup_mutex", "&x->wait_lock#2/1", 4)]


def test_class_names_split_version_and_subclass():
    name = split_name("&x->wait_lock#2/1")
    assert (name.base, name.version, name.subclass, name.unversioned) == (
        "&x->wait_lock", 2, 1, "&x->wait_lock#2")
    assert split_name("&dev->mutex").unversioned == "&dev->mutex"


def test_subclasses_map_to_the_graph_engines_subclass_nodes():
    program = compile_text('import kernel\nlock m : mutex lockdep "&dev->mutex"\n'
                           'lock m2 : mutex lockdep "&dev->mutex#2"\n'
                           'lock n : mutex lockdep "&dev->mutex/2"\n').program
    names, ambiguous = class_names(program)
    assert ambiguous == ()
    assert design_class("&dev->mutex", names) == "m"
    assert design_class("&dev->mutex/1", names) == "m/1"
    assert design_class("&dev->mutex#2/1", names) == "m2/1"
    assert design_class("&dev->mutex/2", names) == "n"          # named exactly
    assert design_class("&dev->mutex#3", names) is None
    assert design_class("mmap_lock", names) is None             # the kernel's name is used
    assert design_class("&mm->mmap_lock", names) == "mmap_lock"


def test_chains_are_parsed():
    text = (DATA / "conform" / "vfio_drift.lockdep_chains").read_text()
    chains = parse_chains(text, "chains")
    assert [(c.irq_context, c.classes, c.line) for c in chains][1] == (
        0, ("&dev_set->lock", "&vdev->memory_lock"), 7)


@pytest.mark.parametrize("text, line, col", [
    ("all lock classes:\nffff FD:    1 BD:    1 +.+.: A\n -> ffff B\n", 3, 5),
    ("all lock classes:\n -> [ffff] B\n", 2, 1),
    ("all lock classes:\nffff FD:    1 BD:    1 +.+.: A\ngarbage here\n", 3, 1),
])
def test_malformed_dump_lines_are_located(text, line, col):
    with pytest.raises(DumpError) as caught:
        parse_lockdep(text, "lockdep")
    assert (caught.value.line, caught.value.col) == (line, col)


def test_malformed_dump_is_a_located_error_with_exit_2(tmp_path):
    dump = tmp_path / "lockdep"
    dump.write_text("all lock classes:\nffff FD:    1 BD:    1 +.+.: A\n -> ffff B\n")
    code, out, err = run_cli("conform", VFIO, "--lockdep", str(dump))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{dump}:3:5: error[lockdep-dump]: a dependency line is ` -> [KEY] NAME`",
        "    3 |  -> ffff B",
        "            ^~~~~~"]


def test_vfio_dump_gives_exactly_the_planted_findings():
    """One drifted edge (memory_lock -> fs_reclaim), one order violation
    (i_mmap_rwsem -> resv) and one cycle only the union has (fs_reclaim -> resv,
    a reclaim path taking a reservation lock, against the design's resv ->
    fs_reclaim, an importer's GFP_KERNEL allocation under the resv)."""
    code, out, err = run_cli("conform", VFIO, "--lockdep", DUMP, "--chains", CHAINS)
    assert code == 1
    check_golden("conform/vfio_drift.txt", out)
    assert err == (f"lockspec: {DUMP}: 14 lock classes, 20 dependencies; 8 classes named by "
                   "the spec, 6 ignored (not named by the spec)\n")
    code, out, _ = run_cli("conform", VFIO, "--lockdep", DUMP, "--format", "json")
    (result,) = json.loads(out)["files"]
    assert sorted((f["code"], tuple(f["locks"])) for f in result["findings"]) == [
        ("design-drift", ("memory_lock", "fs_reclaim")),
        ("runtime-order-violation", ("i_mmap_rwsem", "resv")),
        ("union-cycle", ("resv", "fs_reclaim"))]


def test_unexercised_design_edges_are_coverage_notes(tmp_path):
    text = (DATA / "conform" / "vfio_drift.lockdep").read_text()
    dump = tmp_path / "lockdep"
    dump.write_text(text.replace(" -> [ffffffffc0a31a50] &vdev->memory_lock\n", "", 1))
    code, out, _ = run_cli("conform", VFIO, "--lockdep", str(dump), "--format", "json")
    (result,) = json.loads(out)["files"]
    notes = [f for f in result["findings"] if f["code"] == "coverage"]
    assert [(f["locks"], f["disposition"], f["severity"]) for f in notes] == [
        (["dev_set_lock", "memory_lock"], "note", "note")]
    assert code == 1          # the three planted findings still fail; the note does not


@pytest.mark.parametrize("fmt", ["sarif", "junit", "github"])
def test_conform_findings_in_every_format(fmt):
    code, out, _ = run_cli("conform", VFIO, "--lockdep", DUMP, "--format", fmt)
    assert code == 1
    for name in ("design-drift", "runtime-order-violation", "union-cycle"):
        assert name in out, (fmt, name)


def test_conform_html(tmp_path):
    code, _, err = run_cli("conform", VFIO, "--lockdep", DUMP, "--html", str(tmp_path))
    assert code == 1 and "wrote 2 report pages" in err
    page = (tmp_path / "dmabuf_mmap_revoke.html").read_text()
    for name in ("design-drift", "runtime-order-violation", "union-cycle"):
        assert f'data-code="{name}"' in page
