"""Boolean terms of the encoding, built with as few calls into z3 as possible.

The encoding combines hundreds of thousands of terms per spec, most of them
already true or false. z3.is_true / z3.is_false answer through a declaration
object and half a dozen API calls, and z3.And / Or / Not / Implies / PbLe /
PbEq re-derive the context and coerce every argument's sort. For arguments
that are already Booleans of one context, one API call makes the very same
term (z3 shares equal terms), so the solver is asked exactly what it was asked
before; anything else goes through z3's own functions, which coerce it or
report the mismatch as they always did.
"""
from __future__ import annotations

import ctypes

import z3


def context_of(items, ctx: z3.Context | None) -> z3.Context:
    """The context of the terms among items, else `ctx`: every term of one run of
    the engine lives in that run's context, and constants alone do not say which."""
    for item in items:
        if isinstance(item, z3.AstRef):
            return item.ctx
    if ctx is None:
        raise ValueError("only constants: the z3 context must be given")
    return ctx


def term_truth(item) -> int:
    """1 if the item is z3's true, -1 if z3's false, 0 otherwise (a Python bool too), as
    z3.is_true / z3.is_false say."""
    if isinstance(item, z3.ExprRef):
        return z3.Z3_get_bool_value(item.ctx.ref(), item.ast)
    return 0


def truth(item) -> int:
    """1 if the item is true, -1 if false, 0 otherwise: a Python bool, or a z3 term."""
    if item is True:
        return 1
    if item is False:
        return -1
    return term_truth(item)


def _one_context(parts) -> z3.Context | None:
    """The parts' context, if every part is a z3 Boolean of it."""
    ctx = parts[0].ctx if parts and isinstance(parts[0], z3.BoolRef) else None
    for part in parts:
        if not isinstance(part, z3.BoolRef) or part.ctx is not ctx:
            return None
    return ctx


def _array(parts):
    array = (z3.Ast * len(parts))()
    for index, part in enumerate(parts):
        array[index] = part.ast
    return array


def _nary(make, fallback, parts) -> z3.BoolRef:
    """z3.And(parts) or z3.Or(parts)."""
    ctx = _one_context(parts)
    if ctx is None:
        return fallback(parts)
    return z3.BoolRef(make(ctx.ref(), len(parts), _array(parts)), ctx)


def conj(*items, ctx: z3.Context | None = None) -> z3.BoolRef:
    return _junction(items, ctx, 1, z3.Z3_mk_and, z3.And)


def disj(*items, ctx: z3.Context | None = None) -> z3.BoolRef:
    return _junction(items, ctx, -1, z3.Z3_mk_or, z3.Or)


def _junction(items, ctx, neutral: int, make, fallback) -> z3.BoolRef:
    """conj (`neutral` 1: true items drop out, a false one decides) and disj (-1:
    false items drop out, a true one decides)."""
    parts = []
    for item in items:
        value = truth(item)
        if value == neutral:
            continue
        if value == -neutral:
            return z3.BoolVal(neutral == -1, context_of(items, ctx))
        parts.append(item)
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return z3.BoolVal(neutral == 1, context_of(items, ctx))
    return _nary(make, fallback, parts)


def negate(item, ctx: z3.Context | None = None) -> z3.BoolRef:
    value = truth(item)
    if value == 1:
        return z3.BoolVal(False, context_of((item,), ctx))
    if value == -1:
        return z3.BoolVal(True, context_of((item,), ctx))
    if isinstance(item, z3.BoolRef):
        return z3.BoolRef(z3.Z3_mk_not(item.ctx.ref(), item.ast), item.ctx)
    return z3.Not(item)


def implies(a, b) -> z3.BoolRef:
    """z3.Implies(a, b)."""
    ctx = _one_context((a, b))
    if ctx is None:
        return z3.Implies(a, b)
    return z3.BoolRef(z3.Z3_mk_implies(ctx.ref(), a.ast, b.ast), ctx)


def _pseudo_boolean(make, fallback, items: list, k: int) -> z3.BoolRef:
    """z3.PbLe / z3.PbEq of the items, each with coefficient 1."""
    ctx = _one_context(items)
    if ctx is None or not isinstance(k, int) or not -2**31 <= k < 2**31:
        return fallback([(item, 1) for item in items], k)
    ones = (ctypes.c_int * len(items))(*([1] * len(items)))
    return z3.BoolRef(make(ctx.ref(), len(items), _array(items), ones, k), ctx)


def at_most(items: list, k: int) -> z3.BoolRef:
    """z3.PbLe([(item, 1) ...], k): at most k of the items hold."""
    return _pseudo_boolean(z3.Z3_mk_pble, z3.PbLe, items, k)


def exactly(items: list, k: int) -> z3.BoolRef:
    """z3.PbEq([(item, 1) ...], k): exactly k of the items hold."""
    return _pseudo_boolean(z3.Z3_mk_pbeq, z3.PbEq, items, k)


def add_all(solver: z3.Solver, facts) -> None:
    """solver.add(facts), one API call per fact that is a Boolean of the solver's context
    (Solver.add casts every fact to a Boolean first, at several calls each)."""
    ctx = solver.ctx
    for fact in facts:
        if isinstance(fact, z3.BoolRef) and fact.ctx is ctx:
            z3.Z3_solver_assert(ctx.ref(), solver.solver, fact.ast)
        else:
            solver.add(fact)
