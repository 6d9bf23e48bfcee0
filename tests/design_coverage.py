"""The features a random design exercises (tests/design_tree.py), counted over a
run for the generator's coverage report: the oracle requires each of them in a
share of the designs."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from tests.design_tree import (SPINNING, CheckMap, CompletionOp, Design, Guard, IrqOff,
                               KthreadOp, MemOp, ReadSection, RefOp, Revoke, Section,
                               Snapshot, Synchronize, Try, WaitOp, WorkOp, _children,
                               _locks_taken)


def features(design: Design) -> set[str]:
    """The features a design exercises, for the generator's coverage report."""
    found = {f"locks={len(design.locks)}", f"paths={len(design.paths)}"}
    found |= {f"kind:{kind}" for _, kind in design.locks}
    found |= {f"planted:{shape}" for shape in design.planted}
    found.add("scenario" if design.scenario else "no-scenario")
    if design.scenario and any(e.count > 1 for e in design.scenario):
        found.add("scenario:2-instances")
    if design.revocable:
        found.add("revocable")
    if design.refcounted:
        found.add("refcounted" + ("" if design.ref_frees else ":parked"))
    if design.completion:
        found.add("completion")
    if design.published:
        found.add("published")
    if design.pointer:
        found.add("pointer")
    if design.srcu:
        found.add("kind:srcu")
    if design.waitqueue:
        found.add("waitqueue")
    if design.work is not None:
        found.add("work")
        if design.work_item:
            found.add("work:item")
        _item_features(design, design.work, found, _Where(work=True))
        if _locks_taken(design.work):
            found.add("work:takes-lock")
    if design.kthread is not None:
        found.add(f"kthread:wait-{design.kthread_wait}")
        if design.kthread_parks:
            found.add("kthread:parks")
        _item_features(design, design.kthread, found, _Where())
    for path in design.paths:
        found.add(f"context:{path.context}")
        depth = _depth(path.body)
        found.add(f"max-depth={depth}")
        _item_features(design, path.body, found, _Where(irq=path.context != "process"))
    return found


@dataclass(frozen=True)
class _Where:
    """What encloses an item, for the features that depend on it."""

    irq: bool = False              # an interrupt path
    work: bool = False             # the work function
    locks: frozenset = frozenset()  # the locks held
    atomic: bool = False           # a spinning lock held or interrupts off
    readers: frozenset = frozenset()  # the read sections the item is in (domains)


def _item_features(design: Design, body, found: set[str], where: _Where) -> None:
    for item in body:
        inner = where
        if where.work and isinstance(item, (CheckMap, Revoke, RefOp, MemOp)):
            found.add("work:uses-object")
        if isinstance(item, Section):
            kind = design.kind(item.lock)
            reader = "down_read" if kind == "rwsem" else f"read_lock:{kind[len('rwlock'):]}"
            found.add({"read": reader, "irqsave": "spin_lock_irqsave",
                       "irq": "spin_lock_irq"}.get(item.mode, f"{kind}:{item.mode}"))
        elif isinstance(item, Try):
            found.add("trylock")
            if item.otherwise is not None:
                found.add("trylock-else")
        elif isinstance(item, IrqOff):
            found.add(f"local_irq_{item.style}")
            inner = replace(where, atomic=True)
        elif isinstance(item, ReadSection):
            found.add({"rcu": "rcu_read_lock", "rcu_bh": "rcu_read_lock_bh",
                       "srcu": "srcu_read_lock"}[item.domain])
            inner = replace(where, readers=where.readers | {item.domain})
        elif isinstance(item, Guard):
            found.add("guarded-use")
        elif isinstance(item, CheckMap):
            found.add("check-then-act")
        elif isinstance(item, RefOp):
            found.add(f"ref:{item.verb}")
        elif isinstance(item, CompletionOp):
            found.add(f"completion:{item.verb}")
        elif isinstance(item, MemOp):
            found.add(f"mem:{item.verb}")
            if item.verb == "access":
                _access_features(where, found)
        elif isinstance(item, Synchronize):
            found.add("synchronize_srcu" if item.domain == "srcu" else "synchronize_rcu")
            if where.locks:
                found.add("synchronize-under-lock")
            if where.readers or (item.domain != "srcu" and where.atomic):
                found.add("synchronize-in-reader")
        elif isinstance(item, WaitOp):
            found.add(f"waitqueue:{item.verb}")
        elif isinstance(item, KthreadOp):
            found.add(f"kthread_{item.verb}")
            if item.verb == "stop" and where.locks & _locks_taken(design.kthread or ()):
                found.add("kthread_stop-under-lock")
        elif isinstance(item, Snapshot):
            found.add("let-snapshot" + (":after" if item.after else ""))
            if design.pointer:
                found.add("pointer-read" + ("" if item.checked else ":unchecked"))
            found.add({"rcu": "rcu_read_lock", "rcu_bh": "rcu_read_lock_bh",
                       "srcu": "srcu_read_lock"}[item.domain])
        elif isinstance(item, WorkOp):
            found.add({"queue": "schedule_work", "flush": "flush_work",
                       "flush_all": "flush_workqueue", "cancel": "cancel_work_sync"}[item.verb])
            if item.verb != "queue" and where.locks & _locks_taken(design.work or ()):
                found.add("flush-under-lock")
        if isinstance(item, (Section, Try)):
            inner = replace(inner, locks=where.locks | {item.lock},
                            atomic=where.atomic or design.kind(item.lock) in SPINNING
                            or item.mode in ("irqsave", "irq"))
        _item_features(design, _children(item), found, inner)


def _access_features(where: _Where, found: set[str]) -> None:
    if "srcu" in where.readers:
        found.add("access:srcu-reader")
    if where.readers - {"srcu"}:
        found.add("access:rcu-reader")
    elif where.irq or where.atomic:
        found.add("access:implicit-rcu-reader")     # an irq handler, a spinlock, irqs off


def _depth(body) -> int:
    """Lock nesting depth: sections and trylocks count, irq-off regions do not."""
    best = 0
    for item in body:
        inner = _depth(_children(item))
        best = max(best, inner + (1 if isinstance(item, (Section, Try)) else 0))
    return best


def coverage(designs) -> Counter:
    counts: Counter = Counter()
    for design in designs:
        counts.update(features(design))
    return counts
