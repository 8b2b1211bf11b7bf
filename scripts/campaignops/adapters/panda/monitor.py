"""A client of the BigPanDA monitor's JSON views (requests): workflows, tasks and failed jobs in bulk.

The views and their field names are those of PanDAWMS/panda-bigmon-core: `/idds/wfprogress/`
(one row per iDDS request: `request_id, r_name, r_status, ...`), `/tasks/` (JEDI task rows with
`jeditaskid, taskname, status, nfiles, nfilesfinished, nfilesfailed, errordialog, ...`) and `/jobs/`
(`{"jobs": [...], "errsByCount": [...], "selectionsummary": [...]}`). Every request counts against
the shared hourly budget first. Anything but a JSON answer of the expected shape (429, 5xx, a
timeout, an HTML login page, renamed fields) is a `MonitorError`: the runs asked about are UNKNOWN.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from ...domain.errors import WmsUnreachable
from .budget import RequestBudget

DEFAULT_TIMEOUT = 60.0
CACHE_SECONDS = 600.0  # at most: a status cycle's campaigns share the bulk answers (see PandaWms)
TASK_LIMIT = 5000  # the monitor's own default for /tasks/
JOB_LIMIT = 20  # failed jobs read per failing task (the issue shows a few; the link shows them all)
JOB_FIELDS = ("pandaid", "jobname", "jobstatus", "computingsite", "attemptnr", "maxattempt", "transexitcode",
              "piloterrorcode", "piloterrordiag", "exeerrorcode", "exeerrordiag", "ddmerrorcode", "ddmerrordiag",
              "superrorcode", "superrordiag", "taskbuffererrorcode", "taskbuffererrordiag",
              "brokerageerrorcode", "brokerageerrordiag", "jobdispatchererrorcode", "jobdispatchererrordiag",
              "maxpss", "minramcount", "pilotid", "jeditaskid")
# What a job used (bigmon's jobList fields; maxpss as `maxpss_mb` reads it, durationsec its wall time in s).
USE_FIELDS = ("pandaid", "jeditaskid", "jobstatus", "computingsite", "corecount", "actualcorecount",
              "cpuconsumptiontime", "durationsec", "starttime", "endtime", "maxpss")
USE_LIMIT = 100_000  # jobs read per request for the cost table (a task of an RC2 step has at most a few thousand)
WORKFLOW_KEYS = ("request_id", "r_name", "r_status")
TASK_KEYS = ("jeditaskid", "taskname", "status")
JOB_KEYS = ("pandaid",)


class MonitorError(WmsUnreachable):
    """The monitor could not answer usefully this time: what was asked, what came back, what to do."""


@dataclass(frozen=True)
class Workflow:
    """One iDDS request (a bps run) as /idds/wfprogress/ shows it."""

    request_id: str
    name: str
    status: str
    username: str = ""
    created_at: str = ""
    total_tasks: int = 0
    tasks_statuses: tuple[tuple[str, int], ...] = ()
    finished_pct: float = 0.0
    failed_pct: float = 0.0


@dataclass
class Answer:
    """What one GET returned, and how many requests it cost (a cut list asked again costs two)."""

    data: Any
    requests: int = 1


def as_int(value: Any) -> int:
    """A count or code as the monitor gives it (int, float, string or null) as an int; 0 when it is none."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _pct(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


