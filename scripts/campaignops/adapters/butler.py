"""Data IDs from a real Butler: the distinct values a `by: query` split cuts into groups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain.dataquery import combine
from ..domain.errors import ButlerQueryError, CampaignError
from ..spec.rules import rooted

if TYPE_CHECKING:
    from ..domain.model import Campaign, Step

__all__ = ["ButlerDataIds", "ButlerHandle", "ButlerQueryError"]


class ButlerHandle:
    """One Butler repository, opened on first use (read-only unless `writeable`); errors are `error`."""

    writeable = False
    error: type[CampaignError] = ButlerQueryError

    def __init__(self, repo: str | Path) -> None:
        self.repo = str(repo)
        self._butler: Any = None

    def _open(self) -> Any:
        if self._butler is None:
            try:
                from lsst.daf.butler import Butler
            except ImportError as exc:
                raise self.error("lsst.daf.butler is not installed; `pip install -e '.[lsst]'` "
                                 "or run under the stack") from exc
            try:
                self._butler = Butler.from_config(self.repo, writeable=self.writeable)
            except Exception as exc:
                how = " for writing" if self.writeable else ""
                raise self.error(f"cannot open Butler repository {self.repo}{how}: {exc}") from exc
        return self._butler

    def close(self) -> None:
        if self._butler is not None:
            self._butler.close()
            self._butler = None


class ButlerDataIds(ButlerHandle):
    """Reads data IDs from one Butler repository (opened read-only on first use)."""

    root: Path | None = None  # the repository root: site repositories are found from it

    @classmethod
    def for_campaign(cls, campaign: Campaign, root: Path) -> ButlerDataIds:
        """The campaign's repository, a relative path taken from the repository root `root`."""
        source = cls(rooted(campaign.butler_repo, root))
        source.root = root
        return source

    def values(self, dimension: str, where: str = "") -> list[int | str]:
        """Sorted distinct values of `dimension` among the data IDs matching `where`."""
        butler = self._open()
        try:
            data_ids = butler.query_data_ids([dimension], where=where, limit=None, explain=False)
        except Exception as exc:
            raise ButlerQueryError(f"query of {dimension} in {self.repo} where {where!r} failed: {exc}") from exc
        found = {data_id[dimension] for data_id in data_ids}
        return sorted(found, key=lambda v: (isinstance(v, str), v))

    def data_ids(self, campaign: Campaign, step: Step | str) -> list[int | str]:
        """Distinct values of the step's split dimension under the campaign's and the step's data query."""
        s = campaign.step(step) if isinstance(step, str) else step
        if not s.split.dimension:
            raise ButlerQueryError(f"step {s.name} of campaign {campaign.name} has no split dimension to query")
        return self.values(s.split.dimension, combine(campaign.data_query, s.data_query))

    def resident(self, campaign: Campaign, step: Step, site: str) -> list[int | str]:
        """Values of the step's split dimension held by `site`'s Butler under the step's data query; with the
        split's `datasets`, only values where those dataset types exist in the campaign's input collections."""
        repo = campaign.repo_at(site)
        at = ButlerDataIds(rooted(repo, self.root) if self.root is not None else repo)
        try:
            return at.values_with(step.split.dimension or "", combine(campaign.data_query, step.data_query),
                                  step.split.datasets, campaign.inputs)
        finally:
            at.close()

    def values_with(self, dimension: str, where: str, datasets: tuple[str, ...],
                    collections: tuple[str, ...]) -> list[int | str]:
        """Sorted distinct values of `dimension` matching `where`, joined with `datasets` in `collections`."""
        if not datasets:
            return self.values(dimension, where)
        butler = self._open()
        try:
            with butler.query() as query:
                for dataset_type in datasets:
                    query = query.join_dataset_search(dataset_type, list(collections))
                rows = list(query.where(where).data_ids([dimension]) if where else query.data_ids([dimension]))
        except Exception as exc:
            raise ButlerQueryError(f"query of {dimension} with {', '.join(datasets)} in {self.repo} where "
                                   f"{where!r} failed: {exc}") from exc
        found = {row[dimension] for row in rows}
        return sorted(found, key=lambda v: (isinstance(v, str), v))
