"""Time `lockspec check` on the two kernel-scale specs, and where the time goes.

    python bench/graph/run.py [--dir DIR] [--engines graph]

Generates bench/graph/gen_kernel_spec.py's acyclic and one-cycle specs (8,000
classes, 50,000 dependencies, 20,000 paths) into DIR (a temporary directory by
default), runs `python -m checker.cli check` on each as a user would, then
repeats the pipeline in-process stage by stage (parse, resolve, lower, graph
engine) and prints wall and CPU seconds for each. Not a test: numbers go to
the README.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from gen_kernel_spec import main as generate  # noqa: E402
from checker.graph_engine import run_graph_engine  # noqa: E402
from model.loader import load  # noqa: E402
from model.program import build_program  # noqa: E402
from model.resolve import resolve  # noqa: E402


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def cli_check(path: Path, engines: str) -> tuple[float, int, list[str]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "checker.cli", "check", "--engines", engines,
                           "--format", "json", str(path)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    try:
        codes = [f["code"] for f in json.loads(done.stdout)["files"][0]["findings"]]
    except (ValueError, KeyError, IndexError):
        codes = [f"unreadable output: {done.stderr.strip()[-200:]}"]
    return wall, done.returncode, codes


def stages(path: Path) -> list[tuple[str, float, float]]:
    data = path.read_bytes()
    loaded, w1, c1 = timed(load, str(path), data)
    (resolved, _), w2, c2 = timed(resolve, loaded.modules)
    (program, _), w3, c3 = timed(build_program, resolved, loaded.sources)
    (findings, run), w4, c4 = timed(run_graph_engine, program)
    return [("parse (lark)", w1, c1), ("resolve", w2, c2), ("lower", w3, c3),
            (f"graph engine ({run.detail}; {len(findings)} findings)", w4, c4)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="where to write the generated specs")
    parser.add_argument("--engines", default="graph", help="engines for the CLI run")
    args = parser.parse_args(argv)
    directory = Path(args.dir or tempfile.mkdtemp(prefix="lockspec-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    specs = {"acyclic": directory / "kernel_acyclic.lspec",
             "one cycle": directory / "kernel_cycle.lspec"}
    generate(["-o", str(specs["acyclic"])])
    generate(["--cycle", "-o", str(specs["one cycle"])])
    for name, path in specs.items():
        wall, code, codes = cli_check(path, args.engines)
        print(f"{name}: `lockspec check --engines {args.engines}` {wall:.2f} s wall, "
              f"exit {code}, findings {codes}  ({path}, {path.stat().st_size // 1024} KiB)")
        for stage, stage_wall, stage_cpu in stages(path):
            print(f"    {stage:<72} {stage_wall:6.2f} s wall {stage_cpu:6.2f} s cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
