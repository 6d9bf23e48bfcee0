"""Random lock designs for the differential oracle (tests/oracle.py).

A design is a small tree (tests/design_tree.py: locks, objects, paths whose
bodies are nested sections, an optional scenario) rendered to spec text. It
is generated from a seeded `random.Random`, so a design is reproduced from
its seed alone, and it is a tree so that a disagreement can be shrunk by
dropping paths, statements and locks (`shrink_candidates`).

The generator plants the shapes the interleaving engine must get right: gate
locks around an inverted pair, three-lock cycles closed by a shorter path,
trylocks with a back-off branch, rwsem and rwlock readers (queued and
recursive) with a writer elsewhere, irq handlers sharing a spinlock with
process context, check-then-act on a revocable object, lookups and drops of a
reference count (re-armed, freed or parked by its release function),
completions that count, and grace periods and flushes: RCU and SRCU readers
of published memory (read sections, and for RCU spinlocks, irq-off regions
and interrupt handlers) against a writer that unpublishes, waits a grace
period (sometimes under a lock or inside a read section) and frees; a work
item queued by one path and flushed by another (sometimes under a lock the
work takes), or by the workqueue flush; and their variants: kfree_rcu() and
call_rcu() instead of a grace period and a free, cancel_work_sync() instead
of a flush, a read section whose use of `m` goes through a local snapshot
(inside the section, or after it); a wait queue with a waiter (wait_event,
sometimes timed or under a lock) and a waker that wakes after setting the
condition, before it (a lost wake-up) or never.

Rwlocks, grace periods and work, and the wait queue and variants are drawn
from streams of their own, so every other choice of an existing seed stays as
it was.
"""
from __future__ import annotations

import random
from dataclasses import replace

from tests.design_tree import (KINDS, READ_WRITE, RWLOCKS, SPINNING, CheckMap, CompletionOp,
                               Design, Entry, Guard, IrqOff, KthreadOp, MemOp, PathDef,
                               ReadSection, RefOp, Revoke, Section, Snapshot, Synchronize, Try,
                               WaitOp, WorkOp, _contains, _contains_op, _locks_taken, _map_items)
# What the oracle takes from here: the tree's own API, and `generate`.
from tests.design_coverage import coverage, features
from tests.design_tree import render, shrink_candidates

__all__ = ["Design", "coverage", "features", "generate", "render", "shrink_candidates"]

LOCK_NAMES = ("A", "B", "C", "D", "E")
IRQ_CONTEXTS = ("hardirq", "softirq")
# Shares of the designs with RCU readers and a writer, an SRCU domain, a work item.
RCU_SHARE, SRCU_SHARE, WORK_SHARE = 0.16, 0.09, 0.14
WAITQUEUE_SHARE = 0.1
# Of the designs with published memory, the share that publish it through a pointer.
POINTER_SHARE = 0.5
KTHREAD_SHARE = 0.12
MAX_PATHS = 4


# --------------------------------------------------------------- generation

