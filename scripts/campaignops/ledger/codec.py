"""Records as plain data and as text: dicts in a stable key order, and the JSON lines of a ledger file.

A ledger file holds one run per block of lines: a head line with the run's key and query, one line
per attempt field, per task label and per transition (so a refresh changes only the lines of what
changed, and git diffs read well). JSON, not YAML, because libyaml's Python constructor costs ~1 ms
a run: 10,000 runs could not be read in a status cycle. Every file is still valid YAML.

A run read from a sealed file (`StoredRun`) knows its key and current state at once; its attempts
are decoded from its lines when first used, so a pass over 10,000 mostly finished runs decodes only
the runs it looks at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, cached_property
from typing import Any

from ..campaign_spec.schema import schema
from ..domain.states import FailedJob, RunState, TaskCounts, TransferState, Transition
from ..domain.usage import JobUsage
from .records import Attempt, CheckRecord, Control, RuleDecision, RunRecord, SetupRecord, TransferRecord

SCHEMA_VERSION = 1


# ---- plain dicts with a stable key order ---------------------------------------------------------

_JOB_KEYS = ("task", "job_id", "attempt", "max_attempts", "site", "exit_code", "errors", "maxpss_mb", "request_mb",
             "log_url")


def _job_to_dict(j: FailedJob) -> dict[str, Any]:
    """Only what is known: a failed job is a handful of short lines in the ledger."""
    return {k: list(v) if isinstance(v, tuple) else v for k in _JOB_KEYS if (v := getattr(j, k))}


def _job_from_dict(d: dict[str, Any]) -> FailedJob:
    return FailedJob(task=str(d["task"]), job_id=str(d["job_id"]), attempt=int(d.get("attempt", 0)),
                     max_attempts=int(d.get("max_attempts", 0)), site=str(d.get("site", "")),
                     exit_code=int(d.get("exit_code", 0)), errors=tuple(str(e) for e in d.get("errors") or ()),
                     maxpss_mb=int(d.get("maxpss_mb", 0)), request_mb=int(d.get("request_mb", 0)),
                     log_url=str(d.get("log_url", "")))


def _usage_to_dict(u: JobUsage) -> dict[str, Any]:
    out: dict[str, Any] = {"job_id": u.job_id, "state": u.state, "elapsed_s": u.elapsed_s, "cores": u.cores}
    if u.memory_mb:
        out["memory_mb"] = u.memory_mb
    return out


def _usage_from_dict(d: dict[str, Any]) -> JobUsage:
    return JobUsage(job_id=str(d["job_id"]), state=str(d.get("state", "")), elapsed_s=float(d.get("elapsed_s", 0)),
                    cores=int(d.get("cores", 0)), memory_mb=int(d.get("memory_mb", 0)))


_DECISION_KEYS = ("at", "action", "rule", "flavor", "text", "due_at", "acted_at", "note")


def decision_to_dict(d: RuleDecision) -> dict[str, Any]:
    """Only what is set (a line per key in the ledger file)."""
    out: dict[str, Any] = {k: v for k in _DECISION_KEYS if (v := getattr(d, k))}
    if d.memory:
        out["memory"] = dict(d.memory)
    return out


def decision_from_dict(d: dict[str, Any]) -> RuleDecision:
    return RuleDecision(at=str(d.get("at", "")), action=str(d["action"]), text=str(d.get("text", "")),
                        rule=str(d.get("rule", "")), flavor=str(d.get("flavor", "unknown")),
                        due_at=str(d.get("due_at", "")), acted_at=str(d.get("acted_at", "")),
                        note=str(d.get("note", "")),
                        memory=tuple((str(k), int(v)) for k, v in sorted((d.get("memory") or {}).items())))


def attempt_to_dict(a: Attempt) -> dict[str, Any]:
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
    if a.spec_hash:
        out["spec_hash"] = a.spec_hash
    if a.message:
        out["message"] = a.message
    if a.tasks:
        out["tasks"] = {t.label: dict(t.counts) for t in a.tasks}
    if a.exit_codes:
        out["exit_codes"] = {label: list(codes) for label, codes in a.exit_codes}
    if a.errors:
        out["errors"] = list(a.errors)
    if a.links:
        out["links"] = dict(a.links)
    if a.failed_jobs:
        out["failed_jobs"] = [_job_to_dict(j) for j in a.failed_jobs]
    if a.memory:
        out["memory"] = dict(a.memory)
    if a.job_usage:
        out["job_usage"] = [_usage_to_dict(u) for u in a.job_usage]
    if a.decision is not None:
        out["decision"] = decision_to_dict(a.decision)
    out["transitions"] = [{"at": t.at, "state": t.state.value, **({"note": t.note} if t.note else {})}
                          for t in a.transitions]
    return out


def attempt_from_dict(d: dict[str, Any]) -> Attempt:
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
        # counts are whole numbers: the schema says so of an unsealed file, the writer of a sealed one
        tasks=tuple([TaskCounts(label, tuple(sorted(counts.items())))
                     for label, counts in sorted((d.get("tasks") or {}).items())]),
        exit_codes=tuple((label, tuple(codes)) for label, codes in sorted((d.get("exit_codes") or {}).items())),
        errors=tuple(d.get("errors") or ()),
        message=d.get("message", ""),
        memory_multiplier=float(d.get("memory_multiplier", 1.0)),
        spec_hash=str(d.get("spec_hash") or ""),
        links=tuple((str(k), str(v)) for k, v in (d.get("links") or {}).items()),
        failed_jobs=tuple(_job_from_dict(j) for j in d.get("failed_jobs") or ()),
        memory=tuple((str(k), int(v)) for k, v in sorted((d.get("memory") or {}).items())),
        decision=decision_from_dict(d["decision"]) if d.get("decision") else None,
        job_usage=tuple(_usage_from_dict(u) for u in d.get("job_usage") or ()),
        transitions=tuple(Transition(t["at"], RunState(t["state"]), t.get("note", ""))
                          for t in d.get("transitions") or ()),
    )


def run_to_dict(r: RunRecord) -> dict[str, Any]:
    return {"step": r.step, "group": r.group, "data_query": r.data_query,
            "attempts": [attempt_to_dict(a) for a in r.attempts]}


def run_from_dict(d: dict[str, Any]) -> RunRecord:
    return RunRecord(d["step"], d["group"], d.get("data_query", ""),
                     tuple(attempt_from_dict(a) for a in d.get("attempts") or ()))


# ---- the lines of one run --------------------------------------------------------------------------

# One encoder: json.dumps with an option builds a new one per call (a third of a save's time).
to_json: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False).encode


_RUN_TAIL = ', "attempts": ['
_HEAD_KEYS = ("number", "kind", "state")
_ATTEMPT_START = '\n {"number": '


def _attempt_lines(d: dict[str, Any]) -> list[str]:
    """` {"number": 1, "kind": ..., "state": ...,` then one line per field, mappings and lists one
    item per line, closed by `}` on the last line."""
    # The first line is always number, kind and state: a reader finds a run's current state there.
    head = [(k, d[k]) for k in _HEAD_KEYS]
    rest = [(k, v) for k, v in d.items() if k not in _HEAD_KEYS]
    lines = [" {" + ", ".join(f"{to_json(k)}: {to_json(v)}" for k, v in head) + ("," if rest else "}")]
    for i, (key, value) in enumerate(rest):
        end = "," if i < len(rest) - 1 else "}"
        if isinstance(value, dict) and value:
            lines.append(f"  {to_json(key)}: {{")
            lines += [f"   {to_json(k)}: {to_json(v)}" + ("," if j < len(value) - 1 else "")
                      for j, (k, v) in enumerate(value.items())]
            lines.append("  }" + end)
        elif isinstance(value, list) and value:
            lines.append(f"  {to_json(key)}: [")
            lines += [f"   {to_json(v)}" + ("," if j < len(value) - 1 else "") for j, v in enumerate(value)]
            lines.append("  ]" + end)
        else:
            lines.append(f"  {to_json(key)}: {to_json(value)}{end}")
    return lines


def run_text(run: RunRecord) -> str:
    """The run's lines, without the comma that separates it from the next run."""
    stored = run.__dict__.get("_text")
    if stored is not None:
        return str(stored)  # a StoredRun is immutable: the very lines it was read from
    head = to_json({"step": run.step, "group": run.group, "data_query": run.data_query})[:-1] + _RUN_TAIL
    if not run.attempts:
        return head + "]}"
    lines = [head]
    for i, a in enumerate(run.attempts):
        block = _attempt_lines(attempt_to_dict(a))
        if i < len(run.attempts) - 1:
            block[-1] += ","
        lines += block
    lines.append(" ]}")
    return "\n".join(lines)


