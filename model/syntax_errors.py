"""Syntax error messages: what was found, what was expected in readable words,
and a labelled hint for the mistakes people make most.

Hints come from two sources. Mistakes that show in the token stream (a
keyword used as a name, a misspelt keyword, a missing `;`, an unclosed `{`)
are recognised from the tokens around the error. Mistakes that show in the
parser's state (`path p {` without `in CONTEXT`, `lock A = spinlock`) are
recognised the way lark's `UnexpectedInput.match_examples` does it: each
labelled mistake comes with a few malformed examples, and an error whose
parser state and token match an example's error gets that example's label.
The examples are parsed once, into a table from (state, token type) to label.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from lark import Lark, Token

from model.ir import Context
from model.span import SYNTAX_ERROR, Diagnostic, Span

CONTEXTS = ", ".join(c.value for c in Context)

# Token types that start a declaration, a statement, an expression.
DECL_STARTS = frozenset({"SPEC", "IMPORT", "OPTION", "LOCK", "OBJECT", "ORDER", "FN", "PATH",
                         "SCENARIO", "EXPECT"})
STMT_STARTS = frozenset({"NAME", "IF", "EITHER", "RETURN", "REPEAT", "ASSERT", "LET", "LBRACE",
                         "SEMICOLON"})
KEYWORD_TYPES = DECL_STARTS | frozenset({"CLASS", "LOCKDEP", "IN", "IF", "ELSE", "EITHER", "OR",
                                         "RETURN", "REPEAT", "ASSERT", "LET", "TRUE", "FALSE",
                                         "NULL"})
EXPR_STARTS = frozenset({"NAME", "INT", "STRING", "TRUE", "FALSE", "NULL", "LPAR", "BANG"})
GROUPS = ((DECL_STARTS, "a declaration"), (STMT_STARTS, "a statement"),
          (EXPR_STARTS, "an expression"))

TERMINAL_NAMES = {"NAME": "a name", "INT": "a number", "STRING": "a string",
                  "CMP": "a comparison (`==`, `<`, ...)", "$END": "end of file"}
OPENERS = {"LBRACE": "RBRACE", "LPAR": "RPAR"}
LOOP_WORDS = frozenset({"while", "for", "do", "loop", "goto"})


@dataclass(frozen=True)
class Mistake:
    label: str
    hint: str
    examples: tuple[str, ...]
    message: str = ""          # replaces "unexpected X; expected Y" when set
    any_token: bool = True     # False: only the examples' own unexpected tokens match


MISTAKES = (
    Mistake("path-context",
            f"a path runs in an execution context: `path NAME in process {{ ... }}` "
            f"(contexts: {CONTEXTS})",
            ("path p {", "path p() {", "path p(b) {", "path p(b: revocable) {", "path p;"),
            message="a path needs `in CONTEXT` before its body"),
    Mistake("kind-colon", "a declaration gives its kind after `:`: `lock A : spinlock`, "
            "`object b : revocable`",
            ("lock A = spinlock", "lock A, B = mutex", "object o = flag", "lock A spinlock",
             "object o flag", "lock A, B spinlock")),
    Mistake("order-arrow", "chain the locks with `->`: `order A -> B -> C`",
            ("order A B", "order A -> B C", "order A, B", "order A -> B, C", "order A > B",
             "order A -> B > C")),
    Mistake("scenario-join", "the threads of a scenario are joined with `||`: "
            "`scenario s = p() || q()`",
            ("scenario s = p() && q()", "scenario s = p() | q()", "scenario s = p(), q()",
             "scenario s = p() q()", "scenario s = p() || q() && r()",
             "scenario s = p() || q() | r()", "scenario s = p() || q(), r()")),
    Mistake("scenario-call", "a scenario thread runs a path: `scenario s = fault(buf) || "
            "revoke(buf)`, with `N * p()` for N copies and `p() @ 1` to pick a CPU",
            ("scenario s = p", "scenario s = p || q()", "scenario s = p() || q")),
    Mistake("if-block", "`if` takes a block: `if COND { ... }`",
            ("fn f() { if x g(); }", "fn f() { if x return; }", "fn f() { if (x) g(); }",
             "fn f() { if x && y g(); }")),
    Mistake("else-block", "`else` takes a block or another `if`: `else { ... }`",
            ("fn f() { if x { } else g(); }", "fn f() { if x { } else return; }")),
    Mistake("either-or", "alternatives are written `either { ... } or { ... }`",
            ("fn f() { either { } }", "fn f() { either { } else { } }",
             "fn f() { either g(); }")),
    Mistake("expect-colon", "`expect VERDICT` for the whole spec, `expect SCENARIO: VERDICT` "
            "for one scenario; verdicts are `pass` or finding codes like `deadlock`",
            ("expect s pass", "expect s deadlock", "expect", "expect s:")),
    Mistake("fn-result", "a function's result type follows `->`: `fn ok(l: mutex) -> bool "
            "{ ... }`", ("fn f() : bool { }", "fn f(): bool = x;", "fn f() bool { }")),
    Mistake("fn-body", "a function needs a body in braces, or `-> bool = COND;`",
            ("fn f();", "fn f() -> bool;", "fn f()")),
    Mistake("member", "lockspec names are plain identifiers: write `dev->lock` as a "
            "name such as `dev_lock`, declared with `lock dev_lock : spinlock`",
            ("fn f() { g(a->b); }", "fn f() { g(&a->b); }", "fn f() { g(a.b); }",
             "fn f() { g(&a.b); }", "fn f() { g(a->b, c); }")),
    Mistake("assign", "lockspec has no assignment; state changes through verbs such as "
            "`set(flag)`, `inc(counter)`, `revoke(obj)`",
            ("fn f() { x = 1; }", "fn f() { x = y; }"), any_token=False),
    Mistake("repeat-count", "`repeat` takes a number and a block: `repeat 3 { ... }`",
            ("fn f() { repeat { } }", "fn f() { repeat n { } }", "fn f() { repeat 3 g(); }")),
    Mistake("param-type", "a parameter's type follows `:`: `fn f(l: mutex, b)`; "
            "types are lock kinds, object kinds, `lock`, `object`, gfp, fn, int, bool, "
            "mode, context", ("fn f(mutex l) { }", "fn f(l mutex) { }", "fn f(l: ) { }")),
)


@dataclass(frozen=True)
class ErrorSite:
    """Everything known about one unexpected token."""

    path: str
    token: Token                 # the unexpected token ($END at the end of the file)
    prev: Token | None           # the last token the parser accepted
    next: Token | None           # the token after the unexpected one
    expected: frozenset[str]     # terminal types the parser could take here
    state: object                # the parser state (lark's state number)
    open_brackets: tuple[Token, ...]
    statement_start: Token | None  # the first token after the last `;`, `{` or `}`


def describe(parser: Lark, site: ErrorSite, labels: dict) -> Diagnostic:
    """One diagnostic for an unexpected token: a specific message where the
    mistake is recognised, else `unexpected X; expected A, B or C`."""
    token = site.token
    found = _found(token)
    span = _token_span(site.path, token)
    generic = f"unexpected {found}; expected {expected_names(parser, site.expected)}"

    def labelled(mistake: Mistake) -> Diagnostic:
        message = f"{mistake.message}; found {found}" if mistake.message else generic
        return Diagnostic(SYNTAX_ERROR, message, span, (mistake.hint,))

    recognised = _unclosed_bracket(site, span)
    if recognised is None and (site.state, token.type) in labels:
        return labelled(labels[site.state, token.type])
    for check in _CHECKS:
        recognised = recognised or check(site, span, generic)
    if recognised is not None:
        message, where, hints = recognised
        return Diagnostic(SYNTAX_ERROR, message, where, tuple(hints))
    hints = _misspelt_keyword_hints(site)
    if not hints and (site.state, None) in labels:
        return labelled(labels[site.state, None])
    return Diagnostic(SYNTAX_ERROR, generic, span, tuple(hints or _call_hints(site)))


# --------------------------------------------------------- token-level checks
# Each returns (message, span, hints) when it recognises the mistake, else None.

def _keyword_as_name(site: ErrorSite, span: Span, generic: str):
    token = site.token
    if "NAME" in site.expected and token.type in KEYWORD_TYPES:
        return (f"`{token}` is a keyword and cannot be used as a name", span,
                [f"rename it after what it belongs to, e.g. `dev_{token}` or `{token}_`"])
    return None


def semicolon_missing(site: ErrorSite) -> bool:
    """A statement ended without `;`: the next token is on a later line, or is `}`."""
    token, prev = site.token, site.prev
    if "SEMICOLON" not in site.expected or prev is None or token.type == "$END":
        return False
    if DECL_STARTS <= site.expected or prev.type in ("SEMICOLON", "RBRACE"):
        return False
    return token.line > prev.end_line or token.type == "RBRACE" or site.expected == {"SEMICOLON"}


def confident(site: ErrorSite) -> bool:
    """Errors that a repair earlier in the declaration cannot explain: a missing
    `;`, a keyword used as a name, anything after the declaration is complete."""
    return semicolon_missing(site) or DECL_STARTS <= site.expected or (
        "NAME" in site.expected and site.token.type in KEYWORD_TYPES)


def _missing_semicolon(site: ErrorSite, span: Span, generic: str):
    prev = site.prev
    if semicolon_missing(site):
        where = Span(site.path, prev.end_line, prev.end_column, prev.end_line,
                     prev.end_column + 1)
        return "missing `;` at the end of the statement", where, []
    return None


def _statement_at_top_level(site: ErrorSite, span: Span, generic: str):
    token, after = site.token, site.next
    if not DECL_STARTS <= site.expected:
        return None
    if token.type in ("NAME", "IF", "EITHER", "RETURN", "REPEAT", "ASSERT") and (
            token.type != "NAME" or (after is not None and after.type == "LPAR")):
        example = f"{token}(...);" if token.type == "NAME" else "..."
        return ("statement outside a path or function", span,
                [f"statements go in the body of a path or fn: "
                 f"`path NAME in process {{ {example} }}`"])
    if token.type == "RBRACE":
        return "`}` closes nothing", span, ["remove it, or look for a `{` missing above"]
    if token.type == "NAME":
        guess = _close(str(token), _keywords(DECL_STARTS))
        hint = f"did you mean `{guess}`?" if guess else (
            "declarations start with spec, import, option, lock, object, order, fn, path, "
            "scenario or expect")
        return f"unknown declaration `{token}`", span, [hint]
    return None


def _unclosed_bracket(site: ErrorSite, span: Span):
    token = site.token
    if not site.open_brackets:
        return None
    opener = site.open_brackets[-1]
    closer = OPENERS[opener.type]
    if closer not in site.expected:
        return None
    opened = _token_span(site.path, opener)
    if token.type == "$END":
        return (f"`{opener}` is never closed: the file ends first", opened,
                [f"add `{'}' if closer == 'RBRACE' else ')'}` to close it"])
    if token.type in DECL_STARTS and token.column == 1:
        return (f"unexpected `{token}`: the `{opener}` on line {opener.line} is not closed",
                span, [f"a `}}` is missing before this `{token}`"])
    return None


def _loop_keyword(site: ErrorSite, span: Span, generic: str):
    first = site.statement_start
    if first is not None and first.type == "NAME" and str(first) in LOOP_WORDS:
        return (f"lockspec has no `{first}` loops", _token_span(site.path, first),
                ["use `repeat N { ... }` for bounded repetition, `either { ... } or "
                 "{ ... }` for a choice"])
    return None


def _c_comparison(site: ErrorSite, span: Span, generic: str):
    token = site.token
    if token.type == "EQUAL" and "CMP" in site.expected:
        return generic, span, ["compare with `==`"]
    return None


_CHECKS: tuple[Callable, ...] = (_statement_at_top_level, _keyword_as_name,
                                 _loop_keyword, _missing_semicolon, _c_comparison)


def _misspelt_keyword_hints(site: ErrorSite) -> list[str]:
    """`retrun;`, `esle {`, `lokc A : mutex`: a name close to a keyword."""
    token, prev = site.token, site.prev
    if token.type == "NAME":
        guess = _close(str(token), _keywords(site.expected))
        if guess:
            return [f"did you mean `{guess}`?"]
    if prev is not None and prev.type == "NAME" and site.expected == {"LPAR"} and (
            token.type != "$END"):
        guess = _close(str(prev), _keywords(STMT_STARTS | {"ELSE", "OR"}))
        if guess:
            return [f"did you mean `{guess}`? (`{prev}` is not a keyword)"]
    return []


def _call_hints(site: ErrorSite) -> list[str]:
    token, prev = site.token, site.prev
    if token.type == "$END" and site.open_brackets:
        opener = site.open_brackets[-1]
        return [f"the file ends inside the `{opener}` opened on line {opener.line}; "
                "is it truncated?"]
    if prev is not None and prev.type == "NAME" and site.expected == {"LPAR"}:
        return [f"a call needs parentheses: `{prev}(...);`"]
    return []


# ------------------------------------------------------------------- wording

def expected_names(parser: Lark, expected: frozenset[str]) -> str:
    """`;`, `)` or a name; a declaration / statement / expression for their
    usual openers; a bounded list either way."""
    names: list[str] = []
    rest = set(expected) - {"BAD", "BLOCK_COMMENT"}
    if DECL_STARTS <= rest:
        rest.discard("$END")
    for group, label in GROUPS:
        if group <= rest:
            names.append(label)
            rest -= group
    names += sorted({terminal_name(parser, t) for t in rest})
    if not names:
        return "nothing here"
    if len(names) > 7:
        names = names[:6] + [f"one of {len(names) - 6} more"]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def terminal_name(parser: Lark, name: str) -> str:
    if name in TERMINAL_NAMES:
        return TERMINAL_NAMES[name]
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return name.lower()


def _found(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name `{token}`"
    if token.type == "INT":
        return f"number `{token}`"
    if token.type == "STRING":
        return "a string"
    return f"`{token}`"


def _token_span(path: str, token: Token) -> Span:
    line, col = max(1, token.line or 1), max(1, token.column or 1)
    end_line = token.end_line or line
    end_col = token.end_column if token.end_column and (
        end_line > line or token.end_column > col) else col + 1
    return Span(path, line, col, end_line, end_col)


def _keywords(types) -> list[str]:
    return sorted(t.lower() for t in types if t.isalpha() and t not in ("NAME", "INT"))


def _close(word: str, pool: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return matches[0] if matches and matches[0] != word else None
