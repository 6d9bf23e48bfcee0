"""Building the Program: instantiate paths, bind arguments, lower every thread."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

from model import ast, core, grace, ir
from model.lower import Frame, LoweringError, Value, _CodeBuilder
from model.resolve import Resolved
from model.resolve_body import literal_type
from model.span import TYPE_ERROR, Diagnostic, SourceFile, Span, is_prelude

MAX_CALL_DEPTH = 64


class _Lowerer:
    def __init__(self, resolved: Resolved, sources: dict[str, SourceFile], known: "_Known"):
        self.resolved = resolved
        self.sources = sources
        self.callbacks = known.callbacks                # fence -> callback fns
        self.found_callbacks: dict[str, set[str]] = {}
        self.targets = known.targets                    # pointer -> its numbered targets
        self.found_targets: dict[str, set[str]] = {}
        self.sleeps = known.sleeps                      # kthread fn -> queues it sleeps on
        self.found_sleeps: dict[str, set[str]] = {}
        self.parks = known.parks                        # kthreads some code parks
        self.found_parks: set[str] = set()
        self.thread_objects: dict[str, tuple[str, Span]] = {}   # kthreads' flags and such
        self.diags: dict[tuple, Diagnostic] = {}
        self.codes: dict[str, ir.Code] = {}
        # (the name of the work, the function it runs, context, where it was queued)
        self.pending_spawns: list[tuple[str, str, ir.Context, Span]] = []
        self.formals: dict[str, list[tuple]] = {}      # fn -> its parameters for bind()
        self.maps: dict[str, tuple[str | None, Span]] = {}   # flush map -> (work fn, span)

    # ------------------------------------------------------------------ errors
    def error(self, message: str, span: Span, stack: tuple[Span, ...] = ()) -> None:
        """A lowering error, located in the spec's own text: inside a prelude verb it
        points at the innermost call the spec wrote, and names the verb's line."""
        frames = stack + (span,)
        own = [i for i, frame in enumerate(frames) if not is_prelude(frame.file)]
        at = own[-1] if own else len(frames) - 1
        hints = [f"in {frames[i].short()}, called from here" for i in range(len(frames) - 1,
                                                                        at, -1)][-1:]
        hints += [f"in the call at {frames[i].short()}" for i in range(at - 1, -1, -1)]
        diag = Diagnostic(TYPE_ERROR, message, frames[at], tuple(hints[:4]))
        self.diags.setdefault((frames[at], message), diag)

    def source_text(self, span: Span) -> str:
        source = self.sources.get(span.file)
        if source is None or span.line != span.end_line:
            return "..."
        return source.line_text(span.line)[span.col - 1:span.end_col - 1]

    # ------------------------------------------------------------------ values
    def value(self, expr: ast.Expr, frame: Frame) -> Value:
        if isinstance(expr, ast.Name):
            return self.name(expr.ident, frame)
        if isinstance(expr, ast.IntLit):
            return Value("int", expr.value)
        if isinstance(expr, ast.BoolLit):
            return Value("bool", expr.value)
        if isinstance(expr, ast.NullLit):
            return Value("null", None)
        if isinstance(expr, ast.StringLit):
            return Value("string", expr.value)
        if isinstance(expr, ast.Call) and expr.name.text == "lock_of":
            return self.lock_of(expr, frame)
        self.error("expected a name or a literal here", expr.span, frame.stack)
        raise LoweringError()

    def operand(self, expr: ast.Expr, frame: Frame) -> Value:
        """A comparison operand: a value, or `count(obj)`."""
        if isinstance(expr, ast.Call) and expr.name.text == "count":
            obj = self.bind_builtin(expr, frame)["o"]
            return Value("count", obj.value)
        return self.value(expr, frame)

    def name(self, ident: ast.Ident, frame: Frame) -> Value:
        text = ident.text
        if text in frame.env:
            return frame.env[text]
        resolved = self.resolved
        if text in resolved.locks:
            return Value(resolved.locks[text].kind, text)
        if text in resolved.objects:
            return Value(resolved.objects[text].kind, text)
        if text in resolved.fns:
            return Value("fn", text)
        if text in core.GFP_CONSTANTS:
            return Value("gfp", core.GFP_CONSTANTS[text])
        if text in core.MODE_CONSTANTS:
            return Value("mode", core.MODE_CONSTANTS[text])
        if text in core.CONTEXT_CONSTANTS:
            return Value("context", core.CONTEXT_CONSTANTS[text])
        if text in core.INT_CONSTANTS:
            return Value("int", core.INT_CONSTANTS[text])
        self.error(f"unknown name `{text}`", ident.span, frame.stack)
        raise LoweringError()

    def lock_of(self, call: ast.Call, frame: Frame) -> Value:
        fence = self.bind_builtin(call, frame)["f"].value
        lock = self.resolved.objects[fence].options.get("lock")
        if lock is None:
            self.error(f"fence `{fence}` has no lock; declare it as "
                       f"`object {fence} : fence lock NAME`", call.span, frame.stack)
            raise LoweringError()
        return Value(self.resolved.locks[lock.text].kind, lock.text)

    # ----------------------------------------------------------------- binding
    def bind(self, call: ast.Call, formal, frame: Frame) -> dict[str, Value]:
        """Bind a call's arguments to `formal` [(name, types, default)], checking the
        types resolution could not know (values of untyped parameters)."""
        bound = bind_args(call, [f[0] for f in formal])
        if bound is None:
            self.error(f"the arguments of `{call.name.text}` do not fit its parameters",
                       call.span, frame.stack)
            raise LoweringError()
        args: dict[str, Value] = {}
        for name, types, default in formal:
            if name in bound:
                args[name] = self.typed(call, name, types, bound[name], frame)
            elif default is core.REQUIRED:
                self.error(f"`{call.name.text}` is missing argument `{name}`", call.span,
                           frame.stack)
                raise LoweringError()
            elif isinstance(default, Value):
                args[name] = default
            else:
                args[name] = Value("null" if default is None else "default", default)
        return args

    def typed(self, call, name: str, types: frozenset[str], arg: ast.Arg, frame: Frame) -> Value:
        if "cond" in types:            # read where it is used, as often as it is
            return Value("cond", (arg.value, frame))
        value = self.value(arg.value, frame)
        if value.type == "null" and (types & ir.OBJECT_KINDS or "object" in types):
            return value       # a pointer read as NULL: a verb given it dereferences it
        if types and not core.type_matches(value.type, types):
            self.error(f"`{call.name.text}` wants {' or '.join(sorted(types))} for `{name}`, "
                       f"got a {value.type}", arg.value.span, frame.stack)
            raise LoweringError()
        return value

    def bind_builtin(self, call: ast.Call, frame: Frame) -> dict[str, Value]:
        return self.bind(call, _builtin_formal(call.name.text), frame)

    def enter(self, fn: ast.FnDecl, call: ast.Call, frame: Frame) -> Frame:
        if len(frame.stack) >= MAX_CALL_DEPTH:
            self.error("calls nest too deeply", call.span, frame.stack)
            raise LoweringError(fatal=True)
        formal = self.formals.get(fn.name.text)
        if formal is None:     # made once per function, not once per inlined call
            formal = self.formals[fn.name.text] = _formal(fn.params)
        env = self.bind(call, formal, frame)
        return Frame(env, frame.stack + (call.span,), running=frame.running)

    def enter_callback(self, fn: ast.FnDecl, site: ir.Site, frame: Frame, obj: str) -> Frame:
        """A callback or release function: no parameter, or one bound to the object."""
        if len(frame.stack) >= MAX_CALL_DEPTH:
            self.error("calls nest too deeply", site.span, frame.stack)
            raise LoweringError(fatal=True)
        env = {}
        if len(fn.params) > 1:
            self.error(f"`{fn.name.text}` runs as a callback of `{obj}`, so it takes at most "
                       "one parameter (the object)", site.span, frame.stack)
            raise LoweringError()
        if fn.params:
            value = self.name(ast.Ident(obj, site.span), Frame({}, ()))
            types = frozenset(t.text for t in fn.params[0].types)
            if types and not core.type_matches(value.type, types):
                self.error(f"`{fn.name.text}` runs as a callback of `{obj}`, a {value.type}, "
                           f"but its parameter is a {' or '.join(sorted(types))}", site.span,
                           frame.stack)
                raise LoweringError()
            env[fn.params[0].name.text] = value
        return Frame(env, frame.stack + (site.span,),
                     running=frame.running | {(fn.name.text, obj)})

    # ----------------------------------------------------------------- threads
    def note_callback(self, fence: str, cb: str) -> None:
        self.found_callbacks.setdefault(fence, set()).add(cb)

    def target_number(self, pointer: str, target: str | None) -> int:
        """A pointer target's number (0 is NULL). A target this round of lowering did
        not know of yet is recorded, and lowering runs again with it."""
        if target is None:
            return 0
        self.found_targets.setdefault(pointer, set()).add(target)
        known = self.targets.get(pointer, ())
        return known.index(target) + 1 if target in known else 0

    # What kthread_stop() sets, kthread_park() sets and waits for, kthread_unpark()
    # wakes: objects of the program, not of the spec, one set per kthread function.
    KTHREAD_OBJECTS = {"should_stop": "flag", "should_park": "flag", "parked": "completion",
                       "unparked": "waitqueue"}

    def kthread_object(self, kthread: str, what: str, span: Span) -> str:
        name = f"{kthread}__{what}"
        self.thread_objects.setdefault(name, (self.KTHREAD_OBJECTS[what], span))
        return name

    def note_park(self, kthread: str) -> None:
        self.found_parks.add(kthread)

    def note_sleep(self, kthread: str, queue: str) -> None:
        self.found_sleeps.setdefault(kthread, set()).add(queue)

    def request_spawn(self, work: Value, context: ir.Context, site: ir.Site) -> str:
        """The code of deferred work: a function, or a work item (`object w :
        work(func = fn)`), which is a work of its own even where another item runs
        the same function."""
        fn = work.value
        if work.type == "work":
            fn = self.resolved.objects[work.value].options["func"].text
        self.pending_spawns.append((work.value, fn, context, site.span))
        return ir.code_id(work.value, context)

    def work_map(self, work: str, site: ir.Site) -> str:
        """The lockdep map of a work item, which its worker holds while it runs."""
        name = grace.work_map(work)
        self.maps.setdefault(name, (work, site.span))
        return name

    def workqueue_map(self, site: ir.Site) -> str:
        """The lockdep map of the workqueue, which every worker holds while it runs."""
        self.maps.setdefault(grace.WORKQUEUE_MAP, (None, site.span))
        return grace.WORKQUEUE_MAP

    def free_code(self, obj: str, site: ir.Site) -> str:
        """The RCU callback of kfree_rcu(obj): it frees the object."""
        code_id = ir.code_id(f"kfree_rcu({obj})", ir.Context.SOFTIRQ)
        if code_id not in self.codes:
            at = ir.Site(site.span, site.stack)
            ops = (ir.StateOp("free", obj, at, 1), ir.Exit(at))
            self.codes[code_id] = ir.Code(code_id, "kfree_rcu", ir.Context.SOFTIRQ, ops, 0,
                                          site.span)
        return code_id

    def lower_code(self, code_id: str, name: str, context: ir.Context, body: ast.Block,
                   env: dict[str, Value], span: Span, result: str | None = None) -> None:
        """Lower one thread; its exit is at the body's last character (the `}`). A
        function with a result run as a thread drops what it returns."""
        kthread = name if code_id == ir.code_id(name, ir.Context.PROCESS) else None
        builder = _CodeBuilder(self, context, kthread)
        exit_index = builder.emit(ir.Exit(ir.Site(body.span.last_char())))
        if kthread in self.parks:       # kthread_park() of a kthread that returned: -ENOSYS
            parked = self.kthread_object(kthread, "parked", body.span)
            exit_index = builder.emit(ir.StateOp("signal_all", parked,
                                                 ir.Site(body.span.last_char()), exit_index))
        frame = Frame(env, (), ret=exit_index,
                      ret_targets=(exit_index, exit_index) if result == "bool" else None,
                      ret_value=(lambda _value: exit_index) if result == "object" else None)
        try:
            entry = builder.stmts(body.stmts, exit_index, frame)
        except LoweringError:
            return
        if builder.failed:
            return
        ops, entry = _renumber(builder.ops, entry)
        self.codes[code_id] = ir.Code(code_id, name, context, ops, entry, span)

    def lower_spawns(self) -> None:
        while self.pending_spawns:
            name, fn_name, context, span = self.pending_spawns.pop(0)
            code_id = ir.code_id(name, context)
            if code_id in self.codes:
                continue
            fn = self.resolved.fns[fn_name]
            if fn.params:
                self.error(f"deferred work `{fn_name}` must take no parameters", span)
                continue
            self.codes[code_id] = None  # type: ignore[assignment]  # guards re-entry
            self.lower_code(code_id, name, context, fn.body, {}, fn.span,
                            result=fn.result.text if fn.result is not None else None)
            if self.codes.get(code_id) is None:
                self.codes.pop(code_id, None)


