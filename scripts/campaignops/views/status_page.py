"""STATUS.md pages: active and recent campaigns, per-site views, and one page per campaign (pure renderers of
the campaigns' views; `views/pages.py` builds them once per cycle and names the files)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..domain.clock import parse_utc
from ..domain.errors import CampaignError
from ..domain.model import Campaign, Plan, Step
from ..domain.scope import silent
from ..domain.states import RunState
from ..ledger.records import Attempt, Ledger, RunRecord
from ..planning.advance import Verdict, decide
from ..planning.cost import Cost
from ..planning.profile import TaskProfile
from .chart import CHART_FILE
from .checks import page_section as check_lines
from .cost import cost_markdown
from .errors import error_groups, errors_markdown, occurrences
from .issue import failed_jobs_table
from .markdown import cell as _cell
from .markdown import fence as _fence
from .pictures import bar, flowchart, legend
from .profile import as_markdown as profile_markdown
from .reading import RunReading, Standing, read_run, step_of

PAGE = "STATUS.md"
PROFILE_FILE = "profile.yaml"  # written by `campaign profile --record`
SITES = ("USDF", "FrDF", "UKDF", "local", "other")
PENDING_TASK_STATES = ("PENDING", "READY", "UNREADY")
MAX_ERROR_LINES = 20
IN_PROGRESS = (Standing.ACTIVE, Standing.RETRYING)


def setup_text(ledger: Ledger) -> str:
    """The set-up stage in a few words: state, when, and what went wrong."""
    stage = ledger.setup
    if stage is None:
        return "not started (runs before step 1)"
    ended = f", ended {stage.ended_at}" if stage.ended_at else ""
    why = f": {stage.message}" if stage.state == RunState.FAILED else ""
    return f"{stage.state.value} (attempt {stage.attempt}, started {stage.started_at}{ended}){why}"


@dataclass(frozen=True)
class StepView:
    name: str
    gate: str  # "auto", "manual (approved by x)", "manual: waiting for approval"
    total: int | None  # None: groups come from a Butler query not run yet
    succeeded: int
    failed: int
    running: int
    held: int
    waiting_at_gate: bool
    settled: int = 0  # accepted or skipped: no longer holds the step back
    cancelled: int = 0  # stopped by a person: the step waits for a resubmit or a skip

    @property
    def done(self) -> int:
        return self.succeeded + self.settled

    @property
    def complete(self) -> bool:
        return bool(self.total) and self.done == self.total


@dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    ledger: Ledger
    steps: tuple[StepView, ...]
    last_change: str  # ISO time of the newest recorded state change, "" when none
    profile: tuple[TaskProfile, ...] = ()  # recorded by `campaign profile --record` (profile.yaml)
    cost: tuple[Cost, ...] = ()  # the same record's cost table
    readings: Mapping[str, RunReading] = field(default_factory=dict)  # run key -> how it reads (views/reading)

    def reading(self, record: RunRecord) -> RunReading:
        found = self.readings.get(record.key)
        return found if found is not None else read_run(self.campaign, record.key, record, self.ledger)

    def runs_reading(self, *standings: Standing) -> list[RunRecord]:
        return [r for r in self.ledger.runs if r.attempts and self.reading(r).standing in standings]

    @property
    def gated(self) -> list[str]:
        return [s.name for s in self.steps if s.waiting_at_gate]

    @property
    def finished(self) -> bool:
        return bool(self.steps) and all(s.complete for s in self.steps)

    @property
    def active(self) -> bool:
        """Something runs, is held, or waits for a person at a gate or for the next apply."""
        if self.runs_reading(*IN_PROGRESS, Standing.HELD) or self.gated:
            return True
        started = any(r.attempts for r in self.ledger.runs)
        return started and not self.finished and not self.runs_reading(Standing.FAILED, Standing.CANCELLED)

    @property
    def state(self) -> str:
        parts = []
        held, failed = self.runs_reading(Standing.HELD), self.runs_reading(Standing.FAILED)
        cancelled, retrying = self.runs_reading(Standing.CANCELLED), self.runs_reading(Standing.RETRYING)
        running = self.runs_reading(Standing.ACTIVE)
        if held:
            parts.append(f"blocked: {len(held)} run(s) held")
        if failed:
            parts.append(f"{len(failed)} run(s) failed")
        if cancelled:
            parts.append(f"{len(cancelled)} run(s) cancelled: resubmit or skip them")
        if retrying:
            parts.append(f"{len(retrying)} failed run(s) retried by the failure rules")
        if running:
            steps = sorted({r.step for r in running}, key=self._step_order)
            parts.append(f"running {', '.join(steps)}")
        if self.gated:
            parts.append(f"waiting at manual gate: {', '.join(self.gated)}")
        if not parts:
            if self.finished:
                parts.append("finished")
            elif not any(r.attempts for r in self.ledger.runs):
                parts.append("not started")
            else:
                nxt = next((s.name for s in self.steps if not s.complete), "")
                parts.append(f"ready to submit {nxt}" if nxt else "stopped")
        return "; ".join(parts)

    def _step_order(self, name: str) -> int:
        names = [s.name for s in self.steps]
        return names.index(name) if name in names else len(names)


def readings_of(campaign: Campaign, ledger: Ledger, plan: Plan | None = None) -> dict[str, RunReading]:
    """How every recorded run (and every planned one an operator skipped) reads."""
    keys = [r.key for r in ledger.runs]
    if plan is not None:
        keys += [r.key for r in plan.runs if ledger.run(r.key) is None and ledger.disposition(r.key) is not None]
    return {key: read_run(campaign, key, ledger.run(key), ledger) for key in keys}


# ---- reading ---------------------------------------------------------------------------------------

def _last_change(ledger: Ledger) -> str:
    times = [t.at for r in ledger.runs for a in r.attempts for t in a.transitions]
    times += [a.submitted_at for r in ledger.runs for a in r.attempts if a.submitted_at]
    return max(times, default="")


def _planned(plan: Plan | None, ledger: Ledger) -> tuple[dict[str, int | None], set[str]]:
    """Planned groups per step and the steps waiting at a manual gate, from the caller's plan when it has one."""
    if plan is None:
        return {}, set()
    try:
        decisions = decide(plan, ledger)
    except CampaignError:  # a plan the ledger contradicts: the ledger alone decides
        return {}, set()
    totals: dict[str, int | None] = {}
    for step in plan.campaign.steps:
        runs = plan.runs_of(step.name)
        totals[step.name] = None if any(r.pending for r in runs) else len(runs)
    gated = {d.run.step for d in decisions if d.verdict == Verdict.GATED}
    return totals, gated


