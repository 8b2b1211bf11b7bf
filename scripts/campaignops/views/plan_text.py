"""A plan for people and tools: terminal text, the PR comment's markdown (under GitHub's limit), JSON."""

from __future__ import annotations

import json
from typing import Any

from ..domain.model import Plan, PlannedRun, Resources, Step
from ..planning.changes import Change, RunChange, counts
from ..planning.memory import memory_requests
from ..planning.render import queue_keys
from .markdown import cell, code

MARKDOWN_LIMIT = 60_000  # GitHub caps a comment at 65,536 characters; leave room for a wrapper


def _steps_in_plan(plan: Plan) -> list[tuple[Step, tuple[PlannedRun, ...]]]:
    by_step: dict[str, list[PlannedRun]] = {}
    for r in plan.runs:
        by_step.setdefault(r.step, []).append(r)
    return [(plan.campaign.step(name), tuple(runs)) for name, runs in by_step.items()]


def _gate_text(step: Step) -> str:
    if step.gate == "auto":
        return "auto"
    if step.approved_by:
        return f"manual, approved by {step.approved_by}"
    return "MANUAL: waits for approval (set approved_by)"


def _resources_text(res: Resources) -> str:
    parts = [f"{k}={v}" for k, v in res.values]
    parts += [f"{label}.{k}={v}" for label, values in res.tasks for k, v in values]
    return ", ".join(parts) or "BPS defaults"


def _clustering_text(step: Step) -> str:
    """Which quanta share a job: `visit: calibrateDemo, one job per visit`."""
    parts = []
    for name, spec in step.clustering:
        keys = dict(spec)
        per = keys.get("dimensions")
        parts.append(f"{name}: {keys.get('pipetasks', '')}, one job per {per.replace(',', ' x ') if per else 'run'}")
    return "; ".join(parts)


def _queues_text(plan: Plan, step: Step, run: PlannedRun) -> str:
    """Where the run's jobs go when the profile maps memory to queues ("" otherwise)."""
    queues = plan.campaign.profile.queues
    if queues is None:
        return ""
    keys = queue_keys(plan.campaign, queues, memory_requests(plan.campaign, run.step),
                      [label for label, _ in run.resources.tasks], step.clustering)
    special = [f"{label} {v['queue']}" for label, v in (keys.get("pipetask") or {}).items()
               if v["queue"] != keys["queue"]]
    special += [f"cluster {name} {v['queue']}" for name, v in (keys.get("cluster") or {}).items()
                if v["queue"] != keys["queue"]]
    final = keys.get("finalJob", {}).get("queue")
    return f"{keys['queue']}" + (f" ({', '.join(special)})" if special else "") + (f", final job {final}" if final else "")


def _pending(runs: tuple[PlannedRun, ...]) -> bool:
    return any(r.pending for r in runs)


def _totals(plan: Plan) -> str:
    steps = _steps_in_plan(plan)
    gated = sum(1 for s, _ in steps if not s.gate_open)
    pending = sum(1 for _, runs in steps if _pending(runs))
    text = f"{len(plan.runs)} run(s) in {len(steps)} step(s)"
    if gated:
        text += f", {gated} behind a manual gate"
    if pending:
        text += f", {pending} with groups decided by a Butler query at first apply"
    return text


def _site_text(plan: Plan) -> str:
    c = plan.campaign
    return "; ".join(f"{name}{' (central)' if name == c.central else ''}: {p.site}, wms {p.wms}, Butler "
                     f"{c.repo_at(name)}" for name in c.sites for p in (c.site_profile(name),))


def transfer_lines(plan: Plan) -> list[str]:
    """One line per transfer stage, under the name the ledger, the status pages and its issue give it: what
    moves, from where to where, before which steps."""
    return [f"{t.key}: {', '.join(t.dataset_types)} from {t.source} to {t.destination}, before "
            f"{', '.join((t.step, *t.readers))}" + (f" where {t.where}" if t.where else "") for t in plan.transfers]


