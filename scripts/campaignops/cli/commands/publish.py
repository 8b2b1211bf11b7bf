"""`campaign publish`: commit ledgers and status pages and push, retrying on a raced push."""

from __future__ import annotations

import argparse

from ...adapters.git.publish import publish
from ...adapters.git.repo import Git
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--message", "-m", default=None,
                        help="first line of the commit message (default: a summary of the transitions)")
    parser.add_argument("--paths", nargs="*", default=[], metavar="PATHSPEC",
                        help="more files to commit besides the ledgers (campaigns/*/ledger/), campaigns/*/STATUS.md, "
                        "STATUS.md and new campaign folders")
    parser.add_argument("--remote", default="origin", help="remote to push to (default: origin)")
    parser.add_argument("--branch", default="main", help="branch to push to (default: main)")
    parser.add_argument("--max-tries", type=int, default=5,
                        help="pushes to try before giving up; between them fetch, rebase, merge ledgers")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    result = publish(Git(root), args.message, args.paths, args.remote, args.branch, max(1, args.max_tries))
    if result.commit is None:
        print("nothing changed")
        return 0
    print(f"pushed {result.commit[:12]} to {args.remote} {args.branch}"
          f"{f' after {result.tries} tries' if result.tries > 1 else ''}")
    for path in result.merged:
        print(f"  merged concurrent updates of {path}")
    for change in result.changes:
        print(f"  {change}")
    return 0