def _known_groups(step: Step | None, ledger: Ledger) -> int | None:
    """Groups of a step known without a Butler or plan.py: the spec's own split or frozen groups."""
    if step is None:
        return None
    frozen = ledger.groups_of(step.name)
    if frozen is not None:
        return len(frozen)
    if step.split.by == "none":
        return 1
    if step.split.by == "values":
        return len(step.split.values) + len(step.split.ranges) or None
    return None


def step_views(campaign: Campaign, ledger: Ledger, plan: Plan | None = None,
               readings: Mapping[str, RunReading] | None = None) -> tuple[StepView, ...]:
    totals, gated = _planned(plan, ledger)
    readings = readings if readings is not None else readings_of(campaign, ledger, plan)
    names = [s.name for s in campaign.steps]
    names += sorted({r.step for r in ledger.runs} - set(names))  # steps since removed from the spec
    views: list[StepView] = []
    done: set[str] = set()
    for name in names:
        records = [r for r in ledger.runs if r.step == name and r.attempts]
        step = step_of(campaign, name)
        if step is None:
            gate = "not in the spec any more"
        else:
            gate = ("auto" if step.gate == "auto" else
                    f"manual, approved by {step.approved_by}" if step.approved_by else "manual: needs approval")
        planned = totals.get(name) if totals else _known_groups(step, ledger)
        total = max(planned, len(records)) if planned is not None else (len(records) or None)
        if totals:
            waiting = name in gated
        else:  # without a plan: a closed gate with nothing submitted and every prerequisite done
            waiting = (step is not None and not step.gate_open and not records
                       and all(r in done for r in step.requires))
        mine = [r for k, r in readings.items() if k.partition("/")[0] == name]
        count = {s: sum(r.standing == s for r in mine) for s in Standing}
        view = StepView(name=name, gate=gate, total=total, succeeded=count[Standing.SUCCEEDED],
                        failed=count[Standing.FAILED], running=count[Standing.ACTIVE] + count[Standing.RETRYING],
                        held=count[Standing.HELD], waiting_at_gate=waiting, settled=count[Standing.SETTLED],
                        cancelled=count[Standing.CANCELLED])
        if view.complete:
            done.add(name)
        views.append(view)
    return tuple(views)


