"""The `lockspec` command. `main` is the only function in lockspec that exits.

Exit codes (DESIGN.md): 0 every spec passed (findings all expected or
baselined), 1 an unexpected finding or an unmet expectation, 2 usage or spec
error, 3 inconclusive (solver unknown or budget spent, and nothing failed),
4 internal error. When files disagree the most severe wins: 4, then 2, then
1, then 3, then 0.

Settings come from the command line, then `[tool.lockspec]` in the nearest
pyproject.toml, then the defaults: a flag given on the command line always
wins.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from dataclasses import dataclass
from importlib import metadata
from typing import TextIO

from checker.baseline import Baseline, load_baseline
from checker.batch import BatchSettings, check_files
from checker.cache import default_cache_dir
from checker.config import FAIL_LEVELS, FORMATS, Config, load_config
from checker.outcome import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, Run, decide
from checker.runner import Options, collect_spec_files

DEFAULT_FAIL_ON = ("confirmed", "potential")


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

    def _print_message(self, message: str, file=None) -> None:
        # --help and --version print, then exit: hand the text to main's stdout instead.
        raise HelpShown(0, message)


class UsageError(Exception):
    pass


class HelpShown(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _checking_options() -> argparse.ArgumentParser:
    """Flags shared by `check` and `report`; None means "take the config's value"."""
    shared = _Parser(add_help=False)
    shared.add_argument("--engines", default=None,
                        help="comma-separated engines to run (default: all available)")
    shared.add_argument("--bound", type=_positive_int, default=None,
                        help="depth bound of the interleaving search")
    shared.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                        help="time budget per spec (default 60)")
    shared.add_argument("--rlimit", type=_positive_int, default=None,
                        help="z3 resource limit per query (deterministic budget)")
    shared.add_argument("--fail-on", default=None, metavar="LEVELS",
                        help="verdict levels that fail: confirmed,potential (default: both)")
    shared.add_argument("--baseline", default=None, metavar="FILE",
                        help="accept the known findings listed in FILE (TOML or JSON)")
    shared.add_argument("--jobs", "-j", type=_positive_int, default=None,
                        help="check N spec files in parallel (default 1)")
    shared.add_argument("--no-cache", action="store_true",
                        help="solve every spec again instead of reusing cached results")
    shared.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="where cached results live (default: $XDG_CACHE_HOME/lockspec, "
                             "else .lockspec-cache/ at the project root)")
    return shared


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lockspec", description="Model checker for kernel lock ordering "
                     "and revoke protocols.")
    parser.add_argument("--version", action="version", version=f"lockspec {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    shared = _checking_options()
    check = commands.add_parser("check", parents=[shared],
                                help="check spec files or directories (the CI gate)")
    check.add_argument("paths", nargs="*", metavar="PATH",
                       help="spec files or directories (default: `paths` in [tool.lockspec])")
    check.add_argument("--format", choices=FORMATS, default=None)
    check.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    check.add_argument("--html", metavar="DIR", help="also write the HTML report into DIR")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    check.add_argument("--verbose", "-v", action="store_true",
                       help="print expected and baselined findings in full too")
    report = commands.add_parser("report", parents=[shared],
                                 help="write the HTML report of spec files or directories")
    report.add_argument("paths", nargs="*", metavar="PATH")
    report.add_argument("--output", "-o", metavar="DIR", dest="html",
                        help="the directory to write the report into")
    graph = commands.add_parser("graph", help="print a spec's lock graph")
    graph.add_argument("file", metavar="FILE")
    shape = graph.add_mutually_exclusive_group()
    shape.add_argument("--dot", action="store_true", help="as Graphviz DOT")
    shape.add_argument("--svg", action="store_true", help="as SVG, laid out by lockspec")
    initcall = commands.add_parser("initcall", help="print a C function priming lockdep "
                                   "with the spec's declared order")
    initcall.add_argument("file", metavar="FILE")
    export = commands.add_parser("export", help="export the spec's scenarios to another tool")
    export.add_argument("--promela", action="store_true", required=True,
                        help="write the scenario as a Promela model for SPIN")
    export.add_argument("--scenario", help="which scenario (default: the first)")
    export.add_argument("file", metavar="FILE")
    splat = commands.add_parser("import-splat", help="write a spec that reproduces the lockdep "
                                "reports of a kernel log")
    splat.add_argument("file", metavar="FILE", help="a dmesg excerpt or a whole log ('-': stdin)")
    splat.add_argument("--output", "-o", metavar="FILE", help="write the spec to FILE")
    conform = commands.add_parser("conform", help="hold a running kernel's /proc/lockdep "
                                  "against a spec's design")
    conform.add_argument("spec", metavar="SPEC")
    conform.add_argument("--lockdep", required=True, metavar="FILE",
                         help="a saved /proc/lockdep")
    conform.add_argument("--chains", metavar="FILE", help="a saved /proc/lockdep_chains")
    conform.add_argument("--format", choices=FORMATS, default="text")
    conform.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    conform.add_argument("--html", metavar="DIR", help="also write the HTML report into DIR")
    conform.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    conform.add_argument("--verbose", "-v", action="store_true",
                         help="print the coverage notes in full too")
    conform.add_argument("--timings", action="store_true",
                         help="print the time each stage took on stderr")
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
        stdout.write(parser.format_help())
        return EXIT_USAGE
    if args.command in ("check", "report"):
        return _check(args, stdout, stderr)
    if args.command == "graph":
        from checker.commands.graph import run_graph_command
        return run_graph_command(args.file, "dot" if args.dot else "svg" if args.svg else "text",
                                 stdout, stderr)
    if args.command in ("initcall", "export"):
        return _single_file_command(args, stdout, stderr)
    if args.command == "conform":
        return _conform(args, stdout, stderr)
    if args.command == "import-splat":
        from checker.commands.import_splat import run_import_splat
        return run_import_splat(args.file, args.output, stdout, stderr)
    raise UsageError(f"lockspec: error: unknown command {args.command}")


# ------------------------------------------------------------------ settings

@dataclass(frozen=True)
class Settings:
    """A check run's settings after command line, config and defaults are merged."""

    paths: tuple[str, ...]
    format: str
    output: str | None
    html: str | None
    options: Options
    jobs: int
    cache_dir: str | None
    baseline: str | None


