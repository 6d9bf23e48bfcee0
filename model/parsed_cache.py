"""Prelude modules parsed once per process, and kept on disk by content hash.

Every spec imports the kernel prelude, and one process compiles many specs
(`lockspec check specs/`, the lockdep selftest table), so the prelude's
modules are parsed once per process: `PreludeMemo` keeps each parsed module
by its name and the hash of its text. An AST is immutable, so every spec can
share it. The memo is an explicit object owned by the loader rather than a
hidden cache, so a caller (a test) can start from an empty one.

On disk, a parsed module is a JSON file named by a hash of the module's name,
its text and the code that produces an AST (grammar, parser, syntax tree), so
an edited prelude or a changed parser never serves an old tree. The files live
in the result cache's directory (checker.cache). A file that is unreadable,
corrupt, or not what its name promises is a miss, never an error; writing is
best effort and atomic.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import typing
from functools import lru_cache
from pathlib import Path

from model import ast
from model.span import Diagnostic, Span

CACHE_FORMAT = 1
SUBDIR = "parsed"
# The code an AST depends on: a change to any of these makes every entry stale.
AST_CODE = ("grammar.lark", "parser.py", "syntax.py", "syntax_errors.py", "ast.py", "span.py")
NODE_TYPES = {cls.__name__: cls for cls in vars(ast).values()
              if isinstance(cls, type) and dataclasses.is_dataclass(cls)}
NODE_TYPES["Span"] = Span

Parsed = typing.Tuple[typing.Optional[ast.Module], typing.List[Diagnostic]]


@lru_cache(maxsize=1)
def ast_code_digest() -> str:
    digest = hashlib.sha256()
    for name in AST_CODE:
        digest.update(name.encode())
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def entry_key(name: str, text: str) -> str:
    parts = f"format={CACHE_FORMAT}\ncode={ast_code_digest()}\nname={name}\n"
    return hashlib.sha256(parts.encode("utf-8") + text.encode("utf-8")).hexdigest()


class PreludeMemo:
    """Parsed prelude modules: in this process, then on disk (when given a directory)."""

    def __init__(self) -> None:
        self._parsed: dict[str, ast.Module] = {}
        self._on_disk: set[tuple[Path, str]] = set()   # (directory, key) known stored

    def parse(self, name: str, text: str, parse, directory: Path | None) -> Parsed:
        """`parse(name, text)`, unless this module was parsed before. Only modules
        without errors are kept: a broken prelude is reported afresh each time."""
        key = entry_key(name, text)
        module = self._parsed.get(key)
        if module is None and directory is not None:
            module = read_entry(directory, key, name)
            if module is not None:
                self._on_disk.add((Path(directory), key))
        if module is None:
            module, problems = parse(name, text)
            if module is None or problems:
                return module, problems
        self._parsed[key] = module
        if directory is not None and (Path(directory), key) not in self._on_disk:
            self._on_disk.add((Path(directory), key))
            write_entry(directory, key, module)
        return module, []


def entry_file(directory: Path, key: str) -> Path:
    return Path(directory) / SUBDIR / f"{key}.json"


def read_entry(directory: Path, key: str, name: str) -> ast.Module | None:
    try:
        document = json.loads(entry_file(directory, key).read_text(encoding="utf-8"))
        if not isinstance(document, dict) or document.get("key") != key:
            return None
        module = decode(document["module"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError):
        return None
    return module if isinstance(module, ast.Module) and module.path == name else None


def write_entry(directory: Path, key: str, module: ast.Module) -> None:
    """Best effort: a read-only or full disk only costs the next process a parse."""
    target = entry_file(directory, key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"key": key, "module": encode(module)}, stream, separators=(",", ":"))
        os.replace(temporary, target)
    except (OSError, RecursionError):
        return


# ------------------------------------------------------------ the JSON form
# A node is a list: its type's name, then its fields in declaration order; a
# tuple is {"t": [...]}. Only the AST's own node types are ever rebuilt.

def encode(value):
    if dataclasses.is_dataclass(value):
        return [type(value).__name__] + [encode(getattr(value, f.name))
                                         for f in dataclasses.fields(value)]
    if isinstance(value, tuple):
        return {"t": [encode(v) for v in value]}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the parse cache")


def decode(value):
    if isinstance(value, list):
        kind = NODE_TYPES[value[0]]
        return kind(*(decode(v) for v in value[1:]))
    if isinstance(value, dict):
        return tuple(decode(v) for v in value["t"])
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError("not a parse cache value")
