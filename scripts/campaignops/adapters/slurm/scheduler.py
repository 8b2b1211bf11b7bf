"""What the Slurm scheduler says about its jobs, read in bulk: one `squeue` call per status cycle for the
jobs it still holds (pending with a reason, running), and the `jobcomp/filetxt` log (a file, no call) for the
finished ones — a cluster without slurmdbd has no `sacct` to ask.

States and reasons are Slurm's words: squeue(1) "JOB STATE CODES" and "JOB REASON CODES"
(SchedMD/slurm doc/man/man1/squeue.1); the jobcomp line is `key=value` pairs written by
src/plugins/jobcomp/filetxt/jobcomp_filetxt.c (JobId, Name, JobState, WorkDir, SubmitTime, StartTime, EndTime,
ProcCnt, Tres, ExitCode, ...): enough for each finished job's elapsed time and cores (core-hours) without sacct.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ...domain.errors import WmsError, WmsUnreachable
from ...domain.usage import JobUsage

TIMEOUT = 20.0  # seconds a scheduler command may take before slurmctld counts as not answering
SEP = "\x1f"  # squeue field separator: no path or job name carries it
SQUEUE_FORMAT = SEP.join(["%i", "%j", "%T", "%r", "%V", "%Z"])  # id, name, state, reason, submit time, workdir

# squeue(1) JOB STATE CODES a job ends in that mean the batch system (or someone) ended it, not the payload.
ENDED_BY_SLURM = {
    "TIMEOUT": "reached its time limit (the profile's walltime is shorter than the work)",
    "NODE_FAIL": "its node failed (slurmd stopped answering)",
    "PREEMPTED": "was preempted by a higher-priority job",
    "OUT_OF_MEMORY": "ran out of memory (the cgroup limit)",
    "CANCELLED": "was cancelled (scancel) by someone or something other than campaign cancel",
    "BOOT_FAIL": "could not boot its node",
    "DEADLINE": "missed its deadline",
    "FAILED": "ended with a non-zero exit code (the parsl worker pool failed)",
}
# squeue(1) JOB REASON CODES of a pending job that wait on the cluster, not on the job itself.
BLOCKED_REASONS = {"PartitionDown", "ReqNodeNotAvail", "NodeDown", "PartitionInactive", "InvalidQOS",
                   "InvalidAccount", "QOSMaxJobsPerUserLimit", "AssocGrpCpuLimit"}


def blocked(reason: str) -> bool:
    """Whether a pending job waits on the cluster (a node or partition unavailable) rather than its turn.
    slurmctld also writes free text as the reason (squeue %r shows it): "Nodes required for job are DOWN,
    DRAINED or reserved for jobs in higher priority partitions" (src/slurmctld/job_scheduler.c), seen here
    with the node drained."""
    return reason.split(",")[0] in BLOCKED_REASONS or any(w in reason for w in ("DOWN", "DRAINED", "NotAvail"))


@dataclass(frozen=True)
class SlurmJob:
    """One Slurm job as the scheduler reports it (squeue while held, the jobcomp log once finished)."""

    job_id: str
    name: str
    state: str  # squeue's long state name: PENDING, RUNNING, COMPLETED, TIMEOUT, ...
    reason: str = ""  # pending/held reason (squeue %r); "None" is dropped
    submitted: str = ""  # ISO time without zone (Slurm's local time)
    work_dir: str = ""
    exit_code: str = ""  # "code:signal" (jobcomp)
    ended: str = ""  # EndTime (jobcomp), as `submitted`
    started: str = ""  # StartTime (jobcomp), as `submitted`
    cores: int = 0  # CPUs allocated (jobcomp ProcCnt; 0 for a job cancelled while pending)
    memory_mb: int = 0  # memory allocated (jobcomp Tres mem=)

    @property
    def finished(self) -> bool:
        return self.state not in {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
                                  "RESIZING", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD", "REQUEUE_HOLD",
                                  "REQUEUE_FED", "STOPPED"}

    def submitted_at(self) -> float | None:
        """Submit time as a POSIX timestamp (Slurm prints local time, as this process reads it)."""
        return _timestamp(self.submitted)

    def ended_at(self) -> float | None:
        return _timestamp(self.ended)

    def usage(self) -> JobUsage | None:
        """What the job used as Slurm accounts it (elapsed = EndTime - StartTime, ProcCnt cores), once it has
        finished after running on a node (its jobcomp line: squeue lists only jobs still held); None while it
        runs, or when it never started (cancelled pending: ProcCnt=0)."""
        start, end = _timestamp(self.started), _timestamp(self.ended)
        if not self.finished or start is None or end is None or self.cores <= 0:
            return None
        return JobUsage(self.job_id, self.state, max(0.0, end - start), self.cores, self.memory_mb)


def _timestamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def megabytes(text: str) -> int:
    """A Slurm memory size ("23593M", "4G", "512", "1.5T") in MB; 0 when it is not one."""
    text = text.strip()
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}.get(text[-1:].upper(), 0) if text else 0
    number = text[:-1] if scale else text
    try:
        return round(float(number) * (scale or 1))
    except ValueError:
        return 0


def _count(text: str) -> int:
    return int(text) if text.strip().isdigit() else 0


def parse_squeue(text: str) -> list[SlurmJob]:
    """Rows of `squeue -h -o SQUEUE_FORMAT`."""
    jobs = []
    for line in text.splitlines():
        fields = line.split(SEP, 5)
        if len(fields) != 6:
            continue
        job_id, name, state, reason, submitted, work_dir = fields
        jobs.append(SlurmJob(job_id.strip(), name, state.strip(), "" if reason == "None" else reason,
                             submitted, work_dir))
    return jobs


def parse_jobcomp(text: str) -> list[SlurmJob]:
    """Lines of a `jobcomp/filetxt` log: `JobId=1 ... Name=x JobState=TIMEOUT ... WorkDir=/p ...`.
    Values have no spaces except where Slurm writes none; a line that does not parse is skipped."""
    jobs = []
    for line in text.splitlines():
        pairs = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "JobId" not in pairs or "JobState" not in pairs:
            continue
        # "CANCELLED by 0" is written as JobState=CANCELLED; keep the first word of the state.
        tres = dict(t.split("=", 1) for t in pairs.get("Tres", "").split(",") if "=" in t)
        jobs.append(SlurmJob(pairs["JobId"], pairs.get("Name", ""), pairs["JobState"].split()[0],
                             submitted=pairs.get("SubmitTime", ""), work_dir=pairs.get("WorkDir", ""),
                             exit_code=pairs.get("ExitCode", ""), ended=pairs.get("EndTime", ""),
                             started=pairs.get("StartTime", ""), cores=_count(pairs.get("ProcCnt", "")),
                             memory_mb=megabytes(tres.get("mem", ""))))
    return jobs


def jobcomp_path(env: Mapping[str, str]) -> Path | None:
    """`JobCompLoc` of slurm.conf ($SLURM_CONF, else /etc/slurm/slurm.conf) when JobCompType is filetxt."""
    conf = Path(env.get("SLURM_CONF") or "/etc/slurm/slurm.conf")
    try:
        text = conf.read_text()
    except OSError:
        return None
    keys = {}
    for line in text.splitlines():
        key, _, value = line.split("#", 1)[0].strip().partition("=")
        keys[key.strip().lower()] = value.strip()
    if keys.get("jobcomptype") != "jobcomp/filetxt" or not keys.get("jobcomploc"):
        return None
    return Path(keys["jobcomploc"])


def merged(held: Sequence[SlurmJob], done: Sequence[SlurmJob]) -> list[SlurmJob]:
    """squeue's rows and the jobcomp log's lines as one list. A job id in both is either a job whose end was
    just logged while squeue still shows it COMPLETING (the log line wins), or a job Slurm requeued after its
    node failed or it was preempted (JobRequeue=1, the default: seen here, NODE_FAIL logged, then the same id
    PENDING with reason BeginTime): then both stay, the ended incarnation and the queued one."""
    ended = {j.job_id for j in done}
    rows = [j for j in held if not (j.job_id in ended and j.state == "COMPLETING")]
    return [*{(j.job_id, j.ended): j for j in done}.values(), *rows]


class SlurmScheduler:
    """The scheduler's commands, run as this process's user. `calls` counts the scheduler calls made."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.calls = 0

    def _run(self, args: Sequence[str]) -> str:
        self.calls += 1
        try:
            proc = subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT, env=self.env,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise WmsUnreachable(f"`{args[0]}` is not installed here: the Slurm client commands are needed "
                                 "(apt-get install slurm-client)") from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WmsUnreachable(f"`{shlex.join(args)}` did not answer: {exc}") from exc
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip().splitlines()
            # slurmctld down: "slurm_load_jobs error: Unable to contact slurm controller (connect failure)"
            raise WmsUnreachable(f"`{args[0]}` failed (exit {proc.returncode}): {said[-1] if said else 'no message'}")
        return proc.stdout

    def jobs(self) -> list[SlurmJob]:
        """Every job Slurm knows of: held ones from one `squeue` call, finished ones from the jobcomp log."""
        held = parse_squeue(self._run(["squeue", "--all", "-h", "-o", SQUEUE_FORMAT]))
        log = jobcomp_path(self.env)
        try:
            done = parse_jobcomp(log.read_text(errors="replace")) if log is not None and log.exists() else []
        except OSError as exc:
            raise WmsError(f"the Slurm jobcomp log {log} cannot be read: {exc}") from exc
        return merged(held, done)

    def cancel(self, job_ids: Sequence[str]) -> str:
        """`scancel` exactly these jobs."""
        if not job_ids:
            return "no Slurm job to cancel"
        self._run(["scancel", *job_ids])
        return f"scancel {' '.join(job_ids)}"


__all__ = [
    "BLOCKED_REASONS",
    "ENDED_BY_SLURM",
    "SlurmJob",
    "SlurmScheduler",
    "blocked",
    "jobcomp_path",
    "megabytes",
    "merged",
    "parse_jobcomp",
    "parse_squeue",
]
