"""One BPS submit YAML per run and attempt: pure, byte-identical for the same campaign, run and attempt."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .grouping import PENDING_QUERY
from .model import RESOURCE_KEYS, Campaign, Plan, PlannedRun
from .spec import SpecError

DIMENSION_CLUSTERING = "lsst.ctrl.bps.quantum_clustering_funcs.dimension_clustering"

# Keys a step's `bps:` escape hatch may not set: they say what runs and where it writes, and the
# ledger records them from the campaign, so an override would make the record lie.
_RESERVED_STEP_KEYS = frozenset({"pipelineYaml", "project", "campaign", "operator", "payload",
                                 "LSST_VERSION"})

# Top-level keys in the order a reader looks for them; anything else follows, sorted.
_KEY_ORDER = ("includeConfigs", "LSST_VERSION", "pipelineYaml", "project", "campaign", "operator",
              "wmsServiceClass", "payload", *RESOURCE_KEYS, "pipetask", "clusterAlgorithm", "cluster",
              "extraQgraphOptions")

# Collection names and labels go unquoted into pipetask command lines and into dotted BPS keys.
_COLLECTION = re.compile(r"^[A-Za-z0-9_./-]+$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


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


def output_run(campaign: Campaign, run: PlannedRun, attempt: int) -> str:
    """The RUN collection of one attempt: unique per attempt, so a resubmission never collides."""
    if attempt < 1:
        raise SpecError(f"attempt numbers start at 1, got {attempt}")
    return f"{campaign.output}/{run.step}/{run.group}/a{attempt:02d}"


# ---- checks of values that reach a command line ------------------------------------------------

def _check_query(where: str, query: str) -> None:
    # bps builds `pipetask qgraph ... -d "{dataQuery}"` (pipetaskDataQuery in bps_defaults.yaml),
    # formats it with str.format-like placeholders, expands $VARS, then splits it with shlex.split:
    # a " or \ would end or change the quoted argument, {…} would be replaced by another config
    # value (or raise), and $NAME would become an environment variable's value.
    bad = sorted({ch for ch in query if ch in '"\\{}$'})
    if bad:
        raise SpecError(f"{where}: data query {query!r} contains {' '.join(bad)}; bps passes the query to "
                        "pipetask inside double quotes after substituting {placeholders} and $VARIABLES, "
                        "so these characters would change or break it. Use single quotes for strings.")


def _check_path(where: str, what: str, value: str) -> None:
    """A path or URI that bps puts unquoted on a command line; ${VAR} references are allowed."""
    rest = _ENV_REF.sub("", value)
    bad = sorted({ch for ch in rest if ch.isspace() or ch in "\"'\\{}$#`;&|<>"})
    if bad or not value:
        shown = " ".join(repr(ch) for ch in bad)
        raise SpecError(f"{where}: {what} {value!r} contains {shown or 'nothing'}; bps puts it unquoted on "
                        "the pipetask command line: use a plain path or URI (${VAR} references are fine)")


def _check_collection(where: str, what: str, value: str) -> None:
    if not _COLLECTION.match(value):
        raise SpecError(f"{where}: {what} {value!r} is not a collection name "
                        "(letters, digits, '_', '.', '/', '-'): bps passes it unquoted to pipetask")


def _check_keys(where: str, data: Any, path: str = "") -> None:
    """BPS config keys are looked up with '.' as the separator: a dotted key would be unreachable."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(key, str) or not key or "." in key or any(ch.isspace() for ch in key):
                raise SpecError(f"{where}: bps key {path}{key!r} must be a non-empty string without "
                                "'.' or spaces (BPS reads '.' as a section separator)")
            _check_keys(where, value, f"{path}{key}.")
    elif isinstance(data, (list, tuple)):
        for item in data:
            _check_keys(where, item, path)


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


def _butler_config(campaign: Campaign, root: Path | None, where: str) -> str:
    return _rooted(campaign, campaign.butler_repo, root, where, "butler repo")


def _rooted(campaign: Campaign, repo: str, root: Path | None, where: str, what: str, strict: bool = True) -> str:
    """A path relative to the repository root made absolute: bps runs in its own launch directory."""
    if "://" in repo or repo.startswith(("/", "$")):
        return repo
    if root is None and campaign.path is not None and campaign.path.parent.parent.name == "campaigns":
        root = campaign.path.parent.parent.parent
    if root is None and not strict:
        return repo  # e.g. a pipeline that bps finds relative to where it runs
    if root is None:
        raise SpecError(f"{where}: {what} {repo!r} is relative to the repository root; pass root")
    return str(Path(root) / repo)


def _ordered(data: Mapping[str, Any]) -> dict[str, Any]:
    first = [k for k in _KEY_ORDER if k in data]
    return {k: data[k] for k in [*first, *sorted(k for k in data if k not in _KEY_ORDER)]}


