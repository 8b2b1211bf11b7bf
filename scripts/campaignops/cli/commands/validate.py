"""`campaign validate [PATH...]`: check specs and print located problems; exit 1 if there are any (warnings, what
is wrong on this machine only, are printed and do not fail it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...campaign_spec import validate
from ...campaign_spec.load import root_from
from ...campaign_spec.parse import stacks_from_dict
from ...campaign_spec.source import Document
from ...domain.errors import SpecError
from ...domain.problems import FORMATTERS, Problem
from ...domain.stacks import Published, StackSource
from ...ledger.paths import has_record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="spec files, or directories searched for campaign.yaml (default: every "
                             "campaigns/*/campaign.yaml, campaigns/profiles/*.yaml and "
                             "campaigns/templates/*.yaml)")
    parser.add_argument("--all", action="store_true",
                        help="every campaign, profile and template of the repository (the default without PATH)")
    parser.add_argument("--format", choices=sorted(FORMATTERS), default="text",
                        help="text (default), github (workflow annotations) or json")


def run(args: argparse.Namespace) -> int:
    root = root_from(args.root)  # not cli.common: it imports the pages and git (~0.2 s)
    if args.paths and args.all:
        raise SpecError("give PATH… or --all, not both")
    if args.paths:
        files, problems = validate.expand([Path(p) for p in args.paths], root)
    else:
        if not (root / "campaigns").is_dir():
            raise SpecError(f"no campaigns/ directory in {root}; "
                                 "pass the files to check, or the right --root")
        files, problems = validate.default_paths(root), []
    warnings: list[Problem] = []
    listed: dict[StackSource, Published] = {}  # a site's stack listing, read once for all its campaigns
    for path in files:
        found, doc = validate.check_document(path, root)
        if doc is not None:
            warnings += validate.local_path_warnings(doc, path)
        if not found and doc is not None and validate.kind_of(doc.file) == "campaign":
            # Once runs are recorded, the spec must not silently disagree with the ledger.
            found = _recorded_drift(doc, path, root)
            if not found and doc.data.get("sites"):
                found = _cross_site(doc, path, root)
            if not found and _lists_stacks(doc, root):
                found, unsure = _stacks(doc, path, root, listed)
                warnings += unsure
        problems.extend(found)
    sys.stdout.write(FORMATTERS[args.format](problems, len(files), warnings))
    return 1 if problems else 0


def _cross_site(doc: Document, path: Path, root: Path) -> list[Problem]:
    from ...workspace import cross_site_problems

    return cross_site_problems(doc, path, root)


def _lists_stacks(doc: Document, root: Path) -> bool:
    """Whether a site of the campaign lists its stacks (spares the adapters' import when none does)."""
    names = {doc.data.get("profile"), *(doc.data.get("sites") or ())}
    return any((validate.profile_data(str(name), root) or {}).get("stacks") for name in names if name)


def _stacks(doc: Document, path: Path, root: Path,
            listed: dict[StackSource, Published]) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) about a campaign's stack at its sites: a tag a site's profile lists its stacks without is
    an error at stack.tag; a listing that cannot be read is a warning where the listing's file system is mounted,
    and nothing where it is not (a GitHub-hosted runner has no CVMFS). Only campaigns not yet submitted (no ledger):
    one that ran keeps the stack it ran with. Read from the document and the profiles' data (no campaign is built),
    each listing once per invocation (`listed`)."""
    from ...adapters.stacks import mounted, published
    from ...domain.stacks import base_of, missing

    if has_record(path.parent):
        return [], []
    tag = str((doc.data.get("stack") or {}).get("tag", ""))
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for site in dict.fromkeys(str(s) for s in (doc.data.get("profile"), *(doc.data.get("sites") or ())) if s):
        source = stacks_from_dict((validate.profile_data(site, root) or {}).get("stacks"))
        if source is None:
            continue
        if source not in listed:
            listed[source] = published(source)
        found = listed[source]
        if found.unreadable:
            if mounted(source):
                warnings.append(doc.problem(("stack", "tag"), f"could not check that stack {base_of(tag)} is "
                                            f"published at {site}: {found.where}: {found.unreadable}",
                                            f"check the listing in campaigns/profiles/{site}.yaml"))
            continue
        why = missing(tag, site, found)
        if why is not None:
            errors.append(doc.problem(("stack", "tag"), why, "use a published tag (`campaign new` takes the newest "
                                      "weekly), or wait until the site publishes it"))
    return errors, warnings


def _recorded_drift(doc: Document, path: Path, root: Path) -> list[Problem]:
    if not has_record(path.parent):
        return []  # most campaigns of a pull request: spare the import of every adapter (~0.1 s)
    from ...workspace import recorded_drift

    return recorded_drift(doc, path, root)
