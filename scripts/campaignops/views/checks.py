"""The checks of the output as people read them: the terminal table, the campaign page section, the issue (pure)."""

from __future__ import annotations

from ..domain.checks import EVERY_OUTPUT, PREFLIGHT_SCOPE, fmt
from ..domain.errors import CampaignError
from ..domain.markers import run_marker
from ..domain.model import Campaign, Plan
from ..ledger.records import Ledger
from ..planning.advance import steps_done
from ..planning.checks import CheckStanding, CheckState, campaign_verdict, check_states
from ..planning.plan import make_plan
from .markdown import cell


def _value(state: CheckState) -> str:
    r = state.record
    if r is None or r.value is None:
        return "—"
    if r.kind == "inputs" and r.expected is not None:
        return (f"{fmt(r.value)}/{fmt(r.expected)} data IDs" + (f", {len(r.excluded)} excluded" if r.excluded else "")
                + (f" (frozen in {r.tagged})" if r.tagged else ""))
    if r.kind == "completeness" and r.expected is not None:
        return f"{fmt(r.value * 100)} % ({fmt(round(r.value * r.expected))}/{fmt(r.expected)})"
    return fmt(r.value)


def _previous(state: CheckState) -> str:
    r = state.record
    if r is None or r.previous is None:
        return "—"
    return f"{fmt(r.previous)} ({r.previous_campaign})"


def _verdict(state: CheckState) -> str:
    r = state.record
    if state.standing == CheckStanding.ACCEPTED and state.accepted is not None:
        return f"accepted by {state.accepted.by}: {state.accepted.reason}"
    if state.standing == CheckStanding.DUE and r is not None and r.verdict == "unknown":
        return f"UNKNOWN: {r.why}"
    if state.standing == CheckStanding.FAILED and r is not None:
        return f"FAILED: {r.why}"
    if state.standing == CheckStanding.PASSED:
        every = r is not None and r.why and state.check.dataset_type == EVERY_OUTPUT
        return f"passed — {r.why}" if every and r is not None else "passed"  # `completeness: all`: each type
    return state.standing.value.upper()


def rows(states: list[CheckState]) -> list[tuple[str, str, str, str, str, str]]:
    return [(s.check.ref, s.check.describe(), _value(s), s.check.bounds(), _previous(s), _verdict(s))
            for s in states]


HEADER = ("check", "reads", "value", "bounds", "last instance", "verdict")


def check_table(states: list[CheckState]) -> str:
    """The checks as a terminal table (empty text without checks)."""
    if not states:
        return ""
    table = [HEADER, *rows(states)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table)


def campaign_checks(plan: Plan, ledger: Ledger) -> str:
    """The checks table with the campaign's verdict under it, for `campaign status` and the demo ('' without
    checks)."""
    done = steps_done(plan, ledger)
    states = check_states(plan, ledger, done)
    if not states:
        return ""
    verdict = campaign_verdict(plan, ledger, done)
    finished = bool(done) and all(done.values())
    said = f"{'done, ' if finished and 'failed' in verdict else ''}{verdict}"
    return f"{check_table(states)}\n{plan.campaign.name}: {said}"


def check_section(states: list[CheckState]) -> str:
    """The campaign page's Checks section (markdown; empty without checks)."""
    if not states:
        return ""
    lines = ["## Checks of the output", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows(states)]
    return "\n".join(lines) + "\n"


def page_section(campaign: Campaign, ledger: Ledger) -> list[str]:
    """The campaign page's Checks section as lines ([] without checks, or when the plan cannot be made here)."""
    if not campaign.all_checks():
        return []
    try:
        plan = make_plan(campaign, frozen=dict(ledger.frozen_groups), excluded=ledger.excluded_inputs)
    except CampaignError:
        return []
    done = steps_done(plan, ledger)
    text = check_section(check_states(plan, ledger, done))
    return [*text.splitlines(), "", f"Verdict: {campaign_verdict(plan, ledger, done)}.", "",
            *excluded_lines(ledger)]


EXCLUDED_SHOWN = 20  # excluded data IDs named on the campaign page per check (all of them are in the ledger)


def excluded_lines(ledger: Ledger) -> list[str]:
    """What a preflight with `missing: exclude` left out, when, and the data IDs ([] when nothing was)."""
    lines = []
    for check in ledger.checks:
        if check.kind == "inputs" and check.excluded:
            more = len(check.excluded) - EXCLUDED_SHOWN
            lines.append(f"Excluded by `{check.ref}` at {check.at} ({len(check.excluded)} data IDs without the "
                         "input; the runs reading the inputs leave them out): "
                         + ", ".join(f"`{i}`" for i in check.excluded[:EXCLUDED_SHOWN])
                         + (f" and {more} more (the ledger's checks)" if more > 0 else "") + ".")
    return [*lines, ""] if lines else []


def issue_title(campaign: Campaign, state: CheckState) -> str:
    return f"[{campaign.name}] check {state.check.ref} failed: {state.check.describe()} = {_value(state)}"


def issue_body(campaign: Campaign, state: CheckState, key: str, marker: str) -> str:
    """The issue of a failed check: the value, the bounds and the last instance's value, and what to do."""
    r = state.record
    assert r is not None
    step = state.check.scope
    lines = [run_marker(key), marker,
             f"Check `{state.check.ref}` of campaign `{campaign.name}` failed at {r.at}: {r.why}.", "",
             "| | |", "|---|---|",
             f"| reads | {cell(state.check.describe())} |",
             f"| this instance ({campaign.name}) | {cell(_value(state))} |",
             f"| last instance | {cell(_previous(state))} |",
             f"| bounds | {cell(r.bounds)} |", "",
             (f"Step 1 waits{f' at {state.check.site}' if state.check.site else ''} until every input is there "
              "(checked again each cycle)." if step == PREFLIGHT_SCOPE
              else f"The steps that require `{step}` wait." if step != "campaign"
              else "The campaign is done, checks failed."), "",
             "Look at the output; then either fix the cause and run the step again (`campaign resubmit` / "
             "`campaign rescue`, which makes the check read the new output), or accept the value:", "",
             "```bash", f"campaign accept-check {campaign.name} {state.check.ref} --reason '...'", "```", ""]
    return "\n".join(lines)


__all__ = ["campaign_checks", "check_section", "check_table", "excluded_lines", "issue_body", "issue_title",
           "page_section", "rows"]
