"""The threads of a scenario, unfolded for the z3 encoding.

Every thread that can exist in an interleaving is listed up front: the
scenario's threads and, for each `Spawn` op of a listed thread, the thread
that op would start (a *potential* thread; it runs only if its spawn step
executes). Each thread's code is unfolded over its thread-local state with
the reference semantics' own `local_effect`, so every node of the unfolding
has one fixed local state: the locks it holds (and which node acquired
each), irq and bh depths, GFP scopes and cookies. What is left for z3 is
what threads share: lock owners, objects, and the order of visible steps.

A node is *visible* when another thread can observe or be affected by when
it runs (docs/semantics.md, "Visible and local steps"); local nodes run at
the time of the step before them, which is what keeps z3's questions small.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from checker.interleave.semantics import (MAX_THREADS, OBJECT_FIELDS, ThreadSpec, build_model,
                                          is_blocking_lock)
from checker.interleave.step import local_effect
from model import ir, walk
from model.grace import cancelled_codes, flushed_codes, grace_domains, in_read_section

MAX_NODES_PER_THREAD = 40_000

# Predicates read from an object's state tuple, with the field they read
# (checker.interleave.semantics.shared_predicate).
PREDICATE_FIELDS = {"revoked": "revoked", "mapped": "mapped", "attached": "attached",
                    "flag": 0, "signalled": 0, "count": 0, "points_to": 0}


class UnfoldLimit(Exception):
    """The scenario is too big to unfold (threads or local states)."""


@dataclass(frozen=True)
class Outcome:
    """One successor of a node: the choice index of `ir.successors`, where it leads
    (None: the run ends there, at an Exit or a thread-local violation)."""

    choice: int
    target: int | None
    local: walk.ThreadState
    violation: tuple[str, str] | None = None     # thread-local (code, message)
    acquired: bool = False                       # adds a held entry (its hold id is the node)
    released: int | None = None                  # the node whose held entry this removes


@dataclass
class Node:
    index: int                                   # topological position in its thread
    op_index: int
    op: ir.Op
    pre: walk.ThreadState
    holds: tuple[int, ...]                       # acquiring node of each entry of pre.held
    outcomes: tuple[Outcome, ...] = ()
    decided_by: str = "fixed"                    # "fixed", "free" (nondeterministic), "shared"
    preds: list[tuple[int, int]] = field(default_factory=list)   # (node, choice) edges in
    visible: bool = True

    def outcome(self, choice: int) -> Outcome:
        return next(o for o in self.outcomes if o.choice == choice)


@dataclass
class Thread:
    index: int
    code: ir.Code
    context: ir.Context
    cpu: int                                     # a CPU identity (spawned work gets a fresh one)
    spec: ThreadSpec | None                      # scenario threads only
    parent: tuple[int, int] | None               # (thread, Spawn op index) for spawned threads
    nodes: list[Node]
    entry: int = 0
    children: dict[int, int] = field(default_factory=dict)   # Spawn op index -> thread

    @property
    def interrupt(self) -> bool:
        return self.context.is_interrupt

    @property
    def from_start(self) -> bool:
        """Runs from the beginning of the interleaving (no start or spawn step)."""
        return self.spec is not None and not self.interrupt


@dataclass
class Unfolded:
    program: ir.Program
    threads: list[Thread]
    contended: frozenset[str]                    # blocking locks that can block another thread
    interrupt_cpus: dict[int, tuple[int, ...]]   # cpu -> interrupt threads on it
    release_edges: dict[tuple[str, int, int], tuple[str, ...]]
    grace_domains: frozenset[str] = frozenset()  # domains some thread waits a grace period of
    flushed: frozenset[str] = frozenset()        # codes whose instances some flush waits for
    cancelled: frozenset[str] = frozenset()      # codes whose queued instances a cancel drops

    @property
    def specs(self) -> list[ThreadSpec]:
        return [t.spec for t in self.threads if t.spec is not None]

    def steps(self) -> int:
        """The longest interleaving: every thread's longest path (+ its start step)."""
        return sum(_longest_path(t) + (1 if t.interrupt else 0) for t in self.threads)

    def others_on_cpu(self, thread: Thread) -> list[Thread]:
        return [t for t in self.threads if t.cpu == thread.cpu and t.index != thread.index]

    def hosts_interrupts(self, thread: Thread) -> bool:
        return any(i != thread.index for i in self.interrupt_cpus.get(thread.cpu, ()))


