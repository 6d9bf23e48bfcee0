"""The witness simulator: good witnesses replay, bad ones are rejected with a reason."""
from checker.interleave.explore import explore_scenario
from checker.interleave.semantics import Event, scenario_threads
from checker.interleave.simulate import replay
from tests.conftest import DATA, compile_text

ABBA = DATA / "interleave" / "abba.lspec"


def abba():
    program = compile_text(ABBA.read_text(), str(ABBA)).program
    return program, scenario_threads(program, program.scenarios[0])


def deadlock_witness(program):
    """ab takes A, ba takes B, then each gets to its second acquire (ops are numbered
    in program order: might_sleep, acquire A, might_sleep, acquire B, ...)."""
    assert type(program.codes["ab"].ops[1]).__name__ == "Acquire"
    return [Event("ab#1", 0, 0), Event("ab#1", 1, 0), Event("ba#1", 0, 0),
            Event("ba#1", 1, 0), Event("ab#1", 2, 0), Event("ba#1", 2, 0)]


def test_hand_written_deadlock_replays():
    program, threads = abba()
    result = replay(program, threads, deadlock_witness(program))
    assert result.error is None
    assert result.violation.code == "deadlock"
    assert dict(result.violation.blocked) == {"ab#1": "`B`, held by ba#1",
                                              "ba#1": "`A`, held by ab#1"}
    assert [s.action for s in result.steps] == [
        "might_sleep", "acquire A", "might_sleep", "acquire B", "might_sleep", "might_sleep"]
    assert all(step.span.file == str(ABBA) for step in result.steps)
    assert [s.cpu for s in result.steps[:3]] == [0, 0, 1]


def test_blocked_event_does_not_replay():
    program, threads = abba()
    events = deadlock_witness(program) + [Event("ab#1", 3, 0)]
    result = replay(program, threads, events)
    assert result.error.startswith("event 7 (ab#1 at op 3, choice 0)")
    assert "cannot step" in result.error


def test_wrong_pc_unknown_thread_and_bad_choice():
    program, threads = abba()
    assert "is at op 0" in replay(program, threads, [Event("ab#1", 1, 0)]).error
    assert "no such thread" in replay(program, threads, [Event("zz#1", 0, 0)]).error
    assert "not possible" in replay(program, threads, [Event("ab#1", 0, 1)]).error


def test_events_after_a_violation_are_an_error():
    path = DATA / "interleave" / "refcount_double_put.lspec"
    program = compile_text(path.read_text(), str(path)).program
    found = explore_scenario(program)
    threads = scenario_threads(program, program.scenarios[0])
    events = list(found.events)
    assert replay(program, threads, events).violation.code == "refcount"
    extra = replay(program, threads, events + [events[-1]])
    assert extra.error == "1 events follow the violation at event %d" % len(events)


def test_unfinished_witness_has_no_violation():
    program, threads = abba()
    result = replay(program, threads, deadlock_witness(program)[:3])
    assert result.error is None and result.violation is None and len(result.steps) == 3


def test_interrupt_start_step():
    path = DATA / "interleave" / "irq_unsafe.lspec"
    program = compile_text(path.read_text(), str(path)).program
    found = explore_scenario(program)
    threads = scenario_threads(program, program.scenarios[0])
    result = replay(program, threads, list(found.events))
    starts = [s for s in result.steps if s.action == "hardirq starts"]
    assert len(starts) == 1 and starts[0].note == "interrupts the CPU"
    assert result.violation.code == "deadlock"
