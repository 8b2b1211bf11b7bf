"""Reading and writing a campaign's ledger: campaigns/<name>/ledger/, sealed files written one by one.

The folder holds `index.yaml` (every file with its run and attempt counts and seal digest, and the
frozen groups) and one file per step and 100 runs (`step1.000.yaml`, `step1.001.yaml`, …). A save
writes only the files whose text changed, so the commit of a status cycle that moved 10 runs is a
diff of those runs' lines. Each file carries a seal (counts and sha256 of its body): a cut or edited
file is refused, a file lost, added or restored from an older commit disagrees with the index and is
refused too. Nothing is rewritten after a refusal: the message says how to restore it from git.

A campaign recorded before this layout has one `ledger.yaml`: it is read as before and moved into
the folder by the next save (`migrating` says when a save will do that).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..campaign_spec.schema import validator
from ..domain.errors import LedgerError
from .codec import (
    SCHEMA_VERSION,
    attempt_from_dict,
    attempt_to_dict,
    check_from_dict,
    check_to_dict,
    control_from_dict,
    control_to_dict,
    decode_attempts,
    run_from_dict,
    run_text,
    run_to_dict,
    setup_from_dict,
    setup_to_dict,
    split_runs,
    stored_run,
    to_json,
    transfer_from_dict,
    transfer_to_dict,
)
from .paths import LEDGER_DIR, LEDGER_FILE, ledger_dir, ledger_path
from .records import Attempt, CheckRecord, Control, Ledger, Removal, RunRecord, SetupRecord, TransferRecord

INDEX_FILE = "index.yaml"
RUNS_PER_FILE = 100  # ~170 KB a file at 30 task labels: a changed run rewrites one such file
# libyaml when present: a 500-run ledger loads and dumps several times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_SEAL = re.compile(r"^# seal: (?P<runs>\d+) runs, (?P<attempts>\d+) attempts, sha256 (?P<digest>[0-9a-f]{32})$")
_STEP = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,39}$")
_ATTEMPT_LINE = '\n {"number": '


# ---- one document: the single-file layout, and the plain-data form of a whole ledger ----------------

def to_dict(ledger: Ledger) -> dict[str, Any]:
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "campaign": ledger.campaign}
    if ledger.frozen_groups:
        out["frozen_groups"] = _frozen_to_dict(ledger)
    out.update(_campaign_records(ledger.setup, ledger.controls, ledger.removed, ledger.transfers, ledger.checks))
    out["runs"] = [run_to_dict(r) for r in ledger.runs]
    return out


def _frozen_to_dict(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    return {step: [{"name": n, "query": q, "size": s} for n, q, s in groups] for step, groups in ledger.frozen_groups}


def _frozen_from_dict(d: Mapping[str, Any]) -> tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...]:
    return tuple(sorted(
        (step, tuple((g["name"], g["query"], int(g.get("size", 0))) for g in groups))
        for step, groups in (d.get("frozen_groups") or {}).items()))


def from_dict(d: dict[str, Any]) -> Ledger:
    setup, controls, removed, transfers, checks = _campaign_records_from(d)
    return Ledger(d["campaign"], tuple(run_from_dict(r) for r in d.get("runs") or ()), _frozen_from_dict(d),
                  controls, setup, removed, transfers, checks)


def _campaign_records(setup: SetupRecord | None, controls: tuple[Control, ...],
                      removed: tuple[Removal, ...], transfers: tuple[TransferRecord, ...] = (),
                      checks: tuple[CheckRecord, ...] = ()) -> dict[str, Any]:
    """The campaign-level records (set-up stage, operator controls, retention's removals, transfer stages) as
    plain data; absent when empty."""
    out: dict[str, Any] = {}
    if setup is not None:
        out["setup"] = setup_to_dict(setup)
    if controls:
        out["controls"] = [control_to_dict(c) for c in controls]
    if removed:
        out["removed_runs"] = [_removal_to_dict(r) for r in removed]
    if transfers:
        out["transfers"] = [transfer_to_dict(t) for t in transfers]
    if checks:
        out["checks"] = [check_to_dict(c) for c in checks]
    return out


def _removal_to_dict(r: Removal) -> dict[str, Any]:
    return {"run": r.run, "at": r.at, "reason": r.reason, "datasets": r.datasets}


def _campaign_records_from(d: Mapping[str, Any]) -> tuple[SetupRecord | None, tuple[Control, ...],
                                                           tuple[Removal, ...], tuple[TransferRecord, ...],
                                                           tuple[CheckRecord, ...]]:
    return (setup_from_dict(d["setup"]) if d.get("setup") else None,
            tuple(control_from_dict(c) for c in d.get("controls") or ()),
            tuple(Removal(r["run"], r["at"], r.get("reason", ""), int(r.get("datasets", 0)))
                  for r in d.get("removed_runs") or ()),
            tuple(transfer_from_dict(t) for t in d.get("transfers") or ()),
            tuple(check_from_dict(c) for c in d.get("checks") or ()))


def dumps(ledger: Ledger) -> str:
    """The single-file layout's text: a header, the seal of the body, the body (YAML)."""
    buf = io.StringIO()
    yaml.dump(to_dict(ledger), buf, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000,
              allow_unicode=True)
    body = buf.getvalue()
    attempts = sum(len(r.attempts) for r in ledger.runs)
    return (f"# Ledger of campaign {ledger.campaign}: written by `campaign`, do not edit by hand.\n"
            f"# seal: {len(ledger.runs)} runs, {attempts} attempts, sha256 {_digest(body)}\n" + body)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def _restore(where: str | Path) -> str:
    return f"restore it from git: `git log -p -- {where}`, then `git checkout <commit> -- {where}`"


def _sealed(text: str, where: str | Path) -> tuple[re.Match[str] | None, str]:
    """(the seal, the body) of a file written by `campaign`; (None, text) for a file without a seal.
    A seal that does not match its body is refused: the file was cut or edited since."""
    first, _, rest = text.partition("\n")
    second, _, body = rest.partition("\n")
    match = _SEAL.match(second) if first.startswith(("# Ledger of campaign", "# Index of the ledger")) else None
    if match is None:
        return None, text
    if _digest(body) != match["digest"]:
        raise LedgerError(
            f"{where}: the ledger is not what `campaign` wrote (its seal records {match['runs']} runs and "
            f"{match['attempts']} attempts; the content was cut or edited since). Nothing was written. "
            f"{_restore(where).capitalize()}")
    return match, body


def _checked(data: Any, where: str | Path, campaign: str | None, definition: str | None = None) -> dict[str, Any]:
    """`data` checked against the ledger schema (or its `definition`) and the campaign name."""
    restore = _restore(where)
    if not isinstance(data, dict) or "campaign" not in data:
        raise LedgerError(f"{where}: not a campaign ledger (no 'campaign' key); {restore}")
    error = next(iter(sorted(validator("ledger", definition).iter_errors(data), key=lambda e: list(e.absolute_path))),
                 None)
    if error is not None:
        at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise LedgerError(f"{where}: damaged ledger at {at or 'the top'}: {error.message}; {restore}")
    _same_campaign(data["campaign"], where, campaign)
    return data


def _same_campaign(found: Any, where: str | Path, campaign: str | None) -> None:
    if campaign is not None and found != campaign:
        raise LedgerError(f"{where}: this is the ledger of campaign {found!r}, not of {campaign!r}: "
                          f"it was copied or moved here; {_restore(where)}")


# A ledger file larger than this is refused before it is parsed: the largest ledger file `campaign` writes
# is a single-file ledger of an older campaign (~2 KB a run: 10,000 runs ~ 20 MB); the folder's files hold
# 100 runs each. Bounds the memory and time a damaged or hostile file can cost a `campaign status`.
MAX_FILE_BYTES = 64 * 1024 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: `campaign` never writes them, and an alias bomb (a few lines
    that expand into billions of nodes) would hang whoever reads the file."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "found a YAML anchor or alias (&name / *name): `campaign` never writes them",
                event.start_mark)
        return super().compose_node(parent, index)


