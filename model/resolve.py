"""Name and type resolution: one pass over every module, collecting every error.

Declarations are collected first (imported modules before the importing one,
so a clash is reported where the user wrote it), then every body, scenario and
expectation is checked against them; model/resolve_body.py checks the bodies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from model import ast, core
from model.ir import OBJECT_KINDS, POINTEE_KINDS
from model.resolve_body import BodyChecker, calls_in, did_you_mean, formal_of
from model.span import TYPE_ERROR, UNKNOWN_NAME, Diagnostic, Span, display_name

FINDING_CODES = ("deadlock", "recursive-locking", "irq-inversion", "inconsistent-irq-state",
                 "invalid-wait-context", "order-violation", "use-after-revoke",
                 "use-after-free", "refcount", "bad-unlock", "held-at-exit", "assertion",
                 "hang")
MAX_THREAD_COUNT = 16
MAX_CPU = 63

# The kernel's C type names, for a "did you mean" difflib cannot find.
KIND_ALIASES = {
    "spinlock_t": "spinlock", "raw_spinlock_t": "raw_spinlock", "rwlock_t": "rwlock",
    "rw_semaphore": "rwsem", "rw_sem": "rwsem", "semaphore": "rwsem", "seqlock_t": "seqlock",
    "local_lock_t": "local_lock", "ww_acquire_ctx": "ww_ctx", "ww_class": "ww_mutex",
    "lockdep_map_p": "lockdep_map", "srcu_struct": "srcu", "kref": "refcounted",
    "refcount_t": "refcounted", "dma_fence": "fence", "atomic_t": "counter",
    "bool": "flag", "dma_buf": "revocable", "work_struct": "work", "delayed_work": "work",
}
CONTEXT_ALIASES = {
    "irq": "hardirq", "interrupt": "hardirq", "isr": "hardirq", "nmi": "hardirq",
    "task": "process", "thread": "process", "kthread": "process", "syscall": "process",
    "user": "process", "ioctl": "process", "bh": "softirq", "tasklet": "softirq",
    "napi": "softirq", "timer": "softirq", "work": "workqueue", "wq": "workqueue",
}
OBJECT_OPTIONS = {"lock": "fence", "release": "refcounted", "func": "work"}
LOCK_OPTIONS = {"read": "rwlock"}
NO_INITIAL_VALUE = {"memory": "a memory object starts allocated and takes no initial value",
                    "work": "a work item takes no initial value"}
READ_MODES = ("queued", "recursive")      # rwlock(read = ...)


@dataclass(frozen=True)
class LockSym:
    name: str
    kind: str
    lock_class: str
    span: Span
    lockdep: str | None = None
    read_mode: str | None = None     # rwlock(read = ...): "queued" or "recursive"


@dataclass(frozen=True)
class ObjSym:
    name: str
    kind: str
    init: ast.Literal | ast.Ident | None
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
    def __init__(self, modules: tuple[ast.Module, ...], elsewhere: dict[str, str]):
        self.modules = modules
        self.main = modules[0].path
        self.elsewhere = elsewhere
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

    def unknown(self, ident: ast.Ident, what: str, pool) -> None:
        self.error(UNKNOWN_NAME, f"unknown {what} `{ident.text}`", ident.span,
                   did_you_mean(ident.text, pool))

    # ------------------------------------------------------------ declarations
    def declare(self, ident: ast.Ident) -> bool:
        if ident.text in self.defined:
            first = self.defined[ident.text]
            where, hint = f"on line {first.line}", ""
            if first.file != ident.span.file:
                where = f"at {first.short()}"
                hint = (f"`{ident.text}` comes from {display_name(first.file)}; use that "
                        "one, or choose another name")
            self.error(TYPE_ERROR, f"`{ident.text}` is already declared {where}", ident.span,
                       hint)
            return False
        if core.constant_type(ident.text) or ident.text in core.BUILTINS:
            self.error(TYPE_ERROR, f"`{ident.text}` is a builtin name and cannot be redeclared",
                       ident.span, "docs/language.md lists the core builtins and constants")
            return False
        self.defined[ident.text] = ident.span
        return True

    def collect(self) -> None:
        for module in reversed(self.modules):
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

    def kind_error(self, what: str, kind: ast.Ident, pool, other_pool, other: str) -> None:
        hint = did_you_mean(kind.text, pool)
        alias = KIND_ALIASES.get(kind.text)
        if alias in pool:
            hint = f"the kernel's `{kind.text}` is `{alias}` here"
        elif kind.text in other_pool:
            hint = f"`{kind.text}` is {other}"
        elif alias in other_pool:
            hint = f"the kernel's `{kind.text}` is `{alias}`, and `{alias}` is " + \
                other.replace(kind.text, alias)
        self.error(TYPE_ERROR, f"unknown {what} kind `{kind.text}`", kind.span,
                   hint or f"{what} kinds: " + ", ".join(sorted(pool)))

    def collect_lock(self, decl: ast.LockDecl) -> None:
        kind = decl.kind.text
        if kind not in core.LOCK_KIND_NAMES:
            self.kind_error("lock", decl.kind, core.LOCK_KIND_NAMES, OBJECT_KINDS,
                            f"an object kind: `object NAME : {kind}`")
            return
        options = self.kind_options("lock", kind, decl.options, LOCK_OPTIONS,
                                    "rwlocks take `(read = recursive)` or `(read = queued)`")
        read_mode = self.read_mode(options.get("read"))
        for ident in decl.names:
            if self.declare(ident):
                cls = decl.lock_class.text if decl.lock_class else ident.text
                self.locks[ident.text] = LockSym(ident.text, kind, cls, ident.span,
                                                 decl.lockdep, read_mode)

    def read_mode(self, option: ast.ObjectOption | None) -> str | None:
        if option is None:
            return None
        value = option.value.text
        if value not in READ_MODES:
            self.error(TYPE_ERROR, f"`read` is one of {', '.join(READ_MODES)}, not `{value}`",
                       option.value.span, did_you_mean(value, READ_MODES))
            return None
        return value

    def kind_options(self, what: str, kind: str, given: tuple[ast.ObjectOption, ...],
                     takes: dict[str, str], hint: str) -> dict[str, ast.ObjectOption]:
        """A declaration's `kind(key = value, ...)`: each key known, taken by this
        kind (`takes` maps a key to the kind that takes it), and given once."""
        options: dict[str, ast.ObjectOption] = {}
        for opt in given:
            key = opt.key.text
            if key not in takes:
                self.error(TYPE_ERROR, f"unknown {what} option `{key}`", opt.key.span,
                           did_you_mean(key, takes) or hint)
            elif takes[key] != kind:
                article = "an" if takes[key].startswith(("a", "e", "i", "o", "u", "rw")) else "a"
                self.error(TYPE_ERROR, f"only {article} {takes[key]} takes `{key}`",
                           opt.key.span)
            elif key in options:
                self.error(TYPE_ERROR, f"option `{key}` is given twice", opt.span)
            else:
                options[key] = opt
        return options

    def collect_object(self, decl: ast.ObjectDecl) -> None:
        kind = decl.kind.text
        if kind not in OBJECT_KINDS | core.DECLARED_KINDS:
            self.kind_error("object", decl.kind, OBJECT_KINDS | core.DECLARED_KINDS,
                            core.LOCK_KIND_NAMES,
                            f"a lock kind: `lock NAME : {kind}`")
            return
        given = self.kind_options("object", kind, decl.options, OBJECT_OPTIONS,
                                  "fences take `(lock = L)`, refcounted objects "
                                  "`(release = FN)`, work items `(func = FN)`")
        options = {key: opt.value for key, opt in given.items()}
        self.check_init(kind, decl.init)
        for ident in decl.names:
            if self.declare(ident):
                self.objects[ident.text] = ObjSym(ident.text, kind, decl.init, options, ident.span)

    def check_init(self, kind: str, init: ast.Literal | ast.Ident | None) -> None:
        if init is None or kind == "pointer" and isinstance(init, (ast.Ident, ast.NullLit)):
            return          # a pointer's target is checked once every object is known
        value = getattr(init, "value", None)
        if kind == "pointer" or isinstance(init, ast.Ident):
            self.error(TYPE_ERROR, f"a {kind} starts as " + (
                "an object's name or `NULL`" if kind == "pointer" else "a literal"), init.span,
                "`object ptr : pointer = obj` starts pointing to obj; other objects start "
                "at a number or `true`/`false`")
            return
        if kind in NO_INITIAL_VALUE:
            self.error(TYPE_ERROR, NO_INITIAL_VALUE[kind], init.span)
            return
        if kind in ("counter", "refcounted"):
            ok = isinstance(init, ast.IntLit)
            wanted = "a number"
        else:
            ok = isinstance(init, ast.BoolLit) or isinstance(init, ast.IntLit) and value in (0, 1)
            wanted = "`true` or `false`"
        if not ok:
            self.error(TYPE_ERROR, f"a {kind} starts as {wanted}", init.span,
                       "counters and refcounted objects start at a number; flags, revocable "
                       "objects, fences and completions at `true` (set, revoked, signalled) "
                       "or `false` (the default)")

    def collect_option(self, decl: ast.OptionDecl) -> None:
        name = decl.name.text
        if name not in core.OPTIONS:
            self.error(UNKNOWN_NAME, f"unknown option `{name}`", decl.name.span,
                       did_you_mean(name, core.OPTIONS)
                       or "options: " + ", ".join(sorted(core.OPTIONS)))
            return
        want = core.OPTIONS[name]
        value = True if decl.value is None else getattr(decl.value, "value", None)
        if want is bool and not isinstance(value, bool) or want is int and (
                not isinstance(value, int) or isinstance(value, bool)):
            wanted = "`true` or `false`" if want is bool else "a number"
            self.error(TYPE_ERROR, f"option `{name}` takes {wanted}", decl.span)
            return
        self.options[name] = value

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        bodies = BodyChecker(self.locks, self.objects, self.fns, self.paths, self.elsewhere,
                             self.error)
        for obj in self.objects.values():
            self.check_object(obj)
        for order in self.orders:
            for ident in order.chain:
                if ident.text not in self.locks:
                    self.unknown(ident, "lock", self.locks)
        self.check_order_cycles()
        for fn in self.fns.values():
            bodies.check_fn(fn)
        for path in self.paths.values():
            self.check_context(path.context)
            bodies.check_path(path)
        for scenario in self.scenarios.values():
            self.check_scenario(scenario, bodies)
        for expect in self.expects:
            self.check_expect(expect)
        self.check_recursion()
        self.check_main_paths_run()

    def check_context(self, context: ast.Ident) -> None:
        if context.text not in core.CONTEXT_CONSTANTS:
            hint = did_you_mean(context.text, core.CONTEXT_CONSTANTS)
            if context.text in CONTEXT_ALIASES:
                hint = f"did you mean `{CONTEXT_ALIASES[context.text]}`?"
            self.error(TYPE_ERROR, f"unknown execution context `{context.text}`", context.span,
                       hint or "contexts: " + ", ".join(core.CONTEXT_CONSTANTS))

    def check_work(self, obj: ObjSym) -> None:
        """A work item names the function it runs (INIT_WORK(&w, func))."""
        func = obj.options.get("func")
        if func is None:
            self.error(TYPE_ERROR, f"work item `{obj.name}` needs its function", obj.span,
                       f"`object {obj.name} : work(func = FN)`, as INIT_WORK(&{obj.name}, FN)")
        elif func.text not in self.fns:
            self.unknown(func, "function", self.fns)
        elif self.fns[func.text].params:
            self.error(TYPE_ERROR, f"`{func.text}` runs as work item `{obj.name}`, so it takes "
                       "no parameters", func.span)

    def check_object(self, obj: ObjSym) -> None:
        if obj.kind == "work":
            self.check_work(obj)
        if obj.kind == "pointer" and isinstance(obj.init, ast.Ident):
            target = self.objects.get(obj.init.text)
            if target is None:
                self.unknown(obj.init, "object", self.objects)
            elif target.kind not in POINTEE_KINDS:
                self.error(TYPE_ERROR, f"a pointer points to a "
                           f"{' or '.join(sorted(POINTEE_KINDS))} object, but "
                           f"`{target.name}` is a {target.kind}", obj.init.span)
        lock = obj.options.get("lock")
        if lock is not None:
            if lock.text not in self.locks:
                self.unknown(lock, "lock", self.locks)
            elif self.locks[lock.text].kind not in ("spinlock", "raw_spinlock"):
                self.error(TYPE_ERROR, f"a fence's lock is a spinlock, but `{lock.text}` is a "
                           f"{self.locks[lock.text].kind}", lock.span,
                           "dma_fence_init() takes a spinlock_t")
        release = obj.options.get("release")
        if release is not None:
            if release.text not in self.fns:
                self.unknown(release, "function", self.fns)
            else:
                self.check_release_fn(obj, release, self.fns[release.text])

    def check_release_fn(self, obj: ObjSym, use: ast.Ident, fn: ast.FnDecl) -> None:
        """A release function takes nothing, or the object that dropped to zero."""
        if len(fn.params) > 1:
            self.error(TYPE_ERROR, f"release function `{fn.name.text}` takes at most one "
                       "parameter (the object)", use.span)
        elif fn.params and fn.params[0].types and not core.type_matches(
                obj.kind, frozenset(t.text for t in fn.params[0].types)):
            self.error(TYPE_ERROR, f"release function `{fn.name.text}` takes a "
                       f"{' or '.join(t.text for t in fn.params[0].types)}, but `{obj.name}` "
                       f"is a {obj.kind}", use.span)

    def check_order_cycles(self) -> None:
        graph = nx.DiGraph()
        for order in self.orders:
            for a, b in zip(order.chain, order.chain[1:]):
                if a.text in self.locks and b.text in self.locks:
                    graph.add_edge(self.locks[a.text].lock_class, self.locks[b.text].lock_class,
                                   span=b.span, names=(a.text, b.text))
        for component in sorted(nx.strongly_connected_components(graph), key=sorted):
            nodes = sorted(component)
            if len(nodes) == 1 and not graph.has_edge(nodes[0], nodes[0]):
                continue
            edges = sorted((graph.edges[u, v]["span"], graph.edges[u, v]["names"])
                           for u, v in graph.edges(nodes) if v in component)
            span, (first, second) = edges[0]
            if len(nodes) == 1 and first != second:
                self.error(TYPE_ERROR, f"`{first}` and `{second}` share lock class "
                           f"`{nodes[0]}`, so an order between them is a cycle", span,
                           "lockdep orders classes, not instances; give them distinct "
                           "classes, or take the inner one with a subclass "
                           "(`mutex_lock_nested`)")
                continue
            self.error(TYPE_ERROR, "declared lock order is cyclic: "
                       + " -> ".join(nodes + [nodes[0]]), span,
                       "an `order` must be acyclic; drop one of the edges")

    # ------------------------------------------------------------- scenarios
    def check_scenario(self, scenario: ast.ScenarioDecl, bodies: BodyChecker) -> None:
        for thread in scenario.threads:
            name = thread.call.name
            if name.text not in self.paths:
                hint = did_you_mean(name.text, self.paths)
                if name.text in self.fns:
                    hint = f"`{name.text}` is a fn; a scenario runs paths (`path NAME in CONTEXT`)"
                self.error(UNKNOWN_NAME, f"unknown path `{name.text}`", name.span, hint)
                continue
            bodies.check_args(thread.call, formal_of(self.paths[name.text].params), {})
            if not 1 <= thread.count <= MAX_THREAD_COUNT:
                self.error(TYPE_ERROR, f"a thread count is from 1 to {MAX_THREAD_COUNT}",
                           thread.span)
            if thread.cpu is not None and thread.cpu > MAX_CPU:
                self.error(TYPE_ERROR, f"CPUs are numbered from 0 to {MAX_CPU}", thread.span)

    def check_expect(self, expect: ast.ExpectDecl) -> None:
        if expect.scenario is not None and expect.scenario.text not in self.scenarios:
            self.unknown(expect.scenario, "scenario", self.scenarios)
        for verdict in expect.verdicts:
            if verdict.text != "pass" and verdict.text not in FINDING_CODES:
                self.error(UNKNOWN_NAME, f"unknown finding code `{verdict.text}`", verdict.span,
                           did_you_mean(verdict.text, FINDING_CODES + ("pass",))
                           or "codes: pass, " + ", ".join(FINDING_CODES))
        if len(expect.verdicts) > 1 and any(v.text == "pass" for v in expect.verdicts):
            self.error(TYPE_ERROR, "`pass` cannot be expected together with findings",
                       expect.span, "`expect pass` says the spec has no finding at all")

    def check_recursion(self) -> None:
        graph = nx.DiGraph()
        sites: dict[tuple[str, str], Span] = {}
        for fn in self.fns.values():
            for call in calls_in(fn.body):
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


def resolve(modules: tuple[ast.Module, ...], elsewhere: dict[str, str] | None = None
            ) -> tuple[Resolved, list[Diagnostic]]:
    """Resolve the main module (first) with its imports. `elsewhere` names what
    modules that are not imported would declare, for "add `import ...`" hints."""
    resolver = _Resolver(modules, elsewhere or {})
    resolver.collect()
    resolver.check()
    resolved = Resolved(
        file=resolver.main, title=resolver.title, locks=resolver.locks,
        objects=resolver.objects, fns=resolver.fns, paths=resolver.paths,
        scenarios=resolver.scenarios, expects=tuple(resolver.expects),
        orders=tuple(resolver.orders), options=resolver.options)
    diags = sorted(set(resolver.diags), key=Diagnostic.sort_key)
    return resolved, diags
