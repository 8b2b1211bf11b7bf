"""`campaign record-guard`: a pull request may change the bot's record (ledgers, status pages) only when
the bot opened it. Hand repairs go through the runner's commands, which commit as the bot."""

from __future__ import annotations

import argparse
import sys

from ...campaign_spec.changes import bot_written
from ..common import changed_paths, root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="the pull request's base commit")
    parser.add_argument("--head", default="HEAD", help="the pull request's head commit (default: HEAD)")
    parser.add_argument("--author", required=True, help="the pull request's author (its login)")
    parser.add_argument("--bot", required=True, action="append", metavar="LOGIN",
                        help="a login of the bot that writes the record (repeatable), e.g. 'campaignops[bot]'")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    paths = changed_paths(root, args.base, args.head)
    if paths is None:
        return 1
    touched = bot_written(paths)
    if not touched or args.author in args.bot:
        print(f"the record is unchanged by hand: {len(touched)} bot file(s) changed, author {args.author}")
        return 0
    for path in touched:
        print(f"::error file={path}::{path} is written by the bot only ({', '.join(args.bot)}), "
              f"and this pull request is by {args.author}")
    print(f"error: this pull request changes {len(touched)} file(s) of the bot's record "
          f"({', '.join(touched[:5])}{' …' if len(touched) > 5 else ''}); only the bot "
          f"({', '.join(args.bot)}) changes them. Drop them from the pull request (`git checkout "
          f"{args.base} -- <file>`); to repair a ledger, run the repair on the runner so the bot commits it "
          f"with who asked", file=sys.stderr)
    return 1
