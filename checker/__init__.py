"""The checker: a resolved spec (model.ir.Program) in, findings and reports out.

The subpackages are the stages, in the order data flows through them:

- checker.graph       lockdep's rules over every path: the lock class graph,
                      cycles, irq usage, wait contexts, declared orders.
- checker.interleave  the interleavings: the semantics of a scenario, the z3
                      encoding and search, the explicit-state explorer and the
                      simulator that replays every witness; it decides the
                      graph's cycles.
- checker.spin        the same semantics exported as Promela and run by SPIN.
- checker.lockdep     the bridge to a running kernel: splats imported as specs,
                      /proc/lockdep held against a design, the lockdep initcall.
- checker.report      findings and outcomes rendered: text, JSON, SARIF, JUnit,
                      GitHub annotations, HTML pages with swimlanes and graphs.
- checker.commands    the subcommands beyond `check` and `report`.

At the top: findings (the records every stage produces), runner (one spec
through both engines), outcome and baseline (verdicts against expectations and
accepted findings), cache, batch, config, progress, spec_file, and cli, the
only place that exits. A module imports only from its own stage, from stages
before it, and from the records the top keeps for everyone (findings); see
tests/test_layers.py.
"""
