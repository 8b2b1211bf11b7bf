"""`campaign init DIR`: a control repository ready to push — workflows and their setup action, the shared failure
rules, the profiles of the facilities chosen, the weekly template and a first campaign, a README with the set-up
checklist — as a git repository with its first commit."""

from __future__ import annotations

import argparse
import datetime as dt
from importlib import metadata
from pathlib import Path

from ...adapters.git.repo import Git
from ...campaign_spec.starter import FACILITY_PROFILES, StarterChoice, control_files
from ...campaign_spec.template import weekly_tag
from ...domain.checklist import CHECKLIST
from ...domain.errors import CampaignError
from ...domain.wms import WmsKind
from ...views import starter_readme

STARTER = Path(__file__).resolve().parents[2] / "campaign_spec" / "starter_files"
EXECUTABLE = (".sh",)


class InitError(CampaignError):
    """The control repository cannot be made where asked; the message says what to do."""


def _default_package() -> str:
    try:
        return f"campaignops=={metadata.version('campaignops')}"
    except metadata.PackageNotFoundError:
        return "campaignops"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    facilities = sorted({f for f, _ in FACILITY_PROFILES})
    parser.description = (
        "Make a control repository in DIR, ready to push to GitHub: the workflows (validate, submit, status, retry, "
        "weekly ci_hsc, housekeeping) and their setup action, campaigns/rules.yaml, the profiles of the facilities "
        "you name, the weekly ci_hsc template and a first campaign from it, requirements.txt (the campaignops the "
        "jobs install) and a README whose numbered checklist `campaign doctor --setup` follows. DIR becomes a git "
        "repository with one commit on main. Nothing is pushed and nothing is submitted.")
    parser.epilog = ("Example: campaign init ../rubin-campaigns --facility usdf,frdf,ukdf --wms panda "
                     "--package 'campaignops @ git+https://github.com/ORG/campaignops@v0.1.0'")
    parser.add_argument("dir", metavar="DIR", help="the new repository's folder (made if missing; must be empty "
                                                  "unless --force)")
    parser.add_argument("--facility", default="usdf", metavar="F[,F…]",
                        help=f"the data facilities the campaigns run at, comma-separated: {', '.join(facilities)} "
                             "(default usdf; the first is the first campaign's)")
    parser.add_argument("--wms", default=WmsKind.PANDA.value, choices=[k.value for k in WmsKind],
                        help="the workload manager at those facilities (default panda)")
    parser.add_argument("--package", default=None, metavar="REQUIREMENT",
                        help="the pip requirement of campaignops the jobs install, written to requirements.txt "
                             "(default: this campaignops's version, `campaignops==X.Y.Z`; campaignops is not on "
                             "PyPI, so give a git URL such as 'campaignops @ git+https://github.com/ORG/"
                             "campaignops@TAG')")
    parser.add_argument("--stack", default=None, metavar="TAG",
                        help="the first campaign's stack tag (default: last ISO week's weekly, w_YYYY_WW: a weekly "
                             "is published at the end of its week)")
    parser.add_argument("--force", action="store_true",
                        help="write into a DIR that is not empty (files of the same names are replaced)")


def _target(path: Path, force: bool) -> Path:
    if path.exists() and not path.is_dir():
        raise InitError(f"{path} is a file: give a folder for the new repository")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise InitError(f"{path} is not empty: choose a new folder, or pass --force to write the control "
                        "repository's files into it (files of the same names are replaced)")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def _commit(root: Path, paths: list[str]) -> str:
    """git init (unless already a repository) and one commit of `paths`; what happened, for people."""
    git = Git(root)
    if git.run("rev-parse", "--show-toplevel", check=False).stdout.strip() != str(root):
        git.run("init", "-q", "-b", "main")
    git.run("add", "--", *paths)
    proc = git.run("commit", "-q", "-m", "Control repository made by `campaign init`", check=False)
    if proc.returncode == 0:
        branch = git.out("symbolic-ref", "--short", "HEAD").strip()
        return f"git: one commit on {branch} ({git.out('rev-parse', '--short', 'HEAD').strip()})"
    said = (proc.stderr or proc.stdout).strip().splitlines()
    return (f"git: files added but not committed ({said[-1] if said else 'git commit failed'}); set your identity "
            "(`git config --global user.name …`, `user.email …`) and run `git commit -m 'Control repository'` in "
            f"{root}")


def run(args: argparse.Namespace) -> int:
    facilities = tuple(f.strip().lower() for f in args.facility.split(",") if f.strip())
    day = dt.datetime.now(dt.UTC).date()
    choice = StarterChoice(facilities, WmsKind(args.wms), args.package or _default_package(),
                           args.stack or weekly_tag(day - dt.timedelta(days=7)), day)
    files, campaign, profiles = control_files(choice, lambda p: (STARTER / p).read_text(encoding="utf-8"))
    files["README.md"] = starter_readme.render(choice, campaign, profiles)
    root = _target(Path(args.dir), args.force)
    for rel, text in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if path.suffix in EXECUTABLE:
            path.chmod(0o755)
    print(f"made the control repository {root}: {len(files)} files, profiles {', '.join(profiles)}, first campaign "
          f"{campaign}")
    print(_commit(root, sorted(files)))
    if args.package is None:
        print(f"requirements.txt pins {choice.package}: campaignops is not on PyPI, so point it at the git URL of "
              "your campaignops copy before the first pull request (see README.md)")
    print(f"next: step 1 of {len(CHECKLIST)} in {root / 'README.md'} — {CHECKLIST[0].title}; then run "
          "`campaign doctor --setup` on the runner")
    return 0