def _renumber(ops: list[ir.Op], entry: int) -> tuple[tuple[ir.Op, ...], int]:
    """Number ops in depth-first order from the entry, so listings read top-down."""
    order: list[int] = []
    seen: set[int] = set()
    stack = [entry]
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        order.append(index)
        stack.extend(reversed(ir.successors(ops[index])))
    new = {old: pos for pos, old in enumerate(order)}
    return tuple(_retarget(ops[old], new) for old in order), 0


_TARGET_FIELDS = ("next", "ok", "fail", "then", "orelse", "released", "targets")


@lru_cache(maxsize=None)
def _layout(kind: type) -> tuple[tuple[str, ...], frozenset[str]]:
    """An op type's init fields, and which of them are op indices."""
    names = tuple(f.name for f in dataclasses.fields(kind) if f.init)
    return names, frozenset(names) & frozenset(_TARGET_FIELDS)


def _retarget(op: ir.Op, new: dict[int, int]) -> ir.Op:
    """`op` with its successors renumbered (dataclasses.replace() without its
    per-call introspection: every op of every thread goes through here)."""
    names, targets = _layout(type(op))
    if not targets:
        return op
    values = {}
    for name in names:
        value = getattr(op, name)
        if name in targets:
            value = tuple(new[t] for t in value) if name == "targets" else new[value]
        values[name] = value
    return type(op)(**values)


