"""The committed pipeline-graph cache of a multi-site campaign: what each pipeline subset reads and writes, so a
plan (and its transfers) renders where the middleware is not installed, such as a pull request's check.

`campaigns/<name>/pipeline-graph.yaml` is written by `campaign plan CAMPAIGN --write-graph` where
`lsst.pipe.base` is installed (adapters/pipeline_graph.py) and committed with the campaign. It names the
pipeline it was read from and that file's sha256 (when the file could be read where it was written) and the
stack tag; it is used only while they still hold: a changed pipeline file (or, for a pipeline this machine
cannot read such as `${DRP_PIPE_DIR}/…`, a changed stack tag) makes it stale, and the plan says how to refresh it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..domain.errors import PlanError
from .pipeline import pipeline_file

GRAPH_FILE = "pipeline-graph.yaml"
FILES = (f"campaigns/*/{GRAPH_FILE}",)  # where the cache sits, from the repository root

SubsetTypes = Mapping[str, tuple[frozenset[str], frozenset[str]]]  # subset -> (reads, writes)


@dataclass(frozen=True)
class GraphCache:
    pipeline: str
    sha256: str  # of the pipeline file where it was written ("" when it could not be read there)
    stack: str
    subsets: SubsetTypes


def pipeline_digest(pipeline: str, root: Path) -> str:
    """sha256 of the pipeline file when this machine can read it, else ''."""
    path = pipeline_file(pipeline, root)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else ""
    except OSError:
        return ""


def cache_path(campaign_file: Path) -> Path:
    return campaign_file.parent / GRAPH_FILE


def text(cache: GraphCache, campaign: str) -> str:
    """The file's text: byte-identical for the same graph (sorted)."""
    body = {"pipeline": cache.pipeline, "pipeline_sha256": cache.sha256, "stack": cache.stack,
            "subsets": {name: {"reads": sorted(reads), "writes": sorted(writes)}
                        for name, (reads, writes) in sorted(cache.subsets.items())}}
    return (f"# What the pipeline subsets of {campaign} read and write (lsst.pipe.base), for planning its transfers\n"
            f"# where the middleware is not installed. Written by `campaign plan {campaign} --write-graph`; commit it,\n"
            "# do not edit it by hand.\n" + yaml.safe_dump(body, sort_keys=False, width=120))


def read(path: Path) -> GraphCache | None:
    """The cache at `path` (None when there is none); a damaged one is a PlanError naming the file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the pipeline-graph cache ({exc}); write it again with "
                        "`campaign plan <campaign> --write-graph` where lsst.pipe.base is installed") from exc
    try:
        data = yaml.safe_load(raw)
        subsets = {str(name): (frozenset(map(str, entry["reads"])), frozenset(map(str, entry["writes"])))
                   for name, entry in data["subsets"].items()}
        return GraphCache(str(data["pipeline"]), str(data.get("pipeline_sha256") or ""), str(data.get("stack") or ""),
                          subsets)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise PlanError(f"{path}: the pipeline-graph cache is damaged ({type(exc).__name__}: {exc}); write it "
                        "again with `campaign plan <campaign> --write-graph` where lsst.pipe.base is installed, "
                        "or restore it with `git checkout -- <file>`") from exc


def stale_reason(cache: GraphCache, pipeline: str, digest: str, stack: str, subsets: Iterable[str]) -> str | None:
    """Why `cache` does not describe this campaign's pipeline now (None when it does)."""
    if cache.pipeline != pipeline:
        return f"it was read from pipeline {cache.pipeline}, the campaign now names {pipeline}"
    if digest and cache.sha256 and digest != cache.sha256:
        return f"the pipeline file {pipeline} changed since it was written"
    if not (digest and cache.sha256) and cache.stack != stack:
        return f"it was read with stack {cache.stack}, the campaign now uses {stack}"
    missing = sorted(set(subsets) - set(cache.subsets))
    if missing:
        return f"it has no entry for subset(s) {', '.join(missing)}"
    return None


__all__ = ["FILES", "GRAPH_FILE", "GraphCache", "SubsetTypes", "cache_path", "pipeline_digest", "read",
           "stale_reason", "text"]
