"""Open a campaign for work: its spec, ledger, plan (with frozen query groups) and WMS adapter.

The composition root: the one place where the engine is handed its real adapters (bps, the Butler,
the campaign lock). The CLI and the demo start here.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .adapters.butler import ButlerDataIds, ButlerMeasurements
from .adapters.git.repo import Git
from .adapters.lock import lock_campaign, this_runner
from .adapters.pipeline_graph import step_types
from .adapters.processes import read_process, running
from .adapters.stacks import published
from .campaign_spec.load import campaign_of, campaign_path, load_campaign
from .campaign_spec.rules import rooted
from .campaign_spec.source import Document, display_name
from .domain.clock import utcnow
from .domain.errors import ButlerQueryError, LedgerError, PlanError
from .domain.model import Campaign, Plan
from .domain.problems import Problem
from .domain.scope import Scope
from .domain.states import RunState
from .engine import cycle
from .engine.context import Context, workdir_for
from .engine.observe import Change
from .engine.ownership import claim
from .ledger import store
from .ledger.records import Ledger
from .planning.changes import compare
from .planning.controls import drift_problems
from .planning.grouping import groups_for, resident_at, site_part
from .planning.plan import make_plan
from .planning.render import spec_fingerprint
from .planning.transfers import moved_from, unfed_reads
from .ports import Wms
from .registry import make_wms, transfers_of


@dataclass
class Workspace:
    ctx: Context
    plan: Plan
    ledger: Ledger

    @property
    def campaign(self) -> Campaign:
        return self.ctx.campaign

    def spec_author(self) -> str:
        """Who last changed the campaign's spec (the commit author): the `by` of controls written in it."""
        return spec_author(self.campaign, self.ctx.root)

    def cycle(self, *, act: bool, seen: Callable[[Change], None] | None = None) -> cycle.Cycle:
        """One reconcile cycle (engine/cycle.py): look, and act when `act` and this job may launch; `seen`
        hears each run's change as the look sees it. The workspace holds the ledger it ends with."""
        done = cycle.run(self.ctx, self.plan, self.ledger, act=act, by=self.spec_author(), seen=seen)
        self.ledger = done.ledger
        return done


def spec_author(campaign: Campaign, root: Path) -> str:
    """Who last changed the campaign's spec (the commit author), else what wrote it."""
    if campaign.path is None:
        return "the spec"
    try:
        author = Git(root).last_author(campaign.path.resolve().relative_to(root.resolve()))
    except (ValueError, OSError):
        author = None
    return author or f"an uncommitted edit of {campaign.path.name}"


