"""Retention: which RUN collections a campaign's policy expires now (pure; the Butler side is
adapters/retention.py, which also keeps any run a protected or foreign chain holds).

A campaign with any attempt not finished is never touched. `keep_days` counts from the campaign's end
(its last recorded state change). Intermediate runs (attempts that a later attempt replaced without
reading them) expire after `keep_days`; final runs (what the results are made of) only when
`keep_final` is false and nothing is left to submit; `keep_last` keeps the newest instances of a
recurring campaign and expires older finished ones whole, their output chain included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.clock import parse_utc
from ..domain.model import Campaign
from ..ledger.records import Attempt, Ledger, RunRecord


@dataclass(frozen=True)
class Policy:
    keep_days: int | None = None
    keep_last: int | None = None
    keep_final: bool = True
    protect: tuple[str, ...] = ()

    @classmethod
    def of(cls, campaign: Campaign) -> Policy:
        data: dict[str, Any] = dict(campaign.retention)
        return cls(data.get("keep_days"), data.get("keep_last"), bool(data.get("keep_final", True)),
                   tuple(data.get("protect") or ()))

    @property
    def acts(self) -> bool:
        """Some rule may expire something (keep_final alone or protect alone removes nothing)."""
        return self.keep_days is not None or self.keep_last is not None

    def describe(self) -> str:
        parts = []
        if self.keep_days is not None:
            parts.append(f"keep {self.keep_days} day(s) after the end")
        if self.keep_last is not None:
            parts.append(f"keep the last {self.keep_last} instance(s)")
        parts.append("keep final runs" if self.keep_final else "final runs expire too")
        if self.protect:
            parts.append("protect " + ", ".join(self.protect))
        return "; ".join(parts)


@dataclass(frozen=True)
class Instance:
    """One campaign as retention sees it."""

    campaign: Campaign
    ledger: Ledger
    family: str | None = None  # the template of a recurring campaign's instance
    complete: bool = False  # every planned run is recorded (nothing left to submit)


@dataclass(frozen=True)
class Expired:
    """A RUN collection the policy expires now."""

    campaign: str
    run: str
    keys: tuple[str, ...]  # the step/group runs whose attempts wrote it
    reason: str
    ended: str  # when the attempt that wrote it ended
    chain: str  # the campaign's own output chain: unlinked from it, never from another chain
    protect: tuple[str, ...] = ()  # chains whose runs are never removed (checked on the Butler)
    drop_chain: bool = False  # the whole instance expires: its output chain goes once empty


@dataclass(frozen=True)
class RetentionPlan:
    now: str
    expired: tuple[Expired, ...]
    notes: tuple[tuple[str, str], ...]  # (campaign, what is kept and why)

    def of(self, campaign: str) -> tuple[Expired, ...]:
        return tuple(e for e in self.expired if e.campaign == campaign)


def _ended(a: Attempt) -> str:
    return a.transitions[-1].at if a.transitions else a.submitted_at


def campaign_end(ledger: Ledger) -> datetime | None:
    """The last recorded state change of any attempt."""
    times = [w for r in ledger.runs for a in r.attempts for t in a.transitions if (w := parse_utc(t.at))]
    return max(times, default=None)


def campaign_start(ledger: Ledger) -> datetime | None:
    times = [w for r in ledger.runs for a in r.attempts[:1] for t in a.transitions[:1] if (w := parse_utc(t.at))]
    return min(times, default=None)


def at_rest(ledger: Ledger) -> bool:
    """No attempt is in progress, held or unknown: nothing the WMS or a person still works on."""
    return all(a.state.finished for r in ledger.runs for a in r.attempts)


def final_runs(record: RunRecord) -> set[str]:
    """RUN collections the run's result is made of: the current attempt's (a restart writes the same
    one) and, for a rescue, every earlier attempt that wrote outputs (it skipped what they hold)."""
    current = record.current
    if current is None:
        return set()
    runs = {current.output_run}
    if current.kind == "rescue":
        runs |= {a.output_run for a in record.attempts if a.wrote_outputs}
    return runs


def _made(a: Attempt) -> bool:
    """bps reached the WMS, so the RUN collection may exist (apply checks the Butler)."""
    return bool(a.submit_dir) or bool(a.tasks)


def _runs_of(ledger: Ledger) -> dict[str, tuple[list[str], str, bool]]:
    """RUN collection -> (step/group keys, latest end, final?) of every attempt that may have made one."""
    out: dict[str, tuple[list[str], str, bool]] = {}
    for record in ledger.runs:
        final = final_runs(record)
        for a in record.attempts:
            if not _made(a):
                continue
            keys, ended, _ = out.get(a.output_run, ([], "", False))
            if record.key not in keys:
                keys.append(record.key)
            out[a.output_run] = (keys, max(ended, _ended(a)), a.output_run in final)
    return out


def _newest(instances: Sequence[Instance]) -> dict[str, set[str]]:
    """Per family, the campaigns among its `keep_last` most recently started instances."""
    families: dict[str, list[tuple[datetime, str]]] = {}
    for inst in instances:
        start = campaign_start(inst.ledger)
        if inst.family and start is not None:
            families.setdefault(inst.family, []).append((start, inst.campaign.name))
    newest: dict[str, set[str]] = {}
    for family, members in families.items():
        keep = max((Policy.of(i.campaign).keep_last or 0) for i in instances if i.family == family)
        newest[family] = {name for _, name in sorted(members, reverse=True)[:keep]} if keep else set()
    return newest


def plan_retention(instances: Sequence[Instance], now: datetime) -> RetentionPlan:
    """What each campaign's policy expires at `now`; a note per campaign for what it keeps and why."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    newest = _newest(instances)
    expired: list[Expired] = []
    notes: list[tuple[str, str]] = []
    for inst in sorted(instances, key=lambda i: i.campaign.name):
        c, ledger = inst.campaign, inst.ledger
        policy = Policy.of(c)
        removed = {r.run for r in ledger.removed}
        runs = {name: v for name, v in _runs_of(ledger).items() if name not in removed}
        end = campaign_end(ledger)

        def note(text: str, name: str = c.name) -> None:
            notes.append((name, text))

        if not policy.acts:
            continue
        if not runs:
            note("nothing to remove: no RUN collection recorded" + (" (all removed)" if removed else ""))
            continue
        if not at_rest(ledger) or end is None:
            note("kept: runs are in progress, held or unknown (an active campaign is never touched)")
            continue
        age = now - end
        old_enough = policy.keep_days is None or age >= timedelta(days=policy.keep_days)
        until = f"{(end + timedelta(days=policy.keep_days or 0)).strftime('%Y-%m-%d %H:%M UTC')}"
        if inst.family and policy.keep_last is not None and c.name not in newest.get(inst.family, set()):
            if not old_enough:
                note(f"an old instance of {inst.family}, kept until {until} (keep_days {policy.keep_days})")
                continue
            reason = f"instance older than the last {policy.keep_last} of {inst.family}"
            expired += [Expired(c.name, name, tuple(keys), reason, ended, c.output, policy.protect, drop_chain=True)
                        for name, (keys, ended, _) in sorted(runs.items())]
            continue
        if inst.family and policy.keep_last is not None and policy.keep_days is None:
            note(f"kept: one of the last {policy.keep_last} instances of {inst.family}")
            continue
        if not old_enough:
            note(f"kept until {until} (keep_days {policy.keep_days} after its end)")
            continue
        final_goes = not policy.keep_final and inst.complete
        for name, (keys, ended, final) in sorted(runs.items()):
            if final and not final_goes:
                continue
            reason = (f"final run, {policy.keep_days} day(s) after the end (keep_final: false)" if final else
                      f"intermediate run (replaced by a later attempt), {policy.keep_days} day(s) after the end")
            expired.append(Expired(c.name, name, tuple(keys), reason, ended, c.output, policy.protect))
        kept_final = sum(1 for _, _, final in runs.values() if final)
        if kept_final and not final_goes:
            why = "keep_final" if policy.keep_final else "runs still to submit"
            note(f"keeps its {kept_final} final run(s) and output chain {c.output} ({why})")
    return RetentionPlan(now.astimezone(UTC).isoformat(timespec="seconds"), tuple(expired), tuple(notes))


__all__ = ["Expired", "Instance", "Policy", "RetentionPlan", "at_rest", "campaign_end", "final_runs",
           "plan_retention"]
