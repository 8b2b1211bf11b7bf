"""STATUS.md pages: what operators and site managers read about running and recent campaigns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.model import Campaign, Profile
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import records, store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.views import pages
from fakes.mermaid import parse_mermaid
from fakes.pages import write_pages

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def profile(site: str) -> Profile:
    return profile_from_dict({"name": f"{site.lower()}-test", "description": f"{site} test profile",
                              "site": site, "wms": "panda", "bps": {"computeSite": site}})


def campaign(name: str, site: str = "USDF", *, gate: str = "auto", approved_by: str | None = None) -> dict[str, Any]:
    step3: dict[str, Any] = {"name": "step3", "subsets": ["step3"], "gate": gate}
    if approved_by:
        step3["approved_by"] = approved_by
    return {
        "name": name, "description": f"{name}: a test campaign", "operator": "lsstsvc1", "profile": "p",
        "stack": {"tag": "w_2026_47"}, "ticket": "DM-12345",
        "butler": {"repo": "/repo/main", "inputs": ["HSC/RC2/defaults"], "output": "HSC/runs/{campaign}"},
        "pipeline": "$DRP_PIPE_DIR/pipelines/HSC/DRP-RC2.yaml",
        "steps": [{"name": "step1", "subsets": ["step1"],
                   "split": {"by": "values", "dimension": "tract", "values": [9615, 9697]}},
                  step3],
    }


def attempt(state: RunState, at: str, number: int = 1, tasks: tuple[TaskCounts, ...] = (),
            errors: tuple[str, ...] = ()) -> Attempt:
    return Attempt(number=number, kind="submit", output_run=f"HSC/runs/x/{at}", config_hash="h",
                   config_path="c.yaml", launch_dir="/launch", submit_dir=f"/submit/{at}", wms_id="42",
                   submitted_at=at, state=state, tasks=tasks, errors=errors,
                   transitions=(Transition(at, state),))


def run(step: str, group: str, *attempts: Attempt) -> RunRecord:
    return RunRecord(step, group, "", attempts)


class Repo:
    """A repository root with campaigns/<name>/{campaign.yaml,ledger/}; specs loaded from dicts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.specs: dict[str, tuple[dict[str, Any], str]] = {}

    def add(self, spec_dict: dict[str, Any], site: str, ledger: Ledger | None = None) -> None:
        d = self.root / "campaigns" / spec_dict["name"]
        d.mkdir(parents=True, exist_ok=True)
        (d / "campaign.yaml").write_text(f"name: {spec_dict['name']}\n")
        self.specs[spec_dict["name"]] = (spec_dict, site)
        if ledger is not None:
            store.save(d, ledger)

    def load(self, path: Path, root: Path) -> Campaign:
        name = path.parent.name
        if name not in self.specs:
            raise spec.SpecError(f"{path}: 2 problem(s); run `campaign validate {path}`")
        data, site = self.specs[name]
        return campaign_from_dict(data, profile(site), path=path)

    def write(self, now: datetime = NOW, **kwargs: Any) -> list[Path]:
        return write_pages(self.root, now, load=self.load, **kwargs)

    def page(self, name: str | None = None) -> str:
        path = self.root / "STATUS.md" if name is None else self.root / "campaigns" / name / "STATUS.md"
        return path.read_text()


