"""`campaign publish`: commit ledgers and status pages and push them to `main` or to a record branch."""

from __future__ import annotations

import argparse
import os
import sys

from ...adapters.git.publish import (
    BOT_PATHS,
    describe_unpushed,
    is_record_branch,
    publish,
    publish_records,
    pull_records,
    push_auth_env,
    source_branch,
    unpushed,
)
from ...adapters.git.repo import Git
from ...adapters.lock import lock_campaigns
from ..common import campaign_names, root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Commit what the bot wrote (" + ", ".join(BOT_PATHS) + ", new campaign folders) and push it. "
        "To the checked-out branch (main): on a raced push fetch, rebase, merge the two jobs' ledgers and try "
        "again. To any other branch (a record branch, for a protected main): one commit on top of that branch "
        "with the specs of this checkout and the ledgers merged with the branch's own. A push refused by "
        "branch protection (GH006) is not retried: the message names the two fixes. The token for the push "
        "is read from GITHUB_TOKEN (or GH_TOKEN) and handed to git through the environment only.")
    parser.add_argument("--message", "-m", default=None,
                        help="first line of the commit message (default: a summary of the transitions)")
    parser.add_argument("--paths", nargs="*", default=[], metavar="PATHSPEC",
                        help="more files to commit besides " + ", ".join(BOT_PATHS) + " and new campaign folders")
    parser.add_argument("--remote", default="origin", help="remote to push to (default: origin)")
    parser.add_argument("--branch", default=None,
                        help="branch to push to (default: $CAMPAIGNOPS_RECORD_BRANCH, else the checked-out branch, main or "
                             "master; detached: the remote's default branch); a branch other "
                             "than the checked-out one is a record branch")
    parser.add_argument("--pull", action="store_true",
                        help="do not commit: put the record branch's ledgers and status pages (and campaign "
                             "folders this checkout lacks) into the working tree; run before the job's commands")
    parser.add_argument("--max-tries", type=int, default=5,
                        help="pushes to try before giving up; between them fetch, rebase, merge ledgers")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    git = Git(root, push_auth_env(token, os.environ.get("GITHUB_SERVER_URL") or "https://github.com"))
    # Without a record branch the record lands on the branch checked out (main, or master in a repository
    # made so), never on a `main` the repository may not have.
    branch = args.branch or os.environ.get("CAMPAIGNOPS_RECORD_BRANCH") or source_branch(git, args.remote)
    record = is_record_branch(git, branch)
    # Under every campaign's lock (as reconcile and notify): a ledger is never committed half-way through a save.
    lock_campaigns(root, campaign_names(root, [], True))
    if args.pull:
        if not record:
            print(f"{branch} is the checked-out branch: its ledgers are already here")
            return 0
        pulled = pull_records(git, branch, args.remote)
        if pulled is None:
            print(f"no record branch {branch} on {args.remote} yet: the checkout's ledgers are the starting point")
        else:
            print(f"took {len(pulled)} files from {args.remote} {branch}")
        return 0
    publish_to = publish_records if record else publish
    result = publish_to(git, args.message, args.paths, args.remote, branch, max(1, args.max_tries))
    if result.commit is None:
        print("nothing changed")
    else:
        print(f"pushed {result.commit[:12]} to {args.remote} {branch}{' (record branch)' if record else ''}"
              f"{f' after {result.tries} tries' if result.tries > 1 else ''}")
    for path in result.merged:
        print(f"  merged concurrent updates of {path}")
    for change in result.changes:
        print(f"  {change}")
    left = unpushed(git)
    if left:  # a record commit whose ledgers could not be carried: the record has not landed
        print(f"error: record commit(s) not pushed: {describe_unpushed(left)}; their ledgers could not be read "
              "to carry them (`git show` them, repair, then `campaign publish` again)", file=sys.stderr)
        return 1
    return 0
