"""What the submit and observe stages need from the world: the campaign, its WMS, where launches live, a clock."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..domain.model import Campaign
from ..ledger import store
from ..ledger.records import Ledger
from ..ports import Wms


def utcnow() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def default_workdir(root: Path) -> Path:
    """Where launch directories live. On a runner this must outlive the checkout (CAMPAIGNOPS_WORKDIR)."""
    return Path(os.environ.get("CAMPAIGNOPS_WORKDIR") or root / ".work").resolve()


@dataclass
class Context:
    """What the submit and observe stages need from the world."""

    root: Path
    campaign: Campaign
    wms: Wms
    workdir: Path
    now: Callable[[], str] = utcnow
    say: Callable[[str], None] = print
    dry_run: bool = False
    may_launch: bool = True  # False for a look (`campaign status`): observe and record, never start bps
    saved: list[str] = field(default_factory=list)

    @property
    def campaign_dir(self) -> Path:
        assert self.campaign.path is not None
        return self.campaign.path.parent

    def save(self, ledger: Ledger) -> None:
        if not self.dry_run and store.save(self.campaign_dir, ledger):
            self.saved.append(self.now())

    def launch_dir(self, run_key: str, attempt: int) -> Path:
        return self.workdir / self.campaign.name / run_key / f"a{attempt:02d}"
