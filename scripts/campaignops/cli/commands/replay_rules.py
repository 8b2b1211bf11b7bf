"""`campaign replay-rules --base REV [--head REV]`: when a change edits a failure rules file (campaigns/rules.yaml
or a campaign's own rules.yaml), replay the base revision's rules and the checkout's on every failed attempt the
ledgers record: decisions per rule (base -> this change) and the runs whose decision changes. Looks only."""

from __future__ import annotations

import argparse
import sys

from ...adapters.git.repo import Git
from ...adapters.git.rules import is_rules_file, rules_at
from ...campaign_spec.failure_rules import Rule, load_rules
from ...campaign_spec.load import all_campaign_paths, load_campaign
from ...domain.errors import CampaignError, GitError, SpecError
from ...ledger import store
from ...planning.replay import RecordedFailure, recorded_failures, replay
from ...views.replay import replay_markdown, replay_text
from ..common import changed_paths, root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + (
        " The new rules are the checkout's; the old ones are read from --base with `git show`. Every campaign "
        "with a ledger is replayed. Prints nothing (markdown) when no rules file changed, so the validate "
        "workflow can append it to every plan comment.")
    parser.add_argument("--base", required=True, help="the base commit (the pull request's base SHA, or e.g. main)")
    parser.add_argument("--head", default=None,
                        help="the head commit, checked out (default: compare --base with the working tree)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="markdown: the plan comment's section (default: text)")
    parser.add_argument("--always", action="store_true", help="replay even when no rules file changed")


def _changed(root_git: Git, args: argparse.Namespace) -> list[str] | None:
    if args.head:
        paths = changed_paths(root_git.cwd, args.base, args.head)
    else:
        try:
            paths = [p for p in root_git.out("diff", "--name-only", "-z", "--no-renames", args.base, "--").split("\0")
                     if p]
            paths += [p for p in root_git.out("ls-files", "-z", "--others", "--exclude-standard", "campaigns")
                      .split("\0") if p]
        except GitError as exc:
            print(f"error: cannot diff against {args.base}: {exc}", file=sys.stderr)
            return None
    return None if paths is None else sorted(p for p in set(paths) if is_rules_file(p))


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    git = Git(root)
    files = _changed(git, args)
    if files is None:
        return 1
    if not files and not args.always:
        print(f"no failure rules file changed against {args.base}: nothing to replay", file=sys.stderr)
        return 0
    found: list[RecordedFailure] = []
    old: dict[str, tuple[Rule, ...]] = {}
    new: dict[str, tuple[Rule, ...]] = {}
    for path in all_campaign_paths(root):
        if path.parent.parent.name != "campaigns":
            continue
        try:
            campaign = load_campaign(path, root)
            ledger = store.load(path.parent, campaign.name)
        except CampaignError as exc:  # `campaign validate` reports it; the replay goes on without it
            print(f"note: {path.parent.name} left out of the replay: {exc}", file=sys.stderr)
            continue
        failures = list(recorded_failures(campaign, ledger))
        if not failures:
            continue
        found += failures
        new[campaign.name] = load_rules(root, path.parent)
        try:
            old[campaign.name] = rules_at(git, args.base, path.parent.name)
        except SpecError as exc:
            print(f"note: {exc}; the base decides nothing for {campaign.name}", file=sys.stderr)
    result = replay(found, old, new)
    shown = files or ["no rules file"]
    print("\n".join(replay_markdown(result, shown, args.base)) if args.format == "markdown"
          else replay_text(result, shown, args.base))
    return 0
