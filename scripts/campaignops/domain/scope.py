"""Which runs a job follows: every site's (one runner for the campaign), or one facility's (a runner per facility)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .clock import parse_utc
from .model import Campaign

SITE_VARIABLE = "CAMPAIGNOPS_SITE"  # the runner's facility when --site is not given
# A runner per facility records that it is alive (`seen`) at most this often, and is silent after three missed.
SEEN_EVERY = timedelta(hours=1)
SILENT_AFTER = 3 * SEEN_EVERY


def silent(seen_at: str, now: datetime, after: timedelta = SILENT_AFTER) -> bool:
    """Whether a runner last seen at `seen_at` (a recorded UTC time) is silent at `now`."""
    seen = parse_utc(seen_at)
    return seen is not None and now - seen >= after


@dataclass(frozen=True)
class Scope:
    """Every site (`site` empty: today's single runner), or one site: a profile name (`local-frdf`) or the
    facility a profile names (`FrDF`), so one runner per facility serves all of that facility's profiles."""

    site: str = ""

    @property
    def everywhere(self) -> bool:
        return not self.site

    def covers(self, profile: str, facility: str) -> bool:
        """Whether a run placed at the site of this profile (and facility) is this job's to launch and follow."""
        return self.everywhere or self.site in (profile, facility)

    def follows(self, campaign: Campaign, site: str) -> bool:
        """Whether what is placed at `site` (a profile name of the campaign; "" is the central site) is this job's."""
        if self.everywhere:
            return True
        name = site or campaign.central
        try:
            facility = campaign.site_profile(name).site
        except KeyError:
            facility = ""
        return self.covers(name, facility)

    def follows_run(self, campaign: Campaign, step: str, group: str) -> bool:
        """Whether a run (its step and group) is placed at a site this job follows."""
        if self.everywhere:
            return True
        try:
            site = campaign.step_site(campaign.step(step), group)
        except KeyError:
            site = campaign.central
        return self.follows(campaign, site)

    def owner_target(self, profile: str) -> str:
        """The controls-log target of ownership: the whole campaign, or one site of it (`site:local-frdf`)."""
        return "campaign" if self.everywhere else f"site:{profile}"

    def describe(self) -> str:
        return "every site" if self.everywhere else f"site {self.site}"


EVERY_SITE = Scope()


def scope_of(given: str | None, env: Mapping[str, str]) -> Scope:
    """`--site SITE`, else $CAMPAIGNOPS_SITE, else every site."""
    return Scope((given if given is not None else env.get(SITE_VARIABLE, "")).strip())


__all__ = ["EVERY_SITE", "SEEN_EVERY", "SILENT_AFTER", "SITE_VARIABLE", "Scope", "scope_of", "silent"]
