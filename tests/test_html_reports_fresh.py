"""reports/ holds exactly what `lockspec report specs/ -o reports/` writes now.

When it fails, regenerate and commit:  lockspec report specs/ -o reports/
(or scripts/check.sh, which runs `lockspec check specs/ --html reports/`).
"""
from __future__ import annotations

from pathlib import Path

from checker.runner import collect_spec_files
from tests.output_fixtures import ROOT, private_cache, run_cli  # noqa: F401

REGENERATE = "reports/ is stale; regenerate it with: lockspec report specs/ -o reports/"


def tree(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != ".gitkeep"}


def test_reports_directory_is_fresh(tmp_path):
    committed = tree(ROOT / "reports")
    specs, _ = collect_spec_files(["specs"])
    if not specs:
        assert not committed, f"specs/ holds no spec but reports/ has pages; {REGENERATE}"
        return
    fresh = tmp_path / "reports"
    code, out, err = run_cli("report", "specs", "-o", str(fresh))
    assert code != 4, err          # the corpus verdicts are checked elsewhere; here, bytes
    regenerated = tree(fresh)
    assert sorted(committed) == sorted(regenerated), REGENERATE
    stale = [name for name in regenerated if committed[name] != regenerated[name]]
    assert not stale, f"{', '.join(stale)} differ; {REGENERATE}"