def campaign_view(campaign: Campaign, ledger: Ledger, plan: Plan | None = None,
                  profile: tuple[TaskProfile, ...] = (), cost: tuple[Cost, ...] = ()) -> CampaignView:
    """A campaign as the pages show it, from what the caller holds (no file is read, nothing is planned)."""
    readings = readings_of(campaign, ledger, plan)
    return CampaignView(campaign, ledger, step_views(campaign, ledger, plan, readings), _last_change(ledger),
                        profile, cost, readings)


# ---- writing markdown --------------------------------------------------------------------------------

def _when(text: str) -> str:
    when = parse_utc(text) if text else None
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if when else (text or "—")


def _groups(view: StepView) -> str:
    return f"{view.succeeded}/{view.total if view.total is not None else '?'}"


def _issue_link(key: str, open_issues: dict[str, str]) -> str:
    url = open_issues.get(key)
    if not url:
        return ""
    label = f"#{url.rsplit('/', 1)[1]}" if re.search(r"/issues/\d+$", url) else "issue"
    return f"[{label}]({url})"


def _site(campaign: Campaign) -> str:
    return campaign.profile.site if campaign.profile.site in SITES else "other"


def _facility(campaign: Campaign, site: str) -> str:
    """The data facility (a page of sites/) of a site profile of the campaign."""
    try:
        name = campaign.site_profile(site).site
    except KeyError:
        return _site(campaign)
    return name if name in SITES else "other"


def run_site(campaign: Campaign, record: RunRecord) -> str:
    """The site (profile name) a run went to; the central site for a run its spec no longer names."""
    try:
        return campaign.step_site(campaign.step(record.step), record.group)
    except KeyError:
        return campaign.central


def facilities(campaign: Campaign) -> set[str]:
    return {_facility(campaign, site) for site in campaign.sites} if campaign.multisite else {_site(campaign)}


def _at(view: CampaignView, record: RunRecord, facility: str) -> bool:
    return not view.campaign.multisite or _facility(view.campaign, run_site(view.campaign, record)) == facility


def transfers_table(view: CampaignView) -> list[str]:
    """The campaign's transfer stages as the ledger holds them."""
    records = view.ledger.transfers
    if not records:
        return []
    out = ["## Transfers between sites", "",
           "| transfer | from → to | dataset types | state | datasets arrived/sent | MB | attempt | since | note |",
           "|---|---|---|---|---:|---:|---:|---|---|"]
    for t in records:
        out.append(f"| `{_cell(t.key)}` | {t.source} → {t.destination} | {_cell(', '.join(t.dataset_types))} | "
                   f"{t.state.value} | {t.arrived}/{t.datasets} | {t.bytes / 1e6:.1f} | {t.attempt} | "
                   f"{_when(t.ended_at or t.started_at)} | {_cell(t.message[:200])} |")
    return [*out, ""]


def _task_counts(attempt: Attempt) -> list[str]:
    lines = ["| task | succeeded | failed | running | pending | other |", "|---|---:|---:|---:|---:|---:|"]
    for t in attempt.tasks:
        counts = {k.upper(): v for k, v in t.counts}
        ok, bad, run = counts.get("SUCCEEDED", 0), counts.get("FAILED", 0), counts.get("RUNNING", 0)
        pending = sum(counts.get(k, 0) for k in PENDING_TASK_STATES)
        lines.append(f"| `{_cell(t.label)}` | {ok} | {bad} | {run} | {pending} | {t.total - ok - bad - run - pending} |")
    return lines


