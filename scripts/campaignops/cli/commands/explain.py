"""`campaign explain CAMPAIGN STEP/GROUP`: the run's history (every attempt's failure, the rule that matched,
what was decided and done, by which rule or by whom), then which failure rule matches the current failure and
why, and the command that does what it decides. Looks only: nothing is retried (`campaign reconcile` applies
the rules, engine/autopilot.py)."""

from __future__ import annotations

import argparse

from ...campaign_spec.failure_rules import load_rules
from ...campaign_spec.load import campaign_path, load_campaign
from ...domain.errors import CampaignError
from ...ledger import store
from ...planning.failures import Failure, decide
from ...views.failure_history import action_command, history_lines
from ...views.issue import decision_text
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + (
        " Rules come from campaigns/<name>/rules.yaml (tried first) and campaigns/rules.yaml; the first "
        "rule whose every criterion matches decides, an unmatched failure goes to review.")
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("run", metavar="STEP/GROUP", help="the run, as `campaign status` names it (e.g. step1/g0001)")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    campaign = load_campaign(campaign_path(args.campaign, root), root)
    assert campaign.path is not None
    ledger = store.load(campaign.path.parent, campaign.name)
    record = ledger.run(args.run)
    if record is None or record.current is None:
        known = ", ".join(r.key for r in ledger.runs) or "none yet"
        raise CampaignError(f"{campaign.name} has no submitted run {args.run} (runs: {known})")
    current = record.current
    rules = load_rules(root, campaign.path.parent)
    failure = Failure.of(current)
    print(f"{campaign.name} {record.key}: attempt {current.number} ({current.kind}) is {current.state.value}")
    print(f"  failed tasks: {', '.join(f'{t} ({n})' for t, n in current.failed_tasks()) or 'none recorded'}")
    print(f"  exit codes: {', '.join(map(str, failure.exit_codes)) or 'none recorded'}")
    print(f"  error lines: {len(failure.errors)}" + (f", first: {failure.errors[0].strip()[:150]}"
                                                     if failure.errors else ""))
    factors = {r.name: r.factor for r in rules}
    print()
    print("\n".join(history_lines(record, ledger.controls, campaign.name, factors)))
    if current.state.value != "FAILED":
        print("\nthe current attempt has not failed: the rules decide only for a FAILED attempt (earlier "
              "decisions above)")
        return 0
    if not rules:
        print("  no failure rules (campaigns/rules.yaml or campaigns/<name>/rules.yaml): sent to review")
        return 0
    decision, checks = decide(rules, failure, record, campaign)
    print(f"\nrules tried ({len(checks)} of {len(rules)}, in order):")
    for c in checks:
        print(f"  {'MATCH' if c.matched else 'no   '} {c.rule.name} [{c.rule.flavor} -> {c.rule.action}] "
              f"({c.rule.source})")
        for reason in c.reasons:
            print(f"          {reason}")
    print(f"\ndecision: {decision.action} ({decision.flavor}): {decision.text}")
    if current.decision is not None:
        print(f"recorded by reconcile at {current.decision.at}: {decision_text(current.decision)}")
    else:
        command = action_command(decision.action, campaign.name, record.key, factors.get(decision.rule or "", 2.0))
        if decision.action not in ("retry", "more-memory", "rescue", "accept", "hold"):
            print(f"  (nothing automatic: {command})")
        elif not campaign.autopilot:
            print(f"  (autopilot: false in the spec: the rules do not act; `{command}` does it)")
        else:
            print(f"  (not decided yet: the runner's `campaign reconcile` records and acts on it; `{command}` "
                  "does it now)")
    return 0
