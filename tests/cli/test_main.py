"""The `campaign` command as a person meets it: errors are messages, a closed pipe is quiet, and a plain
`pip install .` (not editable) validates a campaign repository from any of its folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from campaignops.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def campaign(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "campaignops.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})}, check=False)


def test_an_unknown_campaign_is_one_line_of_advice_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(ROOT), "plan", "no-such-campaign"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no campaign 'no-such-campaign'") and "Known campaigns: " in err
    assert "Traceback" not in err


def test_debug_adds_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(ROOT), "--debug", "plan", "no-such-campaign"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "SpecError" in err
    assert err.rstrip().splitlines()[-1].startswith("error: no campaign")


def test_a_damaged_ledger_is_refused_with_how_to_restore_it(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    (tmp_path / "campaigns" / "demo" / "ledger.yaml").write_text("campaign: demo\nruns: [{step: 1}]\n")
    proc = campaign("plan", "demo", cwd=tmp_path / "campaigns" / "demo")
    assert proc.returncode == 1, proc.stderr
    assert "damaged ledger" in proc.stderr and "git log -p" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_reader_that_stops_early_ends_the_output_quietly(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    folder = tmp_path / "campaigns" / "big"
    shutil.copytree(ROOT / "campaigns" / "dc2-test-med-1-w_2026_47", folder)
    spec = (folder / "campaign.yaml").read_text().replace("name: dc2-test-med-1-w_2026_47", "name: big")
    (folder / "campaign.yaml").write_text(spec.replace("max_size: 100", "max_size: 1"))
    # Far more than a pipe holds, so the writer is still writing when `head` has gone.
    (folder / "visits.txt").write_text("".join(f"{v}\n" for v in range(1, 3_001)))
    command = f"{sys.executable} -m campaignops.cli.main render big -o {tmp_path / 'out'} | head -1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.stdout.endswith(".yaml\n")  # the first file written, one per line
    assert proc.stderr == "", proc.stderr  # no BrokenPipeError traceback
    assert proc.returncode in (0, 141)


def test_a_plain_install_validates_from_inside_a_campaign_repository(tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip = subprocess.run([str(VENV_BIN / "pip"), "install", "--quiet", "--no-deps", "--target", str(target),
                          str(ROOT)], capture_output=True, text=True, timeout=600, check=False)
    assert pip.returncode == 0, pip.stderr
    assert (target / "campaignops" / "campaign_spec" / "schemas" / "campaign.schema.json").is_file()
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "campaigns", repo / "campaigns", ignore=shutil.ignore_patterns("ledger.yaml", "ledger"))
    (repo / "campaigns" / "demo" / "broken.yaml").write_text("name: demo\n")
    env = {"PYTHONPATH": str(target)}  # ahead of the editable install of this checkout
    proc = subprocess.run([sys.executable, "-c", "import campaignops; print(campaignops.__file__)"],
                          cwd=repo, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    assert proc.stdout.startswith(str(target)), proc.stdout + proc.stderr
    ok = campaign("validate", cwd=repo / "campaigns" / "demo", env=env)
    # every campaign, profile and template, and the failure rules files (shared and per campaign)
    specs = [*repo.glob("campaigns/*/campaign.yaml"), *repo.glob("campaigns/profiles/*.yaml"),
             *repo.glob("campaigns/templates/*.yaml"), *repo.glob("campaigns/rules.yaml"),
             *repo.glob("campaigns/*/rules.yaml")]
    assert len(specs) >= 16
    assert ok.returncode == 0 and f"OK: {len(specs)} files checked" in ok.stdout, ok.stdout + ok.stderr
    # The demo's site profiles point at Butlers `campaign demo run --multisite` builds: not here, so warned.
    warned = [line for line in ok.stdout.splitlines() if line.startswith("warning:")]
    assert all("does not exist here" in line for line in warned), warned
    bad = campaign("validate", "broken.yaml", cwd=repo / "campaigns" / "demo", env=env)
    assert bad.returncode == 1 and "missing required key 'description'" in bad.stdout, bad.stdout
