"""`make demo`: the demo campaign end to end on the embedded default (Butler + bps + parsl), live."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

from ..adapters.folder_tracker import FolderTracker
from ..adapters.profile import ButlerUsage, output_runs, write_record
from ..campaign_spec.load import root_from
from ..campaign_spec.rules import rooted
from ..domain.states import RunState
from ..engine.notify import sync
from ..engine.observe import Change
from ..planning.advance import steps_done
from ..planning.checks import campaign_verdict
from ..planning.cost import cost_table, uses_from_quanta
from ..planning.cost import to_records as cost_records
from ..planning.profile import profiles, to_records
from ..views import checks as checks_view
from ..views import status_page, summary
from ..views.cost import cost_text
from ..views.profile import as_text
from ..workspace import Workspace, open_campaign
from . import repo as demo_repo
from .control import commit, error_lines, progress_line, write_pages
from .control import git as _git
from .control import say as _say

DEMO = "demo"
LOCAL_SERVICE = "campaignops.bps_plugins.local.LocalParslService"
# `--wms`: the profile the demo campaign runs on (both report through LOCAL_SERVICE).
DEMO_PROFILES = {"parsl": "local-parsl", "slurm": "local-slurm"}  # slurm: tests/cluster/slurm.sh start


def make_control_repo(source_root: Path, control: Path, butler_repo: Path, profile: str = "") -> Path:
    """A scratch control repository (a git repo) holding the demo campaign, so the demo's ledger,
    status pages and issues never touch the checkout. Paths that were relative to the checkout are
    made absolute in its copy of the campaign."""
    if control.exists():
        shutil.rmtree(control)
    (control / "campaigns").mkdir(parents=True)
    shutil.copytree(source_root / "campaigns" / "profiles", control / "campaigns" / "profiles")
    if (source_root / "campaigns" / "rules.yaml").exists():  # the shared failure rules
        shutil.copy2(source_root / "campaigns" / "rules.yaml", control / "campaigns" / "rules.yaml")
    shutil.copytree(source_root / "campaigns" / DEMO, control / "campaigns" / DEMO,
                    ignore=shutil.ignore_patterns("ledger.yaml", "ledger", "STATUS.md"))
    spec_file = control / "campaigns" / DEMO / "campaign.yaml"
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(spec_file)
    data["butler"]["repo"] = str(butler_repo)
    if profile:
        data["profile"] = profile
    pipeline = Path(data["pipeline"])
    if not pipeline.is_absolute():
        data["pipeline"] = str((source_root / pipeline).resolve())
    yaml.dump(data, spec_file)
    _git(control, "init", "-q", "-b", "main")
    commit(control, "demo campaign")
    return control


def _tell(ws: Workspace, change: Change) -> None:
    """A run's change as the cycle's look sees it; a failure with its first error lines."""
    _say(f"   {change}")
    if change.new == RunState.FAILED:
        _say(f"   !! {change.run_key} FAILED (attempt {change.attempt}); first error lines:")
        for line in error_lines(change)[:4]:
            _say(f"      | {line}")


def _notify(ws: Workspace, issues_dir: Path) -> list[str]:
    return sync(ws.campaign, ws.ledger, FolderTracker(issues_dir), plan=ws.plan)


def _profile(ws: Workspace, control: Path) -> str:
    """What the demo's quanta used (`campaign profile demo`), recorded for the campaign page."""
    reader = ButlerUsage(rooted(ws.campaign.butler_repo, control))
    try:
        quanta = reader.usage(output_runs(ws.ledger))
    finally:
        reader.close()
    found, cost = profiles(ws.campaign, quanta), cost_table(ws.ledger, uses_from_quanta(ws.ledger, quanta))
    write_record(control / "campaigns" / DEMO / status_page.PROFILE_FILE, ws.campaign.name, to_records(found),
                 cost_records(cost))
    return as_text(ws.campaign.name, found) + cost_text(cost)


