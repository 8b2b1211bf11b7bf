"""Which runner launches a campaign's runs: recorded in the ledger, so a second work directory never submits.

The launch directories (bps pids, logs, submit directories) of a campaign live in one work directory; a job
given another one (a second runner, a laptop `--workdir`) would find none of them and submit every run
again. So the first job that may launch records `own` with its runner (`host:workdir`) in the controls log;
a launching job from any other runner is refused naming both, until an operator moves the campaign with
`campaign ledger takeover` (recorded as `takeover`, with who and why). With one runner per facility
(`--site`), each owns its own site of the campaign (`site:<profile>`). The campaign lock
(`adapters/lock.py`) makes reading and recording this one job at a time.
"""

from __future__ import annotations

from ..domain.errors import SubmitError
from ..ledger.records import Control, Ledger


class NotOwner(SubmitError):
    """A launching job from a runner/work directory other than the one the ledger records."""


def claim(ledger: Ledger, runner: str, *, by: str, now: str, sites: tuple[str, ...] = ()) -> Ledger:
    """The ledger with `runner` as the owner of its launches: unchanged when it already is, `own` recorded
    when no runner is yet; NotOwner when another runner owns them. With `sites` (a runner per facility), the
    owner of each of those sites (`site:<profile>`): three facilities' runners of one campaign own a site each,
    and a runner of the whole campaign and a runner of one of its sites refuse each other."""
    if not sites:
        for target, owner in ledger.site_owners().items():
            if owner.runner != runner:
                _refuse(ledger, owner, runner, f"the runs at {target.removeprefix('site:')}", target,
                        note=" This job follows every site, and the campaign has a runner per facility: give it "
                        "`--site` (or set CAMPAIGNOPS_SITE) on each facility's runner.")
        return _claim_target(ledger, "campaign", runner, by=by, now=now)
    whole = ledger.owner
    for site in sites:
        target = f"site:{site}"
        if ledger.owner_of(target) is None and whole is not None and whole.runner != runner:
            _refuse(ledger, whole, runner, f"its runs (every site, {site} included)", target)
        ledger = _claim_target(ledger, target, runner, by=by, now=now)
    return ledger


def _claim_target(ledger: Ledger, target: str, runner: str, *, by: str, now: str) -> Ledger:
    owner = ledger.owner_of(target)
    if owner is None:
        what = "the first job that may launch its runs" if target == "campaign" else \
            f"the first job that may launch its runs at {target.removeprefix('site:')}"
        return ledger.with_control(Control(now, by, "own", target, what, runner=runner))
    if owner.runner == runner:
        return ledger
    _refuse(ledger, owner, runner, "its runs" if target == "campaign" else
            f"its runs at {target.removeprefix('site:')}", target)
    raise AssertionError  # _refuse raises


def _refuse(ledger: Ledger, owner: Control, runner: str, what: str, target: str, note: str = "") -> None:
    host, _, workdir = owner.runner.partition(":")
    site = "" if target == "campaign" else f" --site {target.removeprefix('site:')}"
    raise NotOwner(
        f"campaign {ledger.campaign}: {what} are launched from {owner.runner} (recorded by {owner.by} at "
        f"{owner.at}, `{owner.action}`); this job runs from {runner}. Nothing was submitted or recorded: its "
        f"launch directories are not here, so every run would be submitted a second time. Run it on {host} with "
        f"--workdir {workdir} (or CAMPAIGNOPS_WORKDIR={workdir}); if that runner is gone for good, move the "
        f"campaign here: `campaign ledger takeover {ledger.campaign}{site} --reason '…'` (recorded with who and why)."
        + note)


def take_over(ledger: Ledger, runner: str, *, by: str, reason: str, now: str, sites: tuple[str, ...] = ()) -> Ledger:
    """The ledger with `runner` owning the launches from now on (of the whole campaign, or of each of `sites`),
    recorded as `takeover` (who, why, from which runner); unchanged when it already owns them."""
    for target in [f"site:{s}" for s in sites] or ["campaign"]:
        owner = ledger.owner_of(target)
        if owner is not None and owner.runner == runner:
            continue
        previous = owner or (ledger.owner if target != "campaign" else None)
        was = f" (launched from {previous.runner} until now)" if previous is not None else ""
        ledger = ledger.with_control(Control(now, by, "takeover", target, f"{reason}{was}", runner=runner))
    return ledger


__all__ = ["NotOwner", "claim", "take_over"]
