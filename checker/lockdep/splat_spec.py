"""Parsed lockdep reports -> a spec that reproduces them, and what could not be inferred.

Each lockdep class becomes one `lock` with its lockdep name kept (`lockdep
"..."`) and a legal identifier derived from it. Its kind comes, in this
order, from the functions that took it (`mutex_lock_nested`, `down_read`,
`_raw_spin_lock_irqsave`, `lock_map_acquire`, ...), from its name (maps such
as `(work_completion)(...)` and `fs_reclaim`), from the wait type the report
printed (`-{2:2}` a raw spinlock, `{3:3}` a spinlock_t or, before the wait
types split, a sleeping lock, `{4:4}` a sleeping lock), and else it is a
mutex, and the spec says so in a comment.

Each dependency becomes a path that takes the held lock and then the new one
through a `fn` named after the kernel function that took it; each usage the
report names (IN-HARDIRQ-W, SOFTIRQ-ON-W, `<Interrupt>`) becomes a path in that
context. The `expect` line is the report's verdict.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from checker.lockdep.splat_parse import (CIRCULAR, INCONSISTENT, INVERSION, RECURSIVE,
                                         WAIT_CONTEXT, LockRef, Report)
from model.loader import PRELUDE_DIR

VERDICT = {CIRCULAR: "deadlock", RECURSIVE: "recursive-locking",
           INCONSISTENT: "inconsistent-irq-state", INVERSION: "irq-inversion",
           WAIT_CONTEXT: "invalid-wait-context"}
KEYWORDS = frozenset("spec import option lock class lockdep object order fn path in scenario "
                     "expect if else either or return repeat assert true false NULL".split())

# (substring of a function that took the lock, kind, read). First match wins.
_BY_FUNCTION = (
    ("down_read", "rwsem", True), ("percpu_down_read", "rwsem", True),
    ("__sb_start_write", "rwsem", True), ("down_write", "rwsem", False), ("rwsem", "rwsem", False),
    ("mutex_lock", "mutex", False), ("__mutex_lock", "mutex", False),
    ("ww_mutex_lock", "mutex", False), ("rt_mutex", "mutex", False),
    ("_raw_read_lock", "rwlock", True), ("_raw_write_lock", "rwlock", False),
    ("raw_spin_lock", "spinlock", False), ("spin_lock", "spinlock", False),
    ("lock_map_acquire", "lockdep_map", False), ("fs_reclaim_acquire", "lockdep_map", False),
    ("flush_work", "lockdep_map", False), ("__flush_work", "lockdep_map", False),
    ("might_lock", "lockdep_map", False), ("lock_sock", "mutex", False),
)
_MAP_NAMES = re.compile(r"^\((?:work_completion|wq_completion)\)|^fs_reclaim$|_map$|"
                        r"^rcu_read_lock|^console_lock$|^cpu_hotplug_lock$|^mmu_notifier")
_SLEEPING_NAMES = re.compile(r"mutex|_mtx$|sem$|rwsem|^sk_lock-|i_mutex|key#?\d*$")

TAKE = {"mutex": ("mutex_lock", "mutex_unlock"), "rwsem": ("down_write", "up_write"),
        "spinlock": ("spin_lock", "spin_unlock"),
        "raw_spinlock": ("raw_spin_lock", "raw_spin_unlock"),
        "rwlock": ("write_lock", "write_unlock"),
        "lockdep_map": ("lock_map_acquire", "lock_map_release")}
TAKE_READ = {"rwsem": ("down_read", "up_read"), "rwlock": ("read_lock", "read_unlock"),
             "lockdep_map": ("lock_map_acquire_read", "lock_map_release")}


@lru_cache(maxsize=1)
def kernel_names() -> tuple[dict[str, tuple[str, str]], frozenset[str]]:
    """The prelude's locks by lockdep name (ident, kind), and every name it declares:
    an imported spec uses the kernel's own `fs_reclaim`, and never redeclares a verb."""
    from model import ast, core
    from model.parser import parse
    prelude = PRELUDE_DIR / "kernel.lspec"
    module, _ = parse(str(prelude), prelude.read_text(encoding="utf-8"))
    locks: dict[str, tuple[str, str]] = {}
    names = set(core.BUILTINS)
    for decl in module.decls if module else ():
        if isinstance(decl, ast.LockDecl):
            for ident in decl.names:
                locks[decl.lockdep or ident.text] = (ident.text, decl.kind.text)
                names.add(ident.text)
        elif isinstance(decl, ast.FnDecl):
            names.add(decl.name.text)
    return locks, frozenset(names)


