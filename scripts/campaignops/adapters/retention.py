"""Retention on a real Butler: remove the RUN collections a retention plan expired, with the Butler's own
`removeRuns` (what `butler remove-runs` calls), unlinking them from the campaign's own output chain only.

A run is kept when a protected chain holds it (directly or through the campaign's chain), when any chain
other than the campaign's own output chain holds it, or when it is not a RUN collection; a run the
Butler no longer has is reported, not recorded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..domain.errors import CampaignError
from ..ports import Removable
from ..ports import RemovalOutcome as Outcome
from .butler import ButlerHandle


class RetentionError(CampaignError):
    """The Butler cannot be opened or refused a removal; the message says what to do."""


class ButlerRetention(ButlerHandle):
    """Removes expired runs from one Butler repository (opened writeable on first use)."""

    writeable = True
    error = RetentionError

    def _info(self, name: str) -> Any:
        from lsst.daf.butler import MissingCollectionError

        try:
            infos = self._open().collections.query_info(name, include_parents=True)
        except MissingCollectionError:
            return None
        return infos[0] if infos else None

    def _ancestors(self, chain: str, seen: set[str]) -> set[str]:
        """Every chain that holds `chain`, transitively."""
        info = self._info(chain)
        found: set[str] = set()
        for parent in (info.parents or ()) if info is not None else ():
            if parent not in seen:
                seen.add(parent)
                found |= {parent} | self._ancestors(parent, seen)
        return found

    def _verdict(self, e: Removable) -> str:
        """'' when the run may go, else why it stays ("not in the Butler" when it is gone already)."""
        from lsst.daf.butler import CollectionType

        info = self._info(e.run)
        if info is None:
            return "not in the Butler"
        if info.type != CollectionType.RUN:
            return f"kept: {e.run} is a {info.type.name} collection, not a RUN"
        parents = set(info.parents or ())
        held_by = self._ancestors(e.chain, {e.chain}) if e.chain in parents else set()
        protected = sorted((parents | held_by) & set(e.protect))
        if protected:
            return f"kept: in protected chain {', '.join(protected)}"
        foreign = sorted(parents - {e.chain})
        if foreign:
            return f"kept: held by chain(s) {', '.join(foreign)}, not only by the campaign's {e.chain}"
        if held_by:
            return f"kept: the campaign's chain {e.chain} is held by {', '.join(sorted(held_by))}"
        return ""

    def _count(self, run: str) -> int:
        return len(self._open().query_all_datasets(run, find_first=False, limit=None))

    def apply(self, expired: Sequence[Removable], *, dry_run: bool = False) -> list[Outcome]:
        """Remove (or with dry_run only check) each expired run; one outcome per run, in order."""
        outcomes: list[Outcome] = []
        for e in expired:
            why = self._verdict(e)
            if why:
                outcomes.append(Outcome(e.run, False, 0, why))
                continue
            datasets = self._count(e.run)
            if dry_run:
                outcomes.append(Outcome(e.run, False, datasets, "would be removed"))
                continue
            try:
                self._open().removeRuns([e.run], unlink_from_chains=True)
            except Exception as exc:
                raise RetentionError(f"the Butler refused to remove {e.run}: {exc}; nothing else was removed "
                                     "after it (earlier removals are recorded)") from exc
            outcomes.append(Outcome(e.run, True, datasets, "removed"))
        if not dry_run:
            self._drop_empty_chains(expired)
        return outcomes

    def _drop_empty_chains(self, expired: Sequence[Removable]) -> None:
        """The output chain of an instance expired whole goes once it holds nothing."""
        for chain in sorted({e.chain for e in expired if e.drop_chain}):
            info = self._info(chain)
            if info is not None and not info.children and not info.parents:
                self._open().registry.removeCollection(chain)


__all__ = ["ButlerRetention", "Outcome", "Removable", "RetentionError"]
