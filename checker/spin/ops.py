"""Promela text for one unfolded control node: one IR op as one atomic step.

A node is written as `nK: atomic { GUARD -> ...; goto nJ }`. GUARD is what
makes the step enabled in docs/semantics.md: the thread's CPU lets it run,
and for an exclusive/read acquire or a `wait`, the lock or completion allows
it; for a grace period's or flush's `end`, nothing it waits for is left
(checker.spin.graces); for a `wait_event()` check, the thread is not asleep.
Ops whose successor the shared state decides (a trylock, a put, a shared
condition) become an `if` whose branches are exhaustive, so an atomic step
never blocks half-way.
"""
from __future__ import annotations

from checker.spin.unfold import DONE, Edge, Unfolded
from model import ir, walk


class NodeWriter:
    def __init__(self, writer, code_id: str, unfolded: Unfolded):
        self.writer = writer
        self.model = writer.model
        self.program = writer.program
        self.code_id = code_id
        self.code = self.program.codes[code_id]
        self.unfolded = unfolded
        self.graces = writer.graces
        self.cancellable = writer.graces.cancellable(code_id)
        self.interrupt = self.code.context.is_interrupt
        self.run = "top[cpu] == me" if self.interrupt else "top[cpu] == 0"

    def node(self, number: int) -> str:
        pc, local = self.unfolded.nodes[number]
        op = self.code.ops[pc]
        edges = self.unfolded.edges[number]
        alternatives = self.alternatives(number, op, local, edges)
        label = f"n{number}:"
        run = self.run
        if number == 0 and self.cancellable:
            run += " && status[me] == 1"       # not taken off the queue by a cancel
        if isinstance(op, ir.SleepUntil):
            run += " && sleeping[me] != 1"     # asleep until a wake-up
        if len(alternatives) == 1:
            guard, body = alternatives[0]
            head = run if guard == "true" else f"{run} && {guard}"
            return f"{label} atomic {{ ({head}) -> {body} }}"
        branches = " ".join(f":: {guard} -> {body}" for guard, body in alternatives)
        return f"{label} atomic {{ ({run}) -> if {branches} fi }}"

    # ------------------------------------------------------------- per op
    def alternatives(self, number: int, op: ir.Op, local: walk.ThreadState,
                     edges: tuple[Edge, ...]) -> list[tuple[str, str]]:
        by_choice = {edge.choice: edge for edge in edges}
        if isinstance(op, ir.Acquire):
            edge = edges[0]
            blocking = edge.outcome.acquired is not None and op.lock in self.model.lock_index
            guard = self.enabled(op.lock, op.mode) if blocking else "true"
            return [(guard, self.finish(number, edge))]
        if isinstance(op, ir.TryAcquire):
            if op.lock not in self.model.lock_index:
                return [("true", self.finish(number, by_choice[0]))]
            return [(self.enabled(op.lock, op.mode), self.finish(number, by_choice[0])),
                    ("else", self.finish(number, by_choice[1]))]
        if isinstance(op, ir.Branch):
            return self.branch(number, op, local, by_choice)
        if isinstance(op, ir.Choice):
            return [("true", self.finish(number, edge)) for edge in edges]
        if isinstance(op, ir.StateOp) and op.verb == "wait":
            return [(self.available(op.obj), self.state_op(op) + self.finish(number, edges[0]))]
        if isinstance(op, ir.StateOp):
            return [("true", self.state_op(op) + self.finish(number, edges[0]))]
        if isinstance(op, ir.Put):
            return self.put(number, op, by_choice)
        if isinstance(op, ir.TryState):
            return self.try_state(number, op, by_choice)
        if isinstance(op, ir.AddCallback):
            sig = self.value(op.fence)
            armed = self.writer.armed_var(f"{op.fence}:{op.code}")
            return [(f"{sig} == 0", f"{armed} = 1; " + self.finish(number, by_choice[0])),
                    ("else", self.finish(number, by_choice[1]))]
        if isinstance(op, ir.Spawn):
            return [("true", self.spawn(op) + self.finish(number, edges[0]))]
        if isinstance(op, ir.Grace) and op.phase == "begin":
            return [("true", self.graces.begin(op) + self.finish(number, edges[0]))]
        if isinstance(op, ir.Grace):
            return [(self.graces.idle(op), self.finish(number, edges[0]))]
        if isinstance(op, ir.SleepUntil):
            return self.sleep_until(number, op, local, edges[0])
        if isinstance(op, ir.Assert):
            return [("true", self.assertion(op, local) + self.finish(number, edges[0]))]
        return [("true", self.finish(number, edges[0]))]

    def enabled(self, lock: str, mode: ir.Mode) -> str:
        slot = self.model.lock_index[lock]
        mode = ir.Mode(mode)
        if mode is ir.Mode.WRITE:
            return f"(!lwr[{slot}] && lrd[{slot}] == 0)"
        if mode is ir.Mode.READ:
            return f"(!lwr[{slot}] && !(lrd[{slot}] > 0 && WW{slot}))"
        return f"(!lwr[{slot}])"

    def branch(self, number, op: ir.Branch, local, by_choice) -> list[tuple[str, str]]:
        if len(by_choice) == 1:
            edge = next(iter(by_choice.values()))
            return [("true", self.finish(number, edge))]
        expr = self.condition(op.cond, local)
        if expr is None:
            return [("true", self.finish(number, by_choice[0])),
                    ("true", self.finish(number, by_choice[1]))]
        return [(f"({expr})", self.finish(number, by_choice[0])),
                ("else", self.finish(number, by_choice[1]))]

    def sleep_until(self, number, op: ir.SleepUntil, local, edge) -> list[tuple[str, str]]:
        """A check: it passes, or the thread sleeps at this node until a wake-up."""
        queue = self.writer.queue_number(op.queue)
        passes = "sleeping[me] = 0; " + self.finish(number, edge)
        sleeps = f"sleeping[me] = 1; sleepq[me] = {queue}; goto n{number}"
        expr = self.condition(op.cond, local)
        if expr is None:
            return [("true", passes), ("true", sleeps)]
        return [(f"({expr})", passes), ("else", sleeps)]

    def put(self, number, op: ir.Put, by_choice) -> list[tuple[str, str]]:
        count = f"o_{op.obj}_count"
        fail = f"assert({_marker('refcount')}); " + self.finish(number, by_choice[1])
        return [(f"{count} <= 0", fail),
                (f"{count} == 1", f"{count} = 0; " + self.finish(number, by_choice[0])),
                ("else", f"{count} = {count} - 1; " + self.finish(number, by_choice[1]))]

    def try_state(self, number, op: ir.TryState, by_choice) -> list[tuple[str, str]]:
        base = f"o_{op.obj}"
        ok, fail = by_choice[0], by_choice[1]
        if op.verb == "get":
            freed = _if_freed(base, "use-after-free")
            return [(f"{base}_count > 0", freed + f"{base}_count = {base}_count + 1; "
                     + self.finish(number, ok)),
                    ("else", freed + self.finish(number, fail))]
        return [(self.available(op.obj), f"{base}_count = {base}_count - 1; "
                 + self.finish(number, ok)),
                ("else", self.finish(number, fail))]

    def available(self, obj: str) -> str:
        """semantics.completion_available as a Promela expression."""
        if self.program.objects[obj].kind != "completion":
            return f"{self.value(obj)} != 0"
        return f"({self.value(obj)} != 0 || o_{obj}_count > 0)"

    def assertion(self, op: ir.Assert, local) -> str:
        expr = self.condition(op.cond, local)
        if expr is None or expr == "true" or op.lockdep:
            return ""
        if expr == "false":
            return f"assert({_marker(op.finding)}); "
        return f"if :: !({expr}) -> assert({_marker(op.finding)}) :: else -> skip fi; "

    def spawn(self, op: ir.Spawn) -> str:
        target = self.program.codes[op.code]
        unfolded = self.writer.unfolded[op.code]
        proc = self.writer.proc[op.code]
        text = ("nthreads = nthreads + 1; " + self.graces.created(op.code, "nthreads")
                + self.graces.after_spawn(op, "nthreads"))
        if target.context.is_interrupt:
            return text + (f"tcpu[nthreads] = cpu; tirq[nthreads] = 1; "
                           f"run {proc}(nthreads, cpu); ")
        waitk, wlock, atw = unfolded.waits[0]
        entry = unfolded.nodes[0][1]
        return text + (f"tcpu[nthreads] = ncpus; ncpus = ncpus + 1; status[nthreads] = 1; "
                       f"waitk[nthreads] = {waitk}; wlock[nthreads] = {wlock}; "
                       f"atw[nthreads] = {atw}; "
                       f"hoff[tcpu[nthreads]] = hoff[tcpu[nthreads]] + {int(entry.hardirqs_off)}; "
                       f"boff[tcpu[nthreads]] = boff[tcpu[nthreads]] + "
                       f"{int(entry.softirq_off > 0)}; run {proc}(nthreads, tcpu[nthreads]); ")

    # ------------------------------------------------------------- objects
    def value(self, obj: str) -> str:
        return f"o_{obj}_value"

    def state_op(self, op: ir.StateOp) -> str:
        if op.verb == "disarm":
            return f"{self.writer.armed_var(op.obj)} = 0; "
        if op.verb == "wake_queue":
            queue = self.writer.queue_number(op.obj)
            return "".join(f"if :: sleeping[{t}] == 1 && sleepq[{t}] == {queue} -> "
                           f"sleeping[{t}] = 2 :: else -> skip fi; "
                           for t in range(1, self.writer.threads + 1))
        kind = self.program.objects[op.obj].kind
        base = f"o_{op.obj}"
        verb = op.verb
        if kind == "revocable":
            return _revocable(base, verb, op.obj)
        if kind == "memory":
            return _memory(base, verb)
        if kind == "pointer":                       # assign: the target's number
            return f"{base}_value = {op.value}; "
        if kind == "refcounted" and verb == "set_count":
            return _if_freed(base, "use-after-free", f"{base}_count = {op.value}")
        if kind == "refcounted":
            return _refcounted(base, verb)
        if kind == "completion":
            return _completion(base, verb)
        value = {"set": "1", "clear": "0", "inc": f"{base}_value + 1",
                 "dec": f"{base}_value - 1", "signal": "1", "reinit": "0"}.get(verb)
        return f"{base}_value = {value}; " if value is not None else ""

    def condition(self, cond: ir.Cond, local) -> str | None:
        """The condition as a Promela expression (thread-local parts are constants),
        or None if it is nondeterministic."""
        if isinstance(cond, ir.CConst):
            return "true" if cond.value else "false"
        if isinstance(cond, ir.CNot):
            inner = self.condition(cond.operand, local)
            return None if inner is None else {"true": "false", "false": "true"}.get(
                inner, f"!({inner})")
        if isinstance(cond, ir.COr):
            parts = [self.condition(o, local) for o in cond.operands]
            if None in parts:
                return None
            return "true" if "true" in parts else " || ".join(
                f"({p})" for p in parts if p != "false") or "false"
        if not isinstance(cond, ir.CPred):
            return None
        if cond.name in ir.THREAD_LOCAL_PREDICATES:
            value = walk.evaluate_local(cond, local, self.code.context, self.program)
            return None if value is None else "true" if value else "false"
        return self.shared(cond)

    def shared(self, cond: ir.CPred) -> str:
        name, args = cond.name, cond.args
        if name == "armed":
            return self.writer.armed_var(f"{args[0]}:{args[1]}")
        base = f"o_{args[0]}"
        kind = self.program.objects[str(args[0])].kind
        if name == "revoked":
            return f"{base}_revoked"
        if name in ("mapped", "attached"):
            return f"{base}_{name} > 0"
        if name == "freed":
            return f"{base}_freed"
        if name == "count":
            field = "count" if kind == "refcounted" else "value"
            return f"{base}_{field} {args[1]} {args[2]}"
        if name == "points_to":
            return f"{base}_value == {args[1]}"
        if name == "signalled":
            return self.available(str(args[0]))
        return f"{base}_value != 0"

    # ------------------------------------------------------------- the edge
    def finish(self, number: int, edge: Edge) -> str:
        """Everything an edge does besides the op's own effect, then the jump."""
        pc, local = self.unfolded.nodes[number]
        outcome = edge.outcome
        parts = []
        if number == 0 and self.cancellable:
            parts.append("begun[me] = 1;")
        if outcome.violation is not None:
            parts.append(f"assert({_marker(outcome.violation[0])});")
        parts += self.lock_effect(outcome)
        for obj in self.model.release_edges.get((self.code_id, pc, edge.choice), ()):
            parts.append(f"o_{obj}_freed = 1;")
        if edge.target == DONE:
            parts += self.graces.exit(self.code_id, number)
            parts += self.exit(local)
            parts.append("goto done")
            return " ".join(parts)
        target_local = self.unfolded.nodes[edge.target][1]
        parts += _irq_deltas(local, target_local)
        parts += self.graces.moved(self.code_id, number, edge.target)
        old, new = self.unfolded.waits[number], self.unfolded.waits[edge.target]
        for name, before, after in zip(("waitk", "wlock", "atw"), old, new):
            if before != after:
                parts.append(f"{name}[me] = {after};")
        parts.append(f"goto n{edge.target}")
        return " ".join(parts)

    def lock_effect(self, outcome) -> list[str]:
        entry = outcome.acquired or outcome.released
        if entry is None or entry.lock not in self.model.lock_index:
            return []
        slot = self.model.lock_index[entry.lock]
        if outcome.acquired is not None and entry.read == 0:
            ctx = int(entry.nest is not None
                      and self.program.locks[entry.lock].kind == "ww_mutex")
            return [f"lwr[{slot}] = 1; lctx[{slot}] = {ctx}; lown[{slot}] = me;"]
        if outcome.acquired is not None:
            return [f"lrd[{slot}] = lrd[{slot}] + 1;"]
        if entry.read == 0:
            return [f"lwr[{slot}] = 0; lctx[{slot}] = 0;"]
        return [f"lrd[{slot}] = lrd[{slot}] - 1;"]

    def exit(self, local: walk.ThreadState) -> list[str]:
        parts = ["status[me] = 2; waitk[me] = 0; atw[me] = 0;"]
        if local.hardirqs_off:
            parts.append("hoff[cpu] = hoff[cpu] - 1;")
        if local.softirq_off:
            parts.append("boff[cpu] = boff[cpu] - 1;")
        if self.interrupt:
            parts.append("top[cpu] = prev;")
        return parts


