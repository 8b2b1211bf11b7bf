"""Which runner launches a campaign's runs: recorded in the ledger, so a second work directory never submits.

The launch directories (bps pids, logs, submit directories) of a campaign live in one work directory; a job
given another one (a second runner, a laptop `--workdir`) would find none of them and submit every run
again. So the first job that may launch records `own` with its runner (`host:workdir`) in the controls log;
a launching job from any other runner is refused naming both, until an operator moves the campaign with
`campaign ledger takeover` (recorded as `takeover`, with who and why). The campaign lock
(`adapters/lock.py`) makes reading and recording this one job at a time.
"""

from __future__ import annotations

from ..domain.errors import SubmitError
from ..ledger.records import Control, Ledger


class NotOwner(SubmitError):
    """A launching job from a runner/work directory other than the one the ledger records."""


def claim(ledger: Ledger, runner: str, *, by: str, now: str) -> Ledger:
    """The ledger with `runner` as the owner of its launches: unchanged when it already is, `own` recorded
    when no runner is yet; NotOwner when another runner owns them."""
    owner = ledger.owner
    if owner is None:
        return ledger.with_control(Control(now, by, "own", "campaign", "the first job that may launch its runs",
                                           runner=runner))
    if owner.runner == runner:
        return ledger
    host, _, workdir = owner.runner.partition(":")
    raise NotOwner(
        f"campaign {ledger.campaign}: its runs are launched from {owner.runner} (recorded by {owner.by} at "
        f"{owner.at}, `{owner.action}`); this job runs from {runner}. Nothing was submitted or recorded: its "
        f"launch directories are not here, so every run would be submitted a second time. Run it on {host} with "
        f"--workdir {workdir} (or CAMPAIGNOPS_WORKDIR={workdir}); if that runner is gone for good, move the "
        f"campaign here: `campaign ledger takeover {ledger.campaign} --reason '…'` (recorded with who and why)")


def take_over(ledger: Ledger, runner: str, *, by: str, reason: str, now: str) -> Ledger:
    """The ledger with `runner` owning the launches from now on, recorded as `takeover` (who, why, from
    which runner); unchanged when it already owns them."""
    owner = ledger.owner
    if owner is not None and owner.runner == runner:
        return ledger
    was = f" (launched from {owner.runner} until now)" if owner is not None else ""
    return ledger.with_control(Control(now, by, "takeover", "campaign", f"{reason}{was}", runner=runner))


__all__ = ["NotOwner", "claim", "take_over"]
