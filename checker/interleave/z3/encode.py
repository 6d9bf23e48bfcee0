"""The z3 encoding of a scenario: an event (timestamp) encoding, not a state unrolling.

Every node of every unfolded thread gets a boolean `ex` (it runs) and an
integer `time`. An interleaving is the order of the runs by the key
(time, thread, node): times only say which of two runs of different threads
comes first, and ties are broken by thread index, so two runs that no
constraint relates need no order at all (the encoding is itself a partial
order reduction: z3 never enumerates the orders of independent steps).
Every cross-thread comparison goes through `before`, which agrees with that
key, so any model sorts into a real interleaving.

Local nodes take the time of the step before them (they merge into it);
visible nodes get a time of their own. Each thread runs a path of its
unfolding from its start, and may stop anywhere: runs are prefix-closed,
which is what lets a violation be any executed event and a stuck state the
place every thread stopped.
"""
from __future__ import annotations

from dataclasses import dataclass

import z3

from checker.interleave.z3.terms import at_most, conj, disj, exactly, implies, negate
from checker.interleave.z3.threads import Node, Thread, Unfolded
from model import ir


@dataclass(frozen=True)
class Ev:
    """A point of the interleaving: a node's run, or a thread's start (`node == -1`).
    `time is None` is the very beginning (threads that run from the start)."""

    thread: int
    node: int
    time: object


@dataclass(frozen=True)
class Hold:
    """One acquisition of a contended lock, from its node until a release runs."""

    thread: int
    node: int
    lock: str
    write: bool                                  # an exclusive held entry
    ctx: bool                                    # a ww_mutex taken with an acquire context
    releases: tuple[tuple[int, int], ...]        # (node, choice) that drop it


def before(x: Ev, y: Ev):
    """x runs before y in the interleaving the model sorts into."""
    if x.thread == y.thread:
        return x.node < y.node
    if x.time is None:
        return True
    if y.time is None:
        return False
    return x.time <= y.time if x.thread < y.thread else x.time < y.time


