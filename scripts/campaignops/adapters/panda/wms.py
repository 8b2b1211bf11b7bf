"""The PanDA `Wms`: launch and restart through bps, observe every active run in bulk through BigPanDA.

One status cycle costs: one `/idds/wfprogress/` request (every workflow of the user in the window),
one `/tasks/` request (their tasks: per-label quanta), and one `/jobs/` request per failing task of
a run that ended FAILED (error codes and diagnostics, attempts, memory, log link). Campaigns of the
same process share the answers (one `PandaWms` per monitor, answers cached for the cycle).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...domain.clock import parse_utc
from ...domain.errors import WmsUnreachable
from ...domain.states import FailedJob, RunState
from ...domain.usage import ResourceUse
from ...ports import Observation, Submission
from ..bps.launcher import BpsWms
from .monitor import BigPandaMonitor, Workflow, as_int, maxpss_mb
from .states import TaskRow, run_state, split_task_name, task_counts
from .usage import attempt_uses

DAY_WINDOWS = (7, 14, 30, 60, 120, 365)  # `days` asked of the monitor: few distinct URLs, so campaigns share answers
MAX_ERRORS = 10
ERROR_KINDS = ("exe", "pilot", "sup", "ddm", "taskbuffer", "brokerage", "jobdispatcher")  # the payload's first


def window_days(oldest: datetime | None, now: datetime) -> int:
    """The smallest window (in days) that still lists a request created at `oldest`."""
    if oldest is None:
        return DAY_WINDOWS[0]
    need = math.ceil((now - oldest).total_seconds() / 86400) + 1
    return next((d for d in DAY_WINDOWS if d >= need), DAY_WINDOWS[-1])


def run_links(monitor: BigPandaMonitor, request_id: str, failing_tasks: Sequence[str] = ()) -> tuple[tuple[str, str], ...]:
    """(what, URL) of a run in the monitor: its workflow, its tasks and (once known) its failed jobs."""
    links = [("workflow", monitor.url("idds/wfprogress/", {"requestid": request_id})),
             ("tasks", monitor.url("tasks/", {"idds_request_id": request_id}))]
    if failing_tasks:
        links.append(("failed jobs", monitor.url("jobs/", {"jeditaskid": "|".join(failing_tasks),
                                                          "jobstatus": "failed"})))
    return tuple(links)


def log_url(job: dict[str, Any], monitor: BigPandaMonitor) -> str:
    """The job's payload log when the pilot's URL is known (`pilotid`: "<pilotlog url>|..."), else its job page."""
    pilot = str(job.get("pilotid") or "").split("|")[0]
    if pilot.startswith("http"):
        return pilot.replace("pilotlog.txt", "payload.stdout") if pilot.endswith("pilotlog.txt") else pilot
    return monitor.url(f"job/{job['pandaid']}/")


def failed_job(job: dict[str, Any], label: str, monitor: BigPandaMonitor) -> FailedJob:
    """One /jobs/ row as a FailedJob: every non-zero error code with its diagnostic."""
    errors = []
    for kind in ERROR_KINDS:
        code = job.get(f"{kind}errorcode")
        if code not in (None, "", 0, "0"):
            diag = " ".join(str(job.get(f"{kind}errordiag") or "").split())
            errors.append(f"{kind} {code}: {diag}" if diag else f"{kind} {code}")
    return FailedJob(task=label, job_id=str(job["pandaid"]), attempt=as_int(job.get("attemptnr")),
                     max_attempts=as_int(job.get("maxattempt")), site=str(job.get("computingsite") or ""),
                     exit_code=as_int(job.get("transexitcode")), errors=tuple(errors),
                     maxpss_mb=maxpss_mb(job.get("maxpss")), request_mb=as_int(job.get("minramcount")),
                     log_url=log_url(job, monitor))


class PandaWms(BpsWms):
    """bps launches and restarts; the BigPanDA monitor observes, in bulk. `username` narrows the bulk query
    to the runs' PanDA user (without it every user's workflows of the window are listed)."""

    def __init__(self, monitor: BigPandaMonitor, *, username: str = "", wms_service_class: str | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(wms_service_class)
        self.monitor = monitor
        self.username = username
        self.now = now
        self._served: set[str] = set()  # runs answered from the monitor's current (cached) answers

    def resource_use(self, attempts: Sequence[tuple[str, int, Submission]]) -> list[ResourceUse]:
        """What each attempt's PanDA jobs used, from the monitor's job records (2 requests an attempt)."""
        return attempt_uses(self.monitor, attempts)

    def describe(self) -> str:
        budget = self.monitor.budget
        return (f"PanDA monitor {self.monitor.base_url}: {self.monitor.sent} request(s) by this command; "
                f"{budget.used()} of {budget.per_hour} in the last hour on this runner")

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        if not submission.wms_id:  # bps has not printed the run id yet: its launch dir says how it goes
            return super().observe(submission, launch_dir, setup)
        return self.observe_many([(submission, launch_dir)], setup)[submission.wms_id]

    def observe_many(self, runs: Sequence[tuple[Submission, Path]], setup: str) -> dict[str, Observation]:
        ids = list(dict.fromkeys(s.wms_id for s, _ in runs if s.wms_id))
        if not ids:
            return {}
        # The campaigns of one cycle share the bulk answers, each run served once: a run asked about again
        # means a new cycle (`status --watch`, the next status job in this process), so ask afresh.
        if self._served.intersection(ids):
            self.monitor.forget()
            self._served.clear()
        self._served.update(ids)
        now = self.now()
        oldest = min((t for s, _ in runs if (t := parse_utc(s.since)) is not None), default=None)
        days = window_days(oldest, now)
        try:
            workflows = {w.request_id: w for w in self.monitor.workflows(username=self.username, days=days)}
            wanted = [i for i in ids if i in workflows]
            expected = sum(w.total_tasks for w in workflows.values()) if self.username else sum(
                workflows[i].total_tasks for i in wanted)
            rows, complete = self._tasks(wanted, days, expected) if wanted else ([], True)
        except WmsUnreachable as exc:  # the monitor failed, or the hour's budget is spent
            return {i: Observation(RunState.UNKNOWN, message=str(exc), links=run_links(self.monitor, i)) for i in ids}
        tasks = self._tasks_by_request(rows, {i: workflows[i] for i in wanted})
        out: dict[str, Observation] = {}
        for request_id in ids:
            workflow = workflows.get(request_id)
            if workflow is None:
                who = f"of user {self.username} " if self.username else ""
                out[request_id] = Observation(
                    RunState.UNKNOWN, links=run_links(self.monitor, request_id),
                    message=(f"the monitor lists no workflow {request_id} {who}created in the last {days} days "
                             "(not registered yet, another PanDA user, or a wrong monitor.url / username)"))
                continue
            out[request_id] = self._observation(workflow, tasks.get(request_id, []), complete)
        return out

    def _tasks(self, request_ids: list[str], days: int, expected: int) -> tuple[list[dict[str, Any]], bool]:
        if self.username:  # one request for every run of the user, shared by the campaigns of this cycle
            return self.monitor.tasks(username=self.username, days=days, expected=expected)
        return self.monitor.tasks(request_ids=request_ids, days=days, expected=expected)

    @staticmethod
    def _tasks_by_request(rows: list[dict[str, Any]], workflows: dict[str, Workflow]) -> dict[str, list[TaskRow]]:
        by_name = {w.name: w.request_id for w in workflows.values() if w.name}
        out: dict[str, list[TaskRow]] = {}
        for row in rows:
            name = str(row["taskname"] or "")
            if name.startswith("build_task"):
                continue  # iDDS's own build step, not a pipeline task
            workflow, label = split_task_name(name)
            request_id = by_name.get(workflow)
            if request_id is None:  # a label that looks like "_NN_": trust the request id when the name agrees
                owner = workflows.get(str(row.get("reqid") or ""))
                if owner is None or not name.startswith(f"{owner.name}_"):
                    continue  # a task of another workflow
                request_id = owner.request_id
                workflow, label = split_task_name(name, owner.name)
            out.setdefault(request_id, []).append(TaskRow(
                task_id=str(row["jeditaskid"]), name=name, label=label, status=str(row["status"] or ""),
                files=as_int(row.get("nfiles")), finished=as_int(row.get("nfilesfinished")),
                failed=as_int(row.get("nfilesfailed")), error=str(row.get("errordialog") or "")))
        return out

    def _observation(self, workflow: Workflow, rows: list[TaskRow], complete: bool) -> Observation:
        state, note = run_state(workflow.status)
        failing = sorted((r for r in rows if r.failing), key=lambda r: r.task_id)
        links = run_links(self.monitor, workflow.request_id, [r.task_id for r in failing])
        notes = [note] if note else []
        if not complete:
            notes.append("the monitor's task list was cut: per-task counts may be incomplete")
        jobs: list[FailedJob] = []
        errors: list[str] = [f"{r.label} (task {r.task_id}, {r.status}): {' '.join(r.error.split())}"
                             for r in failing if r.error.strip()]
        if state == RunState.FAILED:
            for row in failing:  # one request per failing task, only once the run has ended failed
                try:
                    found = [failed_job(j, row.label, self.monitor) for j in self.monitor.failed_jobs(row.task_id)]
                except WmsUnreachable as exc:
                    notes.append(f"failed jobs of task {row.task_id} not read: {exc}")
                    continue
                jobs += found
                errors += [f"{j.summary} (log: {j.log_url})" for j in found[:3]]
        if state == RunState.FAILED and not failing and not errors:
            errors.append(f"iDDS request {workflow.request_id} is {workflow.status} with no failing task listed: "
                          "open its workflow page")
        exit_codes: dict[str, list[int]] = {}
        for job in jobs:
            if job.exit_code:
                exit_codes.setdefault(job.task, []).append(job.exit_code)
        return Observation(state=state, tasks=task_counts(rows), errors=tuple(errors[:MAX_ERRORS]),
                           exit_codes=tuple((k, tuple(v)) for k, v in sorted(exit_codes.items())),
                           message="; ".join(notes)[:1000], links=links, failed_jobs=tuple(jobs))


__all__ = ["PandaWms", "failed_job", "run_links", "window_days"]