def _irq_deltas(before: walk.ThreadState, after: walk.ThreadState) -> list[str]:
    parts = []
    if before.hardirqs_off != after.hardirqs_off:
        parts.append(f"hoff[cpu] = hoff[cpu] {'+' if after.hardirqs_off else '-'} 1;")
    if bool(before.softirq_off) != bool(after.softirq_off):
        parts.append(f"boff[cpu] = boff[cpu] {'+' if after.softirq_off else '-'} 1;")
    return parts


def _marker(code: str) -> str:
    return "VIOLATION_" + code.replace("-", "_")


def _revocable(base: str, verb: str, name: str) -> str:
    if verb in ("map", "attach", "access"):
        effect = {"map": f"{base}_mapped = {base}_mapped + 1",
                  "attach": f"{base}_attached = {base}_attached + 1", "access": "skip"}[verb]
        return (f"if :: {base}_revoked -> assert({_marker('use-after-revoke')}) "
                f":: else -> {effect} fi; ")
    return {"unmap": f"{base}_mapped = 0; ",
            "detach": f"if :: {base}_attached > 0 -> {base}_attached = {base}_attached - 1 "
                      ":: else -> skip fi; ",
            "revoke": f"{base}_revoked = 1; ", "unrevoke": f"{base}_revoked = 0; "}.get(verb, "")


