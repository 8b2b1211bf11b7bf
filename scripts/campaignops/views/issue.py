"""What a failure issue says: title, facts, per-task table, first error lines, how to retry (markdown)."""

from __future__ import annotations

from ..domain.actions import LAUNCHING
from ..domain.logtext import logs_named
from ..domain.markers import acted_marker, attempt_marker, run_key, run_marker
from ..domain.model import Campaign
from ..domain.states import RunState
from ..ledger.records import Attempt, RuleDecision, RunRecord
from .markdown import cell as _cell
from .markdown import fence as _fence

MAX_BODY = 65_536  # GitHub's limit for an issue or comment body
BODY_BUDGET = 60_000  # what we aim for, leaving room for markers and the truncation note
MAX_ERROR_LINES = 200
MAX_LINE = 500
MAX_LOGS = 5
DEFAULT_RETRY_HINT = ("Run these from the repository root on the site's runner (where the campaign "
                      "was submitted), or from GitHub: Actions → retry → Run workflow, with this campaign, "
                      "the run and the action (retry / more-memory / rescue).")


def failing_labels(attempt: Attempt) -> list[str]:
    labels = [label for label, _ in attempt.failed_tasks()]
    if not labels:
        labels = [label for label, codes in attempt.exit_codes if any(codes)]
    return labels




def decision_text(decision: RuleDecision) -> str:
    """The failure rules' decision and where it stands: done, waiting (and why, or until when), or not done."""
    if decision.note:
        done = f"done {decision.acted_at}; " if decision.done and decision.action in LAUNCHING else ""
        return f"{decision.text} ({done}{decision.note})"
    if decision.action in LAUNCHING:
        if decision.done:
            return f"{decision.text} (done {decision.acted_at})"
        return f"{decision.text} ({f'due {decision.due_at}' if decision.due_at else 'at the next reconcile'})"
    return decision.text


def reported_attempt(record: RunRecord) -> Attempt | None:
    """The attempt a failure issue is about: the current one when it failed or is blocked, else the failed one
    the failure rules just retried (the new attempt still runs), so the issue shows what the rules did."""
    current = record.current
    if current is None:
        return None
    if current.state in (RunState.FAILED, RunState.HELD) or current.hanging:
        return current
    if current.state.finished or len(record.attempts) < 2:
        return None
    previous = record.attempts[-2]
    return previous if previous.state == RunState.FAILED and acted(previous) else None
    return None


def decision_note(record: RunRecord) -> str:
    """A short note for a run's row in STATUS.md and `campaign status`: what the failure rules decided of its
    failed current attempt, or of the failure its current attempt retries ("" when nothing)."""
    current = record.current
    if current is None:
        return ""
    if current.decision is not None:
        return decision_text(current.decision)
    previous = record.attempts[-2].decision if len(record.attempts) > 1 else None
    if previous is not None and previous.done and previous.action in LAUNCHING:
        return previous.text
    return ""


def _acted(attempt: Attempt) -> str:
    """The marker of an action the failure rules took on this attempt, when they did (so it is said once)."""
    return f"{acted_marker(attempt.number)}\n" if acted(attempt) else ""


def acted(attempt: Attempt) -> bool:
    """The failure rules launched a new attempt for this failed one."""
    decision = attempt.decision
    return decision is not None and decision.done and decision.action in LAUNCHING


def acted_comment(record: RunRecord, attempt: Attempt) -> str:
    """The comment on a failure issue once the failure rules acted on a failure the issue already reported."""
    assert attempt.decision is not None
    return (f"{acted_marker(attempt.number)}\n**Failure rules**: {_cell(attempt.decision.text)} — done by "
            f"`campaign reconcile` at {attempt.decision.acted_at} for the failure of attempt {attempt.number} of "
            f"`{record.key}`, with no command typed. This issue is closed when the run succeeds.\n")


def decision_lines(attempt: Attempt) -> list[str]:
    """The failure rules' section of an issue body or comment."""
    decision = attempt.decision
    if decision is None:
        return []
    lines = ["### Failure rules", "", f"**{_cell(decision_text(decision))}**", ""]
    if decision.action in LAUNCHING and decision.done:
        lines += [f"`campaign reconcile` acted on it at {decision.acted_at}, with no command typed; this issue is "
                  "closed when the run succeeds, and says so here if the new attempt fails too.", ""]
    elif decision.action in LAUNCHING:
        lines += ["`campaign reconcile` acts on it when it is due (nothing to type); the commands below act now.", ""]
    elif decision.action == "accept" and decision.done:
        lines += ["The run is accepted as it ended (recorded as a control by the rule); `campaign reopen` undoes it.",
                  ""]
    elif decision.action == "hold" and decision.done:
        lines += ["The campaign is on hold: nothing new is launched until someone runs `campaign resume`.", ""]
    else:
        lines += ["Nothing is done automatically: a person decides (see below). `campaign explain` shows every rule "
                  "tried and why.", ""]
    return lines


