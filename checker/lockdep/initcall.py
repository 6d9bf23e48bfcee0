"""`lockspec initcall FILE`: a C initcall that primes lockdep with the spec's declared order.

In the style of dma_resv_lockdep() (drivers/dma-buf/dma-resv.c): at boot, take
each `order` chain once, nested, outermost first, and release it, so lockdep
records the dependencies before any real caller runs and reports the first
inversion. Each chain is primed on its own (priming two chains in one nest
would invent orders between them). Every lock is taken exclusively, the
strongest dependency lockdep records; spinning locks are taken with irqs
disabled, so the priming marks no irq usage.

Kernel locks of the prelude map to their kernel objects (a fresh mm for
mmap_lock, an address_space for i_mmap_rwsem, fs_reclaim_acquire(), the
mmu_notifier map, __dma_fence_might_wait()); a reservation_ww_class ww_mutex is
a dma_resv. Any other lock is a local object re-keyed with lockdep_set_class()
to an extern `struct lock_class_key <class>_key` that the subsystem must pass to
lockdep_set_class() where it initialises the real lock, so both share a class.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from model import ir

SPINNING = frozenset({"spinlock", "raw_spinlock", "rwlock", "seqlock"})
MAY_SLEEP = frozenset({"mutex", "rwsem", "ww_mutex"})
RESV_CLASS = "reservation_ww_class_mutex"


@dataclass(frozen=True)
class Primer:
    """How one lock class is declared, set up, taken and released in C."""

    include: tuple[str, ...]
    declare: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    take: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    externs: tuple[str, ...] = ()
    spinning: bool = False
    sleeping: bool = False


@dataclass
class _Unit:
    includes: set[str] = field(default_factory=lambda: {"linux/init.h", "linux/lockdep.h"})
    externs: dict[str, None] = field(default_factory=dict)
    declare: dict[str, None] = field(default_factory=dict)
    setup: dict[str, None] = field(default_factory=dict)
    needs_mm: bool = False


RESERVED = frozenset({"mm", "mapping", "fence_cookie"})     # the kernel objects' variables


def _ident(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    name = name if re.match(r"[A-Za-z_]", name) else "_" + name
    return name + "_lock" if name in RESERVED else name


def _keyed(c_type: str, var: str, init: str, lock: str, unlock: str, key: str,
           include: str, dep_target: str | None = None, **flags) -> Primer:
    target = dep_target or f"&{var}"
    return Primer((include,), (f"{c_type} {var};",),
                  (f"{init}(&{var});", f"lockdep_set_class({target}, &{key});"),
                  (f"{lock}(&{var});",), (f"{unlock}(&{var});",),
                  (f"extern struct lock_class_key {key};",), **flags)


def _ww_class(lock_class: str, suffix: str) -> str:
    return _ident(lock_class[:-len(suffix)] if lock_class.endswith(suffix) else lock_class)


def primer(lock: ir.Lock, ctx: str | None, last: bool) -> Primer | str:
    """The C for one lock of a chain, or why it cannot be primed."""
    var, key = _ident(lock.name), _ident(lock.lock_class) + "_key"
    special = _kernel_primer(lock.name, last)
    if special is not None:
        return special
    kind = lock.kind
    if kind == "spinlock":
        return _keyed("spinlock_t", var, "spin_lock_init", "spin_lock", "spin_unlock", key,
                      "linux/spinlock.h", spinning=True)
    if kind == "raw_spinlock":
        return _keyed("raw_spinlock_t", var, "raw_spin_lock_init", "raw_spin_lock",
                      "raw_spin_unlock", key, "linux/spinlock.h", spinning=True)
    if kind == "rwlock":
        return _keyed("rwlock_t", var, "rwlock_init", "write_lock", "write_unlock", key,
                      "linux/spinlock.h", spinning=True)
    if kind == "seqlock":
        return _keyed("seqlock_t", var, "seqlock_init", "write_seqlock", "write_sequnlock",
                      key, "linux/seqlock.h", dep_target=f"&{var}.lock", spinning=True)
    if kind == "mutex":
        return _keyed("struct mutex", var, "mutex_init", "mutex_lock", "mutex_unlock", key,
                      "linux/mutex.h", sleeping=True)
    if kind == "rwsem":
        return _keyed("struct rw_semaphore", var, "init_rwsem", "down_write", "up_write", key,
                      "linux/rwsem.h", sleeping=True)
    if kind == "ww_mutex":
        return _ww_mutex_primer(lock, var, ctx)
    if kind == "ww_ctx":
        ww_class = _ww_class(lock.lock_class, "_acquire")
        externs = () if ww_class == "reservation_ww_class" else (
            f"extern struct ww_class {ww_class};",)
        return Primer(("linux/ww_mutex.h",), (f"struct ww_acquire_ctx {var};",), (),
                      (f"ww_acquire_init(&{var}, &{ww_class});",),
                      (f"ww_acquire_fini(&{var});",), externs)
    if kind == "lockdep_map":
        return Primer(("linux/lockdep.h",), (), (), (f"lock_map_acquire(&{var});",),
                      (f"lock_map_release(&{var});",), (f"extern struct lockdep_map {var};",))
    return f"`{lock.name}` is a {kind}, which lockdep does not order; drop it from the order"


def _ww_mutex_primer(lock: ir.Lock, var: str, ctx: str | None) -> Primer:
    context = f"&{ctx}" if ctx else "NULL"
    if lock.lock_class == RESV_CLASS:
        take = (f"if (dma_resv_lock(&{var}, {context}) == -EDEADLK)",
                f"\tdma_resv_lock_slow(&{var}, {context});") if ctx else (
                    f"dma_resv_lock(&{var}, NULL);",)
        return Primer(("linux/dma-resv.h", "linux/errno.h"), (f"struct dma_resv {var};",),
                      (f"dma_resv_init(&{var});",), take, (f"dma_resv_unlock(&{var});",),
                      sleeping=True)
    ww_class = _ww_class(lock.lock_class, "_mutex")
    return Primer(("linux/ww_mutex.h",), (f"struct ww_mutex {var};",),
                  (f"ww_mutex_init(&{var}, &{ww_class});",),
                  (f"ww_mutex_lock(&{var}, {context});",), (f"ww_mutex_unlock(&{var});",),
                  (f"extern struct ww_class {ww_class};",), sleeping=True)


def _kernel_primer(name: str, last: bool) -> Primer | None:
    """The prelude's kernel locks and pseudo-locks, as dma_resv_lockdep() takes them."""
    if name == "mmap_lock":
        return Primer(("linux/mm.h", "linux/sched/mm.h"), (), (), ("mmap_write_lock(mm);",),
                      ("mmap_write_unlock(mm);",), sleeping=True)
    if name == "i_mmap_rwsem":
        return Primer(("linux/fs.h",), ("struct address_space mapping;",),
                      ("address_space_init_once(&mapping);",),
                      ("i_mmap_lock_write(&mapping);",), ("i_mmap_unlock_write(&mapping);",),
                      sleeping=True)
    if name == "fs_reclaim":
        return Primer(("linux/sched/mm.h", "linux/gfp.h"), (), (),
                      ("fs_reclaim_acquire(GFP_KERNEL);",), ("fs_reclaim_release(GFP_KERNEL);",),
                      sleeping=True)
    if name == "mmu_notifier_invalidate_range_start":
        return Primer(("linux/mmu_notifier.h",), (), (),
                      ("lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);",),
                      ("lock_map_release(&__mmu_notifier_invalidate_range_start_map);",))
    if name == "dma_fence_map":
        if last:     # the wait side: dma_fence_map taken for write, released at once
            return Primer(("linux/dma-fence.h",), (), (), ("__dma_fence_might_wait();",), (),
                          sleeping=True)
        # inside the order: edges into the map (a wait), then a signalling section
        return Primer(("linux/dma-fence.h",), ("bool fence_cookie;",), (),
                      ("__dma_fence_might_wait();", "fence_cookie = dma_fence_begin_signalling();"),
                      ("dma_fence_end_signalling(fence_cookie);",), sleeping=True)
    return None


