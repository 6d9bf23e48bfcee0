"""Checking many spec files: in parallel processes, through the cache, in a fixed order.

Results come back in the order of the input files whatever order the worker
processes finish in, so every output is the same with `--jobs 1` and
`--jobs 8`.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from checker.cache import Cache, cache_key, decode_result
from checker.findings import FileResult
from checker.progress import Progress
from checker.runner import Options, check_compiled
from model.pipeline import compile_spec
from model.span import Diagnostic, Span


@dataclass(frozen=True)
class BatchSettings:
    options: Options
    version: str
    jobs: int = 1
    cache_dir: str | None = None      # None: no cache


def check_one(path: str, settings: BatchSettings) -> FileResult:
    """Check one file (in a worker process or inline)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        return _unreadable(path, err)
    cache_dir = Path(settings.cache_dir) if settings.cache_dir is not None else None
    compiled = compile_spec(path, data, cache_dir)
    if settings.cache_dir is None or compiled.program is None or compiled.diagnostics:
        return check_compiled(path, compiled, settings.options)
    cache = Cache(Path(settings.cache_dir))
    key = cache_key(path, compiled.sources, settings.options, settings.version)
    base = FileResult(path=path, title=compiled.program.title, sources=compiled.sources,
                      program=compiled.program)
    cached = cache.load(key)
    if cached is not None:
        try:
            return decode_result(cached, base)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an entry from an incompatible layout: solve again
    result = check_compiled(path, compiled, settings.options)
    if result.status in ("pass", "fail"):
        cache.store(key, result)
    return result


def _unreadable(path: str, err: OSError) -> FileResult:
    reason = err.strerror or str(err)
    return FileResult(path=path, status="error", diagnostics=[
        Diagnostic("unreadable", f"cannot read the spec: {reason}", Span(path, 1, 1, 1, 1))])


def check_files(files: list[str], settings: BatchSettings, stderr: TextIO) -> list[FileResult]:
    with Progress(stderr, len(files)) as progress:
        if settings.jobs <= 1 or len(files) <= 1:
            return [_inline(file, settings, progress) for file in files]
        return _parallel(files, settings, progress)


def _inline(file: str, settings: BatchSettings, progress: Progress) -> FileResult:
    progress.working_on(file)
    result = check_one(file, settings)
    progress.advance()
    return result


def _parallel(files: list[str], settings: BatchSettings, progress: Progress) -> list[FileResult]:
    workers = min(settings.jobs, len(files))
    results: list[FileResult | None] = [None] * len(files)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers,
                                                mp_context=_start_context()) as pool:
        futures = {pool.submit(check_one, file, settings): index
                   for index, file in enumerate(files)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            results[index] = future.result()   # a worker's exception surfaces here (exit 4)
            progress.working_on(files[index])
            progress.advance()
    return [result for result in results if result is not None]


def _start_context():
    """Workers start from a clean process, not a fork of this one: the progress
    thread may hold the stderr lock at the moment of a fork."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
