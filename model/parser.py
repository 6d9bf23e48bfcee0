"""Spec text -> AST. Syntax errors are collected as diagnostics, never raised.

The text is lexed lazily (the lexer never fails: a stray character becomes a
BAD token) and the tokens are fed to lark's interactive LALR parser one by
one. On an unexpected token the error is described, and parsing recovers so
that independent errors further on are reported too:

- a one-token repair (insert a `;` or a `}`, replace `=` by `:`, read a
  keyword as a name, drop a stray token) is kept when the parser then takes
  the next few tokens without complaint;
- otherwise the parser is reset to where the broken declaration began and
  resumes at the next declaration.

A repair is a guess: a later error in the same declaration is taken as a
cascade of it and is not reported, unless it is unmistakable on its own (a
missing `;`, a keyword used as a name).

Most specs have no error, so each is first parsed the plain way, by lark's
own LALR loop; only a spec that fails there (or that may nest too deeply) is
parsed again token by token as above, so error messages come from one place.
Either way the AST is built while parsing (model.syntax's Builder as lark's
rule callbacks), never by a second pass over a parse tree.
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import accumulate, islice
from pathlib import Path

import lark
from lark import Token
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.lark import PostLex
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser_state import ParseConf

from model import ast
from model.gcpause import gc_paused
from model.span import SYNTAX_ERROR, Diagnostic, Span
from model.syntax import Builder
from model.syntax_errors import (DECL_STARTS, KEYWORD_TYPES, MISTAKES, OPENERS, ErrorSite,
                                 confident, describe, semicolon_missing)

MAX_NESTING = 128
MAX_SYNTAX_ERRORS = 20
REPAIR_LOOKAHEAD = 4       # tokens a repair must let the parser take
LEX_CHUNK = 512            # tokens lexed at a time: lexing stops early on garbage
MAX_RESYNC_SCAN = 20_000   # tokens searched for a place to resume before giving up
CLOSERS = frozenset({"RBRACE", "RPAR"})
UNPARSED = frozenset({"BAD", "BLOCK_COMMENT"})
STATEMENT_ENDS = frozenset({"SEMICOLON", "LBRACE", "RBRACE"})
# Punctuation a one-token repair may insert, or put in place of other punctuation.
REPAIR_PUNCTUATION = (":", ")", "}", "->", "||")


class _KeepTokens(PostLex):
    """Keeps BAD characters and unterminated block comments for the parser to report."""

    always_accept = ("BAD", "BLOCK_COMMENT")

    def process(self, stream):
        for token in stream:
            if token.type != "BLOCK_COMMENT" or not token.endswith("*/") or len(token) < 4:
                yield token


@lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    """The grammar's LALR tables, built once per process (and kept by lark in its
    cache file between processes, keyed by the grammar's hash)."""
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", lexer="basic", keep_all_tokens=True,
                     maybe_placeholders=False, postlex=_KeepTokens(), cache=True)


def _cursor(text: str, builder: Builder) -> InteractiveParser:
    """An interactive parser over `text` whose reductions build the AST with
    `builder`. lark takes a transformer only when the tables are built, and a
    Builder is made per file (spans carry the file name), so the shared tables
    get per-file callbacks here, as lark itself wires a `transformer=`."""
    cursor = _lark().parse_interactive(text)
    made = _lark()._parse_tree_builder.create_callback(builder)
    state = cursor.parser_state
    table = state.parse_conf.parse_table
    # Keyed by the table's own rule objects: lark looks a callback up per
    # reduction, and an equal but distinct key costs two Python-level calls.
    callbacks = {rule: made[rule] for rule in _table_rules(table)}
    state.parse_conf = ParseConf(table, callbacks, "start")
    return cursor


@lru_cache(maxsize=1)
def _table_rules(table) -> tuple:
    return tuple({arg: None for actions in table.states.values()
                  for action, arg in actions.values() if action is not Shift})


@lru_cache(maxsize=1)
def _opaque() -> re.Pattern:
    """Strings and comments, by the grammar's own terminals."""
    patterns = {t.name: t.pattern.to_regexp() for t in _lark().terminals}
    return re.compile("|".join(f"(?:{patterns[name]})"
                               for name in ("STRING", "COMMENT", "BLOCK_COMMENT")))


