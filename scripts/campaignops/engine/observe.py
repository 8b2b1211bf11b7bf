"""Refreshing active runs from the WMS into the ledger: finished runs cost no WMS call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from ..domain.clock import parse_utc
from ..domain.errors import WmsError, WmsUnreachable
from ..domain.states import HANGING, RunState
from ..domain.usage import JobUsage
from ..ledger.records import Attempt, Ledger, RunRecord, with_state
from ..ports import Observation, Submission, Wms, bulk
from .context import Context

# An unchanged active run still gets its last_checked refreshed this often, so the ledger shows the
# tracker is alive without a commit on every 15-minute status pass.
HEARTBEAT = timedelta(hours=1)


@dataclass(frozen=True)
class Change:
    run_key: str
    attempt: int
    old: RunState
    new: RunState
    detail: str
    # A failure's first error lines as this look read them (the message when it has none): what whoever hears the
    # change tells, not what an earlier look had recorded.
    errors: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.run_key} a{self.attempt:02d} {self.old}→{self.new}" + (f" ({self.detail})" if self.detail else "")


def failure_detail(attempt: Attempt) -> str:
    failed = attempt.failed_tasks()
    if failed:
        return ", ".join(f"{n} failed in {label}" for label, n in failed)
    return attempt.message.splitlines()[0][:120] if attempt.message else ""


def _usage(attempt: Attempt, obs: Observation) -> tuple[JobUsage, ...]:
    """The attempt's batch jobs known so far with what the scheduler says now (a job the scheduler has
    forgotten, e.g. a rotated jobcomp log, stays as it was recorded), in job id order."""
    if not obs.job_usage:
        return attempt.job_usage
    # A job Slurm requeued (NODE_FAIL, PREEMPTED) keeps its id: each of its ends is a job of its own here.
    by_end = {(u.job_id, u.state, u.elapsed_s): u for u in (*attempt.job_usage, *obs.job_usage)}
    return tuple(sorted(by_end.values(), key=lambda u: (len(u.job_id), u.job_id, u.state, u.elapsed_s)))


def _merge(attempt: Attempt, obs: Observation, now: str) -> Attempt:
    links = obs.links or attempt.links
    unknown = obs.state == RunState.UNKNOWN
    changed = (obs.state != attempt.state or obs.message != attempt.message or links != attempt.links
               or (not unknown and (obs.tasks != attempt.tasks or obs.errors != attempt.errors
                                    or obs.exit_codes != attempt.exit_codes
                                    or obs.failed_jobs != attempt.failed_jobs
                                    or _usage(attempt, obs) != attempt.job_usage)))
    last = parse_utc(attempt.last_checked) if attempt.last_checked else None
    stale = last is None or (parse_utc(now) or last) - last >= HEARTBEAT
    if not changed and not stale:
        return attempt
    if unknown:
        # Keep what we knew; only say that the WMS could not be asked.
        return with_state(attempt, RunState.UNKNOWN, now, obs.message[:200], message=obs.message,
                          last_checked=now, links=links)
    return with_state(attempt, obs.state, now, "", tasks=obs.tasks, errors=obs.errors,
                      exit_codes=obs.exit_codes, message=obs.message, last_checked=now, links=links,
                      failed_jobs=obs.failed_jobs, job_usage=_usage(attempt, obs))


def _located(ctx: Context, attempt: Attempt) -> Attempt:
    """The attempt with the submit dir and run id bps printed so far (read from its launch dir)."""
    if attempt.submit_dir and attempt.wms_id:
        return attempt
    # Read what bps printed until it gave the run id: PanDA and HTCondor print the submit
    # directory long before the id (while the quantum graph is built).
    found = ctx.wms_of(attempt.launch_dir).find_submission(Path(attempt.launch_dir))
    if found is None:
        return attempt
    return replace(attempt, submit_dir=found.submit_dir or attempt.submit_dir, wms_id=found.wms_id or attempt.wms_id)


def observe_attempt(ctx: Context, attempt: Attempt, known: Mapping[str, Observation] | None = None) -> Attempt:
    """One attempt brought up to date; never raises for a WMS that cannot be reached.

    `known` holds what a bulk observation already said of runs by run id: those cost no WMS call here.
    """
    launch_dir = Path(attempt.launch_dir)
    now = ctx.now()
    if attempt.state == RunState.SUBMITTING and not ctx.wms_of(launch_dir).launched(launch_dir):
        # The intent was recorded but bps never started (a crash in between): starting it now
        # cannot double-submit, since nothing of this attempt reached the WMS. Only a job that
        # may launch (reconcile, apply) does it; a look or a dry run leaves it for that job.
        if not ctx.may_launch or ctx.dry_run:
            return attempt
        try:
            ctx.wms_of(launch_dir).launch(Path(attempt.config_path), launch_dir, ctx.campaign.setup_command())
        except WmsError as exc:
            return with_state(attempt, RunState.FAILED, now, "bps could not be started", last_checked=now,
                              message=f"bps could not be started: {exc}")
        return with_state(attempt, RunState.PENDING, now, "launched after an interrupted apply",
                                     submitted_at=now, last_checked=now)
    attempt = _located(ctx, attempt)
    if not attempt.wms_id and not launch_dir.exists():
        # Without a run id, the launch directory (bps's log and pid) is all there is to go on. Its absence
        # proves nothing about the run: a look from another clone (a laptop) or a directory deleted on
        # the runner. Never FAILED for that.
        return _merge(attempt, Observation(RunState.UNKNOWN, message=(
            f"the launch directory {launch_dir} is not on this machine (looked at from another clone, or "
            "deleted on the runner): the runner's status job follows this run")), now)
    obs = (known or {}).get(attempt.wms_id) if attempt.wms_id else None
    if obs is None:
        try:
            obs = ctx.wms_of(launch_dir).observe(Submission(attempt.submit_dir, attempt.wms_id), launch_dir,
                                  ctx.campaign.setup_command())
        except WmsUnreachable as exc:
            obs = Observation(RunState.UNKNOWN, message=f"WMS not reachable: {exc}")
    return _merge(attempt, _hang_check(ctx, attempt, obs, now), now)


def _hang_check(ctx: Context, attempt: Attempt, obs: Observation, now: str) -> Observation:
    """A submission still without a run id past the limit says so (a stable message: no write per pass)."""
    started, at = parse_utc(attempt.submitted_at), parse_utc(now)
    if obs.state != RunState.PENDING or attempt.wms_id or started is None or at is None:
        return obs
    if at - started < ctx.submit_hang:
        return obs
    limit = f"{ctx.submit_hang.total_seconds() / 3600:g} h"
    return replace(obs, message=f"{HANGING} {limit} without giving a run id (started {attempt.submitted_at}): "
                                f"it may hang; read {Path(attempt.launch_dir) / 'bps-submit.log'}, stop it if "
                                f"it is stuck (`campaign cancel`), then `campaign resubmit`")


def observe_in_bulk(ctx: Context, records: list[RunRecord]) -> dict[str, Observation]:
    """Run id -> Observation of every active run with a run id, in one bulk call per WMS when it can (a monitor
    answering for all runs in a few requests); runs of a WMS that cannot are observed alone."""
    by_wms: dict[int, tuple[Wms, dict[str, tuple[Submission, Path]]]] = {}
    for record in records:
        if record.state is None or record.state.finished or record.state == RunState.SUBMITTING:
            continue  # SUBMITTING may still need launching: observe_attempt decides
        attempt = record.current
        assert attempt is not None
        wms = ctx.wms_of(attempt.launch_dir)
        if bulk(wms) is None:
            continue
        located = _located(ctx, attempt)
        if located.wms_id:
            # A restart keeps its run id: the run is as old as the first attempt that had this id.
            since = min((a.submitted_at for a in record.attempts if a.wms_id in ("", located.wms_id)
                         and a.submitted_at), default="")
            runs = by_wms.setdefault(id(wms), (wms, {}))[1]
            runs[located.wms_id] = (Submission(located.submit_dir, located.wms_id, since), Path(located.launch_dir))
    known: dict[str, Observation] = {}
    for wms, runs in by_wms.values():
        many = bulk(wms)
        assert many is not None
        known |= many.observe_many(list(runs.values()), ctx.campaign.setup_command())
    return known


def refresh(ctx: Context, ledger: Ledger) -> tuple[Ledger, list[Change]]:
    """Every unfinished current attempt observed once (in bulk when the WMS can); saved when anything changed."""
    changes: list[Change] = []
    # A runner per facility follows only its own site's runs: the others' launch directories and WMS are theirs.
    known = observe_in_bulk(ctx, [r for r in ledger.runs if ctx.follows_run(r.step, r.group)])
    records = list(ledger.runs)
    moved = False
    for i, record in enumerate(records):
        if record.state is None or record.state.finished or not ctx.follows_run(record.step, record.group):
            continue  # asked first: a finished run read from the ledger is never decoded
        current = record.current
        if current is None:
            continue
        updated = observe_attempt(ctx, current, known)
        if updated != current:
            records[i] = record.with_attempt(updated)
            moved = True
            if updated.state != current.state:
                failed = updated.state == RunState.FAILED
                detail = failure_detail(updated) if failed else ""
                errors = (updated.errors or ((updated.message,) if updated.message else ())) if failed else ()
                changes.append(Change(record.key, current.number, current.state, updated.state, detail, errors))
    if moved:  # nothing new: no need to serialise a large ledger to find it unchanged
        ledger = replace(ledger, runs=tuple(records))  # in place, in one pass: 10,000 changed runs stay linear
        ctx.save(ledger)
    return ledger, changes
