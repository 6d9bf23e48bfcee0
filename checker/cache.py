"""A content-hash cache of check results, so an unchanged spec is not solved again.

The key covers everything a result depends on: the spec's path and text, the
text of every module it imports (the prelude included), the check options,
the engine functions that run, and lockspec itself (its version and a digest
of its own source files, so a changed engine never serves an old answer).
Entries are JSON files written atomically; a corrupt or unreadable entry is a
miss, never an error.
Inconclusive results are not stored: they depend on wall-clock budgets.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import types
import typing
from functools import lru_cache
from pathlib import Path

from checker.findings import EngineRun, FileResult, Finding, Unmet

CACHE_FORMAT = 1
PACKAGE_DIRS = ("checker", "model")
CODE_SUFFIXES = (".py", ".lark", ".lspec")


def default_cache_dir(project_root: str | None) -> Path:
    """$XDG_CACHE_HOME/lockspec if set, else .lockspec-cache/ at the project root."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "lockspec"
    return Path(project_root or ".") / ".lockspec-cache"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of lockspec's own source: the cache must not outlive a code change."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for package in PACKAGE_DIRS:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in CODE_SUFFIXES and path.is_file():
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def engine_identity(options) -> str:
    """Which functions run as the engines: a replaced engine (a plugin, a test double)
    must not be served the answers of another."""
    from checker.runner import engine_table
    table = engine_table()
    return ",".join(f"{name}={getattr(table.get(name), '__module__', '?')}."
                    f"{getattr(table.get(name), '__qualname__', '?')}" for name in options.engines)


def cache_key(path: str, sources: dict, options, version: str) -> str:
    digest = hashlib.sha256()
    parts = [f"format={CACHE_FORMAT}", f"version={version}", f"code={code_digest()}",
             f"engines={engine_identity(options)}", f"path={path}",
             "options=" + json.dumps(dataclasses.asdict(options), sort_keys=True)]
    for name in sorted(sources):
        text = sources[name].text
        parts.append(f"source={name}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}")
    digest.update("\n".join(parts).encode("utf-8"))
    return digest.hexdigest()


class Cache:
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _file(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def load(self, key: str) -> dict | None:
        try:
            document = json.loads(self._file(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) and document.get("key") == key else None

    def store(self, key: str, result: FileResult) -> None:
        """Best effort: a read-only or full disk only costs the next run its speed."""
        target = self._file(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump({"key": key, **encode_result(result)}, stream, sort_keys=True)
            os.replace(temporary, target)
        except OSError:
            return


# -------------------------------------------------------------- (de)serialisation
# Findings are frozen dataclasses of spans, strings, tuples and steps. They are
# written field by field and rebuilt from their type annotations, so a field the
# engines add later round-trips without a change here.

def encode_result(result: FileResult) -> dict:
    return {
        "status": result.status,
        "findings": [_encode(f) for f in result.findings],
        "engines": [_encode(e) for e in result.engines],
        "unmet": [_encode(u) for u in result.unmet],
    }


def decode_result(document: dict, base: FileResult) -> FileResult:
    """Rebuild a cached result on top of a freshly compiled one (sources, program)."""
    return dataclasses.replace(
        base, status=document["status"],
        findings=[_decode(Finding, f) for f in document["findings"]],
        engines=[_decode(EngineRun, e) for e in document["engines"]],
        unmet=[_decode(Unmet, u) for u in document["unmet"]])


def _encode(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    return value


def _decode(kind, value):
    """`value` (from JSON) as an instance of the annotated type `kind`."""
    if value is None:
        return None
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _decode(hints[f.name], value[f.name])
                       for f in dataclasses.fields(kind) if f.name in value})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _decode(next(a for a in args if a is not type(None)), value)
    if origin in (tuple, list):
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_decode(args[0], v) for v in value]
        elif args:
            items = [_decode(a, v) for a, v in zip(args, value)]
        else:
            items = list(value)
        return tuple(items) if origin is tuple else items
    return value
