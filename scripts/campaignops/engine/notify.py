"""One failure issue per failing run, opened, updated and closed from the ledger (through a `Tracker`)."""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.markers import (
    LABEL,
    acted_marker,
    attempt_marker,
    cancelled_marker,
    check_marker,
    duplicate_marker,
    run_key,
    settled_marker,
    success_marker,
)
from ..domain.model import Campaign, Plan
from ..domain.scope import EVERY_SITE, Scope
from ..domain.states import RunState, TransferState
from ..ledger.records import Ledger, RunRecord
from ..planning.advance import steps_done
from ..planning.checks import CheckStanding, check_states
from ..ports import Issue, Tracker
from ..views import checks as checks_view
from ..views import transfer_issue
from ..views.issue import (
    DEFAULT_RETRY_HINT,
    acted,
    acted_comment,
    comment_body,
    issue_body,
    reported_attempt,
    title_for,
)
from ..views.reading import RunReading, Standing, read_run


def _reported(tracker: Tracker, issue: Issue, marker: str) -> bool:
    return marker in issue.body or any(marker in c for c in tracker.comments(issue))


def labels_for(campaign: Campaign) -> list[str]:
    return list(dict.fromkeys([LABEL, f"campaign:{campaign.name}"[:50], *campaign.labels]))


def sync(campaign: Campaign, ledger: Ledger, tracker: Tracker, *,
         retry_hint: str = DEFAULT_RETRY_HINT, plan: Plan | None = None, scope: Scope = EVERY_SITE) -> list[str]:
    """Bring the campaign's failure issues in line with its ledger; returns what was done, for people.

    FAILED or HELD current attempt, or a failed attempt the failure rules retried: open an issue, or comment
    once per attempt on the open one.
    SUCCEEDED with an open issue: comment and close. Accepted or skipped by an operator (or a failure rule): the
    open issue is closed with who and why, and none is opened. Cancelled: the open issue says so (and what comes
    next) and stays open. Anything else (running, UNKNOWN, …): nothing.
    Safe to run any number of times: markers in bodies and comments make every action happen once.
    With the `plan`, the checks of the output too (sync_checks). A runner per facility (`scope`) keeps the
    issues of what is placed at its own site: runs, transfers into it, checks reading its Butler.
    """
    actions: list[str] = []
    known = tracker.issues(campaign.name)
    for record in sorted(ledger.runs, key=lambda r: (r.step, r.group)):
        current = record.current
        if current is None or not scope.follows_run(campaign, record.step, record.group):
            continue
        # The failed attempt the failure rules retried is reported while its successor runs (the issue shows
        # what the rules did); otherwise the current attempt.
        attempt = reported_attempt(record) or current
        key = run_key(campaign.name, record.step, record.group)
        mine = [i for i in known if i.key == key]
        open_issues = [i for i in mine if i.open]
        where = f"{campaign.name} {record.key}"
        for extra in open_issues[1:]:
            # Two open issues for one run: a create whose answer was lost and that GitHub applied
            # late. Keep the oldest, close the newer with a link to it.
            original = open_issues[0]
            marker = duplicate_marker(original.ref)
            if not _reported(tracker, extra, marker):
                tracker.comment(extra, f"{marker}\nDuplicate of {original.name} ({original.url}), opened twice "
                                       "when GitHub answered late. Closing.\n")
            tracker.close(extra)
            actions.append(f"{where}: closed {extra.name} as a duplicate of {original.name} {original.url}")
        open_issues = open_issues[:1]
        reading = read_run(campaign, record.key, record, ledger)
        if reading.control is not None and reading.standing in (Standing.SETTLED, Standing.CANCELLED):
            actions += _settled(tracker, open_issues, record, reading, where)
            continue
        if attempt.state in (RunState.FAILED, RunState.HELD) or attempt.hanging:
            marker = attempt_marker(attempt.number, attempt.state)
            what = ("blocked (held)" if attempt.state == RunState.HELD else
                    "blocked (bps submit hangs)" if attempt.hanging else "failed")
            if open_issues:
                issue = open_issues[0]
                if _reported(tracker, issue, marker):
                    if acted(attempt) and not _reported(tracker, issue, acted_marker(attempt.number)):
                        tracker.comment(issue, acted_comment(record, attempt))
                        actions.append(f"{where}: commented on {issue.name} (failure rules acted on attempt "
                                       f"{attempt.number}) {issue.url}")
                    continue
                tracker.comment(issue, comment_body(campaign, record, attempt, retry_hint=retry_hint))
                actions.append(f"{where}: commented on {issue.name} (attempt {attempt.number} {what}) {issue.url}")
                continue
            # A person closed the issue of this very attempt: respect that, do not reopen noise.
            if any(_reported(tracker, i, marker) for i in mine):
                continue
            issue = tracker.create(key, title_for(campaign.name, record, attempt),
                                   issue_body(campaign, record, attempt, retry_hint=retry_hint),
                                   labels_for(campaign), campaign.assignees)
            known.append(issue)
            actions.append(f"{where}: opened {issue.name} (attempt {attempt.number} {what}) {issue.url}")
        elif attempt.state == RunState.SUCCEEDED and open_issues:
            for issue in open_issues:
                marker = success_marker(attempt.number)
                if not _reported(tracker, issue, marker):
                    tracker.comment(issue, f"{marker}\nRun `{record.key}` succeeded on attempt {attempt.number} "
                                           f"(output run `{attempt.output_run}`). Closing.\n")
                tracker.close(issue)
                actions.append(f"{where}: closed {issue.name} (succeeded on attempt {attempt.number}) {issue.url}")
    return (actions + (sync_transfers(campaign, ledger, tracker, scope) if ledger.transfers else [])
            + (sync_checks(campaign, plan, ledger, tracker, scope) if plan is not None and ledger.checks else []))