@dataclass
class _Lock:
    ident: str
    lockdep: str
    kind: str
    why: str
    read: bool = False
    kernel: bool = False        # the prelude's own lock: not declared again


@dataclass
class SpecWriter:
    """Accumulates the spec of a whole log; `notes` are what could not be inferred."""

    source: str
    locks: dict[str, _Lock] = field(default_factory=dict)   # by lockdep name
    fns: dict[str, str] = field(default_factory=dict)       # fn name -> body
    paths: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    options: set[str] = field(default_factory=set)
    notes: list[tuple[int, str]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)   # lockdep name -> identifier

    # -- locks
    def lock(self, ref: LockRef, functions: tuple[str, ...] = (), mode: str = "plain",
             line: int = 0) -> _Lock:
        name = _base_name(ref.name)
        if name in self.locks:
            return self.locks[name]
        known = kernel_names()[0].get(name)
        if known is not None:
            read = any(key in fn for fn in functions for key, _, r in _BY_FUNCTION if r)
            lock = _Lock(known[0], name, known[1], "the kernel prelude's", read, True)
            self.locks[name] = self.locks.get(name) or lock
            self.mapping[name] = lock.ident
            return lock
        kind, why, read = _kind(ref, functions, mode)
        if kind is None:
            kind, why = "mutex", "not inferred: nothing in the report says; a mutex assumed"
            self.notes.append((line or ref.line, f"the kind of `{ref.name}` could not be "
                               "inferred; it is declared a mutex"))
        lock = _Lock(self._ident(name), name, kind, why, read)
        self.locks[name] = lock
        self.mapping[name] = lock.ident
        return lock

    def _ident(self, name: str) -> str:
        ident = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "lock"
        if ident[0].isdigit() or ident in KEYWORDS:
            ident = "l_" + ident
        taken = {lock.ident for lock in self.locks.values()} | kernel_names()[1]
        base, n = ident, 2
        while ident in taken:
            ident, n = f"{base}_{n}", n + 1
        return ident

    def fn(self, name: str, body: str) -> str:
        ident = re.sub(r"\W+", "_", name).strip("_") or "f"
        if ident[0].isdigit() or ident in KEYWORDS:
            ident = "fn_" + ident
        reserved = kernel_names()[1] | {lock.ident for lock in self.locks.values()}
        if ident in reserved:
            ident = "in_" + ident
        base, n = ident, 2
        while ident in self.fns and self.fns[ident] != body:
            ident, n = f"{base}_{n}", n + 1
        self.fns[ident] = body
        return ident

    # -- statements
    def take(self, lock: _Lock, ref: LockRef | None = None, read: bool | None = None) -> str:
        subclass = _subclass(ref.name) if ref is not None else 0
        reading = lock.read if read is None else read
        verb = (TAKE_READ.get(lock.kind) if reading else None) or TAKE[lock.kind]
        if subclass and lock.kind in ("mutex", "spinlock", "raw_spinlock", "rwsem"):
            nested = {"mutex": "mutex_lock_nested", "spinlock": "spin_lock_nested",
                      "raw_spinlock": "raw_spin_lock_nested",
                      "rwsem": "down_read_nested" if reading else "down_write_nested"}
            return f"{nested[lock.kind]}({lock.ident}, {subclass});"
        return f"{verb[0]}({lock.ident});"

    def release(self, lock: _Lock, read: bool | None = None) -> str:
        reading = lock.read if read is None else read
        verb = (TAKE_READ.get(lock.kind) if reading else None) or TAKE[lock.kind]
        return f"{verb[1]}({lock.ident});"

    # -- output
    def render(self, reports: list[Report]) -> str:
        out = [f"// Imported by `lockspec import-splat` from {self.source}:"]
        for number, report in enumerate(reports, 1):
            out.append(f"//   report {number}, line {report.line}: {report.kind} "
                       f"({VERDICT[report.kind]}), kernel {report.kernel or 'unknown'}, "
                       f"task {report.task or 'unknown'}")
        for line, note in self.notes:
            out.append(f"// not inferred (line {line}): {note}")
        title = f"lockdep reports of {self.source}".replace('"', "'").replace("\\", "/")
        out += [f'spec "{title}"', "import kernel"]
        out += [f"option {name}" for name in sorted(self.options)]
        out.append("")
        width = max((len(lock.ident) for lock in self.locks.values()), default=0)
        for lock in self.locks.values():
            if lock.kernel:
                out.append(f"// `{lock.lockdep}` is the kernel prelude's `{lock.ident}`")
                continue
            out.append(f"lock {lock.ident:<{width}} : {lock.kind} lockdep "
                       f"{_quote(lock.lockdep)}   // {lock.why}")
        out.append("")
        for name, body in self.fns.items():
            out.append(f"fn {name}() {{ {body} }}")
        out.append("")
        out += self.paths
        verdicts = list(dict.fromkeys(self.verdicts))
        out.append(f"expect {', '.join(verdicts)}")
        return "\n".join(out) + "\n"


