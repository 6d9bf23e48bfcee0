"""`[tool.lockspec]` in pyproject.toml: project defaults the command line overrides.

The table is looked up in the nearest pyproject.toml from the working
directory upwards, the way pytest and ruff find theirs. Paths in it are
relative to that file's directory. Every problem (an unknown key, a wrong
type, a bad value) is collected and reported together as a usage error.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("text", "json", "sarif", "junit", "github")
FAIL_LEVELS = ("confirmed", "potential")


@dataclass(frozen=True)
class Config:
    """The settings of `[tool.lockspec]`; None means "not set here"."""

    source: str | None = None            # the pyproject.toml it came from
    root: str | None = None              # its directory
    paths: tuple[str, ...] = ()
    format: str | None = None
    output: str | None = None
    html: str | None = None
    engines: tuple[str, ...] | None = None
    bound: int | None = None
    timeout: float | None = None
    rlimit: int | None = None
    fail_on: tuple[str, ...] | None = None
    baseline: str | None = None
    jobs: int | None = None
    cache: bool | None = None
    cache_dir: str | None = None


@dataclass(frozen=True)
class _Key:
    kind: type | tuple[type, ...]
    describe: str
    choices: tuple[str, ...] = field(default=())
    is_path: bool = False
    positive: bool = False


KEYS: dict[str, _Key] = {
    "paths": _Key(list, "a list of spec files or directories", is_path=True),
    "format": _Key(str, "one of " + ", ".join(FORMATS), FORMATS),
    "output": _Key(str, "a file name", is_path=True),
    "html": _Key(str, "a directory", is_path=True),
    "engines": _Key(list, "a list of engine names"),
    "bound": _Key(int, "a positive integer", positive=True),
    "timeout": _Key((int, float), "a number of seconds", positive=True),
    "rlimit": _Key(int, "a positive integer", positive=True),
    "fail-on": _Key(list, "a list drawn from " + ", ".join(FAIL_LEVELS), FAIL_LEVELS),
    "baseline": _Key(str, "a file name", is_path=True),
    "jobs": _Key(int, "a positive integer", positive=True),
    "cache": _Key(bool, "true or false"),
    "cache-dir": _Key(str, "a directory", is_path=True),
}


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start`."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None) -> tuple[Config, list[str]]:
    """Read `[tool.lockspec]`; returns the config and the problems found in it."""
    start = Path.cwd() if start is None else start
    pyproject = find_pyproject(start)
    if pyproject is None:
        return Config(), []
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return Config(), [f"{_shown(pyproject)}: cannot read it: {err}"]
    table = document.get("tool", {}).get("lockspec")
    if table is None:
        return Config(source=str(pyproject), root=str(pyproject.parent)), []
    if not isinstance(table, dict):
        return Config(), [f"{_shown(pyproject)}: [tool.lockspec] must be a table"]
    return _parse_table(table, pyproject)


def _parse_table(table: dict, pyproject: Path) -> tuple[Config, list[str]]:
    where = f"{_shown(pyproject)}: [tool.lockspec]"
    problems: list[str] = []
    values: dict[str, object] = {}
    for key in sorted(table):
        spec = KEYS.get(key)
        if spec is None:
            problems.append(f"{where}: unknown key `{key}`; known keys: {', '.join(KEYS)}")
            continue
        value, problem = _check_value(key, table[key], spec, pyproject.parent)
        if problem:
            problems.append(f"{where}: `{key}` must be {spec.describe}{problem}")
        else:
            values[key.replace("-", "_")] = value
    if problems:
        return Config(), problems
    return Config(source=str(pyproject), root=str(pyproject.parent), **values), []


def _check_value(key: str, value, spec: _Key, root: Path) -> tuple[object, str]:
    # bool is an int in Python; a `bound = true` is a mistake, not 1.
    if isinstance(value, bool) and spec.kind is not bool:
        return None, f", not {value!r}"
    if not isinstance(value, spec.kind):
        return None, f", not {type(value).__name__} {value!r}"
    if spec.positive and value <= 0:
        return None, f", not {value!r}"
    if isinstance(value, list):
        if not all(isinstance(item, str) and item for item in value):
            return None, " (of non-empty strings)"
        bad = [item for item in value if spec.choices and item not in spec.choices]
        if bad:
            return None, f"; unknown: {', '.join(bad)}"
        if spec.is_path:
            return tuple(_relative(root / item) for item in value), ""
        return tuple(value), ""
    if spec.choices and value not in spec.choices:
        return None, f", not {value!r}"
    if spec.is_path:
        return _relative(root / value), ""
    if key == "timeout":
        return float(value), ""
    return value, ""


def _relative(path: Path) -> str:
    """A config path as the user would type it from the working directory."""
    try:
        return os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive on Windows
        return str(path)


def _shown(path: Path) -> str:
    return _relative(path)
