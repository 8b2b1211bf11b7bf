"""The composition root's registries: each word a profile or the environment uses, mapped to the adapter
that serves it — WMS kinds, transfer kinds, issue trackers, retention back-ends.

Nothing outside this module tests which kind an adapter is: the port says what it needs to (`Wms.describe`).
Adding a WMS kind is one adapter module, one row of `WMS_KINDS` and one member of `domain.wms.WmsKind`
(whose words also fill the profile schema's enum); a test checks every kind has a row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from .adapters.bps.launcher import BpsWms
from .adapters.folder_tracker import FolderTracker
from .adapters.github.client import GitHubClient, token_from_env
from .adapters.github.tracker import GitHubTracker, state_path_for
from .adapters.lock import control_dir
from .adapters.panda.budget import DEFAULT_PER_HOUR, RequestBudget
from .adapters.panda.monitor import DEFAULT_TIMEOUT, BigPandaMonitor
from .adapters.panda.token import read_token
from .adapters.panda.wms import PandaWms
from .adapters.retention import ButlerRetention
from .adapters.slurm.scheduler import SlurmScheduler
from .adapters.slurm.wms import SlurmWms
from .domain.errors import ServiceError
from .domain.model import Campaign, Profile
from .domain.wms import WmsKind
from .ports import Tracker, Transfer, Wms

# ---- WMS kinds ---------------------------------------------------------------------------------------

WmsMaker = Callable[[Profile, Path, Mapping[str, str]], Wms]


def bps_wms(profile: Profile, workdir: Path, env: Mapping[str, str]) -> Wms:
    """bps for the profile's plugin (`wmsServiceClass`): launch, `bps report`, restart, cancel."""
    return BpsWms(dict(profile.bps)["wmsServiceClass"])


_MONITORS: dict[tuple[str, ...], PandaWms] = {}


def panda_wms(profile: Profile, workdir: Path, env: Mapping[str, str]) -> Wms:
    """PanDA: bps launches; with a BigPanDA monitor (profile `monitor.url` or $PANDAMON_URL) runs are observed
    in bulk through it, one client per monitor shared by the process's campaigns; without one, `bps report`."""
    service = dict(profile.bps)["wmsServiceClass"]
    monitor = dict(profile.monitor)
    url = env.get("PANDAMON_URL") or str(monitor.get("url") or "")
    if not url:
        return BpsWms(service)
    username = env.get("PANDAMON_USERNAME") or str(monitor.get("username") or "")
    per_hour = int(env.get("PANDAMON_REQUESTS_PER_HOUR") or monitor.get("requests_per_hour") or DEFAULT_PER_HOUR)
    token = env.get("PANDAMON_TOKEN", "")
    if not token and monitor.get("send_token"):
        found = read_token(env)
        token = found.value if found else ""
    where = workdir.resolve() / "panda-monitor" / f"budget-{urlsplit(url).netloc or 'monitor'}.json"
    key = (url, username, str(per_hour), token, str(where), service)
    if key not in _MONITORS:
        client = BigPandaMonitor(url, RequestBudget(where, per_hour), token=token,
                                 timeout=float(monitor.get("timeout") or DEFAULT_TIMEOUT))
        _MONITORS[key] = PandaWms(client, username=username, wms_service_class=service)
    return _MONITORS[key]


_SLURM: dict[str, SlurmWms] = {}


def slurm_wms(profile: Profile, workdir: Path, env: Mapping[str, str]) -> Wms:
    """bps + parsl on Slurm: the run's jobs read from the scheduler in bulk, one client per service class
    shared by the process's campaigns (one `squeue` per cycle for all of them)."""
    service = dict(profile.bps)["wmsServiceClass"]
    if service not in _SLURM:
        _SLURM[service] = SlurmWms(SlurmScheduler(env), service)
    return _SLURM[service]


