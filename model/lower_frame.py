"""What lowering carries through a thread: values, the frame of an inlined call,
and the error that abandons a statement."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from model.span import Span


@dataclass(frozen=True)
class Value:
    type: str          # a lock or object kind, or gfp, fn, int, bool, mode, context, null, string
    value: object


@dataclass(frozen=True)
class Frame:
    env: dict[str, Value]
    stack: tuple[Span, ...]
    ret: int | None = None                     # where `return;` goes
    ret_targets: tuple[int, int] | None = None  # (true, false) for `return e;`
    running: frozenset[tuple[str, str]] = frozenset()  # (callback or release fn, object)
    # `return x;` of a `-> object` function: the caller's code for each value x.
    ret_value: Callable[[Value], int] | None = None

    # dataclasses.replace() introspects the fields on every call; a frame is made
    # per inlined call, so these say the same directly.
    def returning_to(self, ret: int) -> "Frame":
        return Frame(self.env, self.stack, ret, self.ret_targets, self.running, self.ret_value)

    def returning_bool(self, targets: tuple[int, int]) -> "Frame":
        return Frame(self.env, self.stack, self.ret, targets, self.running, self.ret_value)

    def returning_value(self, then: Callable[[Value], int]) -> "Frame":
        return Frame(self.env, self.stack, self.ret, self.ret_targets, self.running, then)

    def binding(self, name: str, value: "Value") -> "Frame":
        return Frame({**self.env, name: value}, self.stack, self.ret, self.ret_targets,
                     self.running, self.ret_value)


class LoweringError(Exception):
    """Abandons a statement (or, when `fatal`, the whole thread); the diagnostic is
    already recorded. After a statement fails, lowering goes on with the next one,
    so that every error of a thread is found, in source order."""

    def __init__(self, fatal: bool = False):
        super().__init__()
        self.fatal = fatal
