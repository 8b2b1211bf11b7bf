"""What `campaign init` puts in a new control repository: the profiles of the facilities chosen, the shared failure
rules, the workflows and their setup action, the weekly template and a first campaign made from it.

Pure: the files of this project come in through `read` (the package's `campaign_spec/starter_files/`, links to the
repository's own `.github/` and `campaigns/`, so a control repository gets what this one runs), the control
repository's files come out as {path: text}."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..domain.errors import SpecError
from ..domain.wms import WmsKind
from .template import instantiate

# (facility, wms) → the profile of campaigns/profiles/ that describes it.
FACILITY_PROFILES: dict[tuple[str, WmsKind], str] = {
    ("usdf", WmsKind.PANDA): "usdf-panda",
    ("usdf", WmsKind.SLURM): "usdf-s3df",
    ("frdf", WmsKind.PANDA): "frdf-panda",
    ("frdf", WmsKind.SLURM): "frdf-slurm",
    ("ukdf", WmsKind.PANDA): "ukdf-panda",
    ("local", WmsKind.PARSL): "local-parsl",
    ("local", WmsKind.SLURM): "local-slurm",
    ("local", WmsKind.HTCONDOR): "htcondor",
}
# The workflows of a control repository: all of this project's but tests.yml (this project's own test suite).
WORKFLOWS = ("validate.yml", "submit.yml", "status.yml", "retry.yml", "weekly-ci-hsc.yml", "housekeeping.yml")
SETUP_ACTION = ("action.yml", "setup.sh")
TEMPLATE = "ci-hsc-weekly"
PYTHON = "3.12"  # the LSST middleware needs >= 3.12 (this project's .python-version)


@dataclass(frozen=True)
class StarterChoice:
    """What the person running `campaign init` chose."""

    facilities: tuple[str, ...]
    wms: WmsKind
    package: str  # the pip requirement of campaignops the jobs install
    stack: str  # the first campaign's stack tag
    day: dt.date


def profiles_for(facilities: tuple[str, ...], wms: WmsKind) -> list[str]:
    """The profile of each facility for `wms`; a combination no profile describes is refused with the ones
    that exist."""
    if not facilities:
        raise SpecError("no facility chosen: give --facility, e.g. --facility usdf or --facility usdf,frdf,ukdf")
    names, missing = [], []
    for facility in facilities:
        name = FACILITY_PROFILES.get((facility, wms))
        if name is None:
            missing.append(facility)
        elif name not in names:
            names.append(name)
    if missing:
        known = ", ".join(f"{f} --wms {w}" for f, w in sorted(FACILITY_PROFILES))
        raise SpecError(f"no {wms} profile for {', '.join(missing)}: the facilities and WMSs with a profile are "
                        f"{known}; choose one of them (or add a profile under campaigns/profiles/ afterwards)")
    return names


def runner_requirement(package: str, extra: str = "lsst") -> str:
    """`package` with an extra: `campaignops @ git+…` → `campaignops[lsst] @ git+…`, `campaignops==1.0` →
    `campaignops[lsst]==1.0`."""
    match = re.match(r"^\s*([A-Za-z0-9._-]+)(\[[^\]]*\])?(.*)$", package)
    if not match:
        return package
    name, extras, rest = match.groups()
    have = [e.strip() for e in (extras or "[]")[1:-1].split(",") if e.strip()]
    return f"{name}[{','.join([*have, extra] if extra not in have else have)}]{rest}"


def _requirements(package: str) -> str:
    return ("# campaignops for the GitHub-hosted jobs (validate.yml: `pip install -r requirements.txt`). The runner's\n"
            "# CAMPAIGNOPS_VENV installs the same with the LSST middleware it pins (README.md, step 4):\n"
            f"#   pip install '{runner_requirement(package)}'\n"
            "# Upgrading campaignops is a pull request changing this line (and the runner's venv after it).\n"
            f"{package}\n")


def first_campaign(template_text: str, profile: str, stack: str, day: dt.date) -> tuple[str, str, str]:
    """(template text on `profile`, name, campaign.yaml text) of the first instance of the weekly template."""
    text, count = re.subn(r"(?m)^profile: *\S+", f"profile: {profile}", template_text, count=1)
    if count != 1:
        raise SpecError(f"campaigns/templates/{TEMPLATE}.yaml has no top-level `profile:` line to set to {profile}")
    name, campaign = instantiate(text, TEMPLATE, stack, day)
    return text, name, campaign


def control_files(choice: StarterChoice, read: Callable[[str], str]) -> tuple[dict[str, str], str, list[str]]:
    """({path: text} of the control repository but its README, the first campaign's name, the profiles).
    `read(path)` gives the text of a file of `campaign_spec/starter_files/`."""
    profiles = profiles_for(choice.facilities, choice.wms)
    files: dict[str, str] = {}
    for workflow in WORKFLOWS:
        files[f".github/workflows/{workflow}"] = read(f"workflows/{workflow}")
    for name in SETUP_ACTION:
        files[f".github/actions/setup-campaignops/{name}"] = read(f"setup-campaignops/{name}")
    for profile in profiles:
        files[f"campaigns/profiles/{profile}.yaml"] = read(f"profiles/{profile}.yaml")
    files["campaigns/rules.yaml"] = read("rules.yaml")
    template, name, campaign = first_campaign(read(f"templates/{TEMPLATE}.yaml"), profiles[0], choice.stack,
                                              choice.day)
    files[f"campaigns/templates/{TEMPLATE}.yaml"] = template
    files[f"campaigns/{name}/campaign.yaml"] = campaign
    files["requirements.txt"] = _requirements(choice.package)
    files[".python-version"] = PYTHON + "\n"
    files[".gitignore"] = "# campaign never writes here but through its commands; keep editors' files out\n" \
                          "__pycache__/\n.venv/\n"
    return files, name, profiles


__all__ = ["FACILITY_PROFILES", "WORKFLOWS", "StarterChoice", "control_files", "first_campaign", "profiles_for",
           "runner_requirement"]