STEP_HEADER = ("| step | gate | groups succeeded/total | failed | running | held | accepted or skipped | cancelled "
               "| progress |",
               "|---|---|---:|---:|---:|---:|---:|---:|---|")


def _step_row(s: StepView, waiting_mark: str) -> str:
    return (f"| {s.name}{waiting_mark if s.waiting_at_gate else ''} | {_cell(s.gate)} | {_groups(s)} | "
            f"{s.failed} | {s.running} | {s.held} | {s.settled} | {s.cancelled} | {bar(s.done, s.total)} |")


def _pictures(view: CampaignView, chart: str | None) -> list[str]:
    """The steps as a Mermaid flowchart coloured by state, and the progress chart when one was drawn."""
    c = view.campaign
    requires = {s.name: s.requires for s in c.steps}
    sites: dict[str, str] = {}
    moves: dict[tuple[str, str], str] = {}
    if c.multisite:
        sites = {s.name: "at each site" if s.placed_by_data else f"at {s.site or c.central}" for s in c.steps}
        edges: dict[tuple[str, str], list[str]] = {}
        for t in view.ledger.transfers:
            step, _, rest = t.key.partition("@")
            required = rest.partition("<")[2].partition("@")[0]
            edges.setdefault((required, step), []).append(t.state.value)
        moves = {edge: f"{len(states)} transfer(s), {states.count('DONE')} done"
                 for edge, states in edges.items()}
    out = ["```mermaid", flowchart(view.steps, requires, sites=sites, moves=moves), "```", "", legend(view.steps), ""]
    if chart:
        out += [f"![quanta done over time: {view.campaign.name}]({chart})", ""]
    return out


