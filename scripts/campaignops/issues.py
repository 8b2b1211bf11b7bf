"""One failure issue per failing run, opened, updated and closed from the ledger (GitHub or a folder)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from .ledger import Attempt, Ledger, RunRecord, RunState

if TYPE_CHECKING:
    from .github import GitHubClient
    from .model import Campaign

LABEL = "campaignops"
MAX_BODY = 65_536  # GitHub's limit for an issue or comment body
BODY_BUDGET = 60_000  # what we aim for, leaving room for markers and the truncation note
MAX_ERROR_LINES = 200
MAX_LINE = 500
DEFAULT_RETRY_HINT = ("Run these from the repository root on the site's runner (where the campaign "
                      "was submitted), or from GitHub: Actions → retry → Run workflow, with this campaign, "
                      "the run and the action (retry / more-memory / rescue).")

_RUN_MARKER = re.compile(r"<!-- campaignops:run (\S+?) -->")


def run_key(campaign: str, record: RunRecord) -> str:
    """The key an issue is found by: `<campaign>/<step>/<group>`."""
    return f"{campaign}/{record.step}/{record.group}"


def run_marker(key: str) -> str:
    return f"<!-- campaignops:run {key} -->"


def attempt_marker(number: int, state: RunState = RunState.FAILED) -> str:
    """Marks that this attempt's failure (or HELD block) was reported in a body or comment."""
    suffix = "" if state == RunState.FAILED else f" {state.value.lower()}"
    return f"<!-- campaignops:attempt {number}{suffix} -->"


def success_marker(number: int) -> str:
    return f"<!-- campaignops:succeeded {number} -->"


