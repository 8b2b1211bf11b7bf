"""The `Wms` port kept in each launch directory (`wms.json`), so runners in separate processes share one WMS.

A runner per facility is a process of its own (tests/fakes/site_runner.py, in its own mount namespace): the
in-memory WMS cannot outlive it. Here every launch writes its state beside the launch, each observation reads
it back, and the test says what the WMS reports next by writing it (`finish`). Each launch is counted in the
file, so "submitted exactly once" is read back from what the WMS saw, not from the ledger.
"""

from __future__ import annotations

import json
from pathlib import Path

from campaignops.domain.errors import WmsError, WmsUnreachable
from campaignops.domain.states import RunState, TaskCounts
from campaignops.ports import Launch, Observation, Submission

STATE = "wms.json"


def _read(launch_dir: Path) -> dict[str, object] | None:
    path = launch_dir / STATE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _write(launch_dir: Path, data: dict[str, object]) -> None:
    (launch_dir / STATE).write_text(json.dumps(data), encoding="utf-8")


class FileWms:
    """The port, its state in `<launch dir>/wms.json`: launches counted, the state the test last gave."""

    def launch(self, config: Path, launch_dir: Path, setup: str) -> Launch:
        data = _read(launch_dir) or {"state": RunState.PENDING.value, "wms_id": f"file-{launch_dir.name}",
                                     "submits": 0, "restarts": 0}
        data["submits"] = int(str(data["submits"])) + 1
        _write(launch_dir, data)
        return Launch(launch_dir, 4242)

    def launched(self, launch_dir: Path) -> bool:
        return (launch_dir / STATE).exists()

    def find_submission(self, launch_dir: Path) -> Submission | None:
        data = _read(launch_dir)
        return None if data is None else Submission(str(launch_dir / "submit"), str(data["wms_id"]))

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        data = _read(launch_dir)
        if data is None:
            raise WmsUnreachable(f"no run was launched in {launch_dir}")
        state = RunState(str(data["state"]))
        counts = (("SUCCEEDED", 4),) if state == RunState.SUCCEEDED else ()
        return Observation(state, (TaskCounts("calibrateDemo", counts),) if counts else ())

    def restart(self, submission: Submission, launch_dir: Path, setup: str) -> Launch:
        data = _read(launch_dir)
        if data is None:
            raise WmsUnreachable(f"no run to restart in {launch_dir}")
        data["restarts"] = int(str(data["restarts"])) + 1
        data["state"] = RunState.RUNNING.value
        _write(launch_dir, data)
        return Launch(launch_dir, 4243)

    def cancel(self, submission: Submission | None, launch_dir: Path, setup: str) -> str:
        if _read(launch_dir) is None:
            raise WmsError(f"nothing was launched in {launch_dir}")
        return "cancelled"

    def describe(self) -> str:
        return ""


def launches(workdir: Path) -> dict[str, int]:
    """`step/group` -> how many times bps was started for it, of every launch under a runner's work directory."""
    found: dict[str, int] = {}
    for path in sorted(workdir.glob("*/*/*/a*/" + STATE)):
        key = f"{path.parent.parent.parent.name}/{path.parent.parent.name}"
        found[key] = found.get(key, 0) + int(json.loads(path.read_text(encoding="utf-8"))["submits"])
    return found


def finish(workdir: Path, state: RunState) -> list[str]:
    """Every run launched under `workdir` reported in `state` from now on; returns their keys."""
    done = []
    for path in sorted(workdir.glob("*/*/*/a*/" + STATE)):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["state"] = state.value
        path.write_text(json.dumps(data), encoding="utf-8")
        done.append(f"{path.parent.parent.parent.name}/{path.parent.parent.name}")
    return done
