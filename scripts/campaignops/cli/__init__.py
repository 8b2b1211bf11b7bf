"""The `campaign` command: argument parsing (main.py), wiring (workspace.py), one module per subcommand."""
