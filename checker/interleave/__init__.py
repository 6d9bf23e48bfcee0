"""The interleaving engine: what the threads of a scenario can really do.

In: a model.ir.Program and the graph engine's findings. Out: violations with
replayed witnesses, and the graph's cycles decided (confirmed, refuted or left
potential). Read it in this order:

- semantics, step     the state and the one-step rules every engine shares;
- simulate            the independent replay of every witness;
- explore             the explicit-state explorer (the differential oracle);
- worlds              the generated scenarios that may refute a cycle;
- unrecorded          the lock cycles lockdep's graph misses, made questions too;
- z3/                 the event encoding and its search (see its docstring);
- witness_model       a witness as rows of thread steps, for the reports;
- engine              run_interleaving: scenarios and cycle questions, end to end.

Each module imports only the ones above it (tests/test_layers.py).
"""
