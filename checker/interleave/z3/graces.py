"""Grace periods and flushes over the event encoding.

A grace period's or flush's `end` node may run at x2 once everything under
way at its `begin` node's run x1 is over (checker.interleave.semantics says
the same over states):

- a grace period: every other thread that was at a node inside a read
  section of the domain at x1 has arrived at a node outside one, or
  finished, before x2 (its first such node on every way out, so a later
  re-entry does not count twice); a thread that begins inside one waits for
  itself and never ends;
- a flush: every instance of the work spawned before x1 has finished
  before x2;
- a cancel: the same for the instances whose first node ran before x1;
  the others, spawned before x1, are `cancelled` and run no node at all;
- an RCU callback (call_rcu, kfree_rcu) may start at x2 once the grace
  period from its spawn x1 is over.

Each `end` node has one predecessor, its `begin` node (the unfolding keys a
node by its op and local state, and a grace op changes neither).
"""
from __future__ import annotations

from checker.interleave.z3.encode import Encoding, Ev, before
from checker.interleave.z3.threads import Node, Thread
from model import ir
from model.grace import in_read_section, waits_for_instance


class GraceRules:
    def __init__(self, enc: Encoding):
        self.enc = enc
        self.program = enc.program
        self._exits: dict[tuple[int, str, int], list[int]] = {}

    def over(self, thread: Thread, node: Node, x2: Ev | None):
        """The grace period or flush ending at `node` is over at x2 (None: at the end)."""
        (begin, _), = node.preds
        x1 = self.enc.ev(thread.index, begin)
        op = node.op
        if op.what == "readers":
            if self.reader(thread, thread.nodes[begin], op.target):
                return self.enc.conj(False)            # it waits for itself
            return self._readers_left({thread.index}, op.target, x1, x2)
        return self._instances_finished(op, x1, x2)

    def callback_may_start(self, thread: Thread, x2: Ev | None):
        """An RCU callback (spawned after a grace period) may start at x2: the grace
        period from its spawn is over."""
        if thread.parent is None:
            return self.enc.true
        parent, op_index = thread.parent
        domain = self.enc.u.threads[parent].code.ops[op_index].after_grace
        if domain is None:
            return self.enc.true
        enc = self.enc
        spawner = enc.u.threads[parent]
        facts = []
        for node in spawner.nodes:
            if node.op_index != op_index:
                continue
            # The spawner is at its own event at x1: it is waited for if it is a reader
            # there, and then until it has left.
            own = self._left(spawner, node, domain, x2) if self.reader(spawner, node, domain) \
                else enc.true
            others = self._readers_left({thread.index, parent}, domain,
                                        enc.ev(parent, node.index), x2)
            facts.append(enc.disj(enc.negate(enc.ex[parent][node.index]),
                                  enc.conj(own, others)))
        return enc.conj(*facts)

    # ------------------------------------------------------------ grace periods
    def reader(self, thread: Thread, node: Node, domain: str) -> bool:
        return in_read_section(self.program, domain, node.pre, thread.context)

    def _readers_left(self, excluded: set[int], domain: str, x1: Ev, x2):
        enc = self.enc
        facts = []
        for other in enc.u.threads:
            if other.index in excluded:
                continue
            for node in other.nodes:
                if self.reader(other, node, domain):
                    facts.append(enc.disj(enc.negate(enc.at(other.index, node.index, x1)),
                                          self._left(other, node, domain, x2)))
        return enc.conj(*facts)

    def _left(self, thread: Thread, node: Node, domain: str, x2):
        """The thread, inside a read section at `node`, has left it by x2."""
        enc, t = self.enc, thread.index
        ways = [enc.reach(t, m) if x2 is None else enc.arrived_before(t, m, x2)
                for m in self._exits_from(thread, node, domain)]
        ways.append(enc.finished(t) if x2 is None else enc.finished_before(t, x2))
        return enc.disj(*ways)

    def _exits_from(self, thread: Thread, node: Node, domain: str) -> list[int]:
        """The first nodes outside a read section on every way on from `node`."""
        key = (thread.index, domain, node.index)
        if key not in self._exits:
            seen, stack, out = {node.index}, [node.index], []
            while stack:
                current = thread.nodes[stack.pop()]
                for o in current.outcomes:
                    if o.target is None or o.target in seen:
                        continue
                    seen.add(o.target)
                    if self.reader(thread, thread.nodes[o.target], domain):
                        stack.append(o.target)
                    else:
                        out.append(o.target)
            self._exits[key] = sorted(out)
        return self._exits[key]

    # ------------------------------------------------------------ flushes
    def _instances_finished(self, op: ir.Grace, x1: Ev, x2):
        """A cancel waits only for the instances already running at x1 (the queued
        ones it took off the queue never run: `cancelled`)."""
        enc = self.enc
        facts = []
        for other in enc.u.threads:
            if not waits_for_instance(op.what, op.target, other.code):
                continue
            done = enc.finished(other.index) if x2 is None else \
                enc.finished_before(other.index, x2)
            if other.code.id in enc.u.cancelled:
                done = enc.disj(done, self.cancelled(other, x2))
            waited = self._spawned_before(other, x1)
            if op.what == "cancel":
                waited = enc.conj(waited, self._running_before(other, x1))
            facts.append(enc.disj(enc.negate(waited), done))
        return enc.conj(*facts)

    def cancelled(self, thread: Thread, x: Ev | None = None):
        """A cancel took this instance off the queue (before x, if given): it was
        queued, and had not begun to run, when some cancel of its work began."""
        enc = self.enc
        ways = []
        for other in enc.u.threads:
            for node in other.nodes:
                op = node.op
                if isinstance(op, ir.Grace) and op.what == "cancel" and op.phase == "begin" \
                        and waits_for_instance(op.what, op.target, thread.code) \
                        and other.index != thread.index:
                    x1 = enc.ev(other.index, node.index)
                    ways.append(enc.conj(enc.ex[other.index][node.index],
                                         True if x is None else before(x1, x),
                                         self._spawned_before(thread, x1),
                                         enc.negate(self._running_before(thread, x1))))
        return enc.disj(*ways)

    def _running_before(self, thread: Thread, x1: Ev):
        enc, t = self.enc, thread.index
        return enc.conj(enc.ex[t][thread.entry], before(enc.ev(t, thread.entry), x1))

    def _spawned_before(self, thread: Thread, x1: Ev):
        enc = self.enc
        if thread.parent is None:
            return enc.true
        parent, op_index = thread.parent
        return enc.disj(*(enc.conj(enc.ex[parent][n.index], before(enc.ev(parent, n.index), x1))
                          for n in enc.u.threads[parent].nodes if n.op_index == op_index))
