"""One reconcile cycle: look at a campaign, then (when the job may) act on what was seen.

This is the one place the order of the stages is written. `campaign status` runs it as a look,
`campaign reconcile` / `status --advance` (the runner's status job) and `campaign apply` as look + act,
and both demos call it in their loop — so a demo shows exactly what the runner does.

look: every unfinished run refreshed from its WMS (in bulk where it can), the spec's controls recorded (hold,
      skip, accept), running transfers followed.
act:  transfers started or retried, the failure rules applied to failed runs (engine/autopilot.py), the
      set-up stage (a campaign that builds its own repository), the preflight and the checks of the output of
      the steps now done (engine/checks.py: their verdicts let the next steps start), then every run whose
      prerequisites are met submitted; a submission a crash interrupted is launched during the look's refresh (observe.py), only
      by a job that may launch.

A campaign on hold starts nothing new here (transfers, set-up stage, submissions, rule actions all wait).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..domain.model import Plan
from ..ledger.records import Ledger
from ..planning.advance import Decision, Verdict, decide
from ..planning.plan import with_exclusions
from . import autopilot, checks, controls, heartbeat, observe, setup_stage, submit, transfers
from .context import Context


@dataclass(frozen=True)
class Cycle:
    """What one cycle saw and did, for the caller to print; the ledger it ends with."""

    ledger: Ledger
    changes: tuple[observe.Change, ...]  # run state changes the refresh saw
    moved: tuple[str, ...]  # one line per transfer that changed
    decisions: tuple[Decision, ...]  # what the plan says of every run now
    acted: bool  # False for a look
    others: frozenset[str] = frozenset()  # a runner per facility: runs ready at other sites, left to their runners

    @property
    def submitted(self) -> int:
        return sum(d.verdict == Verdict.SUBMIT and d.run.key not in self.others
                   for d in self.decisions) if self.acted else 0

    @property
    def working(self) -> bool:
        """Work remains: a run or transfer not finished, or a run submitted in this cycle."""
        return active(self.ledger) or self.submitted > 0


def active(ledger: Ledger) -> bool:
    """A run whose current attempt has not finished, or a transfer still moving."""
    return (any(r.current is not None and not r.current.state.finished for r in ledger.runs)
            or any(not t.state.finished for t in ledger.transfers))


def run(ctx: Context, plan: Plan, ledger: Ledger, *, act: bool, by: str,
        seen: Callable[[observe.Change], None] | None = None) -> Cycle:
    """One cycle over one campaign. `act` is whether this job may start things (reconcile, apply); `by` is
    who wrote the spec's controls (the spec's last commit author); `seen` hears each run's change as soon as
    the look saw it, before the failure rules say what they do about it. Each stage saves what it changed."""
    acting = act and ctx.may_launch
    ledger, changes = observe.refresh(ctx, ledger)
    if acting and not ctx.scope.everywhere:
        ledger = heartbeat.beat(ctx, ledger)
    if seen is not None:
        for change in changes:
            seen(change)
    # The spec's hold / skip / accept are recorded on every look; its supersedes launch only when acting.
    ledger = controls.from_spec(ctx, plan, ledger, by=by)
    ledger, moved = transfers.advance(ctx, plan, ledger,
                                      start=acting and ledger.hold is None and not ctx.dry_run)
    decisions: Sequence[Decision]
    if acting:
        # Failure rules act before new runs are submitted: an accepted failure lets the next step start now.
        ledger = autopilot.apply_rules(ctx, plan, ledger)
        # The set-up stage builds the central site's Butler: its runner's work. Checks are read by the runner of the site
        # whose Butler they read (engine/checks.py).
        central = ctx.follows(ctx.campaign.profile.name)
        if ledger.hold is None and central:
            ledger = setup_stage.ensure(ctx, ledger)
        # A done step's checks, before the steps that wait for them; after the set-up stage, whose repository
        # the preflight asks (a campaign that builds its repository is preflighted in the cycle that built it).
        ledger = checks.evaluate(ctx, plan, ledger)  # each runner the checks of the Butlers at its own site
        plan = with_exclusions(plan, ledger.excluded_inputs)  # a preflight that just excluded missing inputs
        ledger, decisions = submit.apply(ctx, plan, ledger)
    else:
        decisions = decide(plan, ledger)
    others = frozenset(d.run.key for d in decisions if not ctx.follows(d.run.site))
    return Cycle(ledger, tuple(changes), tuple(moved), tuple(decisions), acting, others)


__all__ = ["Cycle", "active", "run"]
