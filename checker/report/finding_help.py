"""Help text for each finding code, for SARIF rules and the HTML report.

The reference is docs/findings.md. It is embedded in the package as
checker/report/templates/findings.md (package data, so an installed lockspec has it
without the source tree); tests/test_output_sarif.py fails when that copy is
stale. Refresh it with

    python -m checker.report.finding_help docs/findings.md

Until a code has a section there, the short texts below are used.
"""
from __future__ import annotations

import re
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

from checker.findings import CODES

EMBEDDED = "findings.md"

SHORT_HELP: dict[str, str] = {
    "deadlock": "Two or more paths take the same locks in opposite orders, so each CPU can "
                "hold one lock while waiting for the next: a lock-order cycle (ABBA).",
    "recursive-locking": "A path takes a lock of a class it already holds, without a nesting "
                         "annotation (subclass or nest lock): it waits for itself.",
    "irq-inversion": "A lock taken in interrupt context (irq-safe) is held, directly or "
                     "through a chain, while a lock taken with interrupts enabled (irq-unsafe) "
                     "is acquired: an interrupt on the holder's CPU deadlocks.",
    "inconsistent-irq-state": "One lock class is taken both in interrupt context and with "
                              "that interrupt enabled: the interrupt can arrive while the lock "
                              "is held on the same CPU.",
    "invalid-wait-context": "Something that may sleep (a mutex, rwsem, GFP_KERNEL allocation, "
                            "wait) happens in atomic context: under a spinlock, with irqs off, "
                            "in an interrupt or an RCU read section.",
    "order-violation": "A lock is taken while a lock declared later in an `order` chain is "
                       "held: the acquisition contradicts the declared lock order.",
    "use-after-revoke": "A revocable object is mapped, attached or accessed after it was "
                        "revoked: the revoke did not fence out every user.",
    "use-after-free": "An object is used after its last reference was dropped and it was "
                      "freed.",
    "refcount": "A reference count goes below zero or an object is freed twice.",
    "bad-unlock": "A lock is released that is not held here (double unlock, wrong context), "
                  "or an irq/bh/GFP scope is restored without a matching save.",
    "held-at-exit": "A path can return while still holding a lock on some branch.",
    "assertion": "An `assert` or lockdep assertion in the spec can fail.",
    "hang": "A thread waits for a completion, fence or event that nothing can signal any "
            "more.",
}

OTHER_RULES: dict[str, tuple[str, str]] = {
    "unmet-expectation": ("An `expect` line was not met",
                          "The spec says a finding is expected (`expect ...`), but no engine "
                          "found it: either the design changed or the spec no longer models "
                          "the bug."),
    "syntax-error": ("The spec does not parse", "The spec text is not valid lockspec syntax."),
    "unknown-name": ("A name is not declared", "A lock, object, function, path or module is "
                     "used but not declared or imported."),
    "type-error": ("A name is used as the wrong kind of thing", "A verb is applied to the "
                   "wrong kind of lock or object, or with the wrong number of arguments."),
    "unreadable": ("The spec file cannot be read", "The file could not be opened or read."),
}


def sections(markdown: str) -> dict[str, str]:
    """The section of each finding code: a heading naming the code, to the next heading
    of the same or a higher level."""
    found: dict[str, str] = {}
    lines = markdown.splitlines()
    headings = [(i, len(m.group(1)), m.group(2)) for i, line in enumerate(lines)
                if (m := re.match(r"^(#{1,6})\s+(.*)$", line))]
    for position, (index, level, title) in enumerate(headings):
        named = [code for code in CODES if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])",
                                                     title)]
        if len(named) != 1 or named[0] in found:
            continue
        end = len(lines)
        for later_index, later_level, _ in headings[position + 1:]:
            if later_level <= level:
                end = later_index
                break
        body = "\n".join(lines[index + 1:end]).strip()
        if body:
            found[named[0]] = body
    return found


@lru_cache(maxsize=1)
def embedded_sections() -> dict[str, str]:
    try:
        text = resources.files("checker.report").joinpath("templates", EMBEDDED).read_text("utf-8")
    except (FileNotFoundError, OSError):
        return {}
    return sections(text)


def short_help(code: str) -> str:
    if code in SHORT_HELP:
        return SHORT_HELP[code]
    return OTHER_RULES.get(code, (code, code))[1]


def full_help(code: str) -> str:
    """Markdown: the docs/findings.md section if there is one, else the short text."""
    return embedded_sections().get(code) or short_help(code)


def description(code: str) -> str:
    """One paragraph of plain text: the section's first paragraph, else the short text."""
    section = embedded_sections().get(code)
    if not section:
        return short_help(code)
    paragraph = section.split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def main(argv: list[str]) -> int:  # pragma: no cover - a maintenance command
    source = Path(argv[0] if argv else "docs/findings.md")
    target = Path(__file__).parent / "templates" / EMBEDDED
    target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    missing = [code for code in CODES if code not in sections(target.read_text("utf-8"))]
    print(f"embedded {source} as {target}" + (f"; no section for: {', '.join(missing)}"
                                                if missing else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
