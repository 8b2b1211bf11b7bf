"""Raw spec data (a campaign or profile that passed validation) into domain values: the YAML keys and defaults."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..domain.checks import CAMPAIGN_SCOPE, PREFLIGHT_SCOPE, Check, parse_change
from ..domain.model import (
    RESOURCE_KEYS,
    Campaign,
    Profile,
    QueueMap,
    Resources,
    Split,
    Step,
    TransferConfig,
    repo_for,
)
from ..domain.stacks import StackSource
from ..domain.wms import WmsKind
from .rules import is_relative


def resources_from_dict(data: dict[str, Any] | None) -> Resources:
    data = data or {}
    values = tuple((k, data[k]) for k in RESOURCE_KEYS if k in data)
    tasks = tuple(
        (label, tuple((k, spec[k]) for k in RESOURCE_KEYS if k in spec))
        for label, spec in sorted((data.get("tasks") or {}).items())
    )
    return Resources(values, tasks)


def split_from_dict(data: dict[str, Any] | None) -> Split:
    if not data or data.get("by", "none") == "none":
        return Split()
    values = tuple(tuple(v) if isinstance(v, list) else (v,) for v in data.get("values") or ())
    ranges = tuple((r["min"], r["max"], r.get("name")) for r in data.get("ranges") or ())
    return Split(data["by"], data.get("dimension"), values, ranges, data.get("max_size"), data.get("source"),
                 tuple(data.get("datasets") or ()))


def queues_from_dict(data: dict[str, Any] | None) -> QueueMap | None:
    """A profile's `queues:` section, smallest memory first (None when the profile maps no queues)."""
    if not data:
        return None
    rows = tuple(sorted(((q["queue"], int(q["max_memory"])) for q in data["by_memory"]), key=lambda row: row[1]))
    return QueueMap(rows, data.get("final"))


def transfer_from_dict(data: dict[str, Any] | None) -> TransferConfig | None:
    if not data:
        return None
    return TransferConfig(data.get("kind", "butler"), data.get("rse", ""), data.get("scope", ""),
                          data.get("rucio_config", ""), data.get("root", ""))


def stacks_from_dict(data: dict[str, Any] | None) -> StackSource | None:
    """A profile's `stacks:` (a listing directory or explicit tags), None when it names none."""
    if not data:
        return None
    return StackSource(data.get("listing", ""), tuple(data.get("tags") or ()))


PROFILES_FOLDER = "campaigns/profiles"


def profile_repo(repo: str) -> str:
    """A profile's Butler path as the rest of the code takes it: a path relative to the profile file (as written)
    becomes relative to the repository root (as a campaign's is); absolute paths, URIs and $VARIABLE paths are
    left as they are."""
    if not repo or not is_relative(repo):
        return repo
    return os.path.normpath(os.path.join(PROFILES_FOLDER, repo))


def profile_from_dict(data: dict[str, Any]) -> Profile:
    """A profile from its YAML data (already validated); it sits in campaigns/profiles/."""
    return Profile(data["name"], data["description"], data["site"], WmsKind(data["wms"]),
                   data.get("stack_setup", ""), tuple(sorted(data["bps"].items())),
                   monitor=tuple(sorted((data.get("monitor") or {}).items())),
                   queues=queues_from_dict(data.get("queues")),
                   butler_repo=profile_repo((data.get("butler") or {}).get("repo", "")),
                   reaches=tuple((data.get("butler") or {}).get("reaches") or ()),
                   transfer=transfer_from_dict(data.get("transfer")),
                   stacks=stacks_from_dict(data.get("stacks")))


def checks_from_list(scope: str, data: list[dict[str, Any]] | None, *, default_min: float | None = None) -> tuple[Check, ...]:
    """A `checks:` list (validated) as Check values; a completeness check without `min` takes `default_min`."""
    out = []
    for raw in data or ():
        kind = next(k for k in ("count", "completeness", "metric") if k in raw)
        metric = raw["metric"] if kind == "metric" else {}
        change = (raw.get("regression") or {}).get("max_change")
        minimum = raw.get("min", default_min if kind == "completeness" else None)
        out.append(Check(scope, raw["name"], kind, metric["dataset"] if metric else raw[kind],
                         str(metric.get("key", "")), None if minimum is None else float(minimum),
                         None if raw.get("max") is None else float(raw["max"]),
                         None if change is None else parse_change(change), raw.get("reduce", "mean")))
    return tuple(out)


