"""`make demo-multisite`: the 3×3 campaign end to end on the embedded default — three site Butlers, real bps at
every site, transfer stages between the sites' Butlers, final coadds of all six patches counted at the centre."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from ..adapters.folder_tracker import FolderTracker
from ..adapters.transfer.inventory import count_at
from ..domain.states import RunState, TransferState
from ..engine.notify import sync
from ..engine.observe import Change
from ..views import summary
from ..views.plan_text import transfer_lines
from ..workspace import Workspace, open_campaign
from .control import commit, error_lines, git, progress_line, write_pages
from .control import say as _say
from .sites import SITE_PATCHES, SITES, build_sites

CAMPAIGN = "demo-3x3"
FINAL = "demo_coadd"  # the final outputs that must all end at the central site
CENTRAL = "local-usdf"


def make_control_repo(source_root: Path, control: Path, sites_root: Path) -> Path:
    """A scratch git repository with the 3×3 campaign and its site profiles, each site profile pointing at the
    Butler built for it under `sites_root` (absolute), so the demo never touches the checkout."""
    if control.exists():
        shutil.rmtree(control)
    (control / "campaigns").mkdir(parents=True)
    shutil.copytree(source_root / "campaigns" / "profiles", control / "campaigns" / "profiles")
    shutil.copy2(source_root / "campaigns" / "rules.yaml", control / "campaigns" / "rules.yaml")  # failure rules
    shutil.copytree(source_root / "campaigns" / CAMPAIGN, control / "campaigns" / CAMPAIGN,
                    ignore=shutil.ignore_patterns("ledger", "STATUS.md", "*.svg"))
    yaml = YAML()
    yaml.preserve_quotes = True
    for site in SITES:
        path = control / "campaigns" / "profiles" / f"local-{site}.yaml"
        data = yaml.load(path)
        data["butler"]["repo"] = str(sites_root / site / "repo")
        yaml.dump(data, path)
    spec = control / "campaigns" / CAMPAIGN / "campaign.yaml"
    data = yaml.load(spec)
    data["butler"]["repo"] = str(sites_root / "usdf" / "repo")
    data["pipeline"] = str((source_root / data["pipeline"]).resolve())
    yaml.dump(data, spec)
    git(control, "init", "-q", "-b", "main")
    commit(control, "3x3 demo campaign")
    return control


def _progress(ws: Workspace, started: float) -> str:
    moved = sum(t.state == TransferState.DONE for t in ws.ledger.transfers)
    return progress_line(ws, started, [f"transfers {moved}/{len(ws.plan.transfers)}"])


def cycle(ws: Workspace, say: Callable[[str], None]) -> bool:
    """One `campaign reconcile` (engine/cycle.py): every site's runs refreshed, what a step needs moved, the
    failure rules acting on a failure at its site, what is ready submitted. True while work remains."""
    site = {run.key: run.site for run in ws.plan.runs}

    def tell(change: Change) -> None:
        say(f"   {change}")
        if change.new == RunState.FAILED:
            say(f"   !! {change.run_key} FAILED at {site.get(change.run_key, '?')} (attempt {change.attempt}): "
                f"{error_lines(change)[0]}")

    done = ws.cycle(act=True, seen=tell)
    for line in done.moved:
        say(f"   {line}")
    return done.working


def final_counts(ws: Workspace) -> dict[str, int]:
    """demo_coadd datasets in the central Butler's output chain, per site whose patches they cover."""
    repo = ws.campaign.repo_at(CENTRAL)
    return {site: count_at(repo, [FINAL], [ws.campaign.output],
                           f"skymap='demo_sites' AND patch IN ({', '.join(map(str, SITE_PATCHES[site]))})")
            for site in SITES}


def run_multisite(source_root: Path, demo_dir: Path, *, registry: str | None = None, poll: float = 2.0,
                  timeout: float = 1200.0, say: Callable[[str], None] = _say) -> int:
    started = time.monotonic()
    demo_dir = demo_dir.resolve()
    sites_root = demo_dir / "sites"
    say(f"== 1/4 three site Butlers under {sites_root} ({'PostgreSQL' if registry else 'SQLite'})")
    build_sites(sites_root, registry=registry, force=True, progress=lambda m: say(f"   {m}"))
    control = make_control_repo(source_root, demo_dir / "control-3x3", sites_root)
    workdir = demo_dir / "work-3x3"
    if workdir.exists():
        shutil.rmtree(workdir)
    say(f"== 2/4 control repository {control}; launch dirs in {workdir}")
    ws = open_campaign(control, CAMPAIGN, workdir=workdir, say=say)
    ws.ctx.save(ws.ledger)  # the residency groups each site's Butler gave, frozen before anything runs
    for run in ws.plan.runs:
        say(f"   {run.key} @ {run.site}: {run.data_query}")
    for line in transfer_lines(ws.plan):
        say(f"   transfer {line}")
    say("== 3/4 campaign reconcile every few seconds: per-site steps, transfers, the global step, the fan-out back")
    last = ""
    while time.monotonic() - started < timeout:
        working = cycle(ws, say)
        line = _progress(ws, started)
        if line.split("] ", 1)[1] != last:
            say(line)
            last = line.split("] ", 1)[1]
        if not working:
            break
        time.sleep(poll)
    for action in sync(ws.campaign, ws.ledger, FolderTracker(control / "issues")):
        say(f"   issue: {action}")
    say("== 4/4 result")
    say(summary.step_table(ws.plan, ws.ledger))
    for t in ws.ledger.transfers:
        say(f"   transfer {t.key}: {t.state.value}, {t.arrived}/{t.datasets} datasets, {t.bytes} bytes")
    counts = final_counts(ws)
    for site, n in counts.items():
        say(f"   {FINAL} at the central site for {site}'s patches {SITE_PATCHES[site]}: {n}")
    write_pages(control, ws)
    commit(control, "3x3 demo: ledger and status after the run")
    runs_done = all(r.state == RunState.SUCCEEDED for r in ws.ledger.runs) and len(ws.ledger.runs) == len(ws.plan.runs)
    moved = len(ws.ledger.transfers) == len(ws.plan.transfers) and all(
        t.state == TransferState.DONE for t in ws.ledger.transfers)
    every_patch = all(n == 2 * len(SITE_PATCHES[site]) for site, n in counts.items())  # two bands per patch
    say(f"status pages:  {control / 'STATUS.md'}, {control / 'sites'}/")
    say(f"ledger:        {control / 'campaigns' / CAMPAIGN / 'ledger'}/")
    ok = runs_done and moved and every_patch
    verdict = ("the 3x3 campaign finished: every run SUCCEEDED, every transfer verified, the central Butler "
               "holds" if ok else "the 3x3 demo did NOT finish:")
    say(f"{verdict} {sum(counts.values())} {FINAL} of 6 patches × 2 bands, in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1
