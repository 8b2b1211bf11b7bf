"""What `campaign ledger repair` and `migrate` would write: the explicit commands for what looks never do.

A look (`status`, `plan`, `explain`, `history`, `errors`) never seals, migrates or rewrites a ledger. These
compute, without writing, the ledger folder a repair would leave — a save cut short completed (its files
never written dropped, files it no longer needed removed), a hand edit accepted once schema-checked (only
when asked: `--accept-edits`), a single-file ledger that the folder already records removed — or refuse,
naming the file and how to restore it, what no command can decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..domain.errors import LedgerError
from . import store
from .records import Ledger, RunRecord


@dataclass(frozen=True)
class Repair:
    """The folder a repair leaves: `files` (name -> text, the index last), the files it removes (paths
    relative to the campaign folder), what it does in words."""

    ledger: Ledger
    files: dict[str, str]
    removed: tuple[str, ...]
    notes: tuple[str, ...]
    unwritten: tuple[store.Entry, ...] = ()


def plan_repair(campaign_dir: Path, campaign: str, *, accept_edits: bool = False) -> Repair:
    """The repair of the campaign's ledger folder; LedgerError (naming the file and the restore command) for
    what cannot be repaired."""
    folder, single = store.ledger_dir(campaign_dir), store.ledger_path(campaign_dir)
    has_folder = folder.is_dir() and any(folder.glob("*.yaml"))
    if single.exists() and not has_folder:
        raise LedgerError(f"{single}: a single-file ledger (the earlier layout): nothing to repair; "
                          f"`campaign ledger migrate {campaign}` moves it into {folder}/")
    if not has_folder:
        raise LedgerError(f"{folder}: no ledger was recorded for campaign {campaign} yet: nothing to repair")
    removed: list[str] = []
    notes: list[str] = []
    if single.exists():
        store.load(campaign_dir, campaign)  # refuses a single file that records something else, naming both
        removed.append(store.LEDGER_FILE)
        notes.append(f"{store.LEDGER_FILE}: a move into the folder was cut short before removing it; the "
                     "folder records the same: removed")
    texts = {p.name: store.read_file(p) for p in sorted(folder.glob("*.yaml")) if p.is_file()}
    index = store.parse_index(texts[store.INDEX_FILE], folder / store.INDEX_FILE, campaign) \
        if store.INDEX_FILE in texts else None
    if index is None:
        raise LedgerError(f"{folder / store.INDEX_FILE}: missing; it holds the controls, frozen groups and transfers, "
                          f"which the files cannot give back: restore it from git: "
                          f"`git log -p -- {folder / store.INDEX_FILE}`, then `git checkout <commit> -- "
                          f"{folder / store.INDEX_FILE}`")
    if index.pending:
        notes.append(f"{store.INDEX_FILE}: a save was cut short: completed")
    runs: list[RunRecord] = []
    unwritten: list[store.Entry] = []
    for entry in index.entries:
        where = folder / entry.name
        text = texts.get(entry.name)
        if text is None:
            if not (entry.pending and entry.previous is None):
                raise LedgerError(f"{where}: missing, the index lists it with {entry.runs} runs; restore it from "
                                  f"git: `git log -p -- {where}`, then `git checkout <commit> -- {where}`")
            unwritten.append(entry)
            notes.append(f"{entry.name}: listed by the save cut short ({entry.runs} runs, {entry.attempts} "
                         "attempts recorded for the first time) but never written: dropped from the index")
            continue
        try:
            part = store.parse_folder({store.INDEX_FILE: texts[store.INDEX_FILE], entry.name: text}, folder,
                                      campaign, only=[entry.name])
            runs += part.runs
        except LedgerError as exc:
            if not accept_edits:
                raise LedgerError(f"{exc}. If this file was edited by hand on purpose, `campaign ledger repair "
                                  f"{campaign} --accept-edits` checks it against the schema and seals it "
                                  "(recorded with who and why)") from exc
            edited = store.read_hand_edited(text, where, campaign, entry.step)
            runs += edited
            notes.append(f"{entry.name}: edited by hand; accepted ({len(edited)} runs, schema-checked) and sealed")
    listed = {e.name for e in index.entries}
    for name in sorted(set(texts) - listed - {store.INDEX_FILE}):
        if not index.pending:
            raise LedgerError(f"{folder / name}: not listed in {store.INDEX_FILE}, whose last save was complete: "
                              f"the index is older than the files; restore the folder from git: "
                              f"`git log -p -- {folder}`")
        removed.append(f"{store.LEDGER_DIR}/{name}")
        notes.append(f"{name}: a file the save cut short no longer needed: removed")
    ledger = Ledger(index.campaign, tuple(runs), index.frozen_groups, index.controls, index.setup, index.removed,
                    index.transfers)
    return Repair(ledger, store.files(ledger), tuple(removed), tuple(notes), tuple(unwritten))


def plan_migrate(campaign_dir: Path, campaign: str) -> Repair:
    """The move of a single-file ledger into the folder layout; LedgerError when there is none to move."""
    single, folder = store.ledger_path(campaign_dir), store.ledger_dir(campaign_dir)
    if not single.exists():
        raise LedgerError(f"{campaign_dir}: no single-file {store.LEDGER_FILE} to migrate; the ledger is "
                          f"{'in ' + str(folder) + '/' if folder.is_dir() else 'not recorded yet'}")
    ledger = store.load(campaign_dir, campaign)  # refuses a single file beside a folder recording something else
    return Repair(ledger, store.files(ledger), (store.LEDGER_FILE,),
                  (f"{store.LEDGER_FILE} ({len(ledger.runs)} runs) moved into {store.LEDGER_DIR}/: an index and one "
                   f"file per step and {store.RUNS_PER_FILE} runs",))


__all__ = ["Repair", "plan_migrate", "plan_repair"]
