"""The prelude is parsed once per process and kept on disk by content hash; a bad
cache file is a miss, never an error."""
from __future__ import annotations

import json

import pytest

from model import loader
from model.parsed_cache import PreludeMemo, entry_file, entry_key
from model.parser import parse
from tests.conftest import run_cli

NAME = loader.PRELUDE_NAME + "/kernel.lspec"
TEXT = (loader.PRELUDE_DIR / "kernel.lspec").read_text(encoding="utf-8")


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, name, text):
        self.calls += 1
        return parse(name, text)


def test_a_module_is_parsed_once_per_memo():
    memo, counting = PreludeMemo(), Counting()
    first, _ = memo.parse(NAME, TEXT, counting, None)
    second, _ = memo.parse(NAME, TEXT, counting, None)
    assert counting.calls == 1 and first is second


def test_an_edited_module_is_parsed_again():
    memo, counting = PreludeMemo(), Counting()
    memo.parse(NAME, TEXT, counting, None)
    memo.parse(NAME, TEXT + "\nlock extra_lock : mutex\n", counting, None)
    assert counting.calls == 2


def test_a_module_with_errors_is_not_kept(tmp_path):
    memo, counting = PreludeMemo(), Counting()
    for _ in range(2):
        module, problems = memo.parse(NAME, "lock a :", counting, tmp_path)
        assert module is None and problems
    assert counting.calls == 2 and not (tmp_path / "parsed").exists()


def test_the_disk_entry_gives_back_the_same_tree(tmp_path):
    parsed, _ = PreludeMemo().parse(NAME, TEXT, parse, tmp_path)
    assert entry_file(tmp_path, entry_key(NAME, TEXT)).is_file()
    counting = Counting()
    again, problems = PreludeMemo().parse(NAME, TEXT, counting, tmp_path)
    assert counting.calls == 0 and not problems and again == parsed


@pytest.mark.parametrize("content", [
    b"", b"\x00\xff garbage", b"[1, 2", b"[]", b'{"key": "other", "module": null}',
    b'{"key": "KEY"}', b'{"key": "KEY", "module": ["Module", "elsewhere.lspec", {"t": []}]}',
    b'{"key": "KEY", "module": ["Exploit", 1]}', b'{"key": "KEY", "module": ["Ident"]}',
    b'{"key": "KEY", "module": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
])
def test_a_corrupt_or_foreign_entry_is_a_miss(tmp_path, content):
    key = entry_key(NAME, TEXT)
    target = entry_file(tmp_path, key)
    target.parent.mkdir(parents=True)
    target.write_bytes(content.replace(b"KEY", key.encode()))
    counting = Counting()
    module, problems = PreludeMemo().parse(NAME, TEXT, counting, tmp_path)
    assert counting.calls == 1 and not problems and module == parse(NAME, TEXT)[0]


def test_an_unwritable_cache_directory_is_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    module, problems = PreludeMemo().parse(NAME, TEXT, parse, blocker)
    assert module is not None and not problems


def test_check_keeps_the_prelude_next_to_the_result_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code, _, _ = run_cli("check", "tests/data/design/irqsafe4.lspec")
    assert code == 0
    entries = list((tmp_path / "lockspec" / "parsed").glob("*.json"))
    assert entries and all(json.loads(e.read_text())["key"] == e.stem for e in entries)
