"""Resolution of bodies: statements, conditions, calls and their arguments.

Part of the resolution pass (model/resolve.py owns the declarations): every
name is looked up, every call checked against its signature (arity, named
arguments, types), and every condition checked to be one.
"""
from __future__ import annotations

import difflib
from typing import Callable

from model import ast, core
from model.ir import POINTEE_KINDS, THREAD_LOCAL_PREDICATES
from model.span import TYPE_ERROR, UNKNOWN_NAME

MAX_REPEAT = 64

# The verbs that fit each lock kind, for "`down_read` on a spinlock".
VERB_FAMILIES = {
    "spinlock": "spin_lock / spin_unlock", "raw_spinlock": "raw_spin_lock / raw_spin_unlock",
    "rwlock": "read_lock / write_lock", "mutex": "mutex_lock / mutex_unlock",
    "rwsem": "down_read / down_write", "ww_mutex": "ww_mutex_lock / dma_resv_lock",
    "ww_ctx": "ww_acquire_init / ww_acquire_fini", "local_lock": "local_lock / local_unlock",
    "seqlock": "read_seqbegin / write_seqlock", "lockdep_map": "lock_map_acquire",
    "rcu": "rcu_read_lock", "rcu_sched": "rcu_read_lock_sched",
    "srcu": "srcu_read_lock / synchronize_srcu",
}


