"""Find campaign files and profiles, and turn a validated spec plus its profile into a `Campaign`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..domain.errors import SpecError
from ..domain.model import Campaign, Profile
from .parse import campaign_from_dict, profile_from_dict
from .source import Document
from .validate import CAMPAIGN_FILE, check_document


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory at or above `start` holding campaigns/."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "campaigns").is_dir():
            return d
    raise SpecError(f"no campaigns/ directory at or above {here}; run from the repository or pass --root")


def root_from(given: str | Path | None) -> Path:
    """The repository root: the one given (--root), else the one found from the current directory."""
    return Path(given).resolve() if given else find_root()


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
    """The profile `name`, checked by the same code as `campaign validate` (SpecError with locations);
    each profile file is read and checked once per process."""
    path = profile_path(name, root)
    if not path.is_file():
        known = sorted(p.stem for p in (root / "campaigns" / "profiles").glob("*.yaml"))
        raise SpecError(f"unknown profile {name!r}: no {path.relative_to(root)}; known: {', '.join(known)}")
    problems, doc = check_document(path, root)
    if problems:
        raise SpecError(f"{path}: invalid profile: {problems[0].message}; run `campaign validate {path}`",
                        problems)
    assert doc is not None
    return profile_from_dict(doc.data)


def load_campaign(path: Path, root: Path | None = None) -> Campaign:
    """Load and validate one campaign file; raises SpecError (with located problems) when invalid."""
    root = root or find_root(path.parent)
    problems, doc = check_document(path, root)
    if problems:
        raise SpecError(f"{path}: {len(problems)} problem(s); run `campaign validate {path}`", problems)
    assert doc is not None
    return campaign_of(doc, path, root)


def campaign_of(doc: Document, path: Path, root: Path) -> Campaign:
    """The campaign of a document that passed `check_document` (its profiles loaded, each once a process)."""
    sites = tuple(load_profile(name, root) for name in doc.data.get("sites") or ())
    campaign = campaign_from_dict(doc.data, load_profile(doc.data["profile"], root), path=path.resolve(),
                                  site_profiles=sites)
    from .template import template_of  # (ruamel.yaml, which it needs, is not imported by every command)

    with open(path, encoding="utf-8", errors="replace") as f:  # the template line is the first one
        return replace(campaign, template=template_of(f.readline()))
