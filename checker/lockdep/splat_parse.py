"""lockdep reports in a kernel log -> frozen records with the log's line numbers.

A log is whatever a user saved: a dmesg excerpt with `[ 12.345678]` stamps
(and `[T1234]` caller ids), journalctl or syslog lines (`Jun 11 11:02:51 host
kernel: `), /dev/kmsg records (`4,1072,209927860,-;`), a mail quote (`> `), or
syzbot's plain text. Each line's prefix is removed before the report's own
wording is matched, so the line numbers stay those of the file.

Every report kind lockdep prints is read, in the wording of the kernels that
print it (`[ INFO: ... ]` banners before 4.14, `WARNING: ...` after; lock names
with and without the `-{outer:inner}` wait types of 5.7 and later; frames as
`[<addr>] fn+0x1/0x2`, `fn+0x1/0x2 file.c:12`, or `fn (file.c:12)`). A report
whose required part is missing (the log ends inside it) is a `SplatError` at
the line where it stops.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CIRCULAR, RECURSIVE, INCONSISTENT, INVERSION, WAIT_CONTEXT = (
    "circular", "recursive", "inconsistent", "inversion", "wait-context")
BANNERS = (
    ("possible circular locking dependency detected", CIRCULAR),
    ("possible recursive locking detected", RECURSIVE),
    ("inconsistent lock state", INCONSISTENT),
    ("possible irq lock inversion dependency detected", INVERSION),
    ("Invalid wait context", WAIT_CONTEXT),
)

_PREFIXES = (
    re.compile(r"^\w{3} +\d+ \d\d:\d\d:\d\d \S+ kernel: ?"),          # journalctl, syslog
    re.compile(r"^\d{4}-\d\d-\d\dT\S+ \S+ kernel: ?"),                 # rsyslog ISO stamps
    re.compile(r"^(?:\S+ +\d+ \d\d:\d\d:\d\d \S+ )?\d+,\d+,\d+,[-+c];"),  # /dev/kmsg records
    re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])? ?"),              # printk time, caller id
    re.compile(r"^\[\s*[TC]\d+\] ?"),                                  # caller id alone
    re.compile(r"^(?:> ?)+"),                                          # a mail quote
)
_LOCK = re.compile(r"^(?:[0-9a-fA-Fx]+\s+)?\((?P<name>.+)\)\{(?P<usage>[^{}]*)\}"
                   r"(?:-\{(?P<outer>\d+):\s*(?P<inner>\d+)\})?"
                   r"(?:, at: (?P<at>.*))?:?$")
_CHAIN = re.compile(r"^-> #(?P<n>\d+) \((?P<name>.+)\)\{(?P<usage>[^{}]*)\}"
                    r"(?:-\{(?P<outer>\d+):\s*(?P<inner>\d+)\})?:$")
_USAGE = re.compile(r"^inconsistent \{(?P<was>[A-Z-]+)\} -> \{(?P<now>[A-Z-]+)\} usage\.$")
_STATE_AT = re.compile(r"^\{(?P<state>[A-Z-]+)\} state was registered at:$")
_INVERSION = re.compile(r"but this lock (?P<how>took another|was taken by another), "
                        r"(?P<irq>HARDIRQ|SOFTIRQ)-(?P<role>unsafe|safe|irq-unsafe|irq-safe) "
                        r"lock in the past:$")
_HELD = re.compile(r"^#(?P<n>\d+):\s+(?P<rest>.*)$")
_SCENARIO_LOCK = re.compile(r"^(?P<indent>\s*)(?P<op>lock|rlock|local_irq_disable|"
                            r"<Interrupt>)(?:\((?P<name>.*)\))?;?$")
_FRAME = re.compile(r"^(?:\? )?(?:\[<[0-9a-fA-F]+>\] )?(?:\? )?(?P<fn>[A-Za-z_][\w.]*)"
                    r"(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[\w+\])?(?: .*)?$")


@dataclass(frozen=True)
class LockRef:
    name: str                   # lockdep's class name, with `#N` and `/N`
    usage: str                  # "+.+." ...
    wait: int | None            # the inner wait type of `-{outer:inner}`, if printed
    at: tuple[str, ...]         # functions of the `at:` lines, innermost first
    line: int


@dataclass(frozen=True)
class ChainEntry:
    number: int
    lock: LockRef
    stack: tuple[str, ...]      # function names, innermost first


@dataclass(frozen=True)
class Report:
    kind: str
    line: int                   # the banner's line
    end: int                    # the last line read
    kernel: str                 # the version line, e.g. "5.15.1 #1 Tainted: G O"
    task: str                   # "openssl/315"
    acquiring: LockRef | None = None    # circular, recursive, wait-context; the lock of
                                        # inconsistent and inversion
    held: tuple[LockRef, ...] = ()      # holding (circular, recursive); held (wait-context)
    chain: tuple[ChainEntry, ...] = ()  # circular
    usage_was: str = ""                 # inconsistent: {was} -> {now}
    usage_now: str = ""
    registered: tuple[str, ...] = ()    # inconsistent: the stack of `{was}` state
    other: LockRef | None = None        # inversion: the other lock
    other_is_unsafe: bool = True        # inversion: "took another, X-unsafe" vs "taken by"
    irq: str = ""                       # "hardirq" or "softirq"
    scenario: tuple[tuple[int, str], ...] = ()  # (cpu, "lock(X);"), as the kernel printed


class SplatError(Exception):
    def __init__(self, line: int, message: str, text: str = ""):
        super().__init__(f"line {line}: {message}")
        self.line, self.message, self.text = line, message, text


@dataclass(frozen=True)
class _Line:
    number: int
    raw: str
    body: str                   # prefix removed, surrounding blanks removed
    text: str                   # prefix removed, leading blanks kept (scenario columns)


def _strip(raw: str) -> str:
    text = raw.rstrip("\r\n")
    for _ in range(3):
        before = text
        for prefix in _PREFIXES:
            text = prefix.sub("", text, count=1)
        if text == before:
            break
    return text.replace("#012", "")


def split_lines(text: str) -> list[_Line]:
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        body = _strip(raw)
        out.append(_Line(number, raw, body.strip(), body.rstrip()))
    return out


def find_reports(text: str) -> list[Report]:
    lines = split_lines(text)
    starts = []
    for index, line in enumerate(lines):
        for phrase, kind in BANNERS:
            if phrase in line.body and not line.body.startswith(("-> #", "lock(")):
                starts.append((index, kind))
                break
    reports = []
    for position, (index, kind) in enumerate(starts):
        stop = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        reports.append(_Reader(lines[index:stop], kind).read())
    return reports


def function(frame: str) -> str | None:
    match = _FRAME.match(frame.strip())
    if match is None or frame.strip().startswith("? "):
        return None
    return match["fn"]


def lock_ref(line: _Line) -> LockRef | None:
    match = _LOCK.match(line.body)
    if match is None:
        return None
    at = ()
    if match["at"]:
        fn = function(match["at"])
        at = (fn,) if fn else ()
    return LockRef(match["name"], match["usage"], int(match["inner"]) if match["inner"] else None,
                   at, line.number)


class _Reader:
    """Reads one report; `lines` runs from its banner to the next report or the end."""

    def __init__(self, lines: list[_Line], kind: str):
        self.lines, self.kind, self.i = lines, kind, 1

    # -- cursor helpers
    def _peek(self) -> _Line | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def _last(self) -> int:
        return self.lines[min(self.i, len(self.lines)) - 1].number

    def _find(self, test, what: str) -> _Line:
        while self.i < len(self.lines):
            line = self.lines[self.i]
            self.i += 1
            if test(line.body):
                return line
        raise SplatError(self._last(), f"the {self.kind} report ends before {what} "
                         "(truncated?)", self.lines[-1].raw)

    def _lock_after(self, phrase: str) -> LockRef:
        self._find(lambda b: b.endswith(phrase), f"`{phrase}`")
        refs = self._locks()
        if not refs:
            line = self._peek() or self.lines[-1]
            raise SplatError(line.number, f"expected a lock `(name){{usage}}` after `{phrase}`",
                             line.raw)
        first = refs[0]
        return LockRef(first.name, first.usage, first.wait,
                       tuple(fn for ref in refs for fn in ref.at), first.line)

    def _locks(self) -> list[LockRef]:
        """Consecutive lock lines (an inlined call prints one `at:` line per frame)."""
        refs = []
        while (line := self._peek()) is not None:
            if not line.body:
                if refs:
                    break
                self.i += 1
                continue
            ref = lock_ref(line)
            if ref is None or (refs and ref.name != refs[0].name):
                break
            refs.append(ref)
            self.i += 1
        return refs

    def _stack(self) -> tuple[str, ...]:
        frames = []
        while (line := self._peek()) is not None:
            body = line.body
            if not body or body.startswith(("-> #", "other info", "irq event stamp",
                                            "hardirqs last", "softirqs last", "{")):
                break
            self.i += 1
            if body.startswith("? "):
                continue
            fn = function(body)
            if fn and fn not in ("lock_acquire", "__lock_acquire") and not fn.startswith("0x"):
                frames.append(fn)
        return tuple(frames)

    def _header(self) -> tuple[str, str]:
        kernel = task = ""
        for line in self.lines[1:8]:
            if not kernel and re.match(r"^\d+\.\d+", line.body):
                kernel = line.body
            match = re.match(r"^(\S+/\d+) (?:is trying to|just changed|\[HC)", line.body)
            if match and not task:
                task = match.group(1)
        return kernel, task

    def _scenario(self) -> tuple[tuple[int, str], ...]:
        rows: list[tuple[int, str]] = []
        in_table = False
        column = None
        for line in self.lines[self.i:]:
            if "Possible" in line.body and "scenario" in line.body:
                in_table = True
                continue
            if not in_table:
                continue
            if line.body.startswith("CPU0"):
                column = line.text.find("CPU1") if "CPU1" in line.text else None
                continue
            if "DEADLOCK" in line.body or re.match(r"^\d+ locks? held", line.body) or \
                    line.body.startswith("May be due"):
                break
            match = _SCENARIO_LOCK.match(line.text)
            if match is None:
                continue
            indent = len(match["indent"])
            cpu = 1 if column is not None and indent >= column - 4 else 0
            op = match["op"]
            rows.append((cpu, op if op == "<Interrupt>" else
                         f"{op}({match['name']});" if match["name"] is not None else f"{op}();"))
        return tuple(rows)

    # -- the kinds
    def read(self) -> Report:
        kernel, task = self._header()
        base = dict(kind=self.kind, line=self.lines[0].number, kernel=kernel, task=task)
        report = getattr(self, "_" + self.kind.replace("-", "_"))(base)
        return report

    def _done(self, base: dict, **fields) -> Report:
        scenario = self._scenario()
        return Report(end=self._last(), scenario=scenario, **base, **fields)

    def _circular(self, base: dict) -> Report:
        acquiring = self._lock_after("is trying to acquire lock:")
        held = self._lock_after("but task is already holding lock:")
        self._find(lambda b: b.startswith("the existing dependency chain"),
                   "the dependency chain")
        entries: list[ChainEntry] = []
        while (line := self._peek()) is not None:
            match = _CHAIN.match(line.body)
            if match is None:
                if line.body.startswith("other info") or (entries and entries[-1].number == 0):
                    break
                self.i += 1
                continue
            self.i += 1
            ref = LockRef(match["name"], match["usage"],
                          int(match["inner"]) if match["inner"] else None, (), line.number)
            entries.append(ChainEntry(int(match["n"]), ref, self._stack()))
        if not entries or entries[-1].number != 0:
            where = entries[-1].lock.line if entries else self._last()
            raise SplatError(self._last(), "the dependency chain stops at "
                             f"`-> #{entries[-1].number}` (line {where}) before `-> #0`: the "
                             "report is truncated" if entries else
                             "the dependency chain has no `-> #N` entry: the report is "
                             "truncated", self.lines[min(self.i, len(self.lines)) - 1].raw)
        numbers = [e.number for e in entries]
        if numbers != list(range(numbers[0], -1, -1)):
            raise SplatError(entries[0].lock.line, "the chain's entries are not numbered "
                             f"#{numbers[0]} down to #0", self.lines[0].raw)
        return self._done(base, acquiring=acquiring, held=(held,), chain=tuple(entries))

    def _recursive(self, base: dict) -> Report:
        acquiring = self._lock_after("is trying to acquire lock:")
        held = self._lock_after("but task is already holding lock:")
        return self._done(base, acquiring=acquiring, held=(held,))

    def _inconsistent(self, base: dict) -> Report:
        usage = self._find(lambda b: _USAGE.match(b) is not None, "`inconsistent {..} -> {..}`")
        match = _USAGE.match(usage.body)
        self._find(lambda b: b.endswith("takes:"), "`takes:`")
        refs = self._locks()
        if not refs:
            line = self._peek() or self.lines[-1]
            raise SplatError(line.number, "expected the lock after `takes:`", line.raw)
        registered: tuple[str, ...] = ()
        line = self._peek()
        if line is not None and _STATE_AT.match(line.body):
            self.i += 1
            registered = self._stack()
        irq = "hardirq" if "HARDIRQ" in match["was"] + match["now"] else "softirq"
        return self._done(base, acquiring=refs[0], usage_was=match["was"],
                          usage_now=match["now"], registered=registered, irq=irq)

    def _inversion(self, base: dict) -> Report:
        lock = self._lock_after("just changed the state of lock:")
        line = self._find(lambda b: _INVERSION.search(b) is not None, "`but this lock ...`")
        match = _INVERSION.search(line.body)
        refs = self._locks()
        if not refs:
            raise SplatError(line.number + 1, "expected the other lock after "
                             "`but this lock ... in the past:`", line.raw)
        return self._done(base, acquiring=lock, other=refs[0],
                          other_is_unsafe=match["how"] == "took another",
                          irq=match["irq"].lower())

    def _wait_context(self, base: dict) -> Report:
        acquiring = self._lock_after("is trying to lock:")
        count_line = self._find(lambda b: re.match(r"^(?:no locks held|\d+ locks? held)", b)
                                is not None, "the held locks")
        expected = 0 if count_line.body.startswith("no") else int(count_line.body.split()[0])
        held = []
        while (line := self._peek()) is not None and len(held) < expected:
            match = _HELD.match(line.body)
            self.i += 1
            if match is None:
                continue
            ref = lock_ref(_Line(line.number, line.raw, match["rest"].strip(), ""))
            if ref is not None:
                held.append(ref)
        if len(held) < expected:
            raise SplatError(self._last(), f"{expected} locks held, but the report lists "
                             f"{len(held)} (truncated?)", self.lines[-1].raw)
        return self._done(base, acquiring=acquiring, held=tuple(held))
