"""Lowering's pointer reads and what it knows before the run: a read of a pointer
branches once per target and lowers the rest once per value; a verb given NULL
is the kernel's NULL dereference; a test whose value is known (a local, a
comparison of values) is not lowered, and neither is the arm it rules out."""
from __future__ import annotations

from typing import Callable

from model import ast, core, ir
from model.lower_frame import Frame, Value
from model.resolve_body import is_value_call


class _Reads:
    """Methods of model.lower._CodeBuilder (emit, stmts, compare and lowerer are
    its own)."""

    def read(self, call: ast.Call, then: Callable[[Value], int], frame: Frame) -> int:
        """A pointer read, `deref(p)` or a `-> object` function: code that goes on to
        `then(x)` for each object x (or NULL) it can give."""
        if call.name.text in self.lowerer.resolved.fns:
            fn = self.lowerer.resolved.fns[call.name.text]
            callee = self.lowerer.enter(fn, call, frame).returning_value(then)
            return self.stmts(fn.body.stmts, then(NULL), callee)
        pointer = self.lowerer.bind_builtin(call, frame)["p"].value
        site = ir.Site(call.span, frame.stack)
        targets = self.lowerer.targets.get(pointer, ())
        # One test per target, in turn; NULL when none matched. A read is one step
        # when the pointer has one target; with more, a pointer moved back to a
        # target already tested can be seen as NULL: a spurious path, never a lost one.
        entry = then(NULL)
        for number in range(len(targets), 0, -1):
            target = targets[number - 1]
            kind = self.lowerer.resolved.objects[target].kind
            test = ir.CPred("points_to", (pointer, number, target))
            entry = self.emit(ir.Branch(test, site, then(Value(kind, target)), entry))
        return entry

    def value_return(self, value: ast.Expr, frame: Frame) -> int:
        """`return x;` in a `-> object` function."""
        if is_value_call(value, self.lowerer.resolved.fns):
            return self.read(value, frame.ret_value, frame)
        return frame.ret_value(self.lowerer.value(value, frame))

    def null_use(self, call: ast.Call, args: dict[str, Value], site: ir.Site, k: int) -> int:
        """A verb given a pointer read as NULL: the kernel's NULL pointer dereference."""
        param = _null_object(call.name.text, args)
        return self.emit(ir.Assert(
            ir.CConst(False), f"NULL pointer dereference: `{call.name.text}` given NULL for "
            f"`{param}`", site, k, finding="use-after-free"))

    def static_truth(self, expr: ast.Expr, frame: Frame) -> bool | None:
        """The value of a condition known when the spec is lowered, or None."""
        if isinstance(expr, ast.BoolLit):
            return expr.value
        if isinstance(expr, ast.Not):
            inner = self.static_truth(expr.operand, frame)
            return None if inner is None else not inner
        if isinstance(expr, ast.Name):
            value = self.lowerer.value(expr, frame)
            if value.type == "cond":
                return self.static_truth(*value.value)
            return _truth_of(value)
        if isinstance(expr, ast.Compare) and not any(
                isinstance(side, ast.Call) and side.name.text == "count"
                for side in (expr.left, expr.right)):
            return self.compare(expr, frame).value
        if isinstance(expr, ast.BoolOp):
            known = [self.static_truth(operand, frame) for operand in expr.operands]
            decisive = expr.op == "||"          # what one operand settles the whole to
            if decisive in known:
                return decisive
            return None if None in known else not decisive
        return None

    def open_operands(self, expr: ast.BoolOp, frame: Frame) -> list[ast.Expr]:
        """The operands of `&&`/`||` up to one that settles it, without those known
        to leave it open: `a && true && b` is `a && b`, `a && false && b` is false
        once `a` holds, and `b` is never lowered."""
        decisive = expr.op == "||"
        kept = []
        for operand in expr.operands:
            known = self.static_truth(operand, frame)
            if known is None:
                kept.append(operand)
            elif known == decisive:
                kept.append(ast.BoolLit(known, operand.span))
                break
        return kept or [ast.BoolLit(not decisive, expr.span)]


NULL = Value("null", None)
# kfree(NULL) and kfree_rcu(NULL) do nothing; every other verb dereferences.
NULL_IS_NOTHING = frozenset({"free", "free_after_grace"})


def _null_object(name: str, args: dict[str, Value]) -> str | None:
    """The parameter verb `name` was given NULL for, where it takes an object and
    not NULL (a pointer read as NULL); None if there is none."""
    for param in core.BUILTINS[name].params:
        if args[param.name].type == "null" and "null" not in param.types and (
                param.types & ir.OBJECT_KINDS or "object" in param.types):
            return param.name
    return None


def _truth_of(value: Value) -> bool | None:
    """A local known before the run: a condition read once, or what a pointer read
    gave (an object is true, NULL false, as `if (p)` in C)."""
    if value.type == "bool":
        return value.value
    if value.type == "null":
        return False
    if value.type in ir.POINTEE_KINDS:
        return True
    return None


def _once(then: Callable[[Value], int]) -> Callable[[Value], int]:
    """`then`, lowered once per value: a pointer read's branches share their code."""
    done: dict[tuple, int] = {}

    def lowered(value: Value) -> int:
        key = (value.type, value.value)
        if key not in done:
            done[key] = then(value)
        return done[key]
    return lowered
