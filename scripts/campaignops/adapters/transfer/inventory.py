"""What a transfer moves: the datasets of some types in RUN collections matching a `where`, their files,
how many of them a Butler holds (shared by the Butler-to-Butler and Rucio adapters), and which visits or
patches a site's Butler holds (`resident_values`).

A `where` may name visits or detectors without the instrument when the repository knows one instrument
(`open_butler` makes it the default data ID, as `pipetask` would infer it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...domain.errors import ButlerQueryError

if TYPE_CHECKING:
    from lsst.daf.butler import Butler, DatasetRef
    from lsst.resources import ResourcePath


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


def select(butler: Butler, dataset_types: Sequence[str], collections: Sequence[str],
           where: str) -> list[DatasetRef]:
    """Every dataset of `dataset_types` in `collections` matching `where`; a type or collection the Butler
    does not know contributes nothing. All of each RUN's datasets, not only the first found."""
    from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError

    known = [c for c in collections if has_collection(butler, c)]
    if not known:
        return []
    refs: list[DatasetRef] = []
    for dataset_type in dataset_types:
        try:
            refs.extend(butler.query_datasets(dataset_type, collections=known, where=where, find_first=False,
                                              limit=None, explain=False))
        except (MissingDatasetTypeError, MissingCollectionError):
            continue
    return refs


def has_collection(butler: Butler, name: str) -> bool:
    """Whether the Butler has a collection of that name (of any type)."""
    from lsst.daf.butler import MissingCollectionError

    try:
        butler.collections.get_info(name)
    except MissingCollectionError:
        return False
    return True


def count_at(repo: str, dataset_types: Sequence[str], collections: Sequence[str], where: str) -> int:
    """How many of those datasets the Butler at `repo` holds (read-only); ButlerQueryError naming the
    repository when it cannot be opened or asked."""
    butler = open_butler(repo)
    try:
        return len(select(butler, dataset_types, collections, where))
    except Exception as exc:
        raise ButlerQueryError(f"cannot count {', '.join(dataset_types)} in {', '.join(collections)} at {repo}"
                               f"{' where ' + where if where else ''}: {exc}") from exc
    finally:
        butler.close()


def chain_at(repo: str, chain: str, runs: Sequence[str], inputs: Sequence[str]) -> None:
    """Put the moved `runs` the Butler at `repo` holds at the front of the CHAINED collection `chain`; a
    chain not there yet is made of them and those of `inputs` the Butler knows. Doing it again changes
    nothing."""
    from lsst.daf.butler import Butler, CollectionType

    with Butler.from_config(repo, writeable=True) as butler:
        held = [run for run in runs if has_collection(butler, run)]
        if not held:
            return
        if butler.collections.register(chain, CollectionType.CHAINED):
            known = [c for c in inputs if c not in held and has_collection(butler, c)]
            butler.collections.redefine_chain(chain, [*held, *known])
        else:
            butler.collections.prepend_chain(chain, held)


def files(butler: Butler, refs: Sequence[DatasetRef]) -> list[tuple[DatasetRef, ResourcePath]]:
    """The files holding `refs`: one per dataset, or one per component when the datastore split it."""
    out: list[tuple[DatasetRef, ResourcePath]] = []
    for ref in refs:
        uris = butler.getURIs(ref)
        if uris.primaryURI is not None:
            out.append((ref, uris.primaryURI))
        out.extend((ref, uri) for _, uri in sorted(uris.componentURIs.items()))
    return out


def resident_values(repo: str, dimension: str, where: str = "",
                    datasets: str | Sequence[str] | None = None) -> list[Any]:
    """Sorted distinct values of `dimension` among the data IDs matching `where` at `repo`; with
    `datasets`, only those related to a dataset of those types in any RUN collection there — e.g.
    `resident_values(repo, "patch", "skymap='demo_sites'", datasets="demo_raw")` is the patches the
    site's raws overlap, and `resident_values(repo, "visit", datasets="demo_raw")` the visits it holds
    raws of (a central site that received other sites' visits still answers only its own).
    Raises ButlerQueryError naming the repository and the query."""
    from lsst.daf.butler import CollectionType

    from ..butler import ButlerDataIds

    types = (datasets,) if isinstance(datasets, str) else tuple(datasets or ())
    butler = open_butler(repo)
    try:
        runs = tuple(butler.collections.query("*", CollectionType.RUN)) if types else ()
    finally:
        butler.close()
    if types and not runs:
        return []
    at = ButlerDataIds(repo)
    try:
        return at.values_with(dimension, where, types, runs)
    finally:
        at.close()
