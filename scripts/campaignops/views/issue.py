"""What a failure issue says: title, facts, per-task table, first error lines, how to retry (markdown)."""

from __future__ import annotations

from ..domain.markers import attempt_marker, run_key, run_marker
from ..domain.model import Campaign
from ..domain.states import RunState
from ..ledger.records import Attempt, RunRecord
from .markdown import cell as _cell
from .markdown import fence as _fence

MAX_BODY = 65_536  # GitHub's limit for an issue or comment body
BODY_BUDGET = 60_000  # what we aim for, leaving room for markers and the truncation note
MAX_ERROR_LINES = 200
MAX_LINE = 500
DEFAULT_RETRY_HINT = ("Run these from the repository root on the site's runner (where the campaign "
                      "was submitted), or from GitHub: Actions → retry → Run workflow, with this campaign, "
                      "the run and the action (retry / more-memory / rescue).")


def failing_labels(attempt: Attempt) -> list[str]:
    labels = [label for label, _ in attempt.failed_tasks()]
    if not labels:
        labels = [label for label, codes in attempt.exit_codes if any(codes)]
    return labels


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
                      f"stack `{campaign.stack_tag}`)")),
        ("run", f"step `{record.step}`, group `{record.group}`"),
        ("attempt", f"{attempt.number} ({attempt.kind}"
                    + (f", memory ×{attempt.memory_multiplier:g}" if attempt.memory_multiplier != 1 else "")
                    + ")"),
        ("state", attempt.state.value + (f" since {attempt.transitions[-1].at}" if attempt.transitions else "")),
        ("output run", f"`{attempt.output_run}`"),
        ("logs (submit directory)", f"`{attempt.submit_dir}`" if attempt.submit_dir
         else "not known: bps did not report a submit directory"),
    ]
    if attempt.wms_id:
        facts.append(("WMS id", f"`{attempt.wms_id}`"))
    if record.data_query:
        facts.append(("data query", f"`{_cell(record.data_query)}`"))
    lines += ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in facts), ""]
    if attempt.message:
        lines += [f"> {_cell(attempt.message)}", ""]
    lines += [f"### Quanta per task (attempt {attempt.number})", "", *_task_table(attempt), ""]
    if attempt.exit_codes:
        lines += ["### Exit codes", "", "| task | exit codes |", "|---|---|"]
        lines += [f"| `{_cell(label)}` | {', '.join(str(c) for c in codes)} |" for label, codes in attempt.exit_codes]
        lines.append("")
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
    markers = f"{run_marker(key)}\n{attempt_marker(attempt.number, attempt.state)}\n"
    return markers + describe(campaign, record, attempt, retry_hint=retry_hint, heading=heading)


def comment_body(campaign: Campaign, record: RunRecord, attempt: Attempt, *, retry_hint: str) -> str:
    what = ("is blocked (jobs held)" if attempt.state == RunState.HELD else
            "is blocked (bps submit hangs)" if attempt.hanging else "failed")
    heading = f"## Attempt {attempt.number} {what}"
    return (f"{attempt_marker(attempt.number, attempt.state)}\n"
            + describe(campaign, record, attempt, retry_hint=retry_hint, heading=heading))