def write_spec(reports: list[Report], source: str) -> tuple[str, list[tuple[int, str]],
                                                            dict[str, str]]:
    """(spec text, notes by log line, lockdep name -> lock identifier)."""
    writer = SpecWriter(source)
    for number, report in enumerate(reports, 1):
        prefix = f"r{number}_" if len(reports) > 1 else ""
        _WRITERS[report.kind](writer, report, prefix)
        writer.verdicts.append(VERDICT[report.kind])
    return writer.render(reports), writer.notes, writer.mapping


# ------------------------------------------------------------------ one kind each

def _caller(stack: tuple[str, ...], lock_fns: bool = True) -> str | None:
    """The first function of a stack that is not lockdep's or a lock primitive."""
    for fn in stack:
        if fn.startswith(("lock_acquire", "__lock_acquire", "check_", "validate_chain",
                          "_raw_", "__raw_", "do_raw_", "rt_spin", "lock_map")):
            continue
        if lock_fns and any(key in fn for key, _, _ in _BY_FUNCTION):
            continue
        return fn
    return None


def _comment(stack: tuple[str, ...]) -> str:
    shown = " <- ".join(stack[:6])
    return shown + (" <- ..." if len(stack) > 6 else "")


def _circular(w: SpecWriter, r: Report, prefix: str) -> None:
    # Entry #i (i >= 1) took lock i holding lock i-1; #0 took lock 0 holding the
    # highest-numbered one (lockdep prints the path in reverse, print_circular_bug()).
    entries = sorted(r.chain, key=lambda e: e.number)
    locks = [w.lock(e.lock, e.stack, line=e.lock.line) for e in entries]
    top = len(entries) - 1
    for entry in sorted(entries, key=lambda e: -e.number):
        i = entry.number
        held, new = locks[i - 1 if i else top], locks[i]
        held_ref = entries[i - 1 if i else top].lock
        caller = _caller(entry.stack) or (r.acquiring.at[-1] if i == 0 and r.acquiring.at
                                          else f"takes_{new.ident}")
        fn = w.fn(caller, w.take(new, entry.lock))
        w.paths += [f"// -> #{i}: `{entry.lock.name}` taken holding `{held_ref.name}` "
                    f"(line {entry.lock.line}): {_comment(entry.stack)}",
                    f"path {prefix}dep{i} in process {{",
                    f"    {w.take(held, held_ref)}",
                    f"    {fn}();",
                    f"    {w.release(new)}",
                    f"    {w.release(held)}",
                    "}", ""]


