"""Whatever `campaign render` would refuse, `campaign validate` refuses first, at a line and column.

A pull request that is green must not fail in the submit job after merge: the rules of the values bps
puts on a command line live in spec/rules.py, validation reports them, render only asserts them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec import validate
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.errors import RenderError
from campaignops.planning.plan import make_plan
from campaignops.planning.render import render_run

TESTS = Path(__file__).resolve().parents[1]
VALID = TESTS / "fixtures" / "valid"
BROKEN = TESTS / "broken" / "campaigns"

# Broken specs whose only mistake is one of the command-line rules render used to enforce alone.
RENDER_RULE_CASES = ["query-with-double-quote", "step-query-with-placeholder", "pipeline-with-space",
                     "butler-repo-with-quote", "step-bps-reserved-key", "step-bps-dotted-key",
                     "task-label-not-identifier", "cluster-name-not-identifier"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    return tmp_path


def render_all(data: dict[str, Any], path: Path, root: Path) -> None:
    """Render every run of the spec without validating it first (what render alone would do)."""
    campaign = campaign_from_dict(data, spec.load_profile(data["profile"], root), path=path)
    for run in make_plan(campaign).runs:
        if not run.pending:
            render_run(campaign, run, 1, root=root)


@pytest.mark.parametrize("name", RENDER_RULE_CASES)
def test_what_render_refuses_validation_reports_at_its_line(name: str, repo: Path) -> None:
    target = repo / "campaigns" / name
    shutil.copytree(BROKEN / name, target)
    problems, data = validate.check_file(target / "campaign.yaml", repo)
    assert problems, f"{name}: validation passed a spec render refuses"
    assert all(p.line > 1 and p.column >= 1 and p.path and p.fix for p in problems), problems
    assert data is not None
    with pytest.raises(RenderError, match="should have refused"):
        render_all(data, target / "campaign.yaml", repo)


def test_a_repository_checked_out_under_a_path_with_a_space_is_refused_for_relative_paths(
        tmp_path: Path) -> None:
    root = tmp_path / "my checkout"
    shutil.copytree(VALID, root)
    path = root / "campaigns" / "example" / "campaign.yaml"
    data = yaml.safe_load(path.read_text())
    data["butler"]["repo"] = "repos/main"  # relative: joined to the root on the command line
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    problems, _ = validate.check_file(path, root)
    assert [p.path for p in problems] == ["butler.repo"]
    assert "repository root" in problems[0].message


# Characters that a hand-edited spec can hold and that mean something to a shell, to str.format,
# to os.path.expandvars or to BPS's dotted keys.
_PIECES = list("ab_-./ '\"\\{}$#`;&|<>:=()*,") + ["${X}", "$X", "visit", " AND "]
_TRICKY = st.sampled_from(_PIECES)
_TEXT = st.lists(_TRICKY, min_size=1, max_size=6).map("".join)


def _with(data: dict[str, Any], where: str, value: str) -> None:
    """Put `value` in one place of the spec that reaches the bps command line or a BPS key."""
    step = data["steps"][0]
    if where == "data_query":
        data["data_query"] = value
    elif where == "step data_query":
        step["data_query"] = value
    elif where == "pipeline":
        data["pipeline"] = value
    elif where == "butler repo":
        data["butler"]["repo"] = value
    elif where == "task label":
        data["resources"] = {"tasks": {value: {"requestMemory": 4096}}}
    elif where == "step bps key":
        step["bps"] = {value: {"inner": 1}}
    elif where == "nested step bps key":
        step["bps"] = {"finalJob": {value: 1}}
    elif where == "cluster name":
        step["clustering"] = {value: {"dimensions": "visit", "pipetasks": "isr"}}


PLACES = ["data_query", "step data_query", "pipeline", "butler repo", "task label", "step bps key",
          "nested step bps key", "cluster name"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(PLACES), value=_TEXT)
def test_a_spec_that_validates_always_renders(repo: Path, where: str, value: str) -> None:
    path = repo / "campaigns" / "example" / "campaign.yaml"
    data = yaml.safe_load((VALID / "campaigns" / "example" / "campaign.yaml").read_text())
    _with(data, where, value)
    # JSON is YAML: every string survives exactly, whatever characters it holds.
    path.write_text(json.dumps(data))
    problems, checked = validate.check_file(path, repo)
    if problems:
        return
    assert checked is not None
    render_all(checked, path, repo)  # must not raise: validation passed


# bps values reach the job's command line: `bps` folds extraRunQuantumOptions into runQuantumCommand
# (lsst/ctrl_bps etc/bps_defaults.yaml), which ctrl_bps_parsl runs with shell=True. Braces are left out:
# {placeholders} are bps's own feature (tests/planning/test_bpsconfig.py).
_OPTION = st.lists(st.sampled_from([c for c in _PIECES if "{" not in c and "}" not in c]
                                   + ["$(touch canary)", "`id`", "--no-versions", "$(", "$HOME"]),
                   min_size=1, max_size=6).map("".join)


@pytest.mark.lsst
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_OPTION)
def test_a_bps_option_that_validates_reaches_the_job_command_as_written_and_runs_nothing(
        repo: Path, value: str) -> None:
    bps = pytest.importorskip("lsst.ctrl.bps")
    path = repo / "campaigns" / "example" / "campaign.yaml"
    data = yaml.safe_load((VALID / "campaigns" / "example" / "campaign.yaml").read_text())
    data["steps"][0]["bps"] = {"extraRunQuantumOptions": value}
    path.write_text(json.dumps(data))
    problems, checked = validate.check_file(path, repo)
    if problems:
        assert any(p.path == "steps[0].bps.extraRunQuantumOptions" for p in problems), problems
        return
    assert checked is not None
    campaign = campaign_from_dict(checked, spec.load_profile(checked["profile"], repo), path=path)
    run = make_plan(campaign).runs_of(campaign.steps[0].name)[0]
    submit = repo / "submit.yaml"
    submit.write_text(render_run(campaign, run, 1, root=repo))
    config = bps.BpsConfig(str(submit), search_order=bps.BPS_SEARCH_ORDER, defaults=bps.BPS_DEFAULTS)
    found, command = config.search("runQuantumCommand", opt={"curvals": {"qgraphFile": "r.qg",
                                                                         "qgraphNodeId": "1"}})
    assert found and command.endswith(value), (command, value)  # read as written
    assert not any(bad in command for bad in ("$(", "`")), command
    assert not re.search(r"\$[{A-Za-z_]", command.removeprefix("pipetask")), command