def _bounded(text: str, where: str | Path) -> str:
    if len(text) > MAX_FILE_BYTES:
        raise LedgerError(f"{where}: {len(text):,} characters, more than a ledger file holds "
                          f"({MAX_FILE_BYTES:,} at most); nothing was read. {_restore(where).capitalize()}")
    return text


def read_file(path: Path) -> str:
    """The text of one ledger file: at most MAX_FILE_BYTES, strict UTF-8; LedgerError naming the file
    and how to restore it otherwise."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise LedgerError(f"{path}: cannot be read ({exc.strerror or exc}); {_restore(path)}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise LedgerError(f"{path}: larger than a ledger file holds ({MAX_FILE_BYTES:,} bytes at most); "
                          f"nothing was read. {_restore(path).capitalize()}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise LedgerError(f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
                          f"`campaign` writes UTF-8 only, the file was damaged. {_restore(path).capitalize()}") \
            from exc


def _yaml(text: str, where: str | Path) -> Any:
    _bounded(text, where)
    # libyaml cannot be told to refuse aliases; a text without '&' and '*' has none, so it keeps the fast loader
    loader = _Loader if "&" not in text and "*" not in text else _NoAliasLoader
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise LedgerError(f"{where}: unreadable ledger ({exc}); resolve the merge conflict in it, or "
                          f"{_restore(where)}") from exc


def parse(text: str, where: str | Path, campaign: str | None = None) -> Ledger:
    """A single-file ledger from its text, checked (seal, schema, campaign name); LedgerError saying how
    to restore it."""
    _sealed(text, where)
    data = _checked(_yaml(text, where) or {}, where, campaign)
    try:
        return from_dict(data)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise LedgerError(f"{where}: damaged ledger ({type(exc).__name__}: {exc}); {_restore(where)}") from exc


def parse_version(text: str | None) -> Ledger | None:
    """A single-file ledger as one git revision holds it: None when missing or not a ledger there."""
    if text is None:
        return None
    try:
        return parse(text, LEDGER_FILE)
    except LedgerError:
        return None


# ---- the folder: an index and one file per step and 100 runs --------------------------------------

@dataclass(frozen=True)
class Entry:
    """One ledger file as the index lists it. `previous` only while a save is under way: the counts
    and digest the file had before (None: it did not exist), either version being complete."""

    name: str
    step: str
    runs: int
    attempts: int
    sha256: str
    previous: tuple[int, int, str] | None = None
    pending: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "step": self.step, "runs": self.runs, "attempts": self.attempts,
                               "sha256": self.sha256}
        if self.pending:
            out["previous"] = (dict(zip(("runs", "attempts", "sha256"), self.previous, strict=True))
                               if self.previous else None)
        return out


@dataclass(frozen=True)
class Index:
    campaign: str
    entries: tuple[Entry, ...]
    frozen_groups: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...] = ()
    setup: SetupRecord | None = None
    controls: tuple[Control, ...] = ()
    removed: tuple[Removal, ...] = ()
    transfers: tuple[TransferRecord, ...] = ()
    checks: tuple[CheckRecord, ...] = ()

    @property
    def pending(self) -> bool:
        return any(e.pending for e in self.entries)


def _file_name(step: str, part: int) -> str:
    if not _STEP.match(step):
        raise LedgerError(f"step name {step!r} cannot name a ledger file (letters, digits, _ and -, "
                          "starting with a letter)")
    return f"{step}.{part:03d}.yaml"


def _parts(ledger: Ledger) -> list[tuple[str, str, list[RunRecord]]]:
    """(file name, step, runs) of every file: steps in the order their first run was recorded."""
    by_step: dict[str, list[RunRecord]] = {}
    for run in ledger.runs:
        by_step.setdefault(run.step, []).append(run)
    return [(_file_name(step, i // RUNS_PER_FILE), step, runs[i:i + RUNS_PER_FILE])
            for step, runs in by_step.items() for i in range(0, len(runs), RUNS_PER_FILE)]


def _sealed_text(title: str, runs: int, attempts: int, body: str) -> str:
    return f"# {title}: written by `campaign`, do not edit by hand.\n" \
           f"# seal: {runs} runs, {attempts} attempts, sha256 {_digest(body)}\n{body}"


@dataclass(eq=False)
class _Source:
    """A sealed file as it was read: a file whose runs are still these same objects is unchanged."""

    name: str
    text: str
    entry: Entry
    runs: list[RunRecord]


def _unchanged(name: str, runs: Sequence[RunRecord]) -> _Source | None:
    source = runs[0].__dict__.get("_source") if runs else None
    if isinstance(source, _Source) and source.name == name and len(source.runs) == len(runs) \
            and all(a is b for a, b in zip(source.runs, runs, strict=True)):
        return source
    return None


def _part_text(campaign: str, step: str, name: str, runs: Sequence[RunRecord]) -> tuple[str, Entry]:
    source = _unchanged(name, runs)
    if source is not None:
        return source.text, source.entry  # read from a sealed file and not changed since: its own text
    body = (to_json({"schema_version": SCHEMA_VERSION, "campaign": campaign})[:-1] + ', "runs": [\n'
            + ",\n".join(run_text(r) for r in runs) + "\n]}\n")
    attempts = body.count(_ATTEMPT_LINE)
    digest = _digest(body)
    first = int(name.rsplit(".", 2)[1]) * RUNS_PER_FILE + 1
    title = f"Ledger of campaign {campaign}, step {step}, runs {first}-{first + len(runs) - 1}"
    return _sealed_text(title, len(runs), attempts, body), Entry(name, step, len(runs), attempts, digest)


_FROZEN: list[tuple[object, str]] = []  # the last frozen groups written, and their text


def _frozen_text(frozen: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...]) -> str:
    """The index's frozen groups, one a line: 10,000 groups are written once, not at every save."""
    if _FROZEN and _FROZEN[0][0] is frozen:
        return _FROZEN[0][1]
    lines = ['], "frozen_groups": {']
    for i, (step, groups) in enumerate(frozen):
        lines.append(f" {to_json(step)}: [")
        lines += ["  " + to_json({"name": n, "query": q, "size": s}) + ("," if j < len(groups) - 1 else "")
                  for j, (n, q, s) in enumerate(groups)]
        lines.append(" ]" + ("," if i < len(frozen) - 1 else ""))
    lines.append("}}")
    text = "\n".join(lines)
    _FROZEN[:] = [(frozen, text)]
    return text


