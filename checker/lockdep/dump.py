"""A saved `/proc/lockdep` (and `/proc/lockdep_chains`) -> frozen records with line numbers.

The layout is kernel/locking/lockdep_proc.c's. `/proc/lockdep`:

    all lock classes:
    ffffffffa0a4b0b8 FD:   40 BD:    1 +.+.: &vdev->memory_lock
     -> [ffffffffa0a4b1c8] &mm->mmap_lock
     -> [ffffffffa0a4b1d0] &dev->mutex/1

    <the next class>

A class line is the key (`%p`: hashed or raw), ` OPS:%8ld` with
CONFIG_DEBUG_LOCKDEP, ` FD:%5ld BD:%5ld` with CONFIG_PROVE_LOCKING, the usage
characters (`.`, `+`, `-`, `?`, one per irq state and read/write), `: ` and the
name. A name is the class name, `#N` when it is the N-th class of that name,
`/N` for subclass N (print_name()). Each ` -> ` line is a direct dependency
(distance 1) of the class above. `/proc/lockdep_chains` lists each chain as
`irq_context: N` and the held classes, outermost first, one `[key] name` a line.

The parsers stop at the first line that fits no part of the layout and say
where: a dump cut short or edited by hand should not be half-read silently.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_CLASS = re.compile(r"(?P<key>[0-9a-fA-Fx]+|\(ptrval\)|\(____ptrval____\))"
                    r"(?: OPS:\s*\d+)?"
                    r"(?: FD:\s*(?P<fd>\d+) BD:\s*(?P<bd>\d+))?"
                    r" (?P<usage>[-+?.]*): (?P<name>\S.*)$")
_EDGE = re.compile(r" -> \[(?P<key>[^\]]+)\] (?P<name>\S.*)$")
_CHAIN_HEAD = re.compile(r"irq_context: (?P<ctx>\d+)$")
_CHAIN_CLASS = re.compile(r"\[(?P<key>[^\]]+)\] (?P<name>\S.*)$")
_SUFFIX = re.compile(r"^(?P<base>.*?)(?:#(?P<version>\d+))?(?:/(?P<subclass>\d+))?$", re.DOTALL)


@dataclass(frozen=True)
class LockClass:
    key: str
    name: str                   # as printed: base, `#version`, `/subclass`
    usage: str                  # the usage characters, e.g. "+.+."
    forward: int | None         # FD: the classes reachable from it (PROVE_LOCKING)
    backward: int | None        # BD: the classes that reach it
    line: int


@dataclass(frozen=True)
class RuntimeDependency:
    prev: str                   # class names as printed
    next: str
    line: int                   # the ` -> ` line


@dataclass(frozen=True)
class LockdepDump:
    path: str
    classes: tuple[LockClass, ...]
    dependencies: tuple[RuntimeDependency, ...]


@dataclass(frozen=True)
class Chain:
    irq_context: int
    classes: tuple[str, ...]    # outermost first
    line: int                   # the `irq_context:` line


@dataclass(frozen=True)
class ClassName:
    base: str
    version: int                # 1 unless the name carries `#N`
    subclass: int

    @property
    def unversioned(self) -> str:
        """The name without its subclass: what a spec's `lockdep "..."` usually gives."""
        return self.base if self.version <= 1 else f"{self.base}#{self.version}"


class DumpError(Exception):
    """A line of the dump that fits no part of lockdep_proc.c's layout."""

    def __init__(self, path: str, line: int, col: int, message: str, text: str):
        super().__init__(f"{path}:{line}:{col}: {message}")
        self.path, self.line, self.col, self.message, self.text = path, line, col, message, text


def split_name(name: str) -> ClassName:
    match = _SUFFIX.match(name)
    version = int(match["version"]) if match["version"] else 1
    return ClassName(match["base"], version, int(match["subclass"] or 0))


def parse_lockdep(text: str, path: str = "/proc/lockdep") -> LockdepDump:
    classes: list[LockClass] = []
    deps: list[RuntimeDependency] = []
    current: LockClass | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            current = None
            continue
        if line.strip() == "all lock classes:":
            continue
        if line.startswith(" -> "):
            edge = _EDGE.match(line)
            if edge is None:
                raise DumpError(path, number, 5, "a dependency line is ` -> [KEY] NAME`", line)
            if current is None:
                raise DumpError(path, number, 1, "a ` -> ` dependency line outside a class "
                                "(a class line, then its dependencies, then a blank line)", line)
            deps.append(RuntimeDependency(current.name, edge["name"].rstrip(), number))
            continue
        match = _CLASS.match(line)
        if match is None:
            raise DumpError(path, number, 1, "not a /proc/lockdep line: expected a class "
                            "(`KEY FD: n BD: n USAGE: NAME`) or a dependency (` -> [KEY] NAME`)",
                            line)
        current = LockClass(match["key"], match["name"].rstrip(), match["usage"],
                            int(match["fd"]) if match["fd"] else None,
                            int(match["bd"]) if match["bd"] else None, number)
        classes.append(current)
    return LockdepDump(path, tuple(classes), tuple(deps))


def parse_chains(text: str, path: str = "/proc/lockdep_chains") -> tuple[Chain, ...]:
    chains: list[Chain] = []
    head: tuple[int, int] | None = None      # (irq_context, line)
    held: list[str] = []

    def close():
        if head is not None:
            chains.append(Chain(head[0], tuple(held), head[1]))

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.endswith("all lock chains:"):
            continue
        start = _CHAIN_HEAD.match(stripped)
        if start is not None:
            close()
            head, held = (int(start["ctx"]), number), []
            continue
        entry = _CHAIN_CLASS.match(stripped)
        if entry is None or head is None:
            raise DumpError(path, number, 1, "not a /proc/lockdep_chains line: expected "
                            "`irq_context: N` or `[KEY] NAME` under one", line)
        held.append(entry["name"].rstrip())
    close()
    return tuple(chains)
