"""`campaign demo`: build the demo Butler repository (`init`) or run the demo campaign end to end (`run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...campaign_spec.load import find_root
from ...domain.errors import CampaignError


def _default_root() -> Path:
    try:
        return find_root()
    except CampaignError:  # outside any checkout: the one this package is installed from
        return Path(__file__).resolve().parents[4]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="demo_command", metavar="SUBCOMMAND", required=True)
    init = sub.add_parser(
        "init", help="create the demo Butler repository (fake camera, visits, skymap, raw inputs)",
        description="Create a real Butler repository for the demo campaign: instrument DemoCam with 4 "
        "detectors and bands g, r, 6 visits over skymap demo_rings (tract 0, 4 patches), and demo_raw "
        "inputs in the CHAINED collection DemoCam/defaults.")
    init.add_argument("dir", nargs="?", default=None,
                      help="repository directory (default: .demo/repo under the repository root)")
    init.add_argument("--registry", default=None, metavar="URL",
                      help="PostgreSQL registry, e.g. postgresql://postgres@127.0.0.1:5432/demo "
                      "(the database needs the btree_gist extension); default: SQLite in DIR")
    init.add_argument("--namespace", default=None,
                      help="PostgreSQL schema for the registry (default: campaignops_demo)")
    init.add_argument("--force", action="store_true",
                      help="delete what is in DIR (and the PostgreSQL schema) and rebuild")
    run = sub.add_parser("run", help="build the demo repository and run the demo campaign end to end",
                         description="Build the demo repository and run the demo campaign end to end.")
    from ...demo import run as demo_run  # campaignops.demo.run owns the options of `demo run`

    demo_run.add_arguments(run)


def run(args: argparse.Namespace) -> int:
    if args.demo_command == "run":
        from ...demo import run as demo_run

        return int(demo_run.main(args) or 0)
    from ...demo.repo import DEFAULT_NAMESPACE, build

    root = Path(args.dir) if args.dir else _default_root() / ".demo" / "repo"
    repo = build(root, registry=args.registry, namespace=args.namespace or DEFAULT_NAMESPACE,
                 force=args.force, progress=lambda msg: print(msg, flush=True))
    print(f"butler config: {repo.butler_config}")
    print(f"inputs: {repo.inputs}; visits {', '.join(map(str, repo.visits))}; "
          f"detectors {', '.join(map(str, repo.detectors))}")
    return 0
