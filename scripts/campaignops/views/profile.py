"""Task profiles for people: the terminal table, the campaign page's markdown table, the suggested block."""

from __future__ import annotations

from collections.abc import Sequence

from ..planning.profile import MARGIN, AttemptJobs, Stats, TaskProfile, suggestion
from .markdown import cell

FLAGS = {"under": "UNDER-requested", "over": "over-requested", "": ""}


def _mem(s: Stats) -> str:
    return f"{s.p50:.0f} / {s.p95:.0f} / {s.max:.0f}"


def _secs(s: Stats) -> str:
    return f"{s.p50:.2f} / {s.p95:.2f} / {s.max:.2f}"


def _rows(found: Sequence[TaskProfile]) -> list[list[str]]:
    return [[p.step, p.label, str(p.quanta), _mem(p.memory_mb), _secs(p.cpu_s), _secs(p.wall_s),
             str(p.requested_mb), str(p.suggested_mb), FLAGS[p.flag]] for p in found]


HEADER = ["step", "task", "quanta", "peak MB p50/p95/max", "CPU s p50/p95/max", "wall s p50/p95/max",
          "requested MB", "suggested MB", "flag"]


def suggested_block(found: Sequence[TaskProfile]) -> str:
    """The `resources.tasks` blocks `--write` would put in the spec, as YAML to read ('' when none)."""
    changes = suggestion(found)
    out = []
    for step, labels in changes.items():
        out += [f"# step {step}", "resources:", "  tasks:"]
        out += [f"    {label}: {{requestMemory: {mb}}}" for label, mb in sorted(labels.items())]
    return "\n".join(out) + ("\n" if out else "")


def as_text(campaign: str, found: Sequence[TaskProfile]) -> str:
    if not found:
        return (f"{campaign}: no quantum resource usage found (nothing ran yet, or its output runs are gone); "
                "profiles come from the <task>_metadata datasets of the runs' output collections\n")
    rows = [HEADER, *_rows(found)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    under = [p for p in found if p.flag == "under"]
    over = [p for p in found if p.flag == "over"]
    notes = [f"suggested = p99 of peak memory + {MARGIN:.0%}, rounded up to 256 MB (at least 512), then to the "
             "limit of the site's memory queue it falls in (the profile's queues.by_memory)."]
    notes += [f"{p.step}/{p.label}: a quantum peaked at {p.memory_mb.max:.0f} MB, above the {p.requested_mb} MB "
              "requested (a batch site would kill it)" for p in under]
    notes += [f"{p.step}/{p.label}: requests {p.requested_mb} MB, more than twice the {p.suggested_mb} MB it needs"
              for p in over]
    block = suggested_block(found)
    tail = (["", "Suggested (`campaign profile " + campaign + " --write` puts it in the spec):", block.rstrip()]
            if block else ["", "Every request already matches its suggestion."])
    return "\n".join([f"{campaign}: resource use per quantum", "", *lines, "", *notes, *tail]) + "\n"


def batch_text(found: Sequence[AttemptJobs]) -> str:
    """The batch jobs' section of `campaign profile` ('' when no attempt has any recorded)."""
    if not found:
        return ""
    rows = [["run", "attempt", "state", "batch jobs", "elapsed h", "core-hours", "cores/job"]]
    rows += [[j.run, str(j.attempt), j.state, str(j.jobs), f"{j.elapsed_s / 3600:.2f}", f"{j.core_hours:.2f}",
              str(j.cores)] for j in found]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    total = sum(j.core_hours for j in found)
    return "\n".join(["Batch jobs per attempt, as the scheduler accounted them (Slurm: jobcomp StartTime, EndTime, "
                      "ProcCnt; a job is a worker block serving many quanta)", "", *lines, "",
                      f"total: {sum(j.jobs for j in found)} job(s), {total:.2f} core-hours"]) + "\n"


def as_markdown(found: Sequence[TaskProfile]) -> list[str]:
    """The campaign page's section ([] when nothing was profiled)."""
    if not found:
        return []
    out = ["## Resource use per task", "",
           "Per quantum, from the task metadata of the output runs (`campaign profile` recorded it). "
           "Suggested memory is p99 + 20 %, rounded up.", "",
           "| " + " | ".join(HEADER) + " |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in _rows(found)]
    out.append("")
    return out


__all__ = ["as_markdown", "as_text", "batch_text", "suggested_block"]
