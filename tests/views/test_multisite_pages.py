"""Pages of a multi-site campaign: each run's site, the transfers with their counts, a flowchart that says where
steps run and what moved between them (valid Mermaid), and site pages that show only their own runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Campaign, Profile
from campaignops.domain.states import RunState, TransferState, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord, TransferRecord
from fakes.mermaid import parse_mermaid
from fakes.pages import write_pages

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
USDF = Profile("local-usdf", "d", "USDF", "parsl", "", (("wmsServiceClass", "x.S"),), butler_repo="/s/usdf")
FRDF = replace(USDF, name="local-frdf", site="FrDF", butler_repo="/s/frdf")
UKDF = replace(USDF, name="local-ukdf", site="UKDF", butler_repo="/s/ukdf")
SPEC = {"name": "three", "description": "3x3", "operator": "op", "profile": "local-usdf",
        "sites": ["local-usdf", "local-frdf", "local-ukdf"], "stack": {"tag": "w_2026_47"},
        "butler": {"repo": "/s/usdf", "inputs": ["in"], "output": "o/{campaign}"}, "pipeline": "p.yaml",
        "steps": [{"name": "step1", "subsets": ["step1"], "split": {"by": "residency", "dimension": "visit"}},
                  {"name": "step2c", "subsets": ["step2c"]}]}


def attempt(state: RunState, run: str) -> Attempt:
    at = "2026-12-01T10:00:00+00:00"
    return Attempt(number=1, kind="submit", output_run=run, config_hash="h", config_path="c.yaml",
                   launch_dir="/launch", submit_dir="/submit", wms_id="1", submitted_at=at, state=state,
                   errors=("RuntimeError: blew up at FrDF",) if state == RunState.FAILED else (),
                   transitions=(Transition(at, state),))


def pages(tmp_path: Path) -> Path:
    folder = tmp_path / "campaigns" / "three"
    folder.mkdir(parents=True)
    (folder / "campaign.yaml").write_text("name: three\n")
    ledger = Ledger("three", tuple(
        RunRecord("step1", site, "", (attempt(state, f"o/three/step1/{site}/a01"),))
        for site, state in (("local-usdf", RunState.SUCCEEDED), ("local-frdf", RunState.FAILED),
                            ("local-ukdf", RunState.SUCCEEDED))),
        frozen_groups=(("step1", (("local-usdf", "visit IN (1, 2)", 2), ("local-frdf", "visit IN (3, 4)", 2),
                                  ("local-ukdf", "visit IN (5, 6)", 2))),),
        transfers=(TransferRecord("step2c@local-usdf<step1@local-ukdf", "local-ukdf", "local-usdf",
                                  ("visit_summary",), TransferState.DONE, datasets=2, arrived=2, bytes=3_000_000,
                                  started_at="2026-12-01T10:05:00Z", ended_at="2026-12-01T10:06:00Z",
                                  message="2 visit_summary at local-usdf, verified"),))
    store.save(folder, ledger)

    def load(path: Path, root: Path) -> Campaign:
        return campaign_from_dict(SPEC, USDF, path=path, site_profiles=(USDF, FRDF, UKDF))

    write_pages(tmp_path, NOW, load=load)
    return tmp_path


def test_the_campaign_page_shows_each_runs_site_and_the_transfers_with_their_counts(tmp_path: Path) -> None:
    page = (pages(tmp_path) / "campaigns" / "three" / "STATUS.md").read_text()
    assert "| sites | local-usdf (USDF), local-frdf (FrDF), local-ukdf (UKDF); central local-usdf |" in page
    assert "| [`step1/local-frdf`](#step1local-frdf) | local-frdf | FAILED |" in page
    assert ("| `step2c@local-usdf<step1@local-ukdf` | local-ukdf → local-usdf | visit_summary | DONE | 2/2 | 3.0 | 1 |"
            in page)
    chart = page.split("```mermaid\n")[1].split("```")[0]
    parsed = parse_mermaid(chart)
    assert parsed["nodes"] == {"s0": "step1<br/>2/3 groups · 1 failed<br/>at each site",
                               "s1": "step2c<br/>0/1 groups<br/>at local-usdf"}
    assert parsed["labels"] == {("s0", "s1"): "1 transfer(s), 1 done"}
    modules = Path(os.environ.get("CAMPAIGNOPS_NODE_MODULES", Path(__file__).resolve().parents[2] / "node_modules"))
    node = shutil.which("node")
    if node and (modules / "mermaid" / "dist" / "mermaid.core.mjs").exists():  # the real parser, as GitHub's
        (tmp_path / "chart.mmd").write_text(chart)
        out = subprocess.run([node, str(Path(__file__).with_name("mermaid_parse.mjs")), str(modules),
                              str(tmp_path / "chart.mmd")], capture_output=True, text=True, timeout=120, check=True)
        assert out.stdout.splitlines() == ["OK flowchart-v2"], out.stdout + out.stderr


def test_each_site_page_shows_only_that_sites_runs(tmp_path: Path) -> None:
    root = pages(tmp_path)
    assert sorted(p.name for p in (root / "sites").glob("*.md")) == ["FrDF.md", "UKDF.md", "USDF.md"]
    fr, uk = (root / "sites" / "FrDF.md").read_text(), (root / "sites" / "UKDF.md").read_text()
    assert "| [three](../campaigns/three/STATUS.md) | local-frdf |" in fr and "1 |" in fr
    assert "`step1/local-frdf`" in fr and "blew up at FrDF" in fr
    assert "`step1/local-frdf`" not in uk and "| [three](../campaigns/three/STATUS.md) | local-ukdf |" in uk
    assert "Failing runs\n\nNone." in uk
