"""Time `lockspec conform` on a kernel-sized /proc/lockdep, stage by stage.

    python bench/conform/run.py [--classes 10000] [--deps 100000] [--named 400] [--dir DIR]

Generates a /proc/lockdep laid out as kernel/locking/lockdep_proc.c prints it
(CLASSES classes, DEPS direct dependencies, keys, FD/BD counts, usage
characters, `#N` name versions and `/N` subclasses) and a spec naming NAMED
of its classes (`lockdep "..."`) with a path per design dependency, then runs
`python -m checker.cli conform SPEC --lockdep DUMP --timings` as a user would
and prints the stage times it reports and the wall time. The dump holds every
design dependency and two runtime edges that close cycles with the design
(one of them also against the declared order), so the run reports two
`union-cycle` findings. Not a test: the numbers go to the README.
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def class_name(i: int) -> str:
    # Names like the kernel's: instance fields, subclasses, name versions.
    if i % 97 == 0:
        return f"&dev{i}->mutex/1"
    if i % 89 == 0:
        return f"&sb{i}->s_type->i_mutex_key#{i % 7 + 2}"
    return f"&obj{i}->lock"


def generate(directory: Path, classes: int, deps: int, named: int) -> tuple[Path, Path]:
    rng = random.Random(11)
    names = [class_name(i) for i in range(classes)]
    design = [(i, i + 1) for i in range(named - 1)]            # a chain through the design
    edges = set(design)
    edges |= {(named - 1, 0)}                                   # closes a cycle with the design
    edges |= {(named // 2, named + 5)} if named + 5 < classes else set()  # to an unnamed class
    edges |= {(3, 1)}                                           # against `order L1 -> L2 -> L3`
    while len(edges) < deps:
        a, b = rng.randrange(classes), rng.randrange(classes)
        # Edges among the named classes other than the planted ones would be drift too.
        if a != b and not (a < named and b < named):
            edges.add((a, b))
    by_prev: dict[int, list[int]] = {}
    for a, b in sorted(edges):
        by_prev.setdefault(a, []).append(b)
    lines = ["all lock classes:"]
    for i, name in enumerate(names):
        after = by_prev.get(i, [])
        lines.append(f"{0xffffffffc0000000 + 8 * i:016x} FD:{len(after):5d} BD:{1:5d} +.+.: {name}")
        lines += [f" -> [{0xffffffffc0000000 + 8 * j:016x}] {names[j]}" for j in after]
        lines.append("")
    dump = directory / "lockdep"
    dump.write_text("\n".join(lines) + "\n")
    spec = ["import kernel"]
    spec += [f'lock L{i} : mutex lockdep "{names[i]}"' for i in range(named)]
    spec.append("order L1 -> L2 -> L3")
    spec += [f"path p{a} in process {{ mutex_lock(L{a}); mutex_lock(L{b}); mutex_unlock(L{b}); "
             f"mutex_unlock(L{a}); }}" for a, b in design]
    path = directory / "design.lspec"
    path.write_text("\n".join(spec) + "\n")
    return path, dump


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, default=10_000)
    parser.add_argument("--deps", type=int, default=100_000)
    parser.add_argument("--named", type=int, default=400)
    parser.add_argument("--dir")
    args = parser.parse_args()
    directory = Path(args.dir or tempfile.mkdtemp(prefix="lockspec-conform-"))
    directory.mkdir(parents=True, exist_ok=True)
    spec, dump = generate(directory, args.classes, args.deps, args.named)
    print(f"{dump}: {args.classes} classes, {args.deps} dependencies, "
          f"{dump.stat().st_size / 2**20:.1f} MiB; spec names {args.named}")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "checker.cli", "conform", str(spec), "--lockdep",
                          str(dump), "--timings", "--format", "json"], cwd=ROOT,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(run.stderr, end="")
    codes: dict[str, int] = {}
    import json
    for finding in json.loads(run.stdout)["files"][0]["findings"]:
        codes[finding["code"]] = codes.get(finding["code"], 0) + 1
    print(f"exit {run.returncode}; findings {dict(sorted(codes.items()))}; wall {wall:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
