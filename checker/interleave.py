"""The interleaving engine (z3). Placeholder until the engine lands: it must not
be committed in this form."""
from checker.findings import EngineRun


def run_interleaving_engine(program, options, findings):
    return findings, EngineRun("interleaving", "inconclusive", "not implemented")
