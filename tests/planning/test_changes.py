"""The plan against the ledger: a change to a run already submitted is never silent."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from campaignops.adapters.memory_wms import InMemoryWms
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.cli.main import main
from campaignops.domain.model import Campaign, Profile, Resources
from campaignops.engine import submit
from campaignops.engine.context import Context
from campaignops.ledger import store
from campaignops.ledger.records import Ledger
from campaignops.planning.changes import Change, compare
from campaignops.planning.plan import make_plan
from campaignops.planning.render import spec_fingerprint
from campaignops.views.plan_text import as_dict, as_markdown, as_text

ROOT = Path(__file__).resolve().parents[2]
PROFILE = Profile("local-parsl", "test", "local", "parsl", "", (("wmsServiceClass", "x.Service"),))


def campaign(tmp_path: Path, values: list[Any], **step: Any) -> Campaign:
    data = {
        "name": "camp", "description": "d", "operator": "op", "profile": "local-parsl",
        "stack": {"tag": "w_2026_47"}, "butler": {"repo": "repo", "inputs": ["in"], "output": "out/{campaign}"},
        "pipeline": "pipelines/p.yaml",
        "steps": [{"name": "step1", "subsets": ["step1"],
                   "split": {"by": "values", "dimension": "visit", "values": values}, **step}],
    }
    return campaign_from_dict(data, PROFILE, path=tmp_path / "campaigns" / "camp" / "campaign.yaml")


def submitted(tmp_path: Path, c: Campaign) -> Ledger:
    (tmp_path / "campaigns" / "camp").mkdir(parents=True, exist_ok=True)
    ctx = Context(root=tmp_path, campaign=c, wms=InMemoryWms(), workdir=tmp_path / "work", say=lambda _: None)
    ledger, _ = submit.apply(ctx, make_plan(c), Ledger(c.name))
    return ledger


def changes_of(c: Campaign, ledger: Ledger) -> dict[str, tuple[Change, tuple[str, ...]]]:
    return {rc.key: (rc.change, rc.what) for rc in compare(make_plan(c), ledger, partial(spec_fingerprint, c))}


def test_an_unchanged_spec_is_unchanged_and_a_new_group_is_new(tmp_path: Path) -> None:
    ledger = submitted(tmp_path, campaign(tmp_path, [1, 2]))
    got = changes_of(campaign(tmp_path, [1, 2, 3]), ledger)
    assert got == {"step1/visit1": (Change.UNCHANGED, ()), "step1/visit2": (Change.UNCHANGED, ()),
                   "step1/visit3": (Change.NEW, ())}


def test_more_memory_for_a_submitted_run_is_a_change_with_no_effect(tmp_path: Path) -> None:
    ledger = submitted(tmp_path, campaign(tmp_path, [1, 2]))
    more = campaign(tmp_path, [1, 2], resources={"requestMemory": 8192})
    assert more.steps[0].resources != Resources()
    got = changes_of(more, ledger)
    assert got["step1/visit1"][0] == Change.CHANGED and "resources" in got["step1/visit1"][1][0]


def test_a_changed_query_and_a_resplit_show_changed_and_orphaned_runs(tmp_path: Path) -> None:
    c = campaign(tmp_path, [1, [2, 3]])
    ledger = submitted(tmp_path, c)
    narrower = replace(c, data_query="instrument='HSC'")
    assert changes_of(narrower, ledger)["step1/visit1"][1] == ("data query",)  # and nothing else
    resplit = changes_of(campaign(tmp_path, [1, 2, 3]), ledger)
    assert resplit["step1/visit2-3"] == (Change.ORPHANED, ())
    assert resplit["step1/visit2"] == (Change.NEW, ()) and resplit["step1/visit3"] == (Change.NEW, ())


def test_the_fingerprint_does_not_depend_on_where_the_repository_is_checked_out(tmp_path: Path) -> None:
    here, there = campaign(tmp_path / "a", [1]), campaign(tmp_path / "b", [1])
    run = make_plan(here).runs[0]
    assert spec_fingerprint(here, run) == spec_fingerprint(there, make_plan(there).runs[0])


def test_every_view_says_it(tmp_path: Path) -> None:
    c = campaign(tmp_path, [1, [2, 3]])
    ledger = submitted(tmp_path, c)
    changed = campaign(tmp_path, [1, 2, 3], resources={"requestMemory": 8192})
    plan = make_plan(changed)
    changes = compare(plan, ledger, partial(spec_fingerprint, changed))
    text = as_text(plan, changes)
    assert "against the ledger: 2 new, 0 unchanged, 1 changed, 1 orphaned" in text
    assert "step1/visit1 (1 ID): (visit = 1)  [CHANGED since submitted:" in text
    assert "  step1/visit2-3  [recorded PENDING]" in text
    markdown = as_markdown(plan, changes=changes)
    assert "**Against the ledger**: 2 new, 0 unchanged, 1 changed, 1 orphaned." in markdown
    assert "- `step1/visit2-3`: **orphaned**, recorded PENDING" in markdown
    data = as_dict(plan, changes)
    assert [r["change"] for r in data["steps"][0]["runs"]] == ["changed", "new", "new"]
    assert data["orphaned"] == [{"key": "step1/visit2-3", "recorded_state": "PENDING"}]


def test_campaign_plan_marks_runs_against_the_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo", tmp_path / "campaigns" / "demo",
                    ignore=shutil.ignore_patterns("ledger.yaml", "ledger", "STATUS.md"))
    assert main(["--root", str(tmp_path), "plan", "demo", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["against_ledger"] == {"new": 6, "unchanged": 0, "changed": 0, "orphaned": 0}
    store.save(tmp_path / "campaigns" / "demo", Ledger("demo"))
    assert main(["--root", str(tmp_path), "plan", "demo"]) == 0
    assert "against the ledger: 6 new" in capsys.readouterr().out
