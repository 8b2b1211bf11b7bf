"""`campaign changed`: campaigns whose files changed between two commits (profile edits count for all users)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from ..publish import Git, GitError
from ..spec import all_campaign_paths, find_root

# Written by the bot, not by a reviewer: changing them submits nothing.
BOT_FILES = frozenset({"ledger.yaml", "STATUS.md"})
NOT_CAMPAIGNS = frozenset({"profiles", "templates"})
NULL_SHA = "0" * 40


def changed_campaigns(paths: Iterable[str], profiles: Mapping[str, str]) -> list[str]:
    """Names of campaigns touched by `paths` (repository-relative), given each campaign's profile.

    A campaign counts when a file under campaigns/<name>/ other than the bot's ledger and status
    page changed, or when its profile (campaigns/profiles/<profile>.yaml) changed. Only campaigns
    in `profiles` (those that exist at the head commit) are returned, sorted."""
    names: set[str] = set()
    changed_profiles: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "campaigns":
            continue
        if parts[1] == "profiles" and parts[-1].endswith(".yaml"):
            changed_profiles.add(Path(parts[-1]).stem)
        elif parts[1] not in NOT_CAMPAIGNS and not (len(parts) == 3 and parts[2] in BOT_FILES):
            names.add(parts[1])
    names |= {name for name, profile in profiles.items() if profile in changed_profiles}
    return sorted(n for n in names if n in profiles)


def campaign_profiles(root: Path) -> dict[str, str]:
    """campaign name -> profile name, read loosely (an invalid campaign still counts as changed)."""
    out: dict[str, str] = {}
    for path in all_campaign_paths(root):
        if path.parent.parent.name != "campaigns" or path.parent.name in NOT_CAMPAIGNS:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            data = None
        profile = data.get("profile") if isinstance(data, dict) else None
        out[path.parent.name] = profile if isinstance(profile, str) else ""
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="base commit (e.g. the pull request's base SHA or the push's 'before')")
    parser.add_argument("--head", default="HEAD", help="head commit (default: HEAD; must be checked out)")
    parser.add_argument("--campaign", action="append", default=[], metavar="NAME",
                        help="list this campaign instead of diffing (repeatable; it must exist)")
    parser.add_argument("--format", choices=("lines", "json"), default="lines",
                        help="one name per line, or a JSON list (for a workflow matrix)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else find_root()
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
        try:
            diff = Git(root).out("diff", "--name-only", "-z", "--no-renames", args.base, args.head, "--")
        except GitError as exc:
            print(f"error: cannot diff {args.base}..{args.head}: {exc}. Is the base commit fetched "
                  "(actions/checkout with fetch-depth: 0)?", file=sys.stderr)
            return 1
        names = changed_campaigns([p for p in diff.split("\0") if p], profiles)
    if args.format == "json":
        print(json.dumps(names))
    else:
        for name in names:
            print(name)
    return 0
