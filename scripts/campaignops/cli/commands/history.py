"""`campaign history`: a campaign's timeline, read back from the ledger's git history."""

from __future__ import annotations

import argparse
import json
import sys

from ...adapters.git.history import ledger_versions
from ...adapters.git.repo import Git, GitError
from ...ledger import store
from ...ledger.history import timeline
from ...views.history import as_json, format_text
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name (folder under campaigns/)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    path = f"campaigns/{args.campaign}/ledger"
    # The ledger as checked out is read as every look reads it: a damaged one is refused, naming the file and
    # how to restore it, rather than a timeline that silently stops before it.
    store.load(root / "campaigns" / args.campaign, args.campaign)
    try:
        versions = ledger_versions(Git(root), f"campaigns/{args.campaign}")
    except GitError as exc:
        print(f"error: cannot read the history of {path}: {exc}", file=sys.stderr)
        return 1
    if not versions:
        print(f"error: {path} was never committed; `campaign publish` records it after `campaign apply`",
              file=sys.stderr)
        return 1
    entries = timeline(versions)
    if args.format == "json":
        print(json.dumps(as_json(entries), indent=2))
    else:
        sys.stdout.write(format_text(args.campaign, entries))
    return 0
