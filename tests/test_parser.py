"""The parser: the AST it builds, its spans, reserved keywords, and error recovery."""
from __future__ import annotations

import pytest

from model import ast
from model.parser import MAX_NESTING, _lark, parse
from model.syntax_errors import KEYWORD_TYPES


def parse_ok(text: str) -> ast.Module:
    module, errors = parse("t.lspec", text)
    assert errors == [], errors
    return module


def errors_of(text: str):
    module, errors = parse("t.lspec", text)
    assert module is None and errors
    return errors


def where(diag) -> tuple[int, int]:
    return diag.span.line, diag.span.col


# ----------------------------------------------------------------------- AST

def test_every_declaration_kind():
    module = parse_ok('''
        spec "title"
        import kernel.mm_order
        option lockdep_selftest
        option bound = 12
        lock A, B : spinlock class AB
        object f : fence(lock = A)
        object r : refcounted(release = done) = 2
        object k : refcounted = 1 release done
        order A -> B
        fn done(x) { }
        fn ok(l: spinlock | mutex) -> bool = held(l);
        path p(b: revocable) in softirq { }
        scenario s = 2 * p(buf) @ 1 || p(b = buf)
        expect s: deadlock, order-violation
        expect pass
    ''')
    kinds = [type(d).__name__ for d in module.decls]
    assert kinds == ["Title", "Import", "OptionDecl", "OptionDecl", "LockDecl", "ObjectDecl",
                     "ObjectDecl", "ObjectDecl", "OrderDecl", "FnDecl", "FnDecl", "PathDecl",
                     "ScenarioDecl", "ExpectDecl", "ExpectDecl"]
    title, imp, flag, bound, lock, fence, ref, legacy, order, done, ok, path, scen, exp, _ = \
        module.decls
    assert title.text == "title" and imp.dotted == "kernel.mm_order"
    assert flag.value is None and bound.value.value == 12
    assert [n.text for n in lock.names] == ["A", "B"] and lock.lock_class.text == "AB"
    assert [(o.key.text, o.value.text) for o in fence.options] == [("lock", "A")]
    assert ref.init.value == 2 and [(o.key.text, o.value.text) for o in ref.options] == [
        ("release", "done")]
    assert legacy.init.value == 1 and legacy.options[0].value.text == "done"
    assert [i.text for i in order.chain] == ["A", "B"]
    assert done.result is None and done.params[0].types == ()
    assert ok.result.text == "bool" and [t.text for t in ok.params[0].types] == ["spinlock",
                                                                                  "mutex"]
    assert isinstance(ok.body.stmts[0], ast.Return)
    assert path.context.text == "softirq" and path.params[0].types[0].text == "revocable"
    first, second = scen.threads
    assert (first.count, first.cpu, first.call.name.text) == (2, 1, "p")
    assert (second.count, second.cpu) == (1, None)
    assert second.call.args[0].keyword.text == "b"
    assert exp.scenario.text == "s" and [v.text for v in exp.verdicts] == ["deadlock",
                                                                          "order-violation"]


def test_statements_and_expressions():
    module = parse_ok('''
        path p in process {
            f(a, &b, mode = read);
            if !x && (y || z) { return; } else if count(r) >= 2 { } else { }
            either { g(); } or { } or { h(); }
            repeat 3 { ; }
            assert !mapped(b);
            { nested(); }
        }
    ''')
    body = module.decls[0].body.stmts
    call, cond, either, repeat, check, block = body
    assert [a.keyword.text if a.keyword else None for a in call.call.args] == [None, None, "mode"]
    assert isinstance(cond, ast.If) and isinstance(cond.cond, ast.BoolOp)
    assert cond.cond.op == "&&" and isinstance(cond.cond.operands[0], ast.Not)
    assert isinstance(cond.orelse, ast.If) and isinstance(cond.orelse.cond, ast.Compare)
    assert isinstance(cond.orelse.orelse, ast.Block)
    assert len(either.branches) == 3
    assert repeat.count == 3 and repeat.body.stmts == ()
    assert isinstance(check.cond, ast.Not)
    assert isinstance(block, ast.Block)


def test_spans_cover_first_to_last_token():
    module = parse_ok('path p in process {\n    spin_lock(A);\n}\n')
    path = module.decls[0]
    assert (path.span.line, path.span.col, path.span.end_line, path.span.end_col) == (1, 1, 3, 2)
    stmt = path.body.stmts[0]
    assert (stmt.span.line, stmt.span.col, stmt.span.end_col) == (2, 5, 18)
    assert (stmt.call.span.col, stmt.call.span.end_col) == (5, 17)
    assert stmt.call.args[0].value.ident.span.col == 15


def test_long_else_if_chain_is_flat_in_the_parse_and_nested_in_the_ast():
    arms = " else ".join("if nondet() { }" for _ in range(3000))
    module = parse_ok(f"path p in process {{ {arms} }}")
    node, count = module.decls[0].body.stmts[0], 0
    while isinstance(node, ast.If):
        node, count = node.orelse, count + 1
    assert count == 3000


def test_string_escapes():
    assert parse_ok(r'spec "a \"quoted\" \\ name"').decls[0].text == 'a "quoted" \\ name'


