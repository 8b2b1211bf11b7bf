"""What `campaign doctor --setup` learns on the runner, one group per checklist step: the environment Actions (or the
runner's .env) sets, this Python's installed packages, the work directory, git (identity, the record branch on the
remote), the GitHub REST API (the repository, its Actions permissions, runners and variables, issues), the PanDA
token and one `squeue` call. Judged by engine/doctor_setup.py."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from ..domain.errors import CampaignError, WmsError
from ..domain.model import Profile
from ..domain.runner import Runner, SetupFacts
from .git.repo import Git
from .github.client import GitHubClient, GitHubError, token_from_env
from .github.runner_facts import gather as gather_forks
from .panda.token import read_token
from .slurm.scheduler import SlurmScheduler

LABEL_VARIABLE = "CAMPAIGNOPS_RUNNER_LABEL"
SITES_VARIABLE = "CAMPAIGNOPS_SITES"  # a runner per facility: the facilities, a JSON list
DEFAULT_LABEL = "usdf"
# Folders that do not outlive a job or a reboot besides $TMPDIR (else /tmp: tempfile.gettempdir) and RUNNER_TEMP.
TEMPORARY = ("/dev/shm",)


def pinned_middleware() -> tuple[tuple[str, str], ...]:
    """(distribution, version) of every `==` pin of campaignops's `lsst` extra (pyproject.toml)."""
    try:
        requires = metadata.requires("campaignops") or []
    except metadata.PackageNotFoundError:
        return ()
    pins = []
    for req in requires:
        m = re.match(r"^([A-Za-z0-9._-]+)==([^;\s]+)\s*;\s*extra\s*==\s*['\"]lsst['\"]", req)
        if m:
            pins.append((m.group(1), m.group(2)))
    return tuple(pins)


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _repository(env: Mapping[str, str], root: Path, repo: str | None) -> str | None:
    """--repo, else GITHUB_REPOSITORY, else OWNER/NAME of the origin remote when it is on GitHub."""
    if repo or env.get("GITHUB_REPOSITORY"):
        return repo or env["GITHUB_REPOSITORY"]
    url = Git(root).run("config", "--get", "remote.origin.url", check=False).stdout.strip()  # as written: no insteadOf
    m = re.search(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$", url)
    return m.group(1) if m else None


def _github(facts: SetupFacts, env: Mapping[str, str], admin_token: str) -> SetupFacts:
    """The steps GitHub answers: repository, actions allowed, runners and the label variable, token rights."""
    repo = facts.repository
    token = token_from_env(dict(env))
    if not repo:
        note = "no repository to ask about (step 1)"
        return replace(facts, actions_note=note, runners_note=note, token_note=note)
    if not token:
        note = "no GITHUB_TOKEN / GH_TOKEN to ask GitHub with"
        return replace(facts, repository_note=note, actions_note=note, runners_note=note, token_note=note)
    client = GitHubClient(token=token, max_tries=2)
    admin = GitHubClient(token=env[admin_token], max_tries=2) if env.get(admin_token) else client
    try:
        info: dict[str, Any] = client.get(f"/repos/{repo}")
    except GitHubError as exc:
        return replace(facts, repository_note=f"GitHub answered {exc.status}: {exc}"
                       if exc.status == 404 else f"{exc} (check the token)")
    permissions = info.get("permissions")
    facts = replace(facts, can_push=bool(permissions.get("push")) if isinstance(permissions, dict) else None,
                    token_note="" if isinstance(permissions, dict) else "GitHub gave no `permissions` for this token")
    try:
        client.get(f"/repos/{repo}/issues", {"per_page": 1, "state": "all"})
        facts = replace(facts, can_read_issues=True)
    except GitHubError as exc:
        facts = replace(facts, can_read_issues=False if exc.status in (401, 403, 404) else None,
                        token_note=str(exc))
    cannot = (f"needs a token with the repository's Administration: read permission in {admin_token} "
              "(Actions' token cannot read it)")
    try:
        allowed: dict[str, Any] = admin.get(f"/repos/{repo}/actions/permissions")
        kind = str(allowed.get("allowed_actions") or "all")
        owned = None
        if kind == "selected":
            owned = bool(admin.get(f"/repos/{repo}/actions/permissions/selected-actions").get("github_owned_allowed"))
        facts = replace(facts, actions_enabled=bool(allowed.get("enabled", True)), allowed_actions=kind,
                        github_owned_allowed=owned)
    except GitHubError as exc:
        facts = replace(facts, actions_note=cannot if exc.status in (401, 403, 404) else str(exc))
    if facts.label_source == "default":
        try:
            value = str(admin.get(f"/repos/{repo}/actions/variables/{LABEL_VARIABLE}").get("value") or "")
            if value:
                facts = replace(facts, runner_label=value, label_source="repository variable")
        except GitHubError:
            pass  # unset (404) or unreadable: the workflows' default label
    facts = _site_labels(facts, admin, repo)
    try:
        listed: dict[str, Any] = admin.get(f"/repos/{repo}/actions/runners", {"per_page": 100})
        runners = tuple(Runner(str(r.get("name")), str(r.get("status")),
                               tuple(str(lab.get("name")) for lab in r.get("labels", [])))
                        for r in listed.get("runners", []))
        facts = replace(facts, runners=runners)
    except GitHubError as exc:
        facts = replace(facts, runners_note=cannot if exc.status in (401, 403, 404) else str(exc))
    return facts


def _site_labels(facts: SetupFacts, admin: GitHubClient, repo: str) -> SetupFacts:
    """A runner per facility: the repository variable CAMPAIGNOPS_SITES (a JSON list), and each facility's label as
    the workflows compute it — CAMPAIGNOPS_RUNNER_LABEL_<SITE>, else the facility's name."""
    try:
        sites = json.loads(str(admin.get(f"/repos/{repo}/actions/variables/{SITES_VARIABLE}").get("value") or "[]"))
    except (GitHubError, ValueError):
        return facts  # unset (404), unreadable or not JSON: one runner for every site
    labels = []
    for site in (str(s) for s in sites if s) if isinstance(sites, list) else ():
        try:
            label = str(admin.get(f"/repos/{repo}/actions/variables/{LABEL_VARIABLE}_{site}").get("value") or site)
        except GitHubError:
            label = site
        labels.append((site, label))
    return replace(facts, site_labels=tuple(labels))


def _record_branch(facts: SetupFacts, root: Path) -> SetupFacts:
    if not facts.record_branch:
        return facts
    proc = Git(root).run("ls-remote", "--heads", "origin", f"refs/heads/{facts.record_branch}", check=False)
    if proc.returncode != 0:
        return replace(facts, record_note=proc.stderr.strip() or f"git ls-remote exited {proc.returncode}")
    return replace(facts, record_branch_exists=bool(proc.stdout.strip()))


def _workdir(facts: SetupFacts, env: Mapping[str, str]) -> SetupFacts:
    where = env.get("CAMPAIGNOPS_WORKDIR")
    temporary = tuple(sorted({str(Path(t).resolve()) for t in (tempfile.gettempdir(), *TEMPORARY,
                                                                env.get("RUNNER_TEMP", "")) if t}))
    if not where:
        return replace(facts, temporary=temporary)
    path = Path(where).expanduser().resolve()
    return replace(facts, workdir=str(path), workdir_exists=path.is_dir(),
                   workdir_writable=path.is_dir() and os.access(path, os.W_OK | os.X_OK), temporary=temporary)


def _facility(facts: SetupFacts, env: Mapping[str, str]) -> SetupFacts:
    if facts.panda_in_use:
        try:
            token = read_token(env)
        except CampaignError as exc:
            return replace(facts, panda_token_source=str(exc))
        if token is not None:
            facts = replace(facts, panda_token_expires=token.expires_at, panda_token_source=token.source)
    if facts.slurm_in_use:
        try:
            SlurmScheduler(env).jobs()  # one squeue call (and the jobcomp log), as a status cycle makes
        except WmsError as exc:
            facts = replace(facts, slurm_problem=str(exc))
    return facts


def gather_setup(env: Mapping[str, str], root: Path, repo: str | None, admin_token: str, *,
                 profiles: tuple[Profile, ...], site: str, campaigns: int, submitted: int) -> SetupFacts:
    """Every fact the setup checks judge; what cannot be had is a note. `profiles` are those the campaigns use;
    `campaigns` and `submitted` count campaigns and those with a ledger."""
    wms = {p.wms.value for p in profiles}
    venv = env.get("CAMPAIGNOPS_VENV") or None
    pins = pinned_middleware()
    label = env.get(LABEL_VARIABLE)
    git = Git(root)
    repository = _repository(env, root, repo)
    facts = SetupFacts(
        repository=repository,
        repository_note="" if repository else "pass --repo OWNER/NAME, set GITHUB_REPOSITORY, or add the GitHub "
                                               "remote as origin",
        runner_label=label or DEFAULT_LABEL, label_source=LABEL_VARIABLE if label else "default",
        in_job=env.get("GITHUB_ACTIONS") == "true" and env.get("RUNNER_ENVIRONMENT") == "self-hosted",
        runner_name=env.get("RUNNER_NAME") or None,
        venv=venv, venv_python=venv is not None and os.access(Path(venv) / "bin" / "python", os.X_OK),
        prefix=str(Path(sys.prefix).resolve()), pinned=pins, installed=tuple((n, _installed(n)) for n, _ in pins),
        checkout=str(root.resolve()),
        git_name=git.run("config", "user.name", check=False).stdout.strip(),
        git_email=git.run("config", "user.email", check=False).stdout.strip(),
        record_branch=env.get("CAMPAIGNOPS_RECORD_BRANCH", ""),
        profiles=profiles, panda_env=tuple(sorted((k, v) for k, v in env.items() if k.startswith("PANDA"))),
        panda_in_use="panda" in wms, slurm_in_use="slurm" in wms, site=site,
        campaigns=campaigns, submitted=submitted)
    if venv:
        facts = replace(facts, venv=str(Path(venv).resolve()))
    facts = _workdir(facts, env)
    facts = _record_branch(facts, root)
    facts = _github(facts, env, admin_token)
    facts = _facility(facts, env)
    return replace(facts, forks=gather_forks(env, facts.repository, admin_token))


__all__ = ["gather_setup", "pinned_middleware"]
