"""Reading spec files and their imports. Problems become diagnostics.

`import kernel` is the prelude (model/prelude/kernel.lspec) and `import
kernel.x` one of its baselines (model/prelude/kernel/x.lspec); any other name
is a file relative to the importing one (`import dir.file` is dir/file.lspec).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from model import ast
from model.parsed_cache import PreludeMemo
from model.parser import parse
from model.span import SYNTAX_ERROR, UNKNOWN_NAME, Diagnostic, SourceFile, Span

PRELUDE_DIR = Path(__file__).parent / "prelude"
# Prelude modules are named by this stable prefix, not by where lockspec is
# installed: spans, and so everything derived from them, must not depend on
# the checkout's location.
PRELUDE_NAME = "<lockspec>/model/prelude"


def real_path(file: str) -> Path:
    """Where a module's bytes are: prelude names map into the installed package."""
    if file.startswith(PRELUDE_NAME + "/"):
        return PRELUDE_DIR / file[len(PRELUDE_NAME) + 1:]
    return Path(file)
PRELUDE = "kernel"
# The prelude's parsed modules, shared by every spec this process loads (see
# model.parsed_cache for why this one piece of state lives for the process).
PRELUDE_MEMO = PreludeMemo()
MAX_FILE_BYTES = 4 * 1024 * 1024   # a hand-written spec is far smaller; see docs/language.md


@dataclass(frozen=True)
class Loaded:
    """The main module first, then every module it imports (each once)."""

    modules: tuple[ast.Module, ...]
    sources: dict[str, SourceFile]
    diagnostics: tuple[Diagnostic, ...]


def read_source(path: str, data: bytes) -> tuple[SourceFile, list[Diagnostic]]:
    if len(data) > MAX_FILE_BYTES:
        return SourceFile(path, ""), [Diagnostic(
            SYNTAX_ERROR, f"spec is {len(data) / (1024 * 1024):.1f} MiB; lockspec reads specs "
            f"up to {MAX_FILE_BYTES // (1024 * 1024)} MiB", Span(path, 1, 1, 1, 2))]
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


def load(path: str, data: bytes, cache_dir: Path | None = None) -> Loaded:
    """Parse `path` (whose bytes are `data`) and, transitively, what it imports.
    Prelude modules are parsed once per process, and kept under `cache_dir`
    (the result cache's directory) across processes when it is given."""
    sources: dict[str, SourceFile] = {}
    diags: list[Diagnostic] = []
    modules: list[ast.Module] = []
    seen: set[Path] = set()
    queue: list[tuple[str, bytes | None, ast.Import | None]] = [(path, data, None)]
    while queue:
        file, content, importer = queue.pop(0)
        key = real_path(file).resolve()
        if key in seen:
            continue
        seen.add(key)
        if content is None:
            try:
                content = real_path(file).read_bytes()
            except OSError as err:
                diags.append(Diagnostic(UNKNOWN_NAME, f"cannot read `{file}` to import it: "
                                        f"{err.strerror or err}", importer.span))
                continue
        source, problems = read_source(file, content)
        sources[file] = source
        diags += problems
        if problems:
            continue
        if file.startswith(PRELUDE_NAME + "/"):
            module, problems = PRELUDE_MEMO.parse(file, source.text, parse, cache_dir)
        else:
            module, problems = parse(file, source.text)
        diags += problems
        if module is None:
            continue
        if importer is None and not module.decls:
            diags.append(Diagnostic(SYNTAX_ERROR, "this spec is empty: there is nothing to check",
                                    Span(file, 1, 1, 1, 2),
                                    ("a spec declares locks and the paths that take them; "
                                     "see docs/language.md",)))
        modules.append(module)
        for decl in module.decls:
            if isinstance(decl, ast.Import):
                target = resolve_import(file, decl)
                if target is None:
                    diags.append(Diagnostic(
                        UNKNOWN_NAME, f"no module `{decl.dotted}` to import", decl.span,
                        (_import_hint(decl),)))
                else:
                    queue.append((target, None, decl))
    return Loaded(tuple(modules), sources, tuple(diags))


def resolve_import(importer: str, decl: ast.Import) -> str | None:
    parts = [p.text for p in decl.module]
    if parts[0] == PRELUDE:
        candidates = [PRELUDE_DIR.joinpath(*parts).with_suffix(".lspec")]
    else:
        candidates = [Path(importer).parent.joinpath(*parts).with_suffix(".lspec")]
    for candidate in candidates:
        if candidate.is_file():
            if parts[0] == PRELUDE:
                return f"{PRELUDE_NAME}/{candidate.relative_to(PRELUDE_DIR).as_posix()}"
            return str(candidate)
    return None


def _import_hint(decl: ast.Import) -> str:
    if decl.module[0].text == PRELUDE:
        return "kernel modules: " + ", ".join(prelude_modules())
    return (f"`import {decl.dotted}` reads {'/'.join(p.text for p in decl.module)}.lspec "
            "next to this file; the kernel prelude is `import kernel`")


def prelude_modules() -> list[str]:
    return sorted(".".join(file.relative_to(PRELUDE_DIR).with_suffix("").parts)
                  for file in PRELUDE_DIR.rglob("*.lspec"))


@lru_cache(maxsize=1)
def prelude_declarations() -> dict[str, tuple[str, str]]:
    """What each prelude module declares: name -> (module to import, its file)."""
    out: dict[str, tuple[str, str]] = {}
    for name in prelude_modules():
        file = PRELUDE_DIR.joinpath(*name.split(".")).with_suffix(".lspec")
        module, _ = PRELUDE_MEMO.parse(str(file), file.read_text(encoding="utf-8"), parse, None)
        for decl in module.decls if module is not None else ():
            for ident in _declared_names(decl):
                out.setdefault(ident, (name, str(file)))
    return out


def _declared_names(decl: ast.Decl) -> list[str]:
    if isinstance(decl, (ast.LockDecl, ast.ObjectDecl)):
        return [ident.text for ident in decl.names]
    if isinstance(decl, (ast.FnDecl, ast.PathDecl)):
        return [decl.name.text]
    return []


def not_imported(loaded: Loaded) -> dict[str, str]:
    """Prelude names the spec could use by importing their module: name -> module."""
    files = {module.path for module in loaded.modules}
    return {name: module for name, (module, file) in sorted(prelude_declarations().items())
            if file not in files}
