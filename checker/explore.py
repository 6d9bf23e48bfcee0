"""Exhaustive explicit-state search over the reference semantics.

A depth-first search with a set of visited states. It returns the first
violation with the events that reach it (replayable by checker.simulate) or
the number of states it proved free of violations. It is the differential
oracle for the z3 engine and the reference that SPIN is compared against.

The optional partial-order reduction explores only one thread from a state
where that thread's next step is local (see `is_local_step`): a local step
touches nothing another thread reads, so every order of it against the other
threads' steps reaches the same violations. Runs are finite (each step
advances a pc in an acyclic code graph or starts a thread), so the reduction
needs no cycle proviso. `por=False` explores every interleaving.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.semantics import (FINISHED, Event, Model, State, ThreadLimit, ThreadSpec,
                               Violation, build_model, current_op, enabled_events,
                               initial_state, is_blocking_lock, scenario_threads,
                               stuck_violation)
from checker.semantics_step import apply
from model import ir

DEFAULT_MAX_STATES = 2_000_000


@dataclass(frozen=True)
class ExploreResult:
    violation: Violation | None
    events: tuple[Event, ...]          # the interleaving that reaches the violation
    states: int                        # distinct states visited
    complete: bool                     # False: stopped at the state budget or thread limit
    detail: str = ""

    def summary(self) -> str:
        if self.violation is not None:
            return f"{self.violation.code}: {self.violation.message}"
        if not self.complete:
            return f"no violation in {self.states} states (incomplete: {self.detail})"
        return f"no violation, {self.states} states"


def explore(program: ir.Program, threads: list[ThreadSpec], por: bool = True,
            max_states: int = DEFAULT_MAX_STATES) -> ExploreResult:
    model = build_model(program)
    start = initial_state(model, threads)
    visited = {start}
    # Each frame: a state and the events still to try from it; `path` holds the
    # event that led into each frame after the first.
    stack: list[tuple[State, list[Event]]] = [(start, _successors(model, start, por))]
    path: list[Event] = []
    if not stack[0][1]:
        return _finish_stuck(model, start, path, len(visited))
    while stack:
        state, pending = stack[-1]
        if not pending:
            stack.pop()
            if path:
                path.pop()
            continue
        event = pending.pop(0)
        try:
            nxt, violation = apply(model, state, event)
        except ThreadLimit as limit:
            return ExploreResult(None, (), len(visited), False, str(limit))
        if violation is not None:
            return ExploreResult(violation, tuple(path + [event]), len(visited), True)
        if nxt in visited:
            continue
        if len(visited) >= max_states:
            return ExploreResult(None, (), len(visited), False,
                                 f"state budget of {max_states} spent")
        visited.add(nxt)
        successors = _successors(model, nxt, por)
        if not successors:
            stuck = stuck_violation(model, nxt)
            if stuck is not None:
                return ExploreResult(stuck, tuple(path + [event]), len(visited), True)
            continue
        path.append(event)
        stack.append((nxt, successors))
    return ExploreResult(None, (), len(visited), True)


def _finish_stuck(model: Model, state: State, path, count: int) -> ExploreResult:
    return ExploreResult(stuck_violation(model, state), tuple(path), count, True)


def explore_scenario(program: ir.Program, scenario: str | None = None, por: bool = True,
                     max_states: int = DEFAULT_MAX_STATES) -> ExploreResult:
    """Explore one of the spec's scenarios (default: the first)."""
    chosen = [s for s in program.scenarios if scenario is None or s.name == scenario]
    if not chosen:
        raise KeyError(scenario)
    return explore(program, scenario_threads(program, chosen[0]), por, max_states)


# --------------------------------------------------------------- partial-order reduction

def _successors(model: Model, state: State, por: bool) -> list[Event]:
    events = enabled_events(model, state)
    if not por or len(events) <= 1:
        return events
    for index, thread in enumerate(state.threads):
        mine = [e for e in events if e.thread == thread.label]
        if mine and is_local_step(model, state, index):
            return mine
    return events


def is_local_step(model: Model, state: State, index: int) -> bool:
    """The thread's next step reads and writes only its own state, and arriving at its
    successor changes nothing another thread can observe."""
    op = current_op(model, state, index)
    if op is None:
        return False                                  # an interrupt start preempts its CPU
    if not is_local_op(model.program, op):
        return False
    if isinstance(op, (ir.IrqOp, ir.Exit)):
        if state.threads[index].context.is_interrupt or cpu_may_host_interrupts(
                model, state, state.threads[index].cpu):
            return False
    code = model.program.codes[state.threads[index].code]
    return not any(_writer_arrival(model.program, code.ops[succ]) for succ in ir.successors(op))


def is_local_op(program: ir.Program, op: ir.Op) -> bool:
    """Ops that never block and touch no shared state: thread-local conditions,
    pseudo-locks, irq/preempt/gfp bookkeeping (irq state is visible to interrupts on
    the same CPU, which the caller checks), sleeps, nondeterministic choice, exit."""
    if isinstance(op, (ir.Acquire, ir.TryAcquire, ir.Release)):
        return not is_blocking_lock(program, op.lock)
    if isinstance(op, (ir.Branch, ir.Assert)):
        return condition_is_local(op.cond)
    return isinstance(op, (ir.IrqOp, ir.MightSleep, ir.GfpScope, ir.Choice, ir.Exit))


def condition_is_local(cond: ir.Cond) -> bool:
    if isinstance(cond, ir.CNot):
        return condition_is_local(cond.operand)
    if isinstance(cond, ir.CPred):
        return cond.name in ir.THREAD_LOCAL_PREDICATES
    return True


def _writer_arrival(program: ir.Program, op: ir.Op) -> bool:
    """Arriving at an exclusive acquire makes the thread a waiting writer (readers see it)."""
    return (isinstance(op, ir.Acquire) and op.mode is ir.Mode.WRITE and not op.trylock
            and is_blocking_lock(program, op.lock))


def cpu_may_host_interrupts(model: Model, state: State, cpu: int) -> bool:
    for index, thread in enumerate(state.threads):
        if thread.cpu != cpu or state.pcs[index] == FINISHED:
            continue
        if thread.context.is_interrupt or thread.code in model.interrupt_spawners:
            return True
    return False
