"""Property tests: generated valid specs go through parse, resolve and lowering
cleanly; mutated real specs (characters and tokens deleted, inserted, swapped)
only ever produce diagnostics, never an exception."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import ir
from model.pipeline import compile_spec
from tests.conftest import DATA, ROOT

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Lock kinds and the verbs that take and release them.
VERBS = {
    "spinlock": [("spin_lock", "spin_unlock"), ("spin_lock_irq", "spin_unlock_irq"),
                 ("spin_lock_irqsave", "spin_unlock_irqrestore"),
                 ("spin_lock_bh", "spin_unlock_bh")],
    "rwlock": [("read_lock", "read_unlock"), ("write_lock", "write_unlock")],
    "mutex": [("mutex_lock", "mutex_unlock")],
    "rwsem": [("down_read", "up_read"), ("down_write", "up_write")],
    "raw_spinlock": [("raw_spin_lock", "raw_spin_unlock")],
}
CONTEXTS = ["process", "softirq", "hardirq", "irq_work", "workqueue"]
SIMPLE_VERBS = ["might_sleep()", "local_irq_disable(); local_irq_enable()",
                "rcu_read_lock(); rcu_read_unlock()", "kmalloc(GFP_KERNEL)",
                "kmalloc(GFP_ATOMIC)", "local_bh_disable(); local_bh_enable()"]


@st.composite
def specs(draw) -> tuple[str, int]:
    """A valid spec and the number of paths it declares."""
    locks = [(f"L{i}", draw(st.sampled_from(sorted(VERBS)))) for i in range(draw(
        st.integers(1, 4)))]
    flags = [f"F{i}" for i in range(draw(st.integers(0, 2)))]
    bufs = [f"B{i}" for i in range(draw(st.integers(0, 2)))]
    lines = ["import kernel"]
    lines += [f"lock {name} : {kind}" for name, kind in locks]
    lines += [f"object {name} : flag" for name in flags]
    lines += [f"object {name} : revocable" for name in bufs]
    if len(locks) > 1 and draw(st.booleans()):
        lines.append("order " + " -> ".join(name for name, _ in locks))
    conditions = ["nondet()"] + flags + [f"revoked({b})" for b in bufs] + [
        f"held({name})" for name, _ in locks]

    def statement(depth: int) -> str:
        choice = draw(st.integers(0, 7 if depth < 3 else 2))
        if choice == 0:
            name, kind = draw(st.sampled_from(locks))
            take, drop = draw(st.sampled_from(VERBS[kind]))
            return f"{take}({name}); {body(depth + 1)} {drop}({name});"
        if choice == 1:
            return draw(st.sampled_from(SIMPLE_VERBS)) + ";"
        if choice == 2:
            return draw(st.sampled_from(["set", "clear"])) + f"({draw(st.sampled_from(flags))});" \
                if flags else ";"
        if choice == 3:
            cond = draw(st.sampled_from(conditions))
            negate = "!" if draw(st.booleans()) else ""
            tail = f" else {{ {body(depth + 1)} }}" if draw(st.booleans()) else ""
            return f"if {negate}{cond} {{ {body(depth + 1)} }}{tail}"
        if choice == 4:
            return f"either {{ {body(depth + 1)} }} or {{ {body(depth + 1)} }}"
        if choice == 5:
            return f"repeat {draw(st.integers(1, 3))} {{ {body(depth + 1)} }}"
        if choice == 6:
            return f"{{ {body(depth + 1)} }}"
        return f"assert {draw(st.sampled_from(conditions))} || true;"

    def body(depth: int) -> str:
        return " ".join(statement(depth) for _ in range(draw(st.integers(0, 3))))

    fns = draw(st.integers(0, 3))
    for i in range(fns):
        calls = " ".join(f"f{j}();" for j in range(i) if draw(st.booleans()))
        lines.append(f"fn f{i}() {{ {calls} {body(1)} }}")
    paths = draw(st.integers(1, 4))
    for i in range(paths):
        calls = " ".join(f"f{j}();" for j in range(fns) if draw(st.booleans()))
        context = draw(st.sampled_from(CONTEXTS))
        lines.append(f"path p{i} in {context} {{ {calls} {body(0)} }}")
    if draw(st.booleans()):
        threads = " || ".join(f"p{draw(st.integers(0, paths - 1))}()"
                              for _ in range(draw(st.integers(1, 3))))
        lines.append(f"scenario s = {threads}")
    return "\n".join(lines) + "\n", paths


@SETTINGS
@given(specs())
def test_generated_specs_compile_cleanly(spec):
    text, paths = spec
    compiled = compile_spec("gen.lspec", text.encode())
    assert compiled.diagnostics == (), (text, compiled.diagnostics)
    program = compiled.program
    assert {f"p{i}" for i in range(paths)} <= set(program.codes)
    for code in program.codes.values():
        assert isinstance(code.ops[code.entry], ir.Op.__args__)
        for op in code.ops:
            assert all(0 <= s < len(code.ops) for s in ir.successors(op))


# ------------------------------------------------------------------ mutation

CORPUS = [DATA / "design" / "vfio_dmabuf_revoke.lspec", DATA / "design" / "irqsafe4.lspec",
          ROOT / "model" / "prelude" / "kernel.lspec"]
CORPUS += sorted((ROOT / "specs").rglob("*.lspec"))[:6]
TEXTS = [p.read_text(encoding="utf-8") for p in CORPUS]
TOKEN = re.compile(r"\w+|\s+|\S")
SNIPPETS = ["{", "}", "(", ")", ";", ",", ":", "=", "->", "||", "&&", "!", "@", "*", "-",
            "lock", "path", "fn", "if", "else", "either", "or", "return", "repeat", "in",
            "object", "order", "scenario", "expect", "import", "spec", "class", "true", "NULL",
            "\"", "/*", "//", "\n", "\x00", "é", "0", "65", "A", "spin_lock", "kernel"]


def assert_only_diagnostics(text: str) -> None:
    compiled = compile_spec("mutant.lspec", text.encode("utf-8", errors="surrogatepass"))
    assert (compiled.program is None) == bool(compiled.diagnostics)
    lines = text.split("\n")
    for diag in compiled.diagnostics:
        if diag.span.file == "mutant.lspec":
            assert 1 <= diag.span.line <= len(lines) and diag.span.col >= 1, diag


@st.composite
def char_mutants(draw) -> str:
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "swap"]))
        if action == "delete":
            text = text[:at] + text[at + 1:]
        elif action == "insert":
            text = text[:at] + draw(st.characters(codec="utf-8")) + text[at:]
        elif at + 1 < len(text):
            text = text[:at] + text[at + 1] + text[at] + text[at + 2:]
    return text


@st.composite
def token_mutants(draw) -> str:
    tokens = TOKEN.findall(draw(st.sampled_from(TEXTS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(tokens) - 1))
        action = draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "replace"]))
        if action == "delete":
            del tokens[at]
        elif action == "insert":
            tokens.insert(at, draw(st.sampled_from(SNIPPETS)))
        elif action == "replace":
            tokens[at] = draw(st.sampled_from(SNIPPETS))
        elif action == "duplicate":
            tokens.insert(at, tokens[at])
        elif at + 1 < len(tokens):
            tokens[at], tokens[at + 1] = tokens[at + 1], tokens[at]
    return "".join(tokens)


@SETTINGS
@given(char_mutants())
def test_character_mutations_only_produce_diagnostics(text):
    assert_only_diagnostics(text)


@SETTINGS
@given(token_mutants())
def test_token_mutations_only_produce_diagnostics(text):
    assert_only_diagnostics(text)


@SETTINGS
@given(st.lists(st.sampled_from(SNIPPETS + [" ", "\t", "x", "f(x);"]), max_size=200))
def test_token_soup_only_produces_diagnostics(tokens):
    assert_only_diagnostics("".join(tokens))
