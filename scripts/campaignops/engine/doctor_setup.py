"""`campaign doctor --setup`: one check per step of the set-up checklist (domain/checklist.py), each a pure function of
the `SetupFacts` the adapter gathered, and which step is next.

A check says OK, an ERROR (the step is not done: what to do), a WARNING (works, but not as it should), or
"could not check" (the facts could not be had: how to check by hand)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from ..domain.checklist import CHECKLIST, step
from ..domain.runner import Runner, SetupFacts
from .doctor import Finding, Level, check_public_runner
from .doctor_panda import check_token, panda_setup_problems

SetupCheck = Callable[[SetupFacts, datetime], Finding]


def _finding(key: str, level: Level, message: str, fix: str = "") -> Finding:
    s = step(key)
    return Finding(f"{s.number}. {s.title}", level, message, fix or (s.where if level != Level.OK else ""))


def check_repository(facts: SetupFacts, now: datetime) -> Finding:
    if facts.repository is None:
        return _finding("repository", Level.ERROR, f"no GitHub repository known ({facts.repository_note})")
    if facts.repository_note:
        return _finding("repository", Level.UNKNOWN if "token" in facts.repository_note else Level.ERROR,
                        f"{facts.repository}: {facts.repository_note}")
    return _finding("repository", Level.OK, f"{facts.repository} is on GitHub")


def check_actions(facts: SetupFacts, now: datetime) -> Finding:
    if facts.actions_enabled is None:
        return _finding("actions", Level.UNKNOWN, f"could not read the repository's Actions permissions "
                                                  f"({facts.actions_note or 'not asked'})")
    if not facts.actions_enabled:
        return _finding("actions", Level.ERROR, "GitHub Actions is disabled for this repository")
    if facts.allowed_actions == "local_only" or (facts.allowed_actions == "selected"
                                                 and facts.github_owned_allowed is False):
        return _finding("actions", Level.ERROR, f"only {facts.allowed_actions.replace('_', ' ')} actions may run: "
                                                "the workflows' actions/checkout and the others would be refused")
    return _finding("actions", Level.OK, f"actions allowed: {facts.allowed_actions}")


def check_runner(facts: SetupFacts, now: datetime) -> Finding:
    label, source = facts.runner_label, facts.label_source
    said = f"label {label!r} ({source})"
    if facts.in_job:
        return _finding("runner", Level.OK, f"this job runs on a self-hosted runner with {said}")
    if facts.runners is None:
        return _finding("runner", Level.UNKNOWN, f"could not list the repository's runners ({facts.runners_note}); "
                                                 f"the jobs ask for [self-hosted, {label}]")
    if facts.site_labels and not facts.runner_name:
        return _per_facility(facts, facts.runners)
    mine = [r for r in facts.runners if facts.runner_name in (None, r.name)]
    fit = [r for r in mine if {"self-hosted", label} <= set(r.labels)]
    if not fit:
        who = f"runner {facts.runner_name!r}" if facts.runner_name else "no runner of the repository"
        have = "; ".join(f"{r.name}: {', '.join(r.labels)}" for r in mine) or "none registered"
        return _finding("runner", Level.ERROR, f"{who} has {said}: the self-hosted jobs would wait and be "
                                               f"cancelled after 24 h (runners: {have})")
    if not any(r.status == "online" for r in fit):
        return _finding("runner", Level.WARNING, f"{', '.join(r.name for r in fit)} with {said} is offline: start "
                                                 "it (./run.sh, or its service)")
    return _finding("runner", Level.OK, f"{', '.join(r.name for r in fit if r.status == 'online')} online with {said}")


def _per_facility(facts: SetupFacts, runners: tuple[Runner, ...]) -> Finding:
    """A runner per facility (CAMPAIGNOPS_SITES): each facility's jobs ask for [self-hosted, <its label>]."""
    missing, offline, online = [], [], []
    for site, label in facts.site_labels:
        fit = [r for r in runners if {"self-hosted", label.lower()} <= {x.lower() for x in r.labels}]  # GitHub: any case
        if not fit:
            missing.append(f"{site} (label {label!r})")
        elif not any(r.status == "online" for r in fit):
            offline.append(f"{site}: {', '.join(r.name for r in fit)}")
        else:
            online.append(f"{site}: {', '.join(r.name for r in fit if r.status == 'online')}")
    if missing:
        have = "; ".join(f"{r.name}: {', '.join(r.labels)}" for r in runners) or "none registered"
        return _finding("runner", Level.ERROR, f"a runner per facility (CAMPAIGNOPS_SITES): no runner for "
                                               f"{', '.join(missing)}: that facility's jobs would wait and be "
                                               f"cancelled after 24 h (runners: {have})")
    if offline:
        return _finding("runner", Level.WARNING, f"a runner per facility: offline — {'; '.join(offline)}: start it "
                                                 "(./run.sh, or its service)")
    return _finding("runner", Level.OK, f"a runner per facility, each online: {'; '.join(online)}")


