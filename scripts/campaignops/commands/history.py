"""`campaign history`: a campaign's timeline, read back from the ledger's git history."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..history import as_json, format_text, ledger_versions, timeline
from ..ledger import LEDGER_FILE
from ..publish import Git, GitError
from ..spec import find_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name (folder under campaigns/)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else find_root()
    path = f"campaigns/{args.campaign}/{LEDGER_FILE}"
    try:
        versions = ledger_versions(Git(root), path)
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
