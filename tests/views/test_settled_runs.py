"""Settled means settled everywhere (issue 18.1): a run an operator accepted, skipped or cancelled reads the same
in its run row, its step's tables, the root page's counts, the site page, `campaign status` and its issue.

Driven as the runner drives it: the in-memory WMS, `campaign reconcile` (failure rules: none, so a failure goes
to review), the operator's command, reconcile again, `campaign notify` into a folder of issues, then the pages
built from what the cycle holds and written by the one writer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaignops.adapters import pages as page_files
from campaignops.adapters.folder_tracker import FolderTracker
from campaignops.domain.states import RunState
from campaignops.engine import controls
from campaignops.engine.notify import open_issue_urls, sync
from campaignops.ledger.records import Ledger
from campaignops.planning.advance import decide
from campaignops.views import pages, summary
from campaignops.views.reading import Standing, read_run
from fakes.engine_site import Site, make_site
from fakes.mermaid import parse_mermaid

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FAILING = "step1/visit2"


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path / "repo")


def write(site: Site, ledger: Ledger, tracker: FolderTracker) -> dict[str, str]:
    """The pages of one cycle, from what it holds; returns each written page's text by path."""
    model = pages.model([pages.Held(site.campaign, ledger, site.plan)], site.root, NOW,
                        open_issues=open_issue_urls(tracker, [site.campaign.name]))
    written = page_files.write(site.root, pages.render_all(model), NOW)
    return {p.relative_to(site.root).as_posix(): p.read_text(encoding="utf-8") for p in written}


def row(page: str, key: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(f"| [`{key}`]"))


def failed_review(site: Site, tracker: FolderTracker) -> Ledger:
    """step1/visit2 fails; reconcile sends it to review (no failure rules); notify opens its issue."""
    site.apply()
    site.wms.finish("step1/visit1", RunState.SUCCEEDED)
    site.wms.finish(FAILING, RunState.FAILED, failed=3)
    ledger = site.reconcile()
    [opened] = sync(site.campaign, ledger, tracker)
    assert "opened" in opened
    return ledger


@pytest.mark.parametrize(("action", "word"), [("accept", "ACCEPTED"), ("skip", "SKIPPED")])
def test_an_accepted_or_skipped_run_reads_settled_on_every_page_hint_and_issue(
        site: Site, tmp_path: Path, action: str, word: str) -> None:
    tracker = FolderTracker(tmp_path / "issues")
    ledger = failed_review(site, tracker)
    before = write(site, ledger, tracker)
    assert "FAILED (no failure rules" in row(before["campaigns/camp/STATUS.md"], FAILING)
    assert "1 run(s) failed" in before["STATUS.md"]

    controls.settle(site.job(), site.plan, site.ledger(), FAILING, action, by="ana", reason="known bad CCD 33")
    ledger = site.reconcile()
    said = sync(site.campaign, ledger, tracker)
    after = write(site, ledger, tracker)

    # the run row, with who and why
    line = row(after["campaigns/camp/STATUS.md"], FAILING)
    assert f"{word} ({action.replace('accept', 'accepted').replace('skip', 'skipped')} by ana at " in line
    assert "known bad CCD 33" in line and "FAILED" not in line.split("|")[2]
    # the root page: counted as settled, not failed; the step table says so
    assert "run(s) failed" not in after["STATUS.md"]
    step1 = next(line for line in after["STATUS.md"].splitlines() if line.startswith("| step1 |"))
    assert step1.split("|")[4].strip() == "0" and step1.split("|")[7].strip() == "1"  # failed 0, settled 1
    assert "██████████ 2/2" in step1
    # the site page lists no failing run
    site_page = after["sites/local.md"]
    assert site_page.split("## Failing runs")[1].split("##")[0].strip() == "None."
    # `campaign status`: no retry hint, the settled run said with who; the step is done
    hints = summary.failures(site.campaign, ledger)
    assert "campaign retry" not in hints and f"{FAILING} attempt 1 {word}" in hints and "ana" in hints
    table = summary.step_table(site.plan, ledger)
    assert "DONE (1 accepted or skipped)" in table.splitlines()[2]
    assert ledger.run("step2/all") is not None, "the next step started"
    # the issue: closed with who and why, said once
    [closed] = said
    assert "closed" in closed and "ana" in closed and "known bad CCD 33" in closed
    [issue] = [i for i in tracker.issues("camp")]
    assert not issue.open
    [comment] = tracker.comments(issue)
    assert "by ana at" in comment and "known bad CCD 33" in comment and "campaign reopen" in comment
    assert sync(site.campaign, site.ledger(), tracker) == []