def _header_pairs(plan: Plan) -> list[tuple[str, str]]:
    c = plan.campaign
    sites = [("sites", _site_text(plan))] if c.multisite else []
    return [
        ("profile", f"{c.profile.name} (site {c.profile.site}, wms {c.profile.wms})"),
        *sites,
        ("stack", c.stack_text()),
        ("pipeline", c.pipeline),
        ("butler repo", c.butler_repo),
        ("inputs", ", ".join(c.inputs)),
        ("output", c.output),
        ("data query", c.data_query or "(none)"),
        ("operator", c.operator),
        ("runs", _totals(plan)),
    ]


def _against_ledger(changes: tuple[RunChange, ...]) -> str:
    n = counts(changes)
    return ", ".join(f"{n[c]} {c.value}" for c in Change)


def _mark(change: RunChange | None) -> str:
    if change is None or change.change == Change.NEW:
        return ""
    if change.change == Change.CHANGED:
        return (f"  [CHANGED since submitted: {', '.join(change.what)}; the recorded run is not resubmitted, "
                f"so this has no effect on it; recorded {change.state.value if change.state else '-'}]")
    return f"  [recorded {change.state.value if change.state else '-'}]"


def as_text(plan: Plan, changes: tuple[RunChange, ...] = ()) -> str:
    """The plan for a terminal: header, then each step with its runs (marked against the ledger)."""
    c = plan.campaign
    by_key = {rc.key: rc for rc in changes}
    lines = [f"campaign {c.name}: {c.description}"]
    lines += [f"  {k}: {v}" for k, v in _header_pairs(plan)]
    if changes:
        lines.append(f"  against the ledger: {_against_ledger(changes)}")
    for step, runs in _steps_in_plan(plan):
        lines.append("")
        lines.append(f"{step.name}  subsets {','.join(step.subsets)}  {len(runs)} group(s)  "
                     f"requires {','.join(step.requires) or '-'}  gate {_gate_text(step)}")
        lines.append(f"  resources: {_resources_text(runs[0].resources)}")
        if step.clustering:
            lines.append(f"  clustering: {_clustering_text(step)}")
        if queues := _queues_text(plan, step, runs[0]):
            lines.append(f"  queues: {queues}")
        if _pending(runs) and step.placed_by_data:
            held = f" with {', '.join(step.split.datasets)}" if step.split.datasets else ""
            lines.append(f"  one group per site: the {step.split.dimension} values{held} its Butler holds, "
                         "asked at first apply")
        elif _pending(runs):
            lines.append(f"  groups are decided by a Butler query at first apply "
                         f"(max {step.split.max_size} {step.split.dimension} per group)")
        for r in runs:
            if r.pending:
                at = f" @ {r.site}" if r.site else ""
                lines.append(f"  {r.key}{at}: split of {r.data_query or 'all data'} decided at first apply")
                continue
            size = f" ({r.size} ID{'' if r.size == 1 else 's'})" if r.size else ""
            at = f" @ {r.site}" if r.site else ""
            lines.append(f"  {r.key}{at}{size}: {r.data_query or '(no data query)'}{_mark(by_key.get(r.key))}")
    if plan.transfers:
        lines += ["", "transfers between sites (each verified by counting at the destination):"]
        lines += [f"  {line}" for line in transfer_lines(plan)]
    orphans = [rc for rc in changes if rc.change == Change.ORPHANED]
    if orphans:
        lines += ["", "recorded runs no longer in the spec (left as they are; nothing deletes them):"]
        lines += [f"  {rc.key}  [recorded {rc.state.value if rc.state else '-'}]" for rc in orphans]
    return "\n".join(lines) + "\n"


MAX_LISTED_CHANGES = 50