def root_page(views: list[CampaignView], invalid: list[tuple[str, str]], now: datetime, *,
              recent_days: int, open_issues: dict[str, str], charts: frozenset[str] = frozenset(),
              trends: tuple[str, ...] = ()) -> str:
    """`charts`: names of the campaigns whose progress chart sits beside their page; `trends`: the templates
    whose instances recorded checks (their trend pages, trends/<template>.md)."""
    since = now - timedelta(days=recent_days)

    def recent(v: CampaignView) -> bool:
        when = parse_utc(v.last_change) if v.last_change else None
        return when is not None and when >= since

    shown = [v for v in views if v.active or recent(v)]
    others = [v for v in views if v not in shown]
    out = ["# Campaign status", "",
           (f"Running campaigns, campaigns waiting at a manual gate or for their next step, and campaigns "
            f"that changed in the last {recent_days} days. Every run of a campaign is on its own page, "
            "`campaigns/<name>/STATUS.md`. Written by `campaign status`; do not edit by hand."), ""]
    if shown:
        out += ["| campaign | site | state | runs succeeded | failed | running | last change |",
                "|---|---|---|---:|---:|---:|---|"]
        for v in shown:
            c = v.campaign
            total = sum(s.total or 0 for s in v.steps)
            out.append(f"| [{c.name}](campaigns/{c.name}/{PAGE}) | {_site(c)} | {_cell(v.state)} | "
                       f"{sum(s.succeeded for s in v.steps)}/{total} | {sum(s.failed for s in v.steps)} | "
                       f"{sum(s.running + s.held for s in v.steps)} | {_when(v.last_change)} |")
        out += ["", "## Progress per step", ""]
        for v in shown:
            name = v.campaign.name
            chart = f"campaigns/{name}/{CHART_FILE}" if name in charts else None
            out += [f"### [{name}](campaigns/{name}/{PAGE})", "", *_pictures(v, chart), *STEP_HEADER]
            out += [_step_row(s, " ⏸") for s in v.steps]
            out.append("")
    else:
        out += ["No campaign is running or changed recently.", ""]
    if trends:
        out += ["Trends of the checks of the output, per template: "
                + ", ".join(f"[{t}](trends/{t}.md)" for t in trends), ""]

    names = {v.campaign.name for v in views}
    issues = sorted((k, u) for k, u in open_issues.items() if k.split("/", 1)[0] in names)
    out += ["## Open failure issues", ""]
    if issues:
        out += ["| campaign | run | issue |", "|---|---|---|"]
        out += [f"| {k.split('/', 1)[0]} | `{k.split('/', 1)[1]}` | {_issue_link(k, open_issues)} |" for k, _ in issues]
    else:
        out.append("None.")
    out.append("")

    if shown:
        out += ["## By site", "",
                "Runs that have not (yet) succeeded and nobody accepted or skipped, per data facility, for the "
                "campaigns above.", ""]
    for site in SITES:
        at_site = [v for v in shown if _site(v.campaign) == site]
        if not at_site:
            continue
        out += [f"### [{site}]({site_page(site)})", ""]
        rows = []
        for v in at_site:
            for r in sorted(v.ledger.runs, key=lambda r: (v._step_order(r.step), r.group)):
                a = r.current
                reading = v.reading(r)
                if a is None or reading.standing in (Standing.SUCCEEDED, Standing.SETTLED):
                    continue
                key = f"{v.campaign.name}/{r.key}"
                rows.append(f"| {v.campaign.name} | `{r.key}` | {_cell(reading.text)} | {a.number} | "
                            f"`{_cell(a.output_run)}` | {_issue_link(key, open_issues)} |")
        out.append(f"Campaigns: {', '.join(f'[{v.campaign.name}](campaigns/{v.campaign.name}/{PAGE})' for v in at_site)}.")
        out.append("")
        if rows:
            out += ["| campaign | run | state | attempt | output run | issue |", "|---|---|---|---:|---|---|", *rows]
        else:
            out.append(f"Nothing running or failing at {site}.")
        out.append("")

    if others:
        out += ["## Other campaigns", "",
                f"Not running and unchanged for {recent_days} days:", ""]
        out += [f"- [{v.campaign.name}](campaigns/{v.campaign.name}/{PAGE}): {v.state}"
                + (f" (last change {_when(v.last_change)})" if v.last_change else "") for v in others]
        out.append("")
    if invalid:
        out += ["## Campaigns that could not be read", "",
                "Run `campaign validate <file>` for every problem with its line and column.", ""]
        out += [f"- `{path}`: {_cell(message)}" for path, message in invalid]
        out.append("")
    return "\n".join(out)


