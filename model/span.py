"""Source locations and spec diagnostics.

Every stage reports problems as `Diagnostic` values collected in a list; no
stage raises on bad input, so a user sees every error of a file at once.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def label(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def short(self) -> str:
        return f"{display_name(self.file)}:{self.line}"

    def last_char(self) -> "Span":
        """The last character of the span (the `}` of a block)."""
        col = max(1, self.end_col - 1)
        return Span(self.file, self.end_line, col, self.end_line, col + 1)


NOWHERE = Span("<builtin>", 0, 0, 0, 0)


PRELUDE_MARKER = "/model/prelude/"


def is_prelude(path: str) -> bool:
    return PRELUDE_MARKER in path


def display_name(path: str) -> str:
    """Prelude files are shown by module name, user files as given."""
    if is_prelude(path):
        return "<" + path.split(PRELUDE_MARKER, 1)[1] + ">"
    return path


# Spec-error codes, per DESIGN.md.
SYNTAX_ERROR = "syntax-error"
UNKNOWN_NAME = "unknown-name"
TYPE_ERROR = "type-error"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    hints: tuple[str, ...] = field(default=())

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.col, self.code, self.message)


class SourceFile:
    """The text of one spec file, kept to quote lines in messages."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.lines = text.split("\n")

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1].rstrip("\r")
        return ""


MAX_SHOWN_COLUMNS = 100   # a longer source line is shown as a window around the span


def render_diagnostic(diag: Diagnostic, sources: dict[str, SourceFile]) -> str:
    """`file:line:col: error[code]: message`, the line, a caret, then hints."""
    span = diag.span
    out = [f"{display_name(span.file)}:{span.line}:{span.col}: error[{diag.code}]: {diag.message}"]
    source = sources.get(span.file)
    if source is not None and span.line >= 1:
        text = source.line_text(span.line)
        end = span.end_col if span.end_line == span.line else len(text) + 1
        shown, caret, width = _window(text, span.col, max(end, span.col + 1))
        gutter = f"{span.line:>5} | "
        out.append(gutter + shown)
        out.append(" " * (len(gutter) + caret) + "^" + "~" * (width - 1))
    for hint in diag.hints:
        out.append(f"      = help: {hint}")
    return "\n".join(out)


def _window(text: str, col: int, end_col: int) -> tuple[str, int, int]:
    """The line as shown (control characters as `?`, long lines cut to a window
    around the span), the caret's offset and width in terminal columns."""
    chars = [" " if c == "\t" else c if c.isprintable() else "?" for c in text]
    first = max(0, min(col - 1, len(chars)))
    last = max(first + 1, min(end_col - 1, len(chars)))
    start, stop, prefix, suffix = 0, len(chars), "", ""
    if len(chars) > MAX_SHOWN_COLUMNS:
        start = max(0, min(first - MAX_SHOWN_COLUMNS // 3, len(chars) - MAX_SHOWN_COLUMNS))
        stop = start + MAX_SHOWN_COLUMNS
        prefix = "..." if start > 0 else ""
        suffix = "..." if stop < len(chars) else ""
    caret = len(prefix) + _width(chars[start:first])
    width = max(1, _width(chars[first:min(last, stop)]))
    return prefix + "".join(chars[start:stop]) + suffix, caret, width


def _width(chars) -> int:
    """Terminal columns: wide (CJK) characters take two, combining marks none."""
    total = 0
    for char in chars:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total