_BRACKETS = {"{": 1, "(": 1, "}": -1, ")": -1}


def _may_nest_too_deeply(text: str) -> bool:
    """An upper bound on the nesting the recovering parser measures (open brackets
    plus a run of `!`): false only when it surely stays within MAX_NESTING. Outside
    strings and comments every `{` `(` `}` `)` `!` is a token of its own."""
    skeleton = _opaque().sub(" ", text)
    brackets = re.sub(r"[^{}()]+", "", skeleton)
    depth = max(accumulate(map(_BRACKETS.__getitem__, brackets)), default=0)
    bangs = max((run.count("!") for run in re.findall(r"!(?:\s*!)*", skeleton)), default=0)
    return depth + bangs > MAX_NESTING


@lru_cache(maxsize=1)
def _repair_terminals() -> dict[str, str]:
    """Terminal name -> text, for the punctuation repairs may use."""
    return {t.name: t.pattern.value for t in _lark().terminals
            if t.pattern.type == "str" and t.pattern.value in REPAIR_PUNCTUATION}


@lru_cache(maxsize=1)
def _labels() -> dict:
    """(parser state, token type) -> Mistake, from each mistake's examples."""
    table: dict = {}
    for mistake in MISTAKES:
        for example in mistake.examples:
            key = _first_error(example)
            if key is not None:
                table.setdefault(key, mistake)
                if mistake.any_token:
                    table.setdefault((key[0], None), mistake)
    return table


def _first_error(text: str):
    """The (parser state, token type) at which `text` first fails to parse."""
    cursor = _lark().parse_interactive("")
    tokens = _Tokens(text)
    index = 0
    while (token := tokens.get(index)) is not None:
        try:
            cursor.feed_token(token)
        except UnexpectedToken:
            return cursor.parser_state.position, token.type
        index += 1
    return None


class _Tokens:
    """The token stream, lexed on demand, ending with `$END`; with each token's
    brace depth by counting alone (used to find where to resume)."""

    def __init__(self, text: str):
        self.text = text
        self.source = iter(_lark().lex(text))
        self.items: list[Token] = []
        self.depths: list[int] = []
        self.depth = 0

    def get(self, index: int) -> Token | None:
        items = self.items
        if index < len(items):
            return items[index]
        while len(items) <= index and self.source is not None:
            self._pull()
        return items[index] if index < len(items) else None

    def _pull(self) -> None:
        chunk = list(islice(self.source, LEX_CHUNK))
        if len(chunk) < LEX_CHUNK:
            chunk.append(_end_token(self.text))
            self.source = None
        depth, depths = self.depth, self.depths
        for token in chunk:
            depths.append(depth)
            if token.type == "LBRACE":
                depth += 1
            elif token.type == "RBRACE" and depth:
                depth -= 1
        self.depth = depth
        self.items += chunk


def _end_token(text: str) -> Token:
    line = text.count("\n") + 1
    col = len(text) - (text.rfind("\n") + 1) + 1
    return Token("$END", "", len(text), line, col, line, col + 1, len(text))


class _TooDeep(Exception):
    def __init__(self, token: Token):
        super().__init__()
        self.token = token


class _Stop(Exception):
    """No more useful errors can be found in this file."""


