"""What a check run decided: each finding's disposition, each spec's status, the exit code.

Every output format reads its verdicts from here, so text, JSON, SARIF, JUnit,
GitHub annotations and HTML always agree on what failed.

Exit codes (DESIGN.md): 0 every spec passed (findings all expected or
baselined), 1 an unexpected finding or an unmet expectation, 2 usage or spec
error, 3 inconclusive (solver unknown or budget spent, and nothing failed),
4 internal error. When specs disagree the most severe wins: 4 > 2 > 1 > 3 > 0.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from checker.baseline import Baseline, BaselineEntry
from checker.findings import REFUTED, FileResult, Finding
from model.span import display_name

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4

# Dispositions of a finding.
FAILING = "failing"          # fails the gate
EXPECTED = "expected"        # an `expect` line asked for it
BASELINED = "baselined"      # accepted by the baseline, with a justification
REFUTED_D = "refuted"        # the interleaving search proved it cannot happen
INFORMATIONAL = "informational"  # its level is not in fail-on (e.g. potential)
NOTE = "note"                # a note by its code (coverage): never fails

STATUSES = ("pass", "fail", "error", "inconclusive")


@dataclass
class Run:
    """The results of one `lockspec check`, with the gate's policy applied."""

    results: list[FileResult]
    version: str
    fail_on: tuple[str, ...]
    accepted: dict[tuple[str, Finding], BaselineEntry] = field(default_factory=dict)
    unused_baseline: tuple[BaselineEntry, ...] = ()

    def disposition(self, result: FileResult, finding: Finding) -> str:
        if finding.severity == "note":
            return NOTE
        if finding.expected:
            return EXPECTED
        if (result.path, finding) in self.accepted:
            return BASELINED
        if finding.status == REFUTED:
            return REFUTED_D
        return FAILING if finding.status in self.fail_on else INFORMATIONAL

    def baseline_entry(self, result: FileResult, finding: Finding) -> BaselineEntry | None:
        return self.accepted.get((result.path, finding))

    def failing(self, result: FileResult) -> list[Finding]:
        return [f for f in result.findings if self.disposition(result, f) == FAILING]

    def counts(self) -> dict[str, int]:
        return {status: sum(1 for r in self.results if r.status == status)
                for status in STATUSES}

    def exit_code(self) -> int:
        statuses = {r.status for r in self.results}
        for status, code in (("error", EXIT_USAGE), ("fail", EXIT_FINDINGS),
                             ("inconclusive", EXIT_INCONCLUSIVE)):
            if status in statuses:
                return code
        return EXIT_OK


def decide(results: list[FileResult], version: str, fail_on: tuple[str, ...],
           baseline: Baseline | None = None) -> Run:
    """Apply the baseline and fail-on policy; each spec's status is recomputed from them."""
    run = Run([], version, tuple(fail_on))
    used: set[BaselineEntry] = set()
    for result in results:
        for finding in result.findings:
            entry = baseline.entry_for(result.path, finding) if baseline else None
            if entry is not None and not finding.expected:
                run.accepted[(result.path, finding)] = entry
                used.add(entry)
    for result in results:
        run.results.append(dataclasses.replace(result, status=_status(run, result)))
    if baseline:
        run.unused_baseline = tuple(e for e in baseline.entries if e not in used)
    return run


def _status(run: Run, result: FileResult) -> str:
    if result.status == "error":
        return "error"
    if run.failing(result) or result.unmet:
        return "fail"
    if any(engine.outcome == "inconclusive" for engine in result.engines):
        return "inconclusive"
    return "pass"


def engine_summary(result: FileResult) -> str:
    """"graph: complete (...); interleaving: proved ..." - what each engine established."""
    return "; ".join(f"{run.name}: {run.detail}" for run in result.engines)


def level_text(finding: Finding) -> str:
    """The verdict level in words a lockdep user reads at a glance."""
    if finding.status == "confirmed":
        if finding.witness:
            return "confirmed: an interleaving reaches it (replayed)"
        return "confirmed: the rule needs no interleaving"
    if finding.status == "potential":
        return "potential: the lock graph says so; no interleaving decided it"
    return "refuted: the interleaving search proved it cannot happen"


def in_user_file(span) -> bool:
    """Spans in the prelude (shown as <kernel.lspec>) are not in the user's tree."""
    return span.line >= 1 and not display_name(span.file).startswith("<")


def primary_span(finding: Finding):
    """Where to point a reader: the finding's span if it is in a file of the user's, else
    the first span of its chain or witness that is (an engine may locate a finding at the
    prelude verb that did the locking; the user wants the line that called it)."""
    if in_user_file(finding.span):
        return finding.span
    for span in [link.span for link in finding.chain] + [s.span for s in finding.witness]:
        if in_user_file(span):
            return span
    return finding.span
