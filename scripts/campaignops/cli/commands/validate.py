"""`campaign validate [PATH...]`: check specs and print located problems; exit 1 if there are any (warnings, what
is wrong on this machine only, are printed and do not fail it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...campaign_spec import validate
from ...campaign_spec.load import root_from
from ...campaign_spec.source import Document
from ...domain.errors import SpecError
from ...domain.problems import FORMATTERS, Problem
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
                found, unsure = _stacks(doc, path, root)
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


def _stacks(doc: Document, path: Path, root: Path) -> tuple[list[Problem], list[Problem]]:
    from ...workspace import stack_problems

    return stack_problems(doc, path, root)


def _recorded_drift(doc: Document, path: Path, root: Path) -> list[Problem]:
    if not has_record(path.parent):
        return []  # most campaigns of a pull request: spare the import of every adapter (~0.1 s)
    from ...workspace import recorded_drift

    return recorded_drift(doc, path, root)
