"""Findings: what the engines report, in one shape for every output format."""
from __future__ import annotations

from dataclasses import dataclass, field

from model.span import Span

# Finding codes (DESIGN.md) with their severity and lockdep-style headline.
CODES: dict[str, tuple[str, str]] = {
    "deadlock": ("error", "possible circular locking dependency detected"),
    "recursive-locking": ("error", "possible recursive locking detected"),
    "irq-inversion": ("error", "possible irq lock inversion dependency detected"),
    "inconsistent-irq-state": ("error", "inconsistent lock state"),
    "invalid-wait-context": ("error", "Invalid wait context"),
    "order-violation": ("error", "lock order violates the declared order"),
    "use-after-revoke": ("error", "use after revoke"),
    "use-after-free": ("error", "use after free"),
    "refcount": ("error", "reference count error"),
    "bad-unlock": ("error", "bad unlock balance detected"),
    "held-at-exit": ("error", "lock held when returning"),
    "assertion": ("error", "assertion failed"),
    "hang": ("error", "wait that nothing can satisfy"),
    # `lockspec conform`: a running kernel's /proc/lockdep against the design.
    "design-drift": ("error", "runtime lock dependency the design does not have"),
    "runtime-order-violation": ("error", "runtime lock dependency violates the declared order"),
    "union-cycle": ("error", "lock cycle in the design and the runtime dependencies together"),
    "coverage": ("note", "design lock dependency never seen at runtime"),
}

# How far a finding was established.
CONFIRMED = "confirmed"    # an interleaving (replayed) or a rule that needs none
POTENTIAL = "potential"    # the graph says so; no interleaving decided it
REFUTED = "refuted"        # the interleaving search proved it cannot happen


@dataclass(frozen=True)
class Step:
    """One step of a witness interleaving."""

    thread: str
    cpu: int | None
    action: str
    span: Span
    note: str = ""


@dataclass(frozen=True)
class Link:
    """A link of an explanation chain: a dependency edge or a related location."""

    text: str
    span: Span


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    span: Span
    engine: str                                   # "graph" or "interleaving"
    status: str = CONFIRMED
    locks: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    scenario: str | None = None
    chain: tuple[Link, ...] = ()
    unsafe_scenario: tuple[tuple[int, str], ...] = ()  # (cpu, action) rows, lockdep-style
    witness: tuple[Step, ...] = ()
    reason: str = ""                              # why refuted or potential
    expected: bool = False
    # A graph finding an interleaving confirmed: how its witness ends, in the
    # interleaving's words ("t1#1 waits: `B`, held by t2#1; ..."), for the reports.
    end_state: str = ""

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    @property
    def headline(self) -> str:
        return CODES[self.code][1]

    @property
    def confirmed(self) -> bool:
        return self.status == CONFIRMED

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.col, self.code, self.message,
                self.scenario or "")


@dataclass(frozen=True)
class EngineRun:
    """What one engine did on one spec: the basis of an honest verdict."""

    name: str
    outcome: str                                  # "complete" or "inconclusive"
    detail: str                                   # e.g. "proved: exhaustive to depth 24"
    exhaustive: bool | None = None
    bound: int | None = None


@dataclass(frozen=True)
class Unmet:
    """An `expect` line no finding satisfied."""

    scenario: str | None
    verdict: str
    span: Span


@dataclass
class FileResult:
    path: str
    title: str = ""
    status: str = "pass"                          # pass, fail, error, inconclusive
    findings: list[Finding] = field(default_factory=list)
    diagnostics: list = field(default_factory=list)
    engines: list[EngineRun] = field(default_factory=list)
    unmet: list[Unmet] = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    program: object = None
