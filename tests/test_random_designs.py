"""The random design generator (tests/random_designs.py) and its tree
(tests/design_tree.py): designs reproduce from their seed, every shrink
candidate is a spec, and the grace-period and work features shrink away."""
from tests.conftest import compile_text
from tests.design_coverage import features
from tests.random_designs import generate, render, shrink_candidates

SEEDS = range(20250101, 20250101 + 120)


def test_a_design_reproduces_from_its_seed():
    for seed in SEEDS[:20]:
        assert render(generate(seed)) == render(generate(seed))


def test_grace_and_work_features_appear_only_with_their_declarations():
    for seed in SEEDS:
        design = generate(seed)
        text = render(design)
        assert ("synchronize_srcu" in text or "srcu_read_lock" in text) <= design.srcu
        assert ("rcu_read_lock" in text or "synchronize_rcu" in text) <= design.published
        assert ("access(m)" in text or "kfree(m)" in text) == design.published
        assert ("schedule_work" in text) == (design.work is not None)
        assert ("kthread_run(kt)" in text) == (design.kthread is not None)
        assert ("rcu_assign_pointer(gp, NULL)" in text) <= design.pointer


def test_shrink_candidates_are_specs_and_drop_each_new_feature():
    checked = 0
    for seed in SEEDS:
        design = generate(seed)
        if not (design.published or design.srcu or design.work is not None
                or design.kthread is not None):
            continue
        candidates = list(shrink_candidates(design))
        for candidate in candidates:
            compiled = compile_text(render(candidate), f"seed{seed}.lspec")
            assert not compiled.diagnostics, (render(candidate), compiled.diagnostics)
        if design.work is not None:
            assert any(c.work is None and not {"schedule_work", "flush_work"} & features(c)
                       for c in candidates)
        if design.published:
            assert any(not c.published and "mem:access" not in features(c)
                       and "guarded-use" not in features(c) for c in candidates)
        if design.srcu:
            assert any(not c.srcu and not {"srcu_read_lock", "synchronize_srcu"} & features(c)
                       for c in candidates)
        if design.kthread is not None:
            assert any(c.kthread is None and not {"kthread_run", "kthread_stop"} & features(c)
                       for c in candidates)
        checked += 1
    assert checked >= 10

