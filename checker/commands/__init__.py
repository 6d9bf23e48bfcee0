"""Subcommands beyond `check` and `report`, each one spec or file in and a
report out: `graph`, `import-splat` and `conform`; checker.cli dispatches."""
