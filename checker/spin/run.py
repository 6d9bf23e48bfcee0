"""Run SPIN on an exported Promela model: `spin -a`, `gcc`, `./pan`.

Used to cross-check lockspec's verdicts (tests/test_spin.py) and to compare
speed (bench/interleave). The verdict is the finding code whose marker
assertion pan reports, or "pass" when the search completes without error.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from checker.spin.promela import code_of_marker

# Stuck states are the watchdog's job (-E); -m is the depth bound, -w the log2 of the
# hash table size (pan clears the whole table at start, so small models want it small).
# COLLAPSE is SPIN's recommended lossless state compression for large searches.
SMALL = {"gcc": ("-w", "-O0", "-DSAFETY", "-DNOFAIR"), "pan": ("-E", "-m100000", "-w18")}
LARGE = {"gcc": ("-w", "-O2", "-DSAFETY", "-DNOFAIR", "-DCOLLAPSE", "-DMEMLIM=8192"),
         "pan": ("-E", "-m1000000", "-w24")}


@dataclass(frozen=True)
class SpinResult:
    verdict: str | None         # a finding code, "pass", or None when SPIN did not decide
    states: int | None          # states stored
    seconds: float              # spin -a + gcc + pan, wall time
    pan_seconds: float
    detail: str = ""


def spin_available() -> bool:
    return shutil.which("spin") is not None and shutil.which("gcc") is not None


def run_spin(promela: str, timeout: float = 600.0, flags=SMALL) -> SpinResult:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lockspec-spin-") as tmp:
        workdir = Path(tmp)
        (workdir / "model.pml").write_text(promela, encoding="utf-8")
        for argv in (["spin", "-a", "model.pml"], ["gcc", *flags["gcc"], "-o", "pan", "pan.c"]):
            done = _run(argv, workdir, timeout - (time.monotonic() - start))
            if done is None:
                return SpinResult(None, None, time.monotonic() - start, 0.0,
                                  f"{argv[0]} timed out")
            if done.returncode != 0:
                return SpinResult(None, None, time.monotonic() - start, 0.0,
                                  f"{argv[0]} failed: {(done.stderr or done.stdout)[:400]}")
        pan_start = time.monotonic()
        done = _run(["./pan", *flags["pan"]], workdir, timeout - (pan_start - start))
        now = time.monotonic()
        if done is None:
            return SpinResult(None, None, now - start, now - pan_start, "pan timed out")
        return _parse(done.stdout, now - start, now - pan_start)


def _run(argv, cwd: Path, timeout: float):
    if timeout <= 0:
        return None
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return None


def _parse(output: str, seconds: float, pan_seconds: float) -> SpinResult:
    stored = re.search(r"([0-9.e+]+) states, stored", output)    # large counts: 1.2e+08
    states = int(float(stored.group(1))) if stored else None
    violated = re.search(r"assertion violated (\w+)", output)
    if violated:
        code = code_of_marker(violated.group(1))
        if code is not None:
            return SpinResult(code, states, seconds, pan_seconds)
        return SpinResult(None, states, seconds, pan_seconds,
                          f"unexpected assertion {violated.group(1)}")
    errors = re.search(r"errors: (\d+)", output)
    if errors and errors.group(1) == "0" and "Search not completed" not in output:
        return SpinResult("pass", states, seconds, pan_seconds)
    for sign, reason in (("MEMLIM", "memory limit reached"), ("out of memory", "out of memory"),
                         ("max search depth too small", "depth bound reached")):
        if sign in output:
            return SpinResult(None, states, seconds, pan_seconds, f"incomplete: {reason}")
    tail = output.strip().splitlines()[-3:]
    return SpinResult(None, states, seconds, pan_seconds, "pan: " + " / ".join(tail))
