"""`campaign retention plan|apply`: which RUN collections the campaigns' retention policies expire, and
their removal from the Butler on the runner, each removal recorded in the campaign's ledger."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from ...adapters.lock import lock_campaign
from ...campaign_spec.rules import rooted
from ...domain.errors import CampaignError
from ...engine import retention
from ...engine.context import workdir_for
from ...planning.retention import Instance, RetentionPlan, plan_retention
from ...registry import retention_backend
from ...views.retention import as_json, as_markdown, as_text
from ..common import root_of

HELP = """Policies live in each campaign's `retention:` block: keep_days (after the campaign's end),
keep_last (newest instances of a recurring campaign), keep_final (default true: keep the runs the results
are made of), protect (chains whose runs are never removed). A campaign with a run in progress is never
touched. `plan` only looks (no Butler needed); `apply` removes on the runner and records each removal in
campaigns/<name>/ledger.yaml (commit it with `campaign publish`)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + " " + HELP
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    plan = sub.add_parser("plan", help="show what the policies expire now (looks only)",
                          description="Show, per campaign, the RUN collections its retention policy expires "
                          "now and what it keeps and why. Looks only: no Butler is opened.")
    apply = sub.add_parser("apply", help="remove the expired RUN collections from the Butler and record them",
                           description="Remove the RUN collections the policies expire with the Butler's own "
                           "removeRuns (unlinked from the campaign's output chain; a run any other or a "
                           "protected chain holds is kept) and record each removal in the ledger.")
    for p in (plan, apply):
        p.add_argument("campaigns", nargs="*", metavar="CAMPAIGN",
                       help="campaign names (default: every campaign; instances of one template are "
                       "always read together for keep_last)")
        p.add_argument("--all", action="store_true",
                       help="every campaign under campaigns/ (as with no name; what the scheduled housekeeping says)")
        p.add_argument("--now", type=_time, default=None,
                       help="the time to plan for, ISO 8601 (default: now); e.g. to see next month's removals")
    plan.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                      help="text for a terminal, markdown for a PR comment or job summary, json for tools")
    apply.add_argument("--dry-run", action="store_true",
                       help="open the Butler and say what would be removed and what its chains keep; change nothing")
    apply.add_argument("--workdir", type=Path, default=None,
                       help="where the per-campaign locks live (default: $CAMPAIGNOPS_WORKDIR, else .work)")


def _time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-01T06:00:00Z)") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read_instances(root: Path) -> list[Instance]:
    """Every readable campaign; an unreadable one is reported on stderr and left alone."""
    return retention.read_instances(root, lambda m: print(f"warning: {m}", file=sys.stderr))


def _check_names(names: list[str], instances: list[Instance]) -> None:
    known = {i.campaign.name for i in instances}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CampaignError(f"no readable campaign named {', '.join(unknown)} under campaigns/ "
                            f"(known: {', '.join(sorted(known)) or 'none'})")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    now = args.now or datetime.now(UTC)
    instances = read_instances(root)
    if args.all and args.campaigns:
        raise CampaignError("give campaign names or --all, not both")
    names = None if args.all else (args.campaigns or None)
    if names:
        _check_names(names, instances)
    plan = plan_retention(instances, now)
    if args.action == "plan":
        out = {"text": as_text, "markdown": as_markdown, "json": as_json}[args.format](plan, names)
        print(out or "No campaign shown has a retention policy.\n", end="")
        return 0
    return _apply(root, args, instances, plan, now, names)


def _apply(root: Path, args: argparse.Namespace, instances: list[Instance], plan: RetentionPlan,
           now: datetime, names: list[str] | None) -> int:
    by_name = {i.campaign.name: i for i in instances}
    targets = sorted({e.campaign for e in plan.expired if names is None or e.campaign in names})
    if not targets:
        print(f"nothing expires at {plan.now}; `campaign retention plan` says what each campaign keeps and why")
        return 0
    removed_runs = removed_datasets = kept = 0
    for name in targets:
        if not args.dry_run:
            lock_campaign(workdir_for(root, args.workdir), name, root=root)
        inst = by_name[name]
        butler = retention_backend(rooted(inst.campaign.butler_repo, root))
        try:
            outcomes = retention.remove_expired(name, instances, now, butler, dry_run=args.dry_run)
        finally:
            butler.close()
        print(f"{name}:")
        for o in outcomes:
            count = f", {o.datasets} dataset(s)" if o.removed or o.why == "would be removed" else ""
            print(f"  {o.run}: {o.why}{count}")
        going = [o for o in outcomes if o.removed or o.why == "would be removed"]
        removed_runs += len(going)
        removed_datasets += sum(o.datasets for o in going)
        kept += sum(1 for o in outcomes if o.why.startswith("kept"))
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {removed_runs} RUN collection(s), {removed_datasets} dataset(s); {kept} kept by their chains"
          + ("" if args.dry_run else "; removals recorded in the ledgers (`campaign publish` commits them)"))
    return 0
