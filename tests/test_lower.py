"""Lowering: calls inlined into per-thread IR, with bounded work and exact sites."""
from __future__ import annotations

from model import ir
from model.lower import MAX_LOWERING_DEPTH
from tests.conftest import compile_text

KERNEL = "import kernel\n"


def program(text: str) -> ir.Program:
    compiled = compile_text(text)
    assert compiled.diagnostics == (), compiled.diagnostics
    return compiled.program


def only_error(text: str):
    compiled = compile_text(text)
    assert compiled.program is None
    (diag,) = compiled.diagnostics
    return diag


def ops(code: ir.Code) -> list[str]:
    return [type(op).__name__ for op in code.ops]


def test_path_instances_are_named_by_their_arguments_in_parameter_order():
    prog = program(KERNEL + "object buf, other : revocable\nlock fl : spinlock\n"
                   "object f : fence(lock = fl)\n"
                   "path p(b, n: int, w: bool) in process { }\n"
                   "path q(l: spinlock) in process { spin_lock(l); spin_unlock(l); }\n"
                   "scenario s = p(buf, 3, true) || p(w = true, n = 3, b = buf) "
                   "|| p(other, 4, false) || q(lock_of(f))\n")
    threads = [t.code for t in prog.scenarios[0].threads]
    assert threads == ["p(buf, 3, true)", "p(buf, 3, true)", "p(other, 4, false)",
                       "q(lock_of(f))"]
    assert set(prog.codes) == {"p(buf, 3, true)", "p(other, 4, false)", "q(lock_of(f))"}
    acquired = [op.lock for op in prog.codes["q(lock_of(f))"].ops if isinstance(op, ir.Acquire)]
    assert acquired == ["fl"]


def test_exit_is_the_closing_brace():
    prog = program("path p in process {\n    might_sleep();\n  }\n".replace(
        "might_sleep();", "sleep_point();"))
    (exit_op,) = [op for op in prog.codes["p"].ops if isinstance(op, ir.Exit)]
    span = exit_op.site.span
    assert (span.line, span.col, span.end_line, span.end_col) == (3, 3, 3, 4)


def test_sites_carry_the_call_stack():
    prog = program(KERNEL + "lock A : mutex\nfn take() { mutex_lock(A); }\n"
                   "path p in process { take(); mutex_unlock(A); }\n")
    acquire = next(op for op in prog.codes["p"].ops if isinstance(op, ir.Acquire))
    assert [frame.line for frame in acquire.site.stack if frame.file == "spec.lspec"] == [4, 3]
    assert acquire.site.span.file.endswith("model/prelude/kernel.lspec")


def test_else_if_chain_branches_in_order():
    prog = program("object a, b : flag\npath p in process {\n"
                   "  if a { sleep_point(); } else if b { hardirq_off(); hardirq_on(); }"
                   " else { preempt_off(); preempt_on(); }\n}\n")
    code = prog.codes["p"]
    first = code.ops[code.entry]
    assert isinstance(first, ir.Branch) and first.cond == ir.CPred("flag", ("a",))
    assert isinstance(code.ops[first.then], ir.MightSleep)
    second = code.ops[first.orelse]
    assert isinstance(second, ir.Branch) and second.cond == ir.CPred("flag", ("b",))
    assert code.ops[second.orelse] == ir.IrqOp("preempt", "off", code.ops[second.orelse].site,
                                               code.ops[second.orelse].next)


def test_long_else_if_chain_lowers_without_recursion():
    arms = " else ".join("if nondet() { sleep_point(); }" for _ in range(2000))
    prog = program(f"path p in process {{ {arms} }}")
    assert ops(prog.codes["p"]).count("MightSleep") == 2000


def test_a_spawned_bool_function_evaluates_its_result():
    prog = program(KERNEL + "lock A : spinlock\nfn w() -> bool = spin_trylock(A);\n"
                   "path p in process { schedule_work(w); }\n")
    assert ops(prog.codes["w@workqueue"]) == ["TryAcquire", "Exit"]


