"""What every subcommand needs: the repository root (--root or found from here) and campaign names."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..spec.load import all_campaign_paths, root_from


def root_of(args: argparse.Namespace) -> Path:
    """The repository root: --root when given, else the nearest directory above here holding campaigns/."""
    return root_from(getattr(args, "root", None))


def campaign_names(root: Path, names: list[str], all_: bool) -> list[str]:
    """The names given, or every campaign under campaigns/ (with --all or no names)."""
    if all_ or not names:
        return [p.parent.name for p in all_campaign_paths(root)]
    return names