class _Driver:
    """Feeds tokens to the parser, recovering from errors."""

    def __init__(self, path: str, text: str, builder: Builder):
        self.parser = _lark()
        self.path = path
        self.tokens = _Tokens(text)
        self.cursor = _cursor("", builder)
        self.open: list[Token] = []        # unclosed `{` and `(`
        self.bangs = 0                     # a run of `!` nests too
        self.prev: Token | None = None     # the last token the parser took
        self.statement_start: Token | None = None
        self.errors: list[Diagnostic] = []
        self.repaired = False              # a guess was made in this declaration
        self.snapshot = self._snapshot()   # where the current declaration began

    def run(self):
        """The module's declarations, or None when there were errors."""
        index, result = 0, None
        try:
            while (token := self.tokens.get(index)) is not None:
                if token.type in UNPARSED:
                    index = self.unparsed(index)
                    continue
                if token.type in DECL_STARTS and DECL_STARTS <= set(self.cursor.choices()):
                    self.snapshot, self.repaired = self._snapshot(), False
                try:
                    result = self.feed(token)
                except UnexpectedToken:
                    index = self.recover(index)
                    continue
                index += 1
        except _TooDeep as deep:
            token = deep.token
            self.errors.append(Diagnostic(
                SYNTAX_ERROR, f"nesting deeper than {MAX_NESTING} levels",
                Span(self.path, token.line, token.column, token.end_line, token.end_column),
                ("split the body into functions with `fn`",)))
        except _Stop:
            pass
        return None if self.errors else result

    def feed(self, token: Token):
        """Feed one token, tracking brackets and nesting."""
        kind = token.type
        result = self.cursor.parser_state.feed_token(token, kind == "$END")
        if kind in OPENERS:
            self.open.append(token)
        elif kind in CLOSERS and self.open:
            self.open.pop()
        self.bangs = self.bangs + 1 if kind == "BANG" else 0
        if len(self.open) + self.bangs > MAX_NESTING:
            raise _TooDeep(token)
        if self.prev is None or self.prev.type in STATEMENT_ENDS:
            self.statement_start = token
        self.prev = token
        return result

    def _snapshot(self):
        return self.cursor.copy(deepcopy_values=False), list(self.open), self.prev

    def report(self, diag: Diagnostic) -> None:
        self.errors.append(diag)
        if len(self.errors) >= MAX_SYNTAX_ERRORS:
            raise _Stop()

    # -------------------------------------------------------------- recovery
    def recover(self, index: int) -> int:
        """Report the error at `index` (unless it is a cascade); return where to go on."""
        site = self.error_site(index)
        if self.repaired and not confident(site):
            return self.resynchronise(index)
        self.report(describe(self.parser, site, _labels()))
        if site.token.type == "$END":
            raise _Stop()
        repaired = self.try_repairs(index, site)
        if repaired is not None:
            self.repaired = True
            return repaired
        return self.resynchronise(index)

    def error_site(self, index: int) -> ErrorSite:
        return ErrorSite(self.path, self.tokens.get(index), self.prev,
                         self.tokens.get(index + 1), frozenset(self.cursor.accepts()),
                         self.cursor.parser_state.position, tuple(self.open),
                         self.statement_start)

    def try_repairs(self, index: int, site: ErrorSite) -> int | None:
        """Apply the first one-token repair after which the parser takes the next
        few tokens; return where to continue, or None when no repair works."""
        for inserted, skipped in self.candidate_repairs(site):
            rest = [self.tokens.get(i) for i in range(index + skipped,
                                                      index + skipped + REPAIR_LOOKAHEAD)]
            trial = self.cursor.copy(deepcopy_values=False)
            try:
                for token in inserted + [t for t in rest if t is not None]:
                    if token.type not in UNPARSED:
                        trial.feed_token(token)
            except UnexpectedToken:
                continue
            for token in inserted:
                self.feed(token)
            return index + skipped
        return None

    def candidate_repairs(self, site: ErrorSite):
        """(tokens to feed instead, how many original tokens they replace)."""
        token, expected = site.token, site.expected
        prev = self.prev or token
        if semicolon_missing(site):
            yield [_made("SEMICOLON", ";", prev)], 0
        if token.type in KEYWORD_TYPES and "NAME" in expected:
            yield [Token.new_borrow_pos("NAME", str(token), token)], 1
        punctuation = token.type not in KEYWORD_TYPES and token.type not in (
            "NAME", "INT", "STRING", "$END")
        repairs = _repair_terminals()
        for kind in sorted(expected & repairs.keys()):
            text = repairs[kind]
            if punctuation:
                yield [Token.new_borrow_pos(kind, text, token)], 1
            yield [_made(kind, text, prev)], 0
        yield [], 1

    def resynchronise(self, index: int) -> int:
        """Back to where the broken declaration began; resume at the next one:
        a declaration keyword outside braces or at the start of a line, or a name
        at the start of a line (a misspelt keyword, a stray statement)."""
        cursor, brackets, prev = self.snapshot
        self.cursor = cursor.copy(deepcopy_values=False)
        self.open, self.prev, self.bangs = list(brackets), prev, 0
        self.repaired = False
        later = index + 1
        while (token := self.tokens.get(later)) is not None and token.type != "$END":
            if later - index > MAX_RESYNC_SCAN:
                break
            at_line_start = token.column == 1
            if (token.type in DECL_STARTS and (self.tokens.depths[later] == 0 or at_line_start)
                    or token.type == "NAME" and at_line_start and self.tokens.depths[later] == 0):
                return later
            later += 1
        raise _Stop()

    def _stray_continues(self, end: int) -> bool:
        """Whether the token after `end` belongs to the run of stray characters: a
        BAD character right after it, or a name glued between two (`été`)."""
        following = self.tokens.get(end + 1)
        if following is None or following.start_pos != self.tokens.get(end).end_pos:
            return False
        if following.type == "BAD":
            return True
        after = self.tokens.get(end + 2)
        return following.type in ("NAME", "INT") and after is not None and \
            after.type == "BAD" and after.start_pos == following.end_pos

    def unparsed(self, index: int) -> int:
        """Report a run of stray characters (or an unterminated comment) once; skip it."""
        first = self.tokens.get(index)
        end = index
        while self._stray_continues(end):
            end += 1
        last = self.tokens.get(end)
        run = "".join(self.tokens.get(i) for i in range(index, end + 1))
        message, hint = _stray_text(first, run)
        span = Span(self.path, first.line, first.column, last.end_line, last.end_column)
        self.report(Diagnostic(SYNTAX_ERROR, message, span, (hint,) if hint else ()))
        if first.type == "BLOCK_COMMENT":
            raise _Stop()
        if first in ('"', "#"):    # an unterminated string, a `#include`: skip the line
            while (following := self.tokens.get(end + 1)) is not None and \
                    following.type != "$END" and following.line == first.line:
                end += 1
        self.repaired = True
        return end + 1


