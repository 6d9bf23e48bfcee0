"""The rules decided per acquisition, per sleep or per thread, needing no interleaving:
recursive locking, wait contexts (sleeping in atomic, raw_spinlock nesting), the
declared order, and the thread-local problems the walker found."""
from __future__ import annotations

import networkx as nx

from checker.findings import CONFIRMED, Finding, Link
from checker.graph.explain import recursion_scenario, span_key, user_span, where
from model import ir
from model.lockgraph import NESTING_RECURSIVE, check_deadlock
from model.span import Span
from model.walk import AcquireEvent, Held, SleepEvent, WalkResult

WAIT_MAX = ir.WAIT_SLEEP + 1
RCU_KINDS = frozenset({"rcu", "rcu_sched"})


def _events(walks: dict[str, WalkResult]):
    for code_id in sorted(walks):
        for event in walks[code_id].acquires:
            if not event.reacquire:
                yield event


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, location, message): a verb used by many paths, or a
    path walked in many states, is reported once."""
    seen = {}
    for finding in findings:
        seen.setdefault((finding.code, span_key(finding.span), finding.message), finding)
    return list(seen.values())


# ------------------------------------------------------------ recursive locking

def recursion_findings(walks: dict[str, WalkResult]) -> list[Finding]:
    findings = []
    for event in _events(walks):
        verdict, prev = check_deadlock(event)
        if verdict != NESTING_RECURSIVE:
            continue
        mode = {0: "", 1: " (read)", 2: " (recursive read)"}
        if prev.lock == event.lock:
            message = (f"`{event.lock}`{mode[event.read]} acquired while this thread already "
                       f"holds it{mode[prev.read]}")
        else:
            message = (f"`{event.lock}`{mode[event.read]} acquired while `{prev.lock}`"
                       f"{mode[prev.read]}, of the same class `{event.lock_class}`, is held "
                       f"(may be due to a missing lock nesting annotation)")
        findings.append(Finding(
            "recursive-locking", message, user_span(event.site), "graph", status=CONFIRMED,
            locks=tuple(dict.fromkeys((prev.lock, event.lock))), paths=(event.code,),
            chain=(Link(f"`{prev.lock}` acquired here", user_span(prev.site)),),
            unsafe_scenario=recursion_scenario(prev.lock_class, event.lock_class)))
    return _dedupe(findings)


# ------------------------------------------------------------------ wait context

def wait_context_findings(program: ir.Program, walks: dict[str, WalkResult]) -> list[Finding]:
    """check_wait_context() on every acquisition, and might_sleep() on every sleep.
    A mutex_lock() under a spinlock trips both at one call: one finding."""
    raw_nesting = bool(program.options.get("prove_raw_lock_nesting"))
    waits = {name: (_wait_type(lock.wait_inner, raw_nesting),
                    _wait_type(lock.wait_outer or lock.wait_inner, raw_nesting))
             for name, lock in program.locks.items()}
    contexts = {context: _wait_type(_context_inner(context), raw_nesting)
                for context in ir.Context}
    by_span: dict[tuple, Finding] = {}
    for event in _events(walks):
        if event.trylock or waits[event.lock][0] == ir.WAIT_INV:
            continue
        culprit = _wait_culprit(event, waits, contexts[event.context])
        if culprit is not False:
            finding = _wait_finding(program, event, culprit)
            by_span.setdefault(span_key(finding.span), finding)
    for code_id in sorted(walks):
        for sleep in walks[code_id].sleeps:
            finding = _sleep_violation(program, sleep)
            if finding is not None:
                by_span.setdefault(span_key(finding.span), finding)
    return list(by_span.values())


def _wait_type(value: int, raw_nesting: bool) -> int:
    """Without CONFIG_PROVE_RAW_LOCK_NESTING, LD_WAIT_CONFIG is LD_WAIT_SPIN."""
    return ir.WAIT_SPIN if value == ir.WAIT_CONFIG and not raw_nesting else value


def _context_inner(context: ir.Context) -> int:
    """task_wait_context(): threaded hardirqs (and irq_work) and softirqs may take
    spinlock_t, a non-threaded hardirq only raw_spinlock_t."""
    if context is ir.Context.HARDIRQ_NOTHREAD:
        return ir.WAIT_SPIN
    if context.is_interrupt:
        return ir.WAIT_CONFIG
    return WAIT_MAX


def _wait_culprit(event: AcquireEvent, waits, context_inner: int):
    """False if the acquisition is fine; else the held lock whose inner wait type
    it exceeds (None: the context's own)."""
    outer = waits[event.lock][1]
    inner, culprit = context_inner, None
    for held in event.held:
        held_inner = waits[held.lock][0]
        if held_inner != ir.WAIT_INV and held_inner < inner:
            inner, culprit = held_inner, held
    return False if outer <= inner else culprit


def _wait_finding(program: ir.Program, event: AcquireEvent, culprit: Held | None) -> Finding:
    lock = program.locks[event.lock]
    if culprit is None:
        why = f"in {event.context.value} context"
        chain: tuple[Link, ...] = ()
    else:
        why = f"holding {program.locks[culprit.lock].kind} `{culprit.lock}`"
        chain = (Link(f"`{culprit.lock}` acquired here", user_span(culprit.site)),)
    return Finding("invalid-wait-context", f"{lock.kind} `{event.lock}` acquired {why}",
                   user_span(event.site), "graph", status=CONFIRMED,
                   locks=tuple(dict.fromkeys(([culprit.lock] if culprit else []) + [event.lock])),
                   paths=(event.code,), chain=chain)


def atomic_reason(program: ir.Program, sleep: SleepEvent) -> tuple[str, Held | None]:
    """Why sleeping is invalid here ("" if it is fine): __might_resched() and the
    RCU check of might_sleep()."""
    for held in sleep.held:
        kind = program.locks[held.lock].kind
        if kind in ir.SPINNING_KINDS:
            return f"holding {kind} `{held.lock}`", held
        if kind in RCU_KINDS:
            return "inside an RCU read-side critical section", held
    if sleep.context.is_interrupt:
        return f"in {sleep.context.value} context", None
    if sleep.hardirqs_off:
        return "with irqs disabled", None
    if sleep.softirqs_off:
        return "with bottom halves disabled", None
    if sleep.preempt_off:
        return "with preemption disabled", None
    return "", None


def _sleep_violation(program: ir.Program, sleep: SleepEvent) -> Finding | None:
    reason, culprit = atomic_reason(program, sleep)
    if not reason:
        return None
    chain = (Link(f"`{culprit.lock}` acquired here", user_span(culprit.site)),) if culprit else ()
    message = (f"a call that may sleep, {reason} (sleeping function called from invalid "
               "context)")
    if sleep.grace and culprit is not None and program.locks[culprit.lock].kind in RCU_KINDS:
        message = ("synchronize_rcu() inside an RCU read-side critical section (Illegal "
                   "synchronize_rcu() in RCU read-side critical section)")
    return Finding("invalid-wait-context", message, user_span(sleep.site), "graph",
                   status=CONFIRMED, locks=(culprit.lock,) if culprit else (),
                   paths=(sleep.code,), chain=chain)


# ------------------------------------------------------------------ declared order

def declared_order(program: ir.Program) -> tuple[nx.DiGraph, dict[tuple[str, str], Span]]:
    """The classes each class must be taken before, from every `order` line."""
    graph = nx.DiGraph()
    spans: dict[tuple[str, str], Span] = {}
    for chain in program.orders:
        classes = [program.locks[name].lock_class for name in chain.locks]
        for first, second in zip(classes, classes[1:]):
            graph.add_edge(first, second)
            spans.setdefault((first, second), chain.span)
    return graph, spans


def order_findings(program: ir.Program, walks: dict[str, WalkResult]) -> list[Finding]:
    """Taking an earlier lock while a later one is held. Trylocks are exempt: a
    trylock against the order is how code backs off (lockdep adds no edge for it)."""
    graph, spans = declared_order(program)
    if not graph:
        return []
    after = {cls: nx.descendants(graph, cls) for cls in graph}
    findings = []
    for event in _events(walks):
        if event.trylock:
            continue
        mine = program.locks[event.lock].lock_class
        for held in event.held:
            theirs = program.locks[held.lock].lock_class
            if theirs in after.get(mine, ()):
                findings.append(_order_finding(program, event, held, mine, theirs, spans))
    return _dedupe(findings)


def _order_finding(program, event: AcquireEvent, held: Held, mine: str, theirs: str,
                   spans) -> Finding:
    span = spans.get((mine, theirs)) or next(
        (chain.span for chain in program.orders if mine in _classes(program, chain)),
        program.orders[0].span)
    message = (f"`{event.lock}` acquired while holding `{held.lock}` (taken at "
               f"{where(held.site)}); the declared order puts `{event.lock}` before "
               f"`{held.lock}`")
    return Finding("order-violation", message, user_span(event.site), "graph",
                   status=CONFIRMED, locks=(held.lock, event.lock), paths=(event.code,),
                   chain=(Link(f"`{held.lock}` acquired here", user_span(held.site)),
                          Link("the declared order", span)))


def _classes(program: ir.Program, chain: ir.OrderChain) -> list[str]:
    return [program.locks[name].lock_class for name in chain.locks]


# ------------------------------------------------------------------ thread problems

def problem_findings(walks: dict[str, WalkResult]) -> list[Finding]:
    findings = []
    for code_id in sorted(walks):
        for problem in walks[code_id].problems:
            chain = tuple(Link(f"`{h.lock}` acquired here", user_span(h.site))
                          for h in problem.held)
            findings.append(Finding(problem.kind, problem.message, user_span(problem.site),
                                    "graph", status=CONFIRMED, locks=problem.locks,
                                    paths=(code_id,), chain=chain))
    return _dedupe(findings)