# --------------------------------------------------------------- conditions

def cond_class(program: ir.Program, cond: ir.Cond) -> str:
    """"const", "local" (thread-local), "shared" (read from shared state) or "nondet"."""
    if isinstance(cond, ir.CConst):
        return "const"
    if isinstance(cond, ir.CNot):
        return cond_class(program, cond.operand)
    if isinstance(cond, ir.COr):
        # resolution keeps thread-local predicates out of a disjunction; were one
        # there, the engine could not fix it per node: it may be either
        kinds = {cond_class(program, o) for o in cond.operands}
        if kinds & {"nondet", "local"}:
            return "nondet"
        return "shared" if "shared" in kinds else "const"
    if not isinstance(cond, ir.CPred):
        return "nondet"
    if cond.name in ir.THREAD_LOCAL_PREDICATES:
        return "local"
    return "shared" if shared_readable(program, cond) else "nondet"


def shared_readable(program: ir.Program, cond: ir.CPred) -> bool:
    """Whether checker.interleave.semantics.shared_predicate gives this predicate a value."""
    if cond.name == "armed":
        return True
    if not cond.args or str(cond.args[0]) not in program.objects:
        return False
    return cond.name in PREDICATE_FIELDS or cond.name == "freed"


def field_of(program: ir.Program, name: str, obj: str) -> int:
    """Index of the state field predicate `name` reads on `obj`."""
    kind = program.objects[obj].kind
    if name == "freed":
        return 1 if kind == "refcounted" else 0
    wanted = PREDICATE_FIELDS[name]
    return OBJECT_FIELDS[kind].index(wanted) if isinstance(wanted, str) else wanted


# --------------------------------------------------------------- unfolding one thread

class _Unfolder:
    def __init__(self, program: ir.Program, spec: ThreadSpec):
        self.program = program
        self.spec = spec
        self.code = program.codes[spec.code]
        self.keys: dict[tuple, int] = {}
        self.raw: list[Node] = []

    def node(self, op_index: int, pre: walk.ThreadState, holds: tuple[int, ...]) -> int:
        key = (op_index, pre, holds)
        found = self.keys.get(key)
        if found is not None:
            return found
        if len(self.raw) >= MAX_NODES_PER_THREAD:
            raise UnfoldLimit(f"{self.spec.label} has more than {MAX_NODES_PER_THREAD} "
                              "local states")
        index = len(self.raw)
        self.keys[key] = index
        self.raw.append(Node(index, op_index, self.code.ops[op_index], pre, holds))
        return index

    def run(self) -> list[Node]:
        start = self.node(self.code.entry, walk.initial_state(self.spec.context), ())
        queue = deque([start])
        done = set()
        while queue:
            index = queue.popleft()
            if index in done:
                continue
            done.add(index)
            node = self.raw[index]
            node.decided_by, choices = self.choices(node)
            node.outcomes = tuple(self.outcome(node, c) for c in choices)
            queue.extend(o.target for o in node.outcomes if o.target is not None)
        return _topological(self.raw, start)

    def choices(self, node: Node) -> tuple[str, tuple[int, ...]]:
        op = node.op
        if isinstance(op, ir.Choice):
            return "free", tuple(range(len(op.targets)))
        if isinstance(op, ir.Branch):
            kind = cond_class(self.program, op.cond)
            if kind in ("const", "local"):
                value = walk.evaluate_local(op.cond, node.pre, self.spec.context, self.program)
                return "fixed", ((0,) if value else (1,))
            return ("free" if kind == "nondet" else "shared"), (0, 1)
        if isinstance(op, ir.TryAcquire):
            if not is_blocking_lock(self.program, op.lock):
                return "fixed", (0,)
            return "shared", (0, 1)
        if isinstance(op, (ir.Put, ir.TryState, ir.AddCallback)):
            return "shared", (0, 1)
        return "fixed", (0,)

    def outcome(self, node: Node, choice: int) -> Outcome:
        op = node.op
        effect = local_effect(self.program, self.spec, node.pre, op, choice)
        violation = effect.violation
        if violation is None and isinstance(op, ir.Assert) and not op.lockdep:
            if cond_class(self.program, op.cond) in ("const", "local") and walk.evaluate_local(
                    op.cond, node.pre, self.spec.context, self.program) is False:
                violation = (op.finding, op.failure_text())
        holds = node.holds
        released = None
        if effect.acquired is not None:
            holds = holds + (node.index,)
        elif effect.released is not None:
            pos = max(i for i, h in enumerate(node.pre.held) if h.lock == op.lock)
            released = holds[pos]
            holds = holds[:pos] + holds[pos + 1:]
        target = None
        if violation is None and not isinstance(op, ir.Exit):
            target = self.node(ir.successors(op)[choice], effect.local, holds)
        return Outcome(choice, target, effect.local, violation, effect.acquired is not None,
                       released)


