"""Specs: read YAML with positions (source), check it (schema, rules, validate), load it (load)."""
