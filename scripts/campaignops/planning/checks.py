"""Where each check of the output stands against the ledger, and what it reads (pure).

A step's checks are due once the step is done (every run succeeded or settled, the acceptance rule
included); the campaign's once every step is. A check is evaluated again only when the output runs it
read change (`basis`), or when its last evaluation could not read a value. The steps that require a step
wait for its checks, and a failed one that nobody accepted (`campaign accept-check`) blocks them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..domain.checks import CAMPAIGN_SCOPE, PREFLIGHT_SCOPE, Check, CheckVerdict
from ..domain.model import Plan
from ..ledger.records import CheckRecord, Control, Ledger


class CheckStanding(StrEnum):
    WAITING = "waiting"  # its step (or the campaign) is not done yet
    DUE = "due"  # to be evaluated this cycle: never evaluated, its output changed, or no value was read
    PASSED = "passed"
    FAILED = "failed"
    ACCEPTED = "accepted"  # failed, and someone accepted it (campaign accept-check)

    @property
    def lets_through(self) -> bool:
        return self in (CheckStanding.PASSED, CheckStanding.ACCEPTED)


@dataclass(frozen=True)
class CheckState:
    check: Check
    standing: CheckStanding
    record: CheckRecord | None  # the last evaluation (of this output or an earlier one)
    basis: str  # the output it reads now
    collections: tuple[str, ...]  # the output runs it reads, newest first
    accepted: Control | None = None


def output_runs(plan: Plan, ledger: Ledger, scope: str) -> tuple[str, ...]:
    """The RUN collections of every attempt of the scope's runs (a step, or every step), newest attempt first:
    a find-first search over them counts each data ID once, from the attempt that wrote it last."""
    if scope == PREFLIGHT_SCOPE:
        return plan.campaign.inputs  # the preflight reads the campaign's inputs
    steps = [s.name for s in plan.campaign.steps] if scope == CAMPAIGN_SCOPE else [scope]
    found = []
    for step in steps:
        for run in plan.runs_of(step):
            record = ledger.run(run.key)
            if record is not None:
                found += [a.output_run for a in reversed(record.attempts) if a.output_run and a.submitted_at]
    return tuple(dict.fromkeys(found))


def basis_of(collections: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(sorted(collections)).encode()).hexdigest()[:16]


def check_states(plan: Plan, ledger: Ledger, steps_done: Mapping[str, bool],
                 scope: str | None = None) -> list[CheckState]:
    """Every check of the campaign (or of one scope), in spec order, with where it stands; `steps_done` says
    which steps are done (planning/advance.steps_done: succeeded or settled, acceptance included)."""
    out = []
    done = dict(steps_done) | {CAMPAIGN_SCOPE: bool(steps_done) and all(steps_done.values()), PREFLIGHT_SCOPE: True}
    for check in plan.campaign.all_checks():
        if scope is not None and check.scope != scope:
            continue
        collections = output_runs(plan, ledger, check.scope)
        basis = basis_of(collections)
        record = ledger.check(check.ref)
        accepted = ledger.check_accepted(check.ref)
        if not done.get(check.scope, False):
            standing = CheckStanding.WAITING
        elif record is None or record.basis != basis or record.verdict == CheckVerdict.UNKNOWN:
            standing = CheckStanding.DUE
        elif record.verdict == CheckVerdict.PASS:
            standing = CheckStanding.PASSED
        else:
            standing = CheckStanding.ACCEPTED if accepted is not None else CheckStanding.FAILED
        out.append(CheckState(check, standing, record, basis, collections, accepted))
    return out


def holding(plan: Plan, ledger: Ledger, steps_done: Mapping[str, bool],
            step: str) -> tuple[list[CheckState], list[CheckState]]:
    """(checks of `step` still to be evaluated, checks of `step` that failed and nobody accepted)."""
    states = [s for s in check_states(plan, ledger, steps_done, step) if not s.standing.lets_through]
    return ([s for s in states if s.standing in (CheckStanding.DUE, CheckStanding.WAITING)],
            [s for s in states if s.standing == CheckStanding.FAILED])


def campaign_verdict(plan: Plan, ledger: Ledger, steps_done: Mapping[str, bool]) -> str:
    """How the campaign's checks read in one phrase: '' without checks, 'checks passed', 'checks failed: …'."""
    states = check_states(plan, ledger, steps_done)
    if not states:
        return ""
    failed = [s.check.ref for s in states if s.standing == CheckStanding.FAILED]
    if failed:
        return f"checks failed: {', '.join(failed)}"
    if all(s.standing.lets_through for s in states):
        accepted = sum(s.standing == CheckStanding.ACCEPTED for s in states)
        return "checks passed" + (f" ({accepted} accepted)" if accepted else "")
    return f"checks pending: {sum(not s.standing.lets_through for s in states)} of {len(states)}"


__all__ = ["CheckStanding", "CheckState", "basis_of", "campaign_verdict", "check_states", "holding", "output_runs"]
