"""Which runs a job follows: every site's (one runner for the campaign), or one facility's (a runner per facility)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .clock import parse_utc

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

    def owner_target(self, profile: str) -> str:
        """The controls-log target of ownership: the whole campaign, or one site of it (`site:local-frdf`)."""
        return "campaign" if self.everywhere else f"site:{profile}"

    def describe(self) -> str:
        return "every site" if self.everywhere else f"site {self.site}"


def scope_of(given: str | None, env: Mapping[str, str]) -> Scope:
    """`--site SITE`, else $CAMPAIGNOPS_SITE, else every site."""
    return Scope((given if given is not None else env.get(SITE_VARIABLE, "")).strip())


__all__ = ["SEEN_EVERY", "SILENT_AFTER", "SITE_VARIABLE", "Scope", "scope_of", "silent"]
