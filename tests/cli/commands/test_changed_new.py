"""campaign changed (which campaigns a diff touches) and campaign new (a campaign from a template)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from campaignops.campaign_spec.changes import changed_campaigns
from campaignops.campaign_spec.template import TemplateError, instantiate, weekly_tag
from campaignops.cli.commands import changed, new

TEMPLATE = """\
# Template header: describes the template.
name: ci-hsc-weekly
description: "Weekly ci_hsc run"  # kept comment
operator: lsstsvc1
profile: local-parsl
stack:
  tag: w_2026_01  # replaced
butler:
  repo: /repo/ci_hsc
  inputs: [HSC/defaults]
  output: "u/{operator}/{campaign}"
pipeline: "${DRP_PIPE_DIR}/pipelines/HSC/DRP-ci_hsc.yaml"
schedule:
  cron: "0 6 * * 1"
  name_pattern: "ci-hsc-{stack}"
steps:
  - name: step1
    subsets: [step1]
"""


def cli(module: ModuleType, root: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(["--root", str(root), *argv])))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_changed_lists_campaigns_with_edited_files_and_every_user_of_an_edited_profile() -> None:
    profiles = {"a": "usdf-panda", "b": "local-parsl", "c": "usdf-panda"}
    assert changed_campaigns(["campaigns/b/campaign.yaml"], profiles) == ["b"]
    assert changed_campaigns(["campaigns/profiles/usdf-panda.yaml"], profiles) == ["a", "c"]
    assert changed_campaigns(["campaigns/b/visits.txt", "README.md"], profiles) == ["b"]


def test_changed_ignores_the_bots_files_templates_and_deleted_campaigns() -> None:
    profiles = {"a": "p"}
    assert changed_campaigns(["campaigns/a/ledger.yaml", "campaigns/a/ledger/index.yaml",
                              "campaigns/a/ledger/step1.000.yaml", "campaigns/a/STATUS.md", "STATUS.md",
                              "campaigns/templates/ci-hsc-weekly.yaml", "campaigns/gone/campaign.yaml"],
                             profiles) == []


def test_changed_diffs_two_commits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, profile in (("alpha", "p1"), ("beta", "p2")):
        (tmp_path / "campaigns" / name).mkdir(parents=True)
        (tmp_path / "campaigns" / name / "campaign.yaml").write_text(f"name: {name}\nprofile: {profile}\n")
    (tmp_path / "campaigns" / "profiles").mkdir()
    (tmp_path / "campaigns" / "profiles" / "p2.yaml").write_text("name: p2\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    base = git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "campaigns" / "profiles" / "p2.yaml").write_text("name: p2\ndescription: x\n")
    (tmp_path / "campaigns" / "alpha" / "ledger.yaml").write_text("campaign: alpha\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "edit")
    assert cli(changed, tmp_path, "--base", base, "--head", "HEAD", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == ["beta"]
    assert cli(changed, tmp_path, "--base", "0" * 40, "--head", "HEAD") == 0
    assert capsys.readouterr().out.split() == ["alpha", "beta"]
    assert cli(changed, tmp_path, "--campaign", "alpha", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == ["alpha"]
    assert cli(changed, tmp_path, "--campaign", "nope") == 1


def test_the_default_stack_is_the_weekly_of_the_iso_week() -> None:
    assert weekly_tag(dt.date(2026, 11, 16)) == "w_2026_47"
    assert weekly_tag(dt.date(2027, 1, 1)) == "w_2026_53"  # ISO week of a Friday after 2026's week 53


def test_new_names_the_instance_replaces_the_tag_drops_the_schedule_and_keeps_comments() -> None:
    name, text = instantiate(TEMPLATE, "ci-hsc-weekly", "w_2026_48", dt.date(2026, 11, 23))
    assert name == "ci-hsc-w_2026_48"
    data = yaml.safe_load(text)
    assert data["name"] == name and data["stack"]["tag"] == "w_2026_48" and "schedule" not in data
    assert "# kept comment" in text and "# replaced" in text and '"Weekly ci_hsc run"' in text
    assert "Template header" not in text and text.startswith("# Made by `campaign new --from ci-hsc-weekly")


def test_new_refuses_a_template_without_a_name_pattern() -> None:
    with pytest.raises(TemplateError, match="name_pattern"):
        instantiate(TEMPLATE.replace('  name_pattern: "ci-hsc-{stack}"\n', ""), "t", "w_2026_48",
                    dt.date(2026, 11, 23))


def test_new_writes_the_campaign_once_and_a_rerun_leaves_it_alone(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "campaigns" / "templates").mkdir(parents=True)
    (tmp_path / "campaigns" / "templates" / "ci-hsc-weekly.yaml").write_text(TEMPLATE)
    assert cli(new, tmp_path, "--from", "ci-hsc-weekly", "--date", "2026-11-16") == 0
    out = capsys.readouterr()
    assert out.out.strip() == "ci-hsc-w_2026_47"
    target = tmp_path / "campaigns" / "ci-hsc-w_2026_47" / "campaign.yaml"
    target.write_text(target.read_text() + "# operator's edit\n")
    assert cli(new, tmp_path, "--from", "ci-hsc-weekly", "--stack", "w_2026_47") == 0
    assert "already exists" in capsys.readouterr().err
    assert target.read_text().endswith("# operator's edit\n")
    assert cli(new, tmp_path, "--from", "no-such-template") == 1
