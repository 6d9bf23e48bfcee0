"""irq usage bits per lock class, and the two rules over them (lockdep §2.6).

Bits, per state (hardirq, softirq): USED_IN (taken in that interrupt context:
the class is irq-safe) and ENABLED (held with that interrupt enabled: the class
is irq-unsafe), each in a write and a _READ variant. Trylocks set no USED_IN
bit; unchecked locks (rcu) set nothing; enabling hardirqs with softirqs on marks
the held locks softirq-unsafe as well.

- inconsistent-irq-state (mark_lock_irq's valid_state): one class both safe and
  unsafe for a state; only USED_IN_READ with ENABLED_READ is allowed.
- irq-inversion (check_irq_usage): a strong path from a safe class to an unsafe
  class. As lockdep's code does it, a path whose first edge is -(S*)-> counts
  only the safe class's write USED_IN bit, and a path whose last edge is -(*R)->
  counts only the unsafe class's write ENABLED bit (the _READ bits are masked
  where `only_xr` holds). local_lock classes are skipped and cut paths
  (usage_skip).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from checker.findings import CONFIRMED, POTENTIAL, Finding, Link
from checker.graph.cycles import EdgeTypes, allowed
from checker.graph.explain import dependency_link, irq_scenario, usage_scenario, user_span
from model import ir
from model.lockgraph import Dependency
from model.walk import Held, WalkResult

IRQ_STATES = ("hardirq", "softirq")
# (USED_IN read?, ENABLED read?) pairs that conflict on one class.
CONFLICTS = ((False, False), (False, True), (True, False))
SKIPPED_KINDS = frozenset({"local_lock"})
IRQ_OF_CONTEXT = {c: "hardirq" if c.is_hardirq else "softirq" if c.is_interrupt else None
                  for c in ir.Context}


@dataclass(frozen=True)
class Usage:
    lock_class: str
    state: str                 # "hardirq" or "softirq"
    used_in: bool              # True: USED_IN (safe); False: ENABLED (unsafe)
    read: bool
    lock: str
    code: str
    site: ir.Site
    how: str

    @property
    def bit(self) -> str:
        """lockdep's name for the bit: {IN-HARDIRQ-W}, {SOFTIRQ-ON-R}, ..."""
        name = self.state.upper()
        rw = "R" if self.read else "W"
        return f"{{IN-{name}-{rw}}}" if self.used_in else f"{{{name}-ON-{rw}}}"


UsageMap = dict[str, dict[tuple[str, bool, bool], Usage]]


def collect_usage(walks: dict[str, WalkResult]) -> UsageMap:
    """Every class's usage bits, each with the first event (in code order) that set it."""
    usage: UsageMap = {}

    def mark(lock: str, cls: str, state: str, used_in: bool, read: bool, code: str,
             site: ir.Site, how: str) -> None:
        slot = usage.get(cls)
        if slot is None:
            slot = usage[cls] = {}
        key = (state, used_in, read)
        if key not in slot:
            slot[key] = Usage(cls, state, used_in, read, lock, code, site, how)

    for code_id in sorted(walks):
        walk = walks[code_id]
        for event in walk.acquires:
            if event.reacquire or not event.check:
                continue
            read = event.read != 0
            state = IRQ_OF_CONTEXT[event.context]
            if not event.trylock and state is not None:
                mark(event.lock, event.lock_class, state, True, read, code_id, event.site,
                     f"taken in {event.context.value} context")
            if not event.hardirqs_off:
                mark(event.lock, event.lock_class, "hardirq", False, read, code_id, event.site,
                     "taken with hardirqs enabled")
                if not event.softirqs_off:
                    mark(event.lock, event.lock_class, "softirq", False, read, code_id,
                         event.site, "taken with softirqs enabled")
        for enable in walk.enables:
            for held in enable.held:
                if held.check:
                    _mark_enabled(mark, held, enable, code_id)
    return usage


def _mark_enabled(mark, held: Held, enable, code_id: str) -> None:
    read = held.read != 0
    verb = "local_irq_enable()" if enable.what == "hardirq" else "local_bh_enable()"
    how = f"held when {verb} turns {enable.what}s on"
    if enable.what == "hardirq":
        mark(held.lock, held.lock_class, "hardirq", False, read, code_id, enable.site, how)
    if enable.what == "softirq" or enable.softirqs_on:
        mark(held.lock, held.lock_class, "softirq", False, read, code_id, enable.site, how)


def _usage_link(u: Usage, role: str) -> Link:
    return Link(f"`{u.lock_class}` became {u.state}-{role} {u.bit}: `{u.lock}` {u.how} "
                f"in {u.code}", user_span(u.site))


# ------------------------------------------------------------ single lock rule