def open_campaign(root: Path, name: str, *, dry_run: bool = False, say: Callable[[str], None] = print,
                  workdir: Path | None = None, wms: Wms | None = None,
                  query_groups: bool = True, strict_groups: bool = True, launches: bool = True,
                  scope: Scope | None = None) -> Workspace:
    """The campaign opened for work. Unless `dry_run`, under the campaign lock (the checkout's, then the work
    directory's: held until the process ends) and, when the job `launches` (apply, reconcile, retry, …; not
    a look), only from the runner/work directory the ledger records as launching its runs (the first such
    job records itself; `engine/ownership.py`). `scope`: a runner per facility launches, follows and asks the
    Butler of its own site only (the whole campaign by default)."""
    scope = scope or Scope()
    campaign = load_campaign(campaign_path(name, root), root)
    assert campaign.path is not None
    workdir = workdir_for(root, workdir)
    if not dry_run:
        lock_campaign(workdir, campaign.name, say, root=root)
    ledger = store.load(campaign.path.parent, campaign.name)
    mine = sites_of(campaign, scope)
    if launches and not dry_run and (scope.everywhere or mine):  # a campaign with no run at the site: no claim
        ledger = claim(ledger, this_runner(workdir), by=job_actor(), now=utcnow(),
                       sites=() if scope.everywhere else mine)
    frozen = {step: groups for step, groups in ledger.frozen_groups}
    built = not campaign.butler_setup or (ledger.setup is not None and ledger.setup.state == RunState.SUCCEEDED)
    if query_groups and built and not scope.everywhere:
        # A runner per facility asks its own site's Butler only, and freezes its share of each residency split.
        source = ButlerDataIds.for_campaign(campaign, root)
        for step in campaign.steps:
            for site in mine:
                if step.split.by != "residency" or step.name in frozen or site_part(step.name, site) in frozen:
                    continue
                try:
                    share = resident_at(campaign, step, site, source)
                except ButlerQueryError as exc:
                    if strict_groups:
                        raise
                    say(f"warning: {campaign.name} {step.name}: its group at {site} stays pending, the Butler query "
                        f"failed: {exc}")
                    continue
                frozen[site_part(step.name, site)] = share
                ledger = ledger.with_frozen_groups(site_part(step.name, site), share)
    central = scope.everywhere or campaign.central in mine
    needs_query = [s for s in campaign.steps if s.name not in frozen and (
        (s.split.by == "query" and central) or (s.split.by == "residency" and scope.everywhere))]
    if needs_query and query_groups and built:  # a repository still to be built cannot be asked
        # Ask the Butler once, at the first apply/status, and freeze the groups in the ledger so
        # later plans are stable even when the repository gains data.
        source = ButlerDataIds.for_campaign(campaign, root)
        for step in needs_query:
            try:
                found = groups_for(campaign, step, ids_source=source)
            except ButlerQueryError as exc:
                if strict_groups:
                    raise
                # A look or the status job goes on with the other campaigns and steps: the groups stay
                # pending (nothing of the step is submitted) until a Butler answers.
                say(f"warning: {campaign.name} {step.name}: its groups stay pending, the Butler query failed: {exc}")
                continue
            frozen[step.name] = tuple((g.name, g.query, g.size or 0) for g in found)
            ledger = ledger.with_frozen_groups(step.name, frozen[step.name])
    for step in campaign.steps:
        if step.split.by == "count" and step.name not in frozen and not dry_run and central:
            # A count split's groups are frozen at the first apply too: IDs appended to its source file
            # later form new groups instead of growing a group that may have been submitted.
            frozen[step.name] = tuple((g.name, g.query, g.size or 0) for g in groups_for(campaign, step))
            ledger = ledger.with_frozen_groups(step.name, frozen[step.name])
    plan = make_plan(campaign, frozen=frozen, moved=moved_of(campaign, root), excluded=ledger.excluded_inputs)
    ctx = Context(root=root, campaign=campaign, wms=wms or make_wms(campaign.profile, workdir),
                  workdir=workdir, say=say, dry_run=dry_run, transfer_for=transfers_of(campaign),
                  site_wms={} if wms is not None or not campaign.multisite else
                  {site: make_wms(campaign.site_profile(site), workdir)
                   for site in campaign.sites},
                  process_running=lambda pid_file: running(read_process(pid_file)),
                  measurements=lambda site: ButlerMeasurements(rooted(campaign.repo_at(site), root)), scope=scope,
                  runner=this_runner(workdir), stacks_at=published)
    refuse_lost_files(ctx, ledger)
    return Workspace(ctx, plan, ledger)


def sites_of(campaign: Campaign, scope: Scope) -> tuple[str, ...]:
    """The campaign's sites (profile names) a job of `scope` launches and follows."""
    return tuple(s for s in campaign.sites or (campaign.profile.name,)
                 if scope.covers(s, campaign.site_profile(s).site))


def refuse_lost_files(ctx: Context, ledger: Ledger) -> None:
    """A file a save cut short listed as new but that is not there: harmless when none of its step's runs
    missing from the ledger was launched (the save died recording their intent, before bps started); when
    one was, the file was written and lost since, and reading on would make its runs disappear and be
    submitted again (or an old attempt adopted as the run). Refused, naming the file and what to do."""
    for entry in store.unwritten(ctx.campaign_dir):
        step_dir = ctx.workdir / ctx.campaign.name / entry.step
        launched = sorted(d for d in step_dir.glob("*/a[0-9]*") if d.is_dir()
                          and ledger.run(f"{entry.step}/{d.parent.name}") is None and ctx.wms_of(d).launched(d))
        where = store.ledger_dir(ctx.campaign_dir) / entry.name
        if launched:
            raise LedgerError(
                f"{where}: missing. The index lists it as written by a save cut short ({entry.runs} runs, "
                f"{entry.attempts} attempts of step {entry.step}), and runs of that step the ledger no longer holds "
                f"were launched ({', '.join(str(d) for d in launched[:3])}{' …' if len(launched) > 3 else ''}): "
                f"the file was written and lost since. Nothing was read or written. Restore it from git: "
                f"`git log -p -- {where}`, then `git checkout <commit> -- {where}`; `campaign ledger repair "
                f"{ctx.campaign.name}` then shows what else is left to complete")
        ctx.say(f"ledger: {where} was listed by a save cut short and never written (none of its runs was "
                f"launched): read without it; `campaign ledger repair {ctx.campaign.name}` completes that save")