def _topological(raw: list[Node], start: int) -> list[Node]:
    """Renumber nodes in a topological order (the code DAG's node numbers are a
    depth-first numbering, not an order), and fill in the predecessor edges."""
    indegree = [0] * len(raw)
    for node in raw:
        for o in node.outcomes:
            if o.target is not None:
                indegree[o.target] += 1
    order, ready = [], [start]
    while ready:
        index = ready.pop()
        order.append(index)
        for o in reversed(raw[index].outcomes):
            if o.target is None:
                continue
            indegree[o.target] -= 1
            if indegree[o.target] == 0:
                ready.append(o.target)
    new = {old: pos for pos, old in enumerate(order)}
    nodes = []
    for old in order:
        node = raw[old]
        node.index = new[old]
        node.holds = tuple(new[h] for h in node.holds)
        node.outcomes = tuple(Outcome(o.choice, None if o.target is None else new[o.target],
                                      o.local, o.violation, o.acquired,
                                      None if o.released is None else new[o.released])
                              for o in node.outcomes)
        nodes.append(node)
    for node in nodes:
        for o in node.outcomes:
            if o.target is not None:
                nodes[o.target].preds.append((node.index, o.choice))
    return nodes


def _longest_path(thread: Thread) -> int:
    longest = [0] * len(thread.nodes)
    for node in reversed(thread.nodes):
        longest[node.index] = 1 + max((longest[o.target] for o in node.outcomes
                                       if o.target is not None), default=0)
    return longest[thread.entry] if thread.nodes else 0


# --------------------------------------------------------------- the scenario