def check_venv(facts: SetupFacts, now: datetime) -> Finding:
    if not facts.venv:
        return _finding("venv", Level.ERROR, "CAMPAIGNOPS_VENV is not set in the runner's environment")
    if not facts.venv_python:
        return _finding("venv", Level.ERROR, f"CAMPAIGNOPS_VENV={facts.venv} has no bin/python")
    if not facts.pinned:
        return _finding("venv", Level.UNKNOWN, "this campaignops declares no pinned middleware (is it installed as a "
                                               "package? `pip show campaignops`)")
    wrong = [f"{name} {have or 'missing'} (pinned {want})" for (name, want), (_, have) in
             zip(facts.pinned, facts.installed, strict=True) if have != want]
    if wrong:
        return _finding("venv", Level.ERROR, f"the middleware here is not the pinned weekly: {'; '.join(wrong)}",
                        f"install it into {facts.venv}: `{facts.venv}/bin/pip install 'campaignops[lsst] …'` "
                        "(the requirement of requirements.txt with the lsst extra)")
    pinned = facts.pinned[0][1]
    if facts.prefix and facts.prefix.rstrip("/") != facts.venv.rstrip("/"):
        return _finding("venv", Level.WARNING, f"the middleware is pinned {pinned}, but this `campaign` runs from "
                                               f"{facts.prefix}, not CAMPAIGNOPS_VENV={facts.venv}",
                        f"run `{facts.venv}/bin/campaign doctor --setup` to check the venv the jobs use")
    return _finding("venv", Level.OK, f"{facts.venv} holds the middleware pinned by campaignops ({pinned}, "
                                      f"{len(facts.pinned)} packages)")


def _inside(path: str, folder: str) -> bool:
    folder = folder.rstrip("/")
    return bool(folder) and (path == folder or path.startswith(folder + "/"))


def check_workdir(facts: SetupFacts, now: datetime) -> Finding:
    where = facts.workdir
    if not where:
        return _finding("workdir", Level.ERROR, "CAMPAIGNOPS_WORKDIR is not set: launch directories and locks need "
                                                "one place every job finds")
    if _inside(where, facts.checkout):
        return _finding("workdir", Level.ERROR, f"CAMPAIGNOPS_WORKDIR={where} is inside the checkout {facts.checkout}, "
                                                "which actions/checkout cleans: live runs would be taken for lost")
    temporary = next((t for t in facts.temporary if _inside(where, t)), None)
    if temporary:
        return _finding("workdir", Level.ERROR, f"CAMPAIGNOPS_WORKDIR={where} is under {temporary}, which does not "
                                                "outlive the job or a reboot")
    if facts.workdir_exists and not facts.workdir_writable:
        return _finding("workdir", Level.ERROR, f"CAMPAIGNOPS_WORKDIR={where} is not writable by this user")
    made = "" if facts.workdir_exists else " (not made yet: the first job makes it)"
    return _finding("workdir", Level.OK, f"CAMPAIGNOPS_WORKDIR={where}{made}")


def check_identity(facts: SetupFacts, now: datetime) -> Finding:
    if facts.git_email:
        return _finding("identity", Level.OK, f"commits by {facts.git_name or '(no name)'} <{facts.git_email}>")
    return _finding("identity", Level.OK, "no git identity set: `campaign publish` commits as github-actions[bot]")


