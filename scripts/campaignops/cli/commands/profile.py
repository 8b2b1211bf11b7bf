"""`campaign profile CAMPAIGN`: per task, what its quanta used (peak memory, CPU and wall time: p50 / p95 /
max) against the memory requested, flags over- and under-requests, suggests a `resources.tasks` block; then the
cost per step and campaign (core-hours, CPU hours, peak memory, the share lost to failures) from what the WMS
reports (PanDA's job records through the monitor), else the quanta's metadata. `--write` puts the suggestion in
the spec (comments kept), `--record` keeps both tables for the campaign page."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ...adapters.profile import ButlerUsage, output_runs, write_record
from ...campaign_spec.load import campaign_path, load_campaign
from ...campaign_spec.resize import with_task_memory
from ...campaign_spec.rules import rooted
from ...domain.errors import WmsUnreachable
from ...domain.model import Campaign
from ...domain.usage import ResourceUse
from ...ledger import store
from ...ledger.records import Ledger
from ...planning.cost import cost_table, uses_from_batch_jobs, uses_from_quanta
from ...planning.cost import to_records as cost_records
from ...planning.profile import MARGIN, attempt_jobs, attempt_jobs_records, profiles, suggestion, to_records
from ...ports import Submission, usage_of
from ...registry import make_wms
from ...views.cost import cost_text
from ...views.profile import as_text, batch_text
from ...views.status_page import PROFILE_FILE
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + (
        " Reads the <task>_metadata datasets pipetask writes into each run's output collection, so it runs "
        "where the campaign's Butler is (the runner, or the demo here). The cost table takes each attempt's "
        "use from its WMS where the WMS reports it (PanDA: the monitor's job records, 2 requests an ended "
        "attempt; Slurm: the batch jobs the status cycle saw finish, elapsed × cores), else from those "
        "quanta's metadata. Slurm runs add a table of their batch jobs per attempt.")
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("--margin", type=float, default=MARGIN,
                        help=f"headroom over the p99 of peak memory for the suggestion (default {MARGIN})")
    parser.add_argument("--write", action="store_true",
                        help="set the suggested requestMemory of each task in the campaign's campaign.yaml "
                        "(comments kept): review it with `git diff` and open a pull request")
    parser.add_argument("--record", action="store_true",
                        help=f"write the table to campaigns/<name>/{PROFILE_FILE}, which the campaign's "
                        "STATUS.md shows (the status job's `campaign publish` commits it)")
    parser.add_argument("--no-wms", action="store_true",
                        help="cost from the quanta's metadata only: ask the WMS (e.g. the PanDA monitor) nothing")
    parser.add_argument("--workdir", default=None,
                        help="the runner's work directory (the PanDA monitor's request budget; default "
                        "$CAMPAIGNOPS_WORKDIR or <root>/.work)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    campaign = load_campaign(campaign_path(args.campaign, root), root)
    assert campaign.path is not None
    ledger = store.load(campaign.path.parent, campaign.name)
    reader = ButlerUsage(rooted(campaign.butler_repo, root))
    try:
        quanta = reader.usage(output_runs(ledger))
    finally:
        reader.close()
    found = profiles(campaign, quanta, args.margin)
    uses = (uses_from_quanta(ledger, quanta) + uses_from_batch_jobs(ledger)
            + ([] if args.no_wms else _wms_uses(campaign, ledger, root, args)))
    cost = cost_table(ledger, uses, [s.name for s in campaign.steps])
    batch = attempt_jobs(ledger)
    if args.format == "json":
        print(json.dumps({"campaign": campaign.name, "tasks": to_records(found), "suggested": suggestion(found),
                          "cost": cost_records(cost), "batch_jobs": attempt_jobs_records(batch)}, indent=2))
    else:
        print(as_text(campaign.name, found), end="")
        print(cost_text(cost), end="")
        if batch:
            print("\n" + batch_text(batch), end="")
    if args.record:
        path = campaign.path.parent / PROFILE_FILE
        if write_record(path, campaign.name, to_records(found), cost_records(cost)):
            print(f"recorded in {_shown(path, root)}")
    if args.write:
        changes = suggestion(found)
        if not changes:
            print("nothing to write: every task's request matches its suggestion")
            return 0
        spec_file = campaign.path
        spec_file.write_text(with_task_memory(spec_file.read_text(encoding="utf-8"), changes), encoding="utf-8")
        count = sum(len(v) for v in changes.values())
        print(f"wrote {count} task memory request(s) into {_shown(spec_file, root)}: review with `git diff`, "
              "then open a pull request")
        submitted = sorted({r.step for r in ledger.runs if r.step in changes and r.attempts})
        if submitted:
            # The record must not silently disagree with the spec: `campaign validate` refuses this edit
            # until it says what it means for the runs already made.
            print(f"note: {', '.join(submitted)} already ran: this changes submitted runs, so `campaign validate` "
                  "asks for `supersede:` on those steps (a new attempt with the new memory), or put the "
                  "requests in the template for the next instance instead")
    return 0


def _wms_uses(campaign: Campaign, ledger: Ledger, root: Path, args: argparse.Namespace) -> list[ResourceUse]:
    """Each ended attempt's use as its site's WMS reports it; [] (said) when it reports none or cannot be asked."""
    workdir = Path(args.workdir) if args.workdir else Path(os.environ.get("CAMPAIGNOPS_WORKDIR") or root / ".work")
    found: list[ResourceUse] = []
    site_of = {s.name: s.site or "" for s in campaign.steps}  # a step's site ("": the central one)
    by_site: dict[str, list[tuple[str, int, Submission]]] = {}
    for r in ledger.runs:
        for a in r.attempts:
            if a.wms_id and a.state.finished:
                by_site.setdefault(site_of.get(r.step, ""), []).append(
                    (r.key, a.number, Submission(a.submit_dir, a.wms_id, a.submitted_at)))
    for site, attempts in by_site.items():
        wms = usage_of(make_wms(campaign.site_profile(site), workdir, os.environ))
        if wms is None:
            continue
        try:
            found += wms.resource_use(attempts)
        except WmsUnreachable as exc:
            print(f"note: the cost of the runs at {site or campaign.central} is from their quanta's metadata only: "
                  f"{exc}", file=sys.stderr)
    return found


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