def run_demo(source_root: Path, demo_dir: Path, *, registry: str | None = None, poll: float = 2.0,
             timeout: float = 900.0, profile: str = "") -> int:
    started = time.monotonic()
    demo_dir = demo_dir.resolve()
    butler_repo = demo_dir / "repo"
    _say(f"== 1/4 demo Butler repository at {butler_repo} ({'PostgreSQL' if registry else 'SQLite'})")
    demo_repo.build(butler_repo, registry=registry, force=True, progress=lambda m: _say(f"   {m}"))
    control = make_control_repo(source_root, demo_dir / "control", butler_repo, profile)
    workdir = demo_dir / "work"
    if workdir.exists():
        shutil.rmtree(workdir)
    issues_dir = control / "issues"
    _say(f"== 2/4 control repository {control} (a git repo, like this one); launch dirs in {workdir}")
    ws = open_campaign(control, DEMO, workdir=workdir, say=lambda m: _say(m))
    _say(f"   {len(ws.plan.runs)} runs over {len(ws.campaign.steps)} steps")
    _say("== 3/4 campaign apply, then campaign reconcile + notify every few seconds, as the runner's jobs do "
         "(the same cycle, engine/cycle.py: steps advance; the failure rules retry the failure, no command typed)")
    ws.ctx.save(ws.ledger)  # what `campaign apply` does first: the frozen groups, before anything is submitted
    last = ""
    while time.monotonic() - started < timeout:
        seen = ws.cycle(act=True, seen=lambda change: _tell(ws, change))
        for action in _notify(ws, issues_dir):  # the status job's `campaign notify`
            _say(f"   issue: {action}")
        line = progress_line(ws, started)
        if line.split("] ", 1)[1] != last:
            _say(line)
            last = line.split("] ", 1)[1]
        if not seen.working:
            break
        time.sleep(poll)
    for action in _notify(ws, issues_dir):
        _say(f"   issue: {action}")
    _say("== 4/4 result")
    _say(summary.step_table(ws.plan, ws.ledger))
    _say("")
    _say(summary.run_table(ws.campaign, ws.ledger))
    _say("")
    _say(summary.task_table(ws.ledger))
    _say("")
    _say("checks of the output (read from the Butler once each step was done; campaigns/demo/campaign.yaml):")
    _say(checks_view.campaign_checks(ws.plan, ws.ledger))
    _say("")
    _say(_profile(ws, control).rstrip())
    write_pages(control, ws)
    commit(control, "demo: ledger and status after the run")
    ledger_file = control / "campaigns" / DEMO / "ledger"
    done = all(r.state == RunState.SUCCEEDED for r in ws.ledger.runs) and len(ws.ledger.runs) == len(ws.plan.runs)
    checked = campaign_verdict(ws.plan, ws.ledger, steps_done(ws.plan, ws.ledger)).startswith("checks passed")
    first = next((r.current for r in ws.ledger.runs if r.current and r.current.submit_dir), None)
    _say("")
    _say(f"ledger:        {ledger_file}")
    _say(f"status page:   {control / 'campaigns' / DEMO / 'STATUS.md'}")
    _say(f"issues:        {issues_dir}")
    if first is not None:
        # bps picks its WMS from --wms-service-class or $BPS_WMS_SERVICE_CLASS (default: HTCondor).
        _say(f"bps report:    bps report --wms-service-class {LOCAL_SERVICE} --id {first.submit_dir}")
    _say(f"{'every demo step SUCCEEDED' if done else 'the demo did NOT finish'}"
         f"{', every check passed' if checked else ', checks did NOT pass'} in {time.monotonic() - started:.0f} s")
    return 0 if done and checked else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, help="where the demo lives (default: .demo under the repository root)")
    parser.add_argument("--registry", default=None, metavar="URL",
                        help="PostgreSQL registry for the demo Butler (default: SQLite), "
                        "e.g. postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between status checks (default 2)")
    parser.add_argument("--wms", choices=sorted(DEMO_PROFILES), default="parsl",
                        help="parsl: the thread pool on this machine (default); slurm: this machine's Slurm cluster "
                        "(start it first: tests/cluster/slurm.sh start; SLURM_CONF from `slurm.sh env`)")
    parser.add_argument("--multisite", action="store_true",
                        help="run the 3×3 multi-site campaign instead (campaigns/demo-3x3): three site Butlers, "
                        "per-site steps, transfers between the sites, a global step at the central site")


def main(args: argparse.Namespace) -> int:
    source_root = root_from(getattr(args, "root", None))
    demo_dir = Path(getattr(args, "dir", None) or source_root / ".demo")
    if getattr(args, "multisite", False):
        from .multisite import run_multisite

        return run_multisite(source_root, demo_dir, registry=getattr(args, "registry", None),
                             poll=getattr(args, "poll", 2.0))
    return run_demo(source_root, demo_dir, registry=getattr(args, "registry", None),
                    poll=getattr(args, "poll", 2.0), profile=DEMO_PROFILES[getattr(args, "wms", None) or "parsl"])


if __name__ == "__main__":
    sys.exit(main(argparse.Namespace(root=None, dir=None, registry=None)))