def check_records(facts: SetupFacts, now: datetime) -> Finding:
    if not facts.record_branch:
        return _finding("records", Level.OK, "ledgers are committed to main (CAMPAIGNOPS_RECORD_BRANCH unset); a "
                                             "protected main refuses them: then set it")
    if facts.record_branch_exists is None:
        return _finding("records", Level.UNKNOWN, f"could not ask the remote for {facts.record_branch} "
                                                  f"({facts.record_note})")
    if not facts.record_branch_exists:
        return _finding("records", Level.OK, f"record branch {facts.record_branch} does not exist yet: the first "
                                             "`campaign publish` makes it from main (nothing to do)")
    return _finding("records", Level.OK, f"record branch {facts.record_branch} exists")


def check_token_permissions(facts: SetupFacts, now: datetime) -> Finding:
    if facts.can_read_issues is False:
        return _finding("token", Level.ERROR, f"the token cannot read the repository's issues ({facts.token_note})",
                        "give the job `issues: write` (status.yml has it) or a token that may")
    if facts.can_push is False:
        return _finding("token", Level.ERROR, "the token may not push to the repository: ledgers could not be "
                                              "committed", "give the job `contents: write` (every self-hosted job "
                                                           "has it), or use a token of someone with write access")
    if facts.can_push is None:
        return _finding("token", Level.UNKNOWN, f"GitHub did not say whether the token may push ({facts.token_note}); "
                                                "an Actions token may what the job's `permissions:` grant")
    return _finding("token", Level.OK, "the token may push and read issues")


def check_facility(facts: SetupFacts, now: datetime) -> Finding:
    if not facts.panda_in_use and not facts.slurm_in_use:
        return _finding("facility", Level.OK, "no campaign uses a PanDA or Slurm profile: nothing to reach")
    said = []
    if facts.slurm_in_use:
        if facts.slurm_problem:
            return _finding("facility", Level.ERROR, f"Slurm does not answer: {facts.slurm_problem}",
                            "make `squeue` work as the runner's user (slurm client, munge key, slurm.conf)")
        said.append("squeue answers")
    if facts.panda_in_use:
        problems = panda_setup_problems(facts.profiles, dict(facts.panda_env))
        if problems:
            return _finding("facility", Level.ERROR, "; ".join(problems))
        token = check_token(facts.panda_token_expires, now, site=facts.site, source=facts.panda_token_source)
        if token.level in ("missing", "issue"):
            return _finding("facility", Level.ERROR, token.message)
        if token.level == "warn":
            return _finding("facility", Level.WARNING, token.message)
        said.append(token.message)
    return _finding("facility", Level.OK, "; ".join(said))


def check_forks(facts: SetupFacts, now: datetime) -> Finding:
    [found] = check_public_runner(facts.forks)
    return _finding("forks", found.level, found.message, found.fix)


def check_first_campaign(facts: SetupFacts, now: datetime) -> Finding:
    if facts.submitted:
        return _finding("first-campaign", Level.OK, f"{facts.submitted} of {facts.campaigns} campaigns submitted "
                                                    "(they have a ledger)")
    return _finding("first-campaign", Level.WARNING, f"{facts.campaigns} campaigns, none submitted yet")


SETUP_CHECKS: dict[str, SetupCheck] = {
    "repository": check_repository,
    "actions": check_actions,
    "runner": check_runner,
    "venv": check_venv,
    "workdir": check_workdir,
    "identity": check_identity,
    "records": check_records,
    "token": check_token_permissions,
    "facility": check_facility,
    "forks": check_forks,
    "first-campaign": check_first_campaign,
}


def run_setup_checks(facts: SetupFacts, now: datetime) -> list[Finding]:
    """One finding per checklist step, in the checklist's order."""
    return [SETUP_CHECKS[s.key](facts, now) for s in CHECKLIST]


def next_step(findings: Sequence[Finding]) -> Finding | None:
    """The first step not done (an error or a warning), else the first that could not be checked, else None."""
    for levels in ((Level.ERROR, Level.WARNING), (Level.UNKNOWN,)):
        for f in findings:
            if f.level in levels:
                return f
    return None


__all__ = ["SETUP_CHECKS", "next_step", "run_setup_checks"]
