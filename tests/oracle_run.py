"""Running the oracle over many random designs: a pool of workers, a summary with
the generator's coverage, shrunk counterexamples. Used by tests/test_random_oracle.py
and bench/oracle/run.py."""
from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.oracle import Disagreement, check_text, shrink
from tests.random_designs import Design, features, generate, render

DEFAULT_SEED = 20250101


@dataclass(frozen=True)
class DesignRun:
    seed: int
    features: frozenset[str]
    status: str
    stats: Counter
    disagreements: tuple[Disagreement, ...]
    seconds: float


@dataclass
class Summary:
    seed: int
    count: int
    seconds: float = 0.0
    coverage: Counter = field(default_factory=Counter)
    stats: Counter = field(default_factory=Counter)
    failures: list[DesignRun] = field(default_factory=list)
    shrunk: list[tuple[DesignRun, Design]] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"oracle: {self.count} random designs from seed {self.seed} "
                 f"in {self.seconds:.0f} s; {len(self.failures)} with a disagreement"]
        lines.append("coverage (designs with each feature): " + ", ".join(
            f"{k} {v}" for k, v in sorted(self.coverage.items())))
        lines.append("lockspec and worlds: " + ", ".join(
            f"{k} {v}" for k, v in sorted(self.stats.items())))
        kinds = Counter(d.kind for run in self.failures for d in run.disagreements)
        if kinds:
            lines.append("disagreements by kind: " + ", ".join(
                f"{k} {v}" for k, v in sorted(kinds.items())))
        for run in self.failures[:20]:
            lines.append(f"- design seed {run.seed}: " + "; ".join(
                d.kind + ": " + d.detail.splitlines()[0] for d in run.disagreements))
        for run, small in self.shrunk:
            kind = run.disagreements[0].kind
            detail = check_text(render(small)).disagreements
            lines.append(f"minimal design for seed {run.seed} ({kind}):\n{render(small)}"
                         + "".join(f"  {d.kind}: {d.detail}\n" for d in detail))
        return "\n".join(lines)


def check_seed(seed: int) -> DesignRun:
    design = generate(seed)
    start = time.monotonic()
    outcome = check_text(render(design), f"seed{seed}.lspec")
    return DesignRun(seed, frozenset(features(design)), outcome.status, outcome.stats,
                     tuple(outcome.disagreements), time.monotonic() - start)


def run_designs(seed: int, count: int, workers: int = 2, shrink_seconds: float = 60.0,
                shrink_limit: int = 3) -> Summary:
    """Designs seed, seed + 1, ...: each reproduces from its own seed alone."""
    summary = Summary(seed, count)
    start = time.monotonic()
    seeds = range(seed, seed + count)
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            runs = list(pool.imap(check_seed, seeds, chunksize=8))
    else:
        runs = [check_seed(s) for s in seeds]
    for run in runs:
        summary.coverage.update(run.features)
        summary.stats.update(run.stats)
        if run.disagreements:
            summary.failures.append(run)
    summary.shrunk = _shrink_some(summary.failures, shrink_seconds, shrink_limit)
    summary.seconds = time.monotonic() - start
    return summary


def _shrink_some(failures: list[DesignRun], seconds: float, limit: int):
    """Shrink the first failure of each kind, up to `limit` of them in `seconds`."""
    deadline = time.monotonic() + seconds
    done, kinds = [], set()
    for run in failures:
        kind = run.disagreements[0].kind
        if kind in kinds or len(done) >= limit or time.monotonic() >= deadline:
            continue
        kinds.add(kind)
        share = max(1.0, (deadline - time.monotonic()) / max(1, limit - len(done)))
        done.append((run, shrink(generate(run.seed), kind, share)))
    return done
