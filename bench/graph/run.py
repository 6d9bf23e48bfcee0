"""Time `lockspec check` on kernel-scale specs, stage by stage, and fit time to size.

    python bench/graph/run.py [--dir DIR] [--engines graph] [--profile N]

Generates bench/graph/gen_kernel_spec.py's acyclic spec (8,000 classes, 50,000
dependencies, 20,000 paths: 3.1 MiB) at 1/4, 1/2, 1 and 2 times that size, and
its one-cycle variant at full size, into DIR (a temporary directory by
default). For each it runs `python -m checker.cli check --no-cache` as a user
would (a spec over the loader's 4 MiB limit is only timed in-process), then
repeats the pipeline in-process stage by stage (parse, resolve, lower, graph
engine) and prints wall and CPU seconds per stage, the parse throughput, and a
least-squares line of each stage's CPU time against the spec's size. With
--profile N, each stage of the full-size acyclic spec is run under cProfile
and its N costliest functions are printed. Not a test: numbers go to the README.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from gen_kernel_spec import main as generate  # noqa: E402

from checker.graph.engine import run_graph_engine  # noqa: E402
from model import loader  # noqa: E402
from model.gcpause import gc_paused  # noqa: E402
from model.program import build_program  # noqa: E402
from model.resolve import resolve  # noqa: E402

FULL = {"classes": 8000, "edges": 50000, "paths": 20000}
SCALES = (0.25, 0.5, 1.0, 2.0)
STAGES = ("parse", "resolve", "lower", "graph engine")
MIB = 1024 * 1024


def timed(fn, *args, profile: int = 0):
    profiler = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    result = fn(*args)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(profile)
    return result, wall, cpu


def cli_check(path: Path, engines: str) -> tuple[float, int, list[str]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "checker.cli", "check", "--no-cache",
                           "--engines", engines, "--format", "json", str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    try:
        codes = [f["code"] for f in json.loads(done.stdout)["files"][0]["findings"]]
    except (ValueError, KeyError, IndexError):
        codes = [f"unreadable output: {done.stderr.strip()[-200:]}"]
    return wall, done.returncode, codes


def stages(path: Path, profile: int = 0) -> tuple[dict[str, tuple[float, float]], str]:
    """Each stage's (wall, cpu), as `lockspec check` runs them (the collector paused
    over compilation, as model.pipeline does)."""
    data = path.read_bytes()
    out = {}
    with gc_paused():
        loaded, *out["parse"] = timed(loader.load, str(path), data, profile=profile)
        assert not loaded.diagnostics, loaded.diagnostics[:3]
        (resolved, _), *out["resolve"] = timed(resolve, loaded.modules, profile=profile)
        (program, _), *out["lower"] = timed(build_program, resolved, loaded.sources,
                                            profile=profile)
    (findings, run), *out["graph engine"] = timed(run_graph_engine, program, profile=profile)
    return out, f"{run.detail}; {len(findings)} findings"


def fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: (a, b, r squared)."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    slope = sxy / sxx if sxx else 0.0
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    return intercept, slope, 1 - residual / total if total else 1.0


def make_specs(directory: Path) -> list[tuple[str, Path]]:
    specs = []
    for scale in SCALES:
        path = directory / f"kernel_acyclic_x{scale:g}.lspec"
        sizes = [f"--{key}={int(value * scale)}" for key, value in FULL.items()]
        generate(sizes + ["-o", str(path)])
        specs.append((f"acyclic x{scale:g}", path))
    cycle = directory / "kernel_cycle.lspec"
    generate(["--cycle", "-o", str(cycle)])
    specs.append(("one cycle x1", cycle))
    return specs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="where to write the generated specs")
    parser.add_argument("--engines", default="graph", help="engines for the CLI run")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest functions of each stage (full size)")
    args = parser.parse_args(argv)
    directory = Path(args.dir or tempfile.mkdtemp(prefix="lockspec-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    # The 2x spec is over the loader's limit for hand-written specs; the bench
    # times it in-process with the limit lifted.
    loader.MAX_FILE_BYTES = 64 * MIB
    loader.load("warm-up.lspec", b"import kernel\nlock a : mutex\n")  # tables, prelude
    rows = []
    print(f"{'spec':<14} {'MiB':>5} {'CLI wall':>9} {'exit':>4}  "
          + "  ".join(f"{s + ' wall/cpu':>22}" for s in STAGES) + f"  {'parse MiB/s':>11}")
    for name, path in make_specs(directory):
        size = path.stat().st_size / MIB
        if size * MIB <= 4 * MIB:
            wall, code, codes = cli_check(path, args.engines)
            cli = f"{wall:8.2f}s {code:>4}"
        else:
            cli, codes = f"{'(> 4 MiB)':>9} {'-':>4}", []
        profile = args.profile if name == "acyclic x1" else 0
        times, detail = stages(path, profile)
        rows.append((name, size, times))
        print(f"{name:<14} {size:5.2f} {cli}  "
              + "  ".join(f"{times[s][0]:10.2f} {times[s][1]:10.2f}" for s in STAGES)
              + f"  {size / times['parse'][1]:11.2f}   {detail} {codes}")
    acyclic = [(size, times) for name, size, times in rows if name.startswith("acyclic")]
    print("\nleast squares over the acyclic sizes, CPU seconds = a + b * MiB:")
    for stage in STAGES + ("total",):
        ys = [sum(t[s][1] for s in STAGES) if stage == "total" else t[stage][1]
              for _, t in acyclic]
        a, b, r2 = fit([size for size, _ in acyclic], ys)
        print(f"    {stage:<13} a = {a:6.2f} s   b = {b:6.2f} s/MiB   r^2 = {r2:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
