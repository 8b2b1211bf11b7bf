"""Every committed version of a campaign's ledger, read from git in one `git log` and one `git cat-file --batch`.

Both layouts: the folder (campaigns/<name>/ledger/) and the single ledger.yaml of older campaigns,
so a history runs across the commit that moved one into the other.
"""

from __future__ import annotations

from ...ledger import store
from ...ledger.history import Version
from ...ledger.records import Ledger, RunRecord
from .ledgers import paths, read_texts
from .repo import Git

NULL_BLOB = "0" * 40


def _parse_log(text: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(commit, date, subject, {path: new blob sha}) per commit of `git log --raw --format=%x01...`."""
    out: list[tuple[str, str, str, dict[str, str]]] = []
    for record in text.split("\x01")[1:]:
        header, _, raw = record.partition("\n")
        commit, date, subject = (header.split("\x00") + ["", ""])[:3]
        blobs: dict[str, str] = {}
        for line in raw.splitlines():
            if line.startswith(":"):
                meta, _, where = line[1:].partition("\t")
                blobs[where.split("\t")[-1]] = meta.split()[3]
        out.append((commit, date, subject, blobs))
    return out


def ledger_versions(git: Git, campaign_dir: str) -> list[Version]:
    """Every committed version of the ledger of `campaign_dir` (e.g. `campaigns/demo`), oldest first."""
    single, folder = paths(campaign_dir)
    campaign = campaign_dir.rsplit("/", 1)[1]
    log = git.out("log", "--raw", "--no-abbrev", "--no-renames", "--format=%x01%H%x00%cI%x00%s",
                  "--", single, f"{folder}/")
    rows = list(reversed(_parse_log(log)))
    contents = git.blobs(sorted({b for *_, blobs in rows for b in blobs.values() if b != NULL_BLOB}))
    single_text: str | None = None
    texts: dict[str, str | None] = {}
    reuse: dict[str, list[RunRecord]] = {}
    versions: list[Version] = []
    for commit, date, subject, blobs in rows:
        for path, blob in blobs.items():
            text = contents.get(blob) if blob != NULL_BLOB else None
            if path == single:
                single_text = text
            elif path.startswith(f"{folder}/") and path.count("/") == folder.count("/") + 1:
                texts[path.rsplit("/", 1)[1]] = text
        present = {n: t for n, t in texts.items() if t is not None}
        ledger: Ledger | None = None
        if store.INDEX_FILE in present:
            ledger = read_texts(present, folder, campaign, reuse)
        if ledger is None:
            ledger = store.parse_version(single_text)
        versions.append(Version(commit, date, subject, ledger))
    return versions