WMS_KINDS: dict[WmsKind, WmsMaker] = {
    WmsKind.PANDA: panda_wms,
    WmsKind.HTCONDOR: bps_wms,
    WmsKind.PARSL: bps_wms,
    WmsKind.SLURM: slurm_wms,
}


def make_wms(profile: Profile, workdir: Path | None = None, env: Mapping[str, str] = os.environ) -> Wms:
    """The WMS adapter of a profile's kind."""
    return WMS_KINDS[profile.wms](profile, workdir or Path(".work"), env)


# ---- transfer kinds ----------------------------------------------------------------------------------

TransferMaker = Callable[[Sequence[Profile]], Transfer]


def _butler_transfer(profiles: Sequence[Profile]) -> Transfer:
    from .adapters.transfer.butler import ButlerTransfer  # the middleware only for multi-site campaigns

    return ButlerTransfer()


def _rucio_transfer(profiles: Sequence[Profile]) -> Transfer:
    from .adapters.transfer.rucio import RucioTransfer  # rucio-clients only where a profile asks for it

    return RucioTransfer.for_profiles(profiles)


TRANSFER_KINDS: dict[str, TransferMaker] = {"butler": _butler_transfer, "rucio": _rucio_transfer}


def transfers_of(campaign: Campaign) -> Callable[[str, str], Transfer] | None:
    """The transfer adapter between two sites: the kind both sites' profiles name (`transfer: {kind: …}`),
    else Butler-to-Butler (the embedded default). None outside multi-site campaigns."""
    if not campaign.multisite:
        return None
    kind_of = {p.name: (p.transfer.kind if p.transfer is not None else "butler") for p in campaign.site_profiles}
    # Built now, so a profile naming an unusable transfer (a bad rucio.cfg) stops the job before it acts.
    made = {kind: TRANSFER_KINDS[kind](campaign.site_profiles) for kind in {"butler", *kind_of.values()}}

    def between(source: str, destination: str) -> Transfer:
        kinds = {kind_of.get(source, "butler"), kind_of.get(destination, "butler")}
        return made[kinds.pop() if len(kinds) == 1 else "butler"]

    return between


# ---- issue trackers ----------------------------------------------------------------------------------

def github_pace_file(root: Path) -> Path:
    """Where the time of this checkout's last GitHub write is kept (writes paced across processes)."""
    return control_dir(root) / "github-writes.pace"


def tracker_for(root: Path, repo: str | None, folder: str | None,
                env: Mapping[str, str] = os.environ) -> tuple[Tracker, str]:
    """GitHub when a token is set (and no --folder), else a folder; with a sentence saying which."""
    if folder is None and token_from_env():
        repo = repo or env.get("GITHUB_REPOSITORY")
        if not repo:
            raise ServiceError("GITHUB_TOKEN is set but no repository is known: pass --repo OWNER/NAME "
                               "or set GITHUB_REPOSITORY (Actions sets it)")
        client = GitHubClient(pace_file=github_pace_file(root))
        workdir = Path(env.get("CAMPAIGNOPS_WORKDIR") or root / ".work")
        trusted = [t.strip() for t in env.get("CAMPAIGNOPS_TRUSTED_LOGINS", "").split(",") if t.strip()]
        tracker = GitHubTracker(client, repo, state_path=state_path_for(workdir, repo), trusted=trusted)
        return tracker, f"issues in {repo} ({client.base_url})"
    directory = Path(folder) if folder else root / ".demo" / "issues"
    why = "" if folder else " (no GITHUB_TOKEN / GH_TOKEN set)"
    return FolderTracker(directory), f"issues as files in {directory}{why}"


# ---- retention back-ends -----------------------------------------------------------------------------

def retention_backend(butler_repo: str) -> ButlerRetention:
    """Where expired RUN collections are removed: the campaign's Butler (`Butler.removeRuns`)."""
    return ButlerRetention(butler_repo)


__all__ = ["TRANSFER_KINDS", "WMS_KINDS", "github_pace_file", "make_wms", "retention_backend", "tracker_for", "transfers_of"]
