"""Resolution: every error of a spec at once, each located, with a useful hint."""
from __future__ import annotations

import pytest

from model.loader import load, not_imported
from model.resolve import resolve
from model.span import TYPE_ERROR, UNKNOWN_NAME
from tests.conftest import compile_text


def diagnostics(text: str):
    compiled = compile_text(text)
    assert compiled.program is None
    return compiled.diagnostics


def only(text: str):
    (diag,) = diagnostics(text)
    return diag


def hints(diag) -> str:
    return " | ".join(diag.hints)


KERNEL = "import kernel\n"


def test_all_errors_of_a_file_are_reported_together_in_order():
    diags = diagnostics(KERNEL + "lock A : spinlock\n"
                        "path p in process { down_read(A); spin_lok(A); }\n"
                        "path q in procss { }\n"
                        "expect deadlok\n")
    assert [(d.span.line, d.code) for d in diags] == [
        (3, TYPE_ERROR), (3, UNKNOWN_NAME), (4, TYPE_ERROR), (5, UNKNOWN_NAME)]


def test_unknown_names_with_did_you_mean():
    diag = only(KERNEL + "lock memory_lock : rwsem\n"
                "path p in process { down_read(memory_lok); up_read(memory_lock); }\n")
    assert diag.message == "unknown name `memory_lok`" and diag.code == UNKNOWN_NAME
    assert hints(diag) == "did you mean `memory_lock`?"
    assert (diag.span.line, diag.span.col, diag.span.end_col) == (3, 31, 41)


def test_misspelt_verb():
    diag = only(KERNEL + "lock A : spinlock\npath p in process { spin_lok(A); }\n")
    assert diag.message == "unknown function `spin_lok`"
    assert hints(diag) == "did you mean `spin_lock`?"


def test_a_prelude_verb_without_import_kernel():
    diag = only("lock A : spinlock\npath p in process { spin_lock(A); }\n")
    assert hints(diag) == "`spin_lock` comes with `import kernel`"
    diag = only("path p in process { mmap_read_lock(); }\n")
    assert hints(diag) == "`mmap_read_lock` comes with `import kernel`"


def test_verb_on_the_wrong_lock_kind():
    diag = only(KERNEL + "lock A : spinlock\npath p in process { down_read(A); }\n")
    assert diag.message == "`down_read` wants rwsem for `l`, but `A` is a spinlock"
    assert hints(diag) == "a spinlock is taken with spin_lock / spin_unlock"


def test_wrong_arity_and_arguments():
    diags = diagnostics(KERNEL + "lock A : spinlock\nlock M : mutex\npath p in process {\n"
                        "  spin_lock(A, M);\n  spin_lock();\n  acquire(A, mood = read);\n"
                        "  acquire(A, mode = read, mode = write);\n  acquire(l = A, read);\n}\n")
    messages = [d.message for d in diags]
    assert messages == [
        "`spin_lock` takes 1 argument, got 2",
        "`spin_lock` is missing argument `l`",
        "`acquire` has no parameter `mood`",
        "parameter `mode` is given twice",
        "positional argument after a named one",
    ]
    assert hints(diags[0]) == "signature: spin_lock(l: spinlock)"
    assert hints(diags[2]) == "did you mean `mode`?"


def test_unknown_context_and_type():
    diag = only("path p in procss { }\n")
    assert diag.message == "unknown execution context `procss`"
    assert hints(diag) == "did you mean `process`?"
    diag = only("fn f(l: mutx) { }\n")
    assert diag.message == "unknown type `mutx`" and hints(diag) == "did you mean `mutex`?"


def test_unknown_kinds_know_the_kernel_type_names():
    assert hints(only("lock S : rw_semaphore\n")) == "the kernel's `rw_semaphore` is `rwsem` here"
    assert hints(only("lock S : spinlok\n")) == "did you mean `spinlock`?"
    assert hints(only("lock S : revocable\n")) == \
        "`revocable` is an object kind: `object NAME : revocable`"
    assert hints(only("object o : mutex\n")) == "`mutex` is a lock kind: `lock NAME : mutex`"