def title_for(campaign: str, record: RunRecord, attempt: Attempt) -> str:
    if attempt.hanging:
        return f"[{campaign}] {record.step} {record.group} blocked: bps submit hangs (attempt {attempt.number})"
    if attempt.state == RunState.HELD:
        return f"[{campaign}] {record.step} {record.group} blocked: jobs held (attempt {attempt.number})"
    labels = failing_labels(attempt)
    what = ", ".join(labels[:4]) + (f" +{len(labels) - 4} more" if len(labels) > 4 else "")
    title = f"[{campaign}] {record.step} {record.group} failed: {what or 'no quantum ran (see the issue)'}"
    return title if len(title) <= 256 else title[:253] + "..."


def retry_commands(campaign: str, record: RunRecord) -> list[tuple[str, str]]:
    """(command, when it fits) for the current attempt: a restart only when bps created the run, since
    `bps restart` of a submission that never reached the WMS cannot work."""
    key = record.key
    step, _, group = key.partition("/")
    current = record.current
    settle = (f"campaign skip {campaign} {key} --reason \"...\"",
              "give up on this run (recorded with who and why); later steps stop waiting for it")
    if current is not None and not current.reached_wms:
        return [(f"supersede: {{{group}: \"<why>\"}}",
                 f"the cause is in the spec (a path, a config): fix it and add this to step {step} in the same "
                 "pull request; a new attempt starts with the fixed spec"),
                (f"campaign resubmit {campaign} {key} --reason \"...\"",
                 "the cause was outside the spec (stack, disk, credentials) and is fixed: a fresh attempt"),
                settle]
    return [(f"campaign retry {campaign} {key}", "restart: re-run what failed (transient or fixed cause)"),
            (f"campaign retry {campaign} {key} --memory-multiplier 2",
             "out of memory: resubmit with twice the memory"),
            (f"campaign rescue {campaign} {key}", "re-run only the failed quanta into a new output run"),
            (f"campaign accept {campaign} {key} --reason \"...\"",
             "the failures are known and tolerable: take the run as it is; later steps proceed"),
            settle]


def _task_table(attempt: Attempt) -> list[str]:
    if not attempt.tasks:
        return [("No per-task counts were reported for this attempt (nothing ran, or the WMS report was "
                 "empty): see the message and the logs.")]
    lines = ["| task | succeeded | failed | other |", "|---|---:|---:|---:|"]
    for t in attempt.tasks:
        ok, bad = t.get("SUCCEEDED"), t.get("FAILED")
        mark = " ❌" if bad else ""
        lines.append(f"| `{_cell(t.label)}`{mark} | {ok} | {bad} | {t.total - ok - bad} |")
    lines.append(f"| **total** | {sum(t.get('SUCCEEDED') for t in attempt.tasks)} | "
                 f"{attempt.failed_quanta()} | "
                 f"{attempt.total_quanta() - sum(t.get('SUCCEEDED') for t in attempt.tasks) - attempt.failed_quanta()}"
                 " |")
    return lines


MAX_JOBS = 20


def failed_jobs_table(attempt: Attempt, limit: int = MAX_JOBS, heading: str = "### ") -> list[str]:
    """The WMS's failed jobs (PanDA): error codes and diagnostics, attempt, memory and each job's log."""
    if not attempt.failed_jobs:
        return []
    title = f"Failed jobs (attempt {attempt.number})"
    lines = [f"{heading}{title}" if heading else f"{title}:", "",
             "| task | job | attempt | errors | memory MB (peak / asked) | log |", "|---|---|---|---|---|---|"]
    for job in attempt.failed_jobs[:limit]:
        tries = f"{job.attempt}/{job.max_attempts}" if job.max_attempts else str(job.attempt or "")
        errors = "; ".join(job.errors) or (f"exit code {job.exit_code}" if job.exit_code else "none recorded")
        memory = f"{job.maxpss_mb or '?'} / {job.request_mb or '?'}" if job.maxpss_mb or job.request_mb else ""
        log = f"[log]({job.log_url})" if job.log_url else ""
        lines.append(f"| `{_cell(job.task)}` | {_cell(job.job_id)} | {tries} | {_cell(errors[:MAX_LINE])} | "
                     f"{memory} | {log} |")
    if len(attempt.failed_jobs) > limit:
        lines.append(f"_{len(attempt.failed_jobs) - limit} more failed job(s): see the failed jobs link above._")
    return [*lines, ""]


