"""A campaign's ledger as a git revision (or the staging area) holds it: the folder, or the older single file."""

from __future__ import annotations

from collections.abc import Collection, Mapping, MutableMapping

from ...domain.errors import LedgerError
from ...ledger import store
from ...ledger.records import Ledger, RunRecord
from .repo import Git

STAGED = ":"  # the staging area, for `files_at`


# The ledger files `ledger/store.save` writes, as repository globs (the single file of older campaigns too).
FILES = (f"campaigns/*/{store.LEDGER_FILE}", f"campaigns/*/{store.LEDGER_DIR}/*.yaml")


def paths(campaign_dir: str) -> tuple[str, str]:
    """(the single file, the folder) of a campaign folder such as `campaigns/demo`."""
    return f"{campaign_dir}/{store.LEDGER_FILE}", f"{campaign_dir}/{store.LEDGER_DIR}"


def campaign_of(path: str) -> str | None:
    """`campaigns/<name>` when `path` is a ledger file of that campaign (either layout), else None."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "campaigns" and parts[2] == store.LEDGER_FILE:
        return "/".join(parts[:2])
    if len(parts) == 4 and parts[0] == "campaigns" and parts[2] == store.LEDGER_DIR and parts[3].endswith(".yaml"):
        return "/".join(parts[:2])
    return None


def blob_shas(git: Git, rev: str, folder: str) -> dict[str, str]:
    """File name -> blob sha of the files directly in `folder` at `rev` (STAGED: the staging area)."""
    if rev == STAGED:
        rows = [line.split("\t", 1) for line in git.out("ls-files", "-s", "-z", "--", f"{folder}/").split("\0")
                if line]
        found = {path: meta.split()[1] for meta, path in rows if meta.split()[2] == "0"}
    else:
        rows = [line.split("\t", 1) for line in git.out("ls-tree", "-z", rev, "--", f"{folder}/").split("\0")
                if line]
        found = {path: meta.split()[2] for meta, path in rows}
    return {path.rsplit("/", 1)[1]: sha for path, sha in found.items() if path.count("/") == folder.count("/") + 1}


def read(git: Git, rev: str, campaign_dir: str, only: Collection[str] | None = None) -> Ledger | None:
    """The ledger at `rev` (STAGED: as staged); `only`: just the runs of these folder files. None when
    there is none there, or it cannot be read (a damaged ledger is not a state to report changes of)."""
    single, folder = paths(campaign_dir)
    shas = blob_shas(git, rev, folder)
    name = campaign_dir.rsplit("/", 1)[1]
    try:
        if store.INDEX_FILE in shas:
            wanted = [n for n, _ in shas.items() if only is None or n in only or n == store.INDEX_FILE]
            blobs = git.blobs([shas[n] for n in wanted])
            texts = {n: blobs.get(shas[n]) for n in wanted}
            return store.parse_folder(texts, folder, name, None if only is None else list(only))
        text = git.show(f"{'' if rev == STAGED else rev}:{single}")
        return store.parse(text, single, name) if text is not None else None
    except LedgerError:
        return None


def read_texts(texts: Mapping[str, str | None], folder: str, campaign: str,
               reuse: MutableMapping[str, list[RunRecord]]) -> Ledger | None:
    """The ledger of one version of the folder's files; files seen before (same seal) give the same run
    objects, so comparing two versions skips what did not change. None when it cannot be read."""
    try:
        return store.parse_folder(texts, folder, campaign, reuse=reuse)
    except LedgerError:
        return None
