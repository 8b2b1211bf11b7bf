"""`campaign profile CAMPAIGN`: per task, what its quanta used (peak memory, CPU and wall time: p50 / p95 /
max) against the memory requested, flags over- and under-requests, suggests a `resources.tasks` block;
`--write` puts it in the spec (comments kept), `--record` keeps the table for the campaign page."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...adapters.profile import ButlerUsage, output_runs, write_record
from ...ledger import store
from ...planning.profile import MARGIN, attempt_jobs, attempt_jobs_records, profiles, suggestion, to_records
from ...spec.load import campaign_path, load_campaign
from ...spec.resize import with_task_memory
from ...spec.rules import rooted
from ...views.profile import as_text, batch_text
from ...views.status_page import PROFILE_FILE
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + (
        " Reads the <task>_metadata datasets pipetask writes into each run's output collection, so it runs "
        "where the campaign's Butler is (the runner, or the demo here). PanDA and HTCondor usage from the "
        "WMS is not read yet. Slurm runs add a table of their batch jobs per attempt (elapsed, core-hours), "
        "as the scheduler accounted them when the status cycle saw them finish.")
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("--margin", type=float, default=MARGIN,
                        help=f"headroom over the p99 of peak memory for the suggestion (default {MARGIN})")
    parser.add_argument("--write", action="store_true",
                        help="set the suggested requestMemory of each task in the campaign's campaign.yaml "
                        "(comments kept): review it with `git diff` and open a pull request")
    parser.add_argument("--record", action="store_true",
                        help=f"write the table to campaigns/<name>/{PROFILE_FILE}, which the campaign's "
                        "STATUS.md shows (the status job's `campaign publish` commits it)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    campaign = load_campaign(campaign_path(args.campaign, root), root)
    assert campaign.path is not None
    ledger = store.load(campaign.path.parent, campaign.name)
    reader = ButlerUsage(rooted(campaign.butler_repo, root))
    try:
        found = profiles(campaign, reader.usage(output_runs(ledger)), args.margin)
    finally:
        reader.close()
    batch = attempt_jobs(ledger)
    if args.format == "json":
        print(json.dumps({"campaign": campaign.name, "tasks": to_records(found), "suggested": suggestion(found),
                          "batch_jobs": attempt_jobs_records(batch)}, indent=2))
    else:
        print(as_text(campaign.name, found), end="")
        if batch:
            print("\n" + batch_text(batch), end="")
    if args.record:
        path = campaign.path.parent / PROFILE_FILE
        if write_record(path, campaign.name, to_records(found)):
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


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