def _if_freed(base: str, code: str, otherwise: str = "skip") -> str:
    """The violation `code` when the object is freed, else `otherwise`."""
    return f"if :: {base}_freed -> assert({_marker(code)}) :: else -> {otherwise} fi; "


def _memory(base: str, verb: str) -> str:
    if verb == "access":
        return _if_freed(base, "use-after-free")
    if verb == "free":
        return _if_freed(base, "refcount", f"{base}_freed = 1")
    return f"{base}_freed = 0; " if verb == "alloc" else ""


def _completion(base: str, verb: str) -> str:
    """step._completion: the done-for-all bit and the count."""
    return {"signal_all": f"{base}_value = 1; ", "signal": f"{base}_count = {base}_count + 1; ",
            "wait": f"{base}_count = {base}_count - 1; ",
            "reinit": f"{base}_value = 0; {base}_count = 0; "}.get(verb, "")


def _refcounted(base: str, verb: str) -> str:
    if verb == "access":
        return _if_freed(base, "use-after-free")
    if verb == "get":
        return (f"if :: {base}_freed || {base}_count <= 0 -> "
                f"assert({_marker('use-after-free')}) "
                f":: else -> {base}_count = {base}_count + 1 fi; ")
    if verb == "free":
        return _if_freed(base, "refcount", f"{base}_freed = 1")
    return ""
