"""The campaign ledger: what was submitted, where, and what became of it (campaigns/<name>/ledger.yaml)."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

LEDGER_FILE = "ledger.yaml"
# libyaml when present: a 500-run ledger loads and dumps several times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SCHEMA_VERSION = 1


class LedgerError(ValueError):
    """A ledger file that cannot be read; the message says how to restore it."""


class RunState(StrEnum):
    """State of one attempt of a run, as the campaign sees it."""

    SUBMITTING = "SUBMITTING"  # intent recorded, bps launched or about to be: reconcile before resubmitting
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    HELD = "HELD"  # blocked: needs an operator
    UNKNOWN = "UNKNOWN"  # the WMS could not be asked: never treated as failed
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


@dataclass(frozen=True)
class Transition:
    at: str
    state: RunState
    note: str = ""


@dataclass(frozen=True)
class TaskCounts:
    """Quanta of one pipeline task label by state, the way `bps report` shows them."""

    label: str
    counts: tuple[tuple[str, int], ...]  # state name -> count, sorted

    def get(self, state: str) -> int:
        return dict(self.counts).get(state, 0)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


@dataclass(frozen=True)
class Attempt:
    """One submission of a run: its own output RUN collection and submit directory."""

    number: int
    kind: str  # submit | restart | retry-memory | rescue
    output_run: str
    config_hash: str
    config_path: str
    launch_dir: str
    submit_dir: str = ""
    wms_id: str = ""
    submitted_at: str = ""
    state: RunState = RunState.SUBMITTING
    last_checked: str = ""
    tasks: tuple[TaskCounts, ...] = ()
    exit_codes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    errors: tuple[str, ...] = ()
    message: str = ""
    memory_multiplier: float = 1.0
    transitions: tuple[Transition, ...] = ()

    def failed_quanta(self) -> int:
        return sum(t.get("FAILED") for t in self.tasks)

    def total_quanta(self) -> int:
        return sum(t.total for t in self.tasks)


@dataclass(frozen=True)
class RunRecord:
    """One run (step x group) and all its attempts, newest last."""

    step: str
    group: str
    data_query: str
    attempts: tuple[Attempt, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.step}/{self.group}"

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def state(self) -> RunState | None:
        return self.current.state if self.current else None

    def with_attempt(self, attempt: Attempt) -> RunRecord:
        """This record with `attempt` replacing the one of the same number, or appended."""
        kept = [a for a in self.attempts if a.number != attempt.number]
        return replace(self, attempts=tuple(sorted([*kept, attempt], key=lambda a: a.number)))


@dataclass(frozen=True)
class Ledger:
    campaign: str
    runs: tuple[RunRecord, ...] = ()
    frozen_groups: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...] = ()  # step -> (name, query, size)

    def run(self, key: str) -> RunRecord | None:
        for r in self.runs:
            if r.key == key:
                return r
        return None

    def with_run(self, record: RunRecord) -> Ledger:
        """This ledger with `record` in place of the run of the same key (kept where it stands, so
        ledger diffs stay small), or appended."""
        runs = list(self.runs)
        for i, r in enumerate(runs):
            if r.key == record.key:
                runs[i] = record
                break
        else:
            runs.append(record)
        return replace(self, runs=tuple(runs))

    def groups_of(self, step: str) -> tuple[tuple[str, str, int], ...] | None:
        for name, groups in self.frozen_groups:
            if name == step:
                return groups
        return None

    def with_frozen_groups(self, step: str, groups: tuple[tuple[str, str, int], ...]) -> Ledger:
        kept = [(n, g) for n, g in self.frozen_groups if n != step]
        return replace(self, frozen_groups=tuple(sorted([*kept, (step, groups)])))


# ---- serialisation: plain dicts with a stable key order so git diffs read well ----------------

def _attempt_to_dict(a: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": a.number,
        "kind": a.kind,
        "state": a.state.value,
        "output_run": a.output_run,
        "config_hash": a.config_hash,
        "config_path": a.config_path,
        "launch_dir": a.launch_dir,
        "submit_dir": a.submit_dir,
        "wms_id": a.wms_id,
        "submitted_at": a.submitted_at,
        "last_checked": a.last_checked,
        "memory_multiplier": a.memory_multiplier,
    }
    if a.message:
        out["message"] = a.message
    if a.tasks:
        out["tasks"] = {t.label: dict(t.counts) for t in a.tasks}
    if a.exit_codes:
        out["exit_codes"] = {label: list(codes) for label, codes in a.exit_codes}
    if a.errors:
        out["errors"] = list(a.errors)
    out["transitions"] = [{"at": t.at, "state": t.state.value, **({"note": t.note} if t.note else {})}
                          for t in a.transitions]
    return out


def _attempt_from_dict(d: dict[str, Any]) -> Attempt:
    return Attempt(
        number=int(d["number"]),
        kind=d.get("kind", "submit"),
        output_run=d["output_run"],
        config_hash=d.get("config_hash", ""),
        config_path=d.get("config_path", ""),
        launch_dir=d.get("launch_dir", ""),
        submit_dir=d.get("submit_dir", ""),
        wms_id=str(d.get("wms_id") or ""),
        submitted_at=d.get("submitted_at", ""),
        state=RunState(d.get("state", "SUBMITTING")),
        last_checked=d.get("last_checked", ""),
        tasks=tuple(TaskCounts(label, tuple(sorted((k, int(v)) for k, v in counts.items())))
                    for label, counts in sorted((d.get("tasks") or {}).items())),
        exit_codes=tuple((label, tuple(codes)) for label, codes in sorted((d.get("exit_codes") or {}).items())),
        errors=tuple(d.get("errors") or ()),
        message=d.get("message", ""),
        memory_multiplier=float(d.get("memory_multiplier", 1.0)),
        transitions=tuple(Transition(t["at"], RunState(t["state"]), t.get("note", ""))
                          for t in d.get("transitions") or ()),
    )


def to_dict(ledger: Ledger) -> dict[str, Any]:
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "campaign": ledger.campaign}
    if ledger.frozen_groups:
        out["frozen_groups"] = {
            step: [{"name": n, "query": q, "size": s} for n, q, s in groups]
            for step, groups in ledger.frozen_groups}
    out["runs"] = [
        {"step": r.step, "group": r.group, "data_query": r.data_query,
         "attempts": [_attempt_to_dict(a) for a in r.attempts]}
        for r in ledger.runs]
    return out


def from_dict(d: dict[str, Any]) -> Ledger:
    frozen = tuple(sorted(
        (step, tuple((g["name"], g["query"], int(g.get("size", 0))) for g in groups))
        for step, groups in (d.get("frozen_groups") or {}).items()))
    runs = tuple(
        RunRecord(r["step"], r["group"], r.get("data_query", ""),
                  tuple(_attempt_from_dict(a) for a in r.get("attempts") or ()))
        for r in d.get("runs") or ())
    return Ledger(d["campaign"], runs, frozen)


def dumps(ledger: Ledger) -> str:
    buf = io.StringIO()
    buf.write(f"# Ledger of campaign {ledger.campaign}: written by `campaign`, do not edit by hand.\n")
    yaml.dump(to_dict(ledger), buf, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000,
              allow_unicode=True)
    return buf.getvalue()


def ledger_path(campaign_dir: Path) -> Path:
    return campaign_dir / LEDGER_FILE


def load(campaign_dir: Path, campaign: str) -> Ledger:
    """The campaign's ledger, or an empty one when none was written yet."""
    path = ledger_path(campaign_dir)
    if not path.exists():
        return Ledger(campaign)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    except yaml.YAMLError as exc:
        raise LedgerError(f"{path}: unreadable ledger ({exc}); restore it from git history "
                         f"(`git checkout -- {path}`) or resolve the merge conflict in it") from exc
    if not isinstance(data, dict) or "campaign" not in data:
        raise LedgerError(f"{path}: not a campaign ledger (no 'campaign' key); restore it from git history")
    return from_dict(data)


def save(campaign_dir: Path, ledger: Ledger) -> bool:
    """Write atomically; returns False (and writes nothing) when the content did not change."""
    path = ledger_path(campaign_dir)
    text = dumps(ledger)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ledger.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def with_state(attempt: Attempt, state: RunState, at: str, note: str = "", **changes: Any) -> Attempt:
    """The attempt moved to `state`, with a transition recorded only when the state changes."""
    transitions = attempt.transitions
    if state != attempt.state or not transitions:
        transitions = (*transitions, Transition(at, state, note))
    return replace(attempt, state=state, transitions=transitions, **changes)


__all__ = ["Attempt", "Ledger", "RunRecord", "RunState", "TaskCounts", "Transition", "field"]