def test_a_release_function_is_not_inlined_into_itself():
    prog = program("object r : refcounted(release = rel) = 1\n"
                   "fn rel(x: refcounted) { put(x); }\npath p in process { put(r); }\n")
    assert ops(prog.codes["p"]) == ["Put", "Put", "Exit"]


def test_a_fence_callback_is_not_inlined_into_itself():
    prog = program(KERNEL + "lock fl : spinlock\nobject f : fence(lock = fl)\n"
                   "fn cb(x: fence) { signal(x); }\n"
                   "path p in process { if dma_fence_add_callback(f, cb) { } signal(f); }\n")
    armed = [op for op in prog.codes["p"].ops if isinstance(op, ir.Branch)
             and op.cond == ir.CPred("armed", ("f", "cb"))]
    assert len(armed) == 1


def test_callbacks_armed_by_callbacks_are_found():
    prog = program(KERNEL + "lock fl : spinlock\nobject f, g : fence(lock = fl)\n"
                   "fn second() { sleep_point(); }\n"
                   "fn first() { if dma_fence_add_callback(g, second) { } }\n"
                   "path p in process { if dma_fence_add_callback(f, first) { } "
                   "signal(f); signal(g); }\n")
    armed = {op.cond.args for op in prog.codes["p"].ops
             if isinstance(op, ir.Branch) and op.cond.name == "armed"}
    assert armed == {("f", "first"), ("g", "second")}


def test_a_callback_of_the_wrong_type_is_an_error():
    diag = only_error(KERNEL + "lock fl : spinlock\nobject f : fence(lock = fl)\n"
                      "fn cb(x: revocable) { }\n"
                      "path p in process { if dma_fence_add_callback(f, cb) { } signal(f); }\n")
    assert diag.message == "`cb` runs as a callback of `f`, a fence, but its parameter is a " \
                           "revocable"


def test_type_errors_through_untyped_parameters_show_the_call_stack():
    diag = only_error(KERNEL + "lock A : spinlock\nfn reader(l) { down_read(l); }\n"
                      "path p in process { reader(A); }\n")
    assert diag.message == "`down_read` wants rwsem for `l`, got a spinlock"
    assert diag.span.line == 3 and diag.hints == ("in the call at spec.lspec:4",)


def test_exponential_inlining_is_cut_off():
    fns = "".join(f"fn f{i}() {{ f{i - 1}(); f{i - 1}(); }}\n" for i in range(1, 40))
    diag = only_error("fn f0() { }\n" + fns + "path p in process { f39(); }\n")
    assert diag.message.startswith("this thread is too large")


def test_nested_repeat_is_cut_off():
    diag = only_error("path p in process { repeat 64 { repeat 64 { repeat 64 { repeat 64 { "
                      "} } } } }\n")
    assert diag.message.startswith("this thread is too large")


def test_deep_nesting_through_calls_is_an_error_not_a_crash():
    body = "{" * 100 + " g{prev}(); " + "}" * 100
    fns = "fn g0() { sleep_point(); }\n" + "".join(
        f"fn g{i}() {body.format(prev=i - 1)}\n" for i in range(1, 6))
    diag = only_error(fns + "path p in process { g5(); }\n")
    assert diag.message == f"blocks and calls nest more than {MAX_LOWERING_DEPTH} deep once " \
                           "calls are inlined"


def test_conditions_short_circuit():
    prog = program("object a, b : flag\npath p in process { if a && !b { sleep_point(); } }\n")
    code = prog.codes["p"]
    first = code.ops[code.entry]
    second = code.ops[first.then]
    assert first.cond == ir.CPred("flag", ("a",)) and second.cond == ir.CPred("flag", ("b",))
    assert isinstance(code.ops[second.orelse], ir.MightSleep)     # `!b`: false goes on
    assert first.orelse == second.then                              # both reach the exit


def test_static_conditions_fold():
    prog = program("path p in hardirq { if in_hardirq() { sleep_point(); } }\n"
                   "path q in process { if in_hardirq() { sleep_point(); } }\n")
    assert ops(prog.codes["p"]) == ["MightSleep", "Exit"]
    assert ops(prog.codes["q"]) == ["Exit"]
