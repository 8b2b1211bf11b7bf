"""A campaign's timeline read back from its ledger's git history: who moved which run where, when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .merge import Change, diff_ledgers
from .records import Ledger


@dataclass(frozen=True)
class Version:
    """One commit that touched the ledger, and the ledger as that commit left it (None: deleted)."""

    commit: str
    date: str  # ISO 8601, committer date
    subject: str
    ledger: Ledger | None


@dataclass(frozen=True)
class Entry:
    """One point of the timeline: a commit and the transitions it recorded."""

    commit: str
    date: str
    subject: str
    changes: tuple[Change, ...]


def timeline(versions: Sequence[Version]) -> list[Entry]:
    """Entries of the transitions each version (oldest first) recorded; commits that changed no
    state (a refresh of counts, a rewrite) are left out."""
    entries: list[Entry] = []
    previous: Ledger | None = None
    for v in versions:
        if v.ledger is not None:
            changes = diff_ledgers(previous, v.ledger)
            if changes:
                entries.append(Entry(v.commit, v.date, v.subject, tuple(changes)))
        previous = v.ledger
    return entries
