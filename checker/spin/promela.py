"""Export a scenario as a Promela model for SPIN (`lockspec export --promela`).

The model follows docs/semantics.md step for step, so SPIN and lockspec must
agree on every verdict (tests/test_spin.py checks that they do):

- each code becomes a proctype over its thread-local state unfolded at export
  time (held locks, irq/bh depths, GFP scopes and cookies are known per
  control node), so thread-local conditions and faults are static;
- one IR op is one `atomic` step; its first statement is the step's guard:
  the CPU lets the thread run, and the lock or completion allows it;
- locks, objects, armed callbacks, CPUs and thread status are globals, and so
  are who counts for each grace period or flush and whom each syncer still
  waits for (checker.spin.graces);
- a violation asserts a bit named after its finding code (always 0), so pan
  prints e.g. `assertion violated VIOLATION_use_after_revoke`;
- a watchdog waits for `timeout` (nothing can step) and classifies the stuck
  state as a deadlock or a hang the way `semantics.stuck_violation` does.
"""
from __future__ import annotations

from checker.interleave.semantics import (Model, ThreadSpec, build_model, cycle_scenario,
                                          initial_object, scenario_threads)
from checker.spin.graces import GraceExport
from checker.spin.ops import NodeWriter
from checker.spin.unfold import Unfolded, unfold
from model import ir

MAX_EXPORT_THREADS = 200          # pan's limit is 255 processes
MAX_NODES = 50_000

MARKERS = ("deadlock", "hang", "use-after-revoke", "use-after-free", "refcount", "assertion",
           "held-at-exit", "bad-unlock")


def marker(code: str) -> str:
    return "VIOLATION_" + code.replace("-", "_")


def code_of_marker(name: str) -> str | None:
    for code in MARKERS:
        if marker(code) == name:
            return code
    return None


def render_promela(program: ir.Program, scenario_name: str | None) -> tuple[str, list[str]]:
    """The Promela text of one scenario (default: the first; with none in the spec,
    every path once, each on its own CPU), or problems."""
    chosen = [s for s in program.scenarios if scenario_name is None or s.name == scenario_name]
    if not chosen and scenario_name is None:
        spawned = {op.code for code in program.codes.values() for op in code.ops
                   if isinstance(op, ir.Spawn)}
        paths = [code for code in program.codes if code not in spawned]
        if not paths:
            return "", ["the spec has no path to export"]
        threads = scenario_threads(program, cycle_scenario(program, paths))
        return render_threads(program, threads, "(none: every path once, each on its CPU)")
    if not chosen:
        names = ", ".join(s.name for s in program.scenarios) or "none"
        return "", [f"no scenario `{scenario_name}` (scenarios: {names})"]
    threads = scenario_threads(program, chosen[0])
    return render_threads(program, threads, chosen[0].name)


def render_threads(program: ir.Program, threads: list[ThreadSpec],
                   title: str) -> tuple[str, list[str]]:
    model = build_model(program)
    problems: list[str] = []
    bounds = _spawn_bounds(program, sorted({t.code for t in threads}), problems)
    if problems:
        return "", problems
    codes = _codes_used(program, threads)
    total = len(threads) + sum(bounds[t.code][0] for t in threads)
    if total > MAX_EXPORT_THREADS:
        return "", [f"the scenario may run {total} threads; SPIN takes at most "
                    f"{MAX_EXPORT_THREADS}"]
    cpus = max(t.cpu for t in threads) + 1 + sum(bounds[t.code][1] for t in threads)
    unfolded = {}
    for code_id in codes:
        context = program.codes[code_id].context
        unfolded[code_id] = unfold(model, code_id, context, MAX_NODES)
        if unfolded[code_id] is None:
            problems.append(f"`{code_id}` has more than {MAX_NODES} distinct thread states")
    if problems:
        return "", problems
    writer = _Writer(model, unfolded, codes, total, cpus)
    return writer.render(threads, title), []


