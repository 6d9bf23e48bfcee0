"""A report opened in headless Chromium: it renders, and the DOM holds the graph,
the highlighted cycle and the swimlane. Skipped only when Chromium is missing and
CI is not set; in CI a missing browser is a failure."""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.output_fixtures import private_cache, run_cli, simulated, spec  # noqa: F401

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (Debian package `chromium`), and CI=true")
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    return found


def run_browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False)


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (enough to see it is not blank)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


def test_report_renders_in_chromium(simulated, tmp_path):
    binary = chromium()
    report = tmp_path / "report"
    code, _, err = run_cli("report", spec("abba.lspec"), spec("ordered.lspec"), "-o", str(report))
    assert code == 1, err
    page = (report / "abba.html").resolve().as_uri()

    shot = tmp_path / "abba.png"
    done = run_browser(binary, tmp_path / "profile-1", "--window-size=1400,1800",
                       f"--screenshot={shot}", page)
    assert shot.exists(), done.stderr[-2000:]
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1400, 1800)
    assert len(set(pixels)) > 64, "the screenshot is blank"

    dom = run_browser(binary, tmp_path / "profile-2", "--dump-dom", page).stdout
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="lock-graph"' in dom
    cycle_edges = re.findall(r'<g class="edge cycle" data-source="(\w+)" data-target="(\w+)"',
                             dom)
    assert sorted(cycle_edges) == [("A", "B"), ("B", "A")]
    assert sorted(re.findall(r'<g class="node cycle" data-lock="(\w+)"', dom)) == ["A", "B"]
    assert 'class="swimlane"' in dom
    assert len(re.findall(r'<g class="step" data-step="\d+"', dom)) == 2
    assert len(re.findall(r'<g class="block" ', dom)) == 2
    assert re.search(r'<span class="line hl" id="L8">', dom)
