"""The z3 engine: one scenario encoded as events and searched. Read top to
bottom; each module imports only the ones above it (tests/test_layers.py):

- threads    every thread that can exist, unfolded into control nodes;
- terms      Boolean terms, each made with as few calls into z3 as it takes;
- encode     the event encoding: each node runs or not, at a time;
- sections   what mutual exclusion already decides about the order of events;
- state      shared objects: the value a field has when an event runs;
- graces     when a grace period or a flush may end;
- rules      docs/semantics.md over the encoding: enabling, effects, violations;
- theorem    what can be decided without a search (proofs of no stuck state);
- search     one incremental solver per scenario, asked small questions;
- witness    a model turned into a witness that the simulator replays;
- scenario   one scenario decided with as little search as possible.
"""
