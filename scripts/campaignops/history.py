"""A campaign's timeline read back from its ledger's git history: who moved which run where, when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .ledger import Ledger
from .publish import Change, Git, diff_ledgers, parse_ledger

NULL_BLOB = "0" * 40


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


def _parse_log(text: str) -> list[tuple[str, str, str, str]]:
    """(commit, date, subject, new blob sha) per commit of `git log --raw --format=%x01...`."""
    out: list[tuple[str, str, str, str]] = []
    for record in text.split("\x01")[1:]:
        header, _, raw = record.partition("\n")
        commit, date, subject = (header.split("\x00") + ["", ""])[:3]
        blob = NULL_BLOB
        for line in raw.splitlines():
            if line.startswith(":"):
                fields = line[1:].split("\t")[0].split()
                blob = fields[3]
        out.append((commit, date, subject, blob))
    return out


def ledger_versions(git: Git, path: str) -> list[Version]:
    """Every committed version of the ledger at `path`, oldest first, following renames."""
    log = git.out("log", "--follow", "--raw", "--no-abbrev", "-M",
                  "--format=%x01%H%x00%cI%x00%s", "--", path)
    rows = list(reversed(_parse_log(log)))
    blobs = git.blobs(sorted({b for *_, b in rows if b != NULL_BLOB}))
    return [Version(c, d, s, parse_ledger(blobs.get(b)) if b != NULL_BLOB else None) for c, d, s, b in rows]


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
