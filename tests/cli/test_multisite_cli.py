"""The 3×3 campaign from the command line, without its site Butlers: it validates and plans (every site and
transfer shown); `campaign apply` refuses loudly when a site's Butler cannot be asked; the status job warns,
keeps those groups pending and goes on with the other campaigns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import warm
from campaignops.adapters.lock import release_all
from campaignops.domain.errors import ButlerQueryError
from campaignops.ledger import store
from campaignops.workspace import open_campaign

ROOT = Path(__file__).resolve().parents[2]


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "campaigns" / "profiles", root / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo-3x3", root / "campaigns" / "demo-3x3",
                    ignore=shutil.ignore_patterns("ledger", "STATUS.md"))
    spec = root / "campaigns" / "demo-3x3" / "campaign.yaml"
    yaml = YAML()
    data = yaml.load(spec)
    data["pipeline"] = str(ROOT / data["pipeline"])
    yaml.dump(data, spec)
    return root


def campaign(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*warm.campaign(), "--root", str(root), *args], capture_output=True,
                          text=True, env={**os.environ, "CAMPAIGNOPS_WORKDIR": str(root.parent / "work")},
                          timeout=300, check=False)


def test_without_its_butlers_the_campaign_validates_and_its_plan_shows_sites_and_transfers(tmp_path: Path) -> None:
    root = repo(tmp_path)
    assert campaign(root, "validate").returncode == 0
    plan = campaign(root, "plan", "demo-3x3", "--format", "markdown")
    assert plan.returncode == 0, plan.stderr
    assert "| step1 | pending-query.local-frdf |" in plan.stdout and "| local-frdf |" in plan.stdout
    assert plan.stdout.count("| demo_coadd |") == 2 and "**Transfers between sites**" in plan.stdout


def test_apply_refuses_when_a_sites_butler_cannot_be_asked_and_the_status_job_goes_on(tmp_path: Path) -> None:
    root = repo(tmp_path)
    with pytest.raises(ButlerQueryError, match="cannot open Butler repository"):
        open_campaign(root, "demo-3x3", workdir=tmp_path / "apply", say=lambda _: None)
    said: list[str] = []
    ws = open_campaign(root, "demo-3x3", workdir=tmp_path / "look", say=said.append, strict_groups=False)
    assert all(r.pending for r in ws.plan.runs_of("step1")) and ws.ledger.frozen_groups == ()
    assert any("step1: its groups stay pending" in line for line in said)
    release_all()  # the campaign lock is the checkout's, whatever the work directory
    reconcile = campaign(root, "reconcile", "--all", "--no-pages")
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert "its groups stay pending" in reconcile.stdout


NO_LSST = """import sys


class NoLsst:  # the pull-request runner: core dependencies only
    def find_spec(self, name, path=None, target=None):
        if name == "lsst" or name.startswith("lsst."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, NoLsst())
"""


def without_middleware(tmp_path: Path) -> dict[str, str]:
    """The environment of a process where `lsst` cannot be imported (a sitecustomize on PYTHONPATH)."""
    block = tmp_path / "no-lsst"
    block.mkdir()
    (block / "sitecustomize.py").write_text(NO_LSST)
    return {"PYTHONPATH": os.pathsep.join([str(block), *filter(None, [os.environ.get("PYTHONPATH")])])}


def repo_as_committed(tmp_path: Path) -> Path:
    """The campaign with its pipeline where the repository has it (its committed graph names that path)."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "campaigns" / "profiles", root / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo-3x3", root / "campaigns" / "demo-3x3",
                    ignore=shutil.ignore_patterns("ledger", "STATUS.md"))
    pipeline = root / "scripts" / "campaignops" / "demo" / "pipeline_sites.yaml"
    pipeline.parent.mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "campaignops" / "demo" / "pipeline_sites.yaml", pipeline)
    return root


def run_env(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*warm.campaign(), "--root", str(root), *args], capture_output=True,
                          text=True, env={**os.environ, "CAMPAIGNOPS_WORKDIR": str(root.parent / "work"), **env},
                          timeout=300, check=False)