@dataclass
class BigPandaMonitor:
    """GET the monitor's JSON views; every request is counted against `budget` before it is sent."""

    base_url: str
    budget: RequestBudget
    token: str = ""  # sent as a Bearer token when set
    timeout: float = DEFAULT_TIMEOUT
    session: requests.Session = field(default_factory=requests.Session)
    clock: Callable[[], float] = time.monotonic
    sent: int = 0  # requests sent by this client (for the benchmark and the status summary)
    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/") + "/"

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        """A monitor URL for people (links in issues and pages), without `json`."""
        query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        return f"{self.base_url}{path.lstrip('/')}" + (f"?{query}" if query else "")

    def forget(self) -> None:
        """Drop the answers kept for this cycle: the next question is asked again."""
        self._cache.clear()

    # ---- the one place that sends requests ----------------------------------------------------

    def get(self, path: str, params: dict[str, str], what: str) -> Any:
        """The JSON of `path?params&json`, from this process's short cache when asked again within a cycle."""
        url = self.url(path, {**params, "json": "1"})
        cached = self._cache.get(url)
        if cached is not None and self.clock() - cached[0] < CACHE_SECONDS:
            return cached[1]
        self.budget.take()
        self.sent += 1
        headers = {"Accept": "application/json", "User-Agent": "campaignops"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        where = f"the BigPanDA monitor ({self.base_url}) asked for {what}"
        try:
            response = self.session.get(url, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise MonitorError(f"{where} did not answer within {self.timeout:g} s; asked again next cycle") from exc
        except requests.RequestException as exc:
            raise MonitorError(f"{where} could not be reached ({type(exc).__name__}: {exc}); check the URL "
                               "(monitor.url in the profile or $PANDAMON_URL) and the network") from exc
        if response.status_code == 429:
            after = response.headers.get("Retry-After", "")
            raise MonitorError(f"{where} answered 429 Too Many Requests (its per-IP limit)"
                               + (f", retry after {after} s" if after else "")
                               + "; lower monitor.requests_per_hour so the runner stays under it")
        if response.status_code >= 500:
            raise MonitorError(f"{where} answered {response.status_code} (a server error); asked again next cycle")
        if response.status_code in (401, 403):
            raise MonitorError(f"{where} refused the request ({response.status_code}): the token is missing, "
                               "expired or not accepted; run `panda_auth refresh` on the runner")
        if response.status_code != 200:
            raise MonitorError(f"{where} answered {response.status_code}: {response.text[:200]!r}")
        body = response.content  # bytes: JSON is UTF-8, and no charset guessing over megabytes
        kind = response.headers.get("Content-Type", "")
        if "html" in kind or body.lstrip()[:1] == b"<":
            text = body[:2000].decode("utf-8", errors="replace")
            raise MonitorError(f"{where} answered with an HTML page, not JSON (a login page or an error page: "
                               "check monitor.url and whether the monitor wants a token), e.g. "
                               f"{' '.join(text.split())[:120]!r}")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise MonitorError(f"{where} answered with malformed JSON ({exc}); asked again next cycle") from exc
        self._cache[url] = (self.clock(), data)
        return data

    # ---- the views ------------------------------------------------------------------------------

    def workflows(self, *, username: str = "", days: int = 7, request_id: str = "") -> list[Workflow]:
        """iDDS requests created in the last `days` days (of `username` when given), from /idds/wfprogress/."""
        params = {"days": str(days)}
        if username:
            params["username"] = username
        if request_id:
            params["requestid"] = request_id
        data = self.get("idds/wfprogress/", params, "the workflows (/idds/wfprogress/)")
        rows = _rows(data, WORKFLOW_KEYS, "/idds/wfprogress/")
        return [Workflow(request_id=str(r["request_id"]), name=str(r["r_name"] or ""), status=str(r["r_status"]),
                         username=str(r.get("username") or ""), created_at=str(r.get("created_at") or ""),
                         total_tasks=as_int(r.get("total_tasks")),
                         tasks_statuses=tuple(sorted((str(k), as_int(v)) for k, v in
                                                     (r.get("tasks_statuses") or {}).items())),
                         finished_pct=_pct(r.get("finished_files")), failed_pct=_pct(r.get("failed_files")))
                for r in rows]

    def tasks(self, *, request_ids: Sequence[str] = (), username: str = "", days: int = 7,
              expected: int = 0) -> tuple[list[dict[str, Any]], bool]:
        """JEDI task rows of some iDDS requests, or of a user's last `days` days; and whether the list is
        complete (the monitor cuts it at `limit`, 5000 by default: the limit asked is above the `expected`
        number of rows, and a list cut all the same is asked once more with a ten times larger limit)."""
        params = {"days": str(days)}
        if request_ids:
            params["idds_request_id"] = ",".join(request_ids)
        if username:
            params["username"] = username
        limit = max(TASK_LIMIT, -(-expected * 5 // 4000) * 1000)  # 25% above, rounded up to a thousand
        for _ in range(2):
            params["limit"] = str(limit)
            data = self.get("tasks/", params, "the tasks (/tasks/)")
            rows = _rows(data, TASK_KEYS, "/tasks/")
            if len(rows) < limit:
                return rows, True
            limit *= 10
        return rows, False

    def failed_jobs(self, task_id: str, limit: int = JOB_LIMIT) -> list[dict[str, Any]]:
        """The failed jobs of one JEDI task (their last attempts), with error codes, diagnostics and memory."""
        params = {"jeditaskid": task_id, "jobstatus": "failed", "fields": ",".join(JOB_FIELDS), "limit": str(limit)}
        data = self.get("jobs/", params, f"the failed jobs of task {task_id} (/jobs/)")
        if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
            raise MonitorError(f"the BigPanDA monitor's /jobs/ answer for task {task_id} has no 'jobs' list "
                               f"(its JSON changed?): {str(data)[:120]!r}")
        return _rows(data["jobs"], JOB_KEYS, "/jobs/")


    def jobs_used(self, task_ids: Sequence[str], limit: int = USE_LIMIT) -> list[dict[str, Any]]:
        """Every job of some JEDI tasks (all states) with what it used: cores, CPU time, duration, maxpss."""
        if not task_ids:
            return []
        params = {"jeditaskid": "|".join(task_ids), "fields": ",".join(USE_FIELDS), "limit": str(limit)}
        data = self.get("jobs/", params, f"the jobs of task(s) {', '.join(task_ids)} (/jobs/)")
        if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
            raise MonitorError(f"the BigPanDA monitor's /jobs/ answer has no 'jobs' list (its JSON changed?): "
                               f"{str(data)[:120]!r}")
        return _rows(data["jobs"], JOB_KEYS, "/jobs/")


def maxpss_mb(value: Any) -> int:
    """/jobs/ gives maxpss in kB, but as a "%.2f" string in MB when filtered by task (bigmon's jobList)."""
    if isinstance(value, str):
        try:
            return round(float(value)) if "." in value else round(int(value) / 1024)
        except ValueError:
            return 0
    return round(value / 1024) if isinstance(value, int | float) and value > 0 else 0


def _rows(data: Any, keys: Sequence[str], view: str) -> list[dict[str, Any]]:
    """A list of JSON objects that all have `keys`; else MonitorError naming what changed."""
    if not isinstance(data, list):
        raise MonitorError(f"the BigPanDA monitor's {view} answer is not a list but {type(data).__name__} "
                           f"(its JSON changed?): {str(data)[:120]!r}")
    for row in data:
        if not isinstance(row, dict):
            raise MonitorError(f"the BigPanDA monitor's {view} answer holds {type(row).__name__} rows, not "
                               "objects (its JSON changed?)")
        missing = [k for k in keys if k not in row]
        if missing:
            raise MonitorError(f"the BigPanDA monitor's {view} rows lack {', '.join(map(repr, missing))} (its JSON "
                               f"changed? fields seen: {', '.join(sorted(row)[:12])}); campaignops must be updated")
    return data
