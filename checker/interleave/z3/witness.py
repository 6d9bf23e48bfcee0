"""From a z3 model to a witness the reference simulator accepts.

A model says which nodes ran, which successor each took and at what time;
sorting the runs by the encoding's key (time, thread, node) gives the
interleaving. Spawned threads get their labels the way the semantics
numbers them, in spawn order. The events are then replayed by
checker.interleave.simulate: a witness that does not replay, or replays to another
violation than the one z3 claimed, is an internal error of the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import z3

from checker.findings import Step
from checker.interleave.semantics import START, Event, Violation
from checker.interleave.simulate import replay
from checker.interleave.z3.encode import Encoding
from checker.interleave.z3.rules import Hazard, Rules
from checker.interleave.z3.terms import term_truth


class WitnessError(RuntimeError):
    """The engine produced an interleaving the reference semantics rejects."""


@dataclass(frozen=True)
class Witness:
    events: tuple[Event, ...]
    steps: tuple[Step, ...]
    violation: Violation
    labels: dict                                  # thread index -> label
    hazard: tuple[int, int] | None = None         # (thread, node) of a violation


def _value(model: z3.ModelRef, expr) -> object:
    return model.eval(expr, model_completion=True)


def _true(model: z3.ModelRef, expr) -> bool:
    return term_truth(_value(model, expr)) == 1


def _int(model: z3.ModelRef, expr) -> int:
    if expr is None:
        return -1
    return _value(model, expr).as_long()


def runs(enc: Encoding, model: z3.ModelRef) -> list[tuple[tuple[int, int, int], int, int, int]]:
    """Every run of the model as (key, thread, node or -1 for a start, choice), sorted."""
    out = []
    for thread in enc.u.threads:
        t = thread.index
        if thread.interrupt and _true(model, enc.started[t]):
            out.append(((_int(model, enc.start[t].time), t, -1), t, -1, 0))
        for node in thread.nodes:
            if not _true(model, enc.ex[t][node.index]):
                continue
            choices = [o.choice for o in node.outcomes
                       if _true(model, enc.choice[t][node.index][o.choice])]
            time = _int(model, enc.time[t][node.index])
            out.append(((time, t, node.index), t, node.index, choices[0]))
    return sorted(out)


def sleeps(rules: Rules, model: z3.ModelRef) -> list:
    """The checks that put a thread to sleep for good in a wait_event(), at the time
    the model gives them (they are no node's run: a check that passes is)."""
    out = []
    for (t, n), (check, asleep) in sorted(rules.sleeps.items(), key=lambda item: item[0]):
        if _true(model, z3.And(rules.enc.stopped(t, n), asleep)):
            out.append(((_int(model, check), t, n), t, n, 1))
    return out


def first_hazard(rules: Rules, model: z3.ModelRef) -> Hazard | None:
    """The earliest violation the model's interleaving runs into."""
    enc = rules.enc
    best, best_key = None, None
    for hazard in rules.hazards:
        if not _true(model, z3.And(enc.ex[hazard.thread][hazard.node], hazard.when)):
            continue
        key = (_int(model, enc.time[hazard.thread][hazard.node]), hazard.thread, hazard.node)
        if best_key is None or key < best_key:
            best, best_key = hazard, key
    return best


def build_events(enc: Encoding, ordered, stop_after: tuple[int, int] | None):
    """Events in order, with spawned threads labelled in spawn order."""
    unfolded = enc.u
    labels = {t.index: t.spec.label for t in unfolded.threads if t.spec is not None}
    counts: dict[str, int] = {}
    for t in unfolded.threads:
        if t.spec is not None:
            counts[t.code.id] = counts.get(t.code.id, 0) + 1
    events = []
    for _, t, n, choice in ordered:
        thread = unfolded.threads[t]
        if n < 0:
            events.append(Event(labels[t], START, 0))
            continue
        node = thread.nodes[n]
        events.append(Event(labels[t], node.op_index, choice))
        child = thread.children.get(node.op_index)
        if child is not None:
            code = unfolded.threads[child].code.id
            counts[code] = counts.get(code, 0) + 1
            labels[child] = f"{code}#{counts[code]}"
        if stop_after == (t, n):
            break
    return events, labels


def extract(rules: Rules, model: z3.ModelRef, expect: str) -> Witness:
    """The witness for `expect`: "violation" (the first hazard the model runs into)
    or "stuck" (a deadlock or hang at the end)."""
    enc = rules.enc
    ordered = runs(enc, model)
    hazard = first_hazard(rules, model) if expect == "violation" else None
    if expect == "violation" and hazard is None:
        raise WitnessError("the model of a violation query runs into no violation")
    stop_after = (hazard.thread, hazard.node) if hazard else None
    if expect == "stuck":
        ordered = sorted(ordered + sleeps(rules, model))
    events, labels = build_events(enc, ordered, stop_after)
    result = replay(enc.program, enc.u.specs, events)
    if result.error is not None or result.violation is None:
        raise WitnessError(f"witness does not replay: {result.error or 'no violation'}")
    violation = result.violation
    if hazard is not None and (violation.code != hazard.code or violation.site != hazard.site):
        raise WitnessError(f"witness replays to {violation.code} at {violation.site}, "
                           f"not {hazard.code} at {hazard.site}")
    if expect == "stuck" and violation.code not in ("deadlock", "hang"):
        raise WitnessError(f"a stuck-state witness replays to {violation.code}")
    return Witness(tuple(events), result.steps, violation, labels, stop_after)
