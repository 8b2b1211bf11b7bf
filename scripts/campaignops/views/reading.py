"""How a run reads — accepted, skipped, cancelled, failed under review, retried by the rules, running … —
decided once, so run rows, step tables, page counts, `campaign status` hints and issues say the same (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..domain.actions import LAUNCHING
from ..domain.model import Campaign, Step
from ..domain.states import RunState
from ..ledger.records import Control, Ledger, RunRecord
from ..planning.advance import attempt_accepted
from .issue import decision_text


class Standing(StrEnum):
    """What a run counts towards in every tally."""

    SUCCEEDED = "succeeded"
    SETTLED = "settled"  # accepted or skipped (by a person, a failure rule or the step's tolerance): done with
    FAILED = "failed"  # ended badly and waits for a person
    RETRYING = "retrying"  # failed, and the failure rules act on it with no command typed
    ACTIVE = "active"  # submitting, pending, running or UNKNOWN (the WMS could not be asked)
    HELD = "held"  # jobs held: waits for a person
    CANCELLED = "cancelled"  # stopped by a person: its step waits for a resubmit or a skip
    UNSUBMITTED = "unsubmitted"


NEEDS_A_PERSON = (Standing.FAILED, Standing.HELD, Standing.CANCELLED)


@dataclass(frozen=True)
class RunReading:
    """One run as every view shows it: a word, what it counts towards, why (and who), what to type next."""

    label: str  # SUCCEEDED, ACCEPTED, SKIPPED, CANCELLED, FAILED, RUNNING, HELD, UNKNOWN, NOT SUBMITTED …
    standing: Standing
    note: str = ""  # who and why ("accepted by ana at …: known bad CCD"), or what the failure rules decided
    hint: str = ""  # the next command, "" when there is nothing to type
    control: Control | None = None  # the operator's word behind an accepted, skipped or cancelled run

    @property
    def text(self) -> str:
        return f"{self.label} ({self.note})" if self.note else self.label

    @property
    def failed(self) -> bool:
        """Counts towards "N run(s) failed": ended badly and nobody has settled it."""
        return self.standing == Standing.FAILED

    @property
    def settled(self) -> bool:
        return self.standing == Standing.SETTLED

    @property
    def needs_a_person(self) -> bool:
        return self.standing in NEEDS_A_PERSON


def _said(control: Control) -> str:
    return f"by {control.by} at {control.at}: {control.reason}" if control.reason else f"by {control.by} at {control.at}"


def _cancel_of(ledger: Ledger, record: RunRecord) -> Control | None:
    """The cancel that stopped the run: aimed at the run, its step or the whole campaign."""
    targets = (record.key, record.step, "campaign")
    return next((c for c in reversed(ledger.controls) if c.action == "cancel" and c.target in targets), None)


def _supersede_of(ledger: Ledger, key: str) -> Control | None:
    return next((c for c in reversed(ledger.controls) if c.action == "supersede" and c.target == key), None)


def step_of(campaign: Campaign, name: str) -> Step | None:
    """The step of the spec, None for a step since removed from it."""
    try:
        return campaign.step(name)
    except KeyError:
        return None


def read_run(spec: Campaign, key: str, record: RunRecord | None, ledger: Ledger) -> RunReading:
    """How run `key` of the campaign reads now. A failure within its step's `max_failed_fraction` reads as
    accepted, the way `planning/advance` lets the next step start."""
    campaign, step = spec.name, step_of(spec, key.partition("/")[0])
    current = record.current if record is not None else None
    settled = ledger.disposition(key)
    if current is None:
        if settled is not None and settled.action == "skip":
            return RunReading("SKIPPED", Standing.SETTLED, f"skipped {_said(settled)}", control=settled)
        return RunReading("NOT SUBMITTED", Standing.UNSUBMITTED)
    assert record is not None
    state = current.state
    if state == RunState.SUCCEEDED:
        return RunReading("SUCCEEDED", Standing.SUCCEEDED, _superseded(ledger, record))
    if not state.finished:
        return _in_progress(campaign, ledger, record)
    if settled is not None:  # an ended run a person (or a failure rule, as a control) accepted or skipped
        word = "accepted" if settled.action == "accept" else "skipped"
        return RunReading(word.upper(), Standing.SETTLED, f"{word} {_said(settled)}", control=settled)
    if state == RunState.CANCELLED:
        cancel = _cancel_of(ledger, record)
        who = f"cancelled {_said(cancel)}; " if cancel is not None else ""
        return RunReading("CANCELLED", Standing.CANCELLED,
                          f"{who}nothing runs: resubmit it or skip it",
                          f"campaign resubmit {campaign} {key} --reason \"...\"   (or: campaign skip {campaign} "
                          f"{key} --reason \"...\")", control=cancel)
    if step is not None and attempt_accepted(current, step):
        return RunReading("ACCEPTED", Standing.SETTLED,
                          f"within the step's tolerance: {current.failed_quanta()} of {current.total_quanta()} "
                          f"quanta failed, max_failed_fraction {step.max_failed_fraction:g}")
    return _failed(campaign, key, record)


def _superseded(ledger: Ledger, record: RunRecord) -> str:
    current = record.current
    if current is None or current.kind != "supersede":
        return ""
    control = _supersede_of(ledger, record.key)
    return f"attempt {current.number} supersedes the last one {_said(control)}" if control else ""


def _in_progress(campaign: str, ledger: Ledger, record: RunRecord) -> RunReading:
    current = record.current
    assert current is not None
    if current.state == RunState.HELD:
        return RunReading("HELD", Standing.HELD, "jobs held: see the failure issue",
                          f"campaign cancel {campaign} {record.key} --reason \"...\"   (then resubmit)")
    note = _superseded(ledger, record)
    previous = record.attempts[-2].decision if len(record.attempts) > 1 else None
    if not note and previous is not None and previous.done and previous.action in LAUNCHING:
        note = previous.text  # what the failure rules did of the failure this attempt retries
    if current.hanging:
        note = current.message.splitlines()[0]
    return RunReading(current.state.value, Standing.ACTIVE, note)


def confirm_command(campaign: str, key: str) -> str:
    """The command that lets a decision waiting for confirmation act (`autopilot: confirm-new-rules`)."""
    return f'campaign control confirm {campaign} {key} --reason "..." --by <you>'


def _failed(campaign: str, key: str, record: RunRecord) -> RunReading:
    current = record.current
    assert current is not None
    decision = current.decision
    if current.reached_wms:
        hint = (f"campaign retry {campaign} {key}   (more memory: --memory-multiplier 2; only failures, "
                "new output run: campaign rescue)")
    else:
        hint = (f"bps never created the run: fix the cause (in the spec: add `supersede:` for it in the same "
                f"change), else  campaign resubmit {campaign} {key} --reason ...")
    if decision is None:
        return RunReading("FAILED", Standing.FAILED, hint=hint)
    if decision.awaits_confirmation:
        return RunReading("FAILED", Standing.FAILED, decision_text(decision),
                          f"{confirm_command(campaign, key)}   (or the retry workflow: action confirm)")
    if decision.action in LAUNCHING and not decision.done and not decision.note:
        return RunReading("FAILED", Standing.RETRYING, decision_text(decision))
    if decision.action == "hold" and decision.done:
        return RunReading("FAILED", Standing.FAILED, decision_text(decision), f"campaign resume {campaign}")
    return RunReading("FAILED", Standing.FAILED, decision_text(decision), hint)  # under review: a person decides
