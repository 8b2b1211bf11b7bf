"""What a pipeline's subsets read and write, from `lsst.pipe.base` or, where the middleware is not installed, the
campaign's committed pipeline-graph cache (`campaign_spec/graph_cache.py`): the dataset types a multi-site transfer moves."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..campaign_spec import graph_cache
from ..campaign_spec.graph_cache import GraphCache, SubsetTypes
from ..campaign_spec.rules import rooted
from ..domain.errors import PlanError
from ..domain.model import Campaign


def middleware_installed() -> bool:
    try:
        import lsst.pipe.base  # noqa: F401
    except ImportError:
        return False
    return True


def _types(pipeline: str, subset: str) -> tuple[frozenset[str], frozenset[str]]:
    """(inputs, outputs) dataset type names of the tasks of `subset` (init-inputs and -outputs included)."""
    from lsst.pipe.base import Pipeline

    try:
        graph = Pipeline.from_uri(f"{pipeline}#{subset}").to_graph()
    except Exception as exc:
        raise PlanError(f"cannot read subset {subset} of pipeline {pipeline}: {exc}; declare the "
                        "step's `transfer: {dataset_types: …}` instead") from exc
    inputs: set[str] = set()
    outputs: set[str] = set()
    for node in graph.tasks.values():
        inputs |= {edge.parent_dataset_type_name for edge in (*node.inputs.values(), *node.init.inputs.values())}
        outputs |= {edge.parent_dataset_type_name for edge in (*node.outputs.values(), *node.init.outputs.values())}
    return frozenset(inputs), frozenset(outputs)


def _subsets(campaign: Campaign) -> list[str]:
    return sorted({subset for step in campaign.steps for subset in step.subsets})


def read_graph(campaign: Campaign, root: Path) -> GraphCache:
    """Every subset's reads and writes from `lsst.pipe.base` (PlanError when it is not installed)."""
    if not middleware_installed():
        raise PlanError("lsst.pipe.base is not installed: install the middleware (`pip install -e '.[lsst]'`) to "
                        "read the pipeline graph")
    pipeline = rooted(campaign.pipeline, root)
    return GraphCache(campaign.pipeline, graph_cache.pipeline_digest(campaign.pipeline, root), campaign.stack_tag,
                      {subset: _types(pipeline, subset) for subset in _subsets(campaign)})


def write_graph(campaign: Campaign, root: Path) -> tuple[Path, bool]:
    """Write the campaign's pipeline-graph cache from `lsst.pipe.base`; (its path, True when its text changed)."""
    assert campaign.path is not None
    path = graph_cache.cache_path(campaign.path)
    new = graph_cache.text(read_graph(campaign, root), campaign.name)
    try:
        old = path.read_text(encoding="utf-8")
    except OSError:
        old = None
    if old != new:
        path.write_text(new, encoding="utf-8")
    return path, old != new


def committed_graph(campaign: Campaign, root: Path) -> GraphCache:
    """The committed cache when it still describes the campaign's pipeline; else a PlanError saying how to
    write it."""
    assert campaign.path is not None
    path = graph_cache.cache_path(campaign.path)
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    refresh = (f"run `campaign plan {campaign.name} --write-graph` where the middleware is installed and commit "
               f"{shown}, or declare each step's `transfer: {{dataset_types: […]}}`")
    cache = graph_cache.read(path)
    if cache is None:
        raise PlanError(f"lsst.pipe.base is not installed here and {shown} does not exist: {refresh}")
    stale = graph_cache.stale_reason(cache, campaign.pipeline, graph_cache.pipeline_digest(campaign.pipeline, root),
                                     campaign.stack_tag, _subsets(campaign))
    if stale:
        raise PlanError(f"lsst.pipe.base is not installed here and {shown} is stale ({stale}): {refresh}")
    return cache


def step_types(campaign: Campaign, root: Path) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """step -> (dataset types its subsets read, those they write): from the middleware when it is installed
    and can read the pipeline, else from the committed cache (a control repository checked out without the
    pipeline file, e.g. one whose pipeline lives in a package not installed here)."""
    if middleware_installed():
        try:
            graph = read_graph(campaign, root)
        except PlanError as unreadable:
            try:
                graph = committed_graph(campaign, root)
            except PlanError:
                raise unreadable from None
    else:
        graph = committed_graph(campaign, root)
    return {step.name: _union(graph.subsets, step.subsets) for step in campaign.steps}


def _union(subsets: SubsetTypes, names: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    reads: set[str] = set()
    writes: set[str] = set()
    for name in names:
        r, w = subsets[name]
        reads |= r
        writes |= w
    return frozenset(reads), frozenset(writes)


__all__ = ["committed_graph", "middleware_installed", "read_graph", "step_types", "write_graph"]
