"""A fake BigPanDA monitor on a real HTTP server (pytest-httpserver on 127.0.0.1), written from the views
of PanDAWMS/panda-bigmon-core (`core/iDDS/views.py` wfprogress, `core/views.py` taskList and jobList):

- `/idds/wfprogress/?json[&requestid=][&username=][&days=]` → a list of workflows with lower-case keys
  (`request_id, r_name, r_status, created_at, total_tasks, tasks_statuses{}, finished_files` (%) …);
  `username` is compared lower-cased, `days` filters on the creation time (default 7).
- `/tasks/?json` with `idds_request_id=a[,b]`, `username=`, `days=`, `limit=` (default 5000, the newest
  modified first, cut at the limit) → JEDI task rows with dataset counts and `datasets`.
- `/jobs/?json&jeditaskid=a[|b]&jobstatus=&fields=&limit=` → `{selectionsummary, jobs, errsByCount}`;
  like the real view, `maxpss` becomes a "%0.2f" string in MB when the query names a task.
- Without `json` (and no `Accept: application/json`) the views answer HTML, as the real monitor does.

`faults` are canned answers served first in first out (429, 5xx, an HTML login page, drifted JSON);
`delay` makes every answer slow; `log` records every request.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from campaignops.campaign_spec.parse import campaign_from_dict

LOGIN_PAGE = ("<!DOCTYPE html><html><head><title>BigPanDA monitor: login</title></head><body>"
              "<form action='/oauth/login/cilogon/'><button>Sign in with CILogon</button></form></body></html>")
_TIME = "%Y-%m-%d %H:%M:%S"


def html(text: str = LOGIN_PAGE, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def status(code: int, body: str = "") -> Response:
    return Response(body or f"error {code}", status=code, content_type="text/plain",
                    headers={"Retry-After": "3600"} if code == 429 else {})


def drifted(view_rows: Any) -> Response:
    """JSON whose keys changed: what a monitor upgrade (or a Postgres back end's upper-case columns) does."""
    def upper(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {str(k).upper(): upper(v) for k, v in obj.items()}
        return [upper(o) for o in obj] if isinstance(obj, list) else obj
    return Response(json.dumps(upper(view_rows)), content_type="application/json")


@dataclass
class FakeTask:
    jeditaskid: int
    taskname: str
    status: str  # JEDI: running, done, finished (some failed), failed, broken, ...
    nfiles: int
    finished: int
    failed: int
    errordialog: str = ""
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakeBigPanda:
    """Just enough of the BigPanDA monitor, in memory, served over real HTTP."""

    server: HTTPServer
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    workflows: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, list[FakeTask]] = field(default_factory=dict)  # request id -> tasks
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # jeditaskid -> failed jobs
    faults: list[Response] = field(default_factory=list)
    delay: float = 0.0
    log: list[tuple[str, dict[str, str], str | None]] = field(default_factory=list)
    next_task: int = 40_000

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self)

    @property
    def url(self) -> str:
        return self.server.url_for("/")

    # ---- state helpers for tests -----------------------------------------------------------
    def add_workflow(self, request_id: int, name: str, r_status: str = "Transforming", *, username: str = "lsstsvc1",
                     age: timedelta = timedelta(hours=2),
                     tasks: list[tuple[str, str, int, int, int]] = (),  # type: ignore[assignment]
                     ) -> list[FakeTask]:
        """A workflow and its tasks: (label, JEDI status, files, finished, failed), named like ctrl_bps_panda's."""
        created = self.now - age
        made = []
        for n, (label, task_status, nfiles, finished, failed) in enumerate(tasks, start=1):
            self.next_task += 1
            made.append(FakeTask(self.next_task, f"{name}_{n:02d}_{label}_01", task_status, nfiles, finished, failed,
                                 modified=self.now - timedelta(minutes=n)))
        self.tasks[request_id] = made
        total_files = sum(t.nfiles for t in made)
        self.workflows[request_id] = {
            "request_id": request_id, "r_name": name, "r_status": r_status, "created_at": created.strftime(_TIME),
            "cloud": "US", "site": "SLAC", "username": username, "campaign": "", "transform_type": "Processing",
            "transform_tag": "2", "total_tasks": len(made),
            "tasks_statuses": _count(("Finished" if t.status == "done" else "SubFinished" if t.status == "finished"
                                      else t.status.capitalize()) for t in made),
            "released_files": sum(t.finished + t.failed for t in made), "processing_files": 0,
            "unreleased_files": total_files - sum(t.finished + t.failed for t in made), "total_files": total_files,
            "total_jedi_files": total_files,
            "finished_files": _pct(sum(t.finished for t in made), total_files),
            "failed_files": _pct(sum(t.failed for t in made), total_files)}
        return made

    def add_failed_job(self, task: FakeTask, pandaid: int, **fields: Any) -> dict[str, Any]:
        job = {"pandaid": pandaid, "jobname": f"{task.taskname}_{pandaid}", "jobstatus": "failed",
               "jeditaskid": task.jeditaskid, "computingsite": "SLAC_Rubin", "attemptnr": 3, "maxattempt": 3,
               "transexitcode": 1, "piloterrorcode": 0, "piloterrordiag": None, "exeerrorcode": 0, "exeerrordiag": "",
               "ddmerrorcode": 0, "ddmerrordiag": None, "superrorcode": 0, "superrordiag": None,
               "taskbuffererrorcode": 0, "taskbuffererrordiag": None, "brokerageerrorcode": 0,
               "brokerageerrordiag": None, "jobdispatchererrorcode": 0, "jobdispatchererrordiag": None,
               "maxpss": 3_145_728, "maxrss": 3_300_000, "minramcount": 4000, "cpuconsumptiontime": 1200,
               "actualcorecount": 1, "corecount": 1, "durationsec": 1300, "starttime": self.now.strftime(_TIME),
               "endtime": self.now.strftime(_TIME), "produsername": "lsstsvc1", "prodsourcelabel": "managed",
               "pilotid": f"https://logs.example.org/SLAC/pilot/{pandaid}/pilotlog.txt|Unknown|PR|3.9.2.41|1",
               "creationtime": self.now.strftime(_TIME), "modificationtime": self.now.strftime(_TIME)}
        job.update(fields)
        self.jobs.setdefault(task.jeditaskid, []).append(job)
        return job

    def requests(self, path: str = "") -> list[tuple[str, dict[str, str], str | None]]:
        return [entry for entry in self.log if path in entry[0]]

    # ---- the HTTP side ------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        args = {k: v for k, v in request.args.items()}
        self.log.append((request.path, args, request.headers.get("Authorization")))
        if self.delay:
            time.sleep(self.delay)
        if self.faults:
            return self.faults.pop(0)
        wants_json = "json" in args or "application/json" in request.headers.get("Accept", "")
        rows: Any
        if request.path == "/idds/wfprogress/":
            rows = self._workflows(args)
        elif request.path == "/tasks/":
            rows = self._tasks(args)
        elif request.path == "/jobs/":
            rows = self._jobs(args)
        else:
            return html("<html><body><h1>Page not found</h1></body></html>", 404)
        if not wants_json:
            return html(f"<html><body><table>{len(rows)} rows</table></body></html>")
        return Response(json.dumps(rows), content_type="application/json")

    def _days(self, args: dict[str, str]) -> datetime:
        hours = float(args["hours"]) if "hours" in args else 24 * float(args.get("days", 7))
        return self.now - timedelta(hours=hours)

    def _workflows(self, args: dict[str, str]) -> list[dict[str, Any]]:
        since = self._days(args)
        rows = [w for w in self.workflows.values()
                if datetime.strptime(w["created_at"], _TIME).replace(tzinfo=UTC) > since]
        if "requestid" in args:
            rows = [w for w in rows if str(w["request_id"]) == args["requestid"]]
        if "username" in args:
            rows = [w for w in rows if w["username"].lower() == args["username"].lower()]
        return sorted(rows, key=lambda w: -int(w["request_id"]))

    def _tasks(self, args: dict[str, str]) -> list[dict[str, Any]]:
        asked = args.get("idds_request_id", "")
        ids = [int(i) for i in asked.split(",")] if asked else list(self.workflows)
        since = self._days(args)
        found = []
        for rid in ids:
            workflow = self.workflows.get(rid)
            if workflow is None or ("username" in args and workflow["username"].lower() != args["username"].lower()):
                continue
            found += [(t, workflow) for t in self.tasks.get(rid, []) if t.modified > since]
        found.sort(key=lambda tw: tw[0].modified, reverse=True)
        limit = int(args.get("limit", 5000))
        return [self._task_row(t, w) for t, w in found[:limit]]

    @staticmethod
    def _task_row(t: FakeTask, workflow: dict[str, Any]) -> dict[str, Any]:
        dsinfo = {"nfiles": t.nfiles, "nfilesfinished": t.finished, "nfilesfailed": t.failed, "nfilesmissing": 0,
                  "pctfinished": _pct(t.finished, t.nfiles), "pctfailed": _pct(t.failed, t.nfiles)}
        superstatus = {"done": "done", "finished": "finished", "failed": "failed"}.get(t.status, "running")
        return {"jeditaskid": t.jeditaskid, "taskname": t.taskname, "status": t.status, "superstatus": superstatus,
                "reqid": 1, "username": workflow["username"], "attemptnr": 0, "ramcount": 4000, "ramunit": "MBPerCore",
                "site": "SLAC_Rubin", "cloud": "US", "tasktype": "prod", "prodsourcelabel": "managed",
                "errordialog": t.errordialog, "modificationtime": t.modified.strftime(_TIME),
                "creationdate": workflow["created_at"], "statechangetime": t.modified.strftime(_TIME),
                "transpath": "runGen-00-00-02", "age": 0.1, "duration_days": 0.1, "category": "production",
                "owner": workflow["username"], "dsinfo": dsinfo, **dsinfo,
                "datasets": [{"jeditaskid": t.jeditaskid, "type": "pseudo_input", "masterid": None,
                              "datasetname": f"pseudo_dataset_{t.jeditaskid}", "nfiles": t.nfiles,
                              "nfilesfinished": t.finished, "nfilesfailed": t.failed, "status": "ready"}]}

    def _jobs(self, args: dict[str, str]) -> dict[str, Any]:
        tasks = [int(i) for i in args.get("jeditaskid", "").split("|") if i]
        jobs = [dict(j) for tid in tasks for j in self.jobs.get(tid, [])]
        if "jobstatus" in args:
            jobs = [j for j in jobs if j["jobstatus"] in args["jobstatus"].split("|")]
        jobs = jobs[:int(args.get("limit", 10000))]
        if tasks:  # the real view: "%0.2f" % (maxpss / 1024.) once a task is named
            for j in jobs:
                if isinstance(j.get("maxpss"), int) and j["maxpss"] > 0:
                    j["maxpss"] = "%0.2f" % (j["maxpss"] / 1024.0)
        errs = _count(f"{k}:{j[k + 'errorcode']}" for j in jobs for k in ("pilot", "exe", "ddm", "sup")
                      if j.get(k + "errorcode"))
        if "fields" in args and jobs:
            keep = set(args["fields"].split(",")) & set(jobs[0])
            jobs = [{k: v for k, v in j.items() if k in keep} for j in jobs]
        return {"selectionsummary": [{"field": "jobstatus", "list": [{"kname": "failed", "kvalue": len(jobs)}]}],
                "jobs": jobs, "errsByCount": [{"error": k, "count": n} for k, n in errs.items()]}


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0


