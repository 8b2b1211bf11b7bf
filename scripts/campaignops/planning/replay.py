"""A change of the failure rules replayed (pure): what the old rules and the new ones decide on every failed
attempt a ledger records, counted per rule, with the runs whose decision changes — the evidence a pull request
that edits a `rules.yaml` is reviewed with (`campaign replay-rules`, the plan comment)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from ..campaign_spec.failure_rules import Rule
from ..domain.model import Campaign
from ..ledger.records import Ledger, RunRecord
from .failures import Decision, Failure, decide

NO_RULE = "(no rule: review)"


@dataclass(frozen=True)
class RecordedFailure:
    """One failed attempt of a run, with the run as it stood then (its later attempts left out: the rules'
    bounds count the attempts made so far)."""

    campaign: Campaign
    record: RunRecord

    @property
    def attempt(self) -> int:
        current = self.record.current
        assert current is not None
        return current.number


def recorded_failures(campaign: Campaign, ledger: Ledger) -> Iterator[RecordedFailure]:
    """Every failed attempt of the ledger (a restarted run's earlier failures too), in ledger order."""
    for record in ledger.runs:
        for i, attempt in enumerate(record.attempts):
            if attempt.state.value == "FAILED":
                yield RecordedFailure(campaign, replace(record, attempts=record.attempts[:i + 1]))


@dataclass(frozen=True)
class Replayed:
    """One recorded failure decided by the old rules and by the new ones."""

    campaign: str
    run: str
    attempt: int
    old: Decision
    new: Decision

    @property
    def changed(self) -> bool:
        return _outcome(self.old) != _outcome(self.new)


def _outcome(d: Decision) -> tuple[str | None, str, tuple[tuple[str, int], ...]]:
    return d.rule, d.action, tuple(sorted(d.memory.items()))


def rule_name(d: Decision) -> str:
    return d.rule or NO_RULE


@dataclass(frozen=True)
class RuleCount:
    rule: str
    old: int  # recorded failures the old rules decide with this rule
    new: int


@dataclass(frozen=True)
class Replay:
    failures: int
    campaigns: int
    counts: tuple[RuleCount, ...]  # every rule either side decided with, the most decisions first
    changes: tuple[Replayed, ...]  # the failures whose rule, action or memory changes, in ledger order


def replay(found: Iterable[RecordedFailure], old: Mapping[str, tuple[Rule, ...]],
           new: Mapping[str, tuple[Rule, ...]]) -> Replay:
    """Each failure decided by `old[campaign]` and by `new[campaign]` (the rules each campaign uses: its own,
    then the shared ones; a campaign missing from a mapping has none)."""
    rows: list[Replayed] = []
    for f in found:
        name = f.campaign.name
        failure = Failure.of(f.record.attempts[-1])
        before, _ = decide(old.get(name, ()), failure, f.record, f.campaign)
        after, _ = decide(new.get(name, ()), failure, f.record, f.campaign)
        rows.append(Replayed(name, f.record.key, f.attempt, before, after))
    was, now = Counter(rule_name(r.old) for r in rows), Counter(rule_name(r.new) for r in rows)
    counts = tuple(RuleCount(rule, was[rule], now[rule])
                   for rule in sorted(was.keys() | now.keys(), key=lambda r: (-max(was[r], now[r]), r)))
    return Replay(len(rows), len({r.campaign for r in rows}), counts, tuple(r for r in rows if r.changed))


__all__ = ["NO_RULE", "RecordedFailure", "Replay", "Replayed", "RuleCount", "recorded_failures", "replay",
           "rule_name"]