def _instances(resolved: Resolved) -> list[tuple[str, ast.PathDecl, ast.Call | None]]:
    """Every path instance the spec runs: each scenario thread, each parameterless path."""
    out: dict[str, tuple[str, ast.PathDecl, ast.Call | None]] = {}
    for path in resolved.paths.values():
        if not path.params:
            out[path.name.text] = (path.name.text, path, None)
    for scenario in resolved.scenarios.values():
        for thread in scenario.threads:
            path = resolved.paths[thread.call.name.text]
            code_id = instance_id(thread.call, path)
            out.setdefault(code_id, (code_id, path, thread.call))
    return [out[key] for key in sorted(out)]


def _formal(params) -> list[tuple]:
    """(name, types, default); a declared default is already a typed Value."""
    return [(p.name.text, frozenset(t.text for t in p.types),
             core.REQUIRED if p.default is None
             else Value(literal_type(p.default), getattr(p.default, "value", None)))
            for p in params]


@lru_cache(maxsize=None)
def _builtin_formal(name: str) -> list[tuple]:
    """A builtin's parameters for bind(); callers only read the list."""
    return [(p.name, p.types, p.default) for p in core.BUILTINS[name].params]


def bind_args(call: ast.Call, names: list[str]) -> dict[str, ast.Arg] | None:
    """The call's arguments by parameter name; None when they do not fit."""
    bound: dict[str, ast.Arg] = {}
    positional = [a for a in call.args if a.keyword is None]
    if len(positional) > len(names):
        return None
    bound.update(zip(names, positional))
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.text not in names or arg.keyword.text in bound:
                return None
            bound[arg.keyword.text] = arg
    return bound