# ---- a PanDA campaign with many runs in flight (engine tests and the benchmark) ----------------------

def panda_campaign(root: Any, n_groups: int, monitor_url: str = "", name: str = "drp") -> Any:
    """A campaign on a USDF PanDA profile whose step1 has `n_groups` groups (visits 1..n)."""
    from campaignops.domain.model import Profile

    profile = Profile("usdf-panda", "test", "USDF", "panda", "", (("wmsServiceClass", "lsst.ctrl.bps.panda.PanDAService"),),
                      monitor=(("url", monitor_url),) if monitor_url else ())
    data = {"name": name, "description": "d", "operator": "op", "profile": "usdf-panda",
            "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/repo", "inputs": ["in"], "output": "out/{campaign}"},
            "pipeline": "pipelines/p.yaml",
            "steps": [{"name": "step1", "subsets": ["step1"],
                       "split": {"by": "values", "dimension": "visit", "values": list(range(1, n_groups + 1))},
                       "acceptance": {"max_failed_fraction": 0.0}}]}
    path = root / "campaigns" / name / "campaign.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return campaign_from_dict(data, profile, path=path)


def running_ledger(campaign: Any, request_ids: list[int], submitted: str = "2026-11-30T08:00:00Z") -> Any:
    """Every run of step1 submitted and RUNNING with its iDDS request id (run i has request_ids[i])."""
    from campaignops.domain.states import RunState, Transition
    from campaignops.ledger.records import Attempt, Ledger, RunRecord

    runs = []
    for i, rid in enumerate(request_ids, start=1):
        attempt = Attempt(number=1, kind="submit", output_run=f"out/drp/step1/visit{i}/a01", config_hash="h",
                          config_path="c.yaml", launch_dir=f"/nonexistent/launch/{i}", submit_dir=f"/submit/{i}",
                          wms_id=str(rid), submitted_at=submitted, state=RunState.RUNNING, last_checked=submitted,
                          transitions=(Transition(submitted, RunState.RUNNING),))
        runs.append(RunRecord("step1", f"visit{i}", f"visit IN ({i})", (attempt,)))
    return Ledger(campaign.name, tuple(runs))
