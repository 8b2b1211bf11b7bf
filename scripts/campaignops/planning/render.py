"""One BPS submit YAML per run and attempt: pure, byte-identical for the same campaign, run and attempt."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..campaign_spec import rules
from ..domain.errors import RenderError
from ..domain.model import (
    RESOURCE_KEYS,
    Campaign,
    Plan,
    PlannedRun,
    QueueMap,
    developer_setup,
)
from .memory import MemoryRequests, memory_requests

DIMENSION_CLUSTERING = "lsst.ctrl.bps.quantum_clustering_funcs.dimension_clustering"

# Top-level keys in the order a reader looks for them; anything else follows, sorted.
_KEY_ORDER = ("includeConfigs", "LSST_VERSION", "custom_lsst_setup", "pipelineYaml", "project", "campaign", "operator",
              "wmsServiceClass", "payload", *RESOURCE_KEYS, "queue", "pipetask", "clusterAlgorithm", "cluster",
              "extraQgraphOptions")

class _Quoted(str):
    """A string value: always emitted double-quoted, so every character round-trips exactly."""


class _PyDumper(yaml.SafeDumper):
    pass


# libyaml's emitter is ~30x faster on long data queries; the tests check both give the same bytes.
_CDumper: type[Any] | None = None
if yaml.__with_libyaml__:
    class _LibyamlDumper(yaml.CSafeDumper):
        pass

    _CDumper = _LibyamlDumper


def _represent_quoted(dumper: yaml.SafeDumper, value: _Quoted) -> yaml.ScalarNode:
    # Double-quoted YAML escapes what it must (newlines, control and non-ASCII characters) and
    # never resolves to another type: '*x', '&x', '!x', 'yes', '012', '# x', 'a: b' all stay text.
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


for _dumper in (_PyDumper, _CDumper):
    if _dumper is not None:
        _dumper.add_representer(_Quoted, _represent_quoted)


def _quoted(value: Any) -> Any:
    """`value` with every string (not mapping key) marked for double quotes."""
    if isinstance(value, str):
        return _Quoted(value)
    if isinstance(value, Mapping):
        return {k: _quoted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_quoted(v) for v in value]
    return value


def dump(data: Mapping[str, Any], *, pure_python: bool = False) -> str:
    """YAML text of `data`, keys in the given order, no line folding."""
    dumper = _PyDumper if pure_python or _CDumper is None else _CDumper
    text: str = yaml.dump(_quoted(data), Dumper=dumper, sort_keys=False, default_flow_style=False,
                          allow_unicode=False, width=2**30, indent=2)
    return text


def config_hash(text: str) -> str:
    """A short fingerprint of a rendered config (recorded in the ledger with each attempt)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# Fingerprints render against this root, so a checkout's path (runner, laptop, CI) changes nothing.
_FINGERPRINT_ROOT = Path("/repository-root")


def spec_fingerprint(campaign: Campaign, run: PlannedRun) -> str:
    """What the spec says of a run, as a fingerprint: the hash of its first attempt's submit config,
    rendered against a fixed root. The same on every machine; it changes when anything bps would see does."""
    return config_hash(render_run(campaign, run, 1, root=_FINGERPRINT_ROOT))


def output_run(campaign: Campaign, run: PlannedRun, attempt: int) -> str:
    """The RUN collection of one attempt: unique per attempt, so a resubmission never collides."""
    if attempt < 1:
        raise RenderError(f"attempt numbers start at 1, got {attempt}")
    return f"{campaign.output}/{run.step}/{run.group}/a{attempt:02d}"


# ---- assertions: validation refuses all of these first (spec/rules.py is their one home) -------------

def _assert(where: str, what: str, problem: str | None) -> None:
    if problem is not None:
        raise RenderError(f"{where}: {what} {problem}. `campaign validate` should have refused this: "
                          "please report it")


# ---- assembling the config -----------------------------------------------------------------------

def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, sections merged key by key (the way BPS merges included configs)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _root(campaign: Campaign, root: Path | None) -> Path | None:
    """The repository root: given, or the one the campaign file sits in (campaigns/<name>/campaign.yaml)."""
    if root is None and campaign.path is not None and campaign.path.parent.parent.name == "campaigns":
        return campaign.path.parent.parent.parent
    return root


def _ordered(data: Mapping[str, Any]) -> dict[str, Any]:
    first = [k for k in _KEY_ORDER if k in data]
    return {k: data[k] for k in [*first, *sorted(k for k in data if k not in _KEY_ORDER)]}


