"""Generate a kernel-scale spec for the graph engine benchmark.

8,000 lock classes (half sleeping: mutex and rwsem; half spinning: spinlock and
rwlock), 50,000 distinct class dependencies over 20,000 process paths. Every
path takes a short chain of locks nested in rank order (sleeping locks rank
below spinning ones, so no path sleeps in atomic context), so the graph is
acyclic; with --cycle, the last path takes one dependency backwards, chosen so
that it closes exactly one cycle.

    python bench/graph/gen_kernel_spec.py --cycle -o /tmp/kernel_cycle.lspec
"""
from __future__ import annotations

import argparse
import random
import sys

import networkx as nx

KINDS = {"mutex": ("mutex_lock", "mutex_unlock"), "rwsem": ("down_write", "up_write"),
         "spinlock": ("spin_lock", "spin_unlock"), "rwlock": ("write_lock", "write_unlock")}


def lock_kinds(classes: int) -> list[str]:
    half = classes // 2
    return [("mutex" if i % 2 else "rwsem") if i < half else
            ("spinlock" if i % 2 else "rwlock") for i in range(classes)]


def chains(classes: int, edges: int, paths: int, rng: random.Random) -> list[list[int]]:
    """`paths` rank-ordered chains whose consecutive pairs are `edges` distinct pairs."""
    long_paths = edges - 2 * paths      # chains of 4 locks give 3 pairs, of 3 locks 2
    if not 0 <= long_paths <= paths:
        raise SystemExit("need 2 * paths <= edges <= 3 * paths")
    used: set[tuple[int, int]] = set()
    out = []
    for number in range(paths):
        size = 4 if number < long_paths else 3
        while True:
            chain = sorted(rng.sample(range(classes), size))
            pairs = list(zip(chain, chain[1:]))
            if not used.intersection(pairs):
                used.update(pairs)
                out.append(chain)
                break
    return out


def plant_cycle(chains_: list[list[int]], kinds: list[str], rng: random.Random) -> list[int]:
    """A backwards pair (v, u) for a dependency u -> v that is the only way from u
    to v, between two spinning locks: one cycle, and nothing else to report."""
    graph = nx.DiGraph()
    for chain in chains_:
        graph.add_edges_from(zip(chain, chain[1:]))
    candidates = sorted((u, v) for u, v in graph.edges if kinds[u] == kinds[v] == "spinlock")
    rng.shuffle(candidates)
    for u, v in candidates:
        graph.remove_edge(u, v)
        alone = not nx.has_path(graph, u, v)
        graph.add_edge(u, v)
        if alone:
            return [v, u]
    raise SystemExit("no dependency to reverse")


def render(kinds: list[str], chains_: list[list[int]], title: str) -> str:
    out = [f'spec "{title}"', "import kernel"]
    for kind in KINDS:
        names = [f"L{i}" for i, k in enumerate(kinds) if k == kind]
        for start in range(0, len(names), 40):
            out.append(f"lock {', '.join(names[start:start + 40])} : {kind}")
    for number, chain in enumerate(chains_):
        take = " ".join(f"{KINDS[kinds[c]][0]}(L{c});" for c in chain)
        drop = " ".join(f"{KINDS[kinds[c]][1]}(L{c});" for c in reversed(chain))
        out.append(f"path p{number} in process {{ {take} {drop} }}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=8000)
    parser.add_argument("--edges", type=int, default=50000)
    parser.add_argument("--paths", type=int, default=20000)
    parser.add_argument("--cycle", action="store_true", help="plant one deadlock cycle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    kinds = lock_kinds(args.classes)
    if args.cycle:
        body = chains(args.classes, args.edges - 1, args.paths - 1, rng)
        body.append(plant_cycle(body, kinds, rng))
        title = "kernel-scale lock graph with one planted cycle"
    else:
        body = chains(args.classes, args.edges, args.paths, rng)
        title = "kernel-scale acyclic lock graph"
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(render(kinds, body, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
