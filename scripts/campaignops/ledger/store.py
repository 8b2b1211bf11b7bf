"""Reading and writing campaigns/<name>/ledger.yaml: stable key order, atomic writes."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..domain.errors import LedgerError
from ..domain.states import RunState, TaskCounts, Transition
from ..spec.schema import validator
from .records import Attempt, Ledger, Removal, RunRecord

LEDGER_FILE = "ledger.yaml"
# libyaml when present: a 500-run ledger loads and dumps several times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SCHEMA_VERSION = 1
_SEAL = re.compile(r"^# seal: (?P<runs>\d+) runs, (?P<attempts>\d+) attempts, sha256 (?P<digest>[0-9a-f]{32})$")


# ---- serialisation: plain dicts with a stable key order so git diffs read well ----------------

def _attempt_to_dict(a: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": a.number,
        "kind": a.kind,
        "state": a.state.value,
        "output_run": a.output_run,
        "config_hash": a.config_hash,
        "config_path": a.config_path,
        "launch_dir": a.launch_dir,
        "submit_dir": a.submit_dir,
        "wms_id": a.wms_id,
        "submitted_at": a.submitted_at,
        "last_checked": a.last_checked,
        "memory_multiplier": a.memory_multiplier,
    }
    if a.spec_hash:
        out["spec_hash"] = a.spec_hash
    if a.message:
        out["message"] = a.message
    if a.tasks:
        out["tasks"] = {t.label: dict(t.counts) for t in a.tasks}
    if a.exit_codes:
        out["exit_codes"] = {label: list(codes) for label, codes in a.exit_codes}
    if a.errors:
        out["errors"] = list(a.errors)
    out["transitions"] = [{"at": t.at, "state": t.state.value, **({"note": t.note} if t.note else {})}
                          for t in a.transitions]
    return out


def _attempt_from_dict(d: dict[str, Any]) -> Attempt:
    return Attempt(
        number=int(d["number"]),
        kind=d.get("kind", "submit"),
        output_run=d["output_run"],
        config_hash=d.get("config_hash", ""),
        config_path=d.get("config_path", ""),
        launch_dir=d.get("launch_dir", ""),
        submit_dir=d.get("submit_dir", ""),
        wms_id=str(d.get("wms_id") or ""),
        submitted_at=d.get("submitted_at", ""),
        state=RunState(d.get("state", "SUBMITTING")),
        last_checked=d.get("last_checked", ""),
        tasks=tuple(TaskCounts(label, tuple(sorted((k, int(v)) for k, v in counts.items())))
                    for label, counts in sorted((d.get("tasks") or {}).items())),
        exit_codes=tuple((label, tuple(codes)) for label, codes in sorted((d.get("exit_codes") or {}).items())),
        errors=tuple(d.get("errors") or ()),
        message=d.get("message", ""),
        memory_multiplier=float(d.get("memory_multiplier", 1.0)),
        spec_hash=str(d.get("spec_hash") or ""),
        transitions=tuple(Transition(t["at"], RunState(t["state"]), t.get("note", ""))
                          for t in d.get("transitions") or ()),
    )


def to_dict(ledger: Ledger) -> dict[str, Any]:
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "campaign": ledger.campaign}
    if ledger.frozen_groups:
        out["frozen_groups"] = {
            step: [{"name": n, "query": q, "size": s} for n, q, s in groups]
            for step, groups in ledger.frozen_groups}
    out["runs"] = [
        {"step": r.step, "group": r.group, "data_query": r.data_query,
         "attempts": [_attempt_to_dict(a) for a in r.attempts]}
        for r in ledger.runs]
    if ledger.removed:
        out["removed_runs"] = [{"run": r.run, "at": r.at, "reason": r.reason, "datasets": r.datasets}
                               for r in ledger.removed]
    return out


def from_dict(d: dict[str, Any]) -> Ledger:
    frozen = tuple(sorted(
        (step, tuple((g["name"], g["query"], int(g.get("size", 0))) for g in groups))
        for step, groups in (d.get("frozen_groups") or {}).items()))
    runs = tuple(
        RunRecord(r["step"], r["group"], r.get("data_query", ""),
                  tuple(_attempt_from_dict(a) for a in r.get("attempts") or ()))
        for r in d.get("runs") or ())
    removed = tuple(Removal(r["run"], r["at"], r.get("reason", ""), int(r.get("datasets", 0)))
                    for r in d.get("removed_runs") or ())
    return Ledger(d["campaign"], runs, frozen, removed)


def dumps(ledger: Ledger) -> str:
    """The file's text: a header, the seal of the body (so a cut or hand-edited file is caught), the body."""
    buf = io.StringIO()
    yaml.dump(to_dict(ledger), buf, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000,
              allow_unicode=True)
    body = buf.getvalue()
    attempts = sum(len(r.attempts) for r in ledger.runs)
    return (f"# Ledger of campaign {ledger.campaign}: written by `campaign`, do not edit by hand.\n"
            f"# seal: {len(ledger.runs)} runs, {attempts} attempts, sha256 {_digest(body)}\n" + body)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def _check_seal(text: str, where: str | Path) -> None:
    """A file written by `dumps` must still be what it wrote: a cut or edited body would lose records."""
    first, _, rest = text.partition("\n")
    second, _, body = rest.partition("\n")
    match = _SEAL.match(second) if first.startswith("# Ledger of campaign") else None
    if match is None:
        return  # written before ledgers were sealed: the schema check below still applies
    if _digest(body) != match["digest"]:
        raise LedgerError(
            f"{where}: the ledger is not what `campaign` wrote (its seal records {match['runs']} runs and "
            f"{match['attempts']} attempts; the content was cut or edited since). Nothing was written. "
            f"Restore it from git: `git log -p -- {where}`, then `git checkout <commit> -- {where}`")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ledger_path(campaign_dir: Path) -> Path:
    return campaign_dir / LEDGER_FILE