def inconsistent_findings(usage: UsageMap) -> list[Finding]:
    findings = []
    for cls in sorted(usage):
        bits = usage[cls]
        conflict = next(((bits[(s, True, r_in)], bits[(s, False, r_on)])
                         for s in IRQ_STATES for r_in, r_on in CONFLICTS
                         if (s, True, r_in) in bits and (s, False, r_on) in bits), None)
        if conflict is None:
            continue
        safe, unsafe = conflict
        message = (f"inconsistent {safe.bit} -> {unsafe.bit} usage of `{cls}`: {safe.how} "
                   f"and {unsafe.how}")
        findings.append(Finding(
            "inconsistent-irq-state", message, user_span(unsafe.site), "graph",
            status=CONFIRMED, locks=tuple(dict.fromkeys((safe.lock, unsafe.lock))),
            paths=tuple(sorted({safe.code, unsafe.code})),
            chain=(_usage_link(safe, "safe"), _usage_link(unsafe, "unsafe")),
            unsafe_scenario=usage_scenario(cls)))
    return findings


# ------------------------------------------------------------ dependency rule

def inversion_findings(usage: UsageMap, types: EdgeTypes, kinds: dict[str, str]
                       ) -> list[Finding]:
    findings = []
    reported: set[str] = set()
    for state in IRQ_STATES:
        for unsafe_class, path in _inversions(usage, types, kinds, state):
            if unsafe_class in reported:
                continue
            reported.add(unsafe_class)
            findings.append(_inversion_finding(usage, state, path))
    return findings


def _inversions(usage: UsageMap, types: EdgeTypes, kinds: dict[str, str], state: str
                ) -> list[tuple[str, list[Dependency]]]:
    """Breadth-first from every safe class over (class, entered-through-xR) states:
    the shortest offending path to each unsafe class."""
    successors: dict[str, list[str]] = {}
    for prev, nxt in types:
        successors.setdefault(prev, []).append(nxt)
    parent: dict[tuple[str, bool], tuple | None] = {}
    queue = deque()
    for cls in sorted(usage):
        bits = usage[cls]
        if kinds.get(cls) in SKIPPED_KINDS:
            continue
        if (state, True, False) in bits or (state, True, True) in bits:
            # Only a write USED_IN bit lets the path start with -(S*)->.
            start = (cls, (state, True, False) not in bits)
            if start not in parent:
                parent[start] = None
                queue.append(start)
    found: dict[str, tuple] = {}
    while queue:
        node = queue.popleft()
        cls, entered_by_xr = node
        for nxt in sorted(successors.get(cls, ())):
            if kinds.get(nxt) in SKIPPED_KINDS:
                continue
            for dep_type in sorted(types[(cls, nxt)]):
                if not allowed(dep_type, entered_by_xr):
                    continue
                reached = (nxt, dep_type[1] == "R")
                if nxt not in found and _unsafe(usage.get(nxt, {}), state, reached[1]):
                    found[nxt] = (node, dep_type)
                if reached not in parent:
                    parent[reached] = (node, dep_type)
                    queue.append(reached)
    out = []
    for unsafe_class in sorted(found):
        node, dep_type = found[unsafe_class]
        path = [types[(node[0], unsafe_class)][dep_type]]
        while parent[node] is not None:
            before, before_type = parent[node]
            path.append(types[(before[0], node[0])][before_type])
            node = before
        out.append((unsafe_class, path[::-1]))
    return out


def _unsafe(bits, state: str, entered_by_xr: bool) -> bool:
    """Reached through -(*R)->, only a write ENABLED bit makes the class unsafe."""
    return (state, False, False) in bits or (not entered_by_xr and (state, False, True) in bits)


def _inversion_finding(usage: UsageMap, state: str, path: list[Dependency]) -> Finding:
    safe_class, unsafe_class = path[0].prev, path[-1].next
    safe_bits, unsafe_bits = usage[safe_class], usage[unsafe_class]
    safe = safe_bits.get((state, True, False)) or safe_bits[(state, True, True)]
    unsafe = unsafe_bits.get((state, False, False)) or unsafe_bits[(state, False, True)]
    middle = path[0].next
    message = (f"{state}-safe `{safe_class}` {safe.bit} -> {state}-unsafe `{unsafe_class}` "
               f"{unsafe.bit}")
    if middle != unsafe_class:
        message += f" (chain exists of {safe_class} --> {middle} --> {unsafe_class})"
    links = ((_usage_link(safe, "safe"),) + tuple(dependency_link(d) for d in path)
             + (_usage_link(unsafe, "unsafe"),))
    locks = tuple(dict.fromkeys([safe.lock] + [n for d in path for n in (d.prev_lock, d.next_lock)]
                                + [unsafe.lock]))
    return Finding(
        "irq-inversion", message, user_span(path[-1].site), "graph", status=POTENTIAL,
        locks=locks, paths=tuple(sorted({safe.code, unsafe.code} | {d.code for d in path})),
        chain=links, unsafe_scenario=irq_scenario(safe_class, middle, unsafe_class),
        reason="an irq-safe to irq-unsafe dependency in the lock graph; no interleaving has "
               "decided it yet")
