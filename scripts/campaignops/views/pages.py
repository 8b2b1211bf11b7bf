"""The status pages as data: one read model per cycle, built from what the caller holds (spec, plan, ledger),
rendered by pure functions to {path from the repository root: text}; `adapters/pages.write` writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from ..campaign_spec import load as spec
from ..domain.errors import CampaignError
from ..domain.model import Campaign, Plan
from ..ledger import store
from ..ledger.records import Ledger
from ..planning.cost import Cost
from ..planning.cost import from_records as cost_records
from ..planning.plan import make_plan
from ..planning.profile import TaskProfile, from_records
from .chart import CHART_FILE, drawn_digest, progress_svg, series_digest
from .pictures import progress_series
from .reading import Standing
from .status_page import (
    PAGE,
    PROFILE_FILE,
    CampaignView,
    campaign_page,
    campaign_view,
    facilities,
    root_page,
    site_page,
    site_view,
)
from .trends import TRENDS_DIR, page_path, svg_path, trend_digest, trend_page, trend_points, trend_svg

Loader = Callable[[Path, Path], Campaign]


@dataclass(frozen=True)
class Pages:
    """Everything the pages show: each campaign's view, where its folder is, and what the cycle knows besides."""

    campaigns: tuple[CampaignView, ...]
    folders: Mapping[str, str]  # campaign name -> its folder from the repository root ("campaigns/<name>")
    now: datetime
    invalid: tuple[tuple[str, str], ...] = ()  # (spec path, problem) of campaigns that could not be read
    recent_days: int = 14
    open_issues: Mapping[str, str] = field(default_factory=dict)  # campaign/step/group -> issue URL
    drawn: Mapping[str, str] = field(default_factory=dict)  # chart path -> the series digest drawn in it


@dataclass(frozen=True)
class Held:
    """One campaign as the caller holds it: its spec, its ledger, and its plan when it made one."""

    campaign: Campaign
    ledger: Ledger
    plan: Plan | None = None
    profile: tuple[TaskProfile, ...] = ()
    cost: tuple[Cost, ...] = ()


def folder_of(campaign: Campaign, root: Path) -> str:
    """The campaign's folder from the repository root (pure path arithmetic)."""
    if campaign.path is not None:
        folder = campaign.path.parent
        for base in (root, root.resolve()):
            if folder.is_relative_to(base):
                return folder.relative_to(base).as_posix()
    return f"campaigns/{campaign.name}"


def model(held: Iterable[Held], root: Path, now: datetime, *, invalid: Sequence[tuple[str, str]] = (),
          recent_days: int = 14, open_issues: Mapping[str, str] | None = None,
          drawn: Mapping[str, str] | None = None) -> Pages:
    """The read model of one cycle, from what the caller already holds: nothing is read or planned again."""
    views = tuple(campaign_view(h.campaign, h.ledger, h.plan, h.profile, h.cost) for h in held)
    return Pages(views, {v.campaign.name: folder_of(v.campaign, root) for v in views},
                 now if now.tzinfo else now.replace(tzinfo=UTC), tuple(invalid), recent_days,
                 dict(open_issues or {}), dict(drawn or {}))


def render_all(pages: Pages) -> dict[str, str]:
    """Every page: STATUS.md, sites/<site>.md, each campaign's STATUS.md, and each progress chart whose series
    changed since it was drawn (a chart for campaigns that run or wait for someone, brought up to date once
    they finish; none before there are task counts)."""
    out: dict[str, str] = {}
    charts: set[str] = set()
    for view in pages.campaigns:
        path = f"{pages.folders[view.campaign.name]}/{CHART_FILE}"
        wanted = (view.active or view.runs_reading(Standing.FAILED, Standing.HELD)) or path in pages.drawn
        series = progress_series(view.ledger) if wanted else None
        if series:
            title = f"{view.campaign.name}: quanta done"
            if pages.drawn.get(path) != series_digest(series, title):  # unchanged: matplotlib is not imported
                out[path] = progress_svg(series, title)
        if path in out or path in pages.drawn:
            charts.add(view.campaign.name)
    views = list(pages.campaigns)
    issues = dict(pages.open_issues)
    trends = trend_points((v.campaign.name, v.campaign.template, v.ledger) for v in views)
    for template, by_check in trends.items():
        for ref, points in by_check.items():
            path, title = svg_path(template, ref), f"{template}: {ref}"
            if pages.drawn.get(path) != trend_digest(points, title):  # unchanged: matplotlib is not imported
                out[path] = trend_svg(points, title)
        out[page_path(template)] = trend_page(template, by_check)
    out[PAGE] = root_page(views, list(pages.invalid), pages.now, recent_days=pages.recent_days,
                          open_issues=issues, charts=frozenset(charts), trends=tuple(trends))
    for site in sorted({f for v in views for f in facilities(v.campaign)}):
        out[site_page(site)] = site_view(site, views, open_issues=issues, now=pages.now)
    for view in views:
        out[f"{pages.folders[view.campaign.name]}/{PAGE}"] = campaign_page(
            view, open_issues=issues, chart=view.campaign.name in charts)
    return out