def test_duplicate_declarations():
    diag = only("lock A : mutex\nobject A : flag\n")
    assert diag.message == "`A` is already declared on line 1" and diag.span.line == 2
    diag = only("fn f() { }\npath f in process { }\n")
    assert diag.message == "`f` is already declared on line 1"


def test_a_clash_with_the_prelude_is_reported_in_the_spec():
    diag = only(KERNEL + "lock mmap_lock : rwsem\n")
    assert diag.span.file == "spec.lspec" and diag.span.line == 2
    assert diag.message.startswith("`mmap_lock` is already declared at <kernel.lspec>:")
    assert "comes from <kernel.lspec>" in hints(diag)


def test_builtin_names_cannot_be_redeclared():
    assert only("fn acquire() { }\n").message == \
        "`acquire` is a builtin name and cannot be redeclared"
    assert only("lock GFP_KERNEL : mutex\n").message == \
        "`GFP_KERNEL` is a builtin name and cannot be redeclared"


def test_expect_unknown_code_or_scenario():
    diags = diagnostics("path p in process { }\nscenario s = p()\n"
                        "expect t: deadlock\nexpect s: deadlok\n")
    assert [d.message for d in diags] == ["unknown scenario `t`",
                                          "unknown finding code `deadlok`"]
    assert hints(diags[1]) == "did you mean `deadlock`?"


def test_expect_pass_with_findings_is_contradictory():
    assert only("expect pass, deadlock\n").message == \
        "`pass` cannot be expected together with findings"


def test_recursive_functions():
    diag = only("fn a() { b(); }\nfn b() { if nondet() { a(); } }\n")
    assert diag.message == "recursive call: a -> b -> a" and diag.span.line == 1
    assert only("fn a() { a(); }\n").message == "recursive call: a -> a"


def test_cyclic_order():
    diag = only(KERNEL + "lock A, B, C : mutex\norder A -> B -> C\norder C -> A\n")
    assert diag.message == "declared lock order is cyclic: A -> B -> C -> A"


def test_order_between_locks_of_one_class():
    diag = only("lock X1, X2 : mutex class X\norder X1 -> X2\n")
    assert diag.message == "`X1` and `X2` share lock class `X`, so an order between them is " \
                           "a cycle"


def test_order_names_unknown_lock():
    assert only("lock A : mutex\norder A -> B\n").message == "unknown lock `B`"


def test_path_called_as_a_function():
    diag = only("path p in process { }\npath q in process { p(); }\n")
    assert diag.message == "unknown function `p`" and "is a path" in hints(diag)


def test_scenario_errors():
    diags = diagnostics("fn f() { }\npath p(b) in process { }\nobject buf : flag\n"
                        "scenario s = f() || p() || 20 * p(buf) || p(buf) @ 99\n")
    assert [d.message for d in diags] == [
        "unknown path `f`", "`p` is missing argument `b`", "a thread count is from 1 to 16",
        "CPUs are numbered from 0 to 63"]
    assert "is a fn; a scenario runs paths" in hints(diags[0])


def test_a_path_with_parameters_must_run_somewhere():
    diag = only("path p(b) in process { }\n")
    assert diag.message == "path `p` takes parameters but no scenario runs it"


def test_conditions_and_values():
    diags = diagnostics(KERNEL + "lock A : mutex\nobject f : flag\npath p in process {\n"
                        "  if A { }\n  if 3 { }\n  mutex_lock(held(A));\n  held(A);\n"
                        "  if mutex_lock(A) { }\n  acquire(A, trylock = f);\n}\n")
    assert [d.message for d in diags] == [
        "`A` is a mutex, not a condition",
        "not a condition",
        "a value here is a name, a literal or `lock_of(FENCE)`",
        "`held` is a condition, not a statement",
        "`mutex_lock` does not return a condition",
        "`trylock` of `acquire` is `true` or `false`",
    ]


def test_bool_functions_must_return_a_value_on_every_way_through():
    diag = only("fn f(b) -> bool { if revoked(b) { return true; } }\n")
    assert diag.message == "`f` can end without returning a value"
    compile_ok = compile_text("object b : revocable\n"
                              "fn f() -> bool { if revoked(b) { return true; } else "
                              "{ either { return false; } or { return true; } } }\n"
                              "fn g() -> bool { repeat 2 { return nondet(); } }\n"
                              "path p in process { if f() && g() { } }\n")
    assert compile_ok.diagnostics == ()