def instance_id(call: ast.Call, path: ast.PathDecl) -> str:
    """A path instance's name: the path with its arguments in parameter order,
    so `fault(b = buf)` and `fault(buf)` are one instance."""
    if not call.args:
        return call.name.text
    bound = bind_args(call, [p.name.text for p in path.params]) or {}
    parts = [expr_text(bound[p.name.text].value) for p in path.params if p.name.text in bound]
    return f"{call.name.text}({', '.join(parts)})"


def expr_text(expr: ast.Expr) -> str:
    """An argument as it would be written, canonically."""
    if isinstance(expr, ast.Name):
        return expr.ident.text
    if isinstance(expr, ast.BoolLit):
        return "true" if expr.value else "false"
    if isinstance(expr, ast.NullLit):
        return "NULL"
    if isinstance(expr, ast.StringLit):
        return '"' + expr.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(expr, ast.IntLit):
        return str(expr.value)
    if isinstance(expr, ast.Call):
        return f"{expr.name.text}({', '.join(expr_text(a.value) for a in expr.args)})"
    return "..."


@dataclass(frozen=True)
class _Known:
    """What lowering one thread learns that another's lowering needs: the callbacks
    armed on each fence (a signal runs them), each pointer's targets (a read tests
    them) and the queues each kthread sleeps on (kthread_stop() wakes them)."""

    callbacks: dict[str, set[str]]
    targets: dict[str, tuple[str, ...]]
    sleeps: dict[str, tuple[str, ...]]
    parks: frozenset[str] = frozenset()


