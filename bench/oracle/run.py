"""The differential oracle at scale: `python bench/oracle/run.py --seed N --designs M`.

The same code as tests/test_random_oracle.py (tests/oracle_run.py), on more designs;
prints the summary, the coverage and every disagreement, shrunk."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.oracle_run import DEFAULT_SEED, run_designs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--designs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shrink-seconds", type=float, default=300.0)
    parser.add_argument("--shrink-limit", type=int, default=10)
    args = parser.parse_args()
    summary = run_designs(args.seed, args.designs, args.workers, args.shrink_seconds,
                          args.shrink_limit)
    print(summary.report())
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