def _index_text(index: Index) -> str:
    head = {"schema_version": SCHEMA_VERSION, "campaign": index.campaign}
    if index.setup is not None:
        head["setup"] = setup_to_dict(index.setup)
    lines = [to_json(head)[:-1]]
    for key, rows in (("controls", [control_to_dict(c) for c in index.controls]),
                      ("removed_runs", [_removal_to_dict(r) for r in index.removed]),
                      ("transfers", [transfer_to_dict(t) for t in index.transfers]),
                      ("checks", [check_to_dict(c) for c in index.checks])):
        if rows:  # one a line: an operator action or a removal is a one-line diff
            lines[-1] += f', "{key}": ['
            lines += [" " + to_json(row) + ("," if i < len(rows) - 1 else "") for i, row in enumerate(rows)]
            lines.append("]")
    lines[-1] += ', "files": ['
    lines += [" " + to_json(e.to_dict()) + ("," if i < len(index.entries) - 1 else "")
              for i, e in enumerate(index.entries)]
    lines.append(_frozen_text(index.frozen_groups) if index.frozen_groups else "]}")
    body = "\n".join(lines) + "\n"
    runs = sum(e.runs for e in index.entries)
    attempts = sum(e.attempts for e in index.entries)
    return _sealed_text(f"Index of the ledger of campaign {index.campaign}", runs, attempts, body)


