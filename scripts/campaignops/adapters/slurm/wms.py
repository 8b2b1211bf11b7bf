"""The Slurm `Wms`: bps + ctrl_bps_parsl launch and restart as for any parsl site (the bps process stays on
the submitting host, parsl's `SlurmProvider` submits its worker blocks with `sbatch`); the run's Slurm jobs
are read in bulk, once per status cycle, and what Slurm did to them is added to the run's observation.

Which jobs are a run's: parsl runs `sbatch` from the bps process, whose working directory is the launch
directory (BpsWms spawns `bps submit` / `bps restart` with cwd = launch dir), so Slurm records that
directory as each block job's WorkDir (squeue %Z, jobcomp WorkDir=). Jobs submitted before the attempt's
own process started (its pid file) belong to an earlier attempt of the same launch directory and are left
out. parsl itself `scancel`s its blocks when bps ends: a block CANCELLED after parsl's shutdown began is
not a failure.

Each finished job's elapsed time and cores (StartTime, EndTime, ProcCnt, Tres mem: `job_usage`) go into the
observation's `job_usage`, stored per attempt in the ledger (`Attempt.job_usage`) for core-hours.

One status cycle costs one `squeue` call for every Slurm run of the process (campaigns share the answer)
plus a read of the jobcomp log; `campaign cancel` adds one `scancel` naming that run's jobs only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ...domain.errors import WmsUnreachable
from ...domain.states import FailedJob, RunState
from ...domain.usage import JobUsage
from ...ports import Observation, Submission
from ..bps.launcher import BpsWms
from ..processes import PID_FILE
from .scheduler import ENDED_BY_SLURM, SlurmJob, SlurmScheduler, blocked

SLURM_TASK = "slurm"  # the failed job's task: a parsl worker block serves every pipeline task of the run
MARGIN = 2.0  # seconds: Slurm's submit times are whole seconds


def launched_from(jobs: Sequence[SlurmJob], launch_dir: Path) -> list[SlurmJob]:
    """Every job the attempt now running in `launch_dir` submitted: its WorkDir, submitted since its process
    began (the blocks parsl cancelled itself included), in job id order."""
    where = str(launch_dir.resolve())
    try:
        began: float | None = (launch_dir / PID_FILE).stat().st_mtime - MARGIN
    except OSError:
        began = None
    mine = [j for j in jobs if j.work_dir == where and (began is None or (j.submitted_at() or began) >= began)]
    return sorted(mine, key=lambda j: int(j.job_id) if j.job_id.isdigit() else 0)


def attempt_jobs(jobs: Sequence[SlurmJob], launch_dir: Path) -> list[SlurmJob]:
    """The jobs of the attempt now running in `launch_dir` that say something of the run: the blocks parsl
    cancelled itself at shutdown left out."""
    return without_parsl_cancels(launched_from(jobs, launch_dir), launch_dir)


def without_parsl_cancels(jobs: Sequence[SlurmJob], launch_dir: Path) -> list[SlurmJob]:
    if not any(j.state == "CANCELLED" for j in jobs):
        return list(jobs)
    shutdown = parsl_shutdown(launch_dir)
    return [j for j in jobs if not cancelled_by_parsl(j, shutdown)]


def job_usage(jobs: Sequence[SlurmJob]) -> tuple[JobUsage, ...]:
    """What the attempt's finished jobs used as Slurm accounts them (elapsed, cores; `JobUsage.core_hours`),
    the blocks parsl cancelled at shutdown included: they ran and were charged."""
    return tuple(u for j in jobs if (u := j.usage()) is not None)


PARSL_SHUTDOWN = "Scaling in executor"  # parsl/jobs/job_status_poller.py close(): then it scancels its blocks
TAIL = 65536  # bytes of a parsl.log read: the shutdown is logged at its end


def parsl_shutdown(launch_dir: Path) -> float | None:
    """When the attempt's parsl began cancelling its own blocks at shutdown (the run ended, or bps was
    stopped): the last `Scaling in executor` line of runinfo/*/parsl.log (parsl's runinfo is in the bps
    process's working directory, the launch dir). Its lines start with a POSIX timestamp."""
    latest: float | None = None
    for log in sorted(launch_dir.glob("runinfo/*/parsl.log")):
        try:
            with log.open("rb") as f:
                f.seek(max(0, log.stat().st_size - TAIL))
                tail = f.read().decode(errors="replace")
        except OSError:
            continue
        for line in tail.splitlines():
            if PARSL_SHUTDOWN in line:
                try:
                    latest = max(latest or 0.0, float(line.split(" ", 1)[0]))
                except ValueError:
                    continue
    return latest


def cancelled_by_parsl(job: SlurmJob, shutdown: float | None) -> bool:
    """A block parsl cancelled itself at shutdown (ended CANCELLED once parsl began scaling in): normal."""
    ended = job.ended_at()
    return job.state == "CANCELLED" and shutdown is not None and ended is not None and ended >= shutdown - MARGIN


def ended_by_slurm(job: SlurmJob) -> FailedJob:
    """A job Slurm ended (TIMEOUT, NODE_FAIL, ...) as a failed job whose error line the failure rules match
    as `slurm:<STATE>`."""
    code = int(job.exit_code.split(":")[0]) if job.exit_code.split(":")[0].isdigit() else 0
    return FailedJob(task=SLURM_TASK, job_id=job.job_id, exit_code=code,
                     errors=(f"slurm {job.state}: job {job.job_id} ({job.name}) {ENDED_BY_SLURM[job.state]}",))