def submit_config(campaign: Campaign, run: PlannedRun, attempt: int, *, root: Path | None = None,
                  memory_multiplier: float = 1.0, rescue_from: Iterable[str] = ()) -> dict[str, Any]:
    """The submit config of one attempt of `run`, as a mapping in output order."""
    where = f"campaign {campaign.name}, run {run.key}"
    if run.group == PENDING_QUERY:
        raise SpecError(f"{where}: the step's groups are decided by a Butler query at first apply; "
                        "there is nothing to render until then")
    if memory_multiplier <= 0:
        raise SpecError(f"{where}: memory multiplier must be positive, got {memory_multiplier}")
    step = campaign.step(run.step)
    rescue = tuple(dict.fromkeys(rescue_from))

    _check_query(where, run.data_query)
    pipeline = _rooted(campaign, campaign.pipeline, root, where, "pipeline", strict=False)
    _check_path(where, "pipeline", pipeline)
    butler = _butler_config(campaign, root, where)
    _check_path(where, "butler repo", butler)
    for name in (*rescue, *campaign.inputs):
        _check_collection(where, "input collection", name)
    out_run = output_run(campaign, run, attempt)
    _check_collection(where, "output collection", out_run)
    profile_bps = dict(campaign.profile.bps)
    step_bps = dict(step.bps)
    _check_keys(f"profile {campaign.profile.name}", profile_bps)
    _check_keys(f"{where} (step bps)", step_bps)
    reserved = sorted(_RESERVED_STEP_KEYS & step_bps.keys())
    if reserved:
        raise SpecError(f"{where}: step bps keys {', '.join(reserved)} are set from the campaign; "
                        "change the campaign's fields instead")

    generated: dict[str, Any] = {}
    if campaign.profile.wms == "panda" and "LSST_VERSION" not in profile_bps:
        # The PanDA site configs (bps_usdf.yaml …) set the job's stack up from LSST_VERSION.
        generated["LSST_VERSION"] = campaign.stack_tag
    generated |= {
        "pipelineYaml": f"{pipeline}#{','.join(run.subsets)}",
        "project": campaign.project,
        "campaign": campaign.name,
        "operator": campaign.operator,
        "payload": {
            "payloadName": f"{campaign.name}-{run.step}-{run.group}",
            "butlerConfig": butler,
            "inCollection": ",".join(dict.fromkeys((*rescue, *campaign.inputs))),
            "dataQuery": run.data_query,
            "output": campaign.output,
            "outputRun": out_run,
        },
    }
    resources = run.resources
    if memory_multiplier != 1.0:
        resources = resources.scaled_memory(memory_multiplier)
    generated |= dict(resources.values)
    for label, _ in resources.tasks:
        if not _LABEL.match(label):
            raise SpecError(f"{where}: task label {label!r} is not a pipeline task label")
    if resources.tasks:
        generated["pipetask"] = {label: dict(values) for label, values in resources.tasks}
    if step.clustering:
        for name, _ in step.clustering:
            if not _LABEL.match(name):
                raise SpecError(f"{where}: cluster name {name!r} must be a plain identifier")
        generated["clusterAlgorithm"] = DIMENSION_CLUSTERING
        generated["cluster"] = {name: dict(spec) for name, spec in step.clustering}

    config = _merge(_merge(profile_bps, generated), step_bps)
    if rescue:
        # Quanta whose outputs exist in earlier attempts are skipped; those runs are also inputs.
        extra = config.get("extraQgraphOptions")
        skip = f"--skip-existing-in {','.join(rescue)}"
        config["extraQgraphOptions"] = f"{extra} {skip}" if isinstance(extra, str) and extra.strip() else skip
    return _ordered(config)


def render_run(campaign: Campaign, run: PlannedRun, attempt: int, *, root: Path | None = None,
               memory_multiplier: float = 1.0, rescue_from: Iterable[str] = ()) -> str:
    """The BPS submit YAML text of one attempt of `run`."""
    config = submit_config(campaign, run, attempt, root=root, memory_multiplier=memory_multiplier,
                           rescue_from=rescue_from)
    header = (f"# BPS submit config of campaign {campaign.name}, run {run.key}, attempt {attempt}.\n"
              f"# Written by `campaign render` from campaigns/{campaign.name}/campaign.yaml: "
              "change that file, not this one.\n")
    return header + dump(config)


def file_name(run: PlannedRun) -> str:
    return f"{run.step}__{run.group}.yaml"


def render_plan(plan: Plan, out_dir: Path, *, root: Path | None = None) -> list[Path]:
    """Write attempt 1 of every run as <step>__<group>.yaml; runs still waiting for a query are skipped."""
    texts = [(file_name(r), render_run(plan.campaign, r, 1, root=root))
             for r in plan.runs if r.group != PENDING_QUERY]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts:
        path = out_dir / name
        # Leave an identical file untouched so its timestamp (and make-like tools) see no change.
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