def _layout(ledger: Ledger) -> tuple[dict[str, str], Index]:
    texts: dict[str, str] = {}
    entries = []
    for name, step, runs in _parts(ledger):
        texts[name], entry = _part_text(ledger.campaign, step, name, runs)
        entries.append(entry)
    return texts, Index(ledger.campaign, tuple(entries), ledger.frozen_groups, ledger.setup, ledger.controls,
                         ledger.removed, ledger.transfers, ledger.checks)


def files(ledger: Ledger) -> dict[str, str]:
    """Every file of the ledger folder: name -> text, the index last."""
    texts, index = _layout(ledger)
    return {**texts, INDEX_FILE: _index_text(index)}


def _json_or_yaml(body: str, where: str | Path) -> Any:
    _bounded(body, where)
    try:
        return json.loads(body)
    except ValueError:
        return _yaml(body, where)  # a hand repair may have left it in YAML's block style


def _unsealed(where: str | Path) -> LedgerError:
    """A folder file without its seal: `campaign` seals every file it writes there, so a person removed it
    (a hand edit, which is then indistinguishable from damage). Refused, never sealed again."""
    return LedgerError(f"{where}: its seal line was removed by hand, so an edit or a cut cannot be detected; "
                       f"nothing was read or written. {_restore(where).capitalize()}; record changes with "
                       f"`campaign` commands (accept, skip, supersede), never by editing the ledger")


