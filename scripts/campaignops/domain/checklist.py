"""The set-up of a control repository in one organisation, as one ordered checklist: the README `campaign init`
writes, docs/setup.md and `campaign doctor --setup` all number their steps from `CHECKLIST`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SetupStep:
    """One step: `key` names it for the checks, `title` is what the lists show, `where` the exact page or
    command that does it."""

    key: str
    title: str
    where: str

    @property
    def number(self) -> int:
        return [s.key for s in CHECKLIST].index(self.key) + 1


CHECKLIST: tuple[SetupStep, ...] = (
    SetupStep("repository", "Push the control repository to GitHub",
              "github.com/new (owner: your organisation), then `git remote add origin https://github.com/OWNER/NAME.git"
              " && git push -u origin main`"),
    SetupStep("actions", "Let the workflows' actions run",
              "repository Settings → Actions → General → Actions permissions: allow actions/checkout, "
              "actions/setup-python, actions/upload-artifact, actions/download-artifact, "
              "actions/create-github-app-token (pinned by commit in .github/workflows)"),
    SetupStep("runner", "Register a self-hosted runner at the facility, with its label",
              "repository Settings → Actions → Runners → New self-hosted runner; `./config.sh --url "
              "https://github.com/OWNER/NAME --token … --labels usdf`; another label: set the repository variable "
              "CAMPAIGNOPS_RUNNER_LABEL (Settings → Secrets and variables → Actions → Variables)"),
    SetupStep("venv", "Build CAMPAIGNOPS_VENV on the runner (campaignops with the pinned LSST middleware)",
              "`python3.12 -m venv DIR && DIR/bin/pip install \"campaignops[lsst] …\"` (the requirement of "
              "requirements.txt with the lsst extra), then `CAMPAIGNOPS_VENV=DIR` in the runner's .env file"),
    SetupStep("workdir", "Give the runner a work directory outside the checkout that persists",
              "a directory on persistent storage (not /tmp, not the runner's _work); repository variable "
              "CAMPAIGNOPS_WORKDIR (Settings → Secrets and variables → Actions → Variables)"),
    SetupStep("identity", "Choose the git identity of the runner's commits",
              "nothing to do to commit as github-actions[bot]; else `git config --global user.name …` and "
              "`user.email …` as the runner's user"),
    SetupStep("records", "Decide where the ledgers are committed: main, or a record branch",
              "main unprotected: nothing to do; a protected main: repository variable "
              "CAMPAIGNOPS_RECORD_BRANCH=records (the branch need not exist: the first `campaign publish` makes it)"
              " or a GitHub App on main's bypass list (APP_CLIENT_ID, APP_PRIVATE_KEY)"),
    SetupStep("token", "Let the jobs' token write what they record",
              "nothing while the workflows keep their `permissions:` blocks (contents: write, issues: write): a job's "
              "block sets its token's rights whatever the default of Settings → Actions → General → Workflow "
              "permissions; for `campaign doctor --setup` to read runners, variables and Actions permissions, the "
              "secret CAMPAIGNOPS_DOCTOR_TOKEN (a token with Administration: read and Variables: read)"),
    SetupStep("facility", "Give the runner the facility's credentials (PanDA token, Slurm)",
              "PanDA: `panda_auth status` as the runner's user (a token in $PANDA_CONFIG_ROOT/.token), PANDA_URL "
              "in the runner's .env; Slurm: `squeue` answers as the runner's user"),
    SetupStep("forks", "Keep fork pull requests off the runner",
              "a private repository; or Organization settings → Actions → Runner groups → the group → "
              "Workflow access: Selected workflows (status, submit, retry, weekly-ci-hsc, housekeeping)"),
    SetupStep("first-campaign", "Propose the first campaign in a pull request and merge it",
              "a branch changing campaigns/<name>/campaign.yaml; the validate job posts the plan; merging "
              "submits it (submit.yml)"),
)


def step(key: str) -> SetupStep:
    """The step named `key` (a KeyError names a check that lost its step)."""
    for s in CHECKLIST:
        if s.key == key:
            return s
    raise KeyError(key)


__all__ = ["CHECKLIST", "SetupStep", "step"]
