"""A profile's Butler path: relative to the profile file, never to whichever repository reads it; a relative
path that does not exist here is a warning at its line and column (validate passes: a pull request's runner never
has the site's Butler), and `campaign plan` says so too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from campaignops.campaign_spec.load import load_profile
from campaignops.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def control(tmp_path: Path) -> Path:
    """A fresh control repository holding the demo's multi-site profiles, copied as a new user would."""
    root = tmp_path / "control"
    shutil.copytree(ROOT / "campaigns" / "profiles", root / "campaigns" / "profiles")
    return root


def test_a_profiles_relative_butler_path_is_read_from_the_profiles_folder(control: Path) -> None:
    assert load_profile("local-usdf", control).butler_repo == ".demo/sites/usdf/repo"  # ../../ from profiles/
    profile = control / "campaigns" / "profiles" / "local-usdf.yaml"
    profile.write_text(profile.read_text().replace("../../.demo/sites/usdf/repo", "butlers/usdf"))
    assert load_profile("local-usdf", control).butler_repo == "campaigns/profiles/butlers/usdf"


def test_a_copied_profile_whose_butler_is_not_here_is_flagged_at_its_line(control: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    profile = control / "campaigns" / "profiles" / "local-frdf.yaml"
    line = profile.read_text().splitlines().index("  repo: ../../.demo/sites/frdf/repo  # relative to this file") + 1
    assert cli.main(["--root", str(control), "validate", str(profile), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["problems"] == []
    [warning] = out["warnings"]
    assert (warning["file"], warning["line"], warning["column"], warning["path"]) == (
        "campaigns/profiles/local-frdf.yaml", line, 3, "butler.repo")
    assert f"looked for {control / '.demo/sites/frdf/repo'}" in warning["message"]
    assert "absolute path" in warning["fix"]
    assert cli.main(["--root", str(control), "validate", str(profile), "--format", "github"]) == 0
    assert f"::warning file=campaigns/profiles/local-frdf.yaml,line={line},col=3," in capsys.readouterr().out
    (control / ".demo" / "sites" / "frdf" / "repo").mkdir(parents=True)
    assert cli.main(["--root", str(control), "validate", str(profile)]) == 0
    assert capsys.readouterr().out == "OK: 1 file checked\n"


def test_an_absolute_or_remote_butler_is_the_sites_and_not_checked_here(control: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    profile = control / "campaigns" / "profiles" / "local-ukdf.yaml"
    for repo in ("/sdf/group/rubin/repo/main", "s3://bucket/butler.yaml"):
        profile.write_text(profile.read_text().replace(profile.read_text().split("repo: ")[1].split("\n")[0], repo))
        assert cli.main(["--root", str(control), "validate", str(profile)]) == 0
        assert capsys.readouterr().out == "OK: 1 file checked\n"
