"""Reading spec files and their imports. Problems become diagnostics."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model import ast
from model.parser import parse
from model.span import SYNTAX_ERROR, UNKNOWN_NAME, Diagnostic, SourceFile, Span

PRELUDE_DIR = Path(__file__).parent / "prelude"
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Loaded:
    """The main module first, then every module it imports (each once)."""

    modules: tuple[ast.Module, ...]
    sources: dict[str, SourceFile]
    diagnostics: tuple[Diagnostic, ...]


def read_source(path: str, data: bytes) -> tuple[SourceFile, list[Diagnostic]]:
    if len(data) > MAX_FILE_BYTES:
        span = Span(path, 1, 1, 1, 2)
        return SourceFile(path, ""), [Diagnostic(
            SYNTAX_ERROR, f"spec is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", span)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        good = data[:err.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        text = data.decode("utf-8", errors="replace")
        return SourceFile(path, text), [Diagnostic(
            SYNTAX_ERROR, f"invalid UTF-8 byte 0x{data[err.start]:02x}; a spec must be UTF-8 text",
            Span(path, line, col, line, col + 1))]
    if text.startswith("\ufeff"):
        text = text[1:]
    return SourceFile(path, text), []


def load(path: str, data: bytes) -> Loaded:
    """Parse `path` (whose bytes are `data`) and, transitively, what it imports."""
    sources: dict[str, SourceFile] = {}
    diags: list[Diagnostic] = []
    modules: list[ast.Module] = []
    seen: set[str] = set()
    queue: list[tuple[str, bytes | None]] = [(path, data)]
    while queue:
        file, content = queue.pop(0)
        if file in seen:
            continue
        seen.add(file)
        if content is None:
            content = Path(file).read_bytes()
        source, problems = read_source(file, content)
        sources[file] = source
        diags += problems
        if problems:
            continue
        module, problems = parse(file, source.text)
        diags += problems
        if module is None:
            continue
        modules.append(module)
        for decl in module.decls:
            if isinstance(decl, ast.Import):
                target = resolve_import(file, decl)
                if target is None:
                    diags.append(Diagnostic(
                        UNKNOWN_NAME, f"no module `{decl.dotted}` to import", decl.span,
                        ("modules are `kernel`, `kernel.dma_resv_order`, `kernel.mm_order`, "
                         "or a .lspec file relative to this one (`import dir.file`)",)))
                else:
                    queue.append((target, None))
    return Loaded(tuple(modules), sources, tuple(diags))


def resolve_import(importer: str, decl: ast.Import) -> str | None:
    parts = [p.text for p in decl.module]
    candidates = [Path(importer).parent.joinpath(*parts).with_suffix(".lspec"),
                  PRELUDE_DIR.joinpath(*parts).with_suffix(".lspec")]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    return None