def job_actor() -> str:
    """Who runs this job, for records nobody typed a --by for: the GitHub actor on a runner, else the user."""
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def moved_of(campaign: Campaign, root: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """Multi-site: what each step reads of the steps it requires, from the pipeline (only when some step
    does not declare its `transfer.dataset_types`)."""
    if not campaign.multisite or all(s.transfer_types for s in campaign.steps if s.requires):
        return {}
    return moved_from(campaign, step_types(campaign, root))


def recorded_drift(doc: Document, path: Path, root: Path) -> list[Problem]:
    """What `campaign validate` refuses of a campaign that has a ledger: changes to submitted runs without
    `supersede`, re-splits that orphan recorded runs, and a damaged ledger (located in its file).
    `doc` is the campaign file as `check_document` read it (no problems): it is not read again."""
    folder_of = path.resolve().parent
    single, folder = store.ledger_path(folder_of), store.ledger_dir(folder_of)
    if not (single.exists() or folder.is_dir()):
        return []
    campaign = campaign_of(doc, path, root)
    try:
        ledger = store.load(folder_of, campaign.name)
    except LedgerError as exc:
        where = display_name(folder if folder.is_dir() else single, root)
        return [Problem(where, 1, 1, "", str(exc), f"restore it: `git log -p -- {where}`")]
    plan = make_plan(campaign, frozen=dict(ledger.frozen_groups), excluded=ledger.excluded_inputs,
                     moved=moved_of(campaign, root))
    changes = compare(plan, ledger, partial(spec_fingerprint, campaign))
    names = [s.get("name") for s in doc.data.get("steps") or [] if isinstance(s, dict)]

    def problem(step: str, message: str, fix: str) -> Problem:
        at: tuple[str | int, ...] = ("steps", names.index(step)) if step in names else ("steps",)
        return doc.problem(at, message, fix)

    return list(drift_problems(plan, ledger, changes, problem))


def cross_site_problems(doc: Document, path: Path, root: Path) -> list[Problem]:
    """What `campaign validate` refuses of a multi-site campaign: a step that reads a dataset type another step
    writes only at other sites, with no transfer planned to bring it (its runs would see one site's share, or
    nothing). Needs the pipeline graph: from the middleware, else the committed cache; without either, a step
    that declares no `transfer` is reported at `pipeline`."""
    campaign = campaign_of(doc, path, root)
    if not campaign.multisite:
        return []
    try:
        types = step_types(campaign, root)
    except PlanError as exc:
        if all(s.transfer_types for s in campaign.steps if s.requires):
            return []  # every transfer is declared: the plan needs no graph, and there is none to check against
        return [doc.problem(("pipeline",), str(exc), "")]
    try:
        frozen = dict(store.load(path.resolve().parent, campaign.name).frozen_groups)
    except LedgerError:
        frozen = {}  # reported by the drift check
    plan = make_plan(campaign, frozen=frozen, moved=moved_from(campaign, types))
    raw = [s for s in doc.data["steps"] if isinstance(s, dict)]
    grouped: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}
    for unfed in unfed_reads(plan, types):
        sites, producers = grouped.setdefault((unfed.step, unfed.dataset_type, unfed.producer), ([], []))
        sites.append(unfed.site)
        producers.extend(p for p in unfed.producer_sites if p not in producers)
    found = []
    for (name, dataset_type, producer), (sites, producers) in grouped.items():
        i = next(k for k, s in enumerate(raw) if s.get("name") == name)
        step = campaign.step(name)
        local = sorted({r.site for r in plan.runs_of(producer) if r.site} & set(sites))
        message = (f"step {name} reads {dataset_type} at {', '.join(sites)}, which step {producer} writes at "
                   f"{', '.join(producers)}, and no transfer brings it there: its runs would "
                   + (f"read only what {producer} wrote at {', '.join(local)}" if local else "find none of it"))
        if producer in step.requires and step.transfer_types:
            found.append(doc.problem(("steps", i, "transfer", "dataset_types"), message,
                                     f"add {dataset_type} to its transfer.dataset_types (or remove `transfer` to "
                                     "move what the pipeline says it reads)"))
        else:
            requires = ", ".join(dict.fromkeys((*step.requires, producer)))
            found.append(doc.problem(("steps", i, "requires") if "requires" in raw[i] else ("steps", i, "name"),
                                     message, f"requires: [{requires}] on step {name} (then a transfer moves "
                                     f"{dataset_type} from {', '.join(producers)} to {', '.join(sites)})"))
    return found


def read_plan(root: Path, name: str) -> Plan:
    """The plan as the ledger knows it, without asking the Butler or taking the campaign lock:
    query-split steps keep the groups their first apply recorded (or show them as pending)."""
    return read_plan_and_ledger(root, name)[0]


def read_plan_and_ledger(root: Path, name: str) -> tuple[Plan, Ledger]:
    campaign = load_campaign(campaign_path(name, root), root)
    assert campaign.path is not None
    ledger = store.load(campaign.path.parent, campaign.name)
    plan = make_plan(campaign, frozen=dict(ledger.frozen_groups), excluded=ledger.excluded_inputs,
                     moved=moved_of(campaign, root))
    return plan, ledger


__all__ = ["Workspace", "cross_site_problems", "job_actor", "open_campaign", "read_plan", "read_plan_and_ledger",
           "recorded_drift"]
