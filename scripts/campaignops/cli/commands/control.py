"""`campaign control ACTION CAMPAIGN [TARGET]`: every per-run action and operator control behind one
command, for the `retry` workflow's dispatch form (one command a step): retry, more-memory and rescue go
to `campaign retry`; resubmit, cancel, skip, accept, reopen, hold and resume to their own commands; confirm lets a
failure rule's first decision act in a campaign with `autopilot: confirm-new-rules`."""

from __future__ import annotations

import argparse

from ...domain.actions import LAUNCHING
from ...domain.errors import SubmitError
from ..common import add_site_argument
from . import operate, retry

RETRIES = LAUNCHING
CONTROLS = ("resubmit", "cancel", "skip", "accept", "reopen", "hold", "resume", "confirm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=(*RETRIES, *CONTROLS), help="what to do")
    parser.add_argument("campaign", help="campaign name")
    parser.add_argument("target", nargs="?", default="",
                        help="the run STEP/GROUP (cancel also takes a step or `campaign`; hold / resume take none)")
    parser.add_argument("--reason", default="", help="why (required by resubmit, cancel, skip, accept, hold, confirm)")
    parser.add_argument("--by", default=None, help="who (default: $GITHUB_ACTOR, else git's user.name)")
    parser.add_argument("--memory-multiplier", default="2", metavar="F", help="for more-memory (default 2)")
    parser.add_argument("--workdir", default=None,
                        help="launch directories (default $CAMPAIGNOPS_WORKDIR or <root>/.work)")
    add_site_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.action not in ("hold", "resume") and not args.target:
        raise SubmitError(f"{args.action} needs the run, STEP/GROUP (as its issue or STATUS.md names it)")
    common = {"root": getattr(args, "root", None), "debug": getattr(args, "debug", False), "dry_run": False,
              "workdir": args.workdir, "campaign": args.campaign, "site": args.site}
    if args.action in RETRIES:
        try:
            factor = float(args.memory_multiplier) if args.action == "more-memory" else None
        except ValueError as exc:
            raise SubmitError(f"--memory-multiplier must be a number, got {args.memory_multiplier!r}") from exc
        return retry.run(argparse.Namespace(**common, run=args.target, action=args.action,
                                            memory_multiplier=factor, reason=args.reason, by=args.by))
    return operate.run(argparse.Namespace(**common, command=args.action, run=args.target, target=args.target,
                                          reason=args.reason, by=args.by))
