"""Shared objects in the event encoding: the value a field has when an event runs.

Each field of each object (and each `fence:callback` armed bit) is a
variable written by events: a write *sets* a value, *adds* to it, or takes
one away without going below zero (`detach`). The value an event sees is
what the writes that ran before it leave, read off the interleaving order
instead of being threaded through states:

- only sets: the latest set before the event (for 0/1 fields, "some 1 with
  no 0 after it");
- only adds: the initial value plus every add before the event;
- sets and adds: the latest set plus the adds after it;
- adds and floored subtractions: the largest suffix sum (a floor at 0
  forgets everything before the last time it was hit).

The effects mirror checker/interleave/step.py's tables verb by verb.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import z3

from checker.interleave.semantics import initial_object
from checker.interleave.z3.encode import Encoding, Ev, before
from checker.interleave.z3.sections import Sections
from checker.interleave.z3.terms import implies, term_truth
from checker.interleave.z3.threads import Unfolded, cond_class, field_of
from model import ir

# (object kind, verb) -> (field index, effect, amount); "*" applies to any kind the
# table does not list, as checker.interleave.step's fallback does.
EFFECTS = {
    ("revocable", "map"): (1, "add", 1), ("revocable", "attach"): (2, "add", 1),
    ("revocable", "unmap"): (1, "set", 0), ("revocable", "detach"): (2, "floor", -1),
    ("revocable", "revoke"): (0, "set", 1), ("revocable", "unrevoke"): (0, "set", 0),
    ("revocable", "access"): None,
    ("memory", "free"): (0, "set", 1), ("memory", "alloc"): (0, "set", 0),
    ("memory", "access"): None,
    ("refcounted", "get"): (0, "add", 1), ("refcounted", "free"): (1, "set", 1),
    ("refcounted", "access"): None,
    ("*", "set"): (0, "set", 1), ("*", "clear"): (0, "set", 0),
    ("*", "inc"): (0, "add", 1), ("*", "dec"): (0, "add", -1),
    ("*", "signal"): (0, "set", 1), ("*", "reinit"): (0, "set", 0), ("*", "wait"): None,
    # A completion's count (field 1): complete() adds one, a wait takes one away;
    # complete_all() sets its done-for-all bit (field 0).
    ("completion", "signal"): (1, "add", 1), ("completion", "wait"): (1, "add", -1),
    ("completion", "signal_all"): (0, "set", 1),
}
# Verbs that write a second field too: reinit_completion() zeroes the count as well.
MORE_EFFECTS = {("completion", "reinit"): (1, "set", 0)}


def effect_of(kind: str, verb: str):
    if (kind, verb) in EFFECTS:
        return EFFECTS[(kind, verb)]
    return EFFECTS.get(("*", verb))


@dataclass(frozen=True)
class Write:
    at: Ev
    guard: object                # the write happens (its node runs, on the right choice)
    effect: str                  # "set", "add" or "floor"
    amount: int
    # Written on one successor of its node only (a TryState that succeeds): not
    # implied by its node running, so neither summarised per section nor used as
    # a dominating write.
    per_choice: bool = False


@dataclass
class Variable:
    init: int
    writes: list[Write] = field(default_factory=list)


class Store:
    """The shared objects of one encoding and the value of each at any event."""

    def __init__(self, enc: Encoding):
        self.enc = enc
        self.program = enc.program
        self.vars: dict[tuple[str, object], Variable] = {}
        for name, obj in sorted(self.program.objects.items()):
            for index, value in enumerate(initial_object(obj)):
                self.vars[(name, index)] = Variable(value)
        self._collect(enc.u)
        self.writes_at: dict[tuple[int, int], list] = {}
        for key, var in self.vars.items():
            for w in var.writes:
                self.writes_at.setdefault((w.at.thread, w.at.node), []).append(
                    (key, "per-choice" if w.per_choice else w.effect, w.amount))
        self.sections = Sections(enc, lambda t, n: self.writes_at.get((t, n), ()))
        self.dominators = [_dominator_tree(thread) for thread in enc.u.threads]
        self.earlier = _dominating_writes(enc.u, self.vars, self.dominators)
        self.facts: list = []
        self._indicators: dict[int, z3.ArithRef] = {}

    def var(self, key) -> Variable:
        if key not in self.vars:                 # an armed bit: "fence:callback"
            self.vars[key] = Variable(0)
        return self.vars[key]

    def _collect(self, unfolded: Unfolded) -> None:
        enc = self.enc
        for thread in unfolded.threads:
            t = thread.index
            for node in thread.nodes:
                op, at = node.op, enc.ev(t, node.index)
                if isinstance(op, ir.StateOp):
                    self._state_op(op, at, enc.ex[t][node.index])
                elif isinstance(op, ir.Put):
                    self.var((op.obj, 0)).writes.append(Write(at, enc.ex[t][node.index], "add", -1))
                elif isinstance(op, ir.TryState):
                    self._try_state(op, at, enc.edge(t, node.index, 0))
                elif isinstance(op, ir.AddCallback):
                    self.var((f"{op.fence}:{op.code}", "armed")).writes.append(
                        Write(at, enc.edge(t, node.index, 0), "set", 1))
                for o in node.outcomes:
                    for obj in unfolded.release_edges.get((thread.code.id, node.op_index,
                                                           o.choice), ()):
                        self.var((obj, 1)).writes.append(
                            Write(at, enc.edge(t, node.index, o.choice), "set", 1))

    def _try_state(self, op: ir.TryState, at: Ev, ok) -> None:
        """A reference taken, or a completion consumed, on the `ok` edge only."""
        field, amount = (0, 1) if op.verb == "get" else (1, -1)
        self.var((op.obj, field)).writes.append(Write(at, ok, "add", amount, per_choice=True))

    def _state_op(self, op: ir.StateOp, at: Ev, guard) -> None:
        if op.verb == "disarm":
            self.var((op.obj, "armed")).writes.append(Write(at, guard, "set", 0))
            return
        if op.verb in ("set_count", "assign"):
            self.var((op.obj, 0)).writes.append(Write(at, guard, "set", op.value))
            return
        kind = self.program.objects[op.obj].kind
        for effect in (effect_of(kind, op.verb), MORE_EFFECTS.get((kind, op.verb))):
            if effect is not None:
                index, how, amount = effect
                self.var((op.obj, index)).writes.append(Write(at, guard, how, amount))

    # ------------------------------------------------------------ values
    def value(self, key, x: Ev | None):
        """The integer value of a variable when event x runs (x None: at the end)."""
        var = self.var(key)
        ran = [(w, self._ran_before(w, x)) for w in var.writes]
        ran = [(w, r) for w, r in ran if term_truth(r) != -1]
        kinds = {w.effect for w, _ in ran}
        if not ran:
            return z3.IntVal(var.init, self.enc.ctx)
        if kinds == {"set"}:
            return self._latest_set(var, ran)
        if kinds == {"add"}:
            return var.init + self._added(key, ran, x)
        if "floor" in kinds:
            return self._floored(var, ran)
        return self._sets_and_adds(key, var, ran, x)

    def truthy(self, key, x: Ev | None):
        """value != 0, with a cheaper form for fields only ever set to 0 or 1."""
        var = self.var(key)
        ran = [(w, self._ran_before(w, x)) for w in var.writes]
        ran = [(w, r) for w, r in ran if term_truth(r) != -1]
        if ran and all(w.effect == "set" and w.amount in (0, 1) for w, _ in ran) \
                and var.init in (0, 1):
            return self._latest_is_one(var, ran)
        return self.value(key, x) != 0

    def try_state_succeeds(self, op: ir.TryState, x: Ev | None):
        """semantics.try_state_succeeds when x runs."""
        if op.verb == "get":
            return self.value((op.obj, 0), x) > 0
        return self.available(op.obj, x)

    def available(self, obj: str, x: Ev | None):
        """semantics.completion_available: done for all, or a count left."""
        done_all = self.truthy((obj, 0), x)
        if self.program.objects[obj].kind != "completion":
            return done_all
        return self.enc.disj(done_all, self.value((obj, 1), x) > 0)

    def _ran_before(self, write: Write, x: Ev | None):
        if x is None:
            return write.guard
        return self.enc.conj(write.guard, self.sections.order(write.at, x))

    def _added(self, key, adds, x: Ev | None, after: Ev | None = None):
        """The sum of the adds that ran before x (and after `after`). Writes in a section
        that excludes x's count as the section's net amount, once it is done."""
        lock = self._summary_lock(x) if after is None else None
        terms, sections, ran_by = [], {}, {}
        for w, r in adds:
            pair = self.sections.common(w.at, x) if lock is not None else None
            if pair is not None and pair[0].hold.lock == lock:
                net = self.sections.completed_net(pair[0], key)
                if net is not None:
                    sections[(pair[0].hold.thread, pair[0].hold.node)] = (pair, net)
                    continue
            ran = r if after is None else self.enc.conj(r, self.sections.order(after, w.at))
            terms.append(w.amount * self.indicator(ran))
            if after is None:
                ran_by[id(w)] = ran
        # A write that ran before x means the write of its thread every path to it
        # passes through ran before x too: said outright, it spares the solver
        # rediscovering program order inside every sum.
        for w, ran in ((w, ran_by[id(w)]) for w, _ in adds if id(w) in ran_by):
            first = self.earlier.get(id(w))
            if first is not None and id(first) in ran_by:
                self._implies(ran, ran_by[id(first)])
        done_by = {}
        for key_, ((theirs, mine), net) in sections.items():
            if net:
                done = self.enc.conj(self.enc.edge(theirs.hold.thread, theirs.hold.node, 0),
                                     before(theirs.start, mine.start))
                terms.append(net * self.indicator(done))
                done_by[key_] = done
        for (t, n), done in done_by.items():
            earlier = self._nearest(t, n, {m for u, m in done_by if u == t})
            if earlier is not None:
                self._implies(done, done_by[(t, earlier)])
        return z3.Sum(terms) if terms else z3.IntVal(0, self.enc.ctx)

    def indicator(self, condition) -> z3.ArithRef:
        """A 0/1 integer equal to the condition, so sums of conditions are linear terms
        the arithmetic solver bounds directly instead of case-splitting if-then-elses."""
        if term_truth(condition) == 1:
            return z3.IntVal(1, self.enc.ctx)
        if term_truth(condition) == -1:
            return z3.IntVal(0, self.enc.ctx)
        key = condition.get_id()
        found = self._indicators.get(key)
        if found is None:
            found = z3.Int(f"ind_{len(self._indicators)}", self.enc.ctx)
            self._indicators[key] = found
            self.facts.append(z3.And(found >= 0, found <= 1, (found == 1) == condition))
        return found

    def _implies(self, later, earlier) -> None:
        self.facts.append(implies(later, earlier))
        self.facts.append(self.indicator(later) <= self.indicator(earlier))

    def _nearest(self, thread: int, node: int, among: set[int]) -> int | None:
        """The nearest node of `among` that every path to `node` runs first."""
        tree = self.dominators[thread]
        up = tree.get(node, node)
        while up != node:
            if up in among:
                return up
            node, up = up, tree.get(up, up)
        return None

    def _summary_lock(self, x: Ev | None) -> str | None:
        if x is None or x.node < 0:
            return None
        mine = self.sections.inside.get((x.thread, x.node))
        return min(mine) if mine else None

    def _latest_is_one(self, var: Variable, ran):
        ones = [(w, r) for w, r in ran if w.amount == 1]
        zeros = [(w, r) for w, r in ran if w.amount == 0]
        enc = self.enc

        def no_zero_after(w):
            return enc.conj(*(enc.negate(enc.conj(r0, self.sections.order(w.at, w0.at)))
                              for w0, r0 in zeros))

        cases = [enc.conj(r, no_zero_after(w)) for w, r in ones]
        if var.init == 1:
            cases.append(enc.conj(*(enc.negate(r0) for _, r0 in zeros)))
        return enc.disj(*cases)

    def _latest_set(self, var: Variable, ran):
        enc = self.enc
        result = z3.IntVal(var.init, enc.ctx)
        for w, r in ran:
            later = enc.disj(*(enc.conj(r2, self.sections.order(w.at, w2.at))
                               for w2, r2 in ran if w2 is not w))
            result = z3.If(enc.conj(r, enc.negate(later)), z3.IntVal(w.amount, enc.ctx), result)
        return result

    def _sets_and_adds(self, key, var: Variable, ran, x: Ev | None):
        sets = [(w, r) for w, r in ran if w.effect == "set"]
        adds = [(w, r) for w, r in ran if w.effect == "add"]
        order, enc = self.sections.order, self.enc
        result = var.init + self._added(key, adds, x)
        for w, r in sets:
            later = enc.disj(*(enc.conj(r2, order(w.at, w2.at)) for w2, r2 in sets if w2 is not w))
            result = z3.If(enc.conj(r, enc.negate(later)),
                           w.amount + self._added(key, adds, x, w.at), result)
        return result

    def _floored(self, var: Variable, ran):
        """max(0, ...) after every floored step: the value is the largest of the full
        sum (from the initial value) and of every sum after a write (the floor may have
        cleared everything up to it). Sets do not mix with floors in the semantics."""
        enc = self.enc

        def total(after: Ev | None, base: int):
            terms = [z3.If(enc.conj(r, True if after is None else self.sections.order(after, w.at)),
                           z3.IntVal(w.amount, enc.ctx), z3.IntVal(0, enc.ctx)) for w, r in ran]
            return base + z3.Sum(terms)

        best = total(None, var.init)
        for w, r in ran:
            candidate = z3.If(r, total(w.at, 0), z3.IntVal(0, enc.ctx))
            best = z3.If(candidate > best, candidate, best)
        return z3.If(best > 0, best, z3.IntVal(0, enc.ctx))

    # ------------------------------------------------------------ conditions
    def condition(self, cond: ir.Cond, x: Ev | None):
        """A shared condition's value when event x runs."""
        if isinstance(cond, ir.CNot):
            return self.enc.negate(self.condition(cond.operand, x))
        if isinstance(cond, ir.COr):
            return self.enc.disj(*(self.condition(o, x) for o in cond.operands))
        if isinstance(cond, ir.CConst):
            return z3.BoolVal(cond.value, self.enc.ctx)
        assert isinstance(cond, ir.CPred) and cond_class(self.program, cond) == "shared"
        name, args = cond.name, cond.args
        if name == "armed":
            return self.truthy((f"{args[0]}:{args[1]}", "armed"), x)
        obj = str(args[0])
        key = (obj, field_of(self.program, name, obj))
        if name == "count":
            return _compare(self.value(key, x), str(args[1]), int(args[2]))
        if name == "points_to":
            return self.value(key, x) == int(args[1])
        if name in ("mapped", "attached"):
            return self.value(key, x) > 0
        if name == "signalled":
            return self.available(obj, x)
        return self.truthy(key, x)


def _compare(left, op: str, right: int):
    return {"==": left == right, "!=": left != right, "<": left < right,
            ">": left > right, "<=": left <= right, ">=": left >= right}[op]


def _dominator_tree(thread) -> dict[int, int]:
    graph = nx.DiGraph()
    graph.add_nodes_from(n.index for n in thread.nodes)
    graph.add_edges_from((n.index, o.target) for n in thread.nodes for o in n.outcomes
                         if o.target is not None)
    return nx.immediate_dominators(graph, thread.entry)


def _dominating_writes(unfolded: Unfolded, variables, trees) -> dict[int, Write]:
    """For each write, the nearest write of the same variable by its own thread that
    every path to it runs first (a dominator in the unfolded code)."""
    out: dict[int, Write] = {}
    for thread in unfolded.threads:
        dominators = trees[thread.index]
        for var in variables.values():
            mine = {w.at.node: w for w in var.writes
                    if w.at.thread == thread.index and not w.per_choice}
            for node, write in mine.items():
                up = dominators.get(node, node)
                while up != node and up not in mine:
                    node, up = up, dominators.get(up, up)
                if up in mine and up != write.at.node:
                    out[id(write)] = mine[up]
    return out
