"""The shipped specs, scenario by scenario: lockspec, the explorer and SPIN.

    python bench/interleave/corpus.py [PATH...] [--timeout 300] [--max-states N]

For every scenario of every spec (default: specs/) it prints the interleaving
engine's verdict (from `lockspec check`, in-process), the explicit-state
explorer's and SPIN's on the exported model, their times, and whether the
three agree. It is a cross-check on real designs, too slow for the test suite.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from checker.findings import CONFIRMED  # noqa: E402
from checker.interleave.explore import explore_scenario  # noqa: E402
from checker.runner import Options, check_file, collect_spec_files  # noqa: E402
from checker.spin.promela import render_promela  # noqa: E402
from checker.spin.run import LARGE, run_spin  # noqa: E402


def engine_verdicts(path: str):
    """The compiled program, and per scenario the interleaving engine's confirmed
    codes ("pass" if none), with the time `lockspec check` took."""
    start = time.monotonic()
    result = check_file(path, Path(path).read_bytes(), Options())
    seconds = time.monotonic() - start
    run = next((r for r in result.engines if r.name == "interleaving"), None)
    verdicts = {}
    for scenario in getattr(result.program, "scenarios", ()):
        codes = sorted({f.code for f in result.findings if f.engine == "interleaving"
                        and f.status == CONFIRMED and f.scenario == scenario.name})
        verdicts[scenario.name] = ",".join(codes) or (
            "pass" if run and run.outcome == "complete" else "inconclusive")
    return result.program, verdicts, seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "specs")])
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--max-states", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    files, problems = collect_spec_files(args.paths)
    for problem in problems:
        print(problem)
    disagreements = 0
    print(f"{'spec / scenario':<58} {'lockspec':<18} {'explorer':<24} {'SPIN':<24}")
    for path in files:
        program, engine, engine_seconds = engine_verdicts(path)
        if program is None or not program.scenarios:
            continue
        print(f"{path}  (lockspec check {engine_seconds:.2f}s for the file)")
        for scenario in program.scenarios:
            disagreements += compare(program, scenario.name, engine.get(scenario.name, "-"),
                                     args)
    print(f"\n{disagreements} scenarios where the decided verdicts disagree")
    return 1 if disagreements else 0


def compare(program, scenario: str, engine: str, args) -> int:
    start = time.monotonic()
    found = explore_scenario(program, scenario, max_states=args.max_states)
    explored = (found.violation.code if found.violation else
                "pass" if found.complete else "incomplete")
    explore_cell = f"{explored} {time.monotonic() - start:.2f}s"
    text, problems = render_promela(program, scenario)
    spin = run_spin(text, timeout=args.timeout, flags=LARGE) if not problems else None
    spin_verdict = spin.verdict if spin and spin.verdict else "undecided"
    spin_cell = f"{spin_verdict} {spin.seconds:.2f}s" if spin else "export failed"
    mark = "   <-- disagree" if disagree(engine, explored, spin_verdict) else ""
    print(f"  {scenario:<56} {engine:<18} {explore_cell:<24} {spin_cell:<24}{mark}", flush=True)
    return 1 if mark else 0


UNDECIDED = ("incomplete", "undecided", "inconclusive", "-")


def disagree(engine: str, explored: str, spin: str) -> bool:
    """The engine may confirm several codes; the explorer and SPIN stop at the first
    violation they meet, which must be one of them (and "pass" only with "pass")."""
    single = [v for v in (explored, spin) if v not in UNDECIDED]
    if len(set(single)) > 1 and "pass" in single:
        return True
    if engine in UNDECIDED:
        return False
    codes = set() if engine == "pass" else set(engine.split(","))
    return any((v == "pass") != (not codes) or (v != "pass" and v not in codes)
               for v in single)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
