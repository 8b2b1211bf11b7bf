"""The failure-rules replay as the plan comment's section and as terminal text (pure): counts per rule, base
against this change, and the runs whose decision changes."""

from __future__ import annotations

from collections.abc import Sequence

from ..planning.failures import Decision
from ..planning.replay import Replay, rule_name
from .markdown import cell

LIMIT = 100  # changed runs listed; the rest counted


def _said(d: Decision) -> str:
    memory = ", ".join(f"{label} {mb} MB" for label, mb in sorted(d.memory.items()))
    return f"{rule_name(d)} → {d.action}" + (f" ({memory})" if memory else "")


def _arrow(old: int, new: int) -> str:
    return f"{old} → {new}" if old != new else f"{old}"


def replay_markdown(result: Replay, files: Sequence[str], base: str) -> list[str]:
    """The `## Failure rules replay` section of the plan comment."""
    out = ["## Failure rules replay", "",
           f"{', '.join(f'`{cell(f)}`' for f in files)} changed. The rules of `{cell(base[:12])}` (base) and of "
           f"this change replayed on the {result.failures} failed attempt(s) recorded in {result.campaigns} "
           f"campaign ledger(s): **{len(result.changes)} decision(s) change**.", ""]
    if not result.failures:
        return [*out, "No ledger records a failure yet: nothing to replay.", ""]
    out += ["| rule | decisions (base → this change) |", "|---|---:|"]
    out += [f"| `{cell(c.rule)}` | {_arrow(c.old, c.new)}{'' if c.old == c.new else ' ⚠'} |" for c in result.counts]
    if result.changes:
        out += ["", "| campaign | run | attempt | base: rule → action | this change: rule → action |",
                "|---|---|---:|---|---|"]
        out += [f"| {cell(r.campaign)} | {cell(r.run)} | {r.attempt} | {cell(_said(r.old))} | {cell(_said(r.new))} |"
                for r in result.changes[:LIMIT]]
        if len(result.changes) > LIMIT:
            out.append(f"\n{len(result.changes) - LIMIT} more: `campaign replay-rules --base {base[:12]}` lists all.")
    return [*out, ""]


def replay_text(result: Replay, files: Sequence[str], base: str) -> str:
    """The same for a terminal: one line a rule, one a changed run."""
    lines = [f"{', '.join(files)} changed; replayed {result.failures} failed attempt(s) in {result.campaigns} "
             f"campaign(s) against {base}: {len(result.changes)} decision(s) change"]
    lines += [f"  {c.rule:<32} {c.old:6d} -> {c.new:<6d}" for c in result.counts]
    lines += [f"  {r.campaign} {r.run} attempt {r.attempt}: {_said(r.old)}  =>  {_said(r.new)}".replace("→", "->")
              for r in result.changes]
    return "\n".join(lines)


__all__ = ["replay_markdown", "replay_text"]
