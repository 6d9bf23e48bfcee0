"""The `lockspec` command. `main` is the only function in lockspec that exits.

Exit codes: 0 every spec passed (findings all expected), 1 an unexpected
finding or an unmet expectation, 2 usage or spec error, 3 inconclusive
(solver unknown or budget spent, and nothing failed), 4 internal error.
When files disagree the most severe wins: 4, then 2, then 1, then 3.
"""
from __future__ import annotations

import argparse
import sys
import traceback
from importlib import metadata
from typing import TextIO

from checker.findings import FileResult
from checker.output_json import render_json
from checker.output_text import render_file, render_summary
from checker.runner import Options, check_file, collect_spec_files

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4
FORMATS = ("text", "json")


def version() -> str:
    try:
        return metadata.version("lockspec")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors by exception instead of exiting."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: error: {message}")

    def exit(self, status: int = 0, message: str | None = None):
        raise HelpShown(status, message or "")


class UsageError(Exception):
    pass


class HelpShown(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lockspec", description="Model checker for kernel lock ordering "
                     "and revoke protocols.")
    parser.add_argument("--version", action="version", version=f"lockspec {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    check = commands.add_parser("check", help="check spec files or directories")
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.add_argument("--format", choices=FORMATS, default="text")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    check.add_argument("--engines", default=None,
                       help="comma-separated engines to run (default: all available)")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    initcall = commands.add_parser("initcall", help="print a C function priming lockdep "
                                   "with the spec's declared order")
    initcall.add_argument("file", metavar="FILE")
    export = commands.add_parser("export", help="export the spec's scenarios to another tool")
    export.add_argument("--promela", action="store_true", required=True,
                        help="write the scenario as a Promela model for SPIN")
    export.add_argument("--scenario", help="which scenario (default: the first)")
    export.add_argument("file", metavar="FILE")
    return parser


def main(argv: list[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        return _main(list(sys.argv[1:] if argv is None else argv), stdout, stderr)
    except UsageError as err:
        print(str(err), file=stderr)
        return EXIT_USAGE
    except HelpShown as shown:
        if shown.message:
            print(shown.message, file=stdout if shown.status == 0 else stderr, end="")
        return EXIT_OK if shown.status == 0 else EXIT_USAGE
    except KeyboardInterrupt:
        print("lockspec: interrupted", file=stderr)
        return EXIT_INTERNAL
    except Exception as err:  # the one place an unexpected failure is turned into exit 4
        where = traceback.extract_tb(err.__traceback__)[-1]
        print(f"lockspec: internal error: {type(err).__name__}: {err} "
              f"(at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}); please report this "
              "bug with the spec that triggered it", file=stderr)
        return EXIT_INTERNAL


def _main(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(stdout)
        return EXIT_USAGE
    if args.command == "check":
        return _check(args, stdout, stderr)
    if args.command in ("initcall", "export"):
        return _single_file_command(args, stdout, stderr)
    raise UsageError(f"lockspec: error: unknown command {args.command}")


def _options(args) -> Options:
    from checker.runner import engine_table
    available = tuple(engine_table())
    if args.engines is None:
        return Options(engines=available)
    chosen = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = [e for e in chosen if e not in available]
    if unknown or not chosen:
        raise UsageError(f"lockspec: error: unknown engine {', '.join(unknown) or '(none)'}; "
                         f"available: {', '.join(available)}")
    return Options(engines=chosen)


def run_check(paths: list[str], options: Options, stderr: TextIO) -> list[FileResult] | None:
    files, problems = collect_spec_files(paths)
    for problem in problems:
        print(f"lockspec: error: {problem}", file=stderr)
    if problems:
        return None
    results = []
    for file in files:
        with open(file, "rb") as handle:
            data = handle.read()
        results.append(check_file(file, data, options))
    return results


def exit_code(results: list[FileResult]) -> int:
    statuses = {r.status for r in results}
    if "error" in statuses:
        return EXIT_USAGE
    if "fail" in statuses:
        return EXIT_FINDINGS
    if "inconclusive" in statuses:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def compile_one(path: str, stderr: TextIO):
    """Compile one spec for a single-file command; print its errors. None on failure."""
    from model.pipeline import compile_spec
    from model.span import render_diagnostic
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        print(f"lockspec: error: {path}: {err.strerror or err}", file=stderr)
        return None
    compiled = compile_spec(path, data)
    for diag in compiled.diagnostics:
        print(render_diagnostic(diag, compiled.sources), file=stderr)
    return compiled.program


def _single_file_command(args, stdout: TextIO, stderr: TextIO) -> int:
    program = compile_one(args.file, stderr)
    if program is None:
        return EXIT_USAGE
    if args.command == "initcall":
        from checker.initcall import render_initcall
        text, problems = render_initcall(program)
    else:
        from checker.promela import render_promela
        text, problems = render_promela(program, args.scenario)
    for problem in problems:
        print(f"lockspec: error: {problem}", file=stderr)
    if problems:
        return EXIT_USAGE
    stdout.write(text)
    return EXIT_OK


def _check(args, stdout: TextIO, stderr: TextIO) -> int:
    options = _options(args)
    results = run_check(args.paths, options, stderr)
    if results is None:
        return EXIT_USAGE
    if args.format == "json":
        text = render_json(results, version())
    else:
        color = args.color == "always" or (args.color == "auto" and not args.output
                                            and stdout.isatty())
        lines = []
        for result in results:
            lines += render_file(result, color)
        lines.append(render_summary(results))
        text = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        stdout.write(text)
    return exit_code(results)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
