"""Adapters: the one real implementation of each port (bps, Butler, GitHub, git, a folder tracker)."""
