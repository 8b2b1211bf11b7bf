"""What the failure rules decide for a failed run (pure): which rule matches its symptoms (task labels,
exit codes, WMS codes, error text) and why, and the action with its bound, memory and wait. The first
matching rule decides; an unmatched failure, or a rule whose bound is spent, goes to review.

Nothing here acts: `engine/autopilot.py` records the decision in the ledger and applies it (the reconcile
job); `campaign explain` prints it."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from ..campaign_spec.failure_rules import Rule
from ..domain.actions import LAUNCHING
from ..domain.clock import parse_utc
from ..domain.model import Campaign
from ..ledger.records import Attempt, RunRecord
from .memory import effective_memory


@dataclass(frozen=True)
class Failure:
    """The symptoms of a failed attempt, as the ledger (and, later, the WMS) records them."""

    tasks: tuple[str, ...]  # labels with failed quanta
    exit_codes: tuple[int, ...]
    errors: tuple[str, ...]
    wms_codes: tuple[str, ...] = ()  # '<kind>:<code>' (PanDA pilot/exe/ddm…, HTCondor hold)
    failed: int = 0
    total: int = 0

    @classmethod
    def of(cls, attempt: Attempt, wms_codes: Sequence[str] | None = None) -> Failure:
        """The symptoms of `attempt`; WMS codes default to those its failed jobs' errors name."""
        codes = sorted({c for _, cs in attempt.exit_codes for c in cs})
        found = wms_codes_of(attempt) if wms_codes is None else tuple(wms_codes)
        return cls(tuple(label for label, _ in attempt.failed_tasks()), tuple(codes), attempt.errors,
                   found, attempt.failed_quanta(), attempt.total_quanta())


# A failed job's error lines are "<kind> <code>: <diagnostic>" (domain/states.FailedJob); Slurm's code is the
# job state's name (SchedMD/slurm src/common/slurm_protocol_defs.c job_state_string), e.g. "slurm TIMEOUT".
_WMS_CODE = re.compile(r"^(?:(pilot|exe|ddm|sup|brokerage|taskbuffer|jobdispatcher|hold)[ :](-?\d+)\b"
                       r"|(slurm)[ :]([A-Z][A-Z_]*)\b)")


def wms_codes_of(attempt: Attempt) -> tuple[str, ...]:
    """'<kind>:<code>' of every error line of the attempt's failed jobs (PanDA, HTCondor), in order, once each."""
    found = (m for job in attempt.failed_jobs for line in job.errors if (m := _WMS_CODE.match(line.strip())))
    return tuple(dict.fromkeys(f"{m[1] or m[3]}:{m[2] or m[4]}" for m in found))


def payload_line(errors: Sequence[str]) -> str:
    """The payload's own first error line: the first that is not a WMS code's diagnostic, else the first."""
    own = next((e for e in errors if not _WMS_CODE.match(e.strip())), None)
    return (own if own is not None else errors[0] if errors else "").strip()


@dataclass(frozen=True)
class Check:
    rule: Rule
    matched: bool
    reasons: tuple[str, ...]  # one line per criterion of the rule: what it asked and what the failure shows
    tasks: tuple[str, ...] = ()  # the failed tasks the rule's task patterns matched (all failed ones if none)


