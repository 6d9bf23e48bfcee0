"""Parse tree -> AST: frozen nodes whose spans run from their first to their last token.

The grammar keeps every token (lark's keep_all_tokens), so a node's span is
known from its children without lark propagating positions, and keywords and
punctuation are dropped here rather than by lark.
"""
from __future__ import annotations

from dataclasses import dataclass

from lark import Token
from lark.visitors import Transformer_NonRecursive

from model import ast
from model.span import Span

# Tokens that carry a value; every other token is a keyword or punctuation.
VALUE_TOKENS = frozenset({"NAME", "INT", "STRING", "CMP"})
_LITERALS = (ast.IntLit, ast.BoolLit, ast.NullLit, ast.StringLit)


def _start(item) -> tuple[int, int]:
    if isinstance(item, Token):
        return item.line, item.column
    if isinstance(item, tuple):
        return _start(item[0])
    return item.span.line, item.span.col


def _end(item) -> tuple[int, int]:
    if isinstance(item, Token):
        return item.end_line, item.end_column
    if isinstance(item, tuple):
        return _end(item[-1])
    return item.span.end_line, item.span.end_col


def _values(children) -> list:
    """The children that are not keywords or punctuation."""
    return [c for c in children if not isinstance(c, Token) or c.type in VALUE_TOKENS]