def test_a_cancelled_run_reads_cancelled_says_what_comes_next_and_its_issue_says_so(
        site: Site, tmp_path: Path) -> None:
    tracker = FolderTracker(tmp_path / "issues")
    failed_review(site, tracker)
    controls.resubmit(site.job(), site.plan, site.ledger(), FAILING, by="bob", reason="disk was full")
    controls.cancel(site.job(), site.plan, site.ledger(), FAILING, by="alice", reason="wrong config")
    ledger = site.status()
    said = sync(site.campaign, ledger, tracker)
    page = write(site, ledger, tracker)

    # the step is not FAILED 0/1 failed 1: it is cancelled, and says what comes next
    table = summary.step_table(site.plan, ledger).splitlines()
    header, step1 = table[0].split(), table[2].split()
    assert "CANCELLED:" in step1 and "FAILED" not in step1
    assert step1[header.index("failed") + 2] == "0" and step1[header.index("cancelled") + 2] == "1"
    hints = summary.failures(site.campaign, ledger)
    assert f"campaign resubmit camp {FAILING}" in hints and "campaign skip" in hints and "alice" in hints
    [waiting] = summary.waiting_notes(decide(site.plan, ledger))
    assert "step1 ended with 1 cancelled group(s)" in waiting and "failed" not in waiting.split(":")[1]
    line = row(page["campaigns/camp/STATUS.md"], FAILING)
    assert "CANCELLED (cancelled by alice at" in line and "wrong config" in line
    assert "1 run(s) cancelled: resubmit or skip them" in page["STATUS.md"]
    assert "run(s) failed" not in page["STATUS.md"]
    mermaid = page["STATUS.md"].split("```mermaid\n")[1].split("```")[0]
    assert parse_mermaid(mermaid)["classes"]["s0"] == "cancelled"
    assert "| camp | `step1/visit2` | CANCELLED |" in page["sites/local.md"]
    # the issue says so once, and stays open: the run still waits for a person
    [commented] = said
    assert "commented" in commented and "cancelled by alice" in commented
    [issue] = tracker.issues("camp")
    assert issue.open
    assert any("cancelled by alice" in c and "campaign resubmit camp" in c for c in tracker.comments(issue))
    assert sync(site.campaign, site.ledger(), tracker) == []


def test_one_function_decides_how_a_run_reads(site: Site, tmp_path: Path) -> None:
    tracker = FolderTracker(tmp_path / "issues")
    ledger = failed_review(site, tracker)
    review = read_run(site.campaign, FAILING, ledger.run(FAILING), ledger)
    assert (review.label, review.standing, review.failed) == ("FAILED", Standing.FAILED, True)
    assert "sent to review" in review.note and review.hint.startswith(f"campaign retry camp {FAILING}")
    ok = read_run(site.campaign, "step1/visit1", ledger.run("step1/visit1"), ledger)
    assert (ok.label, ok.standing, ok.hint) == ("SUCCEEDED", Standing.SUCCEEDED, "")
    # a failure within the step's tolerance reads accepted, as planning/advance lets the next step start
    tolerant = replace(site.campaign, steps=tuple(replace(s, max_failed_fraction=0.5) if s.name == "step1" else s
                                                  for s in site.campaign.steps))
    within = read_run(tolerant, FAILING, ledger.run(FAILING), ledger)
    assert within.label == "ACCEPTED" and within.settled and "within the step's tolerance" in within.note
    assert read_run(site.campaign, "step2/all", None, ledger).standing == Standing.UNSUBMITTED
    # a step the spec no longer has: read from the ledger alone
    assert read_run(site.campaign, "gone/x", ledger.run(FAILING), ledger).standing == Standing.FAILED
