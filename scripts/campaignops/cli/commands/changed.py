"""`campaign changed`: campaigns whose files changed between two commits (profile edits count for all users)."""

from __future__ import annotations

import argparse
import json
import sys

from ...campaign_spec.changes import campaign_profiles, changed_campaigns
from ..common import changed_paths, root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="base commit (e.g. the pull request's base SHA or the push's 'before')")
    parser.add_argument("--head", default="HEAD", help="head commit (default: HEAD; must be checked out)")
    parser.add_argument("--campaign", action="append", default=[], metavar="NAME",
                        help="list this campaign instead of diffing (repeatable; it must exist)")
    parser.add_argument("--format", choices=("lines", "json"), default="lines",
                        help="one name per line, or a JSON list (for a workflow matrix)")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    profiles = campaign_profiles(root)
    if args.campaign:
        unknown = [n for n in args.campaign if n not in profiles]
        if unknown:
            print(f"error: no campaign {', '.join(unknown)} under campaigns/; known: "
                  f"{', '.join(sorted(profiles)) or 'none'}", file=sys.stderr)
            return 1
        names = sorted(set(args.campaign))
    elif not args.base:
        print("error: give --base (and --head) to diff, or --campaign NAME", file=sys.stderr)
        return 2
    elif args.base.strip("0") == "":
        # A push that created the branch has no 'before': everything is new.
        print("note: no base commit (new branch): listing every campaign", file=sys.stderr)
        names = sorted(profiles)
    else:
        paths = changed_paths(root, args.base, args.head)
        if paths is None:
            return 1
        names = changed_campaigns(paths, profiles)
    if args.format == "json":
        print(json.dumps(names))
    else:
        for name in names:
            print(name)
    return 0
