"""Spec text -> AST. Syntax errors are collected as diagnostics, never raised."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import lark
from lark import Token
from lark.visitors import Transformer_NonRecursive, v_args

from model import ast
from model.span import SYNTAX_ERROR, Diagnostic, Span

MAX_NESTING = 128
MAX_SYNTAX_ERRORS = 20

# Readable names for the grammar's terminals, used in "expected ..." messages.
TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a number",
    "STRING": "a string",
    "CMP": "a comparison",
    "$END": "end of file",
}


@lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True,
                     maybe_placeholders=False)


def _span(file: str, meta_or_token) -> Span:
    item = meta_or_token
    return Span(file, item.line, item.column, item.end_line, item.end_column)


def _merge(first: Span, last: Span) -> Span:
    return Span(first.file, first.line, first.col, last.end_line, last.end_col)


class _Builder(Transformer_NonRecursive):
    """Builds frozen AST nodes from the lark tree, bottom-up without recursion."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _ident(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), _span(self.file, token))

    def _sp(self, meta) -> Span:
        return _span(self.file, meta)

    # declarations
    @v_args(meta=True)
    def start(self, meta, items):
        return [item for item in items if item is not None]

    def empty_item(self, _):
        return None

    @v_args(meta=True)
    def title_decl(self, meta, c):
        return ast.Title(_unquote(c[0]), self._sp(meta))

    @v_args(meta=True)
    def import_decl(self, meta, c):
        return ast.Import(c[0], self._sp(meta))

    def dotted(self, c):
        return tuple(self._ident(t) for t in c)

    @v_args(meta=True)
    def option_decl(self, meta, c):
        return ast.OptionDecl(self._ident(c[0]), c[1] if len(c) > 1 else None, self._sp(meta))

    def name_list(self, c):
        return tuple(self._ident(t) for t in c)

    @v_args(meta=True)
    def lock_decl(self, meta, c):
        lock_class = c[2] if len(c) > 2 else None
        return ast.LockDecl(c[0], self._ident(c[1]), lock_class, self._sp(meta))

    def lock_class(self, c):
        return self._ident(c[0])

    @v_args(meta=True)
    def object_decl(self, meta, c):
        init = None
        options = []
        for child in c[2:]:
            if isinstance(child, ast.ObjectOption):
                options.append(child)
            else:
                init = child
        return ast.ObjectDecl(c[0], self._ident(c[1]), init, tuple(options), self._sp(meta))

    @v_args(meta=True)
    def object_opt(self, meta, c):
        return ast.ObjectOption(self._ident(c[0]), self._ident(c[1]), self._sp(meta))

    @v_args(meta=True)
    def order_decl(self, meta, c):
        return ast.OrderDecl(tuple(self._ident(t) for t in c), self._sp(meta))

    @v_args(meta=True)
    def fn_decl(self, meta, c):
        params = next((x for x in c[1:] if isinstance(x, tuple)), ())
        result = next((self._ident(x) for x in c[1:] if isinstance(x, Token)), None)
        return ast.FnDecl(self._ident(c[0]), params, result, c[-1], self._sp(meta))

    @v_args(meta=True)
    def pred_decl(self, meta, c):
        """`fn f(..) -> bool = e;` is sugar for `fn f(..) -> bool { return e; }`."""
        params = c[1] if len(c) == 4 else ()
        span = self._sp(meta)
        body = ast.Block((ast.Return(c[-1], c[-1].span),), c[-1].span)
        return ast.FnDecl(self._ident(c[0]), params, self._ident(c[-2]), body, span)

    @v_args(meta=True)
    def path_decl(self, meta, c):
        params = c[1] if len(c) == 4 else ()
        return ast.PathDecl(self._ident(c[0]), params, self._ident(c[-2]), c[-1], self._sp(meta))

    def params(self, c):
        return tuple(c)

    @v_args(meta=True)
    def param(self, meta, c):
        types = c[1] if len(c) > 1 else ()
        return ast.Param(self._ident(c[0]), types, self._sp(meta))

    def type_union(self, c):
        return tuple(self._ident(t) for t in c)

    @v_args(meta=True)
    def scenario_decl(self, meta, c):
        return ast.ScenarioDecl(self._ident(c[0]), tuple(c[1:]), self._sp(meta))

    @v_args(meta=True)
    def thread(self, meta, c):
        c = list(c)
        count = int(c.pop(0)) if isinstance(c[0], Token) and c[0].type == "INT" else 1
        name = self._ident(c.pop(0))
        args = c.pop(0) if c and isinstance(c[0], tuple) else ()
        cpu = int(c.pop(0)) if c else None
        call = ast.Call(name, args, _merge(name.span, args[-1].span) if args else name.span)
        return ast.ThreadDecl(count, call, cpu, self._sp(meta))

    @v_args(meta=True)
    def expect_decl(self, meta, c):
        scenario = self._ident(c[0]) if isinstance(c[0], Token) else None
        verdicts = tuple(v for v in c if isinstance(v, ast.Verdict))
        return ast.ExpectDecl(scenario, verdicts, self._sp(meta))

    @v_args(meta=True)
    def verdict(self, meta, c):
        return ast.Verdict("-".join(str(t) for t in c), self._sp(meta))

    # statements
    @v_args(meta=True)
    def block(self, meta, c):
        return ast.Block(tuple(s for s in c if s is not None), self._sp(meta))

    @v_args(meta=True)
    def call_stmt(self, meta, c):
        return ast.CallStmt(c[0], self._sp(meta))

    @v_args(meta=True)
    def if_stmt(self, meta, c):
        return ast.If(c[0], c[1], c[2] if len(c) > 2 else None, self._sp(meta))

    @v_args(meta=True)
    def either_stmt(self, meta, c):
        return ast.Either(tuple(c), self._sp(meta))

    @v_args(meta=True)
    def return_stmt(self, meta, c):
        return ast.Return(c[0] if c else None, self._sp(meta))

    @v_args(meta=True)
    def repeat_stmt(self, meta, c):
        return ast.Repeat(int(c[0]), c[1], self._sp(meta))

    @v_args(meta=True)
    def assert_stmt(self, meta, c):
        return ast.Assert(c[0], self._sp(meta))

    def empty_stmt(self, _):
        return None

    # expressions
    @v_args(meta=True)
    def call(self, meta, c):
        return ast.Call(self._ident(c[0]), c[1] if len(c) > 1 else (), self._sp(meta))

    def args(self, c):
        return tuple(c)

    @v_args(meta=True)
    def arg(self, meta, c):
        keyword = self._ident(c[0]) if len(c) == 2 else None
        return ast.Arg(keyword, c[-1], self._sp(meta))

    @v_args(meta=True)
    def or_chain(self, meta, c):
        return c[0] if len(c) == 1 else ast.BoolOp("||", tuple(c), self._sp(meta))

    @v_args(meta=True)
    def and_chain(self, meta, c):
        return c[0] if len(c) == 1 else ast.BoolOp("&&", tuple(c), self._sp(meta))

    @v_args(meta=True)
    def not_expr(self, meta, c):
        return ast.Not(c[0], self._sp(meta))

    @v_args(meta=True)
    def compare(self, meta, c):
        return ast.Compare(str(c[1]), c[0], c[2], self._sp(meta))

    @v_args(meta=True)
    def name(self, meta, c):
        return ast.Name(self._ident(c[0]), self._sp(meta))

    @v_args(meta=True)
    def int_lit(self, meta, c):
        return ast.IntLit(int(c[0]), self._sp(meta))

    @v_args(meta=True)
    def true_lit(self, meta, c):
        return ast.BoolLit(True, self._sp(meta))

    @v_args(meta=True)
    def false_lit(self, meta, c):
        return ast.BoolLit(False, self._sp(meta))

    @v_args(meta=True)
    def null_lit(self, meta, c):
        return ast.NullLit(self._sp(meta))

    @v_args(meta=True)
    def string_lit(self, meta, c):
        return ast.StringLit(_unquote(c[0]), self._sp(meta))


