"""Random lock designs for the differential oracle (tests/oracle.py).

A design is a small tree (locks, one optional revocable object, paths whose
bodies are nested sections, an optional scenario) rendered to spec text. It
is generated from a seeded `random.Random`, so a design is reproduced from
its seed alone, and it is a tree so that a disagreement can be shrunk by
dropping paths, statements and locks (`shrink_candidates`).

The generator plants the shapes the interleaving engine must get right: gate
locks around an inverted pair, three-lock cycles closed by a shorter path,
trylocks with a back-off branch, rwsem and rwlock readers (queued and
recursive) with a writer elsewhere, irq handlers sharing a spinlock with
process context, check-then-act on a revocable object, lookups and drops of a
reference count (re-armed, freed or parked by its release function), and
completions that count.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

LOCK_NAMES = ("A", "B", "C", "D", "E")
KINDS = ("mutex", "spinlock", "rwsem")
# Some reader-writer locks become rwlocks, drawn from a stream of their own so that
# every other choice of a design stays as it was: a reader-writer lock is one of
# READ_WRITE whatever it became.
RWLOCKS = ("rwlock(read = queued)", "rwlock(read = recursive)")
READ_WRITE = ("rwsem",) + RWLOCKS
SPINNING = ("spinlock",) + RWLOCKS
IRQ_CONTEXTS = ("hardirq", "softirq")


# --------------------------------------------------------------- the design tree

@dataclass(frozen=True)
class Section:
    """`lock; body; unlock` with the verb for `mode`: write, read (rwsem, rwlock),
    irqsave, irq."""

    lock: str
    mode: str
    body: tuple = ()


@dataclass(frozen=True)
class Try:
    """`if trylock(lock) { body; unlock } else { otherwise }`."""

    lock: str
    mode: str                      # write or read
    body: tuple = ()
    otherwise: tuple | None = None


@dataclass(frozen=True)
class IrqOff:
    """`local_irq_disable(); body; local_irq_enable();` (or save/restore)."""

    style: str                     # disable or save
    body: tuple = ()


@dataclass(frozen=True)
class CheckMap:
    """Check-then-act: `if revoked(b) { unwind; return; } map(b);`, or the guarded form
    `if !revoked(b) { map(b); }`."""

    early_return: bool


@dataclass(frozen=True)
class Revoke:
    """`revoke(b); unmap(b);`"""


@dataclass(frozen=True)
class RefOp:
    """A step on the refcounted `r`: lookup (`if kref_get_unless_zero` use and put),
    drop (`if refcount_dec_and_test` free), rearm (`kref_init`), put (`kref_put` with
    the release function)."""

    verb: str


@dataclass(frozen=True)
class CompletionOp:
    """A step on the completion `c`: complete, complete_all, wait, timed (a wait with
    a timeout and a branch per outcome), reinit."""

    verb: str


@dataclass(frozen=True)
class PathDef:
    name: str
    context: str
    body: tuple


@dataclass(frozen=True)
class Entry:
    """A scenario thread: `count * path() @cpu`."""

    path: str
    count: int
    cpu: int


@dataclass(frozen=True)
class Design:
    seed: int
    locks: tuple[tuple[str, str], ...]           # (name, kind)
    revocable: bool
    paths: tuple[PathDef, ...]
    scenario: tuple[Entry, ...] | None
    planted: frozenset[str] = field(default_factory=frozenset)   # shapes planted on purpose
    refcounted: bool = False       # `object r : refcounted = 2` and its release function
    ref_frees: bool = True         # the release function frees r (else parks it)
    completion: bool = False       # `object c : completion`

    def kind(self, lock: str) -> str:
        return dict(self.locks)[lock]


# --------------------------------------------------------------- rendering

VERBS = {
    ("mutex", "write"): ("mutex_lock", "mutex_unlock"),
    ("spinlock", "write"): ("spin_lock", "spin_unlock"),
    ("spinlock", "irqsave"): ("spin_lock_irqsave", "spin_unlock_irqrestore"),
    ("spinlock", "irq"): ("spin_lock_irq", "spin_unlock_irq"),
    ("rwsem", "write"): ("down_write", "up_write"),
    ("rwsem", "read"): ("down_read", "up_read"),
    **{(kind, "write"): ("write_lock", "write_unlock") for kind in RWLOCKS},
    **{(kind, "read"): ("read_lock", "read_unlock") for kind in RWLOCKS},
}
TRY_VERBS = {("mutex", "write"): "mutex_trylock", ("spinlock", "write"): "spin_trylock",
             ("rwsem", "write"): "down_write_trylock", ("rwsem", "read"): "down_read_trylock",
             **{(kind, "write"): "write_trylock" for kind in RWLOCKS},
             **{(kind, "read"): "read_trylock" for kind in RWLOCKS}}
IRQ_VERBS = {"disable": ("local_irq_disable", "local_irq_enable"),
             "save": ("local_irq_save", "local_irq_restore")}


REF_TEXT = {
    "lookup": "if kref_get_unless_zero(r) { access(r); kref_put(r, r_release); }",
    "drop": "if refcount_dec_and_test(r) { kfree(r); }",
    "rearm": "kref_init(r);",
    "put": "kref_put(r, r_release);",
}
COMPLETION_TEXT = {
    "complete": "complete(c);", "complete_all": "complete_all(c);",
    "wait": "wait_for_completion(c);", "reinit": "reinit_completion(c);",
    "timed": "if wait_for_completion_timeout(c) { complete(c); } else { reinit_completion(c); }",
}


def render(design: Design) -> str:
    lines = [f"// random design, seed {design.seed}", "import kernel"]
    lines += [f"lock {name} : {kind}" for name, kind in design.locks]
    if design.revocable:
        lines.append("object b : revocable")
    if design.refcounted:
        lines.append("object r : refcounted = 2")
        lines.append("fn r_release(o: refcounted) { " + ("kfree(o); " if design.ref_frees
                                                          else "") + "}")
    if design.completion:
        lines.append("object c : completion")
    for path in design.paths:
        body = " ".join(_render_body(design, path.body, ()))
        lines.append(f"path {path.name} in {path.context} {{ {body} }}")
    if design.scenario:
        parts = [(f"{e.count} * " if e.count > 1 else "") + f"{e.path}() @{e.cpu}"
                 for e in design.scenario]
        lines.append("scenario s = " + " || ".join(parts))
    return "\n".join(lines) + "\n"


def _render_body(design: Design, body, closers: tuple[str, ...]) -> list[str]:
    """Statements; `closers` are what an early return must undo, innermost last."""
    out: list[str] = []
    for item in body:
        out += _render_item(design, item, closers)
    return out


def _render_item(design: Design, item, closers) -> list[str]:
    if isinstance(item, Section):
        take, drop = VERBS[(design.kind(item.lock), item.mode)]
        inner = closers + (f"{drop}({item.lock});",)
        return [f"{take}({item.lock});", *_render_body(design, item.body, inner),
                f"{drop}({item.lock});"]
    if isinstance(item, Try):
        drop = VERBS[(design.kind(item.lock), item.mode)][1]
        test = TRY_VERBS[(design.kind(item.lock), item.mode)]
        inner = closers + (f"{drop}({item.lock});",)
        text = [f"if {test}({item.lock}) {{", *_render_body(design, item.body, inner),
                f"{drop}({item.lock}); }}"]
        if item.otherwise is not None:
            text += ["else {", *_render_body(design, item.otherwise, closers), "}"]
        return text
    if isinstance(item, IrqOff):
        off, on = IRQ_VERBS[item.style]
        return [f"{off}();", *_render_body(design, item.body, closers + (f"{on}();",)),
                f"{on}();"]
    if isinstance(item, RefOp):
        return [REF_TEXT[item.verb]]
    if isinstance(item, CompletionOp):
        return [COMPLETION_TEXT[item.verb]]
    if isinstance(item, CheckMap):
        if not item.early_return:
            return ["if !revoked(b) { map(b); }"]
        unwind = " ".join(reversed(closers))
        return [f"if revoked(b) {{ {unwind} return; }}".replace("  ", " "), "map(b);"]
    return ["revoke(b); unmap(b);"]


# --------------------------------------------------------------- generation

class _Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.seed = seed

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
        return Design(self.seed, self.locks, self.revocable, tuple(paths), scenario,
                      frozenset(planted), self.refcounted, self.ref_frees, self.completion)

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


def generate(seed: int) -> Design:
    return _Gen(seed).design()


def _contains(body, kind) -> bool:
    return any(isinstance(item, kind) or _contains(_children(item), kind) for item in body)


def _contains_op(body, kind, verb: str) -> bool:
    return any((isinstance(item, kind) and item.verb == verb)
               or _contains_op(_children(item), kind, verb) for item in body)


def _children(item) -> tuple:
    if isinstance(item, Try):
        return item.body + (item.otherwise or ())
    return getattr(item, "body", ())


# --------------------------------------------------------------- coverage

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
    for path in design.paths:
        found.add(f"context:{path.context}")
        depth = _depth(path.body)
        found.add(f"max-depth={depth}")
        _item_features(design, path.body, found)
    return found


def _item_features(design: Design, body, found: set[str]) -> None:
    for item in body:
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
        elif isinstance(item, CheckMap):
            found.add("check-then-act")
        elif isinstance(item, RefOp):
            found.add(f"ref:{item.verb}")
        elif isinstance(item, CompletionOp):
            found.add(f"completion:{item.verb}")
        _item_features(design, _children(item), found)


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


# --------------------------------------------------------------- shrinking

def shrink_candidates(design: Design):
    """Smaller designs, roughly biggest cut first: a path, the scenario, a lock, the
    object, then one statement at a time."""
    for index, path in enumerate(design.paths):
        yield _without_path(design, path.name)
    if design.scenario:
        if any(e.count > 1 for e in design.scenario):
            yield replace(design, scenario=tuple(replace(e, count=1) for e in design.scenario))
        for index in range(len(design.scenario)):
            rest = design.scenario[:index] + design.scenario[index + 1:]
            if rest:
                yield replace(design, scenario=rest)
    for name, _ in design.locks:
        yield _without_lock(design, name)
    if design.revocable:
        yield _without_object(design)
    if design.refcounted:
        yield _without_kind(design, RefOp, refcounted=False)
    if design.completion:
        yield _without_kind(design, CompletionOp, completion=False)
    for index, path in enumerate(design.paths):
        for body in _body_edits(path.body):
            paths = list(design.paths)
            paths[index] = replace(path, body=body)
            yield replace(design, paths=tuple(paths))


def _without_path(design: Design, name: str) -> Design:
    paths = tuple(p for p in design.paths if p.name != name)
    scenario = None
    if design.scenario:
        scenario = tuple(e for e in design.scenario if e.path != name) or None
    return replace(design, paths=paths, scenario=scenario)


def _without_lock(design: Design, name: str) -> Design:
    paths = tuple(replace(p, body=_map_items(p.body, lambda i: _unwrap_lock(i, name)))
                  for p in design.paths)
    return replace(design, locks=tuple(lk for lk in design.locks if lk[0] != name),
                   paths=paths)


def _without_object(design: Design) -> Design:
    def drop(item):
        return () if isinstance(item, (CheckMap, Revoke)) else (item,)
    paths = tuple(replace(p, body=_map_items(p.body, drop)) for p in design.paths)
    return replace(design, revocable=False, paths=paths)


def _without_kind(design: Design, kind, **changes) -> Design:
    def drop(item):
        return () if isinstance(item, kind) else (item,)
    paths = tuple(replace(p, body=_map_items(p.body, drop)) for p in design.paths)
    return replace(design, paths=paths, **changes)


def _unwrap_lock(item, name: str) -> tuple:
    if isinstance(item, (Section, Try)) and item.lock == name:
        return item.body
    return (item,)


def _map_items(body, fn) -> tuple:
    """Rewrite every item bottom-up; `fn` returns the items that replace one item."""
    out = []
    for item in body:
        if isinstance(item, Try):
            otherwise = None if item.otherwise is None else _map_items(item.otherwise, fn)
            item = replace(item, body=_map_items(item.body, fn), otherwise=otherwise)
        elif isinstance(item, (Section, IrqOff)):
            item = replace(item, body=_map_items(item.body, fn))
        out += fn(item)
    return tuple(out)


def _body_edits(body):
    """Every body one edit smaller: an item dropped, unwrapped (its body in its place),
    a trylock's else branch dropped, or one edit inside an item."""
    for index, item in enumerate(body):
        before, after = body[:index], body[index + 1:]
        yield before + after
        if isinstance(item, (Section, Try, IrqOff)):
            yield before + item.body + after
        if isinstance(item, Try) and item.otherwise is not None:
            yield before + (replace(item, otherwise=None),) + after
        if isinstance(item, Section) and item.mode in ("irqsave", "irq", "read"):
            mode = "write"
            yield before + (replace(item, mode=mode),) + after
        for inner in _body_edits(item.body if hasattr(item, "body") else ()):
            yield before + (replace(item, body=inner),) + after
        if isinstance(item, Try) and item.otherwise:
            for inner in _body_edits(item.otherwise):
                yield before + (replace(item, otherwise=inner),) + after