def _chain(program: ir.Program, chain: ir.OrderChain, unit: _Unit) -> tuple[list[str], list[str]]:
    """The body lines priming one order chain, and the problems found."""
    problems: list[str] = []
    takes: list[str] = []
    drops: list[list[str]] = []
    ctx: str | None = None
    spinning_at: str | None = None
    seen: set[str] = set()
    for position, name in enumerate(chain.locks):
        lock = program.locks[name]
        if lock.lock_class in seen:
            problems.append(f"`{name}`: class `{lock.lock_class}` appears twice in one order")
            continue
        seen.add(lock.lock_class)
        made = primer(lock, ctx, position == len(chain.locks) - 1)
        if isinstance(made, str):
            problems.append(made)
            continue
        if made.sleeping and spinning_at is not None:
            problems.append(f"`{name}` ({lock.kind}) may sleep and cannot nest inside "
                            f"spinning `{spinning_at}`; the declared order is invalid")
            continue
        if lock.kind == "ww_ctx":
            ctx = _ident(lock.name)
        if made.spinning and spinning_at is None:
            spinning_at = name
            takes.append("local_irq_disable();")
            made = Primer(made.include, made.declare, made.setup, made.take,
                          made.drop + ("local_irq_enable();",), made.externs, True)
        unit.includes.update(made.include)
        unit.externs.update(dict.fromkeys(made.externs))
        unit.declare.update(dict.fromkeys(made.declare))
        unit.setup.update(dict.fromkeys(made.setup))
        unit.needs_mm |= name == "mmap_lock"
        takes += list(made.take)
        drops.append(list(made.drop))
    body = [f"/* order {' -> '.join(chain.locks)} */"] + takes
    for drop in reversed(drops):
        body += drop
    return body, problems