def with_slurm(observation: Observation, jobs: Sequence[SlurmJob]) -> Observation:
    """The bps observation with what Slurm says of the attempt's jobs: waiting reasons as the message,
    jobs Slurm ended as failed jobs and error lines. The run's state stays what bps says."""
    waiting = [j for j in jobs if j.state == "PENDING" and j.reason]
    ended = [ended_by_slurm(j) for j in jobs if j.finished and j.state in ENDED_BY_SLURM]
    notes = [observation.message] if observation.message else []
    if waiting:
        how = "blocked" if any(blocked(j.reason) for j in waiting) else "waiting"
        notes.append(f"Slurm {how}: " + ", ".join(f"job {j.job_id} PENDING ({j.reason})" for j in waiting[:5]))
    queued = {j.job_id for j in jobs if not j.finished}
    requeued = [j for j in jobs if j.finished and j.job_id in queued and j.state in ENDED_BY_SLURM]
    if requeued:
        notes.append("Slurm requeued " + ", ".join(f"job {j.job_id} after {j.state}" for j in requeued[:5]))
    running = sum(j.state == "RUNNING" for j in jobs)
    if running:
        notes.append(f"{running} Slurm job(s) running")
    return replace(observation, message="; ".join(notes)[:1000],
                   errors=tuple(e for j in ended for e in j.errors) + observation.errors,
                   failed_jobs=tuple(ended) + observation.failed_jobs)


class SlurmWms(BpsWms):
    """bps launches, restarts and reports quanta; the scheduler tells what happened to the run's jobs."""

    def __init__(self, scheduler: SlurmScheduler, wms_service_class: str | None = None) -> None:
        super().__init__(wms_service_class)
        self.scheduler = scheduler
        self._jobs: list[SlurmJob] | None = None
        self._served: set[str] = set()  # runs answered from the current listing: asked again = a new cycle

    def describe(self) -> str:
        return f"Slurm: {self.scheduler.calls} scheduler call(s) by this command"

    def _listing(self, ids: Sequence[str]) -> list[SlurmJob]:
        if self._jobs is None or self._served.intersection(ids):
            self._jobs = None
            self._served.clear()
            self._jobs = self.scheduler.jobs()
        self._served.update(ids)
        return self._jobs

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        if not submission.wms_id:
            return super().observe(submission, launch_dir, setup)
        return self.observe_many([(submission, launch_dir)], setup)[submission.wms_id]

    def jobs_of(self, runs: Sequence[tuple[Submission, Path]]) -> dict[str, list[SlurmJob]]:
        """wms_id -> the current attempt's Slurm jobs, for every run given, from one listing of the scheduler
        (WmsUnreachable when slurmctld does not answer)."""
        return {wms_id: without_parsl_cancels(jobs, d) for wms_id, (jobs, d) in self._launched(runs).items()}

    def _launched(self, runs: Sequence[tuple[Submission, Path]]) -> dict[str, tuple[list[SlurmJob], Path]]:
        ids = [s.wms_id for s, _ in runs if s.wms_id]
        jobs = self._listing(ids)
        by_dir: dict[str, list[SlurmJob]] = {}
        for job in jobs:
            by_dir.setdefault(job.work_dir, []).append(job)
        return {s.wms_id: (launched_from(by_dir.get(str(d.resolve()), []), d), d) for s, d in runs if s.wms_id}

    def observe_many(self, runs: Sequence[tuple[Submission, Path]], setup: str) -> dict[str, Observation]:
        try:
            launched = self._launched(runs)
        except WmsUnreachable as exc:
            return {s.wms_id: Observation(RunState.UNKNOWN, message=f"Slurm cannot be asked: {exc}")
                    for s, _ in runs if s.wms_id}
        out: dict[str, Observation] = {}
        for submission, launch_dir in runs:
            if submission.wms_id:
                try:
                    seen = self.bps_report(submission, launch_dir, setup)
                except WmsUnreachable as exc:
                    seen = Observation(RunState.UNKNOWN, message=str(exc))
                jobs, _ = launched[submission.wms_id]
                out[submission.wms_id] = replace(with_slurm(seen, without_parsl_cancels(jobs, launch_dir)),
                                                 job_usage=job_usage(jobs))
        return out

    def bps_report(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        """What bps says of the run (`bps report` through the parsl plugin): its state and quanta."""
        return BpsWms.observe(self, submission, launch_dir, setup)

    def cancel(self, submission: Submission | None, launch_dir: Path, setup: str) -> str:
        """Stop the bps process (parsl's interchange), then `scancel` this attempt's jobs still held."""
        stopped = super().cancel(submission, launch_dir, setup)
        self._jobs = None
        held = [j.job_id for j in attempt_jobs(self.scheduler.jobs(), launch_dir) if not j.finished]
        return f"{stopped}; {self.scheduler.cancel(held)}"


__all__ = ["SlurmWms", "attempt_jobs", "cancelled_by_parsl", "ended_by_slurm", "job_usage", "launched_from",
           "parsl_shutdown", "with_slurm", "without_parsl_cancels"]
