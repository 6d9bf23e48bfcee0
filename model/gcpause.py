"""Pausing the cyclic garbage collector while a stage allocates a large acyclic heap.

Parsing, lowering and the graph engine each build hundreds of thousands of
small immutable records (tokens, AST nodes, ops, events) and free none of them
until they return. Every time the youngest generation fills, CPython's cyclic
collector walks its survivors, and each full pass walks the whole heap: at
kernel scale that was half of the run time, for nothing to collect (these
records hold no reference cycles). Reference counting still frees everything;
the collector's previous state is restored on exit, so a caller that disabled
it keeps it disabled.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