class Encoding:
    """Variables and the structural constraints of every thread."""

    def __init__(self, unfolded: Unfolded, ctx: z3.Context | None = None):
        self.u = unfolded
        # Every term in a context of its own run: z3's process-wide context would make
        # a witness depend on whatever an earlier check in the process declared.
        self.ctx = ctx if ctx is not None else z3.Context()
        self.true = z3.BoolVal(True, self.ctx)
        self.program = unfolded.program
        self.facts: list = []
        self.ex: list[list[z3.BoolRef]] = []
        self.choice: list[list[dict[int, object]]] = []
        self.time: list[list[object]] = []
        self.started: list[object] = []
        self.start: list[Ev] = []
        for thread in unfolded.threads:
            self._declare(thread)
        for thread in unfolded.threads:
            self._structure(thread)
        self.holds = self._holds()

    # ------------------------------------------------------------ terms
    def conj(self, *items) -> z3.BoolRef:
        return conj(*items, ctx=self.ctx)

    def disj(self, *items) -> z3.BoolRef:
        return disj(*items, ctx=self.ctx)

    def negate(self, item) -> z3.BoolRef:
        return negate(item, ctx=self.ctx)

    def at_most(self, items: list, k: int) -> z3.BoolRef:
        """At most k of the items hold (z3.PbLe of no items has no context to go in)."""
        return at_most(items, k) if items else z3.BoolVal(k >= 0, self.ctx)

    # ------------------------------------------------------------ variables
    def _declare(self, thread: Thread) -> None:
        t, ctx = thread.index, self.ctx
        self.ex.append([z3.Bool(f"ex_{t}_{n.index}", ctx) for n in thread.nodes])
        self.choice.append([{o.choice: (z3.Bool(f"ch_{t}_{n.index}_{o.choice}", ctx)
                                        if len(n.outcomes) > 1 else self.true)
                             for o in n.outcomes} for n in thread.nodes])
        if thread.from_start:
            self.started.append(self.true)
            self.start.append(Ev(t, -1, None))
        else:
            self.started.append(z3.Bool(f"start_{t}", ctx))
            start_time = z3.Int(f"t_{t}_start", ctx)
            self.facts.append(start_time >= 0)
            self.start.append(Ev(t, -1, start_time))
        self.time.append([None] * len(thread.nodes))

    def ev(self, t: int, n: int) -> Ev:
        return Ev(t, n, self.time[t][n])

    def edge(self, t: int, n: int, choice: int):
        return self.conj(self.ex[t][n], self.choice[t][n][choice])

    def guard(self, t: int, n: int, choice: int | None):
        """The node runs (taking `choice`, if given)."""
        return self.ex[t][n] if choice is None else self.edge(t, n, choice)

    # ------------------------------------------------------------ structure
    def _structure(self, thread: Thread) -> None:
        t = thread.index
        facts = self.facts
        for node in thread.nodes:
            n = node.index
            self.time[t][n] = self._node_time(thread, node)
            facts.append(implies(self.ex[t][n], self.reach(t, n)))
            if len(node.outcomes) > 1:
                options = [self.choice[t][n][o.choice] for o in node.outcomes]
                facts.append(implies(self.ex[t][n], exactly(options, 1)))
        self._start_constraints(thread)

    def _node_time(self, thread: Thread, node: Node):
        t, n = thread.index, node.index
        sources = [(self.edge(t, u, c), self.time[t][u]) for u, c in node.preds]
        if n == thread.entry:
            start = self.start[t]
            sources.append((self.started[t], z3.IntVal(-1, self.ctx) if start.time is None
                            else start.time))
        if not node.visible and len(sources) == 1:
            return sources[0][1]
        time = z3.Int(f"t_{t}_{n}", self.ctx)
        for active, source in sources:
            relation = time >= source if node.visible else time == source
            self.facts.append(implies(self.conj(active, self.ex[t][n]), relation))
        if node.visible:
            self.facts.append(time >= 0)
        return time

    def reach(self, t: int, n: int):
        thread = self.u.threads[t]
        ways = [self.edge(t, u, c) for u, c in thread.nodes[n].preds]
        if n == thread.entry:
            ways.append(self.started[t])
        return self.disj(*ways)

    def stopped(self, t: int, n: int):
        """The thread is at node n and never runs it."""
        return self.conj(self.reach(t, n), self.negate(self.ex[t][n]))

    def arrived_before(self, t: int, n: int, x: Ev):
        thread = self.u.threads[t]
        ways = [self.conj(self.edge(t, u, c), before(self.ev(t, u), x))
                for u, c in thread.nodes[n].preds]
        if n == thread.entry:
            ways.append(self.conj(self.started[t], before(self.start[t], x)))
        return self.disj(*ways)

    def at(self, t: int, n: int, x: Ev):
        """At event x (of another thread), thread t is at node n: arrived, not yet run."""
        return self.conj(self.arrived_before(t, n, x),
                         self.disj(self.negate(self.ex[t][n]), before(x, self.ev(t, n))))

    def _start_constraints(self, thread: Thread) -> None:
        """Spawned threads start at their spawn step; interrupts start at most once,
        whenever they like (the CPU's irq state is a rule of checker.interleave.z3.rules)."""
        if thread.parent is None:
            return
        parent, op_index = thread.parent
        spawns = [node.index for node in self.u.threads[parent].nodes if node.op_index == op_index]
        spawned = self.disj(*(self.ex[parent][n] for n in spawns))
        start = self.start[thread.index]
        if not thread.interrupt:
            self.facts.append(self.started[thread.index] == spawned)
        else:
            self.facts.append(implies(self.started[thread.index], spawned))
        for n in spawns:
            runs = self.conj(self.ex[parent][n], self.started[thread.index])
            self.facts.append(implies(runs, before(self.ev(parent, n), start)))
            if not thread.interrupt:
                self.facts.append(implies(self.ex[parent][n],
                                          start.time == self.time[parent][n]))

    def exists(self, t: int):
        """The thread exists: a scenario thread, or its spawn step ran."""
        thread = self.u.threads[t]
        if thread.parent is None:
            return self.true
        parent, op_index = thread.parent
        return self.disj(*(self.ex[parent][n.index] for n in self.u.threads[parent].nodes
                           if n.op_index == op_index))

    def finished(self, t: int):
        return self.disj(*(self.ex[t][n.index] for n in self.u.threads[t].nodes
                           if isinstance(n.op, ir.Exit)))

    def finished_before(self, t: int, x: Ev):
        return self.disj(*(self.conj(self.ex[t][n.index], before(self.ev(t, n.index), x))
                           for n in self.u.threads[t].nodes if isinstance(n.op, ir.Exit)))

    # ------------------------------------------------------------ locks
    def _holds(self) -> dict[str, list[Hold]]:
        holds: dict[str, list[Hold]] = {}
        for thread in self.u.threads:
            releases: dict[int, list[tuple[int, int]]] = {}
            for node in thread.nodes:
                for o in node.outcomes:
                    if o.released is not None:
                        releases.setdefault(o.released, []).append((node.index, o.choice))
            for node in thread.nodes:
                op = node.op
                if not isinstance(op, (ir.Acquire, ir.TryAcquire)):
                    continue
                if op.lock not in self.u.contended or not node.outcome(0).acquired:
                    continue
                write = ir.Mode(op.mode) is ir.Mode.WRITE
                ctx = write and op.nest is not None and \
                    self.program.locks[op.lock].kind == "ww_mutex"
                holds.setdefault(op.lock, []).append(Hold(
                    thread.index, node.index, op.lock, write, ctx,
                    tuple(releases.get(node.index, ()))))
        return holds

    def acquired_before(self, hold: Hold, x: Ev):
        return self.conj(self.edge(hold.thread, hold.node, 0),
                         before(self.ev(hold.thread, hold.node), x))

    def active(self, hold: Hold, x: Ev):
        """The hold is in force at event x."""
        released = self.disj(*(self.conj(self.edge(hold.thread, r, c),
                                         before(self.ev(hold.thread, r), x))
                               for r, c in hold.releases))
        return self.conj(self.acquired_before(hold, x), self.negate(released))

    def active_at_end(self, hold: Hold):
        released = self.disj(*(self.edge(hold.thread, r, c) for r, c in hold.releases))
        return self.conj(self.edge(hold.thread, hold.node, 0), self.negate(released))

    def event_count(self) -> list:
        """Every run and every interrupt start, for a depth bound."""
        items = [ex for row in self.ex for ex in row]
        items += [self.started[t.index] for t in self.u.threads if t.interrupt]
        return items
