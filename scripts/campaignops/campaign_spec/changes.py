"""Which campaigns a set of changed files touches (a push to main submits exactly those)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from .load import all_campaign_paths

# Written by the bot, not by a reviewer: changing them submits nothing (ledger.yaml: the single-file
# ledger of older campaigns; ledger/: the ledger's folder).
BOT_FILES = frozenset({"ledger.yaml", "STATUS.md", "progress.svg", "profile.yaml"})
BOT_FOLDERS = frozenset({"ledger"})
NOT_CAMPAIGNS = frozenset({"profiles", "templates"})
NULL_SHA = "0" * 40


def changed_campaigns(paths: Iterable[str], profiles: Mapping[str, str]) -> list[str]:
    """Names of campaigns touched by `paths` (repository-relative), given each campaign's profile.

    A campaign counts when a file under campaigns/<name>/ other than the bot's ledger and status
    page changed, or when its profile (campaigns/profiles/<profile>.yaml) changed. Only campaigns
    in `profiles` (those that exist at the head commit) are returned, sorted."""
    names: set[str] = set()
    changed_profiles: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "campaigns":
            continue
        if parts[1] == "profiles" and parts[-1].endswith(".yaml"):
            changed_profiles.add(Path(parts[-1]).stem)
        elif parts[1] not in NOT_CAMPAIGNS and not (len(parts) == 3 and parts[2] in BOT_FILES) \
                and not (len(parts) > 3 and parts[2] in BOT_FOLDERS):
            names.add(parts[1])
    names |= {name for name, profile in profiles.items() if profile in changed_profiles}
    return sorted(n for n in names if n in profiles)


def bot_written(paths: Iterable[str]) -> list[str]:
    """Those of `paths` (repository-relative) that only the bot writes: a campaign's ledger (either
    layout), its status page, progress chart and measured profile. Sorted."""
    found = []
    for path in paths:
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "campaigns" or parts[1] in NOT_CAMPAIGNS:
            continue
        if (len(parts) == 3 and parts[2] in BOT_FILES) or (len(parts) > 3 and parts[2] in BOT_FOLDERS):
            found.append(path)
    return sorted(found)


def campaign_profiles(root: Path) -> dict[str, str]:
    """campaign name -> profile name, read loosely (an invalid campaign still counts as changed)."""
    out: dict[str, str] = {}
    for path in all_campaign_paths(root):
        if path.parent.parent.name != "campaigns" or path.parent.name in NOT_CAMPAIGNS:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            data = None
        profile = data.get("profile") if isinstance(data, dict) else None
        out[path.parent.name] = profile if isinstance(profile, str) else ""
    return out