def _pick(flag, configured, default):
    return flag if flag is not None else configured if configured is not None else default


def _engines(args, config: Config) -> tuple[str, ...]:
    from checker.runner import engine_table
    available = tuple(engine_table())
    if args.engines is not None:
        chosen = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    else:
        chosen = config.engines if config.engines is not None else available
    unknown = [e for e in chosen if e not in available]
    if unknown or not chosen:
        raise UsageError(f"lockspec: error: unknown engine {', '.join(unknown) or '(none)'}; "
                         f"available: {', '.join(available)}")
    return tuple(chosen)


def _fail_on(args, config: Config) -> tuple[str, ...]:
    if args.fail_on is None:
        return config.fail_on if config.fail_on is not None else DEFAULT_FAIL_ON
    levels = tuple(level.strip() for level in args.fail_on.split(",") if level.strip())
    unknown = [level for level in levels if level not in FAIL_LEVELS]
    if unknown:
        raise UsageError(f"lockspec: error: --fail-on: unknown level {', '.join(unknown)}; "
                         f"levels are {', '.join(FAIL_LEVELS)}")
    return levels


def resolve_settings(args, config: Config) -> Settings:
    paths = tuple(args.paths) or config.paths
    if not paths:
        raise UsageError(f"lockspec {args.command}: error: no spec files given; name them "
                         "on the command line or set `paths` in [tool.lockspec] of "
                         "pyproject.toml")
    options = Options(engines=_engines(args, config), fail_on=_fail_on(args, config),
                      bound=_pick(args.bound, config.bound, None),
                      timeout=_pick(args.timeout, config.timeout, Options.timeout),
                      rlimit=_pick(args.rlimit, config.rlimit, None))
    use_cache = not args.no_cache and config.cache is not False
    cache_dir = None
    if use_cache:
        cache_dir = str(_pick(args.cache_dir, config.cache_dir, None)
                        or default_cache_dir(config.root))
    is_check = args.command == "check"
    html = args.html if args.html is not None else config.html
    if args.command == "report" and html is None:
        raise UsageError("lockspec report: error: give the report directory with -o DIR "
                         "(or `html` in [tool.lockspec])")
    return Settings(paths=paths,
                    format=_pick(args.format, config.format, "text") if is_check else "text",
                    output=_pick(args.output, config.output, None) if is_check else None,
                    html=html, options=options,
                    jobs=_pick(args.jobs, config.jobs, 1), cache_dir=cache_dir,
                    baseline=_pick(args.baseline, config.baseline, None))


def _load_config_or_fail() -> Config:
    config, problems = load_config()
    if problems:
        raise UsageError("\n".join(f"lockspec: error: {p}" for p in problems))
    return config


