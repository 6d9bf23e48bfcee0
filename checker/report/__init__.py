"""Reports: findings and outcomes rendered for people and for CI.

In: checker.outcome records (a spec's findings, verdicts, engines) and
witnesses (checker.interleave.witness_model). Out: text (lockdep-style), JSON
(with its schema in schemas/), SARIF, JUnit, GitHub annotations, and HTML pages
(html_pages, with templates/, swimlane and the graph_view/svg_layout drawing).
"""
