"""`campaign reconcile`: the runner's status job. Refresh every run, launch submissions a crash
interrupted, apply the failure rules to failed runs (engine/autopilot.py), submit the runs whose
prerequisites are now met, and rewrite the status pages."""

from __future__ import annotations

import argparse

from .status import add_common_arguments, follow


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return follow(args, advance=True)