def _error_block(attempt: Attempt, budget: int) -> list[str]:
    """The first error lines of failed quanta in a code block, cut to fit `budget` characters."""
    if not attempt.errors:
        return []
    lines = [line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …" for line in attempt.errors]
    fence = _fence(lines)
    kept: list[str] = []
    used = 2 * len(fence) + 200
    for line in lines[:MAX_ERROR_LINES]:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    out = ["### First error lines of the failed quanta", "", fence + "text", *kept, fence]
    dropped = len(lines) - len(kept)
    if dropped:
        where = f" in `{attempt.submit_dir}`" if attempt.submit_dir else ""
        out.append(f"_{dropped} more line(s) not shown: read the full logs{where}._")
    return out


def describe(campaign: Campaign, record: RunRecord, attempt: Attempt, *, retry_hint: str,
             heading: str) -> str:
    """Markdown for one failing (or held) attempt: what failed, where the logs are, how to retry."""
    name = campaign.name
    lines = [f"{heading}", ""]
    facts = [
        ("campaign", (f"`{name}` (site {campaign.profile.site}, profile `{campaign.profile.name}`, "
                      f"stack `{campaign.stack_text()}`)")),
        ("run", f"step `{record.step}`, group `{record.group}`"),
        ("attempt", f"{attempt.number} ({attempt.kind}"
                    + (f", memory ×{attempt.memory_multiplier:g}" if attempt.memory_multiplier != 1 else "")
                    + "".join(f", {label} {mb} MB" for label, mb in attempt.memory)
                    + ")"),
        ("state", attempt.state.value + (f" since {attempt.transitions[-1].at}" if attempt.transitions else "")),
        ("output run", f"`{attempt.output_run}`"),
        ("logs (submit directory)", f"`{attempt.submit_dir}`" if attempt.submit_dir
         else "not known: bps did not report a submit directory"),
    ]
    logs = logs_named(attempt.errors)
    if logs:
        shown = ", ".join(f"`{log}`" for log in logs[:MAX_LOGS])
        facts.append(("logs of the failed jobs", shown + (f" and {len(logs) - MAX_LOGS} more" if len(logs) > MAX_LOGS
                                                          else "")))
    if attempt.wms_id:
        facts.append(("WMS id", f"`{attempt.wms_id}`"))
    if record.data_query:
        facts.append(("data query", f"`{_cell(record.data_query)}`"))
    lines += ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in facts), ""]
    if attempt.links:
        lines += ["Monitor: " + " · ".join(f"[{what}]({url})" for what, url in attempt.links), ""]
    if attempt.message:
        lines += [f"> {_cell(attempt.message)}", ""]
    lines += decision_lines(attempt)
    lines += failed_jobs_table(attempt)
    lines += [f"### Quanta per task (attempt {attempt.number})", "", *_task_table(attempt), ""]
    if attempt.exit_codes:
        lines += ["### Exit codes", "", "| task | exit codes |", "|---|---|"]
        lines += [f"| `{_cell(label)}` | {', '.join(str(c) for c in codes)} |" for label, codes in attempt.exit_codes]
        lines.append("")
    if acted(attempt) and record.current is not attempt:
        tail = ["### What to do", "", f"Nothing for now: the failure rules started attempt {attempt.number + 1}. If it "
                "fails too, it is reported here with the commands that fit.", ""]
    else:
        commands = retry_commands(name, record)
        tail = ["### What to do", "",
                "Read the errors above and the logs; then, depending on the cause:", "",
                "```bash",
                *(f"{command}    # {why}" for command, why in commands),
                "```", "", retry_hint, ""]
    head = "\n".join(lines) + "\n"
    budget = BODY_BUDGET - len(head) - len("\n".join(tail))
    errors = _error_block(attempt, budget)
    text = head + ("\n".join(errors) + "\n\n" if errors else "") + "\n".join(tail)
    if len(text) > MAX_BODY:  # a last guard: tables too big to fit (thousands of task labels)
        text = text[:MAX_BODY - 200] + "\n\n_… cut to fit GitHub's 65,536-character limit._\n"
    return text


def issue_body(campaign: Campaign, record: RunRecord, attempt: Attempt, *, retry_hint: str) -> str:
    key = run_key(campaign.name, record.step, record.group)
    what = ("is blocked: jobs are held" if attempt.state == RunState.HELD else
            "is blocked: `bps submit` hangs" if attempt.hanging else "failed")
    heading = (f"Run `{record.key}` of campaign `{campaign.name}` {what} on attempt {attempt.number}. "
               "This issue is updated by `campaign notify` and closed when the run succeeds.")
    markers = f"{run_marker(key)}\n{attempt_marker(attempt.number, attempt.state)}\n{_acted(attempt)}"
    return markers + describe(campaign, record, attempt, retry_hint=retry_hint, heading=heading)


def comment_body(campaign: Campaign, record: RunRecord, attempt: Attempt, *, retry_hint: str) -> str:
    what = ("is blocked (jobs held)" if attempt.state == RunState.HELD else
            "is blocked (bps submit hangs)" if attempt.hanging else "failed")
    heading = f"## Attempt {attempt.number} {what}"
    return (f"{attempt_marker(attempt.number, attempt.state)}\n{_acted(attempt)}"
            + describe(campaign, record, attempt, retry_hint=retry_hint, heading=heading))