def _unquote(token: Token) -> str:
    text = str(token)[1:-1]
    return text.replace('\\"', '"').replace("\\\\", "\\")


def parse(path: str, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one spec. Returns the module (None if it has syntax errors) and errors."""
    parser = _lark()
    diags = _check_lexing_and_nesting(parser, path, text)
    if diags:
        return None, diags
    errors: list[Diagnostic] = []

    def on_error(err: lark.exceptions.UnexpectedInput) -> bool:
        diag = _describe(parser, path, text, err)
        if not errors or errors[-1].span.line != diag.span.line:
            errors.append(diag)
        return len(errors) < MAX_SYNTAX_ERRORS

    try:
        tree = parser.parse(text, on_error=on_error)
    except lark.exceptions.UnexpectedInput as err:
        if not errors:
            errors.append(_describe(parser, path, text, err))
        return None, errors
    if errors:
        return None, errors
    decls = _Builder(path).transform(tree)
    return ast.Module(path, tuple(decls)), []


def _check_lexing_and_nesting(parser: lark.Lark, path: str, text: str) -> list[Diagnostic]:
    """Lex the whole file first: bad characters and runaway nesting are reported here."""
    depth = 0
    try:
        for token in parser.lex(text, dont_ignore=False):
            if token in ("{", "("):
                depth += 1
                if depth > MAX_NESTING:
                    span = _span(path, token)
                    return [Diagnostic(SYNTAX_ERROR,
                                       f"nesting deeper than {MAX_NESTING} levels", span,
                                       ("split the body into functions with `fn`",))]
            elif token in ("}", ")"):
                depth -= 1
    except lark.exceptions.UnexpectedCharacters as err:
        return [_describe(parser, path, text, err)]
    return []


def _describe(parser: lark.Lark, path: str, text: str, err) -> Diagnostic:
    line, col = max(1, err.line), max(1, err.column)
    token = getattr(err, "token", None)
    if isinstance(err, lark.exceptions.UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        shown = repr(char)[1:-1] if not char.isprintable() else char
        return Diagnostic(SYNTAX_ERROR, f"unexpected character `{shown}`",
                          Span(path, line, col, line, col + 1))
    expected = sorted(getattr(err, "expected", None) or getattr(err, "allowed", None) or ())
    names = sorted({_terminal_name(parser, name) for name in expected})
    if token is None or token.type == "$END":
        found = "end of file"
        end_line, end_col = line, col + 1
    else:
        found = f"`{token}`"
        end_line, end_col = token.end_line or line, token.end_column or col + 1
    message = f"unexpected {found}; expected {_join(names)}"
    span = Span(path, line, col, end_line, end_col)
    hints = _hints(set(expected), parser, token, err)
    if "SEMICOLON" in expected and token is not None and _on_later_line(err):
        prev = err.interactive_parser.parser_state.value_stack[-1]
        span = _after(path, prev)
        message = f"missing `;` before {found}"
    return Diagnostic(SYNTAX_ERROR, message, span, tuple(hints))


def _on_later_line(err) -> bool:
    interactive = getattr(err, "interactive_parser", None)
    if interactive is None or not interactive.parser_state.value_stack:
        return False
    prev = interactive.parser_state.value_stack[-1]
    prev_line = getattr(prev, "end_line", None) or getattr(getattr(prev, "meta", None), "end_line", None)
    return bool(prev_line) and err.token.line is not None and err.token.line > prev_line


def _after(path: str, prev) -> Span:
    meta = prev if isinstance(prev, Token) else prev.meta
    return Span(path, meta.end_line, meta.end_column, meta.end_line, meta.end_column + 1)


def _hints(expected: set[str], parser: lark.Lark, token, err) -> list[str]:
    literal = {_terminal_name(parser, name) for name in expected}
    hints = []
    if "`in`" in literal and token is not None and str(token) in ("{", "("):
        hints.append("a path names its execution context: `path NAME in process { ... }` "
                     "(process, softirq, hardirq, irq_work, workqueue)")
    if token is not None and token.type == "NAME" and "`(`" in literal:
        hints.append("a call needs parentheses: `NAME(args);`")
    if token is not None and str(token) == "=" and "`:`" in literal:
        hints.append("declarations use `:` before the kind: `lock NAME : mutex`")
    return hints


def _terminal_name(parser: lark.Lark, name: str) -> str:
    if name in TERMINAL_NAMES:
        return TERMINAL_NAMES[name]
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return name.lower()


def _join(names: list[str]) -> str:
    if not names:
        return "nothing here"
    if len(names) > 6:
        return ", ".join(names[:6]) + f", or one of {len(names) - 6} more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]