def parse_index(text: str, where: str | Path, campaign: str | None = None) -> Index:
    """The index from its text, which must carry the seal `campaign` wrote."""
    seal, body = _sealed(text, where)
    if seal is None:
        raise _unsealed(where)
    data = _json_or_yaml(body, where)
    if not isinstance(data, dict):
        data = _checked(data, where, campaign, "index")
    else:
        # sealed: what `campaign` wrote from checked records. The file list is still checked (it is
        # short); the frozen groups (one per group, 10,000 in a data release) are by building them.
        _checked({k: v for k, v in data.items() if k != "frozen_groups"}, where, campaign, "index")
    try:
        entries = tuple(
            Entry(f["name"], f["step"], f["runs"], f["attempts"], f["sha256"],
                  (f["previous"]["runs"], f["previous"]["attempts"], f["previous"]["sha256"])
                  if f.get("previous") else None, "previous" in f)
            for f in data["files"])
        index = Index(data["campaign"], entries, _frozen_from_dict(data), *_campaign_records_from(data))
        at = body.find('\n], "frozen_groups": {')
        if seal is not None and at >= 0 and index.frozen_groups:
            _FROZEN[:] = [(index.frozen_groups, body[at + 1:].rstrip("\n"))]  # as written: not written again
    except (KeyError, ValueError, TypeError) as exc:
        raise LedgerError(f"{where}: damaged ledger index ({type(exc).__name__}: {exc}); {_restore(where)}") from exc
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise LedgerError(f"{where}: a file is listed twice; {_restore(where)}")
    if seal is not None and (int(seal["runs"]), int(seal["attempts"])) != (
            sum(e.runs for e in entries), sum(e.attempts for e in entries)):
        raise LedgerError(f"{where}: the seal's counts disagree with the files listed; {_restore(where)}")
    return index


def _listed(seal_line: str, entry: Entry) -> bool:
    """The seal line is one of the versions the index entry lists."""
    match = _SEAL.match(seal_line)
    if match is None:
        return False
    found = (int(match["runs"]), int(match["attempts"]), match["digest"])
    return found == (entry.runs, entry.attempts, entry.sha256) or (entry.pending and found == entry.previous)


def _parse_part(text: str, where: str | Path, campaign: str, entry: Entry) -> list[RunRecord]:
    """The runs of one ledger file, checked against its seal, its index entry and the campaign."""
    folder = Path(where).parent
    restore = _restore(where)
    seal, body = _sealed(text, where)
    expected = {(entry.runs, entry.attempts, entry.sha256)}
    if entry.pending and entry.previous:
        expected.add(entry.previous)
    if seal is None:
        raise _unsealed(where)
    found = (int(seal["runs"]), int(seal["attempts"]), seal["digest"])
    if found not in expected:
        raise LedgerError(
            f"{where}: not the version the index {folder / INDEX_FILE} lists ({found[0]} runs, {found[1]} "
            f"attempts, sha256 {found[2]}; the index says {entry.runs}, {entry.attempts}, {entry.sha256}): "
            f"one of them was restored from another commit or written by a save cut short. Nothing was "
            f"written; restore the folder from git: `git log -p -- {folder}`")
    runs = _stored_runs(body, where, campaign, found)
    source = _Source(Path(where).name, text, Entry(entry.name, entry.step, found[0], found[1], found[2]), runs)
    for run in runs:
        run.__dict__["_source"] = source
    wrong = next((r for r in runs if r.step != entry.step), None)
    if wrong is not None:
        raise LedgerError(f"{where}: run {wrong.key} is not of step {entry.step}; {restore}")
    return runs


