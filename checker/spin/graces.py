"""Grace periods and flushes in the Promela export (ir.Grace; semantics.grace_waited).

Each distinct wait (a grace period of one domain, a flush of one work, a flush
of the workqueue) is a key k with two globals over the export's thread numbers:

- `gc<k>[t]`: thread t counts for k now (in a read section of the domain, or
  an unfinished instance of the flushed work). Whether a thread counts is
  fixed per unfolded node, so the steps that change it set or clear the bit;
- `gw<k>[s].w[t]`: the syncer s, between `begin` and `end`, still waits for t.
  `begin` copies `gc<k>` into row s in its atomic step, a step that makes t
  stop counting clears column t (step._graces_after), and `end` is enabled
  once row s is all zero.

A thread counts only while it is its own: a readers key from its start (an
interrupt's `end_start`, a process thread's creation), a work key from its
creation (a queued interrupt that has not started is still unfinished), and
neither after its exit.
"""
from __future__ import annotations

from checker.spin.unfold import Unfolded
from model import ir
from model.grace import in_read_section, waits_for_instance


class GraceExport:
    def __init__(self, program: ir.Program, unfolded: dict[str, Unfolded], threads: int):
        self.program = program
        self.unfolded = unfolded
        self.threads = threads
        ops = {(op.what, op.target): op for code in unfolded for op in program.codes[code].ops
               if isinstance(op, ir.Grace)}
        for code in unfolded:                    # call_rcu: a grace period from the spawn
            for op in program.codes[code].ops:
                if isinstance(op, ir.Spawn) and op.after_grace is not None:
                    wait = ir.Grace("readers", op.after_grace, "end", op.site, op.next)
                    ops.setdefault(("readers", op.after_grace), wait)
        self.keys = [ops[key] for key in sorted(ops)]
        self.index = {key: number for number, key in enumerate(sorted(ops))}
        # per code, per node: the keys a thread at that node counts for
        self.counts = {code: tuple(self._node_counts(code, local)
                                   for _, local in unfolded[code].nodes)
                       for code in unfolded}

    def _node_counts(self, code_id: str, local) -> frozenset[int]:
        code = self.program.codes[code_id]
        out = set()
        for number, op in enumerate(self.keys):
            if op.what == "readers":
                counts = in_read_section(self.program, op.target, local, code.context)
            else:
                counts = waits_for_instance(op.what, op.target, code)
            if counts:
                out.add(number)
        return frozenset(out)

    # ------------------------------------------------------------- globals
    def declarations(self) -> list[str]:
        if not self.keys:
            return []
        lines = ["/* gc<k>[t]: t counts for wait k; gw<k>[s].w[t]: syncer s still waits "
                 "for t */", "typedef GROW { bit w[NT] }",
                 "bit begun[NT];        /* past its first step (a cancel leaves it queued) */"]
        numbers = range(1, self.threads + 1)
        for number, op in enumerate(self.keys):
            lines.append(f"/* wait {number}: {op.what} {op.target or 'of every work'} */")
            lines.append(f"bit gc{number}[NT];")
            lines.append(f"GROW gw{number}[NT];")
            begin = "; ".join(f"gw{number}[s].w[{t}] = gc{number}[{t}]" for t in numbers)
            idle = " && ".join(f"gw{number}[s].w[{t}] == 0" for t in numbers)
            leave = "; ".join(f"gw{number}[{s}].w[t] = 0" for s in numbers)
            lines.append(f"#define GBEGIN{number}(s) {begin}")
            lines.append(f"#define GIDLE{number}(s) ({idle})")
            lines.append(f"#define GLEAVE{number}(t) gc{number}[t] = 0; {leave}")
        return lines

    # ------------------------------------------------------------- the ops
    def begin(self, op: ir.Grace) -> str:
        key = self.index[(op.what, op.target)]
        if op.what != "cancel":
            return f"GBEGIN{key}(me); "
        # instances that have not begun to run are taken off the queue: finished
        # without a step, they count for no wait any more
        return "".join(
            f"if :: gc{key}[{t}] && !begun[{t}] -> status[{t}] = 2; waitk[{t}] = 0; "
            f"atw[{t}] = 0; " + " ".join(f"GLEAVE{k}({t});" for k in range(len(self.keys)))
            + " :: else -> skip fi; " for t in range(1, self.threads + 1)) + f"GBEGIN{key}(me); "

    def after_spawn(self, op: ir.Spawn, thread: str) -> str:
        """call_rcu(): the new thread waits for the readers in force at the spawn."""
        if op.after_grace is None:
            return ""
        return f"GBEGIN{self.index[('readers', op.after_grace)]}({thread}); "

    def start_guard(self, code_id: str) -> str:
        """What an RCU callback's start also waits for (every spawn of a code gives
        it the same domain: the code id names the callback)."""
        domains = {op.after_grace for code in self.unfolded for op in self.program.codes[code].ops
                   if isinstance(op, ir.Spawn) and op.code == code_id and op.after_grace}
        return "".join(f" && GIDLE{self.index[('readers', d)]}(me)" for d in sorted(domains))

    def cancellable(self, code_id: str) -> bool:
        return any(op.what == "cancel" and waits_for_instance(op.what, op.target,
                                                              self.program.codes[code_id])
                   for op in self.keys)

    def idle(self, op: ir.Grace) -> str:
        return f"GIDLE{self.index[(op.what, op.target)]}(me)"

    # ------------------------------------------------------------- counting
    def moved(self, code_id: str, before: int, after: int) -> list[str]:
        """A step from node `before` to node `after`: the keys the thread starts
        or stops counting for (stopping releases the syncers that wait for it)."""
        old, new = self.counts[code_id][before], self.counts[code_id][after]
        return ([f"gc{k}[me] = 1;" for k in sorted(new - old)]
                + [f"GLEAVE{k}(me);" for k in sorted(old - new)])

    def exit(self, code_id: str, node: int) -> list[str]:
        return [f"GLEAVE{k}(me);" for k in sorted(self.counts[code_id][node])]

    def created(self, code_id: str, thread: str) -> str:
        """What a new thread counts for before it runs (an interrupt only for flushes:
        its read sections begin when it starts)."""
        keys = self.counts[code_id][0]
        if self.program.codes[code_id].context.is_interrupt:
            keys = {k for k in keys if self.keys[k].what != "readers"}
        return "".join(f"gc{k}[{thread}] = 1; " for k in sorted(keys))

    def started(self, code_id: str) -> str:
        """An interrupt starts: the read sections it is in from its first op."""
        keys = self.counts[code_id][0]
        return "".join(f"gc{k}[me] = 1; " for k in sorted(keys)
                       if self.keys[k].what == "readers")