class StoredRun(RunRecord):
    """A run as a sealed ledger file holds it: key, query and current state read from its head and
    last attempt line; the attempts decoded from its lines when first used. Equal to the RunRecord
    with the same values; immutable, so `run_text` gives back the very lines it was read from (a key
    this version does not know is kept in a run that is not changed)."""

    _text: str
    _state: RunState | None
    _decode: Callable[[str], tuple[Attempt, ...]]

    _source: object  # what the store needs to know the file it came from

    @classmethod
    def of(cls, step: str, group: str, data_query: str, state: RunState | None, text: str,
           decode: Callable[[str], tuple[Attempt, ...]]) -> StoredRun:
        run = object.__new__(cls)
        run.__dict__.update(step=step, group=group, data_query=data_query, _state=state, _text=text,
                            _decode=decode, _source=None)
        return run

    @cached_property
    def attempts(self) -> tuple[Attempt, ...]:
        return self._decode(self._text)

    @property
    def state(self) -> RunState | None:
        if "attempts" in self.__dict__:
            return super().state
        return self._state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunRecord):
            return NotImplemented
        return (self.step, self.group, self.data_query, self.attempts) == (
            other.step, other.group, other.data_query, other.attempts)

    __hash__ = RunRecord.__hash__


_HEAD = re.compile(r'\{"step": .*, "attempts": \[(\]\})?\Z')
_PLAIN_HEAD = re.compile(r'\{"step": "([^"\\]*)", "group": "([^"\\]*)", "data_query": "([^"\\]*)", '
                         r'"attempts": \[(\]\})?\Z')