class _Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.seed = seed
        # Grace periods and work: a stream of their own (see `graces`).
        self.grace = random.Random(f"grace-{seed}")
        self.rcu = self.grace.random() < RCU_SHARE
        self.srcu = self.grace.random() < SRCU_SHARE
        self.work = self.grace.random() < WORK_SHARE
        self.published = self.rcu or self.srcu
        # Wait queues, and variants of the grace and work designs (kfree_rcu,
        # call_rcu, cancels, snapshots in locals): a third stream, so that the
        # designs of the first two stay as they were.
        self.waits = random.Random(f"waits-{seed}")
        self.waitqueue = self.waits.random() < WAITQUEUE_SHARE
        # RCU pointers: a fourth stream, for the same reason.
        self.pointers = random.Random(f"pointers-{seed}")
        self.pointer = self.published and self.pointers.random() < POINTER_SHARE
        # kthreads: a fifth.
        self.kthreads = random.Random(f"kthreads-{seed}")
        self.kthread = self.kthreads.random() < KTHREAD_SHARE
        self.work_item = self.work and random.Random(f"work-items-{seed}").random() < 0.5

    def design(self) -> Design:
        rng = self.rng
        count = rng.randint(2, 5)
        names = LOCK_NAMES[:count]
        kinds = [rng.choice(KINDS) for _ in names]
        if "spinlock" not in kinds and rng.random() < 0.5:
            kinds[rng.randrange(count)] = "spinlock"
        variant = random.Random(f"rwlock-{self.seed}")
        kinds = [variant.choice(RWLOCKS) if kind == "rwsem" and variant.random() < 0.4
                 else kind for kind in kinds]
        self.locks = tuple(zip(names, kinds))
        self.kind = dict(self.locks)
        self.revocable = rng.random() < 0.25
        self.refcounted = rng.random() < 0.2
        self.ref_frees = rng.random() < 0.6
        self.completion = rng.random() < 0.2
        planted: set[str] = set()
        paths = self.planted_paths(planted)
        target = rng.choice((2, 2, 2, 3, 3, 4))    # small designs keep the run short
        while len(paths) < target:
            paths.append(self.random_path(len(paths)))
        if self.revocable:
            paths = self.use_revocable(paths)
        if self.refcounted:
            paths = self.use_object(paths, RefOp, ("lookup", "drop"))
        if self.completion:
            paths = self.use_object(paths, CompletionOp, ("wait", "complete"))
        scenario = self.scenario(paths) if rng.random() < 0.5 else None
        design = Design(self.seed, self.locks, self.revocable, tuple(paths), scenario,
                        frozenset(planted), self.refcounted, self.ref_frees, self.completion)
        if self.published or self.work:
            design = self.variants(self.graces(design))
        if self.waitqueue:
            design = self.wait_queue(design)
        return self.with_kthread(design) if self.kthread else design

    # ---- planted shapes

    def planted_paths(self, planted: set[str]) -> list[PathDef]:
        rng = self.rng
        names = [n for n, _ in self.locks]
        roll = rng.random()
        if roll < 0.2 and len(names) >= 3:
            gate, x, y = rng.sample(names, 3)
            planted.add("gate")
            return [PathDef("p0", "process", (self.section(gate, (self.nest([x, y]),)),)),
                    PathDef("p1", "process", (self.section(gate, (self.nest([y, x]),)),))]
        if roll < 0.35 and len(names) >= 3:
            a, b, c = rng.sample(names, 3)
            planted.add("abc-ca")
            return [PathDef("p0", "process", (self.nest([a, b, c]),)),
                    PathDef("p1", "process", (self.nest([c, a]),))]
        if roll < 0.5:
            x, y = rng.sample(names, 2)
            planted.add("abba")
            return [PathDef("p0", "process", (self.nest([x, y]),)),
                    PathDef("p1", "process", (self.nest([y, x], trylock=rng.random() < 0.5),))]
        if roll < 0.6 and any(kind in READ_WRITE for kind in self.kind.values()):
            return self.read_cycle(planted)
        return []

    def read_cycle(self, planted: set[str]) -> list[PathDef]:
        """Readers of an rwsem or rwlock in a cycle with another lock, and a writer path."""
        sem = next(n for n, k in self.locks if k in READ_WRITE)
        other = self.rng.choice([n for n, _ in self.locks if n != sem])
        planted.add("read-cycle")
        return [PathDef("p0", "process", (Section(sem, "read", (self.section(other, ()),)),)),
                PathDef("p1", "process", (self.section(other, (Section(sem, "read", ()),)),)),
                PathDef("p2", "process", (Section(sem, "write", ()),))]

    def nest(self, order: list[str], trylock: bool = False):
        inner = ()
        for depth, lock in reversed(list(enumerate(order))):
            if trylock and depth == len(order) - 1 and self.kind[lock] not in READ_WRITE:
                inner = (Try(lock, "write", inner, () if self.rng.random() < 0.5 else None),)
            else:
                inner = (self.section(lock, inner),)
        return inner[0]

    def section(self, lock: str, body) -> Section:
        kind = self.kind[lock]
        if kind in READ_WRITE:
            return Section(lock, self.rng.choice(("read", "write")), tuple(body))
        if kind == "spinlock" and self.rng.random() < 0.3:
            return Section(lock, "irqsave", tuple(body))
        return Section(lock, "write", tuple(body))

    def use_revocable(self, paths: list[PathDef]) -> list[PathDef]:
        """Make sure some path revokes and some path checks then maps."""
        if not any(_contains(p.body, CheckMap) for p in paths):
            first = paths[0]
            paths[0] = replace(first, body=(CheckMap(self.rng.random() < 0.5),) + first.body)
        if not any(_contains(p.body, Revoke) for p in paths):
            last = paths[-1]
            paths[-1] = replace(last, body=last.body + (Revoke(),))
        return paths

    def use_object(self, paths: list[PathDef], kind, verbs) -> list[PathDef]:
        """Make sure the first path does verbs[0] and the last verbs[1] on the object
        (a lookup and a drop, a wait and a complete) unless some path already does."""
        for index, verb in ((0, verbs[0]), (-1, verbs[1])):
            if not any(_contains_op(p.body, kind, verb) for p in paths):
                path = paths[index]
                body = (kind(verb),) + path.body if index == 0 else path.body + (kind(verb),)
                paths[index] = replace(path, body=body)
        return paths

    # ---- grace periods and work (every draw from self.grace)

    def graces(self, design: Design) -> Design:
        """Add the readers and writer of the published memory and the work item to a
        design whose every other choice is made; the helpers draw from the grace
        stream from here on."""
        self.rng = self.grace
        paths = list(design.paths)
        entries = list(design.scenario or ())
        domains = ("rcu",) * self.rcu + ("srcu",) * self.srcu
        if self.published:
            self.add_reader(paths, entries, self.rng.choice(domains))
            if self.rcu and self.srcu and self.rng.random() < 0.5:
                self.add_reader(paths, entries, "srcu" if domains[0] == "rcu" else "rcu")
            self.add_writer(paths, entries, self.rng.choice(domains))
            if self.revocable and self.rng.random() < 0.4:
                paths = self.protect_revocable(paths, self.rng.choice(domains))
        work = None
        if self.work:
            work = self.work_body()
            self.add_work_users(paths, entries, work)
        scenario = tuple(entries) if design.scenario else None
        return replace(design, paths=tuple(paths), scenario=scenario,
                       published=self.published, srcu=self.srcu, work=work,
                       pointer=self.pointer, work_item=self.work_item)

    def pick_path(self, paths: list[PathDef], entries: list[Entry], process: bool,
                  fresh: float) -> int:
        """A path to add to: with probability `fresh` a new process path (in the
        scenario too, on a CPU of its own), else an existing one (a process path if
        `process`). Past MAX_PATHS paths, never a new one: the run would be slow."""
        rng = self.rng
        existing = [i for i, p in enumerate(paths) if p.context == "process" or not process]
        if existing and (rng.random() >= fresh or len(paths) >= MAX_PATHS):
            return rng.choice(existing)
        paths.append(PathDef(f"p{len(paths)}", "process", ()))
        if entries:
            cpu = 1 + max(e.cpu for e in entries)
            entries.append(Entry(paths[-1].name, 2 if rng.random() < 0.15 else 1, cpu))
        return len(paths) - 1

    def insert(self, paths: list[PathDef], index: int, items: tuple, after=None) -> None:
        """Put `items` at a random top-level place of path `index` (after the item
        `after` when it is there)."""
        body = paths[index].body
        low = body.index(after) + 1 if after in body else 0
        at = self.rng.randint(low, len(body))
        paths[index] = replace(paths[index], body=body[:at] + items + body[at:])

    def add_reader(self, paths: list[PathDef], entries: list[Entry], domain: str) -> None:
        """A read section around a use of `m`: checked inside it (right), checked
        before it or not at all (a use after free once the writer frees), or around
        an existing statement too (locks taken inside a read section)."""
        rng = self.rng
        if domain == "rcu" and rng.random() < 0.2:
            domain = "rcu_bh"
        use = (Guard((MemOp("access"),)),)
        shape = rng.choice(("inside", "inside", "inside", "outside", "bare", "around"))
        index = self.pick_path(paths, entries, process=False, fresh=0.3)
        body = paths[index].body
        if shape == "outside":
            item = Guard((ReadSection(domain, (MemOp("access"),)),))
        elif shape == "bare":
            item = ReadSection(domain, (MemOp("access"),))
        elif shape == "around" and body:
            at = rng.randrange(len(body))
            inner = use + (body[at],) if rng.random() < 0.5 else (body[at],) + use
            paths[index] = replace(paths[index], body=body[:at] + (
                ReadSection(domain, inner),) + body[at + 1:])
            return
        else:
            item = ReadSection(domain, use)
        self.insert(paths, index, (item,))

    def add_writer(self, paths: list[PathDef], entries: list[Entry], domain: str) -> None:
        """`clear(live); synchronize(); kfree(m);`, now and then without the unpublish
        or the grace period, with the grace period under a lock (one a reader of the
        domain may take) or inside a read section (it waits for itself)."""
        rng = self.rng
        sync = Synchronize("net" if domain == "rcu" and rng.random() < 0.2 else domain)
        roll = rng.random()
        if roll < 0.25:
            readers_take = self.locks_in_readers(paths, domain)
            lock = rng.choice(sorted(readers_take) if readers_take and rng.random() < 0.7
                              else [n for n, _ in self.locks])
            sync = self.section(lock, (sync,))
        elif roll < 0.35:
            sync = ReadSection(rng.choice(("rcu", "srcu") if self.srcu else ("rcu",)), (sync,))
        steps = [MemOp("unpublish"), sync, MemOp("free")]
        if rng.random() < 0.1:
            steps.remove(sync)
        elif rng.random() < 0.1:
            steps.pop(0)
        index = self.pick_path(paths, entries, process=True, fresh=0.5)
        self.insert(paths, index, tuple(steps))

    def locks_in_readers(self, paths: list[PathDef], domain: str) -> set[str]:
        found: set[str] = set()

        def visit(body):
            for item in body:
                if isinstance(item, ReadSection) and item.domain.startswith(domain):
                    found.update(_locks_taken(item.body))
                visit(item.body if hasattr(item, "body") else ())
        for path in paths:
            visit(path.body)
        return found

    def protect_revocable(self, paths: list[PathDef], domain: str) -> list[PathDef]:
        """Checks of `b` in read sections, and a grace period before a revoke."""
        def edit(item):
            if isinstance(item, CheckMap) and self.rng.random() < 0.6:
                return (ReadSection(domain, (item,)),)
            if isinstance(item, Revoke) and self.rng.random() < 0.6:
                return (Synchronize(domain), item)
            return (item,)
        return [replace(p, body=_map_items(p.body, edit)) for p in paths]

    def work_body(self) -> tuple:
        """`fn w()`: locks and uses of the objects, generated like a path body (with
        the published memory used in it half the time)."""
        body = self.body(1, (), False, "workqueue")
        if not _locks_taken(body) and self.rng.random() < 0.7:
            lock = self.rng.choice([n for n, _ in self.locks])
            body = (self.section(lock, tuple(filter(None, [self.leaf()]))),) + body
        if self.published and self.rng.random() < 0.5:
            body += (MemOp("access"),)
        return body

    def add_work_users(self, paths: list[PathDef], entries: list[Entry], work: tuple) -> None:
        """A path queues `w`; the same path or another flushes it (or the workqueue),
        sometimes under a lock the work takes, and then perhaps frees what it uses."""
        rng = self.rng
        queue = WorkOp("queue")
        queuer = self.pick_path(paths, entries, process=False, fresh=0.2)
        self.insert(paths, queuer, (queue,))
        if rng.random() < 0.15:
            return
        flush = WorkOp("flush" if rng.random() < 0.75 else "flush_all")
        steps: tuple = (flush,)
        taken = sorted(_locks_taken(work))
        if taken and rng.random() < 0.3:
            steps = (self.section(rng.choice(taken), steps),)
        if self.published and rng.random() < 0.5:
            steps += (MemOp("free"),)
        if paths[queuer].context == "process" and rng.random() < 0.4:
            self.insert(paths, queuer, steps, after=queue)
        else:
            self.insert(paths, self.pick_path(paths, entries, process=True, fresh=0.3), steps)

    # ---- wait queues and variants (every draw from self.waits)

    def variants(self, design: Design) -> Design:
        """Some grace periods and frees become kfree_rcu() or call_rcu(), some flushes
        cancels, and some uses in read sections go through a local snapshot."""
        rng = self.rng = self.waits

        def edit(body):
            out = []
            for index, item in enumerate(body):
                after = body[index + 1] if index + 1 < len(body) else None
                if isinstance(item, Synchronize) and item.domain != "srcu" and \
                        after == MemOp("free") and rng.random() < 0.6:
                    out.append(MemOp("free_rcu" if rng.random() < 0.5 else "call_rcu"))
                    out.append(None)               # the free it replaces
                elif isinstance(item, WorkOp) and item.verb == "flush" and rng.random() < 0.45:
                    out.append(WorkOp("cancel"))
                elif self.snapshots(item):
                    checked = not self.pointer or self.pointers.random() < 0.5
                    out.append(Snapshot(item.domain, rng.random() < 0.5, checked))
                else:
                    out.append(item)
            return tuple(_skip_replaced(out))
        paths = tuple(replace(p, body=edit(p.body)) for p in design.paths)
        return replace(design, paths=paths)

    def snapshots(self, item) -> bool:
        """Whether a read section around a guarded use becomes a snapshot in a local
        (through the pointer, more often, and in an SRCU section too)."""
        if not isinstance(item, ReadSection) or item.body != (Guard((MemOp("access"),)),):
            return False
        if item.domain != "srcu" and self.waits.random() < 0.5:
            return True
        return self.pointer and self.pointers.random() < 0.9

    def wait_queue(self, design: Design) -> Design:
        """A waiter (`wait_event`, sometimes timed or under a lock) and a waker that
        sets the condition and wakes, wakes first (a lost wake-up) or never wakes."""
        rng = self.rng = self.waits
        paths = list(design.paths)
        entries = list(design.scenario or ())
        wait = WaitOp("timed" if rng.random() < 0.3 else "wait")
        if rng.random() < 0.2:
            wait = self.section(rng.choice([n for n, _ in self.locks]), (wait,))
        self.insert(paths, self.pick_path(paths, entries, process=True, fresh=0.5), (wait,))
        waker = WaitOp(rng.choice(("wake", "wake", "wake_early", "set_only")))
        self.insert(paths, self.pick_path(paths, entries, process=False, fresh=0.4), (waker,))
        scenario = tuple(entries) if design.scenario else None
        return replace(design, paths=tuple(paths), scenario=scenario, waitqueue=True)

    # ---- kthreads (every draw from self.kthreads)

    def with_kthread(self, design: Design) -> Design:
        """`fn kt()` loops twice: a stop check, a body like a work item's, and a sleep
        that includes the stop (right), leaves it out (a stop that hangs) or none.
        A path runs it; the same or another stops it, sometimes under a lock the
        kthread takes, and may then free what it uses; another may feed it."""
        rng = self.rng = self.kthreads
        paths = list(design.paths)
        entries = list(design.scenario or ())
        body = self.work_body()
        wait = rng.choice(("right", "right", "wrong", "none"))
        run = KthreadOp("run")
        runner = self.pick_path(paths, entries, process=True, fresh=0.3)
        self.insert(paths, runner, (run,))
        steps: tuple = (KthreadOp("stop"),)
        taken = sorted(_locks_taken(body))
        if taken and rng.random() < 0.25:
            steps = (self.section(rng.choice(taken), steps),)
        if design.published and rng.random() < 0.5:
            steps += (MemOp("free"),)
        if rng.random() < 0.5:
            self.insert(paths, runner, steps, after=run)
        else:
            self.insert(paths, self.pick_path(paths, entries, process=True, fresh=0.4), steps)
        if wait != "none" and rng.random() < 0.5:
            feeder = self.pick_path(paths, entries, process=False, fresh=0.3)
            self.insert(paths, feeder, (KthreadOp("feed"),))
        parks = rng.random() < 0.45
        if rng.random() < 0.5:          # parked by a path: a kthread that may never park
            park = KthreadOp("park" if rng.random() < 0.5 else "park_only")
            self.insert(paths, self.pick_path(paths, entries, process=True, fresh=0.3), (park,))
        scenario = tuple(entries) if design.scenario else None
        return replace(design, paths=tuple(paths), scenario=scenario, kthread=body,
                       kthread_wait=wait, kthread_parks=parks)

    # ---- random paths

    def random_path(self, number: int) -> PathDef:
        rng = self.rng
        context = rng.choice(IRQ_CONTEXTS) if rng.random() < 0.2 else "process"
        atomic = context != "process"
        body = self.body(0, (), atomic, context)
        return PathDef(f"p{number}", context, body)

    def body(self, depth: int, held: tuple[str, ...], atomic: bool, context: str) -> tuple:
        rng = self.rng
        items = []
        for _ in range(rng.choice((1, 1, 1, 2)) if depth else rng.choice((1, 1, 2))):
            item = self.item(depth, held, atomic, context)
            if item is not None:
                items.append(item)
        return tuple(items)

    def item(self, depth: int, held, atomic: bool, context: str):
        rng = self.rng
        if depth >= 4 or (depth and rng.random() < 0.35):
            return self.leaf()
        if context == "process" and not atomic and rng.random() < 0.08:
            style = rng.choice(("disable", "save"))
            return IrqOff(style, self.body(depth + 1, held, True, context))
        choices = [n for n, k in self.locks if n not in held and
                   (k in SPINNING or not atomic or rng.random() < 0.1)]
        if not choices:
            return self.leaf()
        lock = rng.choice(choices)
        kind = self.kind[lock]
        inner_atomic = atomic or kind in SPINNING
        if rng.random() < 0.2:
            mode = rng.choice(("read", "write")) if kind in READ_WRITE else "write"
            body = self.body(depth + 1, held + (lock,), inner_atomic, context)
            otherwise = self.body(depth + 1, held, atomic, context) if rng.random() < 0.6 \
                else None
            return Try(lock, mode, body, otherwise)
        section = self.section(lock, ())
        if context != "process" and section.mode == "irqsave" and rng.random() < 0.5:
            section = replace(section, mode="write")
        elif context == "process" and kind == "spinlock" and rng.random() < 0.1:
            section = replace(section, mode="irq")
        return replace(section, body=self.body(depth + 1, held + (lock,), inner_atomic, context))

    def leaf(self):
        rng = self.rng
        if self.revocable and rng.random() < 0.5:
            roll = rng.random()
            return Revoke() if roll < 0.3 else CheckMap(roll < 0.75)
        if self.refcounted and rng.random() < 0.4:
            return RefOp(rng.choice(("lookup", "lookup", "drop", "rearm", "put")))
        if self.completion and rng.random() < 0.4:
            return CompletionOp(rng.choice(("complete", "complete", "complete_all", "wait",
                                            "wait", "timed", "reinit")))
        # A use of the published memory where nothing else went: inside a spinlock, with
        # interrupts off or in an interrupt handler it is an RCU reader of its own.
        if self.published and self.grace.random() < 0.35:
            access = MemOp("access")
            return Guard((access,)) if self.grace.random() < 0.7 else access
        return None

    # ---- scenario

    def scenario(self, paths: list[PathDef]) -> tuple[Entry, ...]:
        rng = self.rng
        process = [p for p in paths if p.context == "process"]
        entries = [Entry(p.name, 2 if rng.random() < 0.2 else 1, cpu)
                   for cpu, p in enumerate(process)]
        for path in paths:
            if path.context != "process" and entries and rng.random() < 0.8:
                entries.append(Entry(path.name, 1, rng.randrange(len(entries))))
        return tuple(entries) or None


def _skip_replaced(items):
    """The items, each None dropping the item after it (a free kfree_rcu replaced)."""
    skip = False
    for item in items:
        if item is None:
            skip = True
        elif skip:
            skip = False
        else:
            yield item


def generate(seed: int) -> Design:
    return _Gen(seed).design()
