"""`campaign status` on a PanDA campaign with a BigPanDA monitor (PANDAMON_URL, a fake monitor on 127.0.0.1):
the runs are followed through the monitor, its request count and hourly budget are printed, pages link the
site's page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from campaignops.cli.main import main
from campaignops.domain.states import RunState, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.workspace import read_plan
from fakes.bigpanda import FakeBigPanda

ROOT = Path(__file__).resolve().parents[3]


def test_status_follows_panda_runs_through_the_monitor(tmp_path: Path, httpserver: HTTPServer,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    (tmp_path / "campaigns" / "drp").mkdir()
    text = (ROOT / "campaigns" / "demo" / "campaign.yaml").read_text()
    (tmp_path / "campaigns" / "drp" / "campaign.yaml").write_text(
        text.replace("name: demo", "name: drp").replace("profile: local-parsl", "profile: usdf-panda"))
    shutil.copytree(ROOT / "scripts" / "campaignops" / "demo", tmp_path / "scripts" / "campaignops" / "demo")
    plan = read_plan(tmp_path, "drp")
    fake = FakeBigPanda(httpserver)
    runs = []
    for i, run in enumerate(plan.runs_of("step1"), start=1):
        fake.add_workflow(500 + i, f"drp_{run.group}", "Failed" if i == 1 else "Transforming",
                          tasks=[("isr", "failed" if i == 1 else "running", 4, 0, 4 if i == 1 else 0)])
        attempt = Attempt(number=1, kind="submit", output_run=f"out/a{i}", config_hash="h", config_path="c.yaml",
                          launch_dir=str(tmp_path / "launch" / str(i)), submit_dir=f"/submit/{i}", wms_id=str(500 + i),
                          submitted_at="2026-11-30T08:00:00Z", state=RunState.RUNNING,
                          transitions=(Transition("2026-11-30T08:00:00Z", RunState.RUNNING),))
        runs.append(RunRecord("step1", run.group, run.data_query, (attempt,)))
    store.save(tmp_path / "campaigns" / "drp", Ledger("drp", tuple(runs)))
    monkeypatch.setenv("PANDAMON_URL", fake.url)
    monkeypatch.setenv("PANDAMON_USERNAME", "lsstsvc1")
    monkeypatch.setenv("PANDAMON_REQUESTS_PER_HOUR", "40")

    code = main(["--root", str(tmp_path), "status", "drp", "--workdir", str(tmp_path / "work")])

    out = capsys.readouterr().out
    assert code == 0
    ledger = store.load(tmp_path / "campaigns" / "drp", "drp")
    assert [r.state for r in ledger.runs] == [RunState.FAILED, RunState.RUNNING, RunState.RUNNING]
    assert f"PanDA monitor {fake.url}: 3 request(s) by this command; 3 of 40 in the last hour" in out  # 2 + the failing task
    assert (tmp_path / "work" / "panda-monitor").is_dir()  # the budget lives under the work dir
    page = (tmp_path / "campaigns" / "drp" / "STATUS.md").read_text()
    assert f"- monitor: [workflow]({fake.url}idds/wfprogress/?requestid=501)" in page
    assert "[USDF](sites/USDF.md)" in (tmp_path / "STATUS.md").read_text()
    assert "`step1/" in (tmp_path / "sites" / "USDF.md").read_text()
