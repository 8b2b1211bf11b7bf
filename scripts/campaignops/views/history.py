"""A campaign's timeline as terminal text or JSON."""

from __future__ import annotations

from collections.abc import Sequence

from ..ledger.history import Entry


def format_text(campaign: str, entries: Sequence[Entry]) -> str:
    if not entries:
        return f"{campaign}: no recorded transitions (no committed ledger yet?)\n"
    lines = [f"Timeline of {campaign} ({len(entries)} commits with transitions):"]
    for e in entries:
        lines.append(f"{e.date}  {e.commit[:10]}  {e.subject}")
        lines += [f"    {c.describe()}" for c in e.changes]
    return "\n".join(lines) + "\n"


def as_json(entries: Sequence[Entry]) -> list[dict[str, object]]:
    return [{"commit": e.commit, "date": e.date, "subject": e.subject,
             "transitions": [{"step": c.step, "group": c.group, "attempt": c.attempt, "kind": c.kind,
                              "from": c.old.value if c.old else None, "to": c.new.value,
                              "failed": c.failed, "failed_in": list(c.failed_in)} for c in e.changes]}
            for e in entries]
