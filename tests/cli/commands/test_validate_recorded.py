"""`campaign validate` once runs are recorded: a change to a submitted run, or a re-split that loses one,
is refused at its line and column with the fix; `supersede:` makes the change a new attempt."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from campaignops.adapters.memory_wms import InMemoryWms
from campaignops.cli.main import main
from campaignops.engine import submit
from campaignops.workspace import open_campaign

SPEC = """\
name: camp
description: d
operator: op
profile: local-parsl
stack: {tag: w_2026_47}
butler: {repo: /repo, inputs: [in], output: 'out/{campaign}'}
pipeline: /p.yaml
steps:
  - name: step1
    subsets: [step1]
    split: {by: values, dimension: visit, values: [1001, [1003, 1004]]}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "campaigns" / "profiles").mkdir(parents=True)
    (root / "campaigns" / "profiles" / "local-parsl.yaml").write_text(
        "name: local-parsl\ndescription: t\nsite: local\nwms: parsl\nbps:\n  wmsServiceClass: x.Service\n")
    (root / "campaigns" / "camp").mkdir()
    (root / "campaigns" / "camp" / "campaign.yaml").write_text(SPEC)
    ws = open_campaign(root, "camp", workdir=tmp_path / "work", wms=InMemoryWms(), say=lambda _: None)
    submit.apply(ws.ctx, ws.plan, ws.ledger)
    return root


def _validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--root", str(root), "validate", str(root / "campaigns" / "camp" / "campaign.yaml")])
    return code, capsys.readouterr().out


def _edit(root: Path, old: str, new: str) -> None:
    spec = root / "campaigns" / "camp" / "campaign.yaml"
    spec.write_text(spec.read_text().replace(old, new))


def test_an_unchanged_recorded_campaign_validates(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _validate(repo, capsys)
    assert code == 0, out


def test_changing_a_submitted_runs_memory_fails_with_the_supersede_fix(repo: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _edit(repo, "    split:", "    resources: {requestMemory: 8192}\n    split:")
    code, out = _validate(repo, capsys)
    assert code == 1
    assert "campaigns/camp/campaign.yaml:9:5:" in out  # the step's line and column
    assert "run step1/visit1001 was submitted (attempt 1, PENDING)" in out and "resources" in out
    assert "supersede: {visit1001:" in out and "revert the change" in out
    _edit(repo, "    split:", "    supersede: {'*': raise memory after OOM}\n    split:")
    assert _validate(repo, capsys)[0] == 0


def test_a_resplit_that_orphans_recorded_runs_is_refused_with_the_runs(repo: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _edit(repo, "values: [1001, [1003, 1004]]", "values: [1001, 1003, 1004]")
    code, out = _validate(repo, capsys)
    assert code == 1
    assert "recorded run step1/visit1003-1004 (attempt 1, PENDING" in out, out
    assert "would be orphaned" in out and "keep the groups that were submitted" in out


def test_a_damaged_ledger_fails_validation_before_merge(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [part] = (repo / "campaigns" / "camp" / "ledger").glob("step1.*.yaml")
    part.write_text(part.read_text().replace('"PENDING"', '"DONE"', 1))
    code, out = _validate(repo, capsys)
    assert code == 1 and "campaigns/camp/ledger:1:1:" in out and "git log -p" in out, out


def test_controls_from_the_command_line_name_who(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "user.name", "Operator One"], check=True)
    assert main(["--root", str(repo), "hold", "camp", "--reason", "butler downtime"]) == 0
    with pytest.raises(SystemExit):  # --reason is required: a hold says why
        main(["--root", str(repo), "hold", "camp"])
    text = (repo / "campaigns" / "camp" / "ledger" / "index.yaml").read_text()
    assert '"by": "Operator One"' in text and '"action": "hold"' in text and '"reason": "butler downtime"' in text


def test_the_retry_workflows_one_command_records_controls_with_the_dispatching_user(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "control", "hold", "camp", "", "--reason", "Butler maintenance",
                 "--by", "octocat"]) == 0
    assert main(["--root", str(repo), "control", "skip", "camp", "", "--reason", "x y z"]) == 1
    assert "skip needs the run" in capsys.readouterr().err
    # the run is active: settling it needs a cancel first, and the message says so
    assert main(["--root", str(repo), "control", "accept", "camp", "step1/visit1001", "--reason", "ok as is"]) == 1
    assert "cancel it first" in capsys.readouterr().err
    assert main(["--root", str(repo), "control", "resume", "camp", "--by", "octocat"]) == 0
    text = (repo / "campaigns" / "camp" / "ledger" / "index.yaml").read_text()
    assert '"by": "octocat", "action": "hold"' in text and '"action": "resume"' in text
