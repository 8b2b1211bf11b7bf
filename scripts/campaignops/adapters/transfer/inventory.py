"""What a site's Butler holds: the datasets a transfer selects, how many a repository has, what is resident there.

Both transfer adapters (Butler-to-Butler and Rucio) select what to send with `select` and confirm what
arrived with `count_at`; placement by data asks `resident_values` which visits or patches a site holds.
A `where` may name visits or detectors without the instrument when the repository knows one instrument
(it is the default data ID, as `pipetask` would infer it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ...domain.errors import ButlerQueryError

if TYPE_CHECKING:
    from lsst.daf.butler import Butler, DatasetRef

__all__ = ["count_at", "open_butler", "resident_values", "select", "selected_at"]


def open_butler(repo: str, writeable: bool = False) -> Butler:
    """The Butler of `repo`, with its single instrument (if it has exactly one) as the default data ID.

    Raises ButlerQueryError naming the repository; its `__cause__` is the Butler's own error (a
    missing repository is a FileNotFoundError, a busy database an OperationalError)."""
    try:
        from lsst.daf.butler import Butler
        from lsst.daf.butler.registry import RegistryDefaults
    except ImportError as exc:
        raise ButlerQueryError("lsst.daf.butler is not installed; `pip install -e '.[lsst]'` "
                               "or run under the stack") from exc
    try:
        butler = Butler.from_config(repo, writeable=writeable)
    except Exception as exc:
        how = " for writing" if writeable else ""
        raise ButlerQueryError(f"cannot open Butler repository {repo}{how}: {exc}") from exc
    try:
        instruments = [r.name for r in butler.query_dimension_records("instrument", limit=None, explain=False)]
        if len(instruments) == 1:
            butler.registry.defaults = RegistryDefaults(instrument=instruments[0])
    except Exception as exc:
        butler.close()
        raise ButlerQueryError(f"cannot read Butler repository {repo}: {exc}") from exc
    return butler


def select(butler: Butler, dataset_types: Iterable[str], collections: Sequence[str], where: str) -> list[DatasetRef]:
    """Every dataset of `dataset_types` in `collections` whose data ID matches `where` (all of them in
    each collection, not only the first found). Raises the Butler's own error for an unknown dataset
    type or collection, or a `where` it cannot read."""
    refs: list[DatasetRef] = []
    for dataset_type in dataset_types:
        refs.extend(butler.query_datasets(dataset_type, collections=list(collections), where=where,
                                          find_first=False, limit=None, explain=False))
    return refs


def selected_at(butler: Butler, dataset_types: Iterable[str], collections: Sequence[str],
                where: str = "") -> list[DatasetRef]:
    """Like `select`, but a dataset type or collection the repository does not have yet holds nothing
    (what a destination shows before anything arrived)."""
    from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError

    present = []
    for collection in collections:
        try:
            butler.collections.get_info(collection)
        except MissingCollectionError:
            continue
        present.append(collection)
    if not present:
        return []
    refs: list[DatasetRef] = []
    for dataset_type in dataset_types:
        try:
            refs.extend(select(butler, [dataset_type], present, where))
        except (MissingCollectionError, MissingDatasetTypeError):
            continue
    return refs


def count_at(repo: str, dataset_types: Iterable[str], collections: Sequence[str], where: str) -> int:
    """How many datasets of `dataset_types` in `collections` matching `where` the Butler at `repo` holds
    (0 for a dataset type or collection it does not have yet). Raises ButlerQueryError."""
    butler = open_butler(repo)
    try:
        return len(selected_at(butler, dataset_types, collections, where))
    except Exception as exc:
        raise ButlerQueryError(f"cannot count {', '.join(dataset_types)} in {', '.join(collections)} at {repo}"
                               f"{' where ' + where if where else ''}: {exc}") from exc
    finally:
        butler.close()


def resident_values(repo: str, dimension: str, where: str = "",
                    datasets: str | Sequence[str] | None = None) -> list[Any]:
    """Sorted distinct values of `dimension` among the data IDs matching `where` at `repo`; with
    `datasets`, only those related to a dataset of those types in any RUN collection there — e.g.
    `resident_values(repo, "patch", "skymap='demo_sites'", datasets="demo_raw")` is the patches the
    site's raws overlap, and `resident_values(repo, "visit", datasets="demo_raw")` the visits it holds
    raws of (a central site that received other sites' visits still answers only its own).
    Raises ButlerQueryError naming the repository and the query."""
    from lsst.daf.butler import CollectionType

    types = [datasets] if isinstance(datasets, str) else list(datasets or ())
    butler = open_butler(repo)
    try:
        runs = list(butler.collections.query("*", CollectionType.RUN)) if types else []
        if types and not runs:
            return []
        with butler.query() as query:
            for dataset_type in types:
                query = query.join_dataset_search(dataset_type, runs)
            rows = query.data_ids([dimension])
            if where:
                rows = rows.where(where)
            return sorted({row[dimension] for row in rows})
    except ButlerQueryError:
        raise
    except Exception as exc:
        what = f" with {', '.join(types)}" if types else ""
        raise ButlerQueryError(f"cannot list the {dimension} values{what} at {repo}"
                               f"{' where ' + where if where else ''}: {exc}") from exc
    finally:
        butler.close()