STRAY_HINTS = {
    "#": "comments are `// ...` or `/* ... */`; there is no preprocessor",
    "'": "strings use double quotes",
    "\0": "a spec is text, but this is a NUL byte",
    "[": "lockspec has no arrays: declare one name per lock (`lock a0, a1 : mutex`)",
    "]": "lockspec has no arrays: declare one name per lock (`lock a0, a1 : mutex`)",
}


def _stray_text(first: Token, run: str) -> tuple[str, str]:
    if first.type == "BLOCK_COMMENT":
        return "unterminated comment: `/*` without `*/`", ""
    if first == '"':
        return "unterminated string", 'a string ends with `"` on the same line'
    shown = "".join(c if c.isprintable() and not c.isspace() else repr(c)[1:-1]
                    for c in run[:16]) + ("..." if len(run) > 16 else "")
    what = "character" if len(run) == 1 else "characters"
    hint = STRAY_HINTS.get(str(first), "")
    if not hint and not str(first).isascii():
        hint = "names are ASCII letters, digits and `_`"
    return f"unexpected {what} `{shown}`", hint


def _made(kind: str, text: str, near: Token) -> Token:
    """A token the parser is given as a repair, placed just after `near`."""
    line, col, pos = near.end_line, near.end_column, near.end_pos
    return Token(kind, text, pos, line, col, line, col + len(text), pos)


def parse(path: str, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one spec. Returns the module (None if it has syntax errors) and errors."""
    with gc_paused():
        decls = _parse_plain(path, text)
        if decls is not None:
            return ast.Module(path, tuple(decls)), []
        driver = _Driver(path, text, Builder(path))
        decls = driver.run()
    if decls is None:
        return None, sorted(driver.errors, key=Diagnostic.sort_key)
    return ast.Module(path, tuple(decls)), []


def _parse_plain(path: str, text: str) -> list | None:
    """The declarations by lark's own parse loop, or None if the spec has an error
    (or may nest too deeply): the recovering parser then says what and where."""
    if _may_nest_too_deeply(text):
        return None
    try:
        return _cursor(text, Builder(path)).resume_parse()
    except UnexpectedInput:
        return None
