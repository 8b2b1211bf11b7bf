"""What a run hands to its WMS, without submitting it: `bps prepare` through the real plugin, offline.

`lsst.ctrl.bps.drivers.prepare_driver(config, runWmsSubmissionChecks=False)` builds the quantum graph
on the run's Butler, clusters it and makes the plugin's own workflow: with ctrl_bps_panda the iDDS
workflow of PanDA tasks (`PandaBpsWmsWorkflow`), with ctrl_bps_htcondor the DAG and submit files, with
ctrl_bps_parsl its `ParslWorkflow` (jobs, and the site's parsl executors and Slurm providers, built without
asking Slurm). No server is asked (the flag skips the iDDS ping). This module reads back, per task, what would reach the
WMS: site, cloud, queue, memory, retries and the job's command line.

Boundaries: pandaclient resolves its server's name at import time unless ``PANDA_BEHIND_REAL_LB`` is
set, so `prepare` sets it when unset; the PanDA site files are found through ``CTRL_BPS_PANDA_DIR``
(the stack defines it; the PyPI wheel has no ``config/``). Building the graph registers the run's
output RUN and CHAINED collections in the Butler (pipetask qgraph does): prepare a scratch output.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...domain.errors import WmsError

_HEX_COMMAND = re.compile(r"cmd_line_decoder\.py\s+([0-9a-f]+)\s")
_SUB_LINE = re.compile(r"^([A-Za-z_+][\w+]*)\s*=\s*(.*)$")
_DAG_JOB = re.compile(r'^(?:JOB|FINAL)\s+(\S+)\s+"?([^"\s]+)"?(?:\s+DIR\s+"?([^"\s]+)"?)?', re.MULTILINE)
# request_memory is a number, or (memory multiplier) an expression whose first run asks max({MB, MemoryUsage}).
_MEMORY = re.compile(r"^(\d+)$|max\(\{(\d+)")


class PrepareError(WmsError):
    """bps could not prepare the run (bad config, Butler query, plugin)."""


@dataclass(frozen=True)
class PreparedTask:
    """One PanDA task, or the HTCondor or parsl jobs of one label: what the WMS is asked to run (parsl: the
    queue is the executor the site class picks, e.g. CC-IN2P3's slot size)."""

    name: str
    label: str  # pipetask label, a cluster name, pipetaskInit or finalJob
    jobs: int
    queue: str | None
    site: str | None
    cloud: str | None
    memory: int | None  # MB
    retries: int | None  # attempts the WMS makes (PanDA maxAttempt, HTCondor max_retries)
    command: str  # the payload's command line as the job runs it (decoded)
    wrapper: str = ""  # what runs around it (PanDA: the job set-up and prmon; HTCondor: getenv)


@dataclass(frozen=True)
class PreparedRun:
    service: str
    submit_dir: str
    tasks: tuple[PreparedTask, ...]
    seconds: float

    def task(self, label: str) -> PreparedTask:
        found = [t for t in self.tasks if t.label == label]
        if len(found) != 1:
            raise KeyError(f"{len(found)} tasks labelled {label!r}: {[t.label for t in self.tasks]}")
        return found[0]


@contextlib.contextmanager
def _in_directory(path: Path) -> Iterator[None]:
    """bps resolves submitPath from $PWD: run in `path`, then put cwd and PWD back."""
    old_cwd, old_pwd = os.getcwd(), os.environ.get("PWD")
    os.chdir(path)
    os.environ["PWD"] = str(path)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        if old_pwd is None:
            os.environ.pop("PWD", None)
        else:
            os.environ["PWD"] = old_pwd


def prepare(config: Path, workdir: Path) -> PreparedRun:
    """Prepare the submit YAML `config` in `workdir` (its submit/ goes there) and read what the WMS gets."""
    os.environ.setdefault("PANDA_BEHIND_REAL_LB", "1")
    try:
        from lsst.ctrl.bps.drivers import prepare_driver
    except ImportError as exc:
        raise PrepareError(f"lsst.ctrl.bps is not importable here ({exc}): run under the stack") from exc
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with _in_directory(workdir):
        try:
            bps_config, workflow = prepare_driver(  # type: ignore[no-untyped-call]
                str(Path(config).resolve()), runWmsSubmissionChecks=False)
        except Exception as exc:  # whatever bps or the plugin raised: say which and where
            raise PrepareError(f"bps prepare of {config} failed: {type(exc).__name__}: {exc}") from exc
    seconds = time.monotonic() - start
    service = str(bps_config["wmsServiceClass"])
    submit_dir = str(bps_config["submitPath"])  # PanDA's workflow object leaves its submit_path unset
    panda = hasattr(workflow, "idds_client_workflow")
    parsl = hasattr(workflow, "parsl_config")
    tasks = (_panda_tasks(workflow) if panda else _parsl_tasks(workflow, str(bps_config["computeSite"])) if parsl
             else _htcondor_tasks(Path(submit_dir)))
    return PreparedRun(service, submit_dir, tasks, seconds)


# ---- PanDA: the iDDS workflow's works -------------------------------------------------------------

def decode_command(executable: str) -> str:
    """The payload command line a PanDA job runs: ctrl_bps_panda ships it hex-encoded to its decoder."""
    found = _HEX_COMMAND.search(executable)
    return bytes.fromhex(found.group(1)).decode("utf-8").strip() if found else ""


def _panda_label(workflow_name: str, task_name: str) -> str:
    # Task names are {workflow}_{NN}_{label}_{chunk} (ctrl_bps_panda utils._make_doma_work).
    rest = task_name[len(workflow_name) + 1:] if task_name.startswith(workflow_name + "_") else task_name
    return re.sub(r"^\d+_", "", re.sub(r"_\d+$", "", rest))


def _panda_tasks(workflow: Any) -> tuple[PreparedTask, ...]:
    out = []
    for work in workflow.idds_client_workflow.get_all_works():
        executable = str(work.executable)
        found = _HEX_COMMAND.search(executable)
        out.append(PreparedTask(
            name=str(work.task_name), label=_panda_label(str(workflow.name), str(work.task_name)),
            jobs=max(1, len(work.dependency_map or ())), queue=work.task_queue, site=work.task_site,
            cloud=work.task_cloud, memory=int(work.task_rss) if work.task_rss else None,
            retries=int(work.maxAttempt) if getattr(work, "maxAttempt", None) is not None else None,
            command=decode_command(executable),
            wrapper=executable[:found.start()] if found else executable))
    return tuple(out)


# ---- HTCondor: the DAG and its submit files -------------------------------------------------------

def _submit_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        found = _SUB_LINE.match(line.strip())
        if found:
            values[found.group(1)] = found.group(2).strip()
    return values


def _htcondor_tasks(submit_dir: Path) -> tuple[PreparedTask, ...]:
    dags = sorted(submit_dir.glob("*.dag"))
    if not dags:
        raise PrepareError(f"no DAG file in {submit_dir}: the HTCondor plugin wrote nothing to submit")
    by_label: dict[str, list[dict[str, str]]] = {}
    for _name, sub, directory in _DAG_JOB.findall(dags[0].read_text(encoding="utf-8")):
        values = _submit_file(submit_dir / (directory or ".") / sub)
        label = values.get("+bps_job_label", "").strip('"') or "unknown"
        by_label.setdefault(label, []).append(values)
    out = []
    for label, jobs in by_label.items():
        first = jobs[0]
        memory = _MEMORY.search(first.get("request_memory", ""))
        retries = first.get("max_retries")
        command = f"{first.get('executable', '')} {first.get('arguments', '').strip(chr(34))}".strip()
        out.append(PreparedTask(
            name=label, label=label, jobs=len(jobs), queue=None, site=first.get("+bps_runsite", "").strip('"') or None,
            cloud=None, memory=int(memory.group(1) or memory.group(2)) if memory else None,
            retries=int(retries) if retries and retries.isdigit() else None, command=command,
            wrapper=f"getenv={first.get('getenv', '')}"))
    return tuple(out)


# ---- parsl (ctrl_bps_parsl, e.g. on Slurm): the ParslWorkflow's jobs and the executor each is sent to --------

PARSL_LOCAL = "local"  # ParslWorkflow runs pipetaskInit and the final job in the bps process, not in parsl


def _parsl_tasks(workflow: Any, site: str) -> tuple[PreparedTask, ...]:
    """Per label: the jobs of lsst.ctrl.bps.parsl's `ParslWorkflow` (its `jobs`, `final`), the executor its site
    class picks for each (`site.select_executor`: on Slurm one worker-block kind, the CC-IN2P3 slot by memory)
    as the queue — `local` for pipetaskInit and the final job, which `ParslWorkflow.initialize_jobs` and
    `finalize_jobs` run in the bps process —, memory and the command line. Building the workflow made parsl's
    executors and providers (SlurmProvider: partition, walltime, #SBATCH lines) without asking Slurm."""
    by_label: dict[str, list[Any]] = {}
    final = [workflow.final] if workflow.final is not None else []
    for job in [*workflow.jobs.values(), *final]:
        by_label.setdefault(str(job.generic.label), []).append(job)
    out = []
    for label, jobs in by_label.items():
        first = jobs[0]
        local = label == "pipetaskInit" or first in final
        memory = first.generic.request_memory
        retries = first.generic.number_of_retries
        out.append(PreparedTask(
            name=label, label=label, jobs=len(jobs), queue=PARSL_LOCAL if local else str(workflow.site.select_executor(first)),
            site=site,
            cloud=None, memory=int(memory) if memory is not None else None,
            retries=int(retries) if retries is not None else None,
            command=first.evaluate_command_line(first.get_command_line(allow_stage=False)),
            wrapper=str(workflow.command_prefix or "")))
    return tuple(out)


__all__ = ["PrepareError", "PreparedRun", "PreparedTask", "decode_command", "prepare"]
