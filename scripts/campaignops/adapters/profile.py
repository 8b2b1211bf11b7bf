"""What quanta used, read from the Butler: the `<label>_metadata` datasets pipetask writes into the output
run of every quantum that ran (peak RSS, CPU and wall time, via pipe_base's QuantumResourceUsage)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..domain.errors import ButlerQueryError
from ..domain.usage import QuantumUsage
from ..ledger.records import Ledger
from .butler import ButlerHandle

METADATA_SUFFIX = "_metadata"
MIB = 1024 * 1024


class ButlerUsage(ButlerHandle):
    """Reads the resource usage of executed quanta from one Butler repository (read-only)."""

    def usage(self, runs: Iterable[tuple[str, str]]) -> list[QuantumUsage]:
        """Every quantum's usage in the given (step, RUN collection) pairs; a run the Butler does not
        have (never created, or removed by retention) gives nothing."""
        from lsst.daf.butler import MissingCollectionError
        from lsst.pipe.base.resource_usage import QuantumResourceUsage

        butler = self._open()
        found: list[QuantumUsage] = []
        for step, run in dict.fromkeys(runs):
            try:
                refs = butler.query_all_datasets(run, name=f"*{METADATA_SUFFIX}", find_first=False, limit=None)
            except MissingCollectionError:
                continue
            except Exception as exc:
                raise ButlerQueryError(f"cannot list the task metadata of {run} in {self.repo}: {exc}") from exc
            for ref in sorted(refs, key=lambda r: (r.datasetType.name, str(r.dataId))):
                name = ref.datasetType.name
                if not name.endswith(METADATA_SUFFIX) or ref.datasetType.storageClass_name != "TaskMetadata":
                    continue
                used = QuantumResourceUsage.from_task_metadata(butler.get(ref))
                if used is None:
                    continue
                found.append(QuantumUsage(step, name.removesuffix(METADATA_SUFFIX), used.memory / MIB,
                                          used.run_time_cpu, used.total_time, run))
        return found


def output_runs(ledger: Ledger) -> list[tuple[str, str]]:
    """(step, RUN collection) of every attempt that may have run quanta, less those retention removed."""
    gone = {r.run for r in ledger.removed}
    return [(r.step, a.output_run) for r in ledger.runs for a in r.attempts
            if (a.reached_wms or a.tasks) and a.output_run not in gone]


FILES = ("campaigns/*/profile.yaml",)  # what `write_record` writes (`campaign profile --record`), from the root


def write_record(path: Path, campaign: str, records: list[dict[str, Any]],
                 cost: list[dict[str, Any]] | None = None) -> bool:
    """Keep the profile table (and the cost table, when given) beside the ledger for the status page; False when
    it did not change."""
    data: Any = records if cost is None else {"tasks": records, "cost": cost}
    text = (f"# Resource use per task of {campaign}: written by `campaign profile --record`.\n"
            + yaml.safe_dump(data, sort_keys=False))
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


__all__ = ["FILES", "ButlerUsage", "output_runs", "write_record"]
