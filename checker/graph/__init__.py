"""The graph engine: lockdep's rules, decided on the whole lock class graph.

In: a model.ir.Program (its walks and dependencies from model.walk and
model.lockgraph). Out: findings -- deadlock cycles (potential until the
interleaving engine decides them), irq inversions and inconsistent states,
recursion, wait contexts, order violations -- each with lockdep's chain and
CPU0/CPU1 scenario. engine.run_graph_engine is the entry point; cycles, usage
and rules hold the rules, explain how a finding tells itself.
"""
