"""A runner per facility (issue 22): three runners of the 3×3 campaign on one machine, each in a mount namespace
where only its own site's Butler is there (`unshare -rm`, the other sites' directories covered by an empty one),
each doing the status job scoped to its site (tests/fakes/site_runner.py: reconcile `--site`, then `campaign
publish` to one shared remote, the three at once so their pushes race). Each submits only its own site's runs,
every run is submitted once, the published ledger merges all three, and a runner that stops shows as silent on
its site page, its runs not followed — never FAILED.

The WMS is file-backed (tests/fakes/file_wms.py): launches need not be real bps here (the 3×3 demo with real bps
is tests/demo/test_multisite_real.py), and the in-memory WMS cannot outlive a runner's process."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaignops.adapters.pipeline_graph import write_graph
from campaignops.campaign_spec.load import campaign_path, load_campaign
from campaignops.demo.control import commit
from campaignops.demo.multisite import CAMPAIGN, make_control_repo
from campaignops.demo.sites import build_sites
from campaignops.domain.states import RunState
from campaignops.ledger import store
from campaignops.views import pages
from fakes import file_wms

ROOT = Path(__file__).resolve().parents[2]
RUNNERS = {"local-usdf": "usdf", "local-frdf": "frdf", "local-ukdf": "ukdf"}  # site profile -> its Butler folder
T0, T1, T2, T3 = "2026-12-01T00:00:00Z", "2026-12-01T00:15:00Z", "2026-12-01T00:30:00Z", "2026-12-01T04:00:00Z"


def _unshare_works() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [pytest.mark.slow,  # three site Butlers, eleven status jobs as processes: ~20 s of CPU
              pytest.mark.skipif(not _unshare_works(), reason="needs `unshare -rm` (user + mount namespaces)")]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class Facilities:
    """Three site Butlers, the control repository on a bare remote, and per runner a checkout and a work dir."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sites = tmp / "sites"
        build_sites(self.sites)
        control = make_control_repo(ROOT, tmp / "control", self.sites)
        # The pipeline graph committed with the campaign (`campaign plan --write-graph`): the runners read it
        # rather than import the middleware's pipeline code in every job.
        write_graph(load_campaign(campaign_path(CAMPAIGN, control), control), control)
        commit(control, "pipeline graph")
        self.origin = tmp / "origin.git"
        git(tmp, "init", "-q", "--bare", "-b", "main", str(self.origin))
        git(control, "push", "-q", str(self.origin), "main")
        self.empty = tmp / "empty"
        self.empty.mkdir()
        for site in RUNNERS:
            git(tmp, "clone", "-q", str(self.origin), str(self.checkout(site)))
            self.workdir(site).mkdir(parents=True)

    def checkout(self, site: str) -> Path:
        return self.tmp / site / "checkout"

    def workdir(self, site: str) -> Path:
        return self.tmp / site / "work"

    def status_jobs(self, sites: list[str], now: str) -> dict[str, dict[str, object]]:
        """One status job of each runner in `sites`, all at once; each sees only its own site's Butler."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "scripts")]),
               "GITHUB_ACTOR": "runner-bot"}
        env.pop("GITHUB_ACTIONS", None)
        procs = {}
        for site in sites:
            hidden = [self.sites / other for s, other in RUNNERS.items() if s != site]
            mounts = " && ".join(f"mount --bind {shlex.quote(str(self.empty))} {shlex.quote(str(h))}" for h in hidden)
            command = shlex.join([sys.executable, str(ROOT / "tests" / "fakes" / "site_runner.py"),
                                  str(self.checkout(site)), str(self.workdir(site)), site, now, str(self.sites)])
            procs[site] = subprocess.Popen(["unshare", "-rm", "sh", "-c", f"{mounts} && exec {command}"], env=env,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said = {}
        for site, proc in procs.items():
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, f"{site}: {err}"
            said[site] = json.loads(out.strip().splitlines()[-1])
        return said

    def published(self) -> Path:
        """A fresh clone of what the remote holds now."""
        target = self.tmp / "published"
        if target.exists():
            git(target, "pull", "-q", "--ff-only")
        else:
            git(self.tmp, "clone", "-q", str(self.origin), str(target))
        return target


def test_three_runners_each_seeing_only_its_site_submit_its_runs_once_and_a_silent_one_shows_as_such(
        tmp_path: Path) -> None:
    f = Facilities(tmp_path)

    first = f.status_jobs(list(RUNNERS), T0)
    for site, folder in RUNNERS.items():
        assert first[site]["visible"] == [folder]  # the other sites' Butlers are not there for this runner
        assert file_wms.launches(f.workdir(site)) == {f"step1/{site}": 1}  # its residency share, frozen by it
        file_wms.finish(f.workdir(site), RunState.SUCCEEDED)

    # Each sees its own step 1 succeed; step 2 waits for the whole of step 1, which the others record.
    second = f.status_jobs(list(RUNNERS), T1)
    assert all(s["submitted"] == 0 for s in second.values())
    # Their updates merged, each submits its own share of step 2.
    third = f.status_jobs(list(RUNNERS), T2)
    for site in RUNNERS:
        assert third[site]["submitted"] == 1
        assert file_wms.launches(f.workdir(site)) == {f"step1/{site}": 1, f"step2/{site}": 1}
        file_wms.finish(f.workdir(site), RunState.SUCCEEDED)

    # The UKDF runner stops; hours later the others go on. The global step waits for transfers into USDF, which
    # no runner reaches both ends of (no profile says `butler.reaches`): none is started.
    fourth = f.status_jobs(["local-usdf", "local-frdf"], T3)
    assert all(s["submitted"] == 0 and s["moved"] == [] for s in fourth.values())

    # Every run submitted exactly once, by its own site's runner only.
    everywhere: dict[str, int] = {}
    for site in RUNNERS:
        for key, n in file_wms.launches(f.workdir(site)).items():
            everywhere[key] = everywhere.get(key, 0) + n
    assert everywhere == {f"{step}/{site}": 1 for step in ("step1", "step2") for site in RUNNERS}

    # The published ledger holds all three runners' updates, merged on their raced pushes.
    published = f.published()
    ledger = store.load(published / "campaigns" / CAMPAIGN, CAMPAIGN)
    states = {r.key: (len(r.attempts), r.state) for r in ledger.runs}
    assert states == {**{f"{step}/{site}": (1, RunState.SUCCEEDED) for step in ("step1", "step2") for site in RUNNERS},
                      "step2/local-ukdf": (1, RunState.PENDING)}  # submitted, never seen again by its silent runner
    assert {step for step, _ in ledger.frozen_groups} == {f"{step}@{site}" for step in ("step1", "step2", "step3")
                                                          for site in RUNNERS}
    owners = ledger.site_owners()
    assert set(owners) == {f"site:{site}" for site in RUNNERS} and len({o.runner for o in owners.values()}) == 3
    assert ledger.owner is None and ledger.transfers == ()
    # each site's preflight was read by that site's own runner (the central one cannot see the others' Butlers)
    preflights = {site: ledger.check(f"preflight/demo_raw@{site}") for site in RUNNERS}
    assert all(c is not None and c.verdict == "pass" for c in preflights.values()), preflights
    assert {s: c.at for s in ("USDF", "FrDF", "UKDF") for c in (ledger.last_seen(s),) if c} == {
        "USDF": T3, "FrDF": T3, "UKDF": T0}
    jobs = (*first.values(), *second.values(), *third.values(), *fourth.values())
    merged = [m for s in jobs for m in s["merged"]]  # type: ignore[attr-defined]
    assert merged, "the three runners' pushes never raced: the ledger merge was not exercised"

    # The site pages, as the next status job renders them at T3.
    campaign = load_campaign(campaign_path(CAMPAIGN, published), published)
    now = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    out = pages.render_all(pages.model([pages.Held(campaign, ledger)], published, now))
    ukdf, frdf = out["sites/UKDF.md"], out["sites/FrDF.md"]
    assert "Runner silent since 2026-12-01 00:00 UTC" in ukdf  # its last heartbeat (recorded once an hour)
    assert "`step2/local-ukdf` | not followed (runner silent since 2026-12-01 00:00 UTC" in ukdf
    assert "FAILED" not in ukdf and "| 0 |" in ukdf  # no failed run counted for it
    assert "silent" not in frdf