def unquote(token: str) -> str:
    text = str(token)[1:-1]
    out, escaped = [], False
    for char in text:
        if escaped:
            out.append({"n": "\n", "t": "\t"}.get(char, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


@dataclass(frozen=True)
class _LockdepName:
    """The string of `lockdep "..."`, told apart from the `class` ident beside it."""

    text: str
    span: Span


class Builder(Transformer_NonRecursive):
    """Builds the AST bottom-up, without recursion, so deep input cannot overflow."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.file = file

    def span(self, children) -> Span:
        first, last = children[0], children[-1]
        if isinstance(first, Token) and isinstance(last, Token):
            return Span(self.file, first.line, first.column, last.end_line, last.end_column)
        (line, col), (end_line, end_col) = _start(first), _end(last)
        return Span(self.file, line, col, end_line, end_col)

    def ident(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), Span(self.file, token.line, token.column, token.end_line,
                                          token.end_column))

    # ------------------------------------------------------------ declarations
    def start(self, c):
        return [item for item in c if item is not None]

    def empty_item(self, _):
        return None

    def title_decl(self, c):
        return ast.Title(unquote(c[1]), self.span(c))

    def import_decl(self, c):
        return ast.Import(c[1], self.span(c))

    def dotted(self, c):
        return tuple(self.ident(t) for t in _values(c))

    def option_decl(self, c):
        v = _values(c)
        return ast.OptionDecl(self.ident(v[0]), v[1] if len(v) > 1 else None, self.span(c))

    def name_list(self, c):
        return tuple(self.ident(t) for t in _values(c))

    def lock_decl(self, c):
        v = _values(c)
        lockdep = v.pop() if len(v) > 2 and isinstance(v[-1], _LockdepName) else None
        options = v.pop(2) if len(v) > 2 and isinstance(v[2], tuple) else ()
        lock_class = v[2] if len(v) > 2 else None
        return ast.LockDecl(v[0], self.ident(v[1]), lock_class, self.span(c),
                            lockdep.text if lockdep is not None else None, options)

    def lock_lockdep(self, c):
        return _LockdepName(unquote(_values(c)[0]), self.span(c))

    def lock_class(self, c):
        return self.ident(c[1])

    def object_decl(self, c):
        v = _values(c)
        init, options = None, []
        for child in v[2:]:
            if isinstance(child, ast.ObjectOption):
                options.append(child)
            elif isinstance(child, tuple):
                options.extend(child)
            else:
                init = child
        return ast.ObjectDecl(v[0], self.ident(v[1]), init, tuple(options), self.span(c))

    def pointee(self, c):
        return self.ident(c[0])

    def object_params(self, c):
        return tuple(_values(c))

    def object_param(self, c):
        return ast.ObjectOption(c[0], self.ident(c[2]), self.span(c))

    def option_key(self, c):
        return self.ident(c[0])

    def object_opt(self, c):
        return ast.ObjectOption(self.ident(c[0]), self.ident(c[1]), self.span(c))

    def order_decl(self, c):
        return ast.OrderDecl(tuple(self.ident(t) for t in _values(c)), self.span(c))

    def fn_decl(self, c):
        v = _values(c)
        params = next((x for x in v[1:] if isinstance(x, tuple)), ())
        result = next((x for x in v[1:-1] if isinstance(x, ast.Ident)), None)
        return ast.FnDecl(self.ident(v[0]), params, result, v[-1], self.span(c))

    def pred_decl(self, c):
        """`fn f(..) -> bool = e;` is sugar for `fn f(..) -> bool { return e; }`."""
        v = _values(c)
        params = v[1] if isinstance(v[1], tuple) else ()
        expr = v[-1]
        body = ast.Block((ast.Return(expr, expr.span),), expr.span)
        return ast.FnDecl(self.ident(v[0]), params, self.ident(v[-2]), body, self.span(c))

    def path_decl(self, c):
        v = _values(c)
        params = v[1] if isinstance(v[1], tuple) else ()
        return ast.PathDecl(self.ident(v[0]), params, self.ident(v[-2]), v[-1], self.span(c))

    def result_type(self, c):
        return self.ident(c[0])

    def params(self, c):
        return tuple(_values(c))

    def param(self, c):
        types = next((x for x in c[1:] if isinstance(x, tuple)), ())
        default = next((x for x in c[1:] if isinstance(x, _LITERALS)), None)
        return ast.Param(self.ident(c[0]), types, self.span(c), default)

    def type_union(self, c):
        return tuple(x for x in c if isinstance(x, ast.Ident))

    def type_name(self, c):
        return self.ident(c[0])

    def scenario_decl(self, c):
        v = _values(c)
        return ast.ScenarioDecl(self.ident(v[0]), tuple(v[1:]), self.span(c))

    def thread(self, c):
        count = int(c[0]) if c[0].type == "INT" else 1
        name_at = 2 if c[0].type == "INT" else 0
        name = self.ident(c[name_at])
        args = next((x for x in c if isinstance(x, tuple)), ())
        close = next(i for i, x in enumerate(c) if isinstance(x, Token) and x.type == "RPAR")
        cpu = int(c[-1]) if c[-1].type == "INT" and len(c) > close + 1 else None
        call = ast.Call(name, args, self.span(c[name_at:close + 1]))
        return ast.ThreadDecl(count, call, cpu, self.span(c))

    def expect_decl(self, c):
        scenario = self.ident(c[1]) if isinstance(c[1], Token) and c[1].type == "NAME" else None
        verdicts = tuple(v for v in c if isinstance(v, ast.Verdict))
        return ast.ExpectDecl(scenario, verdicts, self.span(c))

    def verdict(self, c):
        return ast.Verdict("".join(str(t) for t in c), self.span(c))

    def verdict_word(self, c):
        return c[0]

    # -------------------------------------------------------------- statements
    def block(self, c):
        return ast.Block(tuple(s for s in c[1:-1] if s is not None), self.span(c))

    def call_stmt(self, c):
        return ast.CallStmt(c[0], self.span(c))

    def if_stmt(self, c):
        """`if a {} else if b {} else {}` arrives flat; fold it into nested `If`s."""
        arms = []        # (index of the `if` token, condition, block)
        orelse = None
        index = 0
        while index < len(c):
            if c[index] == "if":
                arms.append((index, c[index + 1], c[index + 2]))
                index += 3
            elif c[index] == "else" and isinstance(c[index + 1], ast.Block):
                orelse = c[index + 1]
                index += 2
            else:
                index += 1
        for start, cond, then in reversed(arms):
            orelse = ast.If(cond, then, orelse, self.span(c[start:]))
        return orelse

    def either_stmt(self, c):
        return ast.Either(tuple(x for x in c if isinstance(x, ast.Block)), self.span(c))

    def return_stmt(self, c):
        return ast.Return(c[1] if len(c) == 3 else None, self.span(c))

    def repeat_stmt(self, c):
        return ast.Repeat(int(c[1]), c[2], self.span(c))

    def assert_stmt(self, c):
        return ast.Assert(c[1], self.span(c))

    def let_stmt(self, c):
        return ast.Let(self.ident(c[1]), c[3], self.span(c))

    def empty_stmt(self, _):
        return None

    # ------------------------------------------------------------- expressions
    def call(self, c):
        args = c[2] if isinstance(c[2], tuple) else ()
        return ast.Call(self.ident(c[0]), args, self.span(c))

    def args(self, c):
        return tuple(_values(c))

    def arg(self, c):
        keyword = self.ident(c[0]) if len(c) > 1 and c[1] == "=" and isinstance(
            c[0], Token) and c[0].type == "NAME" else None
        return ast.Arg(keyword, c[-1], self.span(c))

    def or_chain(self, c):
        v = _values(c)
        return v[0] if len(v) == 1 else ast.BoolOp("||", tuple(v), self.span(c))

    def and_chain(self, c):
        v = _values(c)
        return v[0] if len(v) == 1 else ast.BoolOp("&&", tuple(v), self.span(c))

    def not_expr(self, c):
        return ast.Not(c[1], self.span(c))

    def compare(self, c):
        return ast.Compare(str(c[1]), c[0], c[2], self.span(c))

    def paren(self, c):
        return c[1]

    def name(self, c):
        return ast.Name(self.ident(c[0]), self.span(c))

    def int_lit(self, c):
        return ast.IntLit(int(c[0]), self.span(c))

    def true_lit(self, c):
        return ast.BoolLit(True, self.span(c))

    def false_lit(self, c):
        return ast.BoolLit(False, self.span(c))

    def null_lit(self, c):
        return ast.NullLit(self.span(c))

    def string_lit(self, c):
        return ast.StringLit(unquote(c[0]), self.span(c))