def test_return_values_only_in_bool_and_object_functions():
    assert only("fn f() { return true; }\n").message == \
        "only a `-> bool` or `-> object` function returns a value"
    assert only("fn f() -> bool { return; }\n").message == \
        "a `-> bool` function must return a value"
    assert only("fn f() -> int { return true; }\n").message == \
        "a function returns `bool`, `object` or nothing, not `int`"


def test_object_options():
    diags = diagnostics(KERNEL + "lock M : mutex\nfn rel(x: fence) { }\nfn two(a, b) { }\n"
                        "object f : fence(lock = M)\n"
                        "object r : refcounted(release = rel)\n"
                        "object s : refcounted(release = two)\n"
                        "object c : counter(lock = M)\n"
                        "object g : fence(colour = M)\n")
    assert [d.message for d in diags] == [
        "a fence's lock is a spinlock, but `M` is a mutex",
        "release function `rel` takes a fence, but `r` is a refcounted",
        "release function `two` takes at most one parameter (the object)",
        "only a fence takes `lock`",
        "unknown object option `colour`",
    ]


def test_object_initial_values():
    diags = diagnostics('object a : counter = true\nobject b : flag = 2\n'
                        'object m : memory = 1\nobject n : refcounted = "x"\n')
    assert [d.message for d in diags] == [
        "a counter starts as a number", "a flag starts as `true` or `false`",
        "a memory object starts allocated and takes no initial value",
        "a refcounted starts as a number"]


def test_options():
    diags = diagnostics("option lockdep_selftst\noption bound = true\n")
    assert [d.message for d in diags] == ["unknown option `lockdep_selftst`",
                                          "option `bound` takes a number"]
    assert hints(diags[0]) == "did you mean `lockdep_selftest`?"


def test_repeat_bounds():
    assert only("path p in process { repeat 65 { } }\n").message == \
        "`repeat` takes a count from 1 to 64"


def test_imports():
    diag = only("import kernel.nothing\n")
    assert diag.message == "no module `kernel.nothing` to import"
    assert "kernel.dma_resv_order" in hints(diag)
    diag = only("import helpers\n")
    assert diag.message == "no module `helpers` to import"


def test_import_of_a_local_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "locks.lspec").write_text("import kernel\nlock A : mutex\n")
    main = tmp_path / "main.lspec"
    main.write_text("import kernel\nimport lib.locks\npath p in process { mutex_lock(A); "
                    "mutex_unlock(A); }\n")
    loaded = load(str(main), main.read_bytes())
    assert [m.path.rsplit("/", 1)[-1] for m in loaded.modules] == [
        "main.lspec", "kernel.lspec", "locks.lspec"]
    resolved, diags = resolve(loaded.modules, not_imported(loaded))
    assert diags == [] and "A" in resolved.locks


def test_a_local_kernel_file_does_not_shadow_the_prelude(tmp_path):
    (tmp_path / "kernel.lspec").write_text("lock decoy : mutex\n")
    main = tmp_path / "main.lspec"
    main.write_text("import kernel\npath p in process { might_sleep(); }\n")
    loaded = load(str(main), main.read_bytes())
    assert "/model/prelude/" in loaded.modules[1].path


@pytest.mark.parametrize("text", [
    "import kernel\nlock A : spinlock\npath p in process { spin_lock(A); spin_unlock(A); }\n",
    "import kernel\nlock A : ww_mutex\nlock ctx : ww_ctx\n"
    "path p in process { ww_acquire_init(ctx); ww_mutex_lock(A, ctx); ww_mutex_unlock(A); "
    "ww_acquire_fini(ctx); }\n",
    "import kernel\nlock fl : spinlock\nobject f : fence(lock = fl)\nfn cb(x: fence) { }\n"
    "path p in process { if dma_fence_add_callback(f, cb) { } dma_fence_signal(f); }\n",
])
def test_valid_specs_resolve_cleanly(text):
    assert compile_text(text).diagnostics == ()
