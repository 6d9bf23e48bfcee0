"""`lockspec import-splat`: real lockdep reports (tests/data/splats/, each naming its
source) become specs whose check gives the kernel's verdict and its CPU scenario."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checker.lockdep.splat_parse import find_reports
from checker.lockdep.splat_spec import VERDICT, write_spec
from tests.conftest import DATA, ROOT, run_cli
from tests.output_fixtures import check_golden

SPLATS = DATA / "splats"
FIXTURES = sorted(p.stem for p in SPLATS.glob("*.txt") if not p.stem.startswith("truncated"))
TRUNCATED = sorted(p.stem for p in SPLATS.glob("truncated*.txt"))
KINDS = {"circular": "deadlock", "recursive": "recursive-locking",
         "inconsistent": "inconsistent-irq-state", "inversion": "irq-inversion",
         "wait_context": "invalid-wait-context"}


def fixture(name: str) -> str:
    return str((SPLATS / f"{name}.txt").relative_to(ROOT))


def test_fixtures_cover_every_kind_and_name_their_source():
    assert len(FIXTURES) >= 10
    assert {next(k for k in KINDS if name.startswith(k)) for name in FIXTURES} == set(KINDS)
    for name in FIXTURES + TRUNCATED:
        assert (SPLATS / f"{name}.txt").read_text().startswith("# source: "), name


@pytest.mark.parametrize("name", FIXTURES)
def test_import_then_check_gives_the_kernels_verdict(name, tmp_path):
    spec = tmp_path / f"{name}.lspec"
    code, out, err = run_cli("import-splat", fixture(name), "-o", str(spec))
    assert code == 0, err
    check_golden(f"splats/{name}.lspec", spec.read_text())
    code, out, err = run_cli("check", "--no-cache", "--format", "json", str(spec))
    assert code == 0, out + err
    (result,) = json.loads(out)["files"]
    verdict = KINDS[next(k for k in KINDS if name.startswith(k))]
    assert [(f["code"], f["expected"]) for f in result["findings"]] == [(verdict, True)]


def _locks_in_order(rows, rename=lambda n: n) -> list[str]:
    return [rename(m.group(1)) for row in rows
            if (m := re.search(r"lock\((.*)\);", row))]


@pytest.mark.parametrize("name", [n for n in FIXTURES
                                  if find_reports((SPLATS / f"{n}.txt").read_text())[0]
                                  .scenario])
def test_scenario_names_the_kernels_locks_in_the_kernels_order(name, tmp_path):
    text = (SPLATS / f"{name}.txt").read_text()
    (report,) = find_reports(text)
    spec_text, _, mapping = write_spec([report], fixture(name))
    spec = tmp_path / "spec.lspec"
    spec.write_text(spec_text)
    code, out, _ = run_cli("check", "--no-cache", "--format", "json", str(spec))
    (finding,) = json.loads(out)["files"][0]["findings"]
    ours = [(row["cpu"], row["text"].strip()) for row in finding["unsafe_scenario"]]
    kernel = list(report.scenario)
    theirs = _locks_in_order([t for _, t in kernel], lambda n: mapping[re.sub(r"/\d+$", "", n)])
    assert _locks_in_order([t for _, t in ours]) == theirs
    if any(cpu for cpu, _ in kernel):          # the log kept the columns
        assert [cpu for cpu, _ in ours] == [cpu for cpu, _ in kernel]


@pytest.mark.parametrize("name", TRUNCATED)
def test_truncated_reports_are_located_errors(name):
    code, out, err = run_cli("import-splat", fixture(name))
    assert code == 2 and out == ""
    check_golden(f"splats/{name}.err", err)


def test_a_log_with_several_reports_gives_one_spec_with_every_verdict(tmp_path):
    names = ["circular_cryptodev_5.15", "inversion_crng_6.0", "recursive_zfs_4.19"]
    log = tmp_path / "dmesg.txt"
    log.write_text("".join((SPLATS / f"{n}.txt").read_text() + "random line\n" for n in names))
    spec = tmp_path / "all.lspec"
    assert run_cli("import-splat", str(log), "-o", str(spec))[0] == 0
    assert "expect deadlock, irq-inversion, recursive-locking" in spec.read_text()
    code, out, err = run_cli("check", "--no-cache", "--format", "json", str(spec))
    assert code == 0, out + err
    codes = sorted(f["code"] for f in json.loads(out)["files"][0]["findings"])
    assert codes == ["deadlock", "irq-inversion", "recursive-locking"]


def test_notes_go_to_stderr_and_into_the_spec():
    code, out, err = run_cli("import-splat", fixture("inversion_wireguard_5.15"))
    assert code == 0
    assert err.startswith(f"{fixture('inversion_wireguard_5.15')}:10: note: where "
                          "`&peer->endpoint_lock` was held")
    assert "// not inferred (line 10): where `&peer->endpoint_lock`" in out


def test_a_log_without_a_report_is_a_usage_error(tmp_path):
    log = tmp_path / "dmesg.txt"
    log.write_text("[    0.000000] Linux version 6.8.0\n")
    code, out, err = run_cli("import-splat", str(log))
    assert code == 2 and "no lockdep report found" in err


@pytest.mark.parametrize("prefix", ["[  12.345678] ", "[  12.345678][ T1234] ", "[ T1234] ",
                                    "Jun 11 11:02:51 host kernel: ",
                                    "4,1072,209927860,-;", "> "])
def test_log_prefixes_are_removed(prefix):
    text = (SPLATS / "recursive_zfs_4.19.txt").read_text()
    bare = [re.sub(r"^\[\s*\d+\.\d+\] ?", "", line) for line in text.splitlines()]
    (report,) = find_reports("\n".join(prefix + line for line in bare))
    assert (report.kind, report.acquiring.name, report.held[0].at) == (
        "recursive", "&dn->dn_dbufs_mtx", ("dnode_evict_dbufs",))
    assert VERDICT[report.kind] == "recursive-locking"