def _stored_runs(body: str, where: str | Path, campaign: str, counts: tuple[int, int, str]) -> list[RunRecord]:
    """The runs of a sealed file, read from their head lines; their attempts decoded when first used."""
    head, _, rest = body.partition("\n")
    try:
        if not head.endswith(', "runs": [') or not rest.endswith("\n]}\n"):
            raise ValueError("not the layout `campaign` writes")
        top = json.loads(head[:-len(', "runs": [')] + "}")
        if top.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema_version {top.get('schema_version')!r} is not {SCHEMA_VERSION}")
        _same_campaign(top.get("campaign"), where, campaign)

        def decode(text: str) -> tuple[Attempt, ...]:
            try:
                return decode_attempts(text)
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                raise LedgerError(f"{where}: damaged ledger ({type(exc).__name__}: {exc}); {_restore(where)}") \
                    from exc

        runs: list[RunRecord] = [stored_run(block, decode) for block in split_runs(rest[:-len("\n]}\n")])]
    except (ValueError, KeyError, TypeError) as exc:
        raise LedgerError(f"{where}: damaged ledger ({exc}); {_restore(where)}") from exc
    if len(runs) != counts[0] or body.count(_ATTEMPT_LINE) != counts[1]:
        raise LedgerError(f"{where}: holds {len(runs)} runs, its seal says {counts[0]}; {_restore(where)}")
    return runs


def parse_folder(texts: Mapping[str, str | None], where: str | Path, campaign: str | None = None,
                 only: Sequence[str] | None = None,
                 reuse: MutableMapping[str, list[RunRecord]] | None = None) -> Ledger:
    """A ledger from the texts of its folder (name -> text, None: missing), every file checked against
    the index. `only`: read just these files (a part of the ledger, e.g. the files a commit changed).
    `reuse`: the runs of files read before, by seal line: a file seen before gives the same objects."""
    folder = Path(where)
    index_text = texts.get(INDEX_FILE)
    if index_text is None:
        raise LedgerError(f"{folder}: the ledger index {INDEX_FILE} is missing, so lost files could not be "
                          f"noticed; restore it from git: `git log -p -- {folder / INDEX_FILE}`")
    index = parse_index(index_text, folder / INDEX_FILE, campaign)
    listed = {e.name for e in index.entries}
    extra = sorted(n for n in texts if n != INDEX_FILE and n not in listed)
    if extra and not index.pending:  # (a save cut short may not have removed a file it no longer needs)
        raise LedgerError(f"{folder}: {', '.join(extra)} not listed in {INDEX_FILE}: the index is older than the "
                          f"files; restore the folder from git: `git log -p -- {folder}`")
    runs: list[RunRecord] = []
    for entry in index.entries:
        if only is not None and entry.name not in only:
            continue
        text = texts.get(entry.name)
        if text is None:
            if entry.pending and entry.previous is None:
                continue  # a new file a save cut short did not write yet: nothing of it was recorded
            raise LedgerError(f"{folder / entry.name}: missing, the index lists it with {entry.runs} runs; "
                              f"restore it from git: `git log -p -- {folder / entry.name}`")
        seal = text.split("\n", 2)[1] if reuse is not None and text.count("\n") >= 2 else ""
        if f"{entry.name} {seal}" in (reuse or {}) and _listed(seal, entry):
            runs += (reuse or {})[f"{entry.name} {seal}"]  # the same text: checked when first read
            continue
        part = _parse_part(text, folder / entry.name, index.campaign, entry)
        if reuse is not None and seal.startswith("# seal: "):
            reuse[f"{entry.name} {seal}"] = part
        runs += part
    return Ledger(index.campaign, tuple(runs), index.frozen_groups, index.controls, index.setup, index.removed,
                  index.transfers, index.checks)