@pytest.fixture(params=["with-plan", "ledger-only"])
def repo(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """Pages come out the same whether plan.py can plan the campaign or only the ledger is known."""
    if request.param == "ledger-only":
        from campaignops.domain.errors import PlanError

        def no_plan(*args: Any, **kwargs: Any) -> Any:
            raise PlanError("no Butler here")

        monkeypatch.setattr(pages, "make_plan", no_plan)
    return Repo(tmp_path)


def several(repo: Repo) -> None:
    def ok(at: str) -> Attempt:
        return attempt(RunState.SUCCEEDED, at)

    calib = TaskCounts("calibrate", (("FAILED", 3), ("PENDING", 1), ("RUNNING", 2), ("SUCCEEDED", 10)))
    repo.add(campaign("running-usdf"), "USDF", Ledger("running-usdf", (
        run("step1", "tract9615", ok("2026-11-21T09:00:00+00:00")),
        run("step1", "tract9697", attempt(RunState.RUNNING, "2026-11-21T10:00:00+00:00", tasks=(calib,))))))
    repo.add(campaign("failed-frdf"), "FrDF", Ledger("failed-frdf", (
        run("step1", "tract9615", attempt(RunState.FAILED, "2026-11-19T10:00:00+00:00", tasks=(calib,),
                                          errors=("RuntimeError: PSF failed",))),
        run("step1", "tract9697", ok("2026-11-19T09:00:00+00:00")))))
    repo.add(campaign("old-finished"), "UKDF", Ledger("old-finished", (
        run("step1", "tract9615", ok("2026-09-01T00:00:00+00:00")),
        run("step1", "tract9697", ok("2026-09-01T00:00:00+00:00")),
        run("step3", "all", ok("2026-09-02T00:00:00+00:00")))))
    repo.add(campaign("old-gated", gate="manual"), "USDF", Ledger("old-gated", (
        run("step1", "tract9615", ok("2026-08-01T00:00:00+00:00")),
        run("step1", "tract9697", ok("2026-08-01T00:00:00+00:00")))))
    repo.add(campaign("recent-finished"), "local", Ledger("recent-finished", (
        run("step1", "tract9615", ok("2026-11-15T00:00:00+00:00")),
        run("step1", "tract9697", ok("2026-11-15T00:00:00+00:00")),
        run("step3", "all", ok("2026-11-16T00:00:00+00:00")))))
    repo.add(campaign("never-started"), "USDF")


def test_root_page_lists_running_gated_and_recent_campaigns_only(repo: Repo) -> None:
    several(repo)
    repo.write()
    page = repo.page()
    table = page.split("## Progress per step")[0]

    for shown in ("running-usdf", "failed-frdf", "old-gated", "recent-finished"):
        assert f"| [{shown}](campaigns/{shown}/STATUS.md) |" in table
    assert "old-finished" not in table and "never-started" not in table
    assert "| [running-usdf](campaigns/running-usdf/STATUS.md) | USDF | running step1 | 1/3 | 0 | 1 | " \
           "2026-11-21 10:00 UTC |" in table
    assert "| old-gated | " not in table and "waiting at manual gate: step3" in table
    assert "| recent-finished | local | finished | 3/3 |" in table.replace(
        "[recent-finished](campaigns/recent-finished/STATUS.md)", "recent-finished")
    others = page.split("## Other campaigns")[1]
    assert "- [old-finished](campaigns/old-finished/STATUS.md): finished (last change 2026-09-02 00:00 UTC)" in others
    assert "- [never-started](campaigns/never-started/STATUS.md): not started" in others


def test_root_page_shows_progress_per_step(repo: Repo) -> None:
    several(repo)
    repo.write()
    progress = repo.page().split("## Progress per step")[1].split("## Open failure issues")[0]
    running = progress.split("### [running-usdf]")[1].split("###")[0]
    gated = progress.split("### [old-gated]")[1].split("###")[0]

    assert "| step1 | auto | 1/2 | 0 | 1 | 0 |" in running
    assert "| step3 | auto | 0/1 | 0 | 0 | 0 |" in running
    assert "| step3 ⏸ | manual: needs approval | 0/1 | 0 | 0 | 0 |" in gated
    assert "| step1 | auto | 1/2 | 1 | 0 | 0 |" in progress.split("### [failed-frdf]")[1]


def test_root_page_links_open_failure_issues_and_groups_runs_by_site(repo: Repo) -> None:
    several(repo)
    url = "https://github.com/lsst-dm/campaigns/issues/7"
    repo.write(open_issues={"failed-frdf/step1/tract9615": url, "gone/step1/g0": "https://x/issues/1"})
    page = repo.page()

    issues = page.split("## Open failure issues")[1].split("## By site")[0]
    assert f"| failed-frdf | `step1/tract9615` | [#7]({url}) |" in issues
    assert "gone" not in issues  # a campaign no longer in the repository
    sites = page.split("## By site")[1]
    usdf = sites.split("### [USDF](sites/USDF.md)")[1].split("###")[0]
    frdf = sites.split("### [FrDF](sites/FrDF.md)")[1].split("###")[0]
    assert "| running-usdf | `step1/tract9697` | RUNNING | 1 |" in usdf and "failed-frdf" not in usdf
    assert f"| failed-frdf | `step1/tract9615` | FAILED | 1 | `HSC/runs/x/2026-11-19T10:00:00+00:00` | [#7]({url}) |" in frdf
    assert "Nothing running or failing at local." in sites
    assert "### [UKDF]" not in sites  # only finished-long-ago campaigns there


def test_campaign_page_has_steps_runs_and_per_task_counts(repo: Repo) -> None:
    several(repo)
    repo.write()
    page = repo.page("failed-frdf")

    assert page.startswith("# failed-frdf\n\n_Page last changed: 2026-11-21 12:00 UTC_\n")
    assert "| state | 1 run(s) failed |" in page and "| site | FrDF (profile `frdf-test`, WMS panda) |" in page
    assert "| step1 | auto | 1/2 | 1 | 0 | 0 |" in page
    assert "| [`step1/tract9615`](#step1tract9615) | FAILED | 1 | submit |" in page
    assert "| task | succeeded | failed | running | pending | other |" in page
    assert "| `calibrate` | 10 | 3 | 2 | 1 | 0 |" in page
    assert "```text\nRuntimeError: PSF failed\n```" in page
    assert "- logs (submit directory): `/submit/2026-11-19T10:00:00+00:00`" in page


def test_pages_are_not_rewritten_when_nothing_changed(repo: Repo) -> None:
    several(repo)
    first = repo.write()
    before = {p: p.read_bytes() for p in first}

    assert repo.write(datetime(2026, 11, 21, 12, 30, tzinfo=UTC)) == []
    assert {p: p.read_bytes() for p in first} == before

    # one run changes: its campaign's page, its progress chart, its site's page and the root page change
    d = repo.root / "campaigns" / "running-usdf"
    ledger = store.load(d, "running-usdf")
    record = ledger.run("step1/tract9697")
    assert record is not None and record.current is not None
    store.save(d, ledger.with_run(record.with_attempt(
        records.with_state(record.current, RunState.SUCCEEDED, "2026-11-21T12:40:00+00:00"))))
    later = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)
    assert sorted(repo.write(later)) == sorted([repo.root / "STATUS.md", repo.root / "sites" / "USDF.md",
                                               d / "STATUS.md", d / "progress.svg"])
    assert "_Page last changed: 2026-11-21 13:00 UTC_" in repo.page("running-usdf")
    assert "_Page last changed: 2026-11-21 12:00 UTC_" in repo.page("failed-frdf")