def _settled(tracker: Tracker, open_issues: list[Issue], record: RunRecord, reading: RunReading,
             where: str) -> list[str]:
    """The open issue of a run an operator accepted or skipped: say who and why, once, and close it; of a
    cancelled run: say so and what comes next, once, and leave it open (the run still waits for a person)."""
    control = reading.control
    assert control is not None and record.current is not None
    actions = []
    for issue in open_issues:
        if reading.standing == Standing.CANCELLED:
            marker = cancelled_marker(record.current.number)
            if not _reported(tracker, issue, marker):
                tracker.comment(issue, f"{marker}\nAttempt {record.current.number} of `{record.key}` was "
                                       f"{reading.note}.\n\n```bash\n{reading.hint}\n```\n\nThis issue stays open "
                                       "until the run succeeds, or is accepted or skipped.\n")
                actions.append(f"{where}: commented on {issue.name} (cancelled by {control.by}) {issue.url}")
            continue
        marker = settled_marker(control.action, control.at)
        if not _reported(tracker, issue, marker):
            tracker.comment(issue, f"{marker}\nRun `{record.key}` was {reading.note}. Later steps no longer wait "
                                   "for it; `campaign reopen` undoes it. Closing.\n")
        tracker.close(issue)
        actions.append(f"{where}: closed {issue.name} ({reading.label.lower()} by {control.by}: {control.reason}) "
                       f"{issue.url}")
    return actions


