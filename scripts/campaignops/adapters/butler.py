"""Data IDs from a real Butler: the distinct values a `by: query` split cuts into groups."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..campaign_spec.rules import rooted
from ..domain.dataquery import combine
from ..domain.errors import ButlerQueryError, CampaignError
from ..ports import InputCensus

if TYPE_CHECKING:
    from ..domain.model import Campaign, Step

__all__ = ["ButlerDataIds", "ButlerHandle", "ButlerMeasurements", "ButlerQueryError", "metric_value"]


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


class ButlerMeasurements(ButlerHandle):
    """The `Measurements` port on one Butler repository (read-only, opened on first use)."""

    def __init__(self, repo: str | Path) -> None:
        super().__init__(repo)
        self._existing: dict[str, set[str]] = {}

    def _refs(self, dataset_type: str, collections: Sequence[str]) -> list[Any]:
        butler = self._open()
        from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError

        # Only the collections that exist: an attempt that wrote nothing has no RUN collection. They share the
        # campaign's output prefix: one glob query for them all, kept for the cycle (this reader's life).
        prefix = os.path.commonprefix(list(collections))  # noqa: RUF071 - a string prefix for a glob
        if prefix not in self._existing:
            try:
                self._existing[prefix] = set(butler.collections.query(f"{prefix}*"))
            except Exception as exc:
                raise ButlerQueryError(f"cannot list the collections {prefix}* of {self.repo}: {exc}") from exc
        wanted = [c for c in collections if c in self._existing[prefix]]
        if not wanted:
            return []
        try:
            return list(butler.query_datasets(dataset_type, collections=wanted, find_first=True,
                                              limit=None, explain=False))
        except (MissingDatasetTypeError, MissingCollectionError):  # never registered: nothing was written
            return []
        except Exception as exc:
            raise ButlerQueryError(f"query of {dataset_type} in {self.repo} ({len(collections)} collection(s)) "
                                   f"failed: {exc}") from exc

    def count(self, dataset_type: str, collections: Sequence[str]) -> int:
        return len(self._refs(dataset_type, collections))

    def values(self, dataset_type: str, collections: Sequence[str], key: str) -> list[float]:
        found = []
        for ref in self._refs(dataset_type, collections):
            try:
                value = metric_value(self._open().get(ref), key)
            except Exception as exc:
                raise ButlerQueryError(f"cannot read {dataset_type} {ref.dataId} from {self.repo}: {exc}") from exc
            if value is not None:
                found.append(value)
        return found


    def _found(self, butler: Any, dataset_type: str, collections: Sequence[str], where: str) -> list[Any]:
        try:
            return list(butler.query_datasets(dataset_type, collections=list(collections), where=where,
                                              find_first=True, limit=None, explain=False))
        except Exception as exc:
            raise ButlerQueryError(f"query of {dataset_type} in {', '.join(collections)} of {self.repo} where "
                                   f"{where!r} failed: {exc}") from exc

    def census(self, dataset_type: str, collections: Sequence[str], where: str, show: int) -> InputCensus:
        butler = self._open()
        try:
            dimensions = butler.get_dataset_type(dataset_type).dimensions.required
            selected = {tuple(sorted(d.required.items())) for d in butler.query_data_ids(
                list(dimensions), where=where, limit=None, explain=False)}
        except Exception as exc:
            raise ButlerQueryError(f"cannot list the data IDs of {dataset_type} in {self.repo} where {where!r}: "
                                   f"{exc}") from exc
        found = {tuple(sorted(ref.dataId.required.items())) for ref in self._found(butler, dataset_type,
                                                                                     collections, where)}
        missing = sorted(selected - found, key=lambda key: [(k, str(v)) for k, v in key])
        return InputCensus(len(selected), len(selected & found),
                           tuple(" ".join(f"{k}={v}" for k, v in key) for key in missing[:show]))

    def freeze(self, tagged: str, dataset_type: str, collections: Sequence[str], where: str) -> int:
        from lsst.daf.butler import Butler, CollectionType

        try:
            butler = Butler.from_config(self.repo, writeable=True)
        except Exception as exc:
            raise ButlerQueryError(f"cannot open Butler repository {self.repo} for writing: {exc}") from exc
        try:
            refs = self._found(butler, dataset_type, collections, where)
            butler.collections.register(tagged, CollectionType.TAGGED)
            butler.registry.associate(tagged, refs)
            return len(self._found(butler, dataset_type, [tagged], ""))
        except ButlerQueryError:
            raise
        except Exception as exc:
            raise ButlerQueryError(f"cannot freeze the inputs in {tagged} of {self.repo}: {exc}") from exc
        finally:
            butler.close()


def metric_value(obj: Any, key: str) -> float | None:
    """The number named `key` in a metric dataset: a mapping's value (StructuredDataDict), or the measurement
    named `key` in an analysis_tools MetricMeasurementBundle — a `UserDict[str, list[lsst.verify.Measurement]]`,
    action -> measurements (analysis_tools python/lsst/analysis/tools/interfaces/_metricMeasurementBundle.py),
    each with a `metric_name` (an lsst.verify `Name`: `str()` is `package.metric`, `.metric` the bare name) and
    an astropy `quantity`; None when it has no such number."""
    if not isinstance(obj, Mapping):
        return None
    value = _number(obj.get(key))
    if value is not None:
        return value
    for measurements in obj.values():  # a bundle is a Mapping too: its values are lists of Measurements
        if not isinstance(measurements, list | tuple):
            continue
        for m in measurements:
            name = getattr(m, "metric_name", None)
            if name is not None and key in (str(name), getattr(name, "metric", None)):
                quantity = getattr(m, "quantity", None)
                number = getattr(quantity, "value", quantity)
                return _number(number)
    return None


def _number(value: Any) -> float | None:
    """A real number as a float (numpy's too); None for anything else, a bool included."""
    return float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None