def _md_changes(changes: tuple[RunChange, ...]) -> list[str]:
    """Counts first, then the runs whose change matters: changed (no effect!) and orphaned."""
    if not changes:
        return []
    lines = [f"**Against the ledger**: {_against_ledger(changes)}.", ""]
    notable = [rc for rc in changes if rc.change in (Change.CHANGED, Change.ORPHANED)]
    if notable:
        lines += ["> [!WARNING]",
                  "> These runs are already in the ledger. `apply` never submits a recorded run again, so a change "
                  "to one has no effect on it; an orphaned run is left as it is.", ""]
        lines += [f"- `{rc.key}`: **{rc.change.value}**" + (f" ({cell(', '.join(rc.what))})" if rc.what else "")
                  + (f", recorded {rc.state.value}" if rc.state else "") for rc in notable[:MAX_LISTED_CHANGES]]
        if len(notable) > MAX_LISTED_CHANGES:
            lines.append(f"- … {len(notable) - MAX_LISTED_CHANGES} more")
        lines.append("")
    return lines


def _md_header(plan: Plan, changes: tuple[RunChange, ...] = ()) -> list[str]:
    c = plan.campaign
    lines = [f"### Plan of campaign `{c.name}`", "", cell(c.description), "", *_md_changes(changes)]
    as_code = ("pipeline", "butler repo", "output", "data query")
    lines += [f"- **{k}**: {code(v) if k in as_code else cell(v)}" for k, v in _header_pairs(plan)]
    lines += ["", "| step | subsets | groups | requires | gate | resources |", "|---|---|---|---|---|---|"]
    for step, runs in _steps_in_plan(plan):
        groups = "query at first apply" if _pending(runs) else str(len(runs))
        gate = "**manual: waits for approval**" if not step.gate_open else cell(_gate_text(step))
        lines.append(f"| {step.name} | {cell(', '.join(step.subsets))} | {groups} | "
                     f"{cell(', '.join(step.requires)) or '-'} | {gate} | "
                     f"{cell(_resources_text(runs[0].resources))}"
                     f"{cell('; queues: ' + q) if (q := _queues_text(plan, step, runs[0])) else ''} |")
    return lines + _md_transfers(plan)


def _run_row(r: PlannedRun) -> str:
    size = str(r.size) if r.size else ""
    query = "_decided by a Butler query at first apply_" if r.pending else code(r.data_query)
    return f"| {r.step} | {r.group} | {size} | {query} |" + (f" {r.site} |" if r.site else "")


_RUN_TABLE = ["| step | group | IDs | data query |", "|---|---|---|---|"]


def _run_table(plan: Plan) -> list[str]:
    if not plan.campaign.multisite:
        return _RUN_TABLE
    return ["| step | group | IDs | data query | site |", "|---|---|---|---|---|"]


def _md_transfers(plan: Plan) -> list[str]:
    if not plan.transfers:
        return []
    lines = ["", "**Transfers between sites** (each verified by counting the datasets at the destination):", "",
             "| transfer | before | from | to | dataset types | what |", "|---|---|---|---|---|---|"]
    lines += [f"| {code(t.key)} | {cell(', '.join((t.step, *t.readers)))} | {t.requires} @ {t.source} | "
              f"{t.destination} | {cell(', '.join(t.dataset_types))} | {code(t.where) if t.where else 'all'} |"
              for t in plan.transfers]
    return lines