_LAST = re.compile(r' \{"number": \d+, "kind": "(?:[^"\\]|\\.)*", "state": "([A-Z]+)"[,}]')


def split_runs(body: str) -> list[str]:
    """The run blocks of a ledger file's `runs` list (each starts a line with `{"step": `)."""
    if not body:
        return []
    parts = body.split('\n{"step": ')
    first = parts[0]
    if not first.startswith('{"step": '):
        raise ValueError("a run does not start with its step")
    blocks = [first, *('{"step": ' + p for p in parts[1:])]
    out = []
    for i, block in enumerate(blocks):
        if i < len(blocks) - 1:
            if not block.endswith(","):
                raise ValueError("runs are not separated by commas")
            block = block[:-1]
        out.append(block)
    return out


def stored_run(text: str, decode: Callable[[str], tuple[Attempt, ...]]) -> StoredRun:
    """A run from its lines, reading only the head line and its last attempt's first line."""
    head, _, _ = text.partition("\n")
    plain = _PLAIN_HEAD.match(head)  # no escapes in the strings: no need to decode them
    if plain is not None:
        keys = {"step": plain[1], "group": plain[2], "data_query": plain[3]}
    elif _HEAD.match(head):
        keys = json.loads(head[:-len(_RUN_TAIL)] + "}" if not head.endswith("[]}") else head)
    else:
        raise ValueError(f"not the head of a run: {head[:80]!r}")
    state: RunState | None = None
    at = text.rfind(_ATTEMPT_START)
    if at >= 0:
        match = _LAST.match(text, at + 1)
        if match is None:
            raise ValueError(f"the last attempt of {keys.get('step')}/{keys.get('group')} has no state")
        state = RunState(match[1])
    elif not head.endswith("[]}"):
        raise ValueError(f"run {keys.get('step')}/{keys.get('group')} has no attempt line")
    step, group, query = keys["step"], keys["group"], keys["data_query"]
    if not (isinstance(step, str) and isinstance(group, str) and isinstance(query, str)):
        raise ValueError(f"run {step}/{group}: step, group and data query must be text")
    return StoredRun.of(step, group, query, state, text, decode)


@cache
def _known_keys() -> tuple[frozenset[str], frozenset[str]]:
    """The keys a run and an attempt may have, as the schema lists them."""
    ledger = schema("ledger")
    run = ledger["properties"]["runs"]["items"]["properties"]
    return frozenset(run), frozenset(ledger["$defs"]["attempt"]["properties"])