def parse(text: str, where: str | Path, campaign: str | None = None) -> Ledger:
    """A ledger from its text, checked (seal, schema, campaign name); LedgerError saying how to restore it."""
    restore = f"restore it from git: `git log -p -- {where}`"
    _check_seal(text, where)
    try:
        data = yaml.load(text, Loader=_Loader) or {}
    except yaml.YAMLError as exc:
        raise LedgerError(f"{where}: unreadable ledger ({exc}); restore it from git history "
                          f"(`git checkout -- {where}`) or resolve the merge conflict in it") from exc
    if not isinstance(data, dict) or "campaign" not in data:
        raise LedgerError(f"{where}: not a campaign ledger (no 'campaign' key); restore it from git history")
    error = next(iter(sorted(validator("ledger").iter_errors(data), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise LedgerError(f"{where}: damaged ledger at {at or 'the top'}: {error.message}; {restore}")
    if campaign is not None and data["campaign"] != campaign:
        raise LedgerError(f"{where}: this is the ledger of campaign {data['campaign']!r}, not of {campaign!r}: "
                          f"it was copied or moved here; {restore}")
    try:
        return from_dict(data)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise LedgerError(f"{where}: damaged ledger ({type(exc).__name__}: {exc}); {restore}") from exc


def parse_version(text: str | None) -> Ledger | None:
    """A ledger as one git revision holds it: None when the file is missing or not a ledger there."""
    if text is None:
        return None
    try:
        return parse(text, "ledger.yaml")
    except LedgerError:
        return None


def load(campaign_dir: Path, campaign: str) -> Ledger:
    """The campaign's ledger, or an empty one when none was written yet."""
    path = ledger_path(campaign_dir)
    if not path.exists():
        return Ledger(campaign)
    return parse(path.read_text(encoding="utf-8"), path, campaign)


def save(campaign_dir: Path, ledger: Ledger) -> bool:
    """Write atomically; returns False (and writes nothing) when the content did not change."""
    path = ledger_path(campaign_dir)
    text = dumps(ledger)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ledger.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file 0600: keep the mode the file had (a new one gets the checkout's default).
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


__all__ = ["LEDGER_FILE", "dumps", "from_dict", "ledger_path", "load", "parse", "parse_version", "save",
           "to_dict"]
