"""Every committed version of a ledger, read from git in one `git log` and one `git cat-file --batch`."""

from __future__ import annotations

from ...ledger.history import Version
from ...ledger.store import parse_version
from .repo import Git

NULL_BLOB = "0" * 40


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
    return [Version(c, d, s, parse_version(blobs.get(b)) if b != NULL_BLOB else None) for c, d, s, b in rows]
