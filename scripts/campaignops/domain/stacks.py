"""Stack tags: which a site has published, the newest weekly, and whether a campaign's tag is among them.

Tags are LSST's: weeklies `w_YYYY_WW` (the ISO week they belong to, published at its end), dailies
`d_YYYY_MM_DD` and releases `vNN_N_N` (`_rcN` for a candidate). A developer stack `w_2026_47+DM-48211`
sets its base up from the site, so its base is what must be published. `local` is the runner's own
environment: nothing to look up.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

_WEEKLY = re.compile(r"^w_(?P<year>[0-9]{4})_(?P<week>[0-9]{2})$")
_DAILY = re.compile(r"^d_(?P<year>[0-9]{4})_(?P<month>[0-9]{2})_(?P<day>[0-9]{2})$")
_RELEASE = re.compile(r"^v(?P<numbers>[0-9]+(?:_[0-9]+)*)(?:_rc(?P<rc>[0-9]+))?$")
LOCAL = "local"  # the stack campaign itself runs in (spec: stack.tag `local`)
SHOWN = 6  # how many published tags a refusal names


@dataclass(frozen=True)
class StackSource:
    """Where a profile's site lists its stacks: a directory whose entries are tags (e.g. CVMFS'
    /cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib), or the tags written in the profile."""

    listing: str = ""
    tags: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return self.listing or "the profile's stacks.tags"


@dataclass(frozen=True)
class Published:
    """The stack tags a site has, newest first; `unreadable` says why the listing could not be read ("" if it was)."""

    where: str
    tags: tuple[str, ...] = ()
    unreadable: str = ""


@dataclass(frozen=True, order=True)
class Tag:
    """A parsed tag, ordered oldest first: releases by version, then weeklies and dailies by date."""

    key: tuple[int, ...]
    kind: str  # "release", "weekly" or "daily"
    text: str


def base_of(tag: str) -> str:
    """The published stack a tag sets up: a developer stack's base (`w_2026_47+DM-48211` → `w_2026_47`)."""
    return tag.split("+", 1)[0]


def parse(text: str) -> Tag | None:
    """The tag `text` names, None when it is not a stack tag (a listing's `w_latest`, `loadLSST.bash`, …)."""
    if m := _WEEKLY.match(text):
        try:
            # A weekly sorts at the Sunday ending its ISO week, after the week's dailies.
            day = dt.date.fromisocalendar(int(m["year"]), int(m["week"]), 7)
        except ValueError:
            return None
        return Tag((1, day.toordinal(), 1), "weekly", text)
    if m := _DAILY.match(text):
        try:
            day = dt.date(int(m["year"]), int(m["month"]), int(m["day"]))
        except ValueError:
            return None
        return Tag((1, day.toordinal(), 0), "daily", text)
    if m := _RELEASE.match(text):
        numbers = tuple(int(n) for n in m["numbers"].split("_"))
        # A release candidate sorts before its release.
        return Tag((0, *numbers, int(m["rc"]) if m["rc"] else 1 << 30), "release", text)
    return None


def newest_first(texts: Iterable[str]) -> tuple[str, ...]:
    """The stack tags among `texts`, newest first (anything that is not a tag is left out)."""
    tags = {t for t in (parse(x) for x in texts) if t is not None}
    return tuple(t.text for t in sorted(tags, reverse=True))


def weekly_tag(day: dt.date) -> str:
    """The weekly tag of the ISO week holding `day`: w_YYYY_WW (published at that week's end)."""
    year, week, _ = day.isocalendar()
    return f"w_{year}_{week:02d}"


def newest_weekly(published: Published, day: dt.date) -> str | None:
    """The newest weekly published for `day`: of its ISO week or an earlier one, None when there is none."""
    latest = weekly_tag(day)
    found = [t for t in (parse(x) for x in published.tags) if t is not None and t.kind == "weekly"]
    ceiling = parse(latest)
    assert ceiling is not None
    eligible = [t for t in found if t <= ceiling]
    return max(eligible).text if eligible else None


def weekly_for(day: dt.date, profile: str, published: Published | None) -> tuple[str, str]:
    """The stack of a weekly instance made on `day` when no tag is given, and a line saying where it came from:
    the newest weekly `profile`'s site publishes, else (no listing, unreadable, no weekly in it) the weekly of
    `day`'s ISO week, which is published only at the week's end."""
    this_week = weekly_tag(day)
    fallback = f"{this_week}, this ISO week's weekly, is taken: it may not be published yet"
    if published is None:
        return this_week, f"profile {profile} lists no stacks (stacks:), so {fallback}"
    if published.unreadable:
        return this_week, f"could not read the stacks of {profile} ({published.where}: {published.unreadable}), so {fallback}"
    newest = newest_weekly(published, day)
    if newest is None:
        return this_week, f"{published.where} lists no weekly up to {this_week}, so {fallback}"
    return newest, f"stack {newest}: the newest weekly published at {profile} ({published.where})"


def nearest(tag: str, published: Published, count: int = SHOWN) -> tuple[str, ...]:
    """The published tags to suggest for `tag`, newest first: those of its kind nearest to it, else the newest."""
    wanted = parse(base_of(tag))
    tags = [t for t in (parse(x) for x in published.tags) if t is not None]
    same = [t for t in tags if wanted is not None and t.kind == wanted.kind]
    if wanted is None or not same:
        return tuple(t.text for t in sorted(tags, reverse=True)[:count])
    closest = sorted(same, key=lambda t: (_distance(t, wanted), tuple(-k for k in t.key)))[:count]
    return tuple(t.text for t in sorted(closest, reverse=True))


def _distance(a: Tag, b: Tag) -> tuple[int, ...]:
    return tuple(abs(x - y) for x, y in zip(a.key, b.key, strict=False))


def missing(tag: str, site: str, published: Published) -> str | None:
    """Why `tag` cannot be set up at `site` (its base is not among the published tags), None when it can or
    when the listing could not be read (nothing is known then)."""
    base = base_of(tag)
    if base == LOCAL or published.unreadable or base in published.tags:
        return None
    has = nearest(tag, published)
    shown = f"it has {', '.join(has)}" + (f" ({len(published.tags)} tags in all)" if len(published.tags) > len(has) else "")
    what = f"stack {tag} (base {base})" if base != tag else f"stack {tag}"
    return (f"{what} is not published at {site} ({published.where}): "
            + (shown if has else "it lists no stack tags"))


__all__ = ["LOCAL", "Published", "StackSource", "Tag", "base_of", "missing", "nearest", "newest_first",
           "newest_weekly", "parse", "weekly_for", "weekly_tag"]
