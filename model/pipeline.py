"""The model pipeline in one call: bytes -> loaded modules -> resolved -> Program."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model import ir
from model.gcpause import gc_paused
from model.loader import load, not_imported
from model.program import build_program
from model.resolve import resolve
from model.span import Diagnostic, SourceFile


@dataclass(frozen=True)
class Compiled:
    program: ir.Program | None
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, SourceFile]


def compile_spec(path: str, data: bytes, cache_dir: Path | None = None) -> Compiled:
    """`cache_dir`: where parsed prelude modules are kept between processes."""
    with gc_paused():
        return _compile(path, data, cache_dir)


def _compile(path: str, data: bytes, cache_dir: Path | None) -> Compiled:
    loaded = load(path, data, cache_dir)
    if loaded.diagnostics or not loaded.modules:
        return Compiled(None, loaded.diagnostics, loaded.sources)
    resolved, diags = resolve(loaded.modules, not_imported(loaded))
    if diags:
        return Compiled(None, tuple(diags), loaded.sources)
    program, diags = build_program(resolved, loaded.sources)
    return Compiled(program, tuple(diags), loaded.sources)
