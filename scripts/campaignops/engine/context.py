"""What the submit and observe stages need from the world: the campaign, its WMS, where launches live, a clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ..domain.clock import utcnow
from ..domain.errors import SubmitError
from ..domain.model import Campaign
from ..domain.scope import Scope
from ..domain.stacks import Published, StackSource
from ..ledger import store
from ..ledger.records import Ledger
from ..ports import Measurements, Transfer, Wms


def workdir_for(root: Path, given: Path | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """Where launch directories live: `given` (--workdir), else $CAMPAIGNOPS_WORKDIR, else <root>/.work.

    On a GitHub Actions runner the launch directories (bps logs and pids that find a run again) must
    outlive the checkout, which actions/checkout cleans: there a workdir that is not set, or that is
    inside the checkout, is refused, since the next status job would take live runs for lost ones.
    """
    chosen = given or (Path(env["CAMPAIGNOPS_WORKDIR"]) if env.get("CAMPAIGNOPS_WORKDIR") else None)
    workdir = (chosen or root / ".work").resolve()
    if env.get("GITHUB_ACTIONS") == "true":
        how = ("set the repository variable CAMPAIGNOPS_WORKDIR (Settings → Secrets and variables → Actions → "
               "Variables) to a directory on the runner outside the checkout; the setup-campaignops action "
               "exports it")
        if chosen is None:
            raise SubmitError(f"CAMPAIGNOPS_WORKDIR is not set on this runner: {how}")
        if workdir.is_relative_to(root.resolve()):
            raise SubmitError(f"the launch directories {workdir} are inside the checkout {root}, which the next "
                              f"job cleans: {how}")
    return workdir


@dataclass
class Context:
    """What the submit and observe stages need from the world."""

    root: Path
    campaign: Campaign
    wms: Wms
    workdir: Path
    now: Callable[[], str] = utcnow
    say: Callable[[str], None] = print
    dry_run: bool = False
    may_launch: bool = True  # False for a look (`campaign status`): observe and record, never start bps
    # A `bps submit` still without a run id after this long is reported as hanging (it stays PENDING).
    submit_hang: timedelta = field(default_factory=lambda: timedelta(
        minutes=float(os.environ.get("CAMPAIGNOPS_SUBMIT_HANG_MINUTES") or 120)))
    saved: list[str] = field(default_factory=list)
    # Multi-site: the transfer adapter between two sites (source, destination); None outside multi-site work.
    transfer_for: Callable[[str, str], Transfer] | None = None
    # Multi-site: each site's own WMS (site profile name -> Wms); a site missing here uses `wms`.
    site_wms: Mapping[str, Wms] = field(default_factory=dict)
    # Whether the process a pid file records (pid, start time, boot) still runs: given by the composition root
    # (adapters.processes.running); None judges every recorded process ended.
    process_running: Callable[[Path], bool] | None = None
    # The checks of the output: opens a site's Butler (the site profile's repository, else the campaign's) for
    # reading; engine/checks.py closes it after the cycle's checks. None: this job cannot read it (checks stay due).
    measurements: Callable[[str], Measurements] | None = None
    # The stack tags a site's profile lists (adapters/stacks.published): a launch is refused for a tag its site lacks.
    # None: nothing is checked.
    stacks_at: Callable[[StackSource], Published] | None = None
    # A runner per facility: the site whose runs this job launches and follows (every site by default).
    scope: Scope = field(default_factory=Scope)
    runner: str = ""  # this runner and work directory, `host:workdir` (the heartbeat names it)

    def site_of(self, step: str, group: str) -> str:
        """The site (profile name) a run is placed at: its step's site or residency group, else the central one."""
        try:
            return self.campaign.step_site(self.campaign.step(step), group) or self.campaign.profile.name
        except KeyError:
            return self.campaign.profile.name

    def follows(self, site: str) -> bool:
        """Whether runs placed at `site` (a profile name; "" is the central site) are this job's."""
        return self.scope.follows(self.campaign, site)

    def follows_run(self, step: str, group: str) -> bool:
        return self.scope.follows_run(self.campaign, step, group)

    def wms_of(self, launch_dir: Path | str) -> Wms:
        """The WMS of the site whose run was launched in `launch_dir` (see `launch_dir`), else the campaign's:
        an unreachable site then makes only its own runs UNKNOWN."""
        if not self.site_wms or not str(launch_dir):
            return self.wms
        path = Path(launch_dir)
        try:
            site = self.campaign.step_site(self.campaign.step(path.parent.parent.name), path.parent.name)
        except KeyError:
            return self.wms
        return self.site_wms.get(site, self.wms)

    @property
    def campaign_dir(self) -> Path:
        assert self.campaign.path is not None
        return self.campaign.path.parent

    def save(self, ledger: Ledger) -> None:
        if self.dry_run:
            return
        moving = store.migrating(self.campaign_dir)
        if moving and not self.may_launch:
            # A look never migrates the record: the move is `campaign reconcile`'s (or an explicit command's)
            self.say(f"ledger: {self.campaign_dir / store.LEDGER_FILE} is in the single-file layout; this look "
                     f"records nothing (`campaign reconcile {self.campaign.name}` moves it into "
                     f"{self.campaign_dir / store.LEDGER_DIR}/ and records)")
            return
        lost = store.unwritten(self.campaign_dir) if not self.may_launch else []
        if lost:
            # Writing now would drop the files a save cut short never wrote from the index: a look leaves that
            # to the job that acts (or to `campaign ledger repair`), and records nothing this time.
            self.say(f"ledger: a save was cut short before writing {', '.join(e.name for e in lost)}; this look "
                     f"records nothing (`campaign reconcile {self.campaign.name}` or `campaign ledger repair "
                     f"{self.campaign.name} --apply` completes that save)")
            return
        if store.save(self.campaign_dir, ledger):
            self.saved.append(self.now())
            if moving:
                self.say(f"ledger: moved {self.campaign_dir / store.LEDGER_FILE} into "
                         f"{self.campaign_dir / store.LEDGER_DIR}/ (an index and one file per step and "
                         f"{store.RUNS_PER_FILE} runs, so each save writes only what changed); commit both")

    def launch_dir(self, run_key: str, attempt: int) -> Path:
        return self.workdir / self.campaign.name / run_key / f"a{attempt:02d}"