def key_of(body: str) -> str | None:
    match = _RUN_MARKER.search(body or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class Issue:
    """A failure issue as any tracker holds it."""

    ref: str  # the issue number on GitHub, the file name in a folder
    key: str  # campaign/step/group, from the marker in the body
    title: str
    body: str
    url: str
    state: str = "open"  # open | closed
    comments: tuple[str, ...] | None = None  # None: not fetched yet

    @property
    def open(self) -> bool:
        return self.state == "open"

    @property
    def name(self) -> str:
        return f"#{self.ref}" if self.ref.isdigit() else self.ref


class Tracker(Protocol):
    """Where failure issues live. One implementation per backend."""

    def issues(self, campaign: str) -> list[Issue]:
        """Every issue (open and closed) whose marker names a run of `campaign`, oldest first."""
        ...

    def list_open_for(self, run_key: str) -> list[Issue]:
        """Open issues of one run (normally zero or one), oldest first."""
        ...

    def comments(self, issue: Issue) -> list[str]:
        """Bodies of the issue's comments, oldest first."""
        ...

    def create(self, key: str, title: str, body: str, labels: Iterable[str], assignees: Iterable[str]) -> Issue:
        ...

    def comment(self, issue: Issue, body: str) -> None:
        ...

    def close(self, issue: Issue) -> None:
        ...


# ---- GitHub ---------------------------------------------------------------------------------------

class GitHubTracker:
    """Issues in a GitHub repository, found by the `campaignops` label and the run marker."""

    def __init__(self, client: GitHubClient, repo: str) -> None:
        self.client = client
        self.repo = repo
        self._all: list[Issue] | None = None  # one listing serves every campaign of a sync

    def _issue(self, data: dict[str, Any]) -> Issue | None:
        body = data.get("body") or ""
        key = key_of(body)
        if key is None:
            return None
        return Issue(str(data["number"]), key, data.get("title", ""), body, data.get("html_url", ""),
                     data.get("state", "open"))

    def _listing(self) -> list[Issue]:
        if self._all is None:
            found = (self._issue(d) for d in self.client.list_issues(self.repo, labels=[LABEL], state="all"))
            self._all = sorted((i for i in found if i is not None), key=lambda i: int(i.ref))
        return self._all

    def refresh(self) -> None:
        self._all = None

    def issues(self, campaign: str) -> list[Issue]:
        return [i for i in self._listing() if i.key.startswith(f"{campaign}/")]

    def list_open_for(self, run_key: str) -> list[Issue]:
        return [i for i in self._listing() if i.key == run_key and i.open]

    def comments(self, issue: Issue) -> list[str]:
        if issue.comments is None:
            return [c.get("body") or "" for c in self.client.list_comments(self.repo, int(issue.ref))]
        return list(issue.comments)

    def create(self, key: str, title: str, body: str, labels: Iterable[str], assignees: Iterable[str]) -> Issue:
        from .github import GitHubError

        labels = list(dict.fromkeys(labels))
        self.client.ensure_labels(self.repo, labels)
        try:
            data = self.client.create_issue(self.repo, title, body, labels=labels, assignees=assignees)
        except GitHubError as exc:
            if not exc.maybe_applied:
                raise
            # The POST may have created it: look for the marker before creating again.
            self.refresh()
            existing = self.list_open_for(key)
            if existing:
                return existing[0]
            data = self.client.create_issue(self.repo, title, body, labels=labels, assignees=assignees)
        issue = self._issue(data) or Issue(str(data["number"]), key, title, body, data.get("html_url", ""))
        self._listing().append(issue)
        return issue

    def comment(self, issue: Issue, body: str) -> None:
        from .github import GitHubError

        try:
            self.client.create_comment(self.repo, int(issue.ref), body)
        except GitHubError as exc:
            if not exc.maybe_applied:
                raise
            marker = body.splitlines()[0] if body else ""
            if not any(marker and marker in c for c in self.comments(replace(issue, comments=None))):
                self.client.create_comment(self.repo, int(issue.ref), body)

    def close(self, issue: Issue) -> None:
        self.client.close_issue(self.repo, int(issue.ref))
        if self._all is not None:
            self._all = [replace(i, state="closed") if i.ref == issue.ref else i for i in self._all]


# ---- folder ---------------------------------------------------------------------------------------

_COMMENT_SEP = "\n\n<!-- campaignops:comment -->\n"


class FolderTracker:
    """The same issues as markdown files in a folder, for runs without a GitHub token (the demo).

    `<dir>/<campaign>__<step>__<group>.md` holds the first issue of a run (`__2.md`, … later ones);
    a YAML header says its title, state, labels and assignees; comments are appended.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    def _read(self, path: Path) -> Issue | None:
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---\n"):
            return None
        header_text, _, rest = text[4:].partition("\n---\n")
        header = yaml.safe_load(header_text) or {}
        body, *comments = rest.split(_COMMENT_SEP)
        body = body.lstrip("\n")
        if body.startswith("# "):
            body = body.partition("\n")[2].lstrip("\n")
        key = key_of(body)
        if key is None:
            return None
        return Issue(path.name, key, str(header.get("title", "")), body.rstrip("\n") + "\n", str(path),
                     str(header.get("state", "open")),
                     tuple(c.partition("\n")[2].strip("\n") + "\n" for c in comments))

    @staticmethod
    def _write(path: Path, issue: Issue, labels: Iterable[str], assignees: Iterable[str]) -> None:
        header = {"title": issue.title, "state": issue.state, "labels": list(labels),
                  "assignees": list(assignees), "run": issue.key}
        parts = ["---\n", yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000), "---\n",
                 f"# {issue.title}\n\n", issue.body.rstrip("\n") + "\n"]
        for i, c in enumerate(issue.comments or (), start=1):
            parts.append(f"{_COMMENT_SEP}### Comment {i}\n{c.rstrip()}\n")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text("".join(parts), encoding="utf-8")
        tmp.replace(path)

    def _header(self, path: Path) -> dict[str, Any]:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text[4:].partition("\n---\n")[0]) if text.startswith("---\n") else {}
        return data if isinstance(data, dict) else {}

    def _all(self) -> list[Issue]:
        if not self.dir.is_dir():
            return []
        found = (self._read(p) for p in sorted(self.dir.glob("*.md")))
        return [i for i in found if i is not None]

    def issues(self, campaign: str) -> list[Issue]:
        return [i for i in self._all() if i.key.startswith(f"{campaign}/")]

    def list_open_for(self, run_key: str) -> list[Issue]:
        return [i for i in self._all() if i.key == run_key and i.open]

    def comments(self, issue: Issue) -> list[str]:
        fresh = self._read(self.dir / issue.ref)
        return list(fresh.comments or ()) if fresh else []

    def create(self, key: str, title: str, body: str, labels: Iterable[str], assignees: Iterable[str]) -> Issue:
        stem = key.replace("/", "__")
        path = self.dir / f"{stem}.md"
        n = 1
        while path.exists():
            n += 1
            path = self.dir / f"{stem}__{n}.md"
        issue = Issue(path.name, key, title, body, str(path), "open", ())
        self._write(path, issue, labels, assignees)
        return issue

    def comment(self, issue: Issue, body: str) -> None:
        path = self.dir / issue.ref
        fresh = self._read(path)
        if fresh is None:
            raise FileNotFoundError(f"{path}: the issue file is gone or not a campaignops issue")
        header = self._header(path)
        self._write(path, replace(fresh, comments=(*(fresh.comments or ()), body)),
                    header.get("labels") or (), header.get("assignees") or ())

    def close(self, issue: Issue) -> None:
        path = self.dir / issue.ref
        fresh = self._read(path)
        if fresh is None:
            raise FileNotFoundError(f"{path}: the issue file is gone or not a campaignops issue")
        header = self._header(path)
        self._write(path, replace(fresh, state="closed"), header.get("labels") or (),
                    header.get("assignees") or ())


# ---- what the issues say -------------------------------------------------------------------------

def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _fence(lines: Iterable[str]) -> str:
    """A backtick fence longer than any backtick run in `lines`."""
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def failing_labels(attempt: Attempt) -> list[str]:
    labels = [t.label for t in attempt.tasks if t.get("FAILED") > 0]
    if not labels:
        labels = [label for label, codes in attempt.exit_codes if any(codes)]
    return labels


def title_for(campaign: str, record: RunRecord, attempt: Attempt) -> str:
    if attempt.state == RunState.HELD:
        return f"[{campaign}] {record.step} {record.group} blocked: jobs held (attempt {attempt.number})"
    labels = failing_labels(attempt)
    what = ", ".join(labels[:4]) + (f" +{len(labels) - 4} more" if len(labels) > 4 else "")
    title = f"[{campaign}] {record.step} {record.group} failed: {what or 'no quantum ran (see the issue)'}"
    return title if len(title) <= 256 else title[:253] + "..."


def retry_commands(campaign: str, record: RunRecord) -> list[str]:
    key = record.key
    return [f"campaign retry {campaign} {key}",
            f"campaign retry {campaign} {key} --memory-multiplier 2",
            f"campaign rescue {campaign} {key}"]


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
            f"{commands[0]}    # restart: re-run what failed (transient or fixed cause)",
            f"{commands[1]}    # out of memory: resubmit with twice the memory",
            f"{commands[2]}    # re-run only the failed quanta into a new output run",
            "```", "", retry_hint, ""]
    head = "\n".join(lines) + "\n"
    budget = BODY_BUDGET - len(head) - len("\n".join(tail))
    errors = _error_block(attempt, budget)
    text = head + ("\n".join(errors) + "\n\n" if errors else "") + "\n".join(tail)
    if len(text) > MAX_BODY:  # a last guard: tables too big to fit (thousands of task labels)
        text = text[:MAX_BODY - 200] + "\n\n_… cut to fit GitHub's 65,536-character limit._\n"
    return text


def issue_body(campaign: Campaign, record: RunRecord, attempt: Attempt, *, retry_hint: str) -> str:
    key = run_key(campaign.name, record)
    what = "is blocked: jobs are held" if attempt.state == RunState.HELD else "failed"
    heading = (f"Run `{record.key}` of campaign `{campaign.name}` {what} on attempt {attempt.number}. "
               "This issue is updated by `campaign notify` and closed when the run succeeds.")
    markers = f"{run_marker(key)}\n{attempt_marker(attempt.number, attempt.state)}\n"
    return markers + describe(campaign, record, attempt, retry_hint=retry_hint, heading=heading)


def comment_body(campaign: Campaign, record: RunRecord, attempt: Attempt, *, retry_hint: str) -> str:
    what = "is blocked (jobs held)" if attempt.state == RunState.HELD else "failed"
    heading = f"## Attempt {attempt.number} {what}"
    return (f"{attempt_marker(attempt.number, attempt.state)}\n"
            + describe(campaign, record, attempt, retry_hint=retry_hint, heading=heading))


def _reported(tracker: Tracker, issue: Issue, marker: str) -> bool:
    return marker in issue.body or any(marker in c for c in tracker.comments(issue))


def labels_for(campaign: Campaign) -> list[str]:
    return list(dict.fromkeys([LABEL, f"campaign:{campaign.name}"[:50], *campaign.labels]))


def sync(campaign: Campaign, ledger: Ledger, tracker: Tracker, *,
         retry_hint: str = DEFAULT_RETRY_HINT) -> list[str]:
    """Bring the campaign's failure issues in line with its ledger; returns what was done, for people.

    FAILED or HELD current attempt: open an issue, or comment once per attempt on the open one.
    SUCCEEDED with an open issue: comment and close. Anything else (running, UNKNOWN, …): nothing.
    Safe to run any number of times: markers in bodies and comments make every action happen once.
    """
    actions: list[str] = []
    known = tracker.issues(campaign.name)
    for record in sorted(ledger.runs, key=lambda r: (r.step, r.group)):
        attempt = record.current
        if attempt is None:
            continue
        key = run_key(campaign.name, record)
        mine = [i for i in known if i.key == key]
        open_issues = [i for i in mine if i.open]
        where = f"{campaign.name} {record.key}"
        if attempt.state in (RunState.FAILED, RunState.HELD):
            marker = attempt_marker(attempt.number, attempt.state)
            what = "blocked (held)" if attempt.state == RunState.HELD else "failed"
            if open_issues:
                issue = open_issues[0]
                if _reported(tracker, issue, marker):
                    continue
                tracker.comment(issue, comment_body(campaign, record, attempt, retry_hint=retry_hint))
                actions.append(f"{where}: commented on {issue.name} (attempt {attempt.number} {what}) {issue.url}")
                continue
            # A person closed the issue of this very attempt: respect that, do not reopen noise.
            if any(_reported(tracker, i, marker) for i in mine):
                continue
            issue = tracker.create(key, title_for(campaign.name, record, attempt),
                                   issue_body(campaign, record, attempt, retry_hint=retry_hint),
                                   labels_for(campaign), campaign.assignees)
            known.append(issue)
            actions.append(f"{where}: opened {issue.name} (attempt {attempt.number} {what}) {issue.url}")
        elif attempt.state == RunState.SUCCEEDED and open_issues:
            for issue in open_issues:
                marker = success_marker(attempt.number)
                if not _reported(tracker, issue, marker):
                    tracker.comment(issue, f"{marker}\nRun `{record.key}` succeeded on attempt {attempt.number} "
                                           f"(output run `{attempt.output_run}`). Closing.\n")
                tracker.close(issue)
                actions.append(f"{where}: closed {issue.name} (succeeded on attempt {attempt.number}) {issue.url}")
    return actions


def open_issue_urls(tracker: Tracker, campaigns: Iterable[str]) -> dict[str, str]:
    """run key (campaign/step/group) -> url of its open failure issue, for the status pages."""
    out: dict[str, str] = {}
    for name in campaigns:
        for issue in tracker.issues(name):
            if issue.open:
                out.setdefault(issue.key, issue.url)
    return out
