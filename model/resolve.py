"""Name and type resolution: one pass over every module, collecting every error."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import networkx as nx

from model import ast, core
from model.ir import OBJECT_KINDS
from model.span import TYPE_ERROR, UNKNOWN_NAME, Diagnostic, Span

FINDING_CODES = ("deadlock", "recursive-locking", "irq-inversion", "inconsistent-irq-state",
                 "invalid-wait-context", "order-violation", "use-after-revoke",
                 "use-after-free", "refcount", "bad-unlock", "held-at-exit", "assertion",
                 "hang")


@dataclass(frozen=True)
class LockSym:
    name: str
    kind: str
    lock_class: str
    span: Span


@dataclass(frozen=True)
class ObjSym:
    name: str
    kind: str
    init: ast.Literal | None
    options: dict[str, ast.Ident]
    span: Span


@dataclass(frozen=True)
class Resolved:
    file: str
    title: str
    locks: dict[str, LockSym]
    objects: dict[str, ObjSym]
    fns: dict[str, ast.FnDecl]
    paths: dict[str, ast.PathDecl]
    scenarios: dict[str, ast.ScenarioDecl]
    expects: tuple[ast.ExpectDecl, ...]
    orders: tuple[ast.OrderDecl, ...]
    options: dict[str, object] = field(default_factory=dict)


class _Resolver:
    def __init__(self, modules: tuple[ast.Module, ...]):
        self.modules = modules
        self.main = modules[0].path
        self.diags: list[Diagnostic] = []
        self.locks: dict[str, LockSym] = {}
        self.objects: dict[str, ObjSym] = {}
        self.fns: dict[str, ast.FnDecl] = {}
        self.paths: dict[str, ast.PathDecl] = {}
        self.scenarios: dict[str, ast.ScenarioDecl] = {}
        self.defined: dict[str, Span] = {}
        self.expects: list[ast.ExpectDecl] = []
        self.orders: list[ast.OrderDecl] = []
        self.options: dict[str, object] = {}
        self.title = ""

    def error(self, code: str, message: str, span: Span, *hints: str) -> None:
        self.diags.append(Diagnostic(code, message, span, tuple(h for h in hints if h)))

    # ------------------------------------------------------------ declarations
    def declare(self, ident: ast.Ident) -> bool:
        if ident.text in self.defined:
            first = self.defined[ident.text]
            self.error(TYPE_ERROR, f"`{ident.text}` is already declared at {first.short()}",
                       ident.span)
            return False
        if core.constant_type(ident.text) or ident.text in core.BUILTINS:
            self.error(TYPE_ERROR, f"`{ident.text}` is a builtin name and cannot be redeclared",
                       ident.span)
            return False
        self.defined[ident.text] = ident.span
        return True

    def collect(self) -> None:
        for module in self.modules:
            is_main = module.path == self.main
            for decl in module.decls:
                self.collect_decl(decl, is_main)

    def collect_decl(self, decl: ast.Decl, is_main: bool) -> None:
        if isinstance(decl, ast.Title):
            if is_main:
                self.title = decl.text
        elif isinstance(decl, ast.LockDecl):
            self.collect_lock(decl)
        elif isinstance(decl, ast.ObjectDecl):
            self.collect_object(decl)
        elif isinstance(decl, ast.FnDecl):
            if self.declare(decl.name):
                self.fns[decl.name.text] = decl
        elif isinstance(decl, ast.PathDecl):
            if self.declare(decl.name):
                self.paths[decl.name.text] = decl
        elif isinstance(decl, ast.OrderDecl):
            self.orders.append(decl)
        elif is_main and isinstance(decl, ast.ScenarioDecl):
            if self.declare(decl.name):
                self.scenarios[decl.name.text] = decl
        elif is_main and isinstance(decl, ast.ExpectDecl):
            self.expects.append(decl)
        elif is_main and isinstance(decl, ast.OptionDecl):
            self.collect_option(decl)

    def collect_lock(self, decl: ast.LockDecl) -> None:
        kind = decl.kind.text
        if kind not in core.LOCK_KIND_NAMES:
            self.error(TYPE_ERROR, f"unknown lock kind `{kind}`", decl.kind.span,
                       _did_you_mean(kind, core.LOCK_KIND_NAMES))
            return
        for ident in decl.names:
            if self.declare(ident):
                cls = decl.lock_class.text if decl.lock_class else ident.text
                self.locks[ident.text] = LockSym(ident.text, kind, cls, ident.span)

    def collect_object(self, decl: ast.ObjectDecl) -> None:
        kind = decl.kind.text
        if kind not in OBJECT_KINDS:
            self.error(TYPE_ERROR, f"unknown object kind `{kind}`", decl.kind.span,
                       _did_you_mean(kind, OBJECT_KINDS))
            return
        options = {}
        for opt in decl.options:
            if opt.key.text not in ("lock", "release"):
                self.error(TYPE_ERROR, f"unknown object option `{opt.key.text}`", opt.key.span,
                           "objects take `lock NAME` (fences) and `release FN` (refcounted)")
            options[opt.key.text] = opt.value
        for ident in decl.names:
            if self.declare(ident):
                self.objects[ident.text] = ObjSym(ident.text, kind, decl.init, options, ident.span)

    def collect_option(self, decl: ast.OptionDecl) -> None:
        name = decl.name.text
        if name not in core.OPTIONS:
            self.error(UNKNOWN_NAME, f"unknown option `{name}`", decl.name.span,
                       _did_you_mean(name, core.OPTIONS))
            return
        want = core.OPTIONS[name]
        if decl.value is None:
            value: object = True
        else:
            value = getattr(decl.value, "value", None)
        if want is bool and not isinstance(value, bool) or want is int and (
                not isinstance(value, int) or isinstance(value, bool)):
            self.error(TYPE_ERROR, f"option `{name}` takes a {want.__name__}", decl.span)
            return
        self.options[name] = value

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        for decl in self.objects.values():
            self.check_object(decl)
        for order in self.orders:
            for ident in order.chain:
                self.expect_lock(ident)
        self.check_order_cycles()
        for fn in self.fns.values():
            self.check_params(fn.params, fn.span)
            self.check_block(fn.body, _param_names(fn.params), fn.result is not None)
        for path in self.paths.values():
            self.check_params(path.params, path.span)
            if path.context.text not in core.CONTEXT_CONSTANTS:
                self.error(TYPE_ERROR, f"unknown execution context `{path.context.text}`",
                           path.context.span,
                           _did_you_mean(path.context.text, core.CONTEXT_CONSTANTS)
                           or "contexts: " + ", ".join(sorted(core.CONTEXT_CONSTANTS)))
            self.check_block(path.body, _param_names(path.params), False)
        for scenario in self.scenarios.values():
            self.check_scenario(scenario)
        for expect in self.expects:
            self.check_expect(expect)
        self.check_recursion()
        self.check_main_paths_run()

    def check_object(self, obj: ObjSym) -> None:
        lock = obj.options.get("lock")
        if lock is not None:
            if obj.kind != "fence":
                self.error(TYPE_ERROR, "only fences take a `lock`", lock.span)
            self.expect_lock(lock)
        release = obj.options.get("release")
        if release is not None:
            if obj.kind != "refcounted":
                self.error(TYPE_ERROR, "only refcounted objects take a `release` function",
                           release.span)
            self.expect_fn(release)

    def expect_lock(self, ident: ast.Ident) -> None:
        if ident.text not in self.locks:
            self.unknown(ident, "lock", self.locks)

    def expect_fn(self, ident: ast.Ident) -> None:
        if ident.text not in self.fns:
            self.unknown(ident, "function", self.fns)

    def unknown(self, ident: ast.Ident, what: str, pool) -> None:
        self.error(UNKNOWN_NAME, f"unknown {what} `{ident.text}`", ident.span,
                   _did_you_mean(ident.text, pool))

    def check_order_cycles(self) -> None:
        graph = nx.DiGraph()
        for order in self.orders:
            for a, b in zip(order.chain, order.chain[1:]):
                if a.text in self.locks and b.text in self.locks:
                    graph.add_edge(self.locks[a.text].lock_class, self.locks[b.text].lock_class,
                                   span=b.span)
        for component in sorted(nx.strongly_connected_components(graph), key=sorted):
            nodes = sorted(component)
            if len(nodes) > 1 or graph.has_edge(nodes[0], nodes[0]):
                cycle = nodes + [nodes[0]]
                span = min(graph.edges[u, v]["span"] for u, v in graph.edges(nodes)
                           if v in component)
                self.error(TYPE_ERROR, "declared lock order is cyclic: " + " -> ".join(cycle),
                           span, "an `order` must be acyclic; drop one of the edges")

    def check_params(self, params: tuple[ast.Param, ...], span: Span) -> None:
        seen = set()
        for param in params:
            if param.name.text in seen:
                self.error(TYPE_ERROR, f"duplicate parameter `{param.name.text}`", param.span)
            seen.add(param.name.text)
            for t in param.types:
                if t.text not in core.TYPE_NAMES:
                    self.error(TYPE_ERROR, f"unknown type `{t.text}`", t.span,
                               _did_you_mean(t.text, core.TYPE_NAMES))

    # --------------------------------------------------------------- bodies
    def check_block(self, block: ast.Block, params: dict[str, ast.Param], returns_bool: bool):
        for stmt in block.stmts:
            self.check_stmt(stmt, params, returns_bool)

    def check_stmt(self, stmt: ast.Stmt, params, returns_bool: bool) -> None:
        if isinstance(stmt, ast.CallStmt):
            self.check_call(stmt.call, params, statement=True)
        elif isinstance(stmt, ast.Block):
            self.check_block(stmt, params, returns_bool)
        elif isinstance(stmt, ast.If):
            self.check_cond(stmt.cond, params)
            self.check_block(stmt.then, params, returns_bool)
            if stmt.orelse is not None:
                self.check_stmt(stmt.orelse, params, returns_bool)
        elif isinstance(stmt, ast.Either):
            for branch in stmt.branches:
                self.check_block(branch, params, returns_bool)
        elif isinstance(stmt, ast.Repeat):
            if not 1 <= stmt.count <= 64:
                self.error(TYPE_ERROR, "`repeat` takes a count from 1 to 64", stmt.span)
            self.check_block(stmt.body, params, returns_bool)
        elif isinstance(stmt, ast.Assert):
            self.check_cond(stmt.cond, params)
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None and not returns_bool:
                self.error(TYPE_ERROR, "only a `-> bool` function returns a value", stmt.span)
            elif stmt.value is None and returns_bool:
                self.error(TYPE_ERROR, "a `-> bool` function must return a value", stmt.span,
                           "write `return true;` or `return false;`")
            elif stmt.value is not None:
                self.check_cond(stmt.value, params)

    def check_cond(self, expr: ast.Expr, params) -> None:
        if isinstance(expr, ast.Not):
            self.check_cond(expr.operand, params)
        elif isinstance(expr, ast.BoolOp):
            for operand in expr.operands:
                self.check_cond(operand, params)
        elif isinstance(expr, ast.Compare):
            for side in (expr.left, expr.right):
                self.check_value(side, params)
        elif isinstance(expr, ast.Call):
            self.check_call(expr, params, statement=False)
        elif isinstance(expr, ast.Name):
            kind = self.name_type(expr.ident, params)
            if kind not in (None, "flag", "bool"):
                self.error(TYPE_ERROR, f"`{expr.ident.text}` is a {kind}, not a condition",
                           expr.span, "conditions are flags, predicates like `revoked(b)`, "
                           "comparisons, or calls of `-> bool` functions")
        elif isinstance(expr, (ast.IntLit, ast.StringLit)):
            self.error(TYPE_ERROR, "not a condition", expr.span)

    def check_value(self, expr: ast.Expr, params) -> str | None:
        if isinstance(expr, ast.Name):
            return self.name_type(expr.ident, params)
        if isinstance(expr, ast.Call):
            self.check_call(expr, params, statement=False)
            return None
        if isinstance(expr, ast.IntLit):
            return "int"
        if isinstance(expr, ast.BoolLit):
            return "bool"
        if isinstance(expr, ast.NullLit):
            return "null"
        if isinstance(expr, ast.StringLit):
            return "string"
        self.check_cond(expr, params)
        return "bool"

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
        self.unknown(ident, "name", pool + list(core.GFP_CONSTANTS))
        return None

    def check_call(self, call: ast.Call, params, statement: bool) -> None:
        name = call.name.text
        signature = self.signature(name)
        if signature is None:
            self.error(UNKNOWN_NAME, f"unknown function `{name}`", call.name.span,
                       _did_you_mean(name, list(self.fns) + list(core.BUILTINS)))
            for arg in call.args:
                self.check_value(arg.value, params)
            return
        formal, role = signature
        if not statement and role == "stmt":
            self.error(TYPE_ERROR, f"`{name}` does not return a condition", call.span,
                       "only `-> bool` functions and predicates can be used in conditions")
        if statement and role in ("cond", "value"):
            self.error(TYPE_ERROR, f"`{name}` is a condition, not a statement", call.span,
                       f"use it in `if {name}(...) {{ ... }}` or `assert {name}(...);`")
        self.check_args(call, formal, params)

    def signature(self, name: str):
        if name in core.BUILTINS:
            builtin = core.BUILTINS[name]
            return [(p.name, p.types, p.default) for p in builtin.params], builtin.role
        if name in self.fns:
            fn = self.fns[name]
            formal = [(p.name.text, frozenset(t.text for t in p.types), core.REQUIRED)
                      for p in fn.params]
            return formal, ("effect" if fn.result is not None else "stmt")
        return None

    def check_args(self, call: ast.Call, formal, params) -> None:
        names = [f[0] for f in formal]
        bound: dict[str, ast.Arg] = {}
        positional = [a for a in call.args if a.keyword is None]
        for index, arg in enumerate(call.args):
            if arg.keyword is not None and positional and call.args.index(positional[-1]) > index:
                self.error(TYPE_ERROR, "positional argument after a named one", arg.span)
        for index, arg in enumerate(positional):
            if index >= len(formal):
                self.error(TYPE_ERROR, f"`{call.name.text}` takes {_count(formal)}, "
                           f"got {len(call.args)}", arg.span,
                           "signature: " + _signature_text(call.name.text, formal))
                break
            bound[names[index]] = arg
        for arg in call.args:
            if arg.keyword is None:
                continue
            key = arg.keyword.text
            if key not in names:
                self.error(TYPE_ERROR, f"`{call.name.text}` has no parameter `{key}`",
                           arg.keyword.span, _did_you_mean(key, names))
            elif key in bound:
                self.error(TYPE_ERROR, f"parameter `{key}` given twice", arg.span)
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
        if "bool" in types and not isinstance(value, (ast.Name, ast.BoolLit)):
            self.check_cond(value, params)
            return
        actual = self.check_value(value, params)
        if actual is None or not types:
            return
        if not core.type_matches(actual, types):
            shown = " or ".join(sorted(types))
            self.error(TYPE_ERROR, f"`{call.name.text}` wants {shown} for `{pname}`, "
                       f"but {_describe_value(value)} is a {actual}", value.span,
                       self.verb_hint(call.name.text, actual))

    def verb_hint(self, verb: str, actual: str) -> str:
        """Suggest the verb family that fits a lock kind (`down_read` on a spinlock)."""
        family = {"spinlock": "spin_lock", "raw_spinlock": "raw_spin_lock",
                  "rwlock": "read_lock / write_lock", "mutex": "mutex_lock",
                  "rwsem": "down_read / down_write", "ww_mutex": "ww_mutex_lock / dma_resv_lock",
                  "local_lock": "local_lock", "seqlock": "read_seqbegin / write_seqlock",
                  "lockdep_map": "lock_map_acquire"}
        if actual in family:
            return f"a {actual} is taken with {family[actual]}"
        return ""

    # ------------------------------------------------------------- scenarios
    def check_scenario(self, scenario: ast.ScenarioDecl) -> None:
        for thread in scenario.threads:
            name = thread.call.name
            if name.text not in self.paths:
                self.unknown(name, "path", self.paths)
                continue
            path = self.paths[name.text]
            formal = [(p.name.text, frozenset(t.text for t in p.types), core.REQUIRED)
                      for p in path.params]
            self.check_args(thread.call, formal, {})
            if thread.count < 1 or thread.count > 16:
                self.error(TYPE_ERROR, "a thread count is from 1 to 16", thread.span)

    def check_expect(self, expect: ast.ExpectDecl) -> None:
        if expect.scenario is not None and expect.scenario.text not in self.scenarios:
            self.unknown(expect.scenario, "scenario", self.scenarios)
        for verdict in expect.verdicts:
            if verdict.text != "pass" and verdict.text not in FINDING_CODES:
                self.error(UNKNOWN_NAME, f"unknown finding code `{verdict.text}`", verdict.span,
                           _did_you_mean(verdict.text, FINDING_CODES + ("pass",))
                           or "codes: pass, " + ", ".join(FINDING_CODES))

    def check_recursion(self) -> None:
        graph = nx.DiGraph()
        sites: dict[tuple[str, str], Span] = {}
        for fn in self.fns.values():
            for call in _calls(fn.body):
                if call.name.text in self.fns:
                    graph.add_edge(fn.name.text, call.name.text)
                    sites.setdefault((fn.name.text, call.name.text), call.span)
        for component in sorted(nx.strongly_connected_components(graph), key=sorted):
            nodes = sorted(component)
            if len(nodes) > 1 or graph.has_edge(nodes[0], nodes[0]):
                edge = min((e for e in graph.edges(nodes) if e[1] in component),
                           key=lambda e: sites[e])
                self.error(TYPE_ERROR, "recursive call: " + " -> ".join(nodes + [nodes[0]]),
                           sites[edge], "functions are inlined; use `repeat N { ... }` "
                           "for bounded repetition")

    def check_main_paths_run(self) -> None:
        instantiated = {t.call.name.text for s in self.scenarios.values() for t in s.threads}
        for path in self.paths.values():
            if path.span.file == self.main and path.params and path.name.text not in instantiated:
                self.error(TYPE_ERROR, f"path `{path.name.text}` takes parameters but no "
                           "scenario runs it", path.name.span,
                           f"add `scenario NAME = {path.name.text}(...)` or drop the parameters")


def _calls(node):
    """Every call in a statement tree, iteratively."""
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
        elif isinstance(item, (ast.Assert,)):
            stack.append(item.cond)
        elif isinstance(item, ast.Return) and item.value is not None:
            stack.append(item.value)
        elif isinstance(item, ast.Not):
            stack.append(item.operand)
        elif isinstance(item, ast.BoolOp):
            stack.extend(item.operands)
        elif isinstance(item, ast.Compare):
            stack.extend((item.left, item.right))


def _param_names(params: tuple[ast.Param, ...]) -> dict[str, ast.Param]:
    return {p.name.text: p for p in params}


def _did_you_mean(name: str, pool) -> str:
    matches = difflib.get_close_matches(name, sorted(pool), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else ""


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


def _describe_value(value: ast.Expr) -> str:
    if isinstance(value, ast.Name):
        return f"`{value.ident.text}`"
    return "the argument"


def resolve(modules: tuple[ast.Module, ...]) -> tuple[Resolved, list[Diagnostic]]:
    resolver = _Resolver(modules)
    resolver.collect()
    resolver.check()
    resolved = Resolved(
        file=resolver.main, title=resolver.title, locks=resolver.locks,
        objects=resolver.objects, fns=resolver.fns, paths=resolver.paths,
        scenarios=resolver.scenarios, expects=tuple(resolver.expects),
        orders=tuple(resolver.orders), options=resolver.options)
    return resolved, sorted(resolver.diags, key=Diagnostic.sort_key)