def test_without_the_middleware_the_plan_and_its_transfers_render_from_the_committed_graph(tmp_path: Path) -> None:
    root = repo_as_committed(tmp_path)
    env = without_middleware(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import lsst.pipe.base"], env={**os.environ, **env},
                           capture_output=True, text=True, check=False)
    assert probe.returncode != 0, "the blocker works"
    plan = run_env(root, env, "plan", "demo-3x3", "--format", "markdown")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("| demo_coadd |") == 2
    assert "warning: the Butler of site local-frdf, .demo/sites/frdf/repo (relative to the repository), does not " \
        "exist here" in plan.stderr, "a copied profile's missing Butler is said, not silent"
    assert "| `step2c@local-usdf<step2@local-frdf` | step2c | step2 @ local-frdf | local-usdf |" in plan.stdout, \
        "the plan names each transfer as the ledger and status pages do"
    assert run_env(root, env, "validate").returncode == 0


def test_without_the_middleware_a_stale_graph_says_how_to_refresh_it(tmp_path: Path) -> None:
    root = repo_as_committed(tmp_path)
    pipeline = root / "scripts" / "campaignops" / "demo" / "pipeline_sites.yaml"
    pipeline.write_text(pipeline.read_text() + "\n# edited\n")
    env = without_middleware(tmp_path)
    plan = run_env(root, env, "plan", "demo-3x3")
    assert plan.returncode == 1
    assert "pipeline-graph.yaml is stale (the pipeline file" in plan.stderr
    assert "campaign plan demo-3x3 --write-graph" in plan.stderr
    check = run_env(root, env, "validate", str(root / "campaigns" / "demo-3x3"))
    assert check.returncode == 1 and "campaign.yaml:" in check.stdout and "pipeline: " in check.stdout
    refreshed = run_env(root, {}, "plan", "demo-3x3", "--write-graph")  # where the middleware is installed
    assert refreshed.returncode == 0 and "wrote campaigns/demo-3x3/pipeline-graph.yaml" in refreshed.stderr
    assert run_env(root, env, "plan", "demo-3x3").returncode == 0


def test_a_step_reading_another_sites_output_with_the_wrong_requires_is_refused_at_its_line(tmp_path: Path) -> None:
    root = repo_as_committed(tmp_path)
    spec = root / "campaigns" / "demo-3x3" / "campaign.yaml"
    text = spec.read_text().replace("    subsets: [step2c]\n", "    subsets: [step2c]\n    requires: [step1]\n")
    spec.write_text(text)
    line = text.splitlines().index("    requires: [step1]") + 1
    for env in ({}, without_middleware(tmp_path)):  # from the middleware, and from the committed graph
        check = run_env(root, env, "validate", str(root / "campaigns" / "demo-3x3"))
        assert check.returncode == 1
        assert (f"campaigns/demo-3x3/campaign.yaml:{line}:5: steps[2].requires: step step2c reads demo_visit_summary "
                "at local-usdf, which step step2 writes at local-frdf, local-ukdf, and no transfer brings it there"
                ) in check.stdout
        assert "(fix: requires: [step1, step2] on step step2c" in check.stdout


def test_a_facilitys_status_job_asks_only_its_own_sites_butler_and_owns_only_its_site(tmp_path: Path) -> None:
    root = repo(tmp_path)
    done = campaign(root, "reconcile", "--all", "--no-pages", "--site", "FrDF")
    assert done.returncode == 0, done.stderr
    assert "(USDF, local-usdf; this job: site FrDF)" in done.stdout
    asked = [line for line in done.stdout.splitlines() if "the Butler query failed" in line]
    assert asked and all("at local-frdf stays pending" in line for line in asked)  # never the other sites'
    ledger = store.load(root / "campaigns" / "demo-3x3", "demo-3x3")
    assert set(ledger.site_owners()) == {"site:local-frdf"} and ledger.owner is None
    taken = campaign(root, "ledger", "takeover", "demo-3x3", "--site", "local-ukdf", "--reason", "UKDF runs its own")
    assert taken.returncode == 0, taken.stderr
    owners = store.load(root / "campaigns" / "demo-3x3", "demo-3x3").site_owners()
    assert set(owners) == {"site:local-frdf", "site:local-ukdf"} and owners["site:local-ukdf"].action == "takeover"


def test_a_misspelt_site_is_refused_naming_the_right_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--site frdf` would follow nothing (sites are matched as the profiles write them): refused, with the fix."""
    from campaignops.cli.main import main

    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    code = main(["--root", str(tmp_path), "notify", "--all", "--site", "frdf", "--folder", str(tmp_path / "issues")])
    err = capsys.readouterr().err
    assert code == 1 and "site 'frdf' (--site or CAMPAIGNOPS_SITE) is not a profile or facility" in err
    assert "did you mean 'FrDF'?" in err
