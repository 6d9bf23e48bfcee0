"""The rules of docs/semantics.md over the event encoding.

`Rules` adds, for every node that runs, what must hold when it runs (its
lock is free, the completion it waits for is signalled, no interrupt has its
CPU, the branch it takes is the one the state decides) and builds the
conditions the searches ask about: the violation each node can cause, and
the stuck states (every started thread finished, blocked, or preempted, and
no interrupt able to start).
"""
from __future__ import annotations

from dataclasses import dataclass

import z3

from checker.interleave.semantics import is_blocking_lock
from checker.interleave.z3.encode import Encoding, Ev, Hold, before
from checker.interleave.z3.graces import GraceRules
from checker.interleave.z3.state import Store
from checker.interleave.z3.terms import implies, term_truth
from checker.interleave.z3.threads import Node, Thread, cond_class, waiting_writer_op
from model import ir, walk


@dataclass(frozen=True)
class Hazard:
    """A violation a node can cause: `when` holds (besides the node running)."""

    thread: int
    node: int
    code: str
    site: ir.Site
    when: object


class Rules:
    def __init__(self, enc: Encoding):
        self.enc = enc
        self.u = enc.u
        self.program = enc.program
        self.store = Store(enc)
        self.graces = GraceRules(enc)
        # (thread, node) of a wait_event() -> (the time of its last check, asleep for good)
        self.sleeps: dict[tuple[int, int], tuple[z3.ArithRef, object]] = {}
        self.facts: list = []
        self.hazards: list[Hazard] = []
        self.gone: dict[int, object] = {}        # cancelled work: thread -> when
        for thread in self.u.threads:
            if thread.interrupt:
                self._interrupt_start(thread)
            if thread.code.id in self.u.cancelled:
                self.gone[thread.index] = self.graces.cancelled(thread)
                self.facts.append(implies(self.gone[thread.index],
                                          enc.negate(enc.ex[thread.index][thread.entry])))
            for node in thread.nodes:
                self._node(thread, node)

    # ------------------------------------------------------------ per node
    def _node(self, thread: Thread, node: Node) -> None:
        t, n = thread.index, node.index
        enc, op = self.enc, node.op
        runs = enc.ex[t][n]
        x = enc.ev(t, n)
        if node.visible:
            self.facts.append(implies(runs, self.may_run(thread, x)))
        if isinstance(op, ir.Acquire) and node.outcome(0).acquired:
            self.facts.append(implies(runs, self.acquire_enabled(thread, node, x)))
        elif isinstance(op, ir.TryAcquire) and len(node.outcomes) > 1:
            self.facts.append(implies(runs, enc.choice[t][n][0] ==
                                      self.acquire_enabled(thread, node, x)))
        elif isinstance(op, ir.StateOp) and op.verb == "wait":
            self.facts.append(implies(runs, self.store.available(op.obj, x)))
        elif isinstance(op, ir.Branch) and node.decided_by == "shared":
            self.facts.append(implies(runs, enc.choice[t][n][0] ==
                                      self.store.condition(op.cond, x)))
        elif isinstance(op, ir.Put):
            self.facts.append(implies(runs, enc.choice[t][n][0] ==
                                      (self.store.value((op.obj, 0), x) == 1)))
        elif isinstance(op, ir.TryState):
            self.facts.append(implies(runs, enc.choice[t][n][0] ==
                                      self.store.try_state_succeeds(op, x)))
        elif isinstance(op, ir.AddCallback):
            self.facts.append(implies(runs, enc.choice[t][n][0] ==
                                      enc.negate(self.store.truthy((op.fence, 0), x))))
        elif isinstance(op, ir.Grace) and op.phase == "end":
            self.facts.append(implies(runs, self.graces.over(thread, node, x)))
        elif isinstance(op, ir.SleepUntil):
            # A check may come whenever the thread likes: it passes where the
            # condition holds (earlier checks that failed only slept).
            self.facts.append(implies(runs, self.wait_condition(thread, node, x, True)))
        self._hazards(thread, node, x)

    def _hazards(self, thread: Thread, node: Node, x: Ev) -> None:
        t, n, op = thread.index, node.index, node.op
        for o in node.outcomes:
            if o.violation is not None:
                self.hazards.append(Hazard(t, n, o.violation[0], op.site,
                                           self.enc.choice[t][n][o.choice]))
        shared = self._shared_hazard(op, x)
        if shared is not None:
            self.hazards.append(Hazard(t, n, shared[0], op.site, shared[1]))

    def _shared_hazard(self, op: ir.Op, x: Ev):
        """checker/interleave/step.py's object errors, as conditions at x."""
        store = self.store
        if isinstance(op, ir.Assert) and cond_class(self.program, op.cond) == "shared":
            return op.finding, self.enc.negate(store.condition(op.cond, x))
        if isinstance(op, ir.Put):
            return "refcount", store.value((op.obj, 0), x) <= 0
        if isinstance(op, ir.TryState) and op.verb == "get":
            return "use-after-free", store.truthy((op.obj, 1), x)
        if not isinstance(op, ir.StateOp) or op.verb == "disarm":
            return None
        kind = self.program.objects[op.obj].kind
        verb = op.verb
        if kind == "revocable" and verb in ("map", "attach", "access"):
            return "use-after-revoke", store.truthy((op.obj, 0), x)
        if kind == "memory" and verb in ("access", "free"):
            code = "use-after-free" if verb == "access" else "refcount"
            return code, store.truthy((op.obj, 0), x)
        if kind == "refcounted" and verb in ("access", "get"):
            freed = store.truthy((op.obj, 1), x)
            if verb == "get":
                freed = self.enc.disj(freed, store.value((op.obj, 0), x) <= 0)
            return "use-after-free", freed
        if kind == "refcounted" and verb == "set_count":
            return "use-after-free", store.truthy((op.obj, 1), x)
        if kind == "refcounted" and verb == "free":
            return "refcount", store.truthy((op.obj, 1), x)
        return None

    # ------------------------------------------------------------ CPUs
    def interrupts_over(self, thread: Thread) -> list[Thread]:
        return [self.u.threads[i] for i in self.u.interrupt_cpus.get(thread.cpu, ())
                if i != thread.index]

    def running(self, irq: Thread, x: Ev):
        """Interrupt `irq` has started and not finished when x runs."""
        i, enc = irq.index, self.enc
        return enc.conj(enc.started[i], before(enc.start[i], x),
                        enc.negate(enc.finished_before(i, x)))

    def preempting(self, irq: Thread, thread: Thread, running):
        """`irq`, running, keeps `thread` off its CPU: it runs on top of it."""
        if not thread.interrupt:
            return running
        return self.enc.conj(running, self.enc.started[thread.index],
                             before(self.enc.start[thread.index], self.enc.start[irq.index]))

    def may_run(self, thread: Thread, x: Ev):
        enc = self.enc
        return enc.conj(*(enc.negate(self.preempting(irq, thread, self.running(irq, x)))
                          for irq in self.interrupts_over(thread)))

    def preempted_at_end(self, thread: Thread):
        enc = self.enc
        return enc.disj(*(self.preempting(irq, thread, enc.conj(
                              enc.started[irq.index], enc.negate(enc.finished(irq.index))))
                          for irq in self.interrupts_over(thread)))

    @staticmethod
    def masks(node: Node, irq: Thread) -> bool:
        """A thread at this node keeps interrupt `irq` from starting on its CPU."""
        state = node.pre
        return state.hardirqs_off or (irq.context is ir.Context.SOFTIRQ and state.softirq_off > 0)

    def _interrupt_start(self, irq: Thread) -> None:
        enc = self.enc
        start = enc.start[irq.index]
        blocked = [enc.at(other.index, node.index, start)
                   for other in self.u.others_on_cpu(irq) for node in other.nodes
                   if self.masks(node, irq)]
        if blocked:
            self.facts.append(implies(enc.started[irq.index], enc.negate(enc.disj(*blocked))))
        gate = self.graces.callback_may_start(irq, start)
        if term_truth(gate) != 1:
            self.facts.append(implies(enc.started[irq.index], gate))

    def cannot_start_at_end(self, irq: Thread):
        masked = [self.enc.stopped(other.index, node.index)
                  for other in self.u.others_on_cpu(irq) for node in other.nodes
                  if self.masks(node, irq)]
        return self.enc.disj(*masked, self.enc.negate(self.graces.callback_may_start(irq, None)))

    # ------------------------------------------------------------ locks
    def _own(self, node: Node, lock: str) -> tuple[bool, bool]:
        """(holds it exclusively, holds it for read) at this node."""
        entries = [h for h in node.pre.held if h.lock == lock]
        return any(h.read == 0 for h in entries), any(h.read != 0 for h in entries)

    def acquire_enabled(self, thread: Thread, node: Node, x: Ev | None):
        """checker.interleave.semantics.acquire_enabled when x runs (x None: at the end)."""
        op = node.op
        if not is_blocking_lock(self.program, op.lock):
            return z3.BoolVal(True, self.enc.ctx)
        own_write, own_read = self._own(node, op.lock)
        mode = ir.Mode(op.mode)
        if op.lock not in self.u.contended:
            free = not own_write and not (mode is ir.Mode.WRITE and own_read)
            return z3.BoolVal(free, self.enc.ctx)
        enc = self.enc
        others = [h for h in enc.holds.get(op.lock, ()) if h.thread != thread.index]
        writers = enc.disj(*(self._active(h, x) for h in others if h.write))
        readers = enc.disj(*(self._active(h, x) for h in others if not h.write))
        if mode is ir.Mode.WRITE:
            return enc.conj(not own_write and not own_read, enc.negate(writers),
                            enc.negate(readers))
        if mode is ir.Mode.RECURSIVE:
            return enc.conj(not own_write, enc.negate(writers))
        queued = enc.conj(enc.disj(own_read, readers), self.writer_waiting(op.lock, thread, x))
        return enc.conj(not own_write, enc.negate(writers), enc.negate(queued))

    def _active(self, hold: Hold, x: Ev | None):
        return self.enc.active_at_end(hold) if x is None else self.enc.active(hold, x)

    def writer_waiting(self, lock: str, reader: Thread, x: Ev | None):
        enc = self.enc
        waiting = []
        for other in self.u.threads:
            if other.index == reader.index:
                continue
            for node in other.nodes:
                if waiting_writer_op(self.u, node.op) and node.op.lock == lock:
                    waiting.append(enc.stopped(other.index, node.index) if x is None
                                   else enc.at(other.index, node.index, x))
        return self.enc.disj(*waiting)

    def blocked_at_end(self, thread: Thread, node: Node):
        op = node.op
        if isinstance(op, ir.Acquire) and node.outcome(0).acquired and is_blocking_lock(
                self.program, op.lock):
            return self.enc.negate(self.acquire_enabled(thread, node, None))
        if isinstance(op, ir.StateOp) and op.verb == "wait":
            return self.enc.negate(self.store.available(op.obj, None))
        if isinstance(op, ir.Grace) and op.phase == "end":
            return self.enc.negate(self.graces.over(thread, node, None))
        if isinstance(op, ir.SleepUntil):
            return self.asleep(thread, node)
        return z3.BoolVal(False, self.enc.ctx)

    def asleep(self, thread: Thread, node: Node):
        """The thread, stopped at a wait_event(), sleeps for good: it checked at some
        time `c` after it got there, found the condition false, and no wake-up of
        the queue came after (the time is the witness's sleep step)."""
        key = (thread.index, node.index)
        if key not in self.sleeps:
            check = z3.Int(f"sleep_{key[0]}_{key[1]}", self.enc.ctx)
            self.sleeps[key] = (check, self._asleep_at(thread, node, check))
        return self.sleeps[key][1]

    def _asleep_at(self, thread: Thread, node: Node, check):
        enc, t, n, op = self.enc, thread.index, node.index, node.op
        at = Ev(t, n, check)
        arrived = [implies(enc.edge(t, u, c), enc.time[t][u] <= check)
                   for u, c in node.preds]
        if n == thread.entry and enc.start[t].time is not None:
            arrived.append(enc.start[t].time <= check)
        woken = [enc.conj(enc.ex[w.index][m.index], before(at, enc.ev(w.index, m.index)))
                 for w in self.u.threads if w.index != t for m in w.nodes
                 if isinstance(m.op, ir.StateOp) and m.op.verb == "wake_queue"
                 and m.op.obj == op.queue]
        return enc.conj(check >= 0, *arrived,
                        enc.negate(self.wait_condition(thread, node, at, False)),
                        enc.negate(enc.disj(*woken)))

    def wait_condition(self, thread: Thread, node: Node, x: Ev, passing: bool):
        """A wait_event() condition at x. A thread-local one is fixed at the node; a
        nondeterministic one may pass, and may fail, at any check."""
        cond = node.op.cond
        kind = cond_class(self.program, cond)
        if kind == "nondet":
            return z3.BoolVal(passing, self.enc.ctx)
        if kind in ("const", "local"):
            value = walk.evaluate_local(cond, node.pre, thread.context, self.program)
            return z3.BoolVal(bool(value), self.enc.ctx)
        return self.store.condition(cond, x)

    def ww_context_waits(self, thread: Thread, node: Node) -> list[tuple[int, object]]:
        """semantics' wait-die relation: (owner thread, when) for each context that may
        own the ww_mutex this node waits for with a context at the end; the thread's
        own context counts (a 1-cycle). The stuck-state question orders the waits by
        age, so a cycle of them (one context backs off) is no stuck state."""
        op = node.op
        if not (isinstance(op, ir.Acquire) and op.nest is not None
                and self.program.locks[op.lock].kind == "ww_mutex"
                and node.outcome(0).acquired):
            return []
        waits: list[tuple[int, object]] = []
        if any(h.lock == op.lock and h.read == 0 and h.nest is not None for h in node.pre.held):
            waits.append((thread.index, z3.BoolVal(True, self.enc.ctx)))
        waits += [(h.thread, self.enc.active_at_end(h)) for h in self.enc.holds.get(op.lock, ())
                  if h.thread != thread.index and h.ctx]
        return waits
