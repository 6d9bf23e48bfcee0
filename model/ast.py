"""The typed syntax tree of a spec: frozen dataclasses, each with its span."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from model.span import Span


@dataclass(frozen=True)
class Ident:
    text: str
    span: Span


# ---------------------------------------------------------------- expressions

@dataclass(frozen=True)
class IntLit:
    value: int
    span: Span


@dataclass(frozen=True)
class BoolLit:
    value: bool
    span: Span


@dataclass(frozen=True)
class NullLit:
    span: Span


@dataclass(frozen=True)
class StringLit:
    value: str
    span: Span


@dataclass(frozen=True)
class Name:
    ident: Ident
    span: Span


@dataclass(frozen=True)
class Arg:
    keyword: Ident | None
    value: "Expr"
    span: Span


@dataclass(frozen=True)
class Call:
    name: Ident
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True)
class Not:
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class BoolOp:
    op: str  # "&&" or "||"
    operands: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


Literal = Union[IntLit, BoolLit, NullLit, StringLit]
Expr = Union[Literal, Name, Call, Not, BoolOp, Compare]


# ----------------------------------------------------------------- statements

@dataclass(frozen=True)
class CallStmt:
    call: Call
    span: Span


@dataclass(frozen=True)
class Block:
    stmts: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True)
class If:
    cond: Expr
    then: Block
    orelse: "Block | If | None"
    span: Span


@dataclass(frozen=True)
class Either:
    branches: tuple[Block, ...]
    span: Span


@dataclass(frozen=True)
class Return:
    value: "Expr | None"
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: int
    body: Block
    span: Span


@dataclass(frozen=True)
class Assert:
    cond: Expr
    span: Span


@dataclass(frozen=True)
class Let:
    """`let x = e;`: a thread-local name for the rest of its block. A condition is
    read once, here; a value (a lock, an object, a number) is bound as it is."""

    name: Ident
    value: Expr
    span: Span


Stmt = Union[CallStmt, Block, If, Either, Return, Repeat, Assert, Let]


# --------------------------------------------------------------- declarations

@dataclass(frozen=True)
class Title:
    text: str
    span: Span


@dataclass(frozen=True)
class Import:
    module: tuple[Ident, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(part.text for part in self.module)


@dataclass(frozen=True)
class OptionDecl:
    name: Ident
    value: Literal | None
    span: Span


@dataclass(frozen=True)
class LockDecl:
    names: tuple[Ident, ...]
    kind: Ident
    lock_class: Ident | None
    span: Span
    lockdep: str | None = None     # the kernel's lockdep class name, `lockdep "..."`
    options: tuple[ObjectOption, ...] = ()    # `rwlock(read = recursive)`


@dataclass(frozen=True)
class ObjectOption:
    key: Ident
    value: Ident
    span: Span


@dataclass(frozen=True)
class ObjectDecl:
    names: tuple[Ident, ...]
    kind: Ident
    init: Literal | Ident | None       # an Ident: the object a pointer starts at
    options: tuple[ObjectOption, ...]
    span: Span


@dataclass(frozen=True)
class OrderDecl:
    chain: tuple[Ident, ...]
    span: Span


@dataclass(frozen=True)
class Param:
    name: Ident
    types: tuple[Ident, ...]  # empty: untyped, checked where it is used
    span: Span
    default: "Literal | None" = None   # `= NULL`: the argument may be left out


@dataclass(frozen=True)
class FnDecl:
    """A function; with `result` (`-> bool`) it is a condition usable in `if`."""

    name: Ident
    params: tuple[Param, ...]
    result: Ident | None
    body: Block
    span: Span


@dataclass(frozen=True)
class PathDecl:
    name: Ident
    params: tuple[Param, ...]
    context: Ident
    body: Block
    span: Span


@dataclass(frozen=True)
class ThreadDecl:
    count: int
    call: Call
    cpu: int | None
    span: Span


@dataclass(frozen=True)
class ScenarioDecl:
    name: Ident
    threads: tuple[ThreadDecl, ...]
    span: Span


@dataclass(frozen=True)
class Verdict:
    text: str
    span: Span


@dataclass(frozen=True)
class ExpectDecl:
    scenario: Ident | None
    verdicts: tuple[Verdict, ...]
    span: Span


Decl = Union[Title, Import, OptionDecl, LockDecl, ObjectDecl, OrderDecl, FnDecl,
             PathDecl, ScenarioDecl, ExpectDecl]


@dataclass(frozen=True)
class Module:
    path: str
    decls: tuple[Decl, ...]
