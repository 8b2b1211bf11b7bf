"""What a pipeline's subsets read and write, from `lsst.pipe.base`: the dataset types a multi-site transfer moves."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..domain.errors import PlanError
from ..domain.model import Campaign
from ..spec.rules import rooted


def _types(pipeline: str, subsets: Iterable[str]) -> tuple[set[str], set[str]]:
    """(inputs, outputs) dataset type names of the tasks of `subsets` (init-inputs and -outputs included)."""
    try:
        from lsst.pipe.base import Pipeline
    except ImportError as exc:  # pragma: no cover - the lsst extra is part of every install that plans sites
        raise PlanError("lsst.pipe.base is not installed: declare the step's `transfer: {dataset_types: …}` "
                        "or `pip install -e '.[lsst]'`") from exc
    try:
        graph = Pipeline.from_uri(f"{pipeline}#{','.join(subsets)}").to_graph()
    except Exception as exc:
        raise PlanError(f"cannot read subsets {', '.join(subsets)} of pipeline {pipeline}: {exc}; declare the "
                        "step's `transfer: {dataset_types: …}` instead") from exc
    inputs: set[str] = set()
    outputs: set[str] = set()
    for node in graph.tasks.values():
        inputs |= {edge.parent_dataset_type_name for edge in (*node.inputs.values(), *node.init.inputs.values())}
        outputs |= {edge.parent_dataset_type_name for edge in (*node.outputs.values(), *node.init.outputs.values())}
    return inputs, outputs


def moved_types(campaign: Campaign, root: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """(step, required step) -> the dataset types the step's subsets read that the required step's subsets
    write, for every step that runs at another site than a step it requires might."""
    pipeline = rooted(campaign.pipeline, root)
    by_step = {s.name: _types(pipeline, s.subsets) for s in campaign.steps if s.requires or
               any(s.name in t.requires for t in campaign.steps)}
    moved = {}
    for step in campaign.steps:
        reads, writes = by_step.get(step.name, (set(), set()))
        for required in step.requires:
            moved[(step.name, required)] = tuple(sorted((reads - writes) & by_step[required][1]))
    return moved