def _codes_used(program: ir.Program, threads) -> list[str]:
    seen: list[str] = []
    stack = [t.code for t in threads]
    while stack:
        code = stack.pop(0)
        if code in seen:
            continue
        seen.append(code)
        stack += [op.code for op in program.codes[code].ops if isinstance(op, ir.Spawn)]
    return sorted(seen)


def _spawn_bounds(program: ir.Program, roots: list[str],
                  problems: list[str]) -> dict[str, tuple[int, int]]:
    """Per code: (threads, non-interrupt threads) it may spawn, transitively."""
    bounds: dict[str, tuple[int, int]] = {}

    def visit(code: str, active: tuple[str, ...]) -> tuple[int, int]:
        if code in bounds:
            return bounds[code]
        if code in active:
            problems.append(f"`{code}` spawns itself; a Promela export needs a bounded "
                            "number of threads")
            return (0, 0)
        threads = cpus = 0
        for op in program.codes[code].ops:
            if isinstance(op, ir.Spawn):
                sub_threads, sub_cpus = visit(op.code, active + (code,))
                threads += 1 + sub_threads
                cpus += sub_cpus + (0 if program.codes[op.code].context.is_interrupt else 1)
        bounds[code] = (threads, cpus)
        return bounds[code]

    for code in roots:
        visit(code, ())
    return bounds


