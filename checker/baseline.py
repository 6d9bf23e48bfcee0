"""Baselines: findings a project has accepted, each with a written justification.

A baseline is a JSON or TOML file listing known findings:

    [[finding]]
    code = "deadlock"
    file = "specs/legacy.lspec"
    locks = ["A", "B"]            # or: message = "..." when a finding names no locks
    scenario = "race"             # optional
    justification = "the hardware serialises A and B; see commit abc123"

(JSON: `{"finding": [{...}, ...]}`.) A finding is identified by its code, the
spec it was found in and its locks (or, without locks, its message) - not by
line numbers, so unrelated edits do not invalidate the baseline. Matching
findings are reported as baselined and do not fail the gate; everything new
still does. An entry without a justification is a usage error.
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from checker.findings import CODES, Finding

ENTRY_KEYS = {"code", "file", "locks", "message", "scenario", "justification"}


@dataclass(frozen=True)
class BaselineEntry:
    code: str
    file: str                    # normalised spec path
    locks: tuple[str, ...] | None
    message: str | None
    scenario: str | None
    justification: str
    source: str                  # the baseline file
    index: int                   # 1-based position in that file

    def matches(self, spec_path: str, finding: Finding) -> bool:
        if self.code != finding.code or self.file != normalise_path(spec_path):
            return False
        if self.scenario is not None and self.scenario != finding.scenario:
            return False
        if self.locks is not None:
            return tuple(sorted(self.locks)) == tuple(sorted(finding.locks))
        return self.message == finding.message


@dataclass(frozen=True)
class Baseline:
    entries: tuple[BaselineEntry, ...]

    def entry_for(self, spec_path: str, finding: Finding) -> BaselineEntry | None:
        for entry in self.entries:
            if entry.matches(spec_path, finding):
                return entry
        return None


def normalise_path(path: str) -> str:
    """Spec paths compare relative to the working directory, with forward slashes."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:
        return Path(absolute).as_posix()
    return Path(relative).as_posix()


def fingerprint(spec_path: str, finding: Finding) -> str:
    """A stable identity for a finding, the same fields a baseline entry uses."""
    identity = finding.locks and ",".join(sorted(finding.locks)) or finding.message
    text = "\0".join((finding.code, normalise_path(spec_path), finding.scenario or "", identity))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_baseline(path: str) -> tuple[Baseline | None, list[str]]:
    """Read a baseline file; returns it and every problem in it (None if any)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        return None, [f"{path}: cannot read the baseline: {err.strerror or err}"]
    document, problem = _decode(path, raw)
    if problem:
        return None, [problem]
    items = document.get("finding") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return None, [f"{path}: a baseline holds a list `finding` of entries "
                      "(TOML `[[finding]]` tables or JSON {\"finding\": [...]})"]
    base_dir = Path(path).parent
    entries, problems = [], []
    for index, item in enumerate(items, 1):
        entry, item_problems = _entry(path, index, item, base_dir)
        problems += item_problems
        if entry is not None:
            entries.append(entry)
    if problems:
        return None, problems
    return Baseline(tuple(entries)), []


def _decode(path: str, raw: bytes) -> tuple[object, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{path}: a baseline must be UTF-8 text"
    if path.endswith(".json"):
        try:
            return json.loads(text), ""
        except json.JSONDecodeError as err:
            return None, f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}"
    try:
        return tomllib.loads(text), ""
    except tomllib.TOMLDecodeError as err:
        return None, f"{path}: invalid TOML: {err}"


def _entry(path: str, index: int, item, base_dir: Path) -> tuple[BaselineEntry | None, list[str]]:
    where = f"{path}: entry {index}"
    if not isinstance(item, dict):
        return None, [f"{where}: must be a table with code, file, locks or message, "
                      "and justification"]
    problems = [f"{where}: unknown key `{key}`" for key in sorted(set(item) - ENTRY_KEYS)]
    code, file = item.get("code"), item.get("file")
    if code not in CODES:
        problems.append(f"{where}: `code` must be a finding code ({', '.join(CODES)})")
    if not isinstance(file, str) or not file:
        problems.append(f"{where}: `file` must name the spec the finding is in")
    locks, message = item.get("locks"), item.get("message")
    if locks is not None and not (isinstance(locks, list)
                                  and all(isinstance(x, str) for x in locks)):
        problems.append(f"{where}: `locks` must be a list of lock names")
    if message is not None and not isinstance(message, str):
        problems.append(f"{where}: `message` must be a string")
    if locks is None and message is None:
        problems.append(f"{where}: give `locks` or `message` to say which finding it accepts")
    scenario = item.get("scenario")
    if scenario is not None and not isinstance(scenario, str):
        problems.append(f"{where}: `scenario` must be a string")
    justification = item.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        problems.append(f"{where} ({code} in {file}): no justification; every accepted "
                        "finding needs a written reason why it is acceptable")
    if problems:
        return None, problems
    spec = normalise_path(str(base_dir / file)) if not os.path.isabs(file) else normalise_path(file)
    return BaselineEntry(code, spec, tuple(locks) if locks is not None else None, message,
                         scenario, justification.strip(), path, index), []