def unfold(program: ir.Program, specs: list[ThreadSpec], reduce: bool = True) -> Unfolded:
    """All threads of a scenario, unfolded; `reduce=False` makes every node visible."""
    threads: list[Thread] = []
    next_cpu = 1 + max((s.cpu for s in specs), default=0)
    pending: deque = deque((spec, None) for spec in specs)
    while pending:
        spec, parent = pending.popleft()
        if len(threads) >= MAX_THREADS:
            raise UnfoldLimit(f"the scenario can start more than {MAX_THREADS} threads")
        thread = Thread(len(threads), program.codes[spec.code], spec.context, spec.cpu,
                        spec if parent is None else None, parent,
                        _Unfolder(program, spec).run())
        threads.append(thread)
        for op_index in sorted({n.op_index for n in thread.nodes
                                if isinstance(n.op, ir.Spawn)}):
            op = thread.code.ops[op_index]
            context = program.codes[op.code].context
            cpu = thread.cpu if context.is_interrupt else next_cpu
            if not context.is_interrupt:
                next_cpu += 1
            child = ThreadSpec(f"{op.code}#?", op.code, cpu, context)
            thread.children[op_index] = len(threads) + len(pending)
            pending.append((child, (thread.index, op_index)))
    interrupt_cpus: dict[int, tuple[int, ...]] = {}
    for t in threads:
        if t.interrupt:
            interrupt_cpus[t.cpu] = interrupt_cpus.get(t.cpu, ()) + (t.index,)
    unfolded = Unfolded(program, threads, _contended(program, threads), interrupt_cpus,
                        build_model(program).release_edges, grace_domains(program),
                        flushed_codes(program), cancelled_codes(program))
    for thread in threads:
        for node in thread.nodes:
            node.visible = not reduce or is_visible(unfolded, thread, node)
    return unfolded


def _contended(program: ir.Program, threads: list[Thread]) -> frozenset[str]:
    """Blocking locks two threads take, at least one of them exclusively. Any other
    lock only ever blocks its own thread, which the unfolding decides statically."""
    users: dict[str, set[int]] = {}
    written: set[str] = set()
    for thread in threads:
        for node in thread.nodes:
            op = node.op
            if not isinstance(op, (ir.Acquire, ir.TryAcquire)):
                continue
            if not is_blocking_lock(program, op.lock) or not node.outcome(0).acquired:
                continue
            users.setdefault(op.lock, set()).add(thread.index)
            if ir.Mode(op.mode) is ir.Mode.WRITE:
                written.add(op.lock)
    return frozenset(lock for lock, who in users.items() if len(who) > 1 and lock in written)


def waiting_writer_op(unfolded: Unfolded, op: ir.Op) -> bool:
    """Being at this op makes a thread a waiting writer that readers queue behind."""
    return (isinstance(op, ir.Acquire) and op.mode is ir.Mode.WRITE and not op.trylock
            and op.lock in unfolded.contended)


def _moves_read_side(unfolded: Unfolded, thread: Thread, node: Node) -> bool:
    """The node enters or leaves a read section some grace period waits for."""
    for domain in unfolded.grace_domains:
        inside = in_read_section(unfolded.program, domain, node.pre, thread.context)
        for outcome in node.outcomes:
            after = outcome.target is not None and in_read_section(
                unfolded.program, domain, outcome.local, thread.context)
            if inside != after:
                return True
    return False


def is_visible(unfolded: Unfolded, thread: Thread, node: Node) -> bool:
    """Whether when this node runs can matter to another thread."""
    op = node.op
    if isinstance(op, (ir.Acquire, ir.TryAcquire, ir.Release)):
        if op.lock in unfolded.contended:
            return True
    elif isinstance(op, (ir.StateOp, ir.Put, ir.TryState, ir.AddCallback, ir.Spawn, ir.Grace,
                         ir.SleepUntil)):
        return True
    elif isinstance(op, (ir.Branch, ir.Assert)):
        if cond_class(unfolded.program, op.cond) == "shared":
            return True
    elif isinstance(op, ir.Exit) and (thread.interrupt or thread.code.id in unfolded.flushed):
        return True
    if _moves_read_side(unfolded, thread, node):
        return True
    if node.index == thread.entry and thread.code.id in unfolded.cancelled:
        return True                    # a cancel sees whether it has begun to run
    if isinstance(op, (ir.IrqOp, ir.Exit)) and unfolded.hosts_interrupts(thread):
        if not (isinstance(op, ir.IrqOp) and op.what == "preempt"):
            return True
    for outcome in node.outcomes:
        if (thread.code.id, node.op_index, outcome.choice) in unfolded.release_edges:
            return True
        if outcome.target is not None and waiting_writer_op(
                unfolded, thread.nodes[outcome.target].op):
            return True
    return False
