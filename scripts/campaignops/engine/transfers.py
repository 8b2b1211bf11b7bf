"""The transfer stages of a multi-site campaign: start each once the runs it moves have ended well, follow it,
and retry a failed or stuck one with backoff; every step is recorded in the ledger before and after it happens.

A transfer is recorded RUNNING before the adapter is asked to start it, so a job killed in between is seen
next cycle and the transfer started again: both adapters make a second start harmless (Butler-to-Butler
skips what the destination holds; Rucio finds its own dataset names and rule)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta

from ..campaign_spec.rules import rooted
from ..domain.clock import parse_utc
from ..domain.errors import CampaignError
from ..domain.model import Plan, PlannedTransfer
from ..domain.states import TransferState
from ..ledger.records import Ledger, TransferRecord
from ..planning.advance import attempt_accepted
from ..ports import Transfer, TransferProgress, TransferRequest
from .context import Context

MAX_ATTEMPTS = 3  # a transfer that failed this often waits for an operator (the failure issue says so)


def backoff(attempt: int) -> timedelta:
    """How long after its `attempt`-th failure a transfer is started again: 5, 10, 20 … minutes."""
    base = float(os.environ.get("CAMPAIGNOPS_TRANSFER_BACKOFF_MINUTES") or 5)
    return timedelta(minutes=base * 2 ** (attempt - 1))


def moved_runs(plan: Plan, ledger: Ledger, transfer: PlannedTransfer) -> tuple[str, ...] | None:
    """The output RUN collections the transfer moves, or None while a run it moves has not ended well
    (succeeded, accepted within the step's tolerance, or settled by an operator)."""
    step = plan.campaign.step(transfer.requires)
    runs = []
    for key in transfer.sources:
        record = ledger.run(key)
        settled = ledger.disposition(key)
        current = record.current if record else None
        if settled is not None and settled.action == "skip":
            continue  # skipped: nothing of it to move
        if current is None or not (attempt_accepted(current, step) or settled is not None):
            return None
        runs.append(current.output_run)
    return tuple(runs)


def request_for(ctx: Context, transfer: PlannedTransfer, collections: tuple[str, ...]) -> TransferRequest:
    campaign = ctx.campaign
    return TransferRequest(
        key=transfer.key, source_site=transfer.source, destination_site=transfer.destination,
        source_repo=str(rooted(campaign.repo_at(transfer.source), ctx.root)),
        destination_repo=str(rooted(campaign.repo_at(transfer.destination), ctx.root)),
        collections=collections, dataset_types=transfer.dataset_types, where=transfer.where,
        chain=campaign.output, inputs=campaign.inputs)


def _recorded(ctx: Context, record: TransferRecord, progress: TransferProgress) -> TransferRecord:
    now = ctx.now()
    state = progress.state
    message = progress.message
    next_try = ""
    if state in (TransferState.FAILED, TransferState.STUCK):
        if record.attempt < MAX_ATTEMPTS:
            when = parse_utc(now)
            next_try = (when + backoff(record.attempt)).strftime("%Y-%m-%dT%H:%M:%SZ") if when else now
            message = f"{message}; started again from {next_try} (attempt {record.attempt} of {MAX_ATTEMPTS})"
        else:
            message = f"{message}; gave up after {MAX_ATTEMPTS} attempts: needs an operator"
    return replace(record, state=state, datasets=progress.datasets or record.datasets,
                   arrived=progress.arrived, bytes=progress.bytes or record.bytes, message=message,
                   handle=progress.handle or record.handle, next_try_at=next_try,
                   ended_at=now if state.finished else "")


def _ask(ctx: Context, port: Transfer, what: str, request: TransferRequest, handle: str = "") -> TransferProgress:
    try:
        return port.start(request) if what == "start" else port.poll(request, handle)
    except CampaignError as exc:  # an adapter should not raise; if it does, the transfer is not failed for it
        return TransferProgress(TransferState.UNKNOWN, message=f"{what} of the transfer raised: {exc}")


def _start(ctx: Context, ledger: Ledger, transfer: PlannedTransfer, collections: tuple[str, ...],
           attempt: int) -> Ledger:
    assert ctx.transfer_for is not None
    record = TransferRecord(transfer.key, transfer.source, transfer.destination, transfer.dataset_types,
                            TransferState.RUNNING, attempt, started_at=ctx.now(), message="starting")
    ledger = ledger.with_transfer(record)
    ctx.save(ledger)  # intent first: a job killed inside start() is seen, and started again, next cycle
    request = request_for(ctx, transfer, collections)
    progress = _ask(ctx, ctx.transfer_for(transfer.source, transfer.destination), "start", request)
    ledger = ledger.with_transfer(_recorded(ctx, record, progress))
    ctx.save(ledger)
    return ledger


def reaches(ctx: Context, transfer: PlannedTransfer) -> bool:
    """Whether this job starts and follows `transfer`: every transfer for a job of every site; for a runner per
    facility, those into its own site whose source Butler its profile says it reaches (`butler.reaches`), since
    both adapters read the source and check the destination Butler."""
    if ctx.scope.everywhere:
        return True
    if not ctx.follows(transfer.destination):
        return False
    return transfer.source in ctx.campaign.site_profile(transfer.destination).reaches


def advance(ctx: Context, plan: Plan, ledger: Ledger, *, start: bool) -> tuple[Ledger, list[str]]:
    """Follow every transfer of the plan; with `start` (reconcile, apply) also start those whose runs ended
    well and retry failed ones whose backoff has passed. Returns the ledger and one line per change."""
    if not plan.transfers or ctx.transfer_for is None:
        return ledger, []
    changes: list[str] = []
    for transfer in plan.transfers:
        if not reaches(ctx, transfer):
            continue  # another facility's runner starts and follows it
        before = ledger.transfer(transfer.key)
        collections = moved_runs(plan, ledger, transfer)
        if before is None:
            if start and ctx.may_launch and collections is not None:
                ledger = _start(ctx, ledger, transfer, collections, 1)
        elif before.state in (TransferState.RUNNING, TransferState.UNKNOWN):
            if before.handle:
                request = request_for(ctx, transfer, collections or ())
                port = ctx.transfer_for(transfer.source, transfer.destination)
                ledger = ledger.with_transfer(_recorded(ctx, before, _ask(ctx, port, "poll", request, before.handle)))
                ctx.save(ledger)
            elif start and ctx.may_launch and collections is not None:
                ledger = _start(ctx, ledger, transfer, collections, before.attempt)  # cut short before: again
        elif before.state in (TransferState.FAILED, TransferState.STUCK):
            due = parse_utc(before.next_try_at) if before.next_try_at else None
            now = parse_utc(ctx.now())
            if start and ctx.may_launch and collections is not None and due is not None and now is not None \
                    and now >= due:
                ledger = _start(ctx, ledger, transfer, collections, before.attempt + 1)
        after = ledger.transfer(transfer.key)
        if after is not None and (before is None or (after.state, after.attempt, after.arrived) !=
                                  (before.state, before.attempt, before.arrived)):
            changes.append(f"transfer {transfer.key}: {after.state.value} ({after.arrived}/{after.datasets} "
                           f"datasets) {after.message}".rstrip())
    return ledger, changes