def check(rule: Rule, failure: Failure) -> Check:
    reasons: list[str] = []
    ok = True
    tasks = failure.tasks
    if rule.tasks:
        tasks = tuple(t for t in failure.tasks if any(fnmatchcase(t, p) for p in rule.tasks))
        ok &= bool(tasks)
        reasons.append(f"tasks {', '.join(rule.tasks)}: " + (f"{', '.join(tasks)} failed" if tasks else
                       f"none failed (failed: {', '.join(failure.tasks) or 'none recorded'})"))
    for what, wanted, seen in (("exit codes", rule.exit_codes, failure.exit_codes),
                               ("WMS codes", rule.wms_codes, failure.wms_codes)):
        if wanted:
            hit = [str(v) for v in wanted if v in seen]
            ok &= bool(hit)
            reasons.append(f"{what} {', '.join(map(str, wanted))}: " + (
                f"{', '.join(hit)} seen" if hit else f"not seen (seen: {', '.join(map(str, seen)) or 'none recorded'})"))
    if rule.error:
        pattern = re.compile(rule.error)
        line = next((e for e in failure.errors if pattern.search(e)), None)
        ok &= line is not None
        reasons.append(f"error /{rule.error}/: " + (f"matches {line.strip()[:120]!r}" if line is not None else
                                                      f"no match in {len(failure.errors)} error line(s)"))
    return Check(rule, ok, tuple(reasons), tasks)


@dataclass(frozen=True)
class Decision:
    action: str  # retry | more-memory | rescue | accept | review | hold
    flavor: str
    rule: str | None  # None: no rule matched
    text: str  # what the failure issue and the ledger would say
    attempt: int = 0  # the attempt the action makes (retry, more-memory, rescue)
    of: int = 0  # the rule's max_attempts
    memory: dict[str, int] = field(default_factory=dict)  # more-memory: label -> new requestMemory (MB)
    wait_minutes: float = 0.0  # backoff before acting


def _review(flavor: str, rule: str | None, text: str) -> Decision:
    return Decision("review", flavor, rule, text)


def decide(rules: Sequence[Rule], failure: Failure, record: RunRecord, campaign: Campaign) -> tuple[Decision,
                                                                                                   list[Check]]:
    """The decision for the run's failed current attempt, and the check of every rule tried."""
    checks: list[Check] = []
    for rule in rules:
        c = check(rule, failure)
        checks.append(c)
        if c.matched:
            return _act(rule, c, failure, record, campaign), checks
    return _review("unknown", None, "no rule matched: sent to review (an issue, nothing automatic)"), checks


def _act(rule: Rule, c: Check, failure: Failure, record: RunRecord, campaign: Campaign) -> Decision:
    name = f"matched rule `{rule.name}`"
    attempts = len(record.attempts)
    if rule.action in LAUNCHING:
        assert rule.max_attempts is not None  # validation refuses an automatic action without a bound
        if attempts >= rule.max_attempts:
            return _review(rule.flavor, rule.name, f"{name}, but the run already made {attempts} of "
                           f"{rule.max_attempts} attempts: sent to review")
        nxt = attempts + 1
        wait = rule.backoff_minutes * 2 ** (attempts - 1)
        after = f" after {wait:g} min" if wait else ""
        current = record.current
        if rule.action == "retry" and current is not None and not current.reached_wms:
            # `bps restart` needs the run bps created; a submission that never reached the WMS starts afresh.
            return Decision("rescue", rule.flavor, rule.name, f"{name}: bps never created the run, so a new attempt "
                            f"instead of a restart{after}, attempt {nxt} of {rule.max_attempts}", nxt,
                            rule.max_attempts, wait_minutes=wait)
        if rule.action == "retry":
            return Decision("retry", rule.flavor, rule.name, f"{name}: restart{after}, attempt {nxt} of "
                            f"{rule.max_attempts}", nxt, rule.max_attempts, wait_minutes=wait)
        if rule.action == "rescue":
            return Decision("rescue", rule.flavor, rule.name, f"{name}: rescue into a new output run{after}, "
                            f"attempt {nxt} of {rule.max_attempts}", nxt, rule.max_attempts, wait_minutes=wait)
        return _more_memory(rule, c, record, campaign, nxt)
    if rule.action == "accept":
        assert rule.max_failed_fraction is not None
        share = failure.failed / failure.total if failure.total else 1.0
        if share > rule.max_failed_fraction:
            return _review(rule.flavor, rule.name, f"{name}, but {failure.failed} of {failure.total} quanta failed "
                           f"({share:.1%}), more than the {rule.max_failed_fraction:.1%} tolerated: sent to review")
        return Decision("accept", rule.flavor, rule.name, f"{name}: accepted, {failure.failed} of {failure.total} "
                        f"quanta failed ({share:.1%} ≤ {rule.max_failed_fraction:.1%})")
    if rule.action == "hold":
        return Decision("hold", rule.flavor, rule.name, f"{name}: campaign held until someone resumes it")
    said = payload_line(failure.errors)
    return _review(rule.flavor, rule.name, f"{name}: sent to review (an issue, nothing automatic)"
                   + (f"; the payload said: {said[:200]!r}" if said else ""))


