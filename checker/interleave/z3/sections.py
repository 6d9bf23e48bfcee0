"""Critical sections: what mutual exclusion already decides about the order of events.

Two events of different threads that both run inside sections of the same
contended lock, at least one of them exclusive, are ordered the way their
sections are: the sections cannot overlap (the lock rules of checker.interleave.z3.rules say
so), so "w before x" is "w's section was acquired before x's". And a
section that ran completely before x contributes its whole effect: if every
way through it adds the same amount d to a counter, that is one term
"d if it was acquired before x's section" instead of one term per write,
and none at all when d is 0 (take a reference and drop it, inc and dec).

Only the shared-object values use these facts; the lock rules that make
them true are stated without them, so nothing is assumed twice.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.interleave.z3.encode import Encoding, Ev, Hold, before
from checker.interleave.z3.threads import Thread


@dataclass(frozen=True)
class Section:
    hold: Hold
    start: Ev                                   # the acquiring node's run


class Sections:
    def __init__(self, enc: Encoding, effects):
        """`effects(thread, node)` lists a node's writes as (variable, effect, amount)."""
        self.enc = enc
        self.inside: dict[tuple[int, int], dict[str, Section]] = {}
        self.net: dict[tuple[int, int], dict[object, frozenset[int] | None]] = {}
        for lock, holds in sorted(enc.holds.items()):
            for hold in holds:
                section = Section(hold, enc.ev(hold.thread, hold.node))
                members = self._members(enc.u.threads[hold.thread], hold)
                for n in members:
                    self.inside.setdefault((hold.thread, n), {})[lock] = section
                self.net[(hold.thread, hold.node)] = _net_effects(
                    enc.u.threads[hold.thread], hold, members, effects)

    @staticmethod
    def _members(thread: Thread, hold: Hold) -> list[int]:
        """Nodes that run while the hold is in force (its release included)."""
        return [node.index for node in thread.nodes if hold.node in node.holds]

    def common(self, a: Ev, b: Ev) -> tuple[Section, Section] | None:
        """The sections of one contended lock that exclude each other, a's and b's."""
        if a.thread == b.thread or a.node < 0 or b.node < 0:
            return None
        mine = self.inside.get((a.thread, a.node))
        theirs = self.inside.get((b.thread, b.node))
        if not mine or not theirs:
            return None
        for lock in sorted(set(mine) & set(theirs)):
            first, second = mine[lock], theirs[lock]
            if first.hold.write or second.hold.write:
                return first, second
        return None

    def order(self, a: Ev, b: Ev):
        """before(a, b), through their sections when a lock orders them."""
        pair = self.common(a, b)
        if pair is None:
            return before(a, b)
        return before(pair[0].start, pair[1].start)

    def completed_net(self, section: Section, key) -> int | None:
        """The amount every complete pass through the section adds to `key`, if unique."""
        nets = self.net[(section.hold.thread, section.hold.node)].get(key, frozenset({0}))
        if nets is None or len(nets) != 1:
            return None
        return next(iter(nets))


def _net_effects(thread: Thread, hold: Hold, members: list[int], effects):
    """Per variable, the set of amounts a pass from acquire to release adds (None if
    a pass sets the variable, which is not a sum)."""
    inside = set(members)
    releases = {r for r, _ in hold.releases}
    # Paths start after the acquiring node and stay inside until a release runs.
    reach: dict[int, dict[object, frozenset[int] | None]] = {}
    start = thread.nodes[hold.node].outcome(0).target
    if start is None or start not in inside:
        return {}
    reach[start] = {}
    done: dict[object, frozenset[int] | None] = {}
    for n in sorted(inside):
        if n not in reach:
            continue
        here = _apply(reach[n], effects(thread.index, n))
        if n in releases:
            done = _merge(done, here)
            continue
        for o in thread.nodes[n].outcomes:
            if o.target is not None and o.target in inside:
                reach[o.target] = _merge(reach.get(o.target), here) if o.target in reach \
                    else here
    return done


def _apply(state, writes):
    out = dict(state)
    for key, effect, amount in writes:
        current = out.get(key, frozenset({0}))
        if effect != "add" or current is None:
            out[key] = None
        else:
            out[key] = frozenset(v + amount for v in current)
    return out


def _merge(a, b):
    if a is None:
        return dict(b)
    out = {}
    for key in set(a) | set(b):
        x, y = a.get(key, frozenset({0})), b.get(key, frozenset({0}))
        out[key] = None if x is None or y is None else x | y
    return out
