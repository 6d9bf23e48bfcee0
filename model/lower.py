"""Lowering: inline every call and turn a resolved spec into core IR threads.

Code is built backwards: each statement is lowered with the index of what
follows it, so branches share their continuation and the result is a DAG.
Conditions become control flow (`a && b` short-circuits, a trylock is a
two-way op, a `-> bool` function's `return e` jumps to the caller's targets).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from model import ast, core, ir
from model.lower_frame import Frame, LoweringError, Value
from model.lower_reads import NULL_IS_NOTHING, _null_object, _once, _Reads, _truth_of
from model.resolve_body import if_chain, is_condition_form, is_value_call, predicate_of
from model.span import Span

__all__ = ["Frame", "LoweringError", "Value", "_CodeBuilder"]

MAX_OPS_PER_CODE = 200_000
MAX_WORK_PER_CODE = 1_000_000   # statements and conditions lowered, emitted or not
MAX_LOWERING_DEPTH = 200        # blocks, conditions and calls nested after inlining


class _CodeBuilder(_Reads):
    def __init__(self, lowerer: "_Lowerer", context: ir.Context, kthread: str | None = None):
        self.lowerer = lowerer
        self.context = context
        self.kthread = kthread         # the function this code runs, if kthread_run() ran it
        self.ops: list[ir.Op] = []
        self.work = 0
        self.depth = 0
        self.failed = False            # a statement could not be lowered

    def emit(self, op: ir.Op) -> int:
        if len(self.ops) >= MAX_OPS_PER_CODE:
            self.lowerer.error(f"this thread is too large: more than {MAX_OPS_PER_CODE} "
                               "steps once calls are inlined and `repeat` unrolled",
                               op.site.span, op.site.stack)
            raise LoweringError(fatal=True)
        self.ops.append(op)
        return len(self.ops) - 1

    def count_work(self, span: Span, frame: Frame) -> None:
        """Work is bounded, so that inlining and unrolling cannot run away."""
        self.work += 1
        if self.work > MAX_WORK_PER_CODE:
            self.lowerer.error(f"this thread is too large: more than {MAX_WORK_PER_CODE} "
                               "statements to lower once calls are inlined and `repeat` "
                               "unrolled", span, frame.stack)
            raise LoweringError(fatal=True)

    def enter(self, span: Span, frame: Frame) -> None:
        """Count the work and the nesting (bounded too: lowering recurses)."""
        self.count_work(span, frame)
        self.depth += 1
        if self.depth > MAX_LOWERING_DEPTH:
            self.lowerer.error(f"blocks and calls nest more than {MAX_LOWERING_DEPTH} deep "
                               "once calls are inlined", span, frame.stack)
            raise LoweringError(fatal=True)

    # ------------------------------------------------------------- statements
    def stmts(self, stmts: tuple[ast.Stmt, ...], k: int, frame: Frame) -> int:
        entry = k
        bound = next((i for i, stmt in enumerate(stmts) if isinstance(stmt, ast.Let)), None)
        if bound is not None:
            entry = self.let(stmts[bound], stmts[bound + 1:], k, frame)
            stmts = stmts[:bound]
        for stmt in reversed(stmts):
            self.enter(stmt.span, frame)
            try:
                entry = self.stmt(stmt, entry, frame)
            except LoweringError as err:
                if err.fatal:
                    raise
                self.failed = True
            finally:
                self.depth -= 1
        return entry

    def let(self, let: ast.Let, rest: tuple[ast.Stmt, ...], k: int, frame: Frame) -> int:
        """`let x = e;` and the rest of its block. A condition is read here, and the
        rest is lowered once for each value it can have (a thread-local copy is
        exactly that: which way it went); a value is bound as it is."""
        self.enter(let.span, frame)
        try:
            name = let.name.text
            if self.is_condition(let.value, frame):
                then = self.stmts(rest, k, frame.binding(name, Value("bool", True)))
                orelse = self.stmts(rest, k, frame.binding(name, Value("bool", False)))
                return self.cond(let.value, then, orelse, frame)
            if is_value_call(let.value, self.lowerer.resolved.fns):
                return self.read(let.value, _once(
                    lambda value: self.stmts(rest, k, frame.binding(name, value))), frame)
            value = self.lowerer.value(let.value, frame)
            return self.stmts(rest, k, frame.binding(name, value))
        finally:
            self.depth -= 1

    def is_condition(self, expr: ast.Expr, frame: Frame) -> bool:
        if isinstance(expr, ast.Name):
            return self.lowerer.value(expr, frame).type == "flag"
        return is_condition_form(expr, self.lowerer.resolved.fns)

    def stmt(self, stmt: ast.Stmt, k: int, frame: Frame) -> int:
        site = ir.Site(stmt.span, frame.stack)
        if isinstance(stmt, ast.Block):
            return self.stmts(stmt.stmts, k, frame)
        if isinstance(stmt, ast.CallStmt):
            return self.call_stmt(stmt.call, k, frame)
        if isinstance(stmt, ast.If):
            return self.if_chain(stmt, k, frame)
        if isinstance(stmt, ast.Either):
            targets = tuple(self.stmts(b.stmts, k, frame) for b in stmt.branches)
            return self.emit(ir.Choice(site, targets))
        if isinstance(stmt, ast.Repeat):
            entry = k
            for _ in range(stmt.count):
                self.count_work(stmt.span, frame)
                entry = self.stmts(stmt.body.stmts, entry, frame)
            return entry
        if isinstance(stmt, ast.Assert):
            message = "assert " + self.lowerer.source_text(stmt.cond.span)
            if _is_predicate(stmt.cond):
                return self.emit(ir.Assert(self.pure_cond(stmt.cond, frame), message, site, k))
            # `&&`, `||`, `-> bool` functions, trylocks: branch, and fail where it is false
            fail = self.emit(ir.Assert(ir.CConst(False), message, site, k))
            return self.cond(stmt.cond, k, fail, frame)
        if isinstance(stmt, ast.Return):
            if frame.ret_value is not None:
                return self.value_return(stmt.value, frame)
            if frame.ret_targets is not None:
                return self.cond(stmt.value, *frame.ret_targets, frame)
            return frame.ret if frame.ret is not None else k
        raise AssertionError(f"unhandled statement {type(stmt).__name__}")

    def if_chain(self, stmt: ast.If, k: int, frame: Frame) -> int:
        """An arm whose test is known before the run (`if p != NULL` on what a pointer
        read gave) is lowered alone, or not at all."""
        arms, orelse = if_chain(stmt)
        known = [self.static_truth(arm.cond, frame) for arm in arms]
        if True in known:
            arms, orelse = arms[:known.index(True) + 1], None
        entry = self.stmts(orelse.stmts, k, frame) if orelse is not None else k
        for arm, truth in reversed(list(zip(arms, known))):
            if truth is False:
                continue
            then = self.stmts(arm.then.stmts, k, frame)
            entry = then if truth else self.cond(arm.cond, then, entry, frame)
        return entry

    def call_stmt(self, call: ast.Call, k: int, frame: Frame) -> int:
        name = call.name.text
        if name in core.BUILTINS:
            args = self.lowerer.bind_builtin(call, frame)
            builtin = core.BUILTINS[name]
            site = ir.Site(call.span, frame.stack)
            if _null_object(name, args) is not None:
                return k if name in NULL_IS_NOTHING else self.null_use(call, args, site, k)
            if builtin.role == "effect":
                return self.effect(name, args, k, k, ir.Site(call.span, frame.stack), frame)
            if name == "park_me":
                return self.park_me(call, site, k, frame)
            return self.builtin_stmt(name, args, site, k, frame)
        fn = self.lowerer.resolved.fns[name]
        callee = self.lowerer.enter(fn, call, frame)
        if fn.result is not None:
            callee = callee.returning_bool((k, k))
            return self.stmts(fn.body.stmts, k, callee)
        return self.stmts(fn.body.stmts, k, callee.returning_to(k))

    def builtin_stmt(self, name: str, args: dict[str, Value], site: ir.Site, k: int,
                     frame: Frame) -> int:
        if name == "acquire":
            return self.emit(ir.Acquire(
                args["l"].value, ir.Mode(args["mode"].value), site, k,
                trylock=args["trylock"].value, nest=_lock_or_none(args["nest"]),
                subclass=args["subclass"].value, check=args["check"].value,
                cookie=args["cookie"].value))
        if name == "release":
            return self.emit(ir.Release(args["l"].value, site, k, cookie=args["cookie"].value))
        if name in IRQ_BUILTINS:
            what, action = IRQ_BUILTINS[name]
            return self.emit(ir.IrqOp(what, action, site, k))
        if name == "sleep_point":
            return self.emit(ir.MightSleep(site, k, grace=args["grace"].value))
        if name == "gfp_scope_begin":
            strip = GFP_ALL - args["g"].value
            return self.emit(ir.GfpScope("begin", frozenset(strip), site, k))
        if name == "gfp_scope_end":
            return self.emit(ir.GfpScope("end", frozenset(), site, k))
        if name == "spawn":
            code = self.lowerer.request_spawn(args["work"], args["ctx"].value, site)
            return self.emit(ir.Spawn(code, site, k))
        if name == "spawn_after_grace":
            code = self.lowerer.request_spawn(args["work"], ir.Context.SOFTIRQ, site)
            return self.emit(ir.Spawn(code, site, k, after_grace=args["l"].value))
        if name == "free_after_grace":
            code = self.lowerer.free_code(args["o"].value, site)
            return self.emit(ir.Spawn(code, site, k, after_grace=args["l"].value))
        if name in ("stop_thread", "park_thread", "unpark_thread"):
            return getattr(self, name)(args["work"].value, site, k)
        if name == "sleep_on":
            if self.kthread is not None:
                self.lowerer.note_sleep(self.kthread, args["q"].value)
            inner, where = args["c"].value
            return self.emit(ir.SleepUntil(args["q"].value, self.pure_cond(inner, where), site, k))
        if name == "grace_period":
            return self.grace("readers", args["l"].value, site, k)
        if name in ("wait_work", "cancel_work"):
            work = args["work"].value
            what = "work" if name == "wait_work" else "cancel"
            target = ir.code_id(work, ir.Context.WORKQUEUE)
            return self.touch(self.lowerer.work_map(work, site), site,
                              self.grace(what, target, site, k))
        if name == "wait_all_work":
            return self.touch(self.lowerer.workqueue_map(site), site,
                              self.grace("workqueue", "", site, k))
        if name == "assign":
            pointer = args["p"].value
            number = self.lowerer.target_number(pointer, args["v"].value)
            return self.emit(ir.StateOp("assign", pointer, site, k, value=number))
        if name == "warn":
            return self.emit(ir.Assert(ir.CConst(False), args["message"].value, site, k,
                                       lockdep=True))
        if name == "assert_held":
            mode = args["mode"].value or ""
            held = ir.CPred("held", (args["l"].value, mode))
            text = f"lockdep_assert_held({args['l'].value}{', ' + mode if mode else ''})"
            return self.emit(ir.Assert(held, text, site, k))
        if name == "assert_not_held":
            cond = ir.CNot(ir.CPred("held", (args["l"].value, "")))
            return self.emit(ir.Assert(cond, f"lockdep_assert_not_held({args['l'].value})",
                                       site, k))
        obj = next(iter(args.values())).value
        if name == "put":
            given = args["release"].value if args["release"].type == "fn" else None
            declared = self.lowerer.resolved.objects[obj].options.get("release")
            declared_name = declared.text if declared is not None else None
            # naming the declared destructor is the one-argument form: it frees on return
            if given is None or given == declared_name:
                return self.put(obj, declared_name, True, site, k, frame)
            return self.put(obj, given, False, site, k, frame)
        if name == "set_count":
            return self.emit(ir.StateOp(name, obj, site, k, value=args["n"].value))
        if name == "signal":
            k = self.callbacks(obj, site, k, frame)
        return self.emit(ir.StateOp(name, obj, site, k))

    def stop_thread(self, kthread: str, site: ir.Site, k: int) -> int:
        """kthread_stop(): set the kthread's flag, unpark it, wake it (every queue it may
        sleep on: a spurious wake-up only makes a sleeper check again), wait until it
        returns."""
        entry = self.grace("work", ir.code_id(kthread, ir.Context.PROCESS), site, k)
        entry = self.wake_kthread(kthread, site, entry)
        if kthread in self.lowerer.parks:
            flag = self.lowerer.kthread_object(kthread, "should_park", site.span)
            entry = self.emit(ir.StateOp("clear", flag, site, entry))
        flag = self.lowerer.kthread_object(kthread, "should_stop", site.span)
        return self.emit(ir.StateOp("set", flag, site, entry))

    def wake_kthread(self, kthread: str, site: ir.Site, k: int) -> int:
        for queue in reversed(self.lowerer.sleeps.get(kthread, ())):
            k = self.emit(ir.StateOp("wake_queue", queue, site, k))
        return k

    def park_thread(self, kthread: str, site: ir.Site, k: int) -> int:
        """kthread_park(): set the kthread's flag, wake it, wait until it is parked (or
        has returned)."""
        self.lowerer.note_park(kthread)
        parked = self.lowerer.kthread_object(kthread, "parked", site.span)
        entry = self.wake_kthread(kthread, site, self.emit(ir.StateOp("wait", parked, site, k)))
        flag = self.lowerer.kthread_object(kthread, "should_park", site.span)
        return self.emit(ir.StateOp("set", flag, site, entry))

    def unpark_thread(self, kthread: str, site: ir.Site, k: int) -> int:
        wake = self.emit(ir.StateOp(
            "wake_queue", self.lowerer.kthread_object(kthread, "unparked", site.span), site, k))
        flag = self.lowerer.kthread_object(kthread, "should_park", site.span)
        return self.emit(ir.StateOp("clear", flag, site, wake))

    def park_me(self, call: ast.Call, site: ir.Site, k: int, frame: Frame) -> int:
        """kthread_parkme(): while asked to park, say so and sleep until unparked."""
        kthread = self.current_kthread(call, frame)
        flag = self.lowerer.kthread_object(kthread, "should_park", site.span)
        queue = self.lowerer.kthread_object(kthread, "unparked", site.span)
        self.lowerer.note_sleep(kthread, queue)
        sleep = self.emit(ir.SleepUntil(queue, ir.CNot(ir.CPred("flag", (flag,))), site, k))
        signal = self.emit(ir.StateOp(
            "signal", self.lowerer.kthread_object(kthread, "parked", site.span), site, sleep))
        return self.emit(ir.Branch(ir.CPred("flag", (flag,)), site, signal, k))

    def grace(self, what: str, target: str, site: ir.Site, k: int) -> int:
        end = self.emit(ir.Grace(what, target, "end", site, k))
        return self.emit(ir.Grace(what, target, "begin", site, end))

    def touch(self, lock: str, site: ir.Site, k: int) -> int:
        """lockdep's lock_map_acquire() + lock_map_release() of a flush's map."""
        release = self.emit(ir.Release(lock, site, k))
        return self.emit(ir.Acquire(lock, ir.Mode.WRITE, site, release))

    def put(self, obj: str, release: str | None, frees: bool, site: ir.Site, k: int,
            frame: Frame) -> int:
        """Drop a reference; `release` runs when it was the last. With `frees` (the
        declared destructor, or none) the object is freed when it returns; a release
        given per call (kref_put(r, fn)) frees it only if it calls `free`, else the
        count stays at zero for a later kref_init to re-arm. A put inside the
        object's own release function cannot release it again (the count is
        already zero), so the release is not inlined into itself."""
        released = k
        if release is not None:
            fn = self.lowerer.resolved.fns[release]
            if not frees and fn.result is not None:
                self.lowerer.error(f"`{release}` runs as a release function, so it returns "
                                   "nothing", site.span, site.stack)
                raise LoweringError()
            if (release, obj) not in frame.running:
                callee = self.lowerer.enter_callback(fn, site, frame, obj)
                released = self.stmts(fn.body.stmts, k, callee.returning_to(k))
        return self.emit(ir.Put(obj, site, released, k, frees=frees))

    def callbacks(self, fence: str, site: ir.Site, k: int, frame: Frame) -> int:
        """After a signal, every callback armed on the fence runs, in this context.
        A callback is disarmed before it runs, so a signal inside it cannot run it
        again and is not inlined into itself."""
        entry = k
        for cb in sorted(self.lowerer.callbacks.get(fence, ()), reverse=True):
            if (cb, fence) in frame.running:
                continue
            fn = self.lowerer.resolved.fns[cb]
            callee = self.lowerer.enter_callback(fn, site, frame, fence)
            body = self.stmts(fn.body.stmts, entry, callee.returning_to(entry))
            disarm = self.emit(ir.StateOp("disarm", f"{fence}:{cb}", site, body))
            entry = self.emit(ir.Branch(ir.CPred("armed", (fence, cb)), site, disarm, entry))
        return entry

    def effect(self, name: str, args: dict[str, Value], t: int, f: int, site: ir.Site,
               frame: Frame) -> int:
        if name == "try_acquire":
            return self.emit(ir.TryAcquire(
                args["l"].value, ir.Mode(args["mode"].value), site, t, f,
                nest=_lock_or_none(args["nest"]), subclass=args["subclass"].value))
        if name == "get_unless_zero":
            return self.emit(ir.TryState("get", args["r"].value, site, t, f))
        if name == "try_wait":
            return self.emit(ir.TryState("wait", args["c"].value, site, t, f))
        if name == "dec_and_test":
            # a put that runs nothing and frees nothing: true when it reached zero
            return self.emit(ir.Put(args["r"].value, site, t, f, frees=False))
        fence, cb = args["f"].value, args["cb"].value
        self.lowerer.note_callback(fence, cb)
        return self.emit(ir.AddCallback(fence, cb, site, t, f))

    # ------------------------------------------------------------- conditions
    def cond(self, expr: ast.Expr, t: int, f: int, frame: Frame) -> int:
        self.enter(expr.span, frame)
        try:
            return self.branch_on(expr, t, f, frame)
        finally:
            self.depth -= 1

    def branch_on(self, expr: ast.Expr, t: int, f: int, frame: Frame) -> int:
        """Code that goes to `t` when `expr` holds and to `f` otherwise. What is known
        before the run (a local, a comparison of values) is not lowered at all, so a
        test like `p != NULL && revoked(p)` never lowers `revoked(NULL)`."""
        site = ir.Site(expr.span, frame.stack)
        known = self.static_truth(expr, frame)
        if known is not None:
            return t if known else f
        if isinstance(expr, ast.Not):
            return self.cond(expr.operand, f, t, frame)
        if isinstance(expr, ast.BoolOp):
            entry_t, entry_f = t, f
            for operand in reversed(self.open_operands(expr, frame)):
                if expr.op == "&&":
                    entry_t = self.cond(operand, entry_t, f, frame)
                else:
                    entry_f = self.cond(operand, t, entry_f, frame)
            return entry_t if expr.op == "&&" else entry_f
        if isinstance(expr, ast.Call) and expr.name.text in self.lowerer.resolved.fns:
            fn = self.lowerer.resolved.fns[expr.name.text]
            callee = self.lowerer.enter(fn, expr, frame)
            return self.stmts(fn.body.stmts, f, callee.returning_bool((t, f)))
        if isinstance(expr, ast.Call) and core.BUILTINS[expr.name.text].role in ("effect",
                                                                                "cond"):
            args = self.lowerer.bind_builtin(expr, frame)
            if _null_object(expr.name.text, args) is not None:
                return self.null_use(expr, args, site, t)
        if isinstance(expr, ast.Call) and core.BUILTINS[expr.name.text].role == "effect":
            return self.effect(expr.name.text, args, t, f, site, frame)
        if isinstance(expr, ast.Call) and expr.name.text == "nondet":
            return self.emit(ir.Choice(site, (t, f)))
        cond = self.pure_cond(expr, frame)
        if isinstance(cond, ir.CConst):
            return t if cond.value else f
        return self.emit(ir.Branch(cond, site, t, f))

    def pure_cond(self, expr: ast.Expr, frame: Frame) -> ir.Cond:
        """A condition without side effects, as an IR condition."""
        if isinstance(expr, ast.BoolLit):
            return ir.CConst(expr.value)
        if isinstance(expr, ast.Not):
            inner = self.pure_cond(expr.operand, frame)
            return ir.CConst(not inner.value) if isinstance(inner, ir.CConst) else ir.CNot(inner)
        if isinstance(expr, ast.Name):
            value = self.lowerer.value(expr, frame)
            if _truth_of(value) is not None:
                return ir.CConst(_truth_of(value))
            if value.type == "cond":
                inner, where = value.value
                return self.pure_cond(inner, where)
            if value.type != "flag":
                self.lowerer.error(f"`{expr.ident.text}` is a {value.type}, not a condition",
                                   expr.span, frame.stack)
                raise LoweringError()
            return ir.CPred("flag", (value.value,))
        if isinstance(expr, ast.Compare):
            return self.compare(expr, frame)
        if isinstance(expr, ast.BoolOp):             # a wait condition, read in one step
            flip = expr.op == "&&"                   # a && b is !(!a || !b)
            operands = [self.pure_cond(o, frame) for o in expr.operands]
            either = ir.COr(tuple(ir.CNot(o) if flip else o for o in operands))
            return ir.CNot(either) if flip else either
        if isinstance(expr, ast.Call) and expr.name.text in self.lowerer.resolved.fns:
            fn = self.lowerer.resolved.fns[expr.name.text]     # `fn f() -> bool = COND;`
            return self.pure_cond(predicate_of(fn), self.lowerer.enter(fn, expr, frame))
        if isinstance(expr, ast.Call):
            name = expr.name.text
            if name in core.BUILTINS and core.BUILTINS[name].role == "cond" and name != "nondet":
                args = self.lowerer.bind_builtin(expr, frame)
                if _null_object(name, args) is not None:
                    self.lowerer.error(f"`{name}` is given NULL here: test the pointer first",
                                       expr.span, frame.stack)
                    raise LoweringError()
                if name in ("should_stop", "should_park"):
                    return self.kthread_flag(expr, frame)
                return self.predicate(name, args)
        raise AssertionError(f"not a predicate: {type(expr).__name__}")  # see _is_predicate

    def current_kthread(self, call: ast.Call, frame: Frame) -> str:
        if self.kthread is None:
            self.lowerer.error(f"`{call.name.text}()` is about the kthread that runs it: "
                               "call it in a function started with kthread_run()",
                               call.span, frame.stack)
            raise LoweringError()
        return self.kthread

    def kthread_flag(self, call: ast.Call, frame: Frame) -> ir.Cond:
        """should_stop() or should_park(): the flag of the kthread this code runs in."""
        what = call.name.text
        name = self.lowerer.kthread_object(self.current_kthread(call, frame), what, call.span)
        return ir.CPred("flag", (name,))

    def predicate(self, name: str, args: dict[str, Value]) -> ir.Cond:
        static = {
            "in_interrupt": self.context.is_interrupt,
            "in_hardirq": self.context.is_hardirq,
            "in_softirq": self.context is ir.Context.SOFTIRQ,
        }
        if name in static:
            return ir.CConst(static[name])
        if name == "read_lock_is_recursive":
            return ir.CConst(self.read_is_recursive(args["l"].value))

        if name in ("gfp_may_fs", "gfp_may_block"):
            return ir.CPred(name, tuple(sorted(args["g"].value)))
        if name == "held":
            return ir.CPred("held", (args["l"].value, args["mode"].value or ""))
        return ir.CPred(name, tuple(str(v.value) for v in args.values()))

    def read_is_recursive(self, lock: str | None) -> bool:
        """lockdep's read_lock_is_recursive(): readers of a queued rwlock queue behind
        a waiting writer except in interrupt context; `rwlock(read = recursive)`
        (a kernel without CONFIG_QUEUED_RWLOCKS) never queues them, and `option
        lockdep_selftest` (force_read_lock_recursive) makes every rwlock without
        its own `read =` recursive."""
        mode = self.lowerer.resolved.locks[lock].read_mode if lock else None
        if mode is None and self.lowerer.resolved.options.get("lockdep_selftest"):
            mode = "recursive"
        return mode == "recursive" or self.context.is_interrupt

    def compare(self, expr: ast.Compare, frame: Frame) -> ir.Cond:
        left = self.lowerer.operand(expr.left, frame)
        right = self.lowerer.operand(expr.right, frame)
        if left.type != "count" and right.type != "count":
            return ir.CConst(_static_compare(expr.op, left.value, right.value))
        if left.type != "count":
            left, right = right, left
            expr = dataclasses.replace(expr, op=_FLIP[expr.op])
        if right.type != "int":
            self.lowerer.error("a count is compared with a number", expr.span, frame.stack)
            raise LoweringError()
        return ir.CPred("count", (left.value, expr.op, right.value))


IRQ_BUILTINS = {
    "hardirq_off": ("hardirq", "off"), "hardirq_on": ("hardirq", "on"),
    "hardirq_save": ("hardirq", "save"), "hardirq_restore": ("hardirq", "restore"),
    "softirq_off": ("softirq", "off"), "softirq_on": ("softirq", "on"),
    "preempt_off": ("preempt", "off"), "preempt_on": ("preempt", "on"),
}
GFP_ALL = frozenset({"block", "io", "fs"})
_FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def _is_predicate(expr: ast.Expr) -> bool:
    """Whether an IR condition can say `expr` without branching: no `&&`/`||`,
    no side effect, no function to inline."""
    if isinstance(expr, ast.Not):
        return _is_predicate(expr.operand)
    if isinstance(expr, ast.Call):
        builtin = core.BUILTINS.get(expr.name.text)
        return builtin is not None and builtin.role == "cond" and expr.name.text != "nondet"
    return isinstance(expr, (ast.BoolLit, ast.Name, ast.Compare))


def _static_compare(op: str, a, b) -> bool:
    ops: dict[str, Callable] = {
        "==": lambda: a == b, "!=": lambda: a != b,
        "<": lambda: a < b, ">": lambda: a > b, "<=": lambda: a <= b, ">=": lambda: a >= b}
    try:
        return bool(ops[op]())
    except TypeError:
        return False


def _lock_or_none(value: Value) -> str | None:
    return None if value.type == "null" else value.value
