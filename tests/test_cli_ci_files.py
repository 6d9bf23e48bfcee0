"""docs/ci.md, action.yml and .pre-commit-hooks.yaml agree with the command they drive:
every lockspec command line in them parses, every config and baseline example loads."""
from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from checker.baseline import load_baseline
from checker.cli import build_parser
from checker.config import _parse_table
from tests.output_fixtures import ROOT, private_cache, run_cli, simulated, spec  # noqa: F401

DOCS = ROOT / "docs" / "ci.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def command_lines(text: str) -> list[list[str]]:
    """Each `lockspec ...` invocation, shell continuations joined, variables filled in."""
    text = text.replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        match = re.search(r"\blockspec (check|report|graph)\b(.*)$", line)
        if not match or line.lstrip().startswith(("#", "name:", "description:")):
            continue
        words = shlex.split(match.group(1) + match.group(2).split("||")[0].split(">")[0])
        words = [w for w in words if w not in ('"${html[@]}"', "${html[@]}")]
        found.append([re.sub(r"\$\{?\w+\}?", "x", w) for w in words])
    return found


def test_every_documented_command_parses():
    sources = [*code_blocks("yaml"), (ROOT / "action.yml").read_text(encoding="utf-8")]
    commands = [c for text in sources for c in command_lines(text)]
    assert len(commands) >= 3
    parser = build_parser()
    for words in commands:
        args = parser.parse_args(words)
        assert args.command in ("check", "report", "graph"), words


def test_documented_configuration_is_accepted(tmp_path):
    (table,) = [block for block in code_blocks("toml") if "[tool.lockspec]" in block]
    config, problems = _parse_table(tomllib.loads(table)["tool"]["lockspec"],
                                    tmp_path / "pyproject.toml")
    assert problems == [] and config.fail_on == ("confirmed", "potential") and config.jobs == 4


def test_documented_baseline_is_accepted(tmp_path):
    (block,) = [block for block in code_blocks("toml") if "[[finding]]" in block]
    path = tmp_path / "lockspec-baseline.toml"
    path.write_text(block)
    baseline, problems = load_baseline(str(path))
    assert problems == [] and len(baseline.entries) == 2


def test_pre_commit_hooks_are_whole_program():
    for text in ((ROOT / ".pre-commit-hooks.yaml").read_text(), code_blocks("yaml")[-1]):
        assert "pass_filenames: false" in text and "entry: lockspec check" in text
        pattern = re.search(r"files: '([^']+)'", text).group(1)
        assert re.search(pattern, "specs/vfio/a.lspec") and re.search(pattern, "pyproject.toml")
        assert not re.search(pattern, "README.md")


def test_action_uploads_sarif_and_gates_on_the_exit_code():
    action = (ROOT / "action.yml").read_text(encoding="utf-8")
    assert "using: composite" in action
    assert "uses: github/codeql-action/upload-sarif@v3" in action
    assert "--format sarif --output" in action and "--format github" in action
    assert 'exit "$CODE"' in action


@pytest.mark.parametrize("fmt", ["github", "sarif"])
def test_the_action_sequence_reuses_the_cache(simulated, tmp_path, fmt):
    """The action runs lockspec twice (SARIF, then annotations); the second run must
    give the same verdict."""
    first = run_cli("check", "--format", "sarif", "--output", str(tmp_path / "x.sarif"),
                    spec("abba.lspec"))
    second = run_cli("check", "--format", fmt, spec("abba.lspec"))
    assert first[0] == second[0] == 1
    assert Path(tmp_path / "x.sarif").exists()