def decode_attempts(text: str) -> tuple[Attempt, ...]:
    """The attempts of a run's lines. A key this version does not know (a newer campaignops wrote the
    file) is refused: decoding would drop it when the run is written again."""
    data = json.loads(text)
    run_keys, attempt_keys = _known_keys()
    unknown = (set(data) - run_keys) | {k for a in data["attempts"] for k in a if k not in attempt_keys}
    if unknown:
        raise ValueError(f"unknown keys {', '.join(sorted(unknown))} (written by a newer campaignops? update it)")
    return tuple(attempt_from_dict(a) for a in data["attempts"])


__all__ = [
    "SCHEMA_VERSION",
    "StoredRun",
    "attempt_from_dict",
    "attempt_to_dict",
    "decode_attempts",
    "run_from_dict",
    "run_text",
    "run_to_dict",
    "split_runs",
    "stored_run",
    "to_json",
]


# ---- campaign-level records: the operator controls and the set-up stage (kept in the index) ----------

def control_to_dict(c: Control) -> dict[str, Any]:
    out = {"at": c.at, "by": c.by, "action": c.action, "target": c.target, "reason": c.reason, "source": c.source}
    if c.runner:
        out["runner"] = c.runner
    return out


def control_from_dict(d: dict[str, Any]) -> Control:
    return Control(d["at"], d["by"], d["action"], d["target"], d.get("reason", ""), d.get("source", "command"),
                   d.get("runner", ""))


def setup_to_dict(s: SetupRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"state": s.state.value, "repo": s.repo, "attempt": s.attempt, "started_at": s.started_at}
    for key in ("ended_at", "log", "message"):
        if getattr(s, key):
            out[key] = getattr(s, key)
    if s.errors:
        out["errors"] = list(s.errors)
    return out


def setup_from_dict(d: dict[str, Any]) -> SetupRecord:
    return SetupRecord(RunState(d["state"]), d["repo"], d["started_at"], d.get("ended_at", ""), d.get("log", ""),
                       d.get("message", ""), tuple(d.get("errors") or ()), int(d.get("attempt", 1)))


_TRANSFER_OPTIONAL = ("started_at", "ended_at", "handle", "message", "next_try_at")
_TRANSFER_COUNTS = ("datasets", "arrived", "bytes")


def transfer_to_dict(t: TransferRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"key": t.key, "source": t.source, "destination": t.destination,
                           "dataset_types": list(t.dataset_types), "state": t.state.value, "attempt": t.attempt}
    for key in _TRANSFER_COUNTS:
        out[key] = getattr(t, key)
    for key in _TRANSFER_OPTIONAL:
        if getattr(t, key):
            out[key] = getattr(t, key)
    return out


def transfer_from_dict(d: dict[str, Any]) -> TransferRecord:
    return TransferRecord(d["key"], d["source"], d["destination"], tuple(d.get("dataset_types") or ()),
                          TransferState(d["state"]), int(d.get("attempt", 1)), started_at=d.get("started_at", ""),
                          ended_at=d.get("ended_at", ""), handle=d.get("handle", ""),
                          datasets=int(d.get("datasets", 0)), arrived=int(d.get("arrived", 0)),
                          bytes=int(d.get("bytes", 0)), message=d.get("message", ""),
                          next_try_at=d.get("next_try_at", ""))


_CHECK_NUMBERS = ("value", "expected", "previous")  # written only when known
_CHECK_TEXTS = ("bounds", "previous_campaign", "why", "tagged")


def check_to_dict(c: CheckRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"ref": c.ref, "kind": c.kind, "at": c.at, "verdict": c.verdict, "basis": c.basis}
    for key in _CHECK_NUMBERS:
        if getattr(c, key) is not None:
            out[key] = getattr(c, key)
    for key in _CHECK_TEXTS:
        if getattr(c, key):
            out[key] = getattr(c, key)
    if c.excluded:
        out["excluded"] = list(c.excluded)
    return out


def check_from_dict(d: dict[str, Any]) -> CheckRecord:
    def number(key: str) -> float | None:
        return None if d.get(key) is None else float(d[key])

    return CheckRecord(d["ref"], d["kind"], d["at"], d["verdict"], d.get("basis", ""), value=number("value"),
                       expected=number("expected"), bounds=d.get("bounds", ""), previous=number("previous"),
                       previous_campaign=d.get("previous_campaign", ""), why=d.get("why", ""),
                       tagged=d.get("tagged", ""), excluded=tuple(d.get("excluded") or ()))