def as_markdown(plan: Plan, *, limit: int = MARKDOWN_LIMIT, changes: tuple[RunChange, ...] = ()) -> str:
    """What a PR comment shows; always shorter than `limit` (long plans are summarised per step)."""
    head = _md_header(plan, changes)
    full = "\n".join([*head, "", "<details><summary>Runs</summary>", "", *_run_table(plan),
                      *(_run_row(r) for r in plan.runs), "", "</details>"]) + "\n"
    if len(full) < limit:
        return full
    for keep in (5, 2, 1):
        rows: list[str] = []
        for _step, runs in _steps_in_plan(plan):
            if len(runs) <= 2 * keep + 1:
                rows += [_run_row(r) for r in runs]
            else:
                rows += [_run_row(r) for r in runs[:keep]]
                rows.append(f"| {runs[0].step} | … {len(runs) - 2 * keep} more | | |")
                rows += [_run_row(r) for r in runs[-keep:]]
        text = "\n".join([*head, "", f"{len(plan.runs)} runs: too many to list, showing the first and last "
                          f"{keep} group(s) of each step (`campaign plan {plan.campaign.name}` lists all).",
                          "", *_run_table(plan), *rows]) + "\n"
        if len(text) < limit:
            return text
    # Even the step table is too long (thousands of steps): keep what fits and say so.
    note = f"\n… plan cut to fit a comment; run `campaign plan {plan.campaign.name}` for all of it.\n"
    kept: list[str] = []
    size = len(note)
    for line in head:
        if size + len(line) + 1 >= limit:
            break
        kept.append(line)
        size += len(line) + 1
    text = "".join(line + "\n" for line in kept) + note
    return text if len(text) < limit else note[: max(0, limit - 1)]


def as_dict(plan: Plan, changes: tuple[RunChange, ...] = ()) -> dict[str, Any]:
    """The machine form, keys in a fixed order; with `changes`, each run says what it is to the ledger."""
    c = plan.campaign
    by_key = {rc.key: rc for rc in changes}

    def run_dict(r: PlannedRun) -> dict[str, Any]:
        out: dict[str, Any] = {"key": r.key, "group": r.group, "size": r.size, "data_query": r.data_query}
        if r.site:
            out["site"] = r.site
        rc = by_key.get(r.key)
        if rc is not None:
            out |= {"change": rc.change.value, "changed": list(rc.what),
                    "recorded_state": rc.state.value if rc.state else None}
        return out

    steps = []
    for step, runs in _steps_in_plan(plan):
        steps.append({
            "name": step.name,
            "subsets": list(step.subsets),
            "requires": list(step.requires),
            "gate": step.gate,
            "gate_open": step.gate_open,
            "approved_by": step.approved_by,
            "split": step.split.by,
            "groups_pending_query": _pending(runs),
            "resources": runs[0].resources.as_dict(),
            "queues": (queue_keys(c, c.profile.queues, memory_requests(c, step.name),
                                  [label for label, _ in runs[0].resources.tasks], step.clustering)
                       if c.profile.queues is not None else None),
            "runs": [run_dict(r) for r in runs],
        })
    return {
        "campaign": c.name,
        "description": c.description,
        "profile": c.profile.name,
        "site": c.profile.site,
        "wms": c.profile.wms,
        "stack": c.stack_tag,
        "stack_base": c.stack_base,
        "stack_packages": list(c.stack_packages),
        "pipeline": c.pipeline,
        "butler_repo": c.butler_repo,
        "inputs": list(c.inputs),
        "output": c.output,
        "data_query": c.data_query,
        "total_runs": len(plan.runs),
        "steps": steps,
        **({"sites": [{"name": n, "site": c.site_profile(n).site, "wms": c.site_profile(n).wms,
                       "butler_repo": c.repo_at(n), "central": n == c.central} for n in c.sites],
            "transfers": [{"key": t.key, "step": t.step, "readers": list(t.readers), "destination": t.destination,
                           "requires": t.requires, "source": t.source, "dataset_types": list(t.dataset_types), "where": t.where}
                          for t in plan.transfers]} if c.multisite else {}),
        **({"against_ledger": {c.value: n for c, n in counts(changes).items()},
            "orphaned": [{"key": rc.key, "recorded_state": rc.state.value if rc.state else None}
                         for rc in changes if rc.change == Change.ORPHANED]} if changes else {}),
    }


def as_json(plan: Plan, changes: tuple[RunChange, ...] = ()) -> str:
    return json.dumps(as_dict(plan, changes), indent=2, ensure_ascii=False) + "\n"