def campaign_page(view: CampaignView, *, open_issues: dict[str, str], chart: bool = False) -> str:
    """`chart`: the progress chart (CHART_FILE) sits beside the page."""
    c = view.campaign
    p = c.profile
    out = [f"# {c.name}", "", c.description.strip(), "",
           "| | |", "|---|---|",
           f"| state | {_cell(view.state)} |",
           f"| last change | {_when(view.last_change)} |",
           f"| site | {p.site} (profile `{p.name}`, WMS {p.wms}) |" if not c.multisite else
           f"| sites | {', '.join(f'{n} ({c.site_profile(n).site})' for n in c.sites)}; central {c.central} |",
           f"| operator | {_cell(c.operator)} |",
           f"| stack | `{_cell(c.stack_text())}` |",
           f"| Butler | `{_cell(c.butler_repo)}` → `{_cell(c.output)}` |"]
    if c.ticket:
        out.append(f"| ticket | {_cell(c.ticket)} |")
    if c.butler_setup:
        out.append(f"| repository set-up | {_cell(setup_text(view.ledger))} |")
    if view.ledger.hold is not None:
        out.append(f"| **on hold** | {_cell(view.ledger.hold.describe())} |")
    out += ["", "## Steps", "", *_pictures(view, CHART_FILE if chart else None), *STEP_HEADER]
    out += [_step_row(s, " ⏸ waiting for approval") for s in view.steps]
    out.append("")
    out += transfers_table(view)
    out += check_lines(c, view.ledger)
    out += errors_markdown(error_groups(occurrences(c.name, view.ledger, p.site)))
    out += profile_markdown(view.profile)
    out += cost_markdown(list(view.cost))
    records = sorted((r for r in view.ledger.runs if r.attempts),
                     key=lambda r: (view._step_order(r.step), r.group))
    out += ["## Runs", ""]
    if not records:
        out += ["Nothing submitted yet.", ""]
        return "\n".join(out)
    site_col = ("site | ", "---|") if c.multisite else ("", "")
    out += [f"| run | {site_col[0]}state | attempt | kind | submitted | state since | output run | issue |",
            f"|---|{site_col[1]}---|---:|---|---|---|---|---|"]
    for r in records:
        a = r.current
        assert a is not None
        since = a.transitions[-1].at if a.transitions else ""
        at = f"{run_site(c, r)} | " if c.multisite else ""
        out.append(f"| [`{r.key}`](#{_anchor(r)}) | {at}{_cell(view.reading(r).text)} | "
                   f"{a.number} | {a.kind} | "
                   f"{_when(a.submitted_at)} | {_when(since)} | `{_cell(a.output_run)}` | "
                   f"{_issue_link(f'{c.name}/{r.key}', open_issues)} |")
    out += ["", "## Run details", ""]
    for r in records:
        a = r.current
        assert a is not None
        reading = view.reading(r)
        reads = f" The run reads **{reading.label}**." if reading.label != a.state.value else ""
        out += [f"### {r.key}", "", f"Attempt {a.number} ({a.kind}): **{a.state.value}**.{reads}", ""]
        facts = [("output run", a.output_run), ("logs (submit directory)", a.submit_dir), ("WMS id", a.wms_id)]
        out += [f"- {k}: `{_cell(v)}`" for k, v in facts if v]
        if a.links:
            out.append(f"- monitor: {_links(a)}")
        if a.message:
            out.append(f"- message: {_cell(a.message)}")
        if a.memory:
            out.append("- memory asked: " + ", ".join(f"`{_cell(label)}` {mb} MB" for label, mb in a.memory))
        if reading.note:
            out.append(f"- {'why' if reading.control is not None else 'note'}: {_cell(reading.note)}")
        if reading.hint:
            out.append(f"- next: `{_cell(reading.hint)}`")
        out.append("")
        detail: list[str] = failed_jobs_table(a, limit=MAX_ERROR_LINES, heading="") if a.state != RunState.SUCCEEDED else []
        if a.tasks:
            detail += [*_task_counts(a), ""]
        if a.exit_codes:
            detail += ["Exit codes: " + "; ".join(f"`{lbl}` {', '.join(map(str, codes))}" for lbl, codes in a.exit_codes),
                       ""]
        if a.errors:
            lines = list(a.errors[:MAX_ERROR_LINES])
            fence = _fence(lines)
            detail += ["First error lines:", "", fence + "text", *lines, fence]
            if len(a.errors) > MAX_ERROR_LINES:
                detail.append(f"_{len(a.errors) - MAX_ERROR_LINES} more line(s) in the logs._")
            detail.append("")
        if detail and a.state == RunState.SUCCEEDED:
            out += ["<details><summary>per-task counts</summary>", "", *detail, "</details>", ""]
        else:
            out += detail
    return "\n".join(out)


def _links(attempt: Attempt) -> str:
    return " · ".join(f"[{what}]({url})" for what, url in attempt.links)


def site_page(site: str) -> str:
    """Where a data facility's page is, relative to the repository root."""
    return f"sites/{site}.md"


def runner_silence(site: str, views: list[CampaignView], now: datetime | None) -> str:
    """When the facility has its own runner (`--site`) and it has not been seen for SILENT_AFTER: since when
    (the latest `seen` any campaign recorded); "" otherwise."""
    seen = [c.at for v in views for s in v.campaign.sites if _facility(v.campaign, s) == site
            for c in (v.ledger.last_seen(v.campaign.site_profile(s).site),) if c is not None]
    last = max(seen, default="")
    return last if last and now is not None and silent(last, now) else ""