class _Writer:
    def __init__(self, model: Model, unfolded: dict[str, Unfolded], codes: list[str],
                 threads: int, cpus: int):
        self.model = model
        self.program = model.program
        self.unfolded = unfolded
        self.codes = codes
        self.proc = {code: f"P{number}" for number, code in enumerate(codes)}
        self.threads = threads
        self.cpus = cpus
        self.graces = GraceExport(self.program, unfolded, threads)
        queues = sorted(n for n, obj in self.program.objects.items() if obj.kind == "waitqueue")
        self.queues = {name: number for number, name in enumerate(queues, 1)}
        self.lines: list[str] = []

    def queue_number(self, name: str) -> int:
        return self.queues[name]

    def emit(self, text: str = "") -> None:
        self.lines.append(text)

    def render(self, threads: list[ThreadSpec], title: str) -> str:
        self.emit(f"/* lockspec: {self.program.title or self.program.file} -- scenario {title}")
        self.emit("   generated by `lockspec export --promela`; docs/semantics.md */")
        self.emit()
        self.declarations()
        for code in self.codes:
            self.proctype(code)
        self.watchdog()
        self.init(threads)
        return "\n".join(self.lines) + "\n"

    # ------------------------------------------------------------- globals
    def declarations(self) -> None:
        nt, nl = self.threads + 1, max(1, len(self.model.lock_index))
        for code in MARKERS:
            self.emit(f"bit {marker(code)};")
        self.emit()
        self.emit(f"#define NT {nt}")
        self.emit(f"#define NCPU {self.cpus}")
        self.emit("byte status[NT];      /* 0 not started, 1 running, 2 finished */")
        self.emit("byte tcpu[NT];")
        self.emit("bit tirq[NT];         /* an interrupt thread */")
        self.emit("byte waitk[NT];       /* at a blocking op: 1 lock, 2 wait, 3 ww lock with ctx */")
        self.emit("byte wlock[NT];       /* the lock (id + 1) of waitk 1 and 3 */")
        self.emit("byte atw[NT];         /* at a non-try exclusive acquire of lock id + 1 */")
        self.emit("byte top[NCPU];       /* the running interrupt of the CPU, or 0 */")
        self.emit("byte hoff[NCPU];      /* started threads on the CPU with hardirqs off */")
        self.emit("byte boff[NCPU];      /* ... with bh off */")
        self.emit("byte nthreads;")
        self.emit("byte ncpus;")
        self.emit(f"bit lwr[{nl}];         /* exclusively owned */")
        self.emit(f"byte lrd[{nl}];        /* read holders */")
        self.emit(f"bit lctx[{nl}];        /* owned with a ww acquire context */")
        self.emit(f"byte lown[{nl}];       /* the exclusive owner's thread number */")
        for name, slot in self.model.lock_index.items():
            self.emit(f"/* lock {slot}: {name} */")
        for name in self.model.object_index:
            obj = self.program.objects[name]
            self.emit(self.object_decl(obj))
        for key in self.armed_keys():
            self.emit(f"bit {self.armed_var(key)};")
        for line in self.graces.declarations():
            self.emit(line)
        if self.queues:
            self.emit("byte sleeping[NT];    /* wait_event(): 1 asleep, 2 woken since */")
            self.emit("byte sleepq[NT];      /* the queue (id + 1) it sleeps on */")
            for name, number in self.queues.items():
                self.emit(f"/* queue {number}: {name} */")
        self.emit()
        for slot in range(len(self.model.lock_index)):
            waiting = " || ".join(f"atw[{t}] == {slot + 1}" for t in range(1, nt)) or "false"
            self.emit(f"#define WW{slot} ({waiting})")
        self.emit("#define RUNS(t) ((tirq[t] && top[tcpu[t]] == t) || "
                  "(!tirq[t] && top[tcpu[t]] == 0))")
        self.emit()

    def object_decl(self, obj: ir.Obj) -> str:
        values = initial_object(obj)
        base = f"o_{obj.name}"
        if obj.kind == "waitqueue":
            return f"/* wait queue {obj.name}: sleeping[] and sleepq[] */"
        if obj.kind == "revocable":
            return (f"bit {base}_revoked = {values[0]}; byte {base}_mapped; "
                    f"byte {base}_attached;")
        if obj.kind == "refcounted":
            return f"int {base}_count = {values[0]}; bit {base}_freed;"
        if obj.kind == "memory":
            return f"bit {base}_freed;"
        if obj.kind == "completion":
            return f"int {base}_value = {values[0]}; int {base}_count = {values[1]};"
        return f"int {base}_value = {values[0]};"

    def armed_keys(self) -> list[str]:
        keys = set()
        for code in self.codes:
            for op in self.program.codes[code].ops:
                if isinstance(op, ir.AddCallback):
                    keys.add(f"{op.fence}:{op.code}")
                if isinstance(op, ir.StateOp) and op.verb == "disarm":
                    keys.add(op.obj)
                if isinstance(op, ir.Branch):
                    keys |= _armed_in(op.cond)
        return sorted(keys)

    def armed_var(self, key: str) -> str:
        fence, callback = key.split(":", 1)
        return f"armed_{fence}_{callback}"

    # ------------------------------------------------------------- threads
    def proctype(self, code_id: str) -> None:
        code = self.program.codes[code_id]
        unfolded = self.unfolded[code_id]
        self.emit(f"proctype {self.proc[code_id]}(byte me; byte cpu)   /* {code_id} */")
        self.emit("{")
        self.emit("  byte prev;")
        if code.context.is_interrupt:
            entry = unfolded.nodes[0][1]
            bh = " && boff[cpu] == 0" if code.context is ir.Context.SOFTIRQ else ""
            bh += self.graces.start_guard(code_id)
            self.emit(f"end_start: atomic {{ hoff[cpu] == 0{bh} -> prev = top[cpu]; "
                      f"top[cpu] = me; status[me] = 1; hoff[cpu] = hoff[cpu] + "
                      f"{int(entry.hardirqs_off)}; boff[cpu] = boff[cpu] + "
                      f"{int(entry.softirq_off > 0)}; " + self.graces.started(code_id)
                      + self.arrival(code_id, 0) + " goto n0 }")
        nodes = NodeWriter(self, code_id, unfolded)
        for number in range(len(unfolded.nodes)):
            self.emit(nodes.node(number))
        self.emit("done: skip")
        self.emit("}")
        self.emit()

    def arrival(self, code_id: str, node: int) -> str:
        waitk, wlock, atw = self.unfolded[code_id].waits[node]
        return f"waitk[me] = {waitk}; wlock[me] = {wlock}; atw[me] = {atw};"

    def watchdog(self) -> None:
        threads = range(1, self.threads + 1)
        alive = " || ".join(f"status[{t}] == 1" for t in threads)
        locks = " || ".join(f"(status[{t}] == 1 && RUNS({t}) && (waitk[{t}] & 1))"
                            for t in threads)
        self.emit("/* nothing can step: a deadlock if a thread waits for a lock, else a hang")
        self.emit("   (docs/semantics.md, stuck states); contexts waiting on each other's")
        self.emit("   ww_mutexes in a cycle are wait-die's business, not a stuck state */")
        self.emit("#define CTXWAIT(t) (status[t] == 1 && RUNS(t) && waitk[t] == 3 && "
                  "lwr[wlock[t] - 1] && lctx[wlock[t] - 1])")
        self.emit("active proctype watchdog()")
        self.emit("{")
        self.emit("  byte wt, wc, wk; bit wcycle;")
        self.emit("end_watch: timeout ->")
        self.emit("  atomic {")
        self.emit("    wt = 1;")
        self.emit("    do")
        self.emit("    :: wt < NT -> wc = wt; wk = 0;")
        self.emit("       do")
        self.emit("       :: wk < NT && CTXWAIT(wc) -> wc = lown[wlock[wc] - 1]; wk++")
        self.emit("       :: else -> break")
        self.emit("       od;")
        self.emit("       if :: wk == NT -> wcycle = 1 :: else -> skip fi;")
        self.emit("       wt++")
        self.emit("    :: else -> break")
        self.emit("    od;")
        self.emit("    if")
        self.emit(f"    :: !({alive}) -> skip")
        self.emit(f"    :: ({alive}) && wcycle -> skip   /* ww wait-die */")
        self.emit(f"    :: else -> if :: ({locks}) -> assert({marker('deadlock')})")
        self.emit(f"               :: else -> assert({marker('hang')}) fi")
        self.emit("    fi")
        self.emit("  }")
        self.emit("}")
        self.emit()

    def init(self, threads: list[ThreadSpec]) -> None:
        self.emit("init")
        self.emit("{")
        self.emit("  atomic {")
        for number, thread in enumerate(threads, 1):
            code = self.program.codes[thread.code]
            self.emit(f"    /* {thread.label} on CPU {thread.cpu} */")
            self.emit((f"    tcpu[{number}] = {thread.cpu}; tirq[{number}] = "
                       f"{int(thread.context.is_interrupt)}; "
                       + self.graces.created(thread.code, str(number))).rstrip())
            if not code.context.is_interrupt:
                entry = self.unfolded[thread.code].nodes[0][1]
                waitk, wlock, atw = self.unfolded[thread.code].waits[0]
                self.emit(f"    status[{number}] = 1; waitk[{number}] = {waitk}; "
                          f"wlock[{number}] = {wlock}; atw[{number}] = {atw};")
                if entry.hardirqs_off or entry.softirq_off:
                    self.emit(f"    hoff[{thread.cpu}] = hoff[{thread.cpu}] + "
                              f"{int(entry.hardirqs_off)}; boff[{thread.cpu}] = "
                              f"boff[{thread.cpu}] + {int(entry.softirq_off > 0)};")
            self.emit(f"    run {self.proc[thread.code]}({number}, {thread.cpu});")
        self.emit(f"    nthreads = {len(threads)};")
        self.emit(f"    ncpus = {max(t.cpu for t in threads) + 1};")
        self.emit("  }")
        self.emit("}")


def _armed_in(cond: ir.Cond) -> set[str]:
    if isinstance(cond, ir.CNot):
        return _armed_in(cond.operand)
    if isinstance(cond, ir.COr):
        return set().union(*(_armed_in(o) for o in cond.operands))
    if isinstance(cond, ir.CPred) and cond.name == "armed":
        return {f"{cond.args[0]}:{cond.args[1]}"}
    return set()
