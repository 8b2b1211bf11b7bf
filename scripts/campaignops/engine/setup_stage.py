"""The set-up stage: build a campaign's fresh Butler repository before its first step (butler.setup).

A weekly ci_hsc instance gets a repository of its own (RTN-024 §4): the template names it with
{campaign}, and its commands (create the repository, register the instrument and skymap, ingest or
import the inputs) run here, on the site's runner, under the campaign's stack, in the job that would
otherwise submit step 1. The stage is recorded in the ledger before it starts and when it ends, so a
killed job is seen (RUNNING with no live process), and it never runs over a repository that exists.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

from ..campaign_spec.rules import rooted
from ..domain.errors import SubmitError
from ..domain.logtext import first_error_lines
from ..domain.states import RunState
from ..ledger.records import Ledger, SetupRecord
from . import stacks
from .context import Context

LOG = "setup.log"
PID = "setup.pid"
# The shell records its pid with its start time (field 22 of /proc/<pid>/stat; bash's name has no spaces)
# and the boot time, in the pid file's format (adapters/processes.py): a reused pid is not taken for it.
_OWN_PID = (f"echo $$ $(cut -d' ' -f22 /proc/$$/stat) $(sed -n 's/^btime //p' /proc/stat) > {PID}.id "
            f"&& mv -f {PID}.id {PID}")


def needed(ctx: Context, ledger: Ledger) -> bool:
    """The campaign builds its own repository and it is not built yet."""
    return bool(ctx.campaign.butler_setup) and (ledger.setup is None or ledger.setup.state != RunState.SUCCEEDED)


def _dir(ctx: Context) -> Path:
    return ctx.workdir / ctx.campaign.name / "setup"


def commands(ctx: Context) -> list[str]:
    campaign = ctx.campaign
    repo = str(rooted(campaign.butler_repo, ctx.root))
    return [c.replace("{repo}", shlex.quote(repo)).replace("{campaign}", campaign.name)
            .replace("{stack}", campaign.stack_tag) for c in campaign.butler_setup]


def ensure(ctx: Context, ledger: Ledger, *, again: bool = False) -> Ledger:
    """Run the stage if the repository is not built yet (and this job may launch); returns the ledger.

    A stage that FAILED, or was interrupted, is started again only with `again` (`campaign setup
    --again`), after the operator has looked: its half-built repository must be removed first.
    """
    if not needed(ctx, ledger):
        return ledger
    record = ledger.setup
    repo = Path(rooted(ctx.campaign.butler_repo, ctx.root))
    folder = _dir(ctx)
    if record is not None and record.state == RunState.RUNNING:
        if ctx.process_running is not None and ctx.process_running(folder / PID):
            ctx.say(f"  set-up stage of {ctx.campaign.name} still running (log: {record.log})")
            return ledger
        record = replace(record, state=RunState.FAILED, ended_at=ctx.now(),
                         message="interrupted: the job running the set-up stage ended before it finished")
        ledger = replace(ledger, setup=record)
        ctx.save(ledger)
    if record is not None and record.state == RunState.FAILED and not again:
        ctx.say(f"  set-up stage FAILED: {record.message}; fix the cause, remove {record.repo} if it was "
                f"half built, then `campaign setup {ctx.campaign.name} --again`")
        return ledger
    stacks.refuse_unpublished(ctx, ("",))  # its commands run under the campaign's stack
    if not ctx.may_launch or ctx.dry_run:
        ctx.say(f"  would build the fresh repository {repo} ({len(ctx.campaign.butler_setup)} command(s))")
        return ledger
    if repo.is_file() or (repo.is_dir() and any(repo.iterdir())):
        raise SubmitError(f"the set-up stage builds a fresh repository, but {repo} already exists: give "
                          f"butler.repo a {{campaign}} placeholder so each instance gets its own, or remove it")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / LOG
    number = record.attempt + 1 if record is not None else 1
    ledger = replace(ledger, setup=SetupRecord(RunState.RUNNING, str(repo), ctx.now(), log=str(log), attempt=number))
    ctx.save(ledger)  # the intent is on disk before anything runs
    ctx.say(f"  set-up stage: building {repo}")
    failed = _run(ctx, commands(ctx), log, folder)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert ledger.setup is not None
    if failed:
        done = replace(ledger.setup, state=RunState.FAILED, ended_at=ctx.now(), message=failed,
                       errors=tuple(first_error_lines(text)))
        ctx.say(f"  set-up stage FAILED: {failed}")
    else:
        done = replace(ledger.setup, state=RunState.SUCCEEDED, ended_at=ctx.now(),
                       message=f"{len(ctx.campaign.butler_setup)} command(s) ran")
        ctx.say(f"  set-up stage done: {repo}")
    ledger = replace(ledger, setup=done)
    ctx.save(ledger)
    return ledger


def _run(ctx: Context, steps: list[str], log: Path, folder: Path) -> str:
    """Run the commands one by one, output to `log`; '' on success, else what failed."""
    stack = ctx.campaign.setup_command().strip()
    with open(log, "a", encoding="utf-8") as out:
        for i, command in enumerate(steps, 1):
            out.write(f"# {ctx.now()} campaignops set-up {i}/{len(steps)}: {command}\n")
            out.flush()
            script = f"{stack} && {command}" if stack else command
            proc = subprocess.Popen(["bash", "-c", f"{_OWN_PID} && {script}"], cwd=folder, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if proc.wait() != 0:
                return f"command {i} of {len(steps)} exited {proc.returncode}: {command} (see {log})"
    return ""


__all__ = ["commands", "ensure", "needed"]