def render_initcall(program: ir.Program) -> tuple[str, list[str]]:
    if not program.orders:
        return "", [f"{program.file}: the spec declares no `order`, so there is nothing to prime"]
    unit = _Unit()
    bodies: list[list[str]] = []
    problems: list[str] = []
    for chain in program.orders:
        body, found = _chain(program, chain, unit)
        bodies.append(body)
        problems += [f"{chain.span.short()}: {p}" for p in found]
    if problems:
        return "", problems
    return _render(program, unit, bodies), []


def _render(program: ir.Program, unit: _Unit, bodies: list[list[str]]) -> str:
    name = _ident(Path(program.file).stem) + "_lockdep"
    if unit.needs_mm:
        unit.includes.update({"linux/sched/mm.h", "linux/errno.h"})
    orders = "".join(f" *   order {' -> '.join(c.locks)}\n" for c in program.orders)
    out = ["// SPDX-License-Identifier: GPL-2.0",
           "/*",
           f" * Generated by `lockspec initcall {Path(program.file).name}`"
           + (f" from \"{program.title}\"." if program.title else "."),
           " *",
           " * Primes lockdep with the declared lock order at boot, as dma_resv_lockdep()",
           " * does, so the first inversion is reported wherever it happens:",
           orders.rstrip("\n"),
           " *",
           " * Locks other than the kernel's are keyed by the extern lock_class_keys below;",
           " * pass the same key to lockdep_set_class() where each real lock is initialised.",
           " */"]
    out += [f"#include <{inc}>" for inc in sorted(unit.includes)]
    if unit.externs:
        out += [""] + list(unit.externs)
    out += ["", f"static int __init {name}(void)", "{"]
    if unit.needs_mm:
        out.append("\tstruct mm_struct *mm = mm_alloc();")
    out += [f"\t{line}" for line in unit.declare]
    out.append("")
    if unit.needs_mm:
        out += ["\tif (!mm)", "\t\treturn -ENOMEM;", ""]
    if unit.setup:
        out += [f"\t{line}" for line in unit.setup] + [""]
    for body in bodies:
        out += [f"\t{line}" for line in body] + [""]
    if unit.needs_mm:
        out += ["\tmmput(mm);"]
    out += ["\treturn 0;", "}", f"subsys_initcall({name});"]
    return "\n".join(out) + "\n"