def test_a_finished_campaign_leaves_the_root_page_after_recent_days(repo: Repo) -> None:
    several(repo)
    repo.write()
    assert "[recent-finished](" in repo.page().split("## Progress per step")[0]

    repo.write(datetime(2026, 12, 5, tzinfo=UTC), recent_days=14)
    assert "[recent-finished](" not in repo.page().split("## Other campaigns")[0]


def test_invalid_campaigns_are_mentioned_and_the_others_still_written(repo: Repo) -> None:
    several(repo)
    broken = repo.root / "campaigns" / "broken"
    broken.mkdir()
    (broken / "campaign.yaml").write_text("name: [\n")

    changed = repo.write()

    assert repo.root / "campaigns" / "running-usdf" / "STATUS.md" in changed
    assert "## Campaigns that could not be read" in repo.page()
    assert "- `campaigns/broken/campaign.yaml`: campaigns/broken/campaign.yaml: 2 problem(s); run " \
           "`campaign validate campaigns/broken/campaign.yaml`" in repo.page()
    assert str(repo.root) not in repo.page()


def test_an_approved_gate_is_not_waiting(repo: Repo) -> None:
    repo.add(campaign("approved", gate="manual", approved_by="pilot1"), "USDF", Ledger("approved", (
        run("step1", "tract9615", attempt(RunState.SUCCEEDED, "2026-08-01T00:00:00+00:00")),
        run("step1", "tract9697", attempt(RunState.SUCCEEDED, "2026-08-01T00:00:00+00:00")))))
    repo.write()

    assert "| step3 | manual, approved by pilot1 | 0/" in repo.page("approved")
    assert "waiting at manual gate" not in repo.page()


