"""SPIN: the interleaving semantics exported as Promela, and SPIN run on it.

In: a model.ir.Program and a scenario (checker.interleave.semantics). Out: a
Promela model (unfold flattens the threads, ops renders each op, promela
assembles the model and its never-claims) and SPIN's verdict (run), which the
differential tests hold against the z3 engine and the explorer.
"""
