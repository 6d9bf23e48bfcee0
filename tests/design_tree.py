"""The tree of a random design (tests/random_designs.py generates them): its
nodes, its rendering to spec text and the smaller designs it shrinks to
(tests/design_coverage.py counts the features it exercises; tests/oracle.py
`shrink`).

A design holds locks, up to three objects (a revocable `b`, a refcounted `r`,
a completion `c`), RCU-published memory (`m`, reachable while the flag `live`
is set, or through the pointer `gp`), an SRCU domain `S`, a work function `w`,
a kthread `kt`, and paths whose bodies are nested sections of the nodes below.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

KINDS = ("mutex", "spinlock", "rwsem")
RWLOCKS = ("rwlock(read = queued)", "rwlock(read = recursive)")
READ_WRITE = ("rwsem",) + RWLOCKS
SPINNING = ("spinlock",) + RWLOCKS


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
class ReadSection:
    """A read section of a grace-period domain: `rcu_read_lock(); body;
    rcu_read_unlock();` (domain rcu), the `_bh` pair (rcu_bh), or
    `srcu_read_lock(S); body; srcu_read_unlock(S);` (srcu)."""

    domain: str
    body: tuple = ()


@dataclass(frozen=True)
class Guard:
    """`if live { body }`: the check that `m` is still published (through the
    pointer: `{ let g = rcu_access_pointer(gp); if g { body } }`)."""

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
class MemOp:
    """A step on the published memory `m`: access (`access(m);`), unpublish
    (`clear(live);`, or `rcu_assign_pointer(gp, NULL);`), free (`kfree(m);`)."""

    verb: str


@dataclass(frozen=True)
class Synchronize:
    """A grace period: `synchronize_rcu();` (rcu), `synchronize_net();` (net, the same
    wait), `synchronize_srcu(S);` (srcu)."""

    domain: str


@dataclass(frozen=True)
class WorkOp:
    """The work item `w`: queue (`schedule_work(w);`), flush (`flush_work(w);`),
    flush_all (`flush_workqueue();`), cancel (`cancel_work_sync(w);`)."""

    verb: str


@dataclass(frozen=True)
class WaitOp:
    """The wait queue `q` and its condition `ready`: wait (`wait_event(q, ready);`),
    timed (`wait_event_timeout`), wake (`set(ready); wake_up(q);`), wake_early
    (the wake-up before the condition: a lost wake-up), set_only (no wake-up)."""

    verb: str


@dataclass(frozen=True)
class KthreadOp:
    """The kthread `kt`: run (`kthread_run(kt);`), stop (`kthread_stop(kt);`), feed
    (`set(kready); wake_up(kq);`), park (`kthread_park(kt); kthread_unpark(kt);`),
    park_only (`kthread_park(kt);`: the stop unparks it)."""

    verb: str


@dataclass(frozen=True)
class Snapshot:
    """`live` (or the pointer `gp`) read into a local inside a read section of
    `domain`, and `m` used through it: inside the section (right) or after it
    (`after`: a use after free); through the pointer, tested first or not
    (`checked`: else a NULL dereference once unpublished)."""

    domain: str
    after: bool
    checked: bool = True


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
    published: bool = False        # `object m : memory` and `object live : flag = true`
    srcu: bool = False             # `lock S : srcu`
    work: tuple | None = None      # the body of `fn w()`
    waitqueue: bool = False        # `object q : waitqueue` and `object ready : flag`
    pointer: bool = False          # `m` published through `object gp : pointer = m` too
    # The body of `fn kt()`'s loop, and how it sleeps at the end of a round:
    # "right" (`kready || kthread_should_stop()`), "wrong" (`kready`), "none".
    kthread: tuple | None = None
    kthread_wait: str = "none"
    kthread_parks: bool = False    # the loop parks when asked (kthread_parkme())
    work_item: bool = False        # `w` queued as `object wi : work(func = w)`

    def kind(self, lock: str) -> str:
        return dict(self.locks)[lock]


BODIED = (Section, Try, IrqOff, ReadSection, Guard)


def _children(item) -> tuple:
    if isinstance(item, Try):
        return item.body + (item.otherwise or ())
    return getattr(item, "body", ())


def _contains(body, kind) -> bool:
    return any(isinstance(item, kind) or _contains(_children(item), kind) for item in body)


def _contains_op(body, kind, verb: str) -> bool:
    return any((isinstance(item, kind) and item.verb == verb)
               or _contains_op(_children(item), kind, verb) for item in body)


def _locks_taken(body) -> set[str]:
    """The locks a body takes (sections and trylocks)."""
    found: set[str] = set()
    for item in body:
        if isinstance(item, (Section, Try)):
            found.add(item.lock)
        found |= _locks_taken(_children(item))
    return found


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
READ_SECTION_VERBS = {"rcu": ("rcu_read_lock();", "rcu_read_unlock();"),
                      "rcu_bh": ("rcu_read_lock_bh();", "rcu_read_unlock_bh();"),
                      "srcu": ("srcu_read_lock(S);", "srcu_read_unlock(S);")}


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
MEM_TEXT = {"access": "access(m);", "unpublish": "clear(live);", "free": "kfree(m);",
            "free_rcu": "kfree_rcu(m);", "call_rcu": "call_rcu(m_free);"}
POINTER_READS = {"rcu": "rcu_dereference(gp)", "rcu_bh": "rcu_dereference_bh(gp)",
                 "srcu": "srcu_dereference(gp, S)"}
SYNC_TEXT = {"rcu": "synchronize_rcu();", "net": "synchronize_net();",
             "srcu": "synchronize_srcu(S);"}
WORK_TEXT = {"queue": "schedule_work(w);", "flush": "flush_work(w);",
             "flush_all": "flush_workqueue();", "cancel": "cancel_work_sync(w);"}
KTHREAD_TEXT = {"run": "kthread_run(kt);", "stop": "kthread_stop(kt);",
                "feed": "set(kready); wake_up(kq);",
                "park": "kthread_park(kt); kthread_unpark(kt);", "park_only": "kthread_park(kt);"}
KTHREAD_WAIT_TEXT = {"right": "wait_event(kq, kready || kthread_should_stop());",
                     "wrong": "wait_event(kq, kready);", "none": ""}
KTHREAD_PARKING_WAIT = "wait_event(kq, kready || kthread_should_stop() || kthread_should_park());"
WAIT_TEXT = {"wait": "wait_event(q, ready);",
             "timed": "if !wait_event_timeout(q, ready) { set(ready); }",
             "wake": "set(ready); wake_up(q);", "wake_early": "wake_up(q); set(ready);",
             "set_only": "set(ready);"}
LEAF_TEXT = {RefOp: REF_TEXT, CompletionOp: COMPLETION_TEXT, MemOp: MEM_TEXT,
             WorkOp: WORK_TEXT, WaitOp: WAIT_TEXT, KthreadOp: KTHREAD_TEXT}


def render(design: Design) -> str:
    lines = [f"// random design, seed {design.seed}", "import kernel"]
    lines += [f"lock {name} : {kind}" for name, kind in design.locks]
    if design.srcu:
        lines.append("lock S : srcu")
    if design.revocable:
        lines.append("object b : revocable")
    if design.refcounted:
        lines.append("object r : refcounted = 2")
        lines.append("fn r_release(o: refcounted) { " + ("kfree(o); " if design.ref_frees
                                                          else "") + "}")
    if design.completion:
        lines.append("object c : completion")
    if design.published:
        lines.append("object m : memory")
        lines.append("object live : flag = true")
        lines.append("fn m_free() { kfree(m); }")
    if design.pointer:
        lines.append("object gp : pointer = m")
    if design.waitqueue:
        lines.append("object q : waitqueue")
        lines.append("object ready : flag")
    if design.work is not None:
        body = " ".join(_render_body(design, design.work, ()))
        lines.append(f"fn w() {{ {body} }}".replace("  ", " "))
        if design.work_item:
            lines.append("object wi : work(func = w)")
    if design.kthread is not None:
        lines += ["object kq : waitqueue", "object kready : flag"]
        body = " ".join(_render_body(design, design.kthread, ()))
        wait = KTHREAD_WAIT_TEXT[design.kthread_wait]
        if design.kthread_parks:
            body = "if kthread_should_park() { kthread_parkme(); } " + body
            wait = KTHREAD_PARKING_WAIT if design.kthread_wait == "right" else wait
        lines.append(f"fn kt() {{ repeat 2 {{ if kthread_should_stop() {{ return; }} {body} "
                     f"{wait} }} }}".replace("  ", " "))
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
    if isinstance(item, ReadSection):
        take, drop = READ_SECTION_VERBS[item.domain]
        return [take, *_render_body(design, item.body, closers + (drop,)), drop]
    if isinstance(item, Guard) and design.pointer:
        return ["{ let g = rcu_access_pointer(gp); if g {",
                *_render_body(design, item.body, closers), "} }"]
    if isinstance(item, Guard):
        return ["if live {", *_render_body(design, item.body, closers), "}"]
    if item == MemOp("unpublish") and design.pointer:
        return ["rcu_assign_pointer(gp, NULL);"]
    if isinstance(item, WorkOp) and design.work_item:
        return [WORK_TEXT[item.verb].replace("(w)", "(wi)")]
    if type(item) in LEAF_TEXT:
        return [LEAF_TEXT[type(item)][item.verb]]
    if isinstance(item, Synchronize):
        return [SYNC_TEXT[item.domain]]
    if isinstance(item, Snapshot):
        take, drop = READ_SECTION_VERBS[item.domain]
        read, use = "live", "if seen { access(m); }"
        if design.pointer:
            read = POINTER_READS[item.domain]
            use = "if seen { access(seen); }" if item.checked else "access(seen);"
        inner = [drop, use] if item.after else [use, drop]
        return ["{", take, f"let seen = {read};", *inner, "}"]
    if isinstance(item, CheckMap):
        if not item.early_return:
            return ["if !revoked(b) { map(b); }"]
        unwind = " ".join(reversed(closers))
        return [f"if revoked(b) {{ {unwind} return; }}".replace("  ", " "), "map(b);"]
    return ["revoke(b); unmap(b);"]


# --------------------------------------------------------------- shrinking

def shrink_candidates(design: Design):
    """Smaller designs, roughly biggest cut first: a path, the scenario, a lock, an
    object, a domain, the work, then one statement at a time."""
    for path in design.paths:
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
        yield _without_items(design, lambda i: isinstance(i, (CheckMap, Revoke)),
                             revocable=False)
    if design.refcounted:
        yield _without_items(design, lambda i: isinstance(i, RefOp), refcounted=False)
    if design.completion:
        yield _without_items(design, lambda i: isinstance(i, CompletionOp), completion=False)
    if design.work is not None:
        yield _without_items(design, lambda i: isinstance(i, WorkOp), work=None)
    if design.published:
        yield _without_items(design, lambda i: isinstance(i, (MemOp, Snapshot)), unwrap=Guard,
                             published=False, pointer=False)
    if design.pointer:
        yield replace(design, pointer=False)
    if design.waitqueue:
        yield _without_items(design, lambda i: isinstance(i, WaitOp), waitqueue=False)
    if design.kthread is not None:
        yield _without_items(design, lambda i: isinstance(i, KthreadOp), kthread=None)
        if design.kthread_wait != "none":
            yield replace(design, kthread_wait="none")
    if design.srcu:
        yield _without_items(design, lambda i: isinstance(i, (Synchronize, Snapshot))
                             and i.domain == "srcu", unwrap=ReadSection, srcu=False)
    for index, path in enumerate(design.paths):
        for body in _body_edits(path.body):
            paths = list(design.paths)
            paths[index] = replace(path, body=body)
            yield replace(design, paths=tuple(paths))
    if design.work:
        for body in _body_edits(design.work):
            yield replace(design, work=body)
    if design.kthread:
        for body in _body_edits(design.kthread):
            yield replace(design, kthread=body)


def _without_path(design: Design, name: str) -> Design:
    paths = tuple(p for p in design.paths if p.name != name)
    scenario = None
    if design.scenario:
        scenario = tuple(e for e in design.scenario if e.path != name) or None
    return replace(design, paths=paths, scenario=scenario)


def _map_design(design: Design, fn, **changes) -> Design:
    """`_map_items` over every path, the work function and the kthread."""
    paths = tuple(replace(p, body=_map_items(p.body, fn)) for p in design.paths)
    work = changes.pop("work", None if design.work is None else _map_items(design.work, fn))
    kthread = changes.pop("kthread", None if design.kthread is None
                          else _map_items(design.kthread, fn))
    return replace(design, paths=paths, work=work, kthread=kthread, **changes)


def _without_lock(design: Design, name: str) -> Design:
    def unwrap(item):
        return item.body if isinstance(item, (Section, Try)) and item.lock == name else (item,)
    return _map_design(design, unwrap,
                       locks=tuple(lk for lk in design.locks if lk[0] != name))


def _without_items(design: Design, drops, unwrap=None, **changes) -> Design:
    """Drop the items `drops` accepts, unwrap those of the node class `unwrap` (an SRCU
    read section: only those of domain srcu), and apply `changes`."""
    def edit(item):
        if drops(item):
            return ()
        if unwrap is not None and isinstance(item, unwrap) and (
                not isinstance(item, ReadSection) or item.domain == "srcu"):
            return item.body
        return (item,)
    return _map_design(design, edit, **changes)


def _map_items(body, fn) -> tuple:
    """Rewrite every item bottom-up; `fn` returns the items that replace one item."""
    out = []
    for item in body:
        if isinstance(item, Try):
            otherwise = None if item.otherwise is None else _map_items(item.otherwise, fn)
            item = replace(item, body=_map_items(item.body, fn), otherwise=otherwise)
        elif isinstance(item, BODIED):
            item = replace(item, body=_map_items(item.body, fn))
        out += fn(item)
    return tuple(out)


def _body_edits(body):
    """Every body one edit smaller: an item dropped, unwrapped (its body in its place),
    a trylock's else branch dropped, or one edit inside an item."""
    for index, item in enumerate(body):
        before, after = body[:index], body[index + 1:]
        yield before + after
        if isinstance(item, BODIED):
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