def site_view(site: str, views: list[CampaignView], *, open_issues: dict[str, str],
              now: datetime | None = None) -> str:
    """One data facility's page for its site managers: its campaigns, their active runs and failing runs; when
    its own runner (a runner per facility) is silent, says so, and its active runs read "not followed"."""
    here = [v for v in views if site in facilities(v.campaign)]
    out = [f"# {site}: campaign runs", "",
           (f"Campaigns that run at {site}, their active runs and their failing runs, with the WMS monitor's "
            f"pages. Back to [all campaigns](../{PAGE}). Written by `campaign status`; do not edit by hand."), ""]
    if not here:
        return "\n".join([*out, f"No campaign runs at {site}.", ""])
    quiet = runner_silence(site, here, now)
    if quiet:
        out += [f"**Runner silent since {_when(quiet)}**: the {site} runner (`campaign reconcile --site`) has not "
                f"followed its runs since then. They are shown as last seen, not followed: none of them failed for "
                f"it. Look at the runner (Settings → Actions → Runners) and its status job.", ""]
    out += ["| campaign | profile | state | runs succeeded | failed | active |", "|---|---|---|---:|---:|---:|"]
    for v in here:
        c = v.campaign
        if c.multisite:  # only this site's runs of a campaign that runs at several
            mine = [r for r in v.ledger.runs if r.attempts and _at(v, r, site)]
            names = ", ".join(n for n in c.sites if _facility(c, n) == site)
            standings = [v.reading(r).standing for r in mine]
            out.append(f"| [{c.name}](../campaigns/{c.name}/{PAGE}) | {names} | {_cell(v.state)} | "
                       f"{standings.count(Standing.SUCCEEDED)}/{len(mine)} submitted | "
                       f"{standings.count(Standing.FAILED)} | "
                       f"{sum(s in (*IN_PROGRESS, Standing.HELD) for s in standings)} |")
            continue
        out.append(f"| [{c.name}](../campaigns/{c.name}/{PAGE}) | {c.profile.name} | {_cell(v.state)} | "
                   f"{sum(s.succeeded for s in v.steps)}/{sum(s.total or 0 for s in v.steps)} | "
                   f"{sum(s.failed for s in v.steps)} | {sum(s.running + s.held for s in v.steps)} |")
    out.append("")
    waiting = (Standing.FAILED, Standing.HELD, Standing.CANCELLED)
    for title, states in (("Failing runs", waiting), ("Active runs", IN_PROGRESS)):
        rows = []
        for v in here:
            for r in sorted((r for r in v.runs_reading(*states) if _at(v, r, site)),
                            key=lambda r: (v._step_order(r.step), r.group)):
                a = r.current
                assert a is not None
                reading = v.reading(r)
                what = (reading.note if reading.control is not None else
                        a.failed_jobs[0].summary if a.failed_jobs else a.errors[0] if a.errors
                        else a.message.splitlines()[0] if a.message else "")
                label = (f"not followed (runner silent since {_when(quiet)}; last seen {v.reading(r).label})"
                         if quiet and states == IN_PROGRESS else v.reading(r).label)
                rows.append(f"| {v.campaign.name} | `{r.key}` | {_cell(label)} | {a.number} | "
                            f"{_when(a.transitions[-1].at if a.transitions else a.submitted_at)} | "
                            f"{_cell(what[:200])} | {_links(a)} | "
                            f"{_issue_link(f'{v.campaign.name}/{r.key}', open_issues)} |")
        out += [f"## {title}", ""]
        if rows:
            out += ["| campaign | run | state | attempt | since | detail | monitor | issue |",
                    "|---|---|---|---:|---|---|---|---|", *rows]
        else:
            out.append("None.")
        out.append("")
    return "\n".join(out)


def _anchor(record: RunRecord) -> str:
    # GitHub's heading anchors: lower case, spaces to '-', punctuation except '-' and '_' dropped.
    return re.sub(r"[^\w\- ]", "", record.key.lower()).replace(" ", "-")