def task_memory(campaign: Campaign, step: str, label: str, attempt: Attempt) -> int:
    """The requestMemory (MB) `attempt` asked for task `label`: its recorded override, else the spec's request
    times the attempt's memory multiplier."""
    return effective_memory(campaign, step, label, multiplier=attempt.memory_multiplier,
                            overrides=dict(attempt.memory))


def memory_limit(rule: Rule, campaign: Campaign) -> int:
    """The largest request more-memory makes: the rule's cap, and no more than the profile's largest queue."""
    assert rule.cap_mb is not None
    queues = campaign.profile.memory_queues_mb
    return min(rule.cap_mb, queues[-1]) if queues else rule.cap_mb


def raised_memory(current_mb: int, factor: float, limit: int) -> int:
    """`current_mb` × `factor`, never above `limit` (render then puts the task on the queue that holds it)."""
    return min(limit, math.ceil(current_mb * factor))


def _megabytes(mb: int) -> str:
    return f"{mb // 1024} GB" if mb % 1024 == 0 else f"{mb} MB"


def _more_memory(rule: Rule, c: Check, record: RunRecord, campaign: Campaign, nxt: int) -> Decision:
    assert rule.cap_mb is not None and rule.max_attempts is not None and record.current is not None
    name = f"matched rule `{rule.name}`"
    limit = memory_limit(rule, campaign)
    memory: dict[str, int] = {}
    for label in c.tasks:
        now = task_memory(campaign, record.step, label, record.current)
        raised = raised_memory(now, rule.factor, limit)
        if raised > now:
            memory[label] = raised
    if not memory:
        why = "no failed task is recorded" if not c.tasks else f"memory is at the limit ({_megabytes(limit)})"
        return _review(rule.flavor, rule.name, f"{name}, but {why}: sent to review")
    said = ", ".join(f"{label} {_megabytes(mb)}" for label, mb in sorted(memory.items()))
    return Decision("more-memory", rule.flavor, rule.name, f"{name}: more memory, {said}, attempt {nxt} of "
                    f"{rule.max_attempts}", nxt, rule.max_attempts, memory)


def failed_at(attempt: Attempt) -> str:
    """When the attempt last entered FAILED ("" when its transitions do not say)."""
    return next((t.at for t in reversed(attempt.transitions) if t.state.value == "FAILED"), "")


def due_at(decision: Decision, failed: str, now: str) -> str:
    """When the decision may be acted on: `wait_minutes` after the failure (`failed`, else `now`), in the form of
    `now` (the engine's clock)."""
    if not decision.wait_minutes:
        return ""
    start = failed or now
    due = _when(start) + timedelta(minutes=decision.wait_minutes)
    text = due.isoformat()
    return text.replace("+00:00", "Z") if now.endswith("Z") else text


def _when(text: str) -> datetime:
    when = parse_utc(text)
    if when is None:  # the engine's own clock and the ledger's recorded times: always ISO
        raise ValueError(f"not a recorded time: {text!r}")
    return when


def is_due(due: str, now: str) -> bool:
    return not due or _when(now) >= _when(due)


__all__ = ["Check", "Decision", "Failure", "check", "decide", "due_at", "failed_at", "is_due", "memory_limit",
           "payload_line", "raised_memory", "task_memory", "wms_codes_of"]