def _recursive(w: SpecWriter, r: Report, prefix: str) -> None:
    lock = w.lock(r.acquiring, r.acquiring.at + r.held[0].at)
    first = w.fn(r.held[0].at[-1] if r.held[0].at else f"first_{lock.ident}",
                 w.take(lock, r.held[0]))
    second = w.fn(r.acquiring.at[-1] if r.acquiring.at else f"again_{lock.ident}",
                  w.take(lock, r.acquiring))
    w.paths += [f"// `{r.acquiring.name}` taken at {', '.join(r.acquiring.at) or '?'} while "
                f"held from {', '.join(r.held[0].at) or '?'} (line {r.acquiring.line})",
                f"path {prefix}recursion in process {{",
                f"    {first}();", f"    {second}();",
                f"    {w.release(lock)}", f"    {w.release(lock)}", "}", ""]


def _irq_context(irq: str) -> str:
    return "hardirq" if irq == "hardirq" else "softirq"


def _inconsistent(w: SpecWriter, r: Report, prefix: str) -> None:
    lock = w.lock(r.acquiring, r.acquiring.at + r.registered, "irq")
    states = {r.usage_was: r.registered, r.usage_now: r.acquiring.at}
    in_irq = next(s for s in states if s.startswith("IN-"))
    enabled = next(s for s in states if not s.startswith("IN-"))
    irq_fn = w.fn(_caller(states[in_irq], False) or f"in_{r.irq}_{lock.ident}",
                  f"{w.take(lock)} {w.release(lock)}")
    task_fn = w.fn(_caller(states[enabled], False) or f"with_{r.irq}s_on_{lock.ident}",
                   f"{w.take(lock)} {w.release(lock)}")
    w.paths += [f"// {{{in_irq}}}: {_comment(states[in_irq]) or 'no stack'}",
                f"path {prefix}{r.irq}_user in {_irq_context(r.irq)} {{ {irq_fn}(); }}",
                f"// {{{enabled}}}: {_comment(states[enabled]) or 'no stack'} "
                f"(line {r.acquiring.line})",
                f"path {prefix}task_user in process {{ {task_fn}(); }}", ""]


def _inversion(w: SpecWriter, r: Report, prefix: str) -> None:
    # "took another, X-unsafe lock": the changed lock is irq-safe and was held while the
    # other was taken; "was taken by another, X-safe lock": the reverse.
    changed = w.lock(r.acquiring, r.acquiring.at, "irq")
    other = w.lock(r.other, r.other.at, "irq", line=r.other.line)
    safe, unsafe = (changed, other) if r.other_is_unsafe else (other, changed)
    off, on = ("local_irq_disable();", "local_irq_enable();")
    if r.irq == "softirq":
        off, on = "local_bh_disable();", "local_bh_enable();"
    w.notes.append((r.other.line, f"where `{safe.lockdep}` was held while `{unsafe.lockdep}` "
                    f"was taken is not in the report; the path `{prefix}dependency` stands "
                    "for it"))
    at = r.acquiring.at[-1] if r.acquiring.at else f"uses_{changed.ident}"
    irq_fn = w.fn(at, f"{w.take(safe)} {w.release(safe)}") if safe is changed else None
    w.paths += [f"// `{safe.lockdep}` -> `{unsafe.lockdep}` with {r.irq}s off "
                f"(line {r.other.line})",
                f"path {prefix}dependency in process {{ {off} {w.take(safe)} "
                f"{w.take(unsafe)} {w.release(unsafe)} {w.release(safe)} {on} }}",
                f"// `{unsafe.lockdep}` taken with {r.irq}s on: {r.irq.upper()}-unsafe",
                f"path {prefix}unsafe_user in process {{ {w.take(unsafe)} "
                f"{w.release(unsafe)} }}",
                f"// `{safe.lockdep}` taken in {r.irq} context: {r.irq.upper()}-safe "
                f"(line {r.acquiring.line})",
                f"path {prefix}{r.irq}_user in {_irq_context(r.irq)} {{ "
                + (f"{irq_fn}();" if irq_fn else f"{w.take(safe)} {w.release(safe)}") + " }", ""]


