"""lockspec vs SPIN on the interleaving families, side by side.

    python bench/interleave/run.py [--families abc] [--timeout 120] [--max-ring 16]
                                   [--only NAMES] [--keep DIR] [--no-explore] [--no-spin]

For every case it times, each in its own process and with a wall-clock limit:
- `lockspec check --format json` end to end (parse, graph and interleaving
  engines, whichever interleaving engine is installed);
- the explicit-state explorer (checker/interleave/explore.py), the reference semantics;
- SPIN end to end: `lockspec export --promela`, `spin -a`, `gcc -O2`, `./pan`.
It prints one table with each tool's verdict and time and the ratios
SPIN / lockspec and SPIN / explorer. Timings are wall-clock and vary by
machine; the verdicts must not.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.interleave.families import Case, all_cases  # noqa: E402


@dataclass(frozen=True)
class Timing:
    verdict: str          # a finding code, "pass", "timeout", "error: ..."
    seconds: float
    note: str = ""


def run_lockspec(path: Path, timeout: float) -> Timing:
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "checker.cli", "check", "--no-cache",
                               "--format", "json", str(path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Timing("timeout", time.monotonic() - start)
    seconds = time.monotonic() - start
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Timing("error", seconds, _last_line(done.stderr or done.stdout))
    verdict, note = lockspec_verdict(document["files"][0])
    return Timing(verdict, seconds, note)


def lockspec_verdict(result: dict) -> tuple[str, str]:
    """(verdict, note) from the interleaving engine's part of a JSON file result."""
    engine = next((e for e in result.get("engines", []) if e["name"] == "interleaving"), None)
    if engine is None:
        return "error", "no interleaving engine ran"
    codes = sorted({f["code"] for f in result["findings"]
                    if f["engine"] == "interleaving" and f["status"] == "confirmed"})
    if codes:
        return ",".join(codes), engine["detail"]
    if engine["outcome"] != "complete":
        return "inconclusive", engine["detail"]
    return "pass", engine["detail"]


def run_explorer(path: Path, timeout: float) -> Timing:
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(Path(__file__)), "--explore", str(path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return Timing("timeout", time.monotonic() - start)
    seconds = time.monotonic() - start
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Timing("error", seconds, _last_line(done.stderr))
    return Timing(answer["verdict"], seconds, f"{answer['states']} states")


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:160] if lines else "no output"


def explore_main(path: str) -> int:
    """The explorer's side of run_explorer, in its own process."""
    from checker.interleave.explore import explore_scenario
    from model.pipeline import compile_spec
    program = compile_spec(path, Path(path).read_bytes()).program
    result = explore_scenario(program, max_states=50_000_000)
    verdict = result.violation.code if result.violation else (
        "pass" if result.complete else "incomplete")
    print(json.dumps({"verdict": verdict, "states": result.states}))
    return 0


def run_spin_case(path: Path, timeout: float) -> Timing:
    from checker.spin.promela import render_promela
    from checker.spin.run import LARGE, run_spin
    from model.pipeline import compile_spec
    start = time.monotonic()
    program = compile_spec(str(path), path.read_bytes()).program
    text, problems = render_promela(program, None)
    if problems:
        return Timing("error", time.monotonic() - start, problems[0])
    export = time.monotonic() - start
    result = run_spin(text, timeout=max(1.0, timeout - export), flags=LARGE)
    note = f"{result.states} states, pan {result.pan_seconds:.2f}s" if result.states else ""
    verdict = result.verdict or ("timeout" if "timed out" in result.detail else
                                 "incomplete" if result.detail.startswith("incomplete") else
                                 "error")
    if result.detail:
        note = (note + "; " if note else "") + result.detail[:80]
    return Timing(verdict, export + result.seconds, note)


# ------------------------------------------------------------------ the table

UNDECIDED = ("timeout", "error", "inconclusive", "incomplete")


def ratio(spin: Timing, other: Timing) -> str:
    if other.verdict in UNDECIDED or spin.verdict == "error" or other.seconds <= 0:
        return "-"
    prefix = ">" if spin.verdict in UNDECIDED else ""
    return f"{prefix}{spin.seconds / other.seconds:.1f}x"


def cell(timing: Timing | None) -> str:
    if timing is None:
        return "-"
    limit = ">" if timing.verdict == "timeout" else ""
    return f"{timing.verdict} {limit}{timing.seconds:.2f}s"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="abc")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per tool and case")
    parser.add_argument("--max-ring", type=int, default=16)
    parser.add_argument("--max-ordered", type=int, default=8)
    parser.add_argument("--max-clients", type=int, default=4)
    parser.add_argument("--only", metavar="NAMES", help="comma-separated case names, "
                        "e.g. a_ring_8,b_ring_ordered_8")
    parser.add_argument("--keep", metavar="DIR", help="write the generated specs here")
    parser.add_argument("--no-explore", action="store_true")
    parser.add_argument("--no-spin", action="store_true")
    parser.add_argument("--explore", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.explore:
        return explore_main(args.explore)
    cases = [c for c in all_cases(args.max_ring, args.max_ordered, args.max_clients)
             if c.family in args.families
             and (not args.only or c.name in args.only.split(","))]
    with tempfile.TemporaryDirectory(prefix="lockspec-bench-") as tmp:
        outdir = Path(args.keep) if args.keep else Path(tmp)
        outdir.mkdir(parents=True, exist_ok=True)
        header = (f"{'case':<24} {'expected':<17} {'lockspec':<26} {'explorer':<26} "
                  f"{'SPIN':<26} {'SPIN/lockspec':>13} {'SPIN/explorer':>13}")
        print(header)
        print("-" * len(header))
        tally = {"wrong": 0, "error": 0}
        for case in cases:
            for key, count in run_case(case, outdir, args).items():
                tally[key] += count
    print(f"\n{tally['wrong']} verdicts differ from the expected ones, "
          f"{tally['error']} runs failed; timeouts and inconclusive runs are not counted")
    return 1 if tally["wrong"] or tally["error"] else 0


def run_case(case: Case, outdir: Path, args) -> dict[str, int]:
    path = outdir / f"{case.name}.lspec"
    path.write_text(case.text, encoding="utf-8")
    lockspec = run_lockspec(path, args.timeout)
    explorer = None if args.no_explore else run_explorer(path, args.timeout)
    spin = None if args.no_spin else run_spin_case(path, args.timeout)
    print(f"{case.name:<24} {case.expected:<17} {cell(lockspec):<26} {cell(explorer):<26} "
          f"{cell(spin):<26} {ratio(spin, lockspec) if spin else '-':>13} "
          f"{ratio(spin, explorer) if spin and explorer else '-':>13}", flush=True)
    notes = [f"{name}: {t.note}" for name, t in (("lockspec", lockspec), ("explorer", explorer),
                                                  ("spin", spin)) if t is not None and t.note]
    if notes:
        print("    " + "; ".join(notes), flush=True)
    verdicts = [t.verdict for t in (lockspec, explorer, spin) if t is not None]
    return {"wrong": sum(1 for v in verdicts if v not in UNDECIDED and v != case.expected),
            "error": verdicts.count("error")}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
