"""Where a campaign's ledger lives, without loading the ledger machinery (validate asks only "is anything
recorded?")."""

from __future__ import annotations

from pathlib import Path

LEDGER_FILE = "ledger.yaml"  # the single-file layout of campaigns recorded before the folder
LEDGER_DIR = "ledger"


def ledger_path(campaign_dir: Path) -> Path:
    """The single-file ledger of a campaign recorded before the folder layout."""
    return campaign_dir / LEDGER_FILE


def ledger_dir(campaign_dir: Path) -> Path:
    return campaign_dir / LEDGER_DIR


def has_record(campaign_dir: Path) -> bool:
    """True when runs may be recorded for the campaign (either layout exists)."""
    return ledger_path(campaign_dir).exists() or ledger_dir(campaign_dir).is_dir()