def queue_keys(campaign: Campaign, queues: QueueMap, requests: MemoryRequests, labels: Iterable[str],
               clustering: tuple[tuple[str, tuple[tuple[str, str], ...]], ...], memory_multiplier: float = 1.0,
               where: str = "", site: str = "") -> dict[str, Any]:
    """BPS `queue` keys putting every job on the smallest queue of the profile that holds its memory
    (`requests` already scaled by `memory_multiplier`, which only words the refusal); `labels`: the tasks
    with resources of their own in the spec, each given its queue."""
    where = where or f"campaign {campaign.name}"
    profile = campaign.site_profile(site)
    default = requests.default
    memory = {label: requests.of(label) for label in sorted({*labels, *requests.tasks})}

    def fitting(what: str, mb: float) -> str:
        queue = queues.queue_for(mb)
        if queue is not None:
            return queue
        largest, limit = queues.largest
        held = f"the largest queue of profile {profile.name}, {largest}, holds {limit} MB"
        if memory_multiplier != 1.0:
            raise RenderError(f"{where}: memory ×{memory_multiplier:g} asks {mb:g} MB for {what}, but {held}; "
                              "retry with a smaller --memory-multiplier, or rescue the run with a campaign "
                              "change that needs less memory per job")
        _assert(where, f"{what}'s memory", f"({mb:g} MB) fits no queue: {held}")
        return largest  # not reached: _assert raised

    out: dict[str, Any] = {"queue": fitting("the run's jobs", default)}
    tasks = {label: {"queue": fitting(f"task {label}", mb)} for label, mb in memory.items()}
    if tasks:
        out["pipetask"] = tasks
    clusters = {}
    for name, spec in clustering:
        labels = [s.strip() for s in dict(spec).get("pipetasks", "").split(",") if s.strip()]
        # bps requires one queue for every quantum of a cluster: the queue of its most demanding task.
        most = max((memory.get(label, default) for label in labels), default=default)
        clusters[name] = {"queue": fitting(f"cluster {name}", most)}
    if clusters:
        out["cluster"] = clusters
    if queues.final:
        out["finalJob"] = {"queue": queues.final}
    return out


