"""`lockspec export --promela`: what the model contains and how bad requests fail."""
from tests.conftest import DATA

ABBA = str(DATA / "interleave" / "abba.lspec")


def test_export_writes_one_proctype_per_code_and_a_watchdog(cli):
    code, out, err = cli("export", "--promela", ABBA)
    assert code == 0 and err == ""
    assert out.count("proctype P") == 2
    assert "/* ab */" in out and "/* ba */" in out
    assert "active proctype watchdog()" in out and "timeout ->" in out
    assert "run P0(1, 0);" in out and "run P1(2, 1);" in out
    assert "bit VIOLATION_deadlock;" in out


def test_export_is_deterministic(cli):
    assert cli("export", "--promela", ABBA)[1] == cli("export", "--promela", ABBA)[1]


def test_interrupts_are_gated_by_their_cpu(cli):
    code, out, _ = cli("export", "--promela", str(DATA / "interleave" / "irq_unsafe.lspec"))
    assert code == 0
    assert "end_start: atomic { hoff[cpu] == 0 -> prev = top[cpu]; top[cpu] = me;" in out
    assert "atomic { (top[cpu] == me" in out          # the handler's steps
    assert "atomic { (top[cpu] == 0" in out           # the interrupted thread's steps


def test_softirq_also_waits_for_bh(cli):
    _, out, _ = cli("export", "--promela", str(DATA / "interleave" / "softirq_bh.lspec"))
    assert "hoff[cpu] == 0 && boff[cpu] == 0 ->" in out


def test_unknown_scenario_is_a_usage_error(cli):
    code, out, err = cli("export", "--promela", "--scenario", "nope", ABBA)
    assert code == 2 and out == ""
    assert "no scenario `nope` (scenarios: s)" in err


def test_spec_without_scenario_exports_every_path(cli):
    code, out, _ = cli("export", "--promela", str(DATA / "design" / "irqsafe4.lspec"))
    assert code == 0
    assert out.count("proctype P") == 3
    assert "e3#1 on CPU 2" in out


def test_self_spawning_work_cannot_be_exported(cli, tmp_path):
    spec = tmp_path / "loop.lspec"
    spec.write_text("import kernel\nfn again() { schedule_work(again); }\n"
                    "path p in process { schedule_work(again); }\nscenario s = p()\n")
    code, _, err = cli("export", "--promela", str(spec))
    assert code == 2
    assert "spawns itself" in err


PAN_TAIL = """(Spin Version 6.5.2 -- 6 December 2019)
{warning}	+ Partial Order Reduction

State-vector 72 byte, depth reached 28, errors: {errors}
       54 states, stored
"""


def test_pan_output_is_read_conservatively():
    from checker.spin.run import _parse
    violated = "pan:1: assertion violated VIOLATION_use_after_revoke (at depth 13)\n"
    done = _parse(violated + PAN_TAIL.format(warning="Warning: Search not completed\n",
                                             errors=1), 1.0, 0.5)
    assert (done.verdict, done.states) == ("use-after-revoke", 54)
    assert _parse(PAN_TAIL.format(warning="", errors=0), 1.0, 0.5).verdict == "pass"
    memory = _parse("pan: reached -DMEMLIM bound\n" + PAN_TAIL.format(
        warning="Warning: Search not completed\n", errors=0), 1.0, 0.5)
    assert memory.verdict is None and memory.detail == "incomplete: memory limit reached"
    big = _parse(PAN_TAIL.format(warning="", errors=0).replace("  54 states", "1.2345e+08 states"),
                 1.0, 0.5)
    assert big.states == 123450000
    other = _parse("pan:1: assertion violated x == 1 (at depth 3)\n", 1.0, 0.5)
    assert other.verdict is None