def did_you_mean(name: str, pool) -> str:
    matches = difflib.get_close_matches(name, sorted(pool), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else ""


def formal_of(params: tuple[ast.Param, ...]) -> list[tuple]:
    """A declared parameter list as (name, allowed types, default) triples."""
    return [(p.name.text, frozenset(t.text for t in p.types), literal_default(p))
            for p in params]


def literal_default(param: ast.Param) -> object:
    """A parameter's default as the core's builtins give theirs (None for NULL)."""
    if param.default is None:
        return core.REQUIRED
    return getattr(param.default, "value", None)


def literal_type(literal) -> str:
    return {ast.IntLit: "int", ast.BoolLit: "bool", ast.NullLit: "null",
            ast.StringLit: "string"}[type(literal)]


def calls_in(node):
    """Every call in a statement or expression tree, iteratively."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Call):
            yield item
            stack.extend(a.value for a in item.args)
        elif isinstance(item, ast.CallStmt):
            stack.append(item.call)
        elif isinstance(item, ast.Block):
            stack.extend(item.stmts)
        elif isinstance(item, ast.If):
            stack.extend(x for x in (item.cond, item.then, item.orelse) if x is not None)
        elif isinstance(item, ast.Either):
            stack.extend(item.branches)
        elif isinstance(item, ast.Repeat):
            stack.append(item.body)
        elif isinstance(item, ast.Assert):
            stack.append(item.cond)
        elif isinstance(item, ast.Let):
            stack.append(item.value)
        elif isinstance(item, ast.Return) and item.value is not None:
            stack.append(item.value)
        elif isinstance(item, ast.Not):
            stack.append(item.operand)
        elif isinstance(item, ast.BoolOp):
            stack.extend(item.operands)
        elif isinstance(item, ast.Compare):
            stack.extend((item.left, item.right))


def if_chain(stmt: ast.If) -> tuple[list[ast.If], ast.Block | None]:
    """`if a {} else if b {} else {}` as its arms and its final `else`."""
    arms: list[ast.If] = []
    node: ast.If | ast.Block | None = stmt
    while isinstance(node, ast.If):
        arms.append(node)
        node = node.orelse
    return arms, node


def is_condition_form(expr: ast.Expr, fns) -> bool:
    """Whether an expression other than a name is a condition by its form (`let`
    reads a condition once; a name is one when it names a flag)."""
    if isinstance(expr, (ast.Not, ast.BoolOp, ast.Compare, ast.BoolLit)):
        return True
    if isinstance(expr, ast.Call):
        builtin = core.BUILTINS.get(expr.name.text)
        if builtin is not None:
            return builtin.role not in ("value", "object")
        return not is_value_call(expr, fns)
    return False


def is_value_call(expr: ast.Expr, fns) -> bool:
    """A read through a pointer: `deref(p)`, or a call of a `-> object` function."""
    if not isinstance(expr, ast.Call):
        return False
    builtin = core.BUILTINS.get(expr.name.text)
    if builtin is not None:
        return builtin.role == "object"
    fn = fns.get(expr.name.text)
    return fn is not None and fn.result is not None and fn.result.text == "object"


def _readable_in_a_wait(name: str, combined: bool) -> bool:
    """A builtin a wait condition may call: a condition other than `nondet`, and,
    beside other operands (`combined`), not one private to the waiting thread."""
    builtin = core.BUILTINS.get(name)
    return (builtin is not None and builtin.role == "cond" and name != "nondet"
            and not (combined and name in THREAD_LOCAL_PREDICATES))


def predicate_of(fn: ast.FnDecl) -> ast.Expr | None:
    """What a `-> bool` function returns when its body is just `return COND;` (the
    short form `fn f(..) -> bool = COND;`): a wait condition may call it."""
    stmts = fn.body.stmts
    if fn.result is None or fn.result.text != "bool" or len(stmts) != 1 or \
            not isinstance(stmts[0], ast.Return) or stmts[0].value is None:
        return None
    return stmts[0].value


def always_returns(block: ast.Block) -> bool:
    """Whether every way through `block` ends at a `return`."""
    for stmt in block.stmts:
        if isinstance(stmt, ast.Return):
            return True
        if isinstance(stmt, ast.Block) and always_returns(stmt):
            return True
        if isinstance(stmt, ast.If):
            arms, orelse = if_chain(stmt)
            if orelse is not None and always_returns(orelse) and all(
                    always_returns(arm.then) for arm in arms):
                return True
        if isinstance(stmt, ast.Either) and all(always_returns(b) for b in stmt.branches):
            return True
        if isinstance(stmt, ast.Repeat) and always_returns(stmt.body):
            return True
    return False


class BodyChecker:
    def __init__(self, locks, objects, fns, paths, elsewhere: dict[str, str],
                 error: Callable[..., None]):
        self.locks = locks
        self.objects = objects
        self.fns = fns
        self.paths = paths
        self.elsewhere = elsewhere
        self.error = error

    # -------------------------------------------------------------- functions
    def check_fn(self, fn: ast.FnDecl) -> None:
        self.check_params(fn.params)
        result = fn.result.text if fn.result is not None else None
        if result not in (None, "bool", "object"):
            self.error(TYPE_ERROR, f"a function returns `bool`, `object` or nothing, not "
                       f"`{result}`", fn.result.span,
                       "`-> bool` is a condition; `-> object` gives what a pointer points to")
            result = "bool"
        self.check_block(fn.body, _param_map(fn.params), result)
        if result is not None and not always_returns(fn.body):
            self.error(TYPE_ERROR, f"`{fn.name.text}` can end without returning a value",
                       fn.name.span, f"end every way through a `-> {result}` function with "
                       + ("`return COND;`" if result == "bool" else "`return deref(p);`"))

    def check_path(self, path: ast.PathDecl) -> None:
        self.check_params(path.params)
        for param in path.params:
            if param.default is not None:
                self.error(TYPE_ERROR, "a path's parameters have no defaults: a scenario "
                           "names every argument", param.default.span)
        self.check_block(path.body, _param_map(path.params), None)

    def check_params(self, params: tuple[ast.Param, ...]) -> None:
        seen = set()
        for before, param in zip((None,) + params, params):
            if before is not None and before.default is not None and param.default is None:
                self.error(TYPE_ERROR, f"`{param.name.text}` follows a parameter with a "
                           "default, so it needs one too", param.span)
            if param.name.text in seen:
                self.error(TYPE_ERROR, f"duplicate parameter `{param.name.text}`", param.span)
            seen.add(param.name.text)
            for t in param.types:
                if t.text not in core.TYPE_NAMES:
                    self.error(TYPE_ERROR, f"unknown type `{t.text}`", t.span,
                               did_you_mean(t.text, core.TYPE_NAMES))
            self.check_default(param)

    def check_default(self, param: ast.Param) -> None:
        """A default is a literal of the parameter's type; what follows it has one too,
        as in C++, so positional arguments fill parameters left to right."""
        if param.default is None:
            return
        actual = literal_type(param.default)
        types = frozenset(t.text for t in param.types)
        if types and not core.type_matches(actual, types):
            self.error(TYPE_ERROR, f"the default of `{param.name.text}` is a {actual}, not "
                       f"a {' or '.join(sorted(types))}", param.default.span)

    # ------------------------------------------------------------- statements
    def check_block(self, block: ast.Block, params, result: str | None) -> None:
        for stmt in block.stmts:
            if isinstance(stmt, ast.Let):
                params = self.check_let(stmt, params)
            else:
                self.check_stmt(stmt, params, result)

    def check_let(self, stmt: ast.Let, params) -> dict:
        """A local is visible in the rest of its block; its type is `bool` for a
        condition (read once, here) and the value's own type otherwise."""
        name = stmt.name.text
        if name in params or name in self.locks or name in self.objects or \
                name in self.fns or core.constant_type(name) or name in core.BUILTINS:
            self.error(TYPE_ERROR, f"`{name}` is already a name here; a local needs a name "
                       "of its own", stmt.name.span)
            return params
        if self.is_condition(stmt.value, params):
            self.check_cond(stmt.value, params)
            kind = "bool"
        elif is_value_call(stmt.value, self.fns):
            self.check_call(stmt.value, params, statement=False, value=True)
            kind = None             # an object or NULL: known when the pointer is read
        else:
            kind = self.check_value(stmt.value, params)
        types = (ast.Ident(kind, stmt.name.span),) if kind else ()
        return {**params, name: ast.Param(stmt.name, types, stmt.span)}

    def is_condition(self, expr: ast.Expr, params) -> bool:
        if not isinstance(expr, ast.Name):
            return is_condition_form(expr, self.fns)
        if expr.ident.text in params:
            types = params[expr.ident.text].types
            return len(types) == 1 and types[0].text == "flag"
        declared = self.objects.get(expr.ident.text)
        return declared is not None and declared.kind == "flag"

    def check_stmt(self, stmt: ast.Stmt, params, result: str | None) -> None:
        if isinstance(stmt, ast.CallStmt):
            self.check_call(stmt.call, params, statement=True)
        elif isinstance(stmt, ast.Block):
            self.check_block(stmt, params, result)
        elif isinstance(stmt, ast.If):
            arms, orelse = if_chain(stmt)
            for arm in arms:
                self.check_cond(arm.cond, params)
                self.check_block(arm.then, params, result)
            if orelse is not None:
                self.check_block(orelse, params, result)
        elif isinstance(stmt, ast.Either):
            for branch in stmt.branches:
                self.check_block(branch, params, result)
        elif isinstance(stmt, ast.Repeat):
            if not 1 <= stmt.count <= MAX_REPEAT:
                self.error(TYPE_ERROR, f"`repeat` takes a count from 1 to {MAX_REPEAT}",
                           stmt.span)
            self.check_block(stmt.body, params, result)
        elif isinstance(stmt, ast.Assert):
            self.check_cond(stmt.cond, params)
        elif isinstance(stmt, ast.Return):
            self.check_return(stmt, params, result)

    def check_return(self, stmt: ast.Return, params, result: str | None) -> None:
        if stmt.value is not None and result is None:
            self.error(TYPE_ERROR, "only a `-> bool` or `-> object` function returns a value",
                       stmt.span, "declare the function `fn NAME(...) -> bool`, or write "
                       "`return;`")
        elif stmt.value is None and result is not None:
            self.error(TYPE_ERROR, f"a `-> {result}` function must return a value", stmt.span,
                       "write `return true;` or `return false;`" if result == "bool"
                       else "write `return deref(p);`, `return x;` or `return NULL;`")
        elif stmt.value is not None and result == "object":
            self.check_object_result(stmt.value, params)
        elif stmt.value is not None:
            self.check_cond(stmt.value, params)

    def check_object_result(self, expr: ast.Expr, params) -> None:
        """What a `-> object` function returns: a pointer read, an object or NULL."""
        if is_value_call(expr, self.fns):
            self.check_call(expr, params, statement=False, value=True)
            return
        kind = self.check_value(expr, params)
        if kind is not None and kind not in POINTEE_KINDS and kind != "null":
            self.error(TYPE_ERROR, f"a `-> object` function returns an object a pointer can "
                       f"point to, or `NULL`, not a {kind}", expr.span)

    # ------------------------------------------------------------- conditions
    def check_cond(self, expr: ast.Expr, params) -> None:
        if isinstance(expr, ast.Not):
            self.check_cond(expr.operand, params)
        elif isinstance(expr, ast.BoolOp):
            for operand in expr.operands:
                self.check_cond(operand, params)
        elif isinstance(expr, ast.Compare):
            for side in (expr.left, expr.right):
                self.check_operand(side, params)
        elif isinstance(expr, ast.Call):
            self.check_call(expr, params, statement=False)
        elif isinstance(expr, ast.Name):
            kind = self.name_type(expr.ident, params)
            if kind not in (None, "flag", "bool", "cond"):
                self.error(TYPE_ERROR, f"`{expr.ident.text}` is a {kind}, not a condition",
                           expr.span, "conditions are flags, predicates like `revoked(b)`, "
                           "comparisons, or calls of `-> bool` functions")
        elif isinstance(expr, (ast.IntLit, ast.StringLit, ast.NullLit)):
            self.error(TYPE_ERROR, "not a condition", expr.span,
                       "conditions are `true`, `false`, flags, predicates like "
                       "`revoked(b)`, comparisons, or calls of `-> bool` functions")

    def check_wait_cond(self, expr: ast.Expr, params, combined: bool = False) -> None:
        """A condition a waiter re-reads at every check, in one step: flags,
        predicates and comparisons, with `!`, `&&` and `||` over shared state."""
        inner = expr
        while isinstance(inner, ast.Not):
            inner = inner.operand
        if isinstance(inner, ast.BoolOp):
            for operand in inner.operands:
                self.check_wait_cond(operand, params, combined=True)
            return
        pure = isinstance(inner, (ast.BoolLit, ast.Name, ast.Compare)) or (
            isinstance(inner, ast.Call) and _readable_in_a_wait(inner.name.text, combined))
        if isinstance(inner, ast.Call) and inner.name.text in self.fns:
            pure = self.is_wait_predicate(inner.name.text, combined, set())
        if not pure:
            self.error(TYPE_ERROR, "a wait condition is re-read at every check: flags, "
                       "predicates and comparisons, and `!`, `&&`, `||` of shared ones",
                       expr.span, "wait on shared state and test the rest after the wait")
            return
        self.check_cond(expr, params)

    def is_wait_predicate(self, name: str, combined: bool, seen: set[str]) -> bool:
        """Whether a call of function `name` may be read in one step in a wait
        condition: it returns one, made of builtins and such functions."""
        body = predicate_of(self.fns[name])
        if body is None or name in seen:
            return False
        for call in calls_in(body):
            if call.name.text in self.fns:
                if not self.is_wait_predicate(call.name.text, combined, seen | {name}):
                    return False
            elif not _readable_in_a_wait(call.name.text, combined):
                return False
        return True

    def check_operand(self, expr: ast.Expr, params) -> None:
        """A side of a comparison: a value, or `count(obj)`."""
        if isinstance(expr, ast.Call) and expr.name.text == "count":
            self.check_call(expr, params, statement=False)
        elif isinstance(expr, (ast.Not, ast.BoolOp, ast.Compare)):
            self.error(TYPE_ERROR, "a comparison compares values, not conditions", expr.span)
        else:
            self.check_value(expr, params)

    def check_value(self, expr: ast.Expr, params) -> str | None:
        """The type of a value (None when it cannot be known before lowering)."""
        if isinstance(expr, ast.Name):
            return self.name_type(expr.ident, params)
        if isinstance(expr, ast.Call) and expr.name.text == "lock_of":
            self.check_call(expr, params, statement=False)
            return self.lock_of_type(expr, params)
        if isinstance(expr, ast.IntLit):
            return "int"
        if isinstance(expr, ast.BoolLit):
            return "bool"
        if isinstance(expr, ast.NullLit):
            return "null"
        if isinstance(expr, ast.StringLit):
            return "string"
        self.error(TYPE_ERROR, "a value here is a name, a literal or `lock_of(FENCE)`",
                   expr.span, "a condition cannot be passed as a value")
        return None

    def lock_of_type(self, call: ast.Call, params) -> str | None:
        """The kind of a global fence's lock; None for a fence parameter."""
        if len(call.args) == 1 and isinstance(call.args[0].value, ast.Name) and \
                call.args[0].value.ident.text not in params:
            fence = self.objects.get(call.args[0].value.ident.text)
            lock = fence.options.get("lock") if fence is not None else None
            if lock is not None and lock.text in self.locks:
                return self.locks[lock.text].kind
        return None

    def name_type(self, ident: ast.Ident, params) -> str | None:
        """The type of a name, None when it is an untyped parameter."""
        name = ident.text
        if name in params:
            types = params[name].types
            return types[0].text if len(types) == 1 else None
        if name in self.locks:
            return self.locks[name].kind
        if name in self.objects:
            return self.objects[name].kind
        if name in self.fns:
            return "fn"
        ctype = core.constant_type(name)
        if ctype:
            return ctype
        pool = list(params) + list(self.locks) + list(self.objects) + list(self.fns)
        hint = did_you_mean(name, pool + list(core.GFP_CONSTANTS))
        if name in self.elsewhere:
            hint = f"`{name}` comes with `import {self.elsewhere[name]}`"
        elif name in self.paths:
            hint = f"`{name}` is a path; a path cannot be passed as a value"
        self.error(UNKNOWN_NAME, f"unknown name `{name}`", ident.span, hint)
        return None

    # ------------------------------------------------------------------ calls
    def check_call(self, call: ast.Call, params, statement: bool, value: bool = False) -> None:
        name = call.name.text
        signature = self.signature(name)
        if signature is None:
            self.unknown_function(call, params)
            return
        formal, role = signature
        if role == "object" and not value:
            self.error(TYPE_ERROR, f"`{name}` gives what a pointer points to", call.span,
                       f"read it once into a local: `let x = {name}(...);`, then use `x`")
        elif not statement and role == "stmt":
            self.error(TYPE_ERROR, f"`{name}` does not return a condition", call.span,
                       "only `-> bool` functions and predicates can be used in conditions")
        if statement and role in ("cond", "value"):
            self.error(TYPE_ERROR, f"`{name}` is a condition, not a statement", call.span,
                       f"use it in `if {name}(...) {{ ... }}` or `assert {name}(...);`")
        self.check_args(call, formal, params)

    def unknown_function(self, call: ast.Call, params) -> None:
        name = call.name.text
        hint = did_you_mean(name, list(self.fns) + list(core.BUILTINS))
        if name in self.elsewhere:
            hint = f"`{name}` comes with `import {self.elsewhere[name]}`"
        elif name in self.paths:
            hint = (f"`{name}` is a path: paths run side by side in a scenario; to share "
                    "code between paths, put it in a `fn`")
        self.error(UNKNOWN_NAME, f"unknown function `{name}`", call.name.span, hint)
        for arg in call.args:
            self.check_value(arg.value, params)

    def signature(self, name: str):
        if name in core.BUILTINS:
            builtin = core.BUILTINS[name]
            return [(p.name, p.types, p.default) for p in builtin.params], builtin.role
        if name in self.fns:
            fn = self.fns[name]
            if fn.result is None:
                return formal_of(fn.params), "stmt"
            return formal_of(fn.params), "object" if fn.result.text == "object" else "effect"
        return None

    def check_args(self, call: ast.Call, formal, params) -> None:
        names = [f[0] for f in formal]
        bound: dict[str, ast.Arg] = {}
        seen_keyword = False
        positional = 0
        for arg in call.args:
            if arg.keyword is None:
                if seen_keyword:
                    self.error(TYPE_ERROR, "positional argument after a named one", arg.span)
                elif positional >= len(formal):
                    self.error(TYPE_ERROR, f"`{call.name.text}` takes {_count(formal)}, "
                               f"got {len(call.args)}", arg.span,
                               "signature: " + _signature_text(call.name.text, formal))
                    break
                else:
                    bound[names[positional]] = arg
                positional += 1
                continue
            seen_keyword = True
            key = arg.keyword.text
            if key not in names:
                self.error(TYPE_ERROR, f"`{call.name.text}` has no parameter `{key}`",
                           arg.keyword.span, did_you_mean(key, names)
                           or "signature: " + _signature_text(call.name.text, formal))
            elif key in bound:
                self.error(TYPE_ERROR, f"parameter `{key}` is given twice", arg.span)
            else:
                bound[key] = arg
        for pname, types, default in formal:
            if pname not in bound and default is core.REQUIRED:
                self.error(TYPE_ERROR, f"`{call.name.text}` is missing argument `{pname}`",
                           call.span, "signature: " + _signature_text(call.name.text, formal))
        for pname, types, _ in formal:
            if pname in bound:
                self.check_arg_type(call, pname, types, bound[pname], params)

    def check_arg_type(self, call, pname, types, arg: ast.Arg, params) -> None:
        value = arg.value
        if "cond" in types:
            self.check_wait_cond(value, params)
            return
        actual = self.check_value(value, params)
        if "bool" in types and actual is not None and actual != "bool":
            self.error(TYPE_ERROR, f"`{pname}` of `{call.name.text}` is `true` or `false`",
                       value.span, "it is fixed when the spec is written; use `if` to "
                       "choose between two calls")
            return
        if actual is None or not types or "bool" in types:
            return
        if not core.type_matches(actual, types):
            shown = " or ".join(sorted(types))
            what = f"`{value.ident.text}`" if isinstance(value, ast.Name) else "the argument"
            self.error(TYPE_ERROR, f"`{call.name.text}` wants {shown} for `{pname}`, "
                       f"but {what} is a {actual}", value.span,
                       f"a {actual} is taken with {VERB_FAMILIES[actual]}"
                       if actual in VERB_FAMILIES else "")


def _param_map(params: tuple[ast.Param, ...]) -> dict[str, ast.Param]:
    return {p.name.text: p for p in params}


def _count(formal) -> str:
    required = sum(1 for f in formal if f[2] is core.REQUIRED)
    if required == len(formal):
        return f"{required} argument" + ("" if required == 1 else "s")
    return f"{required} to {len(formal)} arguments"


def _signature_text(name: str, formal) -> str:
    parts = []
    for pname, types, default in formal:
        text = pname + (": " + " | ".join(sorted(types)) if types else "")
        if default is not core.REQUIRED:
            text += " = " + ("NULL" if default is None else str(default).lower())
        parts.append(text)
    return f"{name}({', '.join(parts)})"