def _load_baseline_or_fail(path: str | None) -> Baseline | None:
    if path is None:
        return None
    baseline, problems = load_baseline(path)
    if problems:
        raise UsageError("\n".join(f"lockspec: error: {p}" for p in problems))
    return baseline


# ------------------------------------------------------------------ check and report

def _check(args, stdout: TextIO, stderr: TextIO) -> int:
    settings = resolve_settings(args, _load_config_or_fail())
    baseline = _load_baseline_or_fail(settings.baseline)
    files, problems = collect_spec_files(list(settings.paths))
    if problems:
        raise UsageError("\n".join(f"lockspec: error: {p}" for p in problems))
    batch = BatchSettings(settings.options, version(), settings.jobs, settings.cache_dir)
    results = check_files(files, batch, stderr)
    run = decide(results, version(), settings.options.fail_on, baseline)
    if args.command == "check":
        _write_check_output(run, settings, args, stdout)
    if settings.html is not None:
        _write_html(run, settings.html, stdout if args.command == "report" else stderr)
    if args.command == "report":
        from checker.report.text import render_summary
        stdout.write(render_summary(run) + "\n")
    for entry in run.unused_baseline:
        print(f"lockspec: warning: {entry.source}: entry {entry.index} ({entry.code} in "
              f"{entry.file}) matches no finding any more; remove it from the baseline",
              file=stderr)
    return run.exit_code()


def render(run: Run, fmt: str, colour: bool = False, verbose: bool = False) -> str:
    if fmt == "json":
        from checker.report.json_report import render_json
        return render_json(run)
    if fmt == "sarif":
        from checker.report.sarif import render_sarif
        return render_sarif(run)
    if fmt == "junit":
        from checker.report.junit import render_junit
        return render_junit(run)
    if fmt == "github":
        from checker.report.github import render_github
        return render_github(run)
    from checker.report.text import render_text
    return render_text(run, colour, verbose)


def _colour(args, settings: Settings, stdout: TextIO) -> bool:
    if args.color != "auto":
        return args.color == "always"
    if settings.output or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stdout, "isatty", None)
    return bool(isatty and isatty())


def _write_check_output(run: Run, settings: Settings, args, stdout: TextIO) -> None:
    text = render(run, settings.format, _colour(args, settings, stdout), args.verbose)
    if settings.output is None:
        stdout.write(text)
        return
    try:
        with open(settings.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise UsageError(f"lockspec: error: cannot write {settings.output}: "
                         f"{err.strerror or err}") from None
    from checker.report.text import render_summary
    stdout.write(render_summary(run) + "\n")


def _write_html(run: Run, directory: str, notes: TextIO) -> None:
    from checker.report.html_pages import write_report
    try:
        written = write_report(run, directory)
    except OSError as err:
        raise UsageError(f"lockspec: error: cannot write the report into {directory}: "
                         f"{err.strerror or err}") from None
    print(f"lockspec: wrote {len(written)} report pages to "
          f"{os.path.join(directory, 'index.html')}", file=notes)


# ------------------------------------------------------------------ conform

def _conform(args, stdout: TextIO, stderr: TextIO) -> int:
    from checker.commands.conform import ConformRequest, run_conform
    request = ConformRequest(args.spec, args.lockdep, args.chains, DEFAULT_FAIL_ON, version(),
                             args.timings)
    run = run_conform(request, stderr)
    if isinstance(run, int):
        return run
    settings = Settings(paths=(args.spec,), format=args.format, output=args.output,
                        html=args.html, options=Options(), jobs=1, cache_dir=None,
                        baseline=None)
    _write_check_output(run, settings, args, stdout)
    if args.html is not None:
        _write_html(run, args.html, stderr)
    return run.exit_code()


# ------------------------------------------------------------------ single-file commands

def compile_one(path: str, stderr: TextIO):
    """Compile one spec for a single-file command; print its errors. None on failure."""
    from checker.spec_file import compile_reporting
    compiled = compile_reporting(path, stderr)
    return compiled.program if compiled is not None else None


def _single_file_command(args, stdout: TextIO, stderr: TextIO) -> int:
    program = compile_one(args.file, stderr)
    if program is None:
        return EXIT_USAGE
    if args.command == "initcall":
        from checker.lockdep.initcall import render_initcall
        text, problems = render_initcall(program)
    else:
        from checker.spin.promela import render_promela
        text, problems = render_promela(program, args.scenario)
    for problem in problems:
        print(f"lockspec: error: {problem}", file=stderr)
    if problems:
        return EXIT_USAGE
    stdout.write(text)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
