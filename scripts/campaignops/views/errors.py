"""The error summary (pure): every failed attempt recorded in the ledgers, grouped by (WMS code or exception
type, task label, site), with counts of quanta and runs, the rule and action decided, first and last seen,
and one example log — the PanDA monitor's error summary, read from the ledger (`campaign errors` and a
section of each campaign page)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..ledger.records import Attempt, Ledger
from ..planning.failures import wms_codes_of
from .markdown import cell

# The exception a Python payload died of, as its last traceback line names it (e.g. "MemoryError: …").
_EXCEPTION = re.compile(r"\b((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt))\b")
_CODE_LINE = re.compile(r"^(\w+)[ :](-?\d+|[A-Z][A-Z_]*)\b")


@dataclass(frozen=True)
class Occurrence:
    """One failed job (or one failed task of an attempt without job records) of one run."""

    campaign: str
    run: str
    code: str  # '<kind>:<code>', an exception type, 'exit N', or 'unknown'
    task: str
    site: str
    quanta: int
    at: str
    rule: str
    action: str
    log: str  # a log link or path ("" when none is recorded)
    text: str  # the first error line


@dataclass(frozen=True)
class ErrorGroup:
    code: str
    task: str
    site: str
    quanta: int
    runs: int
    campaigns: tuple[str, ...]
    rule: str
    action: str
    first: str
    last: str
    log: str
    text: str


def error_code(lines: Iterable[str], exit_codes: Iterable[int] = ()) -> str:
    """What a failure is grouped by: the first WMS code of its lines, else the exception type the payload
    names, else its exit code."""
    lines = tuple(lines)
    for line in lines:
        m = _CODE_LINE.match(line.strip())
        if m and m[1] in ("pilot", "exe", "ddm", "sup", "brokerage", "taskbuffer", "jobdispatcher", "hold", "slurm"):
            return f"{m[1]}:{m[2]}"
    for line in lines:
        m = _EXCEPTION.search(line)
        if m:
            return m[1].rsplit(".", 1)[-1]
    codes = [c for c in exit_codes if c]
    return f"exit {codes[0]}" if codes else "unknown"


def _failed_at(attempt: Attempt) -> str:
    return next((t.at for t in reversed(attempt.transitions) if t.state.value == "FAILED"),
                attempt.last_checked or attempt.submitted_at)


def occurrences(campaign: str, ledger: Ledger, site: str = "") -> Iterator[Occurrence]:
    """Every failure of every attempt in the ledger (the earlier attempts too: a restarted run's failure counts)."""
    for record in ledger.runs:
        for attempt in record.attempts:
            if attempt.state.value != "FAILED":
                continue
            at = _failed_at(attempt)
            d = attempt.decision
            rule, action = (d.rule or "no rule", d.action) if d is not None else ("not decided", "")
            link = next((url for what, url in attempt.links if "fail" in what), "")
            if attempt.failed_jobs:
                for job in attempt.failed_jobs:
                    code = error_code(job.errors, (job.exit_code,))
                    yield Occurrence(campaign, record.key, code, job.task, job.site or site, 1, at, rule, action,
                                     job.log_url or link, (job.errors or ("",))[0])
                continue
            exits = dict(attempt.exit_codes)
            failed = attempt.failed_tasks() or (("", 0),)
            for label, n in failed:
                code = error_code(attempt.errors or wms_codes_of(attempt), exits.get(label, ()))
                yield Occurrence(campaign, record.key, code, label or "-", site, n, at, rule, action,
                                 link or attempt.submit_dir, (attempt.errors or ("",))[0])


def error_groups(found: Iterable[Occurrence]) -> list[ErrorGroup]:
    """Occurrences grouped by (code, task, site), the most quanta first."""
    groups: dict[tuple[str, str, str], list[Occurrence]] = {}
    for o in found:
        groups.setdefault((o.code, o.task, o.site), []).append(o)
    out = []
    for (code, task, site), items in groups.items():
        times = sorted(o.at for o in items if o.at)
        latest = max(items, key=lambda o: o.at)
        example = next((o for o in reversed(items) if o.log), latest)
        out.append(ErrorGroup(code, task, site, sum(o.quanta for o in items),
                              len({(o.campaign, o.run) for o in items}),
                              tuple(sorted({o.campaign for o in items})), latest.rule, latest.action,
                              times[0] if times else "", times[-1] if times else "", example.log, latest.text))
    return sorted(out, key=lambda g: (-g.quanta, -g.runs, g.code, g.task, g.site))


def _link(log: str) -> str:
    if not log:
        return ""
    return f"[log]({log})" if log.startswith(("http://", "https://")) else f"`{cell(log)}`"


def errors_markdown(groups: list[ErrorGroup], *, campaigns: bool = False, limit: int = 50) -> list[str]:
    """The error summary as a markdown section (empty when nothing failed)."""
    if not groups:
        return []
    out = ["## Errors", "", f"{sum(g.quanta for g in groups)} failed quanta in {len(groups)} group(s) "
           "(every attempt, the restarted ones too), most quanta first.", ""]
    head = "| error | task | site | quanta | runs | " + ("campaigns | " if campaigns else "")
    out += [head + "rule → action | first seen | last seen | example |",
            "|---|---|---|---:|---:|" + ("---|" if campaigns else "") + "---|---|---|---|"]
    for g in groups[:limit]:
        where = f"{cell(', '.join(g.campaigns))} | " if campaigns else ""
        decided = f"{g.rule} → {g.action}" if g.action else g.rule
        out.append(f"| `{cell(g.code)}` | {cell(g.task)} | {cell(g.site or '-')} | {g.quanta} | {g.runs} | {where}"
                   f"{cell(decided)} | {g.first} | {g.last} | {_link(g.log) or cell(g.text[:80])} |")
    if len(groups) > limit:
        out.append(f"\n{len(groups) - limit} more group(s): `campaign errors` lists them all.")
    return [*out, ""]


def errors_text(groups: list[ErrorGroup], *, campaigns: bool = False) -> str:
    """The error summary for a terminal: one line a group."""
    if not groups:
        return "no failures recorded"
    lines = []
    for g in groups:
        where = f" [{', '.join(g.campaigns)}]" if campaigns else ""
        decided = f"{g.rule} -> {g.action}" if g.action else g.rule
        lines.append(f"{g.quanta:6d} quanta {g.runs:4d} run(s)  {g.code:<22} {g.task:<28} {g.site or '-':<10} "
                     f"{decided}  {g.first} .. {g.last}{where}")
        example = g.log or g.text[:120]
        if example:
            lines.append(f"{'':25}e.g. {example}")
    return "\n".join(lines)


__all__ = ["ErrorGroup", "Occurrence", "error_code", "error_groups", "errors_markdown", "errors_text", "occurrences"]