def _read_folder(folder: Path) -> dict[str, str | None]:
    return {p.name: read_file(p) for p in sorted(folder.glob("*.yaml")) if p.is_file()}


def migrating(campaign_dir: Path) -> bool:
    """The next save moves a single-file ledger into the folder layout (or removes one the folder holds)."""
    return ledger_path(campaign_dir).exists()


def _move_cut_short(folder: Path) -> bool:
    """The folder holds only what a move of the single-file ledger wrote before it was cut short: an
    index of a save cut short whose every file is new (a move has no earlier version of any file)."""
    try:
        index = parse_index(read_file(folder / INDEX_FILE), folder / INDEX_FILE)
    except LedgerError:
        return False
    return index.pending and all(e.pending and e.previous is None for e in index.entries)


def load(campaign_dir: Path, campaign: str) -> Ledger:
    """The campaign's ledger, or an empty one when none was written yet.

    A single-file ledger beside a folder is read only when the folder holds nothing but a move of it cut
    short (the next write finishes the move), or when the folder records the same ledger (the move was
    cut short before it removed the file). Any other pair is refused naming both: which one holds the
    record is for a person to decide, never for a look to guess."""
    folder, single = ledger_dir(campaign_dir), ledger_path(campaign_dir)
    has_folder = folder.is_dir() and any(folder.glob("*.yaml"))
    if single.exists() and (not has_folder or _move_cut_short(folder)):
        # recorded before the folder layout (or its move into the folder was cut short)
        return parse(read_file(single), single, campaign)
    if single.exists():
        from_folder = parse_folder(_read_folder(folder), folder, campaign)
        try:
            same = parse(read_file(single), single, campaign) == from_folder
        except LedgerError:
            same = False
        if not same:
            raise LedgerError(
                f"{single}: a single-file ledger beside the ledger folder {folder}/ that records something "
                f"else: one of them is stale. Nothing was read or written. Keep the one that holds the record "
                f"(compare `git log -p -- {single}` with `git log -p -- {folder}`) and remove the other")
        return from_folder
    if has_folder:
        return parse_folder(_read_folder(folder), folder, campaign)
    return Ledger(campaign)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write(path: Path, text: str, mode: int) -> None:
    """Atomically: a reader sees the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=".ledger.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp makes the file 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _mode(*candidates: Path) -> int:
    """The mode of the first file that exists (a ledger file keeps its mode), else the default."""
    for path in candidates:
        if path.exists():
            return path.stat().st_mode & 0o777
    return 0o666 & ~_umask()


def _written(folder: Path) -> dict[str, tuple[int, int, str]]:
    """File name -> (runs, attempts, digest) as the index on disk lists them; {} when there is none or
    it is unreadable (then every file is written). `load` checked it: this only finds what to rewrite."""
    try:
        _, body = _sealed((folder / INDEX_FILE).read_text(encoding="utf-8"), folder / INDEX_FILE)
        listed = {str(f["name"]): (int(f["runs"]), int(f["attempts"]), str(f["sha256"]), "previous" in f)
                  for f in json.loads(body)["files"]}
    except (OSError, LedgerError, ValueError, KeyError, TypeError):
        return {}
    out: dict[str, tuple[int, int, str]] = {}
    for name, (runs, attempts, digest, pending) in listed.items():
        if not pending:
            out[name] = (runs, attempts, digest)
            continue
        # a save was cut short: the file holds its old or its new version; its seal says which
        try:
            with (folder / name).open(encoding="utf-8") as fh:
                fh.readline()
                seal = _SEAL.match(fh.readline().rstrip("\n"))
        except OSError:
            continue
        if seal is not None:
            out[name] = (int(seal["runs"]), int(seal["attempts"]), seal["digest"])
    return out


def unwritten(campaign_dir: Path) -> list[Entry]:
    """The files a save cut short listed as new but never wrote (their runs were being recorded for the first
    time, so nothing of them was launched by that save); `load` reads the ledger without them. [] when the
    index is not that of a save cut short, or cannot be read (then `load` says why)."""
    folder = ledger_dir(campaign_dir)
    try:
        index = parse_index(read_file(folder / INDEX_FILE), folder / INDEX_FILE)
    except LedgerError:
        return []
    return [e for e in index.entries if e.pending and e.previous is None and not (folder / e.name).exists()]


def read_hand_edited(text: str, where: str | Path, campaign: str, step: str) -> list[RunRecord]:
    """The runs of a folder file edited by hand (its seal removed or no longer matching): checked against the
    ledger schema and the campaign, every run of `step`. Only `campaign ledger repair --accept-edits` reads
    a file so; `load` refuses it."""
    _, _, rest = text.partition("\n")
    second, _, after = rest.partition("\n")
    body = after if _SEAL.match(second) or second.startswith("# seal:") else (rest if text.startswith("#") else text)
    data = _checked(_json_or_yaml(body, where), where, campaign)
    try:
        runs = [run_from_dict(r) for r in data.get("runs") or ()]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise LedgerError(f"{where}: damaged ledger ({type(exc).__name__}: {exc}); {_restore(where)}") from exc
    wrong = next((r for r in runs if r.step != step), None)
    if wrong is not None:
        raise LedgerError(f"{where}: run {wrong.key} is not of step {step}; {_restore(where)}")
    return runs


def save(campaign_dir: Path, ledger: Ledger, *, rewrite: bool = False) -> bool:
    """Write the files whose text changed, then the index; returns False when nothing changed.

    Crash-safe: the index first lists each changed file with what it held before, so a save cut short
    leaves each file complete in its old or new version, and `load` accepts either. A single-file
    ledger is moved into the folder (and its file removed) by this save. `rewrite`: also every file whose
    text on disk is not the one to write, whatever the index says (`campaign ledger repair`)."""
    folder, single = ledger_dir(campaign_dir), ledger_path(campaign_dir)
    texts, new = _layout(ledger)
    index_text = _index_text(new)
    index_path = folder / INDEX_FILE
    moving = single.exists()
    if not moving and not rewrite and index_path.exists() and index_path.read_text(encoding="utf-8") == index_text \
            and all((folder / name).exists() for name in texts):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    before = {} if moving else _written(folder)
    changed = {e.name for e in new.entries
               if before.get(e.name) != (e.runs, e.attempts, e.sha256) or not (folder / e.name).exists()
               or (rewrite and (folder / e.name).read_bytes() != texts[e.name].encode("utf-8"))}
    # files no run needs any more (and one a save cut short did not remove: `load` refuses any other)
    gone = sorted({*before, *(p.name for p in folder.glob("*.yaml"))} - {*texts, INDEX_FILE})
    mode = _mode(index_path, single)
    if changed or gone:
        pending = Index(new.campaign, tuple(
            Entry(e.name, e.step, e.runs, e.attempts, e.sha256, before.get(e.name), True) if e.name in changed else e
            for e in new.entries), new.frozen_groups, new.setup, new.controls, new.removed, new.transfers,
            new.checks)
        _write(index_path, _index_text(pending), mode)
        for e in new.entries:
            if e.name in changed:
                _write(folder / e.name, texts[e.name], _mode(folder / e.name, index_path, single))
        for name in gone:
            (folder / name).unlink(missing_ok=True)
    _write(index_path, index_text, mode)
    if moving:
        single.unlink()
    return True


__all__ = ["INDEX_FILE", "LEDGER_DIR", "LEDGER_FILE", "RUNS_PER_FILE", "Entry", "Index", "attempt_from_dict",
           "attempt_to_dict", "dumps", "files", "from_dict", "ledger_dir", "ledger_path", "load", "migrating",
           "parse", "parse_folder", "parse_index", "parse_version", "read_file", "read_hand_edited", "save", "to_dict",
           "unwritten"]