def _lower_all(resolved: Resolved, sources, known: _Known) -> _Lowerer:
    lowerer = _Lowerer(resolved, sources, known)
    for code_id, path, call in _instances(resolved):
        context = core.CONTEXT_CONSTANTS[path.context.text]
        env = {}
        if call is not None:
            formal = [(p.name.text, frozenset(t.text for t in p.types), core.REQUIRED)
                      for p in path.params]
            try:
                env = lowerer.bind(call, formal, Frame({}, ()))
            except LoweringError:
                continue
        lowerer.lower_code(code_id, path.name.text, context, path.body, env, path.span)
    lowerer.lower_spawns()
    return lowerer


def build_program(resolved: Resolved, sources: dict[str, SourceFile]
                  ) -> tuple[ir.Program | None, list[Diagnostic]]:
    """Lower every thread. A signal inlines the callbacks armed on its fence, and
    inlined callbacks may arm more; a pointer read branches on every object the
    pointer is ever made to point to; kthread_stop() wakes the queues its kthread
    sleeps on. So lowering repeats until what it learns (`_Known`) stops growing;
    it only grows, bounded by fences x functions, pointers x objects and queues x
    functions (and kthreads parked: functions)."""
    known = _Known({}, {name: _numbered(sym, set()) for name, sym in resolved.objects.items()
                        if sym.kind == "pointer"}, {})
    fences = sum(1 for obj in resolved.objects.values() if obj.kind == "fence")
    queues = sum(1 for obj in resolved.objects.values() if obj.kind == "waitqueue")
    rounds = (fences * len(resolved.fns) + len(known.targets) * len(resolved.objects)
              + (queues + 2) * len(resolved.fns) + 1)
    for _ in range(rounds):
        lowerer = _lower_all(resolved, sources, known)
        found = _Known(lowerer.found_callbacks,
                       {name: _numbered(resolved.objects[name],
                                        lowerer.found_targets.get(name, set()))
                        for name in known.targets},
                       {fn: tuple(sorted(q)) for fn, q in sorted(lowerer.found_sleeps.items())},
                       frozenset(lowerer.found_parks))
        if lowerer.diags or found == known:
            break
        known = found
    targets = known.targets
    diags = sorted(lowerer.diags.values(), key=Diagnostic.sort_key)
    if diags:
        return None, diags
    locks = {name: _lock(sym) for name, sym in resolved.locks.items()}
    locks.update(_flush_maps(lowerer.maps))
    program = ir.Program(
        file=resolved.file, title=resolved.title,
        locks=dict(sorted(locks.items())),
        objects=dict(sorted([*((name, _obj(sym, targets.get(name, ())))
                               for name, sym in resolved.objects.items()
                               if sym.kind not in core.DECLARED_KINDS),
                             *((name, ir.Obj(name, kind, 0, span))
                               for name, (kind, span) in lowerer.thread_objects.items())])),
        codes=dict(sorted(_with_flush_maps(lowerer.codes, lowerer.maps).items())),
        roots=tuple(sorted(lowerer.codes)),
        scenarios=tuple(_scenario(s, resolved) for s in resolved.scenarios.values()),
        expectations=tuple(ir.Expectation(e.scenario.text if e.scenario else None, v.text, v.span)
                           for e in resolved.expects for v in e.verdicts),
        orders=tuple(ir.OrderChain(tuple(i.text for i in o.chain), tuple(i.span for i in o.chain),
                                   o.span) for o in resolved.orders),
        options=dict(sorted(resolved.options.items())))
    return program, []


