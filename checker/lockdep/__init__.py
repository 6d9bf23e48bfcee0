"""The bridge to a running kernel's lockdep.

In: kernel text -- a dmesg log with lockdep reports (splat_parse), a saved
/proc/lockdep (dump) -- or a spec. Out: a spec that reproduces a report
(splat_spec), conform findings of a runtime graph against a design (conform),
and the lockdep initcall that declares a design's order in C (initcall).
"""
