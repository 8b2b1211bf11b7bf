"""What a transfer moves: the datasets of some types in RUN collections matching a `where`, their files,
and how many of them a Butler holds (shared by the Butler-to-Butler and Rucio adapters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lsst.daf.butler import Butler, DatasetRef
    from lsst.resources import ResourcePath


def select(butler: Butler, dataset_types: Sequence[str], collections: Sequence[str],
           where: str) -> list[DatasetRef]:
    """Every dataset of `dataset_types` in `collections` matching `where`; a type or collection the Butler
    does not know contributes nothing. All of each RUN's datasets, not only the first found."""
    from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError

    known = [c for c in collections if _has_collection(butler, c)]
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


def _has_collection(butler: Butler, name: str) -> bool:
    from lsst.daf.butler import MissingCollectionError

    try:
        butler.collections.get_info(name)
    except MissingCollectionError:
        return False
    return True


def count_at(repo: str, dataset_types: Sequence[str], collections: Sequence[str], where: str) -> int:
    """How many of those datasets the Butler at `repo` holds (read-only)."""
    from lsst.daf.butler import Butler

    with Butler.from_config(repo) as butler:
        return len(select(butler, dataset_types, collections, where))


def chain_at(repo: str, chain: str, runs: Sequence[str], inputs: Sequence[str]) -> None:
    """Put the moved `runs` the Butler at `repo` holds at the front of the CHAINED collection `chain`; a
    chain not there yet is made of them and those of `inputs` the Butler knows. Doing it again changes
    nothing."""
    from lsst.daf.butler import Butler, CollectionType

    with Butler.from_config(repo, writeable=True) as butler:
        held = [run for run in runs if _has_collection(butler, run)]
        if not held:
            return
        if butler.collections.register(chain, CollectionType.CHAINED):
            known = [c for c in inputs if c not in held and _has_collection(butler, c)]
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
