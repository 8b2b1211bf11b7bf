"""What every subcommand needs: the repository root (--root or found from here) and campaign names."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import yaml

from ..adapters import pages as page_files
from ..adapters.git.repo import Git, GitError
from ..campaign_spec.load import all_campaign_paths, root_from
from ..campaign_spec.parse import PROFILES_FOLDER
from ..domain.errors import SpecError
from ..domain.problems import did_you_mean
from ..domain.scope import Scope, scope_of
from ..views import pages


def add_site_argument(parser: argparse.ArgumentParser) -> None:
    """`--site`: a runner per facility (see `scope`)."""
    parser.add_argument("--site", default=None, metavar="SITE",
                        help="a runner per facility: launch, follow and ask the Butler of only the runs placed at "
                        "SITE (a profile name of the campaign's sites, e.g. local-frdf, or a facility, e.g. FrDF); "
                        "default $CAMPAIGNOPS_SITE, else every site")


def scope(args: argparse.Namespace) -> Scope:
    """The `--site` of a command, else $CAMPAIGNOPS_SITE: every site when neither is given. A site that no profile
    of campaigns/profiles/ names (as its name or its `site:`) is refused: a misspelt one would follow nothing."""
    job = scope_of(getattr(args, "site", None), os.environ)
    if job.everywhere:
        return job
    known: set[str] = set()
    for path in sorted((root_of(args) / PROFILES_FOLDER).glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # `campaign validate` names a broken profile
        if isinstance(data, dict):
            known |= {str(v) for v in (data.get("name"), data.get("site")) if v}
    if job.site not in known:
        same = [k for k in sorted(known) if k.lower() == job.site.lower()]
        hint = f"; did you mean '{same[0]}'?" if same else did_you_mean(job.site, sorted(known))
        raise SpecError(f"site '{job.site}' (--site or CAMPAIGNOPS_SITE) is not a profile or facility of "
                        f"{PROFILES_FOLDER}/{hint} (known: "
                        f"{', '.join(sorted(known))}): this job would follow nothing")
    return job


def root_of(args: argparse.Namespace) -> Path:
    """The repository root: --root when given, else the nearest directory above here holding campaigns/."""
    return root_from(getattr(args, "root", None))


def changed_paths(root: Path, base: str, head: str) -> list[str] | None:
    """The repository-relative paths that differ between two commits; None (the error said) when the
    diff cannot be had."""
    try:
        diff = Git(root).out("diff", "--name-only", "-z", "--no-renames", base, head, "--")
    except GitError as exc:
        print(f"error: cannot diff {base}..{head}: {exc}. Is the base commit fetched "
              "(actions/checkout with fetch-depth: 0)?", file=sys.stderr)
        return None
    return [p for p in diff.split("\0") if p]


def campaign_names(root: Path, names: list[str], all_: bool) -> list[str]:
    """The names given, or every campaign under campaigns/ (with --all or no names)."""
    if all_ or not names:
        return [p.parent.name for p in all_campaign_paths(root)]
    return names


def operator(args: argparse.Namespace, root: Path) -> str:
    """Who runs a control command: --by, else the GitHub actor of a workflow run, else git's user.name."""
    given = (getattr(args, "by", None) or os.environ.get("GITHUB_ACTOR") or "").strip()
    if given:
        return given
    proc = Git(root).run("config", "user.name", check=False)
    return proc.stdout.strip() or getpass.getuser()


def write_pages(root: Path, held: Iterable[pages.Held] = (), open_issues: Mapping[str, str] | None = None) -> None:
    """Render the status pages once from what the command holds (the rest read from disk), write the changed
    ones through the one writer, and say which."""
    now = datetime.now(UTC)
    model = pages.read_model(root, now, held=held, open_issues=open_issues)
    for path in page_files.write(root, pages.render_all(model), now):
        print(f"  wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
