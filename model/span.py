"""Source locations and spec diagnostics.

Every stage reports problems as `Diagnostic` values collected in a list; no
stage raises on bad input, so a user sees every error of a file at once.
"""
from __future__ import annotations

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


NOWHERE = Span("<builtin>", 0, 0, 0, 0)


def display_name(path: str) -> str:
    """Prelude files are shown by module name, user files as given."""
    marker = "/model/prelude/"
    if marker in path:
        return "<" + path.split(marker, 1)[1] + ">"
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


def render_diagnostic(diag: Diagnostic, sources: dict[str, SourceFile]) -> str:
    """`file:line:col: error[code]: message`, the line, a caret, then hints."""
    span = diag.span
    out = [f"{display_name(span.file)}:{span.line}:{span.col}: error[{diag.code}]: {diag.message}"]
    source = sources.get(span.file)
    if source is not None and span.line >= 1:
        text = source.line_text(span.line).expandtabs(1)
        width = 1
        if span.end_line == span.line and span.end_col > span.col:
            width = span.end_col - span.col
        width = max(1, min(width, max(1, len(text) - span.col + 1)))
        gutter = f"{span.line:>5} | "
        out.append(gutter + text)
        out.append(" " * (len(gutter) + span.col - 1) + "^" + "~" * (width - 1))
    for hint in diag.hints:
        out.append(f"      = help: {hint}")
    return "\n".join(out)
