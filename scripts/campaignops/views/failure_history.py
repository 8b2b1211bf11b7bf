"""A run's failure history for `campaign explain` (pure): every attempt's failure, the rule that matched,
what was decided and what was done, by which rule or by whom, and the command that does a decided action
that has not happened (nothing is said in the past tense before the ledger shows it done)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..ledger.records import Attempt, Control, RuleDecision, RunRecord

LAUNCHING = ("retry", "more-memory", "rescue")
_BY_HAND = {"restart": "campaign retry", "retry-memory": "campaign retry --memory-multiplier",
            "rescue": "campaign rescue", "submit": "campaign apply"}


def action_command(action: str, campaign: str, key: str, factor: float = 2.0) -> str:
    """The command that does `action` for the run (the retry workflow's dispatch runs the same)."""
    if action == "more-memory":
        return f"campaign control more-memory {campaign} {key} --memory-multiplier {factor:g}"
    if action in ("retry", "rescue"):
        return f"campaign control {action} {campaign} {key}"
    if action == "accept":
        return f"campaign control accept {campaign} {key} --reason '…'"
    if action == "hold":
        return f"campaign control hold {campaign} --reason '…'"
    return (f"read the log, then `campaign control retry|rescue|resubmit|skip {campaign} {key}` "
            "(or fix the spec or the rules by pull request)")


def made_by(record: RunRecord, index: int, controls: Sequence[Control]) -> str:
    """Who or what made attempt `index` (0-based): the rule whose decision on the attempt before launched it,
    an operator's control on the run, else a person's command."""
    attempt = record.attempts[index]
    if index == 0:
        return "the campaign's apply"
    decision = record.attempts[index - 1].decision
    if decision is not None and decision.done and decision.action in LAUNCHING:
        return f"failure rule {decision.rule}" if decision.rule else "the failure rules"
    control = next((c for c in reversed(controls) if c.target == record.key and c.action in ("resubmit", "supersede")
                    and (not attempt.submitted_at or c.at <= attempt.submitted_at)), None)
    if control is not None:
        return f"{control.by} ({control.action}: {control.reason})"
    return f"a person (`{_BY_HAND.get(attempt.kind, 'campaign retry')}`)"


def _failure_lines(attempt: Attempt) -> list[str]:
    tasks = ", ".join(f"{label} ({n})" for label, n in attempt.failed_tasks()) or "none recorded"
    lines = [f"    failed tasks: {tasks}"]
    if attempt.errors:
        lines.append(f"    first error: {attempt.errors[0].strip()[:150]}")
    return lines


def _decision_lines(decision: RuleDecision, record: RunRecord, index: int, campaign: str,
                    factors: Mapping[str, float]) -> list[str]:
    who = f"rule {decision.rule}" if decision.rule else "no rule"
    lines = [f"    {who} [{decision.flavor}] decided {decision.action} at {decision.at}: {decision.text}"]
    later = record.attempts[index + 1] if index + 1 < len(record.attempts) else None
    command = action_command(decision.action, campaign, record.key, factors.get(decision.rule, 2.0))
    if decision.action in LAUNCHING:
        if decision.done and later is not None:
            how = f" ({decision.note})" if decision.note else ""
            lines.append(f"    done at {decision.acted_at}: attempt {later.number} ({later.kind}){how}")
        elif decision.note:
            lines.append(f"    not done: {decision.note}; `{command}` does it now")
        else:
            when = f"due {decision.due_at}" if decision.due_at else "at the next `campaign reconcile`"
            lines.append(f"    not done yet ({when}); `{command}` does it now")
    elif decision.action in ("accept", "hold"):
        lines.append(f"    done at {decision.acted_at}" if decision.done else f"    not done yet; `{command}`")
    else:
        lines.append(f"    nothing automatic: {command}")
    return lines


def history_lines(record: RunRecord, controls: Sequence[Control], campaign: str,
                  factors: Mapping[str, float] | None = None) -> list[str]:
    """Every attempt of the run, oldest first: state, who made it, its failure and the rules' decision."""
    factors = factors or {}
    lines = [f"history of {record.key} ({len(record.attempts)} attempt(s)):"]
    for i, attempt in enumerate(record.attempts):
        when = f", submitted {attempt.submitted_at}" if attempt.submitted_at else ""
        lines.append(f"  attempt {attempt.number} ({attempt.kind}{when}, made by {made_by(record, i, controls)}): "
                     f"{attempt.state.value}")
        if attempt.state.value == "FAILED" or attempt.decision is not None:
            lines += _failure_lines(attempt)
        if attempt.decision is not None:
            lines += _decision_lines(attempt.decision, record, i, campaign, factors)
        elif attempt.state.value == "FAILED" and i + 1 < len(record.attempts):
            lines.append("    no rule decision recorded (a person acted)")
    return lines


__all__ = ["action_command", "history_lines", "made_by"]
