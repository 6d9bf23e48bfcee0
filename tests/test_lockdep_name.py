"""`lock NAME : KIND lockdep "..."`: the kernel's class name of a lock."""
from __future__ import annotations

from tests.conftest import compile_text

SPEC = """import kernel
lock memory_lock : rwsem lockdep "&vdev->memory_lock"
lock X1, X2 : mutex class X lockdep "&x->lock/1"
lock plain : mutex
lock work : lockdep_map lockdep "(work_completion)(&vdev->work)"
"""


def test_lockdep_name_reaches_the_ir():
    compiled = compile_text(SPEC)
    assert compiled.diagnostics == ()
    locks = compiled.program.locks
    assert locks["memory_lock"].lockdep == "&vdev->memory_lock"
    assert (locks["X1"].lock_class, locks["X1"].lockdep) == ("X", "&x->lock/1")
    assert locks["X2"].lockdep == "&x->lock/1"
    assert locks["plain"].lockdep is None
    assert locks["work"].lockdep == "(work_completion)(&vdev->work)"


def test_lockdep_is_a_keyword_that_wants_a_string():
    compiled = compile_text("import kernel\nlock A : mutex lockdep A\n")
    (diag,) = compiled.diagnostics
    assert diag.code == "syntax-error"
    assert (diag.span.line, diag.span.col) == (2, 24)
    compiled = compile_text("import kernel\nlock lockdep : mutex\n")
    assert [d.code for d in compiled.diagnostics] == ["syntax-error"]