# ---- for callers that hold only the repository root (`campaign status`, `notify --pages`, the demos) ---

def recorded_profile(path: Path) -> tuple[TaskProfile, ...]:
    """The table `campaign profile --record` left beside the ledger; none when absent or unreadable."""
    return recorded(path)[0]


def recorded(path: Path) -> tuple[tuple[TaskProfile, ...], tuple[Cost, ...]]:
    """The task table and the cost table `campaign profile --record` left beside the ledger; none when absent or
    unreadable."""
    if not path.exists():
        return (), ()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return from_records(data), cost_records(data)
    except (yaml.YAMLError, ValueError):
        return (), ()  # a damaged record only loses the table; `campaign profile --record` rewrites it


def drawn_charts(root: Path, folders: Iterable[str]) -> dict[str, str]:
    """chart path -> the series digest drawn in it, for the charts that exist ("" when it has none)."""
    out = {}
    for folder in folders:
        path = root / folder / CHART_FILE
        if path.exists():
            out[f"{folder}/{CHART_FILE}"] = drawn_digest(path.read_text(encoding="utf-8")) or ""
    for path in sorted((root / TRENDS_DIR).glob("*/*.svg")):  # the trend charts
        out[path.relative_to(root).as_posix()] = drawn_digest(path.read_text(encoding="utf-8")) or ""
    return out


def read_model(root: Path, now: datetime, *, held: Iterable[Held] = (), recent_days: int = 14,
               open_issues: Mapping[str, str] | None = None, load: Loader | None = None) -> Pages:
    """The read model for a caller that holds only some campaigns (or none): those in `held` are taken as they
    are, every other campaign under root is read with its ledger and planned; (path, problem) for the ones that
    cannot be read (one bad campaign does not hide the others)."""
    loader: Loader = load or (lambda path, r: spec.load_campaign(path, r))
    given = {h.campaign.name: h for h in held}
    found, invalid = [], []
    for path in spec.all_campaign_paths(root):
        mine = next((h for h in given.values() if h.campaign.path is not None
                     and h.campaign.path.resolve() == path.resolve()), None)
        if mine is not None:
            found.append(mine)
            continue
        try:
            campaign = loader(path, root)
            ledger = store.load(path.parent, campaign.name)
        except Exception as exc:  # noqa: BLE001  one bad campaign must not hide the others
            message = str(exc).replace(f"{root.resolve()}/", "").replace(f"{root}/", "")
            invalid.append((path.relative_to(root).as_posix(),
                            message.splitlines()[0] if message else type(exc).__name__))
            continue
        found.append(Held(campaign, ledger))
    complete = []
    for h in found:
        plan = h.plan
        if plan is None:
            try:
                plan = make_plan(h.campaign, frozen=dict(h.ledger.frozen_groups), excluded=h.ledger.excluded_inputs)
            except CampaignError:  # cannot plan here (e.g. a split source gone): the ledger alone decides
                plan = None
        folder = root / folder_of(h.campaign, root)
        tasks, cost = recorded(folder / PROFILE_FILE) if not (h.profile and h.cost) else ((), ())
        complete.append(Held(h.campaign, h.ledger, plan, h.profile or tasks, h.cost or cost))
    return model(complete, root, now, invalid=invalid, recent_days=recent_days, open_issues=open_issues,
                 drawn=drawn_charts(root, [folder_of(h.campaign, root) for h in complete]))