def submit_config(campaign: Campaign, run: PlannedRun, attempt: int, *, root: Path | None = None,
                  memory_multiplier: float = 1.0, rescue_from: Iterable[str] = (),
                  memory: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The submit config of one attempt of `run`, as a mapping in output order. `memory`: per task label, the
    requestMemory (MB) the attempt asks instead (after the multiplier; the attempt's recorded overrides)."""
    where = f"campaign {campaign.name}, run {run.key}"
    if run.pending:
        raise RenderError(f"{where}: the step's groups are decided by a Butler query at first apply; "
                          "there is nothing to render until then")
    if memory_multiplier <= 0:
        raise RenderError(f"{where}: memory multiplier must be positive, got {memory_multiplier}")
    step = campaign.step(run.step)
    rescue = tuple(dict.fromkeys(rescue_from))
    top = _root(campaign, root)

    _assert(where, "data query", rules.query_problem(run.data_query))
    # A pipeline outside the repository may be found by bps relative to where it runs.
    pipeline = rules.rooted(campaign.pipeline, top) if top is not None else campaign.pipeline
    _assert(where, "pipeline", rules.path_problem(pipeline))
    profile = campaign.site_profile(run.site)
    repo = campaign.repo_at(run.site)
    if top is None and rules.is_relative(repo):
        raise RenderError(f"{where}: butler repo {repo!r} is relative to the repository root; pass root")
    butler = rules.rooted(repo, top) if top is not None else repo
    _assert(where, "butler repo", rules.path_problem(butler))
    for name in (*rescue, *campaign.inputs):
        _assert(where, "input collection", rules.collection_problem(name))
    out_run = output_run(campaign, run, attempt)
    _assert(where, "output collection", rules.collection_problem(out_run))
    profile_bps = dict(profile.bps)
    step_bps = dict(step.bps)
    for at, message in (*rules.key_problems(profile_bps), *rules.key_problems(step_bps),
                        *rules.shell_problems(profile_bps), *rules.shell_problems(step_bps)):
        _assert(where, ".".join(map(str, at)), message)
    for key in step_bps:
        _assert(where, "step", rules.reserved_problem(key))

    generated: dict[str, Any] = {}
    if profile.wms.stack_from_env and "LSST_VERSION" not in profile_bps:
        # The PanDA site configs (bps_usdf.yaml …) set the job's stack up from LSST_VERSION, then run
        # custom_lsst_setup: a developer stack's ticket branches go there, so every job sets them up too.
        generated["LSST_VERSION"] = campaign.stack_base
        if campaign.stack_packages:
            generated["custom_lsst_setup"] = developer_setup(campaign.stack_packages)
    generated |= {
        "pipelineYaml": f"{pipeline}#{','.join(run.subsets)}",
        "project": campaign.project,
        "campaign": campaign.name,
        "operator": campaign.operator,
        "payload": {
            "payloadName": f"{campaign.name}-{run.step}-{run.group}",
            "butlerConfig": butler,
            # Not the rescued runs: they are already in the output chain (pipetask put them there), and
            # pipetask wants the inputs to be a contiguous part of that chain ([a01 of step2, step1's runs …,
            # inputs] is not); `--skip-existing-in` (below) is what makes the rescue skip their quanta.
            "inCollection": ",".join(campaign.inputs),
            "dataQuery": run.data_query,
            "output": campaign.output,
            "outputRun": out_run,
        },
    }
    resources = run.resources
    requests = memory_requests(campaign, run.step, run.site, multiplier=memory_multiplier, overrides=memory)
    generated |= dict(resources.values)
    pipetask = {label: dict(values) for label, values in resources.tasks}
    scaled = memory_multiplier != 1.0
    if scaled or "requestMemory" in generated:
        generated["requestMemory"] = requests.default
    if scaled and "requestMemoryMax" in generated:
        generated["requestMemoryMax"] = round(generated["requestMemoryMax"] * memory_multiplier)
    for label, mb in requests.tasks.items():
        # The tasks the spec sizes, those a failure rule raised, and — when the attempt scales memory —
        # those the profile sizes (else they would keep the profile's unscaled value).
        if scaled or label in (memory or {}) or "requestMemory" in pipetask.get(label, {}):
            pipetask.setdefault(label, {})["requestMemory"] = mb
        if scaled and "requestMemoryMax" in pipetask.get(label, {}):
            pipetask[label]["requestMemoryMax"] = round(pipetask[label]["requestMemoryMax"] * memory_multiplier)
    for label in pipetask:
        _assert(where, "task label", rules.label_problem(label))
    if pipetask:
        generated["pipetask"] = {label: pipetask[label] for label in sorted(pipetask)}
    if step.clustering:
        for name, _ in step.clustering:
            _assert(where, "cluster name", rules.label_problem(name))
        generated["clusterAlgorithm"] = DIMENSION_CLUSTERING
        generated["cluster"] = {name: dict(spec) for name, spec in step.clustering}

    queues = profile.queues
    if queues is not None:
        generated = _merge(generated, queue_keys(campaign, queues, requests, [label for label, _ in resources.tasks],
                                                 step.clustering, memory_multiplier, where, run.site))

    config = _merge(_merge(profile_bps, generated), step_bps)
    if rescue:
        # Quanta whose outputs exist in earlier attempts are skipped; those runs are also inputs.
        extra = config.get("extraQgraphOptions")
        skip = f"--skip-existing-in {','.join(rescue)}"
        config["extraQgraphOptions"] = f"{extra} {skip}" if isinstance(extra, str) and extra.strip() else skip
    return _ordered(config)


def render_run(campaign: Campaign, run: PlannedRun, attempt: int, *, root: Path | None = None,
               memory_multiplier: float = 1.0, rescue_from: Iterable[str] = (),
               memory: Mapping[str, int] | None = None) -> str:
    """The BPS submit YAML text of one attempt of `run`."""
    config = submit_config(campaign, run, attempt, root=root, memory_multiplier=memory_multiplier,
                           rescue_from=rescue_from, memory=memory)
    header = (f"# BPS submit config of campaign {campaign.name}, run {run.key}, attempt {attempt}.\n"
              f"# Written by `campaign render` from campaigns/{campaign.name}/campaign.yaml: "
              "change that file, not this one.\n")
    return header + dump(config)


def file_name(run: PlannedRun) -> str:
    return f"{run.step}__{run.group}.yaml"


def render_plan(plan: Plan, out_dir: Path, *, root: Path | None = None) -> list[Path]:
    """Write attempt 1 of every run as <step>__<group>.yaml; runs still waiting for a query are skipped."""
    texts = [(file_name(r), render_run(plan.campaign, r, 1, root=root))
             for r in plan.runs if not r.pending]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts:
        path = out_dir / name
        # Leave an identical file untouched so its timestamp (and make-like tools) see no change.
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
