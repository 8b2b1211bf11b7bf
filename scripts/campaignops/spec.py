"""Find campaign files and turn a validated spec plus its profile into a `Campaign`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .model import Campaign, Profile

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
CAMPAIGN_FILE = "campaign.yaml"


class SpecError(Exception):
    """A campaign or profile that cannot be used; `problems` says where and why."""

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@cache
def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return data


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory at or above `start` holding campaigns/."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "campaigns").is_dir():
            return d
    raise SpecError(f"no campaigns/ directory at or above {here}; run from the repository or pass --root")


def campaign_path(arg: str, root: Path) -> Path:
    """`arg` is a campaign name, its folder, or its campaign.yaml."""
    p = Path(arg)
    candidates = [p, p / CAMPAIGN_FILE, root / "campaigns" / arg / CAMPAIGN_FILE]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    known = sorted(d.parent.name for d in (root / "campaigns").glob(f"*/{CAMPAIGN_FILE}"))
    raise SpecError(f"no campaign {arg!r}: expected campaigns/{arg}/{CAMPAIGN_FILE}. "
                    f"Known campaigns: {', '.join(known) or 'none'}")


def all_campaign_paths(root: Path) -> list[Path]:
    return sorted((root / "campaigns").glob(f"*/{CAMPAIGN_FILE}"))


def profile_path(name: str, root: Path) -> Path:
    return root / "campaigns" / "profiles" / f"{name}.yaml"


def load_profile(name: str, root: Path) -> Profile:
    path = profile_path(name, root)
    if not path.is_file():
        known = sorted(p.stem for p in (root / "campaigns" / "profiles").glob("*.yaml"))
        raise SpecError(f"unknown profile {name!r}: no {path.relative_to(root)}; known: {', '.join(known)}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema("profile")).iter_errors(data), key=str)
    if errors:
        raise SpecError(f"{path}: invalid profile: {errors[0].message}")
    return Profile.from_dict(data)


def load_campaign(path: Path, root: Path | None = None) -> Campaign:
    """Load and validate one campaign file; raises SpecError (with located problems) when invalid."""
    from . import validate  # the full checks, with file:line:column

    root = root or find_root(path.parent)
    problems, data = validate.check_file(path, root)
    if problems:
        raise SpecError(f"{path}: {len(problems)} problem(s); run `campaign validate {path}`", problems)
    assert data is not None
    return Campaign.from_dict(data, load_profile(data["profile"], root), path=path.resolve())