def test_an_empty_repository_gets_a_short_page(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    write_pages(tmp_path, NOW)
    assert "No campaign is running or changed recently." in (tmp_path / "STATUS.md").read_text()


def test_pages_show_a_flowchart_bars_and_the_chart_of_campaigns_that_run_or_fail(repo: Repo) -> None:
    several(repo)
    changed = repo.write()
    campaigns = repo.root / "campaigns"
    charts = sorted(p.parent.name for p in changed if p.name == "progress.svg")
    assert charts == ["failed-frdf", "running-usdf"]  # finished and unstarted campaigns get none

    page = repo.page("running-usdf")
    mermaid = page.split("```mermaid\n")[1].split("```")[0]
    parsed = parse_mermaid(mermaid)
    assert parsed["classes"] == {"s0": "running", "s1": "waiting"}
    assert parsed["edges"] == [("s0", "s1")]
    assert "![quanta done over time: running-usdf](progress.svg)" in page
    assert "| step1 | auto | 1/2 | 0 | 1 | 0 | 0 | 0 | █████░░░░░ 1/2 |" in page
    assert "progress.svg" not in repo.page("old-finished")

    root = repo.page()
    running = root.split("### [running-usdf]")[1].split("###")[0]
    assert "![quanta done over time: running-usdf](campaigns/running-usdf/progress.svg)" in running
    assert parse_mermaid(running.split("```mermaid\n")[1].split("```")[0])["classes"] == {"s0": "running",
                                                                                          "s1": "waiting"}
    svg = (campaigns / "running-usdf" / "progress.svg").read_text()
    assert "running-usdf: quanta done" in svg and "quanta known: 16" in svg


def test_the_campaign_page_shows_the_recorded_profile_and_survives_a_damaged_one(repo: Repo) -> None:
    from campaignops.planning.profile import Stats, TaskProfile, to_records

    several(repo)
    folder = repo.root / "campaigns" / "running-usdf"
    stats = Stats(180.0, 190.0, 191.0, 191.5)
    (folder / "profile.yaml").write_text(yaml.safe_dump(to_records(
        [TaskProfile("step1", "calibrate", 8, stats, Stats(0.1, 0.2, 0.2, 0.2), Stats(1, 2, 2, 2), 4096, 512)])))
    repo.write()
    table = repo.page("running-usdf").split("## Resource use per task")[1].split("## Runs")[0]
    assert "| step1 | calibrate | 8 | 180 / 190 / 192 | 0.10 / 0.20 / 0.20 | 1.00 / 2.00 / 2.00 | 4096 | 512 | " \
           "over-requested |" in table

    (folder / "profile.yaml").write_text("- {step: only}\n")
    repo.write(datetime(2026, 11, 21, 12, 30, tzinfo=UTC))
    assert "## Resource use per task" not in repo.page("running-usdf")


def test_a_campaign_that_finishes_gets_its_chart_brought_up_to_date_once(repo: Repo) -> None:
    several(repo)
    repo.write()
    d = repo.root / "campaigns" / "running-usdf"
    before = (d / "progress.svg").read_text()
    calib = TaskCounts("calibrate", (("SUCCEEDED", 16),))
    store.save(d, Ledger("running-usdf", (
        run("step1", "tract9615", attempt(RunState.SUCCEEDED, "2026-11-21T09:00:00+00:00")),
        run("step1", "tract9697", attempt(RunState.SUCCEEDED, "2026-11-21T12:40:00+00:00", tasks=(calib,))),
        run("step3", "all", attempt(RunState.SUCCEEDED, "2026-11-21T12:50:00+00:00")))))
    changed = repo.write(datetime(2026, 11, 21, 13, 0, tzinfo=UTC))
    assert d / "progress.svg" in changed and "finished" in repo.page("running-usdf")
    after = (d / "progress.svg").read_text()
    assert after != before and "quanta known: 16" in after
    assert repo.write(datetime(2026, 11, 21, 14, 0, tzinfo=UTC)) == []
