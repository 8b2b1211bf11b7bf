"""One campaign, one runner: jobs with different work directories on one control repository take turns under the
campaign lock, and only the work directory the ledger records launches; `notify` holds the same lock and paces
its GitHub writes across processes.

Real `campaign` processes started at once (apply against reconcile, notify against notify); the launches are
real detached processes (the profile's stack set-up fails at once, as a runner without the stack would, so no
middleware is imported), the GitHub API is the fake one on 127.0.0.1 and the gaps are read from its own log.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from pathlib import Path

import warm
from campaignops.domain.states import RunState, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from fakes.github_api import REPO, TOKEN, FakeGitHub
from fakes.launching_repo import control_repo

pytest_plugins = ["fakes.github_api"]

ROOT = Path(__file__).resolve().parents[2]
STEP1 = ("step1/visit1001-1002", "step1/visit1003-1004", "step1/visit1005-1006")


def campaign(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*warm.campaign(), "--root", str(root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CAMPAIGNOPS_DEBUG": "", **(env or {})})


def launches(workdir: Path, key: str) -> list[Path]:
    """The launch directories of a run where a process really started (it wrote its pid file)."""
    return sorted(p.parent for p in (workdir / "demo" / key).glob("a*/bps.pid"))


def test_two_jobs_with_different_work_directories_never_submit_a_run_twice(tmp_path: Path) -> None:
    doubles = missing = 0
    for trial in range(3):
        root = control_repo(tmp_path / f"trial{trial}")
        work_a, work_b = tmp_path / f"trial{trial}" / "runner-a", tmp_path / f"trial{trial}" / "laptop-b"
        jobs = [campaign(root, "apply", "demo", "--workdir", str(work_a)),
                campaign(root, "reconcile", "demo", "--no-pages", "--workdir", str(work_b))]
        outs = [job.communicate(timeout=120) for job in jobs]
        codes = [job.returncode for job in jobs]
        ledger = store.load(root / "campaigns" / "demo", "demo")
        assert ledger.owner is not None
        owner = Path(ledger.owner.runner.partition(":")[2])
        other = work_b if owner == work_a else work_a
        for key in STEP1:
            launched = launches(work_a, key) + launches(work_b, key)
            record = ledger.run(key)
            recorded = {Path(a.launch_dir) for a in record.attempts} if record else set()
            doubles += len(launched) > 1
            missing += len(set(launched) - recorded)
            assert not launches(other, key), (trial, key, outs)
        loser = 1 if owner == work_a else 0
        assert codes[1 - loser] == 0, outs[1 - loser]
        assert codes[loser] == 1, outs[loser]
        said = outs[loser][1]
        assert f"launched from {ledger.owner.runner}" in said and "this job runs from" in said and str(other) in said
        assert "campaign ledger takeover demo" in said and "internal error" not in said
    assert (doubles, missing) == (0, 0)


def test_a_takeover_is_recorded_and_only_then_another_work_directory_launches(tmp_path: Path) -> None:
    root = control_repo(tmp_path)
    first, second = tmp_path / "old-runner", tmp_path / "new-runner"
    assert campaign(root, "apply", "demo", "--workdir", str(first)).wait(60) == 0
    look = campaign(root, "status", "demo", "--no-pages", "--workdir", str(second))
    assert look.wait(60) == 0, look.communicate()  # a look is not a launch: any work directory may look
    refused = campaign(root, "reconcile", "demo", "--no-pages", "--workdir", str(second))
    assert refused.wait(60) == 1
    no_reason = campaign(root, "ledger", "takeover", "demo", "--workdir", str(second))
    assert no_reason.wait(60) == 2 and "needs --reason" in no_reason.communicate()[1]
    taken = campaign(root, "ledger", "takeover", "demo", "--reason", "runner-a was decommissioned",
                     "--by", "ops-alice", "--workdir", str(second))
    out, err = taken.communicate(timeout=60)
    assert taken.returncode == 0, err
    assert f"was {store.load(root / 'campaigns' / 'demo', 'demo').controls[0].runner}" in out
    ledger = store.load(root / "campaigns" / "demo", "demo")
    assert ledger.owner is not None and ledger.owner.action == "takeover" and ledger.owner.by == "ops-alice"
    assert ledger.owner.runner.endswith(f":{second}") and "decommissioned" in ledger.owner.reason
    assert campaign(root, "reconcile", "demo", "--no-pages", "--workdir", str(second)).wait(60) == 0
    assert campaign(root, "reconcile", "demo", "--no-pages", "--workdir", str(first)).wait(60) == 1


def failing_ledger(launch_root: Path) -> Ledger:
    def failed(key: str) -> RunRecord:
        step, group = key.split("/")
        attempt = Attempt(1, "submit", f"demo/demo/{key}/a01", "h", "c.yaml", str(launch_root / key / "a01"),
                          state=RunState.FAILED, message="simulated failure",
                          transitions=(Transition("2026-12-01T10:00:00Z", RunState.SUBMITTING),
                                       Transition("2026-12-01T10:05:00Z", RunState.FAILED)))
        return RunRecord(step, group, "", (attempt,))
    return Ledger("demo", tuple(failed(k) for k in STEP1))


def test_two_notify_jobs_at_once_open_one_issue_per_failed_run_with_writes_a_second_apart(
        tmp_path: Path, github: FakeGitHub) -> None:
    github.clock = time.time  # the server stamps each request as it arrives
    root = control_repo(tmp_path)
    store.save(root / "campaigns" / "demo", failing_ledger(tmp_path / "work"))
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": github.server.url_for("").rstrip("/")}
    # each with its own work directory, so neither reads the other's record of the issues it knows
    jobs = [campaign(root, "notify", "demo", env={**env, "CAMPAIGNOPS_WORKDIR": str(tmp_path / f"work{i}")})
            for i in range(2)]
    outs = [job.communicate(timeout=120) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], outs
    titles = [i["title"] for i in github.open_issues()]
    assert len(titles) == 3 and len(set(titles)) == 3, titles
    for key in STEP1:
        assert sum(key.replace("/", " ") in t for t in titles) == 1, (key, titles)
    writes = [t for t, method, _ in github.stamps if method != "GET"]
    gaps = [b - a for a, b in itertools.pairwise(writes)]
    assert len(writes) >= 3 and min(gaps) >= 1.0, gaps
