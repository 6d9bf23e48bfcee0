"""The witness simulator: replay an interleaving over the reference semantics.

Every witness an engine reports is replayed here first, independently of
how the engine found it. A witness that does not replay (an event that is
not enabled, events after the violation, a violation other than claimed) is
an internal error of the engine, never a finding.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.findings import Step
from checker.interleave.semantics import (FINISHED, START, Event, Model, State, ThreadLimit,
                                          ThreadSpec, Violation, build_model, current_op,
                                          enabled_events, initial_state, stuck_violation,
                                          thread_index, valid_choices)
from checker.interleave.step import apply
from model import ir
from model.grace import stopped_kthread
from model.span import Span


@dataclass(frozen=True)
class ReplayResult:
    violation: Violation | None
    steps: tuple[Step, ...]
    error: str | None               # the witness does not replay


def replay(program: ir.Program, threads: list[ThreadSpec], events: list[Event]) -> ReplayResult:
    """Run `events` from the initial state of `threads`. The violation is the one the
    last event causes, or the deadlock/hang of the final state."""
    model = build_model(program)
    state = initial_state(model, threads)
    steps: list[Step] = []
    for number, event in enumerate(events, 1):
        problem = not_enabled(model, state, event)
        if problem:
            return ReplayResult(None, tuple(steps), f"event {number} ({event.thread} at op "
                                f"{event.op_index}, choice {event.choice}): {problem}")
        steps.append(describe_step(model, state, event))
        try:
            state, violation = apply(model, state, event)
        except ThreadLimit as limit:
            return ReplayResult(None, tuple(steps), f"event {number}: {limit}")
        if violation is not None:
            if number != len(events):
                return ReplayResult(violation, tuple(steps), f"{len(events) - number} events "
                                    f"follow the violation at event {number}")
            return ReplayResult(violation, tuple(steps), None)
    if enabled_events(model, state):
        return ReplayResult(None, tuple(steps), None)
    return ReplayResult(stuck_violation(model, state), tuple(steps), None)


def not_enabled(model: Model, state: State, event: Event) -> str | None:
    """Why `event` cannot be the next step, or None if it can."""
    index = thread_index(state, event.thread)
    if index < 0:
        return "no such thread"
    pc = state.pcs[index]
    expected = START if pc < 0 else pc
    if pc == FINISHED:
        return "the thread has finished"
    if event.op_index != expected:
        return f"the thread is at op {expected}"
    choices = valid_choices(model, state, index)
    if not choices:
        return "the thread cannot step (blocked or preempted)"
    if event.choice not in choices:
        return f"successor {event.choice} is not possible here (possible: {list(choices)})"
    return None


# --------------------------------------------------------------- describing steps

def describe_step(model: Model, state: State, event: Event) -> Step:
    index = thread_index(state, event.thread)
    thread = state.threads[index]
    if event.op_index == START:
        code = model.program.codes[thread.code]
        return Step(thread.label, thread.cpu, f"{thread.context.value} starts", code.span,
                    "interrupts the CPU" if _cpu_busy(state, index) else "")
    op = current_op(model, state, index)
    return Step(thread.label, thread.cpu, describe_op(op, event.choice, model.program),
                user_span(model, op.site))


def _cpu_busy(state: State, index: int) -> bool:
    cpu = state.threads[index].cpu
    return any(t.cpu == cpu and state.pcs[i] >= 0 for i, t in enumerate(state.threads)
               if i != index)


def user_span(model: Model, site: ir.Site) -> Span:
    """The innermost frame in the spec file itself (not in the prelude)."""
    for span in reversed(site.frames()):
        if span.file == model.program.file:
            return span
    return site.frames()[0]


_MODE_TEXT = {"write": "", "read": " (read)", "recursive": " (recursive read)"}


def describe_op(op: ir.Op, choice: int, program: ir.Program) -> str:
    if isinstance(op, ir.Acquire):
        return f"acquire {op.lock}{_MODE_TEXT[ir.Mode(op.mode).value]}"
    if isinstance(op, ir.TryAcquire):
        outcome = "ok" if choice == 0 else "fails"
        return f"trylock {op.lock}{_MODE_TEXT[ir.Mode(op.mode).value]}: {outcome}"
    if isinstance(op, ir.Release):
        return f"release {op.lock}"
    if isinstance(op, ir.IrqOp):
        return f"{op.what} {op.action}"
    if isinstance(op, ir.MightSleep):
        return "might_sleep"
    if isinstance(op, ir.GfpScope):
        return f"gfp scope {op.action}"
    if isinstance(op, ir.Branch):
        return f"if {condition_text(op.cond)}: {'true' if choice == 0 else 'false'}"
    if isinstance(op, ir.Choice):
        return f"choose branch {choice + 1}"
    if isinstance(op, ir.StateOp) and op.verb == "set_count":
        return f"set_count({op.obj}, {op.value})"
    if isinstance(op, ir.StateOp) and op.verb == "assign":
        targets = program.objects[op.obj].targets
        return f"{op.obj} = {targets[op.value - 1] if op.value else 'NULL'}"
    if isinstance(op, ir.StateOp):
        return f"{op.verb}({op.obj})"
    if isinstance(op, ir.Put):
        return f"put({op.obj})" + (": last reference" if choice == 0 else "")
    if isinstance(op, ir.TryState) and op.verb == "get":
        return f"get_unless_zero({op.obj}): " + ("ok" if choice == 0 else "count was zero")
    if isinstance(op, ir.TryState):
        return f"wait({op.obj}) with a timeout: " + ("done" if choice == 0 else "times out")
    if isinstance(op, ir.AddCallback):
        return f"add_callback({op.fence}, {op.code}): " + ("armed" if choice == 0
                                                           else "already signalled")
    if isinstance(op, ir.Spawn):
        return f"queue {op.code}"
    if isinstance(op, ir.Grace):
        return grace_step_text(op)
    if isinstance(op, ir.SleepUntil):
        outcome = "holds" if choice == 0 else "false, sleeps"
        return f"wait_event({op.queue}, {condition_text(op.cond)}): {outcome}"
    if isinstance(op, ir.Assert):
        return op.message
    return "return"


def grace_step_text(op: ir.Grace) -> str:
    if op.what == "readers":
        outcome = "the grace period begins" if op.phase == "begin" else \
            "every earlier reader has left"
        return f"synchronize({op.target}): {outcome}"
    if kthread := stopped_kthread(op):
        return f"kthread_stop({kthread}): " + (
            "waits for it to return" if op.phase == "begin" else "it returned")
    what = {"work": f"flush {op.target}", "cancel": f"cancel {op.target}"}.get(
        op.what, "flush the workqueue")
    return what + (": waits for what is queued" if op.phase == "begin" else ": done")


def condition_text(cond: ir.Cond) -> str:
    if isinstance(cond, ir.CConst):
        return "true" if cond.value else "false"
    if isinstance(cond, ir.CNot):
        return "!" + condition_text(cond.operand)
    if isinstance(cond, ir.COr):
        return "(" + " || ".join(condition_text(o) for o in cond.operands) + ")"
    if isinstance(cond, ir.CPred):
        if cond.name == "count":
            return f"count({cond.args[0]}) {cond.args[1]} {cond.args[2]}"
        if cond.name == "points_to":
            return f"{cond.args[0]} == {cond.args[2]}"
        args = ", ".join(str(a) for a in cond.args if a != "")
        return f"{cond.name}({args})"
    return "nondet()"