def _wait_context(w: SpecWriter, r: Report, prefix: str) -> None:
    held = [w.lock(ref, ref.at, "wait", line=ref.line) for ref in r.held]
    new = w.lock(r.acquiring, r.acquiring.at, "wait")
    if new.kind == "spinlock" and any(h.kind == "raw_spinlock" for h in held):
        w.options.add("prove_raw_lock_nesting")
    fn = w.fn(r.acquiring.at[-1] if r.acquiring.at else f"takes_{new.ident}", w.take(new))
    body = [f"    {w.take(lock, ref)}   // #{n}: {', '.join(ref.at) or '?'}"
            for n, (lock, ref) in enumerate(zip(held, r.held))]
    body += [f"    {fn}();", f"    {w.release(new)}"]
    body += [f"    {w.release(lock)}" for lock in reversed(held)]
    w.paths += [f"// `{r.acquiring.name}` taken holding {len(held)} locks "
                f"(line {r.acquiring.line})",
                f"path {prefix}nesting in process {{", *body, "}", ""]


_WRITERS = {CIRCULAR: _circular, RECURSIVE: _recursive, INCONSISTENT: _inconsistent,
            INVERSION: _inversion, WAIT_CONTEXT: _wait_context}


# ------------------------------------------------------------------ names and kinds

def _base_name(name: str) -> str:
    """The class without its subclass: `&pipe->mutex/1` is subclass 1 of `&pipe->mutex`."""
    return re.sub(r"/\d+$", "", name)


def _subclass(name: str) -> int:
    match = re.search(r"/(\d+)$", name)
    return int(match.group(1)) if match else 0


def _kind(ref: LockRef, functions: tuple[str, ...], mode: str):
    """mode: "wait" in an invalid-wait-context report (the kernel tells spinlock_t {3:3}
    from raw_spinlock_t {2:2} there), "irq" for a lock taken in interrupt context (a
    spinning lock), "plain" otherwise (without CONFIG_PROVE_RAW_LOCK_NESTING a
    spinlock_t prints {2:2} and a mutex {3:3}, so the wait type alone cannot tell)."""
    for fn in functions:
        for key, kind, read in _BY_FUNCTION:
            if key in fn:
                if kind == "spinlock" and ref.wait == 2 and mode == "wait":
                    kind = "raw_spinlock"
                return kind, f"taken by {fn}", read
    name = _base_name(ref.name)
    if _MAP_NAMES.search(name):
        return "lockdep_map", "a lockdep map, by its name", False
    read = len(ref.usage) >= 4 and ref.usage[1] != "." and ref.usage[3] != "."
    if mode == "irq":
        return "spinlock", "taken in interrupt context: a spinning lock", False
    if ref.wait == 2:
        if mode == "wait":
            return "raw_spinlock", "wait type {2:2}: a raw spinlock", False
        return "spinlock", "wait type {2:2}: a spinning lock", False
    if ref.wait == 3 and mode == "wait":
        return "spinlock", "wait type {3:3}: a spinlock_t", False
    if ref.wait == 4:
        kind = "rwsem" if read else "mutex"
        return kind, "wait type {4:4}: a sleeping lock", read
    if ref.wait == 0:
        return "lockdep_map", "wait type {0:0}: a lockdep map", False
    if _SLEEPING_NAMES.search(name):
        kind = "rwsem" if read or "sem" in name else "mutex"
        return kind, "a sleeping lock, by its name", read
    if "lock" in name.rsplit("->", 1)[-1]:
        return "spinlock", "a spinlock, by its name", False
    return None, "", False


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
