"""The PanDA checks of `campaign doctor` (pure) and the one token issue per runner (through a `Tracker`).

`check_token` says how the runner's PanDA id token stands; below `ISSUE_BEFORE` left, `sync_token_issue`
opens one issue ("PanDA token on the USDF runner expires in 5 h: run `panda_auth refresh`"), comments
once per new expiry while it stays short, and closes the issue once the token was refreshed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.markers import LABEL, run_key, run_marker
from ..domain.model import Profile
from ..domain.wms import WmsKind
from ..ports import Tracker

WARN_BEFORE = timedelta(hours=float(os.environ.get("CAMPAIGNOPS_TOKEN_WARN_HOURS") or 24))
ISSUE_BEFORE = timedelta(hours=float(os.environ.get("CAMPAIGNOPS_TOKEN_ISSUE_HOURS") or 6))
RUNNER = "_runner"  # the "campaign" part of runner issues' keys (no campaign name starts with "_")


@dataclass(frozen=True)
class TokenCheck:
    """ok | warn (printed) | issue (an issue is opened) | missing; and the sentence for people."""

    level: str
    message: str
    expires_at: datetime | None = None

    @property
    def stamp(self) -> str:
        return self.expires_at.strftime("%Y-%m-%dT%H:%MZ") if self.expires_at else ""


def _span(delta: timedelta) -> str:
    hours = abs(delta.total_seconds()) / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{abs(delta.total_seconds()) / 60:.0f} min"


def check_token(expires_at: datetime | None, now: datetime, *, site: str, source: str = "",
                warn_before: timedelta = WARN_BEFORE, issue_before: timedelta = ISSUE_BEFORE) -> TokenCheck:
    """How the runner's PanDA id token stands at `now` (None: no token found)."""
    where = f"PanDA token on the {site} runner"
    if expires_at is None:
        return TokenCheck("missing", f"no {where} ($PANDA_AUTH_ID_TOKEN unset and no $PANDA_CONFIG_ROOT/.token): "
                                     "PanDA runs cannot be submitted; run `panda_auth status` on the runner to log in")
    left = expires_at - now
    at = f" ({source})" if source else ""
    if left <= timedelta(0):
        return TokenCheck("issue", f"{where} expired {_span(left)} ago{at}: run `panda_auth refresh` (or "
                                   "`panda_auth reset`, then `panda_auth status` to log in again)", expires_at)
    if left <= issue_before:
        return TokenCheck("issue", f"{where} expires in {_span(left)}{at}: run `panda_auth refresh`", expires_at)
    if left <= warn_before:
        return TokenCheck("warn", f"{where} expires in {_span(left)}{at}: refresh it soon with `panda_auth refresh`",
                          expires_at)
    return TokenCheck("ok", f"{where} valid for {_span(left)} more{at}", expires_at)


def panda_setup_problems(profiles: Iterable[Profile], env: Mapping[str, str]) -> list[str]:
    """What a runner submitting PanDA profiles lacks: PANDA_URL for bps, a monitor URL for bulk status."""
    panda = sorted({p.name for p in profiles if p.wms is WmsKind.PANDA})
    if not panda:
        return []
    problems = []
    if not env.get("PANDA_URL"):
        problems.append(f"PANDA_URL is not set, but profiles {', '.join(panda)} submit to PanDA: set it (and "
                        "PANDA_URL_SSL, PANDA_AUTH=oidc, PANDA_AUTH_VO=Rubin) in the runner's environment")
    no_monitor = sorted(p.name for p in profiles if p.wms is WmsKind.PANDA and not dict(p.monitor).get("url"))
    if no_monitor and not env.get("PANDAMON_URL"):
        problems.append(f"no BigPanDA monitor for {', '.join(no_monitor)} (no monitor.url in the profile, "
                        "PANDAMON_URL unset): each run's status costs a `bps report` through iDDS; set one")
    return problems


def _marker(check: TokenCheck) -> str:
    return f"<!-- campaignops:token-expiry {check.stamp} -->"


def _body(check: TokenCheck, site: str) -> str:
    return (f"{run_marker(run_key(RUNNER, 'panda-token', site))}\n{_marker(check)}\n"
            f"{check.message}.\n\nOn the {site} runner, as the user the status job runs as:\n\n"
            "```bash\npanda_auth refresh    # or: panda_auth reset && panda_auth status (a device-code login)\n"
            "```\n\nThe status job's `campaign doctor --issues` checks the token every cycle and closes this issue "
            "once the token is refreshed. Until then PanDA submissions and restarts will fail once it expires.\n")


def sync_token_issue(tracker: Tracker, check: TokenCheck, site: str, now: datetime,
                     assignees: Iterable[str] = ()) -> list[str]:
    """One open issue while the token is short or expired; a comment per new expiry; closed once refreshed."""
    key = run_key(RUNNER, "panda-token", site)
    mine = [i for i in tracker.issues(RUNNER) if i.key == key and i.open]
    marker = _marker(check)
    if check.level == "issue":
        if not mine:
            title = check.message.split(":")[0]
            issue = tracker.create(key, title, _body(check, site), [LABEL, "panda-token"], assignees)
            return [f"opened {issue.name}: {title} {issue.url}"]
        issue = mine[0]
        if marker in issue.body or any(marker in c for c in tracker.comments(issue)):
            return []
        tracker.comment(issue, f"{marker}\n{check.message} (checked {now:%Y-%m-%d %H:%M} UTC).\n")
        return [f"commented on {issue.name}: {check.message}"]
    if check.level in ("ok", "warn") and mine:
        done: list[str] = []
        for issue in mine:
            tracker.comment(issue, f"{marker}\nThe token was refreshed: {check.message}. Closing.\n")
            tracker.close(issue)
            done.append(f"closed {issue.name}: the token was refreshed")
        return done
    return []

