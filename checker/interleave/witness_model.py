"""Reading a witness interleaving the way a reviewer does: who holds which lock when.

The engines describe each step in a small vocabulary (checker.interleave.simulate):
"acquire L", "acquire L (read)", "trylock L: ok", "release L", "<context>
starts" (with the note "interrupts the CPU" when it preempts a thread),
"revoke(obj)"; and a stuck end state in the finding's message ("t1#1 waits:
`B`, held by t2#1"). This module turns a witness into lock-ownership
intervals, interrupt and revoke markers and the blocking edges of a deadlock,
for the swimlane, the text listing and SARIF's threadFlow kinds. Without a
stated end state, a deadlock's blocking edges are read off its lock cycle and
the locks still held. A step outside the vocabulary is simply a step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from checker.findings import Finding, Step

ACQUIRE = re.compile(r"^(?:acquire|trylock) (?P<lock>[\w.$/-]+)"
                     r"(?P<mode> \((?:read|recursive read)\))?(?P<fail>: fails)?")
RELEASE = re.compile(r"^release (?P<lock>[\w.$/-]+)")
STARTS = re.compile(r"^(?P<context>\w+) starts$")
REVOKE = re.compile(r"^(?P<verb>revoke|unrevoke)\((?P<obj>[^)]*)\)")
# How the interleaving engine states a stuck end state in a finding's message:
# "every thread is blocked: t1#1 waits: `B`, held by t2#1; t3#1 waits: interrupted by irq#1".
WAITS = re.compile(r"(?P<thread>[\w.$-]+#\d+) waits: `(?P<lock>[^`]+)`"
                   r"(?: for (?:recursive )?read)?, held by (?P<holder>[\w.$-]+#\d+)")
PREEMPTED = re.compile(r"(?P<thread>[\w.$-]+#\d+) waits: interrupted by (?P<irq>[\w.$-]+#\d+)")
STUCK_CODES = ("deadlock", "hang")
INTERRUPT_CONTEXTS = {"hardirq", "hardirq_nothread", "softirq", "irq_work"}


@dataclass(frozen=True)
class Hold:
    """`thread` held `lock` from step `start` up to step `end` (1-based, inclusive)."""

    thread: str
    lock: str
    start: int
    end: int
    shared: bool
    released: bool          # False: still held when the witness ends


@dataclass(frozen=True)
class Block:
    """At step `step`, `thread` waits for `lock`, which `holder` holds."""

    step: int
    thread: str
    lock: str
    holder: str
    at_end: bool = False    # the state the witness ends in, not a step of its own


@dataclass
class WitnessModel:
    threads: list[tuple[str, int | None]]          # in order of first appearance
    holds: list[Hold] = field(default_factory=list)
    interrupts: dict[int, str] = field(default_factory=dict)   # step -> "hardirq starts"
    revokes: dict[int, str] = field(default_factory=dict)      # step -> "revoke(buf)"
    blocks: list[Block] = field(default_factory=list)
    kinds: dict[int, tuple[str, ...]] = field(default_factory=dict)
    preempted: dict[str, str] = field(default_factory=dict)   # thread -> the interrupt


def thread_order(witness: tuple[Step, ...]) -> list[tuple[str, int | None]]:
    seen: dict[str, int | None] = {}
    for step in witness:
        seen.setdefault(step.thread, step.cpu)
    return list(seen.items())


def analyse(finding: Finding) -> WitnessModel:
    model = WitnessModel(thread_order(finding.witness))
    open_holds: dict[tuple[str, str], tuple[int, bool]] = {}
    for number, step in enumerate(finding.witness, 1):
        _step(model, open_holds, number, step)
    last = len(finding.witness)
    for (thread, lock), (start, shared) in sorted(open_holds.items(), key=lambda i: i[1][0]):
        model.holds.append(Hold(thread, lock, start, last, shared, False))
    model.holds.sort(key=lambda h: (h.start, h.thread, h.lock))
    if (finding.code in STUCK_CODES or finding.end_state) and not model.blocks:
        stated = _stated_blocks(finding, model, last)
        model.blocks += stated or (_cycle_blocks(finding, model, last)
                                   if finding.code == "deadlock" else [])
    return model


def _stated_blocks(finding: Finding, model: WitnessModel, last: int) -> list[Block]:
    """The end state as the interleaving states it (a confirmed graph finding keeps
    it aside from its lockdep-style message), for threads the witness shows."""
    stated = finding.end_state or finding.message
    shown = {name for name, _ in model.threads}
    for match in PREEMPTED.finditer(stated):
        if match.group("thread") in shown:
            model.preempted[match.group("thread")] = match.group("irq")
    return [Block(last, m.group("thread"), m.group("lock"), m.group("holder"), at_end=True)
            for m in WAITS.finditer(stated)
            if m.group("thread") in shown and m.group("holder") in shown]


def _step(model: WitnessModel, open_holds: dict, number: int, step: Step) -> None:
    acquire, release = ACQUIRE.match(step.action), RELEASE.match(step.action)
    if acquire and not acquire.group("fail"):
        lock, shared = acquire.group("lock"), bool(acquire.group("mode"))
        holder = _conflicting_holder(open_holds, step.thread, lock, shared)
        if holder is not None:
            model.blocks.append(Block(number, step.thread, lock, holder))
        else:
            open_holds.setdefault((step.thread, lock), (number, shared))
        model.kinds[number] = ("acquire", "lock")
    elif release:
        start = open_holds.pop((step.thread, release.group("lock")), None)
        if start is not None:
            model.holds.append(Hold(step.thread, release.group("lock"), start[0], number,
                                    start[1], True))
        model.kinds[number] = ("release", "lock")
    elif STARTS.match(step.action):
        context = STARTS.match(step.action).group("context")
        if context in INTERRUPT_CONTEXTS or "interrupt" in step.note:
            model.interrupts[number] = step.action
            model.kinds[number] = ("enter", "handler")
        else:
            model.kinds[number] = ("enter",)
    elif REVOKE.match(step.action):
        model.revokes[number] = step.action
        model.kinds[number] = ("resource",)


def _conflicting_holder(open_holds: dict, thread: str, lock: str, shared: bool) -> str | None:
    for (holder, held), (_, held_shared) in sorted(open_holds.items()):
        if held == lock and holder != thread and not (shared and held_shared):
            return holder
    return None


def _cycle_blocks(finding: Finding, model: WitnessModel, last: int) -> list[Block]:
    """At a deadlock every thread holding a lock of the cycle waits for the next one."""
    locks = list(finding.locks)
    if len(locks) < 2 or model.blocks:
        return []
    still_held = {h.lock: h.thread for h in model.holds if not h.released}
    blocks = []
    for index, lock in enumerate(locks):
        wanted = locks[(index + 1) % len(locks)]
        thread, holder = still_held.get(lock), still_held.get(wanted)
        if thread and holder and thread != holder:
            blocks.append(Block(last, thread, wanted, holder, at_end=True))
    return blocks
