"""`campaign validate [PATH...]`: check specs and print located problems; exit 1 if there are any."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...domain.errors import SpecError
from ...domain.problems import FORMATTERS
from ...spec import validate
from ...spec.source import display_name
from ...workspace import recorded_drift
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="spec files, or directories searched for campaign.yaml (default: every "
                             "campaigns/*/campaign.yaml, campaigns/profiles/*.yaml and "
                             "campaigns/templates/*.yaml)")
    parser.add_argument("--format", choices=sorted(FORMATTERS), default="text",
                        help="text (default), github (workflow annotations) or json")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    if args.paths:
        files, problems = validate.expand([Path(p) for p in args.paths], root)
    else:
        if not (root / "campaigns").is_dir():
            raise SpecError(f"no campaigns/ directory in {root}; "
                                 "pass the files to check, or the right --root")
        files, problems = validate.default_paths(root), []
    for path in files:
        found = validate.check_file(path, root)[0]
        if not found and validate.kind_of(display_name(path, root)) == "campaign":
            # Once runs are recorded, the spec must not silently disagree with the ledger.
            found = recorded_drift(path, root)
        problems.extend(found)
    sys.stdout.write(FORMATTERS[args.format](problems, len(files)))
    return 1 if problems else 0
