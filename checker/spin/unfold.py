"""Unfold a code over its thread-local state, for the Promela export.

A node is (pc, thread-local state); its edges are the successor choices the
thread-local state allows (a thread-local condition picks one branch, a shared
one keeps both for the model to decide). Each edge carries the thread-local
outcome of the step (checker.interleave.step.local_effect), so held locks,
irq depths, GFP scopes and cookies never appear in the Promela model.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.interleave.semantics import Model, ThreadSpec, cookie_skips, is_blocking_lock
from checker.interleave.step import LocalOutcome, local_effect
from model import ir, walk

DONE = -1                          # the edge target of Exit


@dataclass(frozen=True)
class Edge:
    choice: int
    target: int                    # node number or DONE
    outcome: LocalOutcome


@dataclass(frozen=True)
class Unfolded:
    code: str
    nodes: tuple[tuple[int, walk.ThreadState], ...]     # node 0 is the entry
    edges: tuple[tuple[Edge, ...], ...]
    waits: tuple[tuple[int, int, int], ...]             # per node: (waitk, wlock, atw)


def unfold(model: Model, code_id: str, context: ir.Context, max_nodes: int) -> Unfolded | None:
    program = model.program
    code = program.codes[code_id]
    thread = ThreadSpec(code_id, code_id, 0, context)
    start = (code.entry, walk.initial_state(context))
    nodes, index = [start], {start: 0}
    edges: list[tuple[Edge, ...]] = []
    position = 0
    while position < len(nodes):
        pc, local = nodes[position]
        op = code.ops[pc]
        out = []
        for choice in local_choices(program, context, local, op):
            outcome = local_effect(program, thread, local, op, choice)
            if isinstance(op, ir.Exit):
                out.append(Edge(choice, DONE, outcome))
                continue
            node = (ir.successors(op)[choice], outcome.local)
            if node not in index:
                if len(nodes) >= max_nodes:
                    return None
                index[node] = len(nodes)
                nodes.append(node)
            out.append(Edge(choice, index[node], outcome))
        edges.append(tuple(out))
        position += 1
    waits = tuple(wait_marks(program, context, code.ops[pc], local) for pc, local in nodes)
    return Unfolded(code_id, tuple(nodes), tuple(edges), waits)


def local_choices(program: ir.Program, context: ir.Context, local: walk.ThreadState,
                  op: ir.Op) -> tuple[int, ...]:
    """Every choice except those a thread-local condition rules out."""
    if isinstance(op, ir.Branch):
        value = walk.evaluate_local(op.cond, local, context, program)
        if value is not None and is_thread_local_cond(op.cond):
            return (0,) if value else (1,)
        return (0, 1)
    if isinstance(op, ir.Exit):
        return (0,)
    if isinstance(op, ir.TryAcquire) and not is_blocking_lock(program, op.lock):
        return (0,)                    # a pseudo-lock trylock always succeeds
    return tuple(range(len(ir.successors(op))))


def is_thread_local_cond(cond: ir.Cond) -> bool:
    if isinstance(cond, ir.CNot):
        return is_thread_local_cond(cond.operand)
    if isinstance(cond, ir.COr):
        return all(is_thread_local_cond(o) for o in cond.operands)
    if isinstance(cond, ir.CPred):
        return cond.name in ir.THREAD_LOCAL_PREDICATES
    return isinstance(cond, ir.CConst)


def wait_marks(program: ir.Program, context: ir.Context, op: ir.Op,
               local: walk.ThreadState) -> tuple[int, int, int]:
    """What a thread at this node waits for: (1 lock / 2 wait / 3 ww lock with a
    context, lock id + 1, lock id + 1 if it is a waiting writer)."""
    if isinstance(op, ir.StateOp) and op.verb == "wait":
        return (2, 0, 0)
    if isinstance(op, ir.Grace) and op.phase == "end":
        return (2, 0, 0)               # blocked like a wait (semantics.stuck_violation)
    if isinstance(op, ir.SleepUntil):
        return (2, 0, 0)               # blocked only while asleep, which the guard says
    if not isinstance(op, ir.Acquire) or not is_blocking_lock(program, op.lock):
        return (0, 0, 0)
    lock_id = sorted(n for n in program.locks if is_blocking_lock(program, n)).index(op.lock) + 1
    writer = lock_id if op.mode is ir.Mode.WRITE and not op.trylock else 0
    if op.cookie and cookie_skips(program, local, context, op):
        return (0, 0, writer)          # never blocks, but still counts as a waiting writer
    ww = op.nest is not None and program.locks[op.lock].kind == "ww_mutex"
    return (3 if ww else 1, lock_id, writer)
