"""`campaign errors [CAMPAIGN…|--all]`: the error summary of the ledgers — failures grouped by (WMS code or
exception type, task label, site), with quanta and runs, the rule and action, first / last seen and an example
log. Looks only: reads the ledgers, asks no WMS."""

from __future__ import annotations

import argparse
import sys

from ...campaign_spec.load import campaign_path, load_campaign
from ...domain.errors import CampaignError
from ...ledger import store
from ...views.errors import error_groups, errors_markdown, errors_text, occurrences
from ..common import campaign_names, root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign names (default: all)")
    parser.add_argument("--all", action="store_true", help="every campaign under campaigns/, grouped together")
    parser.add_argument("--markdown", action="store_true", help="the table the campaign page shows")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    names = campaign_names(root, args.campaigns, args.all)
    found = []
    for name in names:
        try:
            campaign = load_campaign(campaign_path(name, root), root)
        except CampaignError as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            continue
        assert campaign.path is not None
        ledger = store.load(campaign.path.parent, campaign.name)
        found += list(occurrences(campaign.name, ledger, campaign.profile.site))
    groups = error_groups(found)
    many = len(names) > 1
    print("\n".join(errors_markdown(groups, campaigns=many)) if args.markdown else errors_text(groups, campaigns=many))
    return 0