def _flush_maps(maps: dict[str, tuple[str | None, Span]]) -> dict[str, ir.Lock]:
    inner, outer = core.lock_wait_types("lockdep_map")
    return {name: ir.Lock(name, "lockdep_map", name, span, inner, outer, name)
            for name, (_, span) in maps.items()}


def _with_flush_maps(codes: dict[str, ir.Code], maps) -> dict[str, ir.Code]:
    """Workers hold the maps of the flushes that wait for them while they run, as
    process_one_work() does: the workqueue's map outside, the work item's inside.
    Work nothing flushes keeps its code as written."""
    out = {}
    for code_id, code in codes.items():
        held = [name for name, (work, _) in sorted(maps.items(), key=lambda m: m[1][0] is not None)
                if code.context is ir.Context.WORKQUEUE and (work is None or code.path == work)]
        out[code_id] = _hold_while_running(code, held) if held else code
    return out


def _hold_while_running(code: ir.Code, maps: list[str]) -> ir.Code:
    """The code with `maps` acquired on entry (outermost first) and released before
    every exit (innermost first)."""
    ops = list(code.ops)
    site = ir.Site(code.span)

    def add(op: ir.Op) -> int:
        ops.append(op)
        return len(ops) - 1

    for index, op in enumerate(code.ops):
        if isinstance(op, ir.Exit):
            after = add(op)
            for name in maps[:-1]:
                after = add(ir.Release(name, site, after))
            ops[index] = ir.Release(maps[-1], site, after)
    entry = code.entry
    for name in reversed(maps):
        entry = add(ir.Acquire(name, ir.Mode.WRITE, site, entry))
    renumbered, entry = _renumber(ops, entry)
    return dataclasses.replace(code, ops=renumbered, entry=entry)


def _lock(sym) -> ir.Lock:
    inner, outer = core.lock_wait_types(sym.kind)
    return ir.Lock(sym.name, sym.kind, sym.lock_class, sym.span, inner, outer, sym.lockdep,
                   sym.read_mode)


def _obj(sym, targets: tuple[str, ...]) -> ir.Obj:
    if sym.kind == "pointer":
        init = targets.index(sym.init.text) + 1 if isinstance(sym.init, ast.Ident) else 0
    else:
        init = getattr(sym.init, "value", None)
    if init is None:
        init = 1 if sym.kind == "refcounted" else 0
    lock = sym.options.get("lock")
    release = sym.options.get("release")
    return ir.Obj(sym.name, sym.kind, int(init), sym.span,
                  lock.text if lock else None, release.text if release else None, targets)


def _numbered(sym, assigned: set[str]) -> tuple[str, ...]:
    """A pointer's targets in the order a read tests them: where it starts, then
    the rest by name."""
    first = (sym.init.text,) if isinstance(sym.init, ast.Ident) else ()
    return first + tuple(sorted(assigned - set(first)))


def _scenario(decl: ast.ScenarioDecl, resolved: Resolved) -> ir.Scenario:
    threads = tuple(ir.ScenarioThread(instance_id(t.call, resolved.paths[t.call.name.text]),
                                      t.cpu, t.count, t.span)
                    for t in decl.threads)
    return ir.Scenario(decl.name.text, threads, decl.span)
