"""A WMS kept in memory: every launch and restart is recorded, runs move when they are told to.

It implements the `Wms` port exactly as the engine sees bps (a launch that may not have reached the WMS
yet, a run id found later, a report that can fail), so the engine's crash recovery, relaunch, heartbeat,
acceptance and gates are tested in milliseconds, and a benchmark can drive thousands of runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..domain.errors import WmsError, WmsUnreachable
from ..domain.states import RunState, TaskCounts
from ..ports import Launch, Observation, Submission


class Crash(BaseException):
    """Raised by `launch` when told to: the process died right after starting the workflow.

    A BaseException, so no `except Exception` in the engine can swallow it, as none could a kill.
    """


@dataclass
class MemoryRun:
    """One launch directory: what was started there and what the WMS says of it."""

    launch_dir: Path
    config: Path
    wms_id: str
    registered: bool = True  # False: bps started but has not created the run yet (no submit dir, no id)
    observation: Observation = field(default_factory=lambda: Observation(RunState.PENDING))
    submits: int = 0
    restarts: int = 0
    cancels: int = 0

    @property
    def submit_dir(self) -> str:
        return str(self.launch_dir / "submit")


class InMemoryWms:
    """The `Wms` port in memory. Drive it with `run_for`, `finish`, `unreachable` and the crash flags."""

    def __init__(self) -> None:
        self.runs: dict[Path, MemoryRun] = {}
        self.log: list[tuple[str, Path]] = []  # ("submit" | "restart" | "cancel", launch dir), in order
        self.unreachable = False
        self.crash_after_launch = False
        self.crash_before_launch = False
        self.refuse_launch = ""  # a reason: the next launch fails as a bps that cannot start does
        self.register_on_launch = True
        self.observed = 0

    # ---- the port --------------------------------------------------------------------------------

    def launch(self, config: Path, launch_dir: Path, setup: str) -> Launch:
        if self.refuse_launch:
            reason, self.refuse_launch = self.refuse_launch, ""
            raise WmsError(reason)
        if self.crash_before_launch:
            self.crash_before_launch = False
            raise Crash(f"killed before launching {launch_dir}")
        run = self.runs.get(launch_dir)
        if run is None:
            run = MemoryRun(launch_dir, config, f"mem-{len(self.runs) + 1}", registered=self.register_on_launch)
            self.runs[launch_dir] = run
        run.submits += 1
        self.log.append(("submit", launch_dir))
        if self.crash_after_launch:
            self.crash_after_launch = False
            raise Crash(f"killed after launching {launch_dir}")
        return Launch(launch_dir, 4242)

    def launched(self, launch_dir: Path) -> bool:
        return launch_dir in self.runs

    def find_submission(self, launch_dir: Path) -> Submission | None:
        run = self.runs.get(launch_dir)
        if run is None or not run.registered:
            return None
        return Submission(run.submit_dir, run.wms_id)

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        self.observed += 1
        if self.unreachable:
            raise WmsUnreachable("the in-memory monitor is down")
        run = self.runs.get(launch_dir)
        if run is None:
            raise WmsUnreachable(f"no run was launched in {launch_dir}")
        return run.observation

    def restart(self, submission: Submission, launch_dir: Path, setup: str) -> Launch:
        run = next((r for r in self.runs.values() if r.wms_id == submission.wms_id), None)
        if run is None:
            raise WmsUnreachable(f"no run {submission.wms_id} to restart")
        run.restarts += 1
        run.observation = Observation(RunState.RUNNING, run.observation.tasks)
        self.log.append(("restart", launch_dir))
        return Launch(launch_dir, 4243)

    def describe(self) -> str:
        return ""  # nothing metered

    def cancel(self, submission: Submission | None, launch_dir: Path, setup: str) -> str:
        if self.unreachable:
            raise WmsUnreachable("the in-memory monitor is down")
        run = self.runs.get(launch_dir)
        if run is None:
            raise WmsError(f"nothing was launched in {launch_dir}")
        run.cancels += 1
        self.log.append(("cancel", launch_dir))
        run.observation = Observation(RunState.CANCELLED, run.observation.tasks)
        return f"cancelled {run.wms_id}"

    # ---- driving it --------------------------------------------------------------------------------

    def run_for(self, run_key: str, attempt: int = 1) -> MemoryRun:
        """The launch of attempt `attempt` of run `step/group` (launch dirs end in <step>/<group>/aNN)."""
        suffix = f"{run_key}/a{attempt:02d}"
        found = [r for d, r in self.runs.items() if d.as_posix().endswith(suffix)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} launches of {suffix}: {sorted(map(str, self.runs))}")
        return found[0]

    def finish(self, run_key: str, state: RunState, *, attempt: int = 1, succeeded: int = 10, failed: int = 0,
               label: str = "calibrate", errors: tuple[str, ...] = ()) -> None:
        """Say what the WMS reports of a run from now on (per-task counts of one task label)."""
        counts = tuple(sorted((s, n) for s, n in (("SUCCEEDED", succeeded), ("FAILED", failed)) if n))
        run = self.run_for(run_key, attempt)
        run.registered = True
        run.observation = Observation(state, (TaskCounts(label, counts),), errors=errors)

    def submissions(self, run_key: str) -> int:
        """How many times bps was started for `run_key` (all attempts): never more than the ledger shows."""
        return sum(1 for kind, d in self.log if kind == "submit" and f"/{run_key}/a" in d.as_posix() + "/")


__all__ = ["Crash", "InMemoryWms", "MemoryRun"]
