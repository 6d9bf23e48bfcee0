"""Replaying a finding's witness on the reference step function, for the oracle.

A witness is a list of `Step`s (thread, CPU, action, source span). Each is
matched to the one enabled event of its thread whose description it is
(`checker.interleave.semantics.valid_choices` says which events are enabled,
`checker.interleave.step.apply` runs it); the run must end where the finding
says: in the finding's violation, or for a deadlock in a stuck state where a
blocked thread waits for a lock of the cycle's classes.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter

from checker.interleave.explore import waited_locks
from checker.interleave.semantics import (NOT_STARTED, START, Event, ThreadSpec, build_model,
                                          enabled_events, initial_state, scenario_threads,
                                          stuck_violation, thread_index, valid_choices)
from checker.interleave.simulate import describe_step
from checker.interleave.step import apply
from model import ir


def witness_threads(program: ir.Program, finding) -> list[ThreadSpec]:
    """The threads of the scenario the finding names. A world lockspec made up for a
    cycle is named `world(p || 2 * q || ...)` and laid out as docs/semantics.md says
    (process copies on CPUs 0, 1, ...; each interrupt on a CPU of its own, then on
    the CPU of each process thread or of each path's first copy); the threads the
    witness steps in must sit on the CPUs it gives, else only they are replayed."""
    for scenario in program.scenarios:
        if scenario.name == finding.scenario:
            return scenario_threads(program, scenario)
    stepping = _stepping_threads(program, finding)
    world = _world_layout(program, finding.scenario or "")
    if world and all(world.get(t.label) == t for t in stepping):
        return list(world.values())
    return stepping


def _world_layout(program: ir.Program, name: str) -> dict[str, ThreadSpec] | None:
    match = re.fullmatch(r"world\((.*)\)", name)
    if not match:
        return None
    counts = []
    for part in match.group(1).split(" || "):
        count, _, code = part.rpartition(" * ")
        if code not in program.codes:
            return None
        counts.append((code, int(count or 1)))
    process = [(c, n) for c, n in counts if not program.codes[c].context.is_interrupt]
    threads: list[ThreadSpec] = []
    for code, count in process:
        first = len(threads)        # each copy on a CPU of its own, in order
        threads += [ThreadSpec(f"{code}#{k}", code, first + k - 1, program.codes[code].context)
                    for k in range(1, count + 1)]
    every = [t.cpu for t in threads]
    firsts = [t.cpu for t in threads if t.label.endswith("#1")]
    cpu = len(threads)
    for code, count in counts:
        context = program.codes[code].context
        if not context.is_interrupt:
            continue
        hosts = every if count - 1 == len(every) else firsts
        threads += [ThreadSpec(f"{code}#{k}", code, host, context)
                    for k, host in enumerate([cpu] + hosts, 1)]
        cpu += 1
    return {t.label: t for t in threads}


def _stepping_threads(program: ir.Program, finding) -> list[ThreadSpec]:
    """The threads the witness steps in, but for those it queues itself (a thread of a
    code first steps after a `queue` of that code that no earlier thread took up)."""
    threads: dict[str, ThreadSpec | None] = {}      # None: queued by the witness
    queued: Counter = Counter()
    for step in finding.witness:
        if step.action.startswith("queue "):
            queued[step.action[len("queue "):]] += 1
        if step.thread not in threads:
            code = step.thread.rsplit("#", 1)[0]
            if queued[code]:
                queued[code] -= 1
                threads[step.thread] = None
                continue
            threads[step.thread] = ThreadSpec(step.thread, code, step.cpu,
                                              program.codes[code].context)
    return sorted((t for t in threads.values() if t is not None), key=lambda t: (t.cpu, t.label))


def replay_steps(program: ir.Program, finding, code: str, classes) -> str | None:
    """Why the witness does not replay to violation `code` (for a stuck state, waiting
    for a lock of one of `classes` when given), or None."""
    model = build_model(program)
    try:
        state = initial_state(model, witness_threads(program, finding))
    except KeyError as missing:
        return f"the witness names an unknown code {missing}"
    steps = finding.witness
    for number, step in enumerate(steps, 1):
        event = _matching_event(model, state, step)
        if event is None:
            return f"step {number} ({step.thread}: {step.action}) is not enabled there"
        state, violation = apply(model, state, event)
        if violation is not None:
            if number != len(steps):
                return f"step {number} already ends in {violation.code}"
            if violation.code != code:
                return f"ends in {violation.code}, not {code}"
            return None
    if enabled_events(model, state):
        return "the witness ends in a state that can still step"
    stuck = stuck_violation(model, state)
    if stuck is None or stuck.code != code:
        return f"ends in {stuck.code if stuck else 'no violation'}, not {code}"
    if classes is not None:
        waited = {lock_class for _, lock_class in waited_locks(model, stuck)}
        if not waited & set(classes):
            return (f"the stuck state waits for {sorted(waited)}, no lock of the cycle's "
                    f"classes {sorted(classes)}")
    return None


def _matching_event(model, state, step) -> Event | None:
    index = thread_index(state, step.thread)
    if index < 0:
        return None
    pc = state.pcs[index]
    op_index = START if pc == NOT_STARTED else pc
    for choice in valid_choices(model, state, index):
        event = Event(step.thread, op_index, choice)
        # The note ("interrupts the CPU") only describes; the rest must match.
        if dataclasses.replace(describe_step(model, state, event), note="") == \
                dataclasses.replace(step, note=""):
            return event
    return None