def _step(raw: dict[str, Any], previous: str | None) -> Step:
    # A step without `requires` depends on the one before it (validate's cycle check assumes the same).
    requires = tuple(raw["requires"]) if "requires" in raw else ((previous,) if previous else ())
    tolerated = float((raw.get("acceptance") or {}).get("max_failed_fraction", 0.0))
    clustering = tuple((name, tuple(sorted((k, str(v)) for k, v in spec.items())))
                       for name, spec in sorted((raw.get("clustering") or {}).items()))
    return Step(
        name=raw["name"],
        subsets=tuple(raw["subsets"]),
        requires=requires,
        data_query=raw.get("data_query", ""),
        split=split_from_dict(raw.get("split")),
        resources=resources_from_dict(raw.get("resources")),
        clustering=clustering,
        gate=raw.get("gate", "auto"),
        approved_by=raw.get("approved_by"),
        max_failed_fraction=tolerated,
        bps=tuple(sorted((raw.get("bps") or {}).items())),
        skip=tuple(sorted((raw.get("skip") or {}).items())),
        accept=tuple(sorted((raw.get("accept") or {}).items())),
        supersede=tuple(sorted((raw.get("supersede") or {}).items())),
        site=raw.get("site"),
        transfer_types=tuple((raw.get("transfer") or {}).get("dataset_types") or ()),
        checks=checks_from_list(raw["name"], raw.get("checks"), default_min=1.0 - tolerated),
    )


def campaign_from_dict(data: dict[str, Any], profile: Profile, path: Path | None = None,
                       site_profiles: tuple[Profile, ...] = ()) -> Campaign:
    """A campaign from its YAML data (already validated) and its profiles."""
    steps = []
    previous: str | None = None
    for raw in data["steps"]:
        steps.append(_step(raw, previous))
        previous = raw["name"]
    butler = data["butler"]
    notes = data.get("notifications") or {}
    schedule = data.get("schedule") or {}
    campaign = Campaign(
        name=data["name"],
        description=data["description"],
        operator=data["operator"],
        project=data.get("project", "dev"),
        ticket=data.get("ticket", ""),
        profile=profile,
        stack_tag=data["stack"]["tag"],
        stack_setup=data["stack"].get("setup", ""),
        stack_packages=tuple(data["stack"].get("packages") or ()),
        butler_repo=repo_for(butler["repo"], data["name"], data["stack"]["tag"]),
        inputs=tuple(butler["inputs"]),
        output_pattern=butler["output"],
        pipeline=data["pipeline"],
        data_query=data.get("data_query", ""),
        resources=resources_from_dict(data.get("resources")),
        steps=tuple(steps),
        labels=tuple(notes.get("labels") or ()),
        assignees=tuple(notes.get("assignees") or ()),
        retention=tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                               for k, v in (data.get("retention") or {}).items())),
        schedule_cron=schedule.get("cron"),
        schedule_name=schedule.get("name_pattern"),
        path=path,
        hold=data.get("hold"),
        butler_setup=tuple((butler.get("setup") or {}).get("commands") or ()),
        autopilot=data.get("autopilot", True) is not False,
        confirm_new_rules=data.get("autopilot") == "confirm-new-rules",
        checks=checks_from_list(CAMPAIGN_SCOPE, data.get("checks"), default_min=1.0),
        site_profiles=(profile, *(p for p in site_profiles if p.name != profile.name)) if site_profiles else (),
    )
    return replace(campaign, preflight=preflight_checks(campaign, data.get("preflight")))


def preflight_checks(campaign: Campaign, data: dict[str, Any] | None) -> tuple[Check, ...]:
    """The preflight's checks: one per input dataset type (`preflight/raw`); in a multi-site campaign one per
    type and site that reads the inputs (`preflight/raw@local-frdf`), each read in that site's Butler."""
    if not data:
        return ()
    missing = data.get("missing", "wait")
    if not campaign.multisite:
        return tuple(Check(PREFLIGHT_SCOPE, name, "inputs", name, missing=missing) for name in data["inputs"])
    return tuple(Check(PREFLIGHT_SCOPE, f"{name}@{site}", "inputs", name, site=site, missing=missing)
                 for name in data["inputs"] for site in campaign.input_sites())