def sync_transfers(campaign: Campaign, ledger: Ledger, tracker: Tracker, scope: Scope = EVERY_SITE) -> list[str]:
    """One issue per transfer stage that gave up (FAILED or STUCK after its last attempt), closed once it is DONE.
    Markers make every action happen once."""
    actions: list[str] = []
    known = tracker.issues(campaign.name)
    for record in ledger.transfers:
        if not scope.follows(campaign, record.destination):
            continue  # the destination's runner starts a transfer, and reports it
        key = transfer_issue.issue_key(campaign, record)
        open_issues = [i for i in known if i.key == key and i.open]
        gave_up = record.state in (TransferState.FAILED, TransferState.STUCK) and not record.next_try_at
        marker = attempt_marker(record.attempt)
        if gave_up and not any(_reported(tracker, i, marker) for i in known if i.key == key):
            if open_issues:
                tracker.comment(open_issues[0], transfer_issue.body(campaign, record))
                actions.append(f"{campaign.name} transfer {record.key}: commented on {open_issues[0].name}")
            else:
                issue = tracker.create(key, transfer_issue.title(campaign, record),
                                       transfer_issue.body(campaign, record), labels_for(campaign),
                                       campaign.assignees)
                known.append(issue)
                actions.append(f"{campaign.name} transfer {record.key}: opened {issue.name} {issue.url}")
        elif record.state == TransferState.DONE:
            for issue in open_issues:
                tracker.comment(issue, f"{success_marker(record.attempt)}\nTransfer `{record.key}` done on attempt "
                                       f"{record.attempt}: {record.arrived}/{record.datasets} datasets verified at "
                                       f"{record.destination}. Closing.\n")
                tracker.close(issue)
                actions.append(f"{campaign.name} transfer {record.key}: closed {issue.name}")
    return actions


def check_key(campaign: Campaign, ref: str) -> str:
    """The key a check's issue is found by: `<campaign>/check:<scope>/<name>`."""
    return f"{campaign.name}/check:{ref}"


def sync_checks(campaign: Campaign, plan: Plan, ledger: Ledger, tracker: Tracker,
                scope: Scope = EVERY_SITE) -> list[str]:
    """One issue per failed check (its value, bounds and the last instance's value), commented when a new
    evaluation fails again, closed once it passes or someone accepted it. Markers make every action happen once."""
    actions: list[str] = []
    known = tracker.issues(campaign.name)
    for state in check_states(plan, ledger, steps_done(plan, ledger)):
        record = state.record
        if record is None or not scope.follows(campaign, campaign.check_site(state.check)):
            continue  # a preflight at another site is its runner's; the others the central runner's
        key = check_key(campaign, state.check.ref)
        open_issues = [i for i in known if i.key == key and i.open]
        where = f"{campaign.name} check {state.check.ref}"
        if state.standing == CheckStanding.FAILED:
            marker = check_marker("failed", record.at)
            if any(_reported(tracker, i, marker) for i in known if i.key == key):
                continue
            if open_issues:
                tracker.comment(open_issues[0], checks_view.issue_body(campaign, state, key, marker))
                actions.append(f"{where}: commented on {open_issues[0].name} (failed again) {open_issues[0].url}")
            else:
                issue = tracker.create(key, checks_view.issue_title(campaign, state),
                                       checks_view.issue_body(campaign, state, key, marker), labels_for(campaign),
                                       campaign.assignees)
                known.append(issue)
                actions.append(f"{where}: opened {issue.name} {issue.url}")
        elif state.standing in (CheckStanding.PASSED, CheckStanding.ACCEPTED):
            for issue in open_issues:
                if state.standing == CheckStanding.ACCEPTED and state.accepted is not None:
                    said = f"accepted by {state.accepted.by} at {state.accepted.at}: {state.accepted.reason}"
                else:
                    said = f"passes now: {checks_view.rows([state])[0][2]} (bounds {record.bounds})"
                marker = check_marker(state.standing.value, record.at)
                if not _reported(tracker, issue, marker):
                    tracker.comment(issue, f"{marker}\nCheck `{state.check.ref}` {said}. Closing.\n")
                tracker.close(issue)
                actions.append(f"{where}: closed {issue.name} ({state.standing.value}) {issue.url}")
    return actions


def open_issue_urls(tracker: Tracker, campaigns: Iterable[str]) -> dict[str, str]:
    """run key (campaign/step/group) -> url of its open failure issue, for the status pages."""
    out: dict[str, str] = {}
    for name in campaigns:
        for issue in tracker.issues(name):
            if issue.open:
                out.setdefault(issue.key, issue.url)
    return out