def test_keywords_are_reserved_but_usable_where_the_language_needs_them():
    parse_ok("fn f(l: lock, o: object, w: fn) { }\nexpect order-violation\n"
             "object f : fence(lock = L)")
    for text in ("lock lock : mutex", "path order in process { }", "fn if() { }",
                 "object in : flag"):
        (diag,) = errors_of(text)
        assert "is a keyword and cannot be used as a name" in diag.message


def test_keyword_table_matches_the_grammar():
    keywords = {t.name for t in _lark().terminals
                if t.pattern.type == "str" and t.pattern.value.isidentifier()}
    assert keywords == set(KEYWORD_TYPES)


# -------------------------------------------------------------------- errors

def test_several_independent_errors_are_reported():
    errors = errors_of('lock A = spinlock\n'
                       'path p {\n}\n'
                       'path q in process {\n    f(A)\n    g(A)\n}\n'
                       'spin_lock(A);\n')
    assert [where(d) for d in errors] == [(1, 8), (2, 8), (5, 9), (6, 9), (8, 1)]


def test_no_cascade_after_a_broken_declaration():
    errors = errors_of('path p in process { if x spin_lock(A); spin_unlock(A); }\n'
                       'lock B : mutex\n')
    assert len(errors) == 1


def test_missing_semicolon_points_after_the_statement():
    (diag,) = errors_of("path p in process {\n    f(A)\n}\n")
    assert diag.message == "missing `;` at the end of the statement"
    assert where(diag) == (2, 9)


def test_expected_tokens_are_readable():
    (diag,) = errors_of("lock A B")
    assert diag.message == "unexpected name `B`; expected `,` or `:`"
    (diag,) = errors_of("path p in process { f(, ); }")
    assert "expected an expression" in diag.message


@pytest.mark.parametrize("text, hint", [
    ("path p { }", "path NAME in process"),
    ("lock A = spinlock", "kind after `:`"),
    ("spin_lock(A);", "statements go in the body of a path or fn"),
    ("pth p in process { }", "did you mean `path`?"),
    ("path p in process { retrun; }", "did you mean `return`?"),
    ("path p in process { if x { } esle { } }", "did you mean `else`?"),
    ("order A B", "`order A -> B -> C`"),
    ("scenario s = p() && q()", "joined with `||`"),
    ("path p in process { spin_lock(&d->lock); }", "plain identifiers"),
    ("path p in process { x = 1; }", "no assignment"),
    ("path p in process { if x g(); }", "`if` takes a block"),
    ("expect s pass", "`expect SCENARIO: VERDICT`"),
    ("path p in process { while (x) { } }", "repeat N"),
    ("path p in process { if count(r) = 1 { } }", "compare with `==`"),
    ("#include <x.h>", "no preprocessor"),
])
def test_labelled_hints(text, hint):
    errors = errors_of(text)
    assert any(hint in h for h in errors[0].hints) or hint in errors[0].message, errors[0]


def test_unclosed_brace_at_end_of_file_points_at_the_brace():
    (diag,) = errors_of("path p in process {\n    f();\n")
    assert diag.message == "`{` is never closed: the file ends first" and where(diag) == (1, 19)


def test_unclosed_brace_before_the_next_declaration():
    errors = errors_of("path p in process {\n    f();\npath q in process { g() }\n")
    assert errors[0].message == "unexpected `path`: the `{` on line 1 is not closed"
    assert where(errors[1]) == (3, 24)       # the error in q is still found


def test_extra_closing_brace():
    (diag,) = errors_of("path p in process { }\n}\npath q in process { }\n")
    assert diag.message == "`}` closes nothing" and where(diag) == (2, 1)


def test_stray_characters_are_reported_once_per_run():
    (diag,) = errors_of("lock A : mutex \x00\x01\x02\n")
    assert diag.message == r"unexpected characters `\x00\x01\x02`"


def test_unterminated_string_and_comment():
    assert errors_of('spec "abc\n')[0].message == "unterminated string"
    assert errors_of("lock A : mutex\n/* never closed\n")[0].message.startswith(
        "unterminated comment")


def test_end_of_file_inside_a_declaration():
    (diag,) = errors_of("lock A :")
    assert diag.message == "unexpected end of file; expected a name"


def test_nesting_limit():
    depth = MAX_NESTING + 1
    (diag,) = errors_of("path p in process " + "{" * depth + "}" * depth)
    assert diag.message == f"nesting deeper than {MAX_NESTING} levels"
    (diag,) = errors_of("path p in process { if " + "!" * (depth + 5) + "x { } }")
    assert diag.message == f"nesting deeper than {MAX_NESTING} levels"
    parse_ok("path p in process " + "{" * (MAX_NESTING - 1) + "}" * (MAX_NESTING - 1))


def test_error_count_is_capped():
    errors = errors_of("".join(f"lock L{i} = mutex\n" for i in range(100)))
    assert 1 < len(errors) <= 20


def test_empty_and_comment_only_text_parses_to_nothing():
    assert parse_ok("").decls == ()
    assert parse_ok("// nothing\n/* here */\n").decls == ()
