"""The subset and task labels a pipeline YAML defines, following its imports, when it can be read here."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .source import MAX_BYTES

_PIPELINES: dict[tuple[str, int, int], tuple[set[str] | None, tuple[str, str] | None]] = {}


def pipeline_file(location: str, root: Path) -> Path | None:
    """The local file of a pipeline location (variables expanded, relative to the root); None for a URI or an
    unset variable."""
    expanded = os.path.expandvars(location.removeprefix("file://"))
    if "$" in expanded or "://" in expanded:
        return None  # an unset variable or a remote URI: cannot be checked here
    p = Path(expanded)
    return p if p.is_absolute() else root / p


def pipeline_labels(location: str, root: Path) -> tuple[set[str] | None, tuple[str, str] | None]:
    """Subset and task labels of the pipeline at `location`, None when it cannot be reached here.

    The second item is a (message, fix) when the pipeline is there but unusable.
    """
    if "#" in location:
        return None, ("the pipeline must not name subsets after '#'",
                      "drop the '#...' part and list the subsets in each step's subsets:")
    return _labels(location, root, 0)


def _labels(location: str, root: Path, depth: int) -> tuple[set[str] | None, tuple[str, str] | None]:
    path = pipeline_file(location, root)
    if path is None or depth > 10:
        return None, None
    try:
        stat = path.stat()
    except OSError:
        return None, None  # not on this machine (e.g. not set up here): the site will tell
    if not path.is_file():  # a directory or a device (/dev/zero would never end)
        return None, (f"the pipeline {location} is not a file", "point pipeline: at a pipeline YAML file")
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _PIPELINES:
        return _PIPELINES[key]
    result: tuple[set[str] | None, tuple[str, str] | None]
    try:
        if stat.st_size > MAX_BYTES * 8:
            raise ValueError("the file is too large to be a pipeline")
        data = yaml.load(path.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(data, dict):
            raise ValueError("its top level is not a mapping")  # not TypeError: reported like a YAML error
        labels = {str(k) for part in ("tasks", "subsets") if isinstance(data.get(part), dict)
                  for k in data[part]}
        result = (labels, None)
        for entry in data.get("imports") or ():
            where = entry.get("location") if isinstance(entry, dict) else entry
            inner, _ = _labels(str(where), root, depth + 1) if where else (None, None)
            if inner is None:
                result = (None, None)  # an import we cannot follow may define any label
                break
            labels |= inner
    except (OSError, ValueError, yaml.YAMLError, AttributeError, TypeError, RecursionError) as exc:
        result = (None, (f"the pipeline file {location} cannot be read: {exc}",
                         "fix the pipeline file or point pipeline: at the right one"))
    _PIPELINES[key] = result
    return result


_OUTPUTS: dict[tuple[str, int, int], dict[str, tuple[str, ...]] | None] = {}


def pipeline_outputs(location: str, root: Path) -> dict[str, tuple[str, ...]] | None:
    """Dataset type -> the labels of the tasks that write it (each task's `_metadata` and `_log` too), for the
    pipeline at `location`; None when it cannot be read here (not on this machine, lsst.pipe.base not
    installed, a task class that does not import). Read with lsst.pipe.base, once per file version."""
    path = pipeline_file(location.split("#", 1)[0], root)
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        stat = None
    if path is None or stat is None:
        return None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _OUTPUTS:
        _OUTPUTS[key] = _read_outputs(path)
    return _OUTPUTS[key]


def _read_outputs(path: Path) -> dict[str, tuple[str, ...]] | None:
    try:
        from lsst.pipe.base import Pipeline
    except ImportError:
        return None
    try:
        graph = Pipeline.from_uri(str(path)).to_graph()
    except Exception:  # noqa: BLE001 - a task that does not import here: the site will tell
        return None
    out: dict[str, list[str]] = {}
    for node in graph.tasks.values():
        names = [edge.parent_dataset_type_name for edge in node.outputs.values()]
        for name in (*names, f"{node.label}_metadata", f"{node.label}_log"):
            out.setdefault(name, []).append(node.label)
    return {name: tuple(labels) for name, labels in sorted(out.items())}
