"""A retention plan for people (terminal text, the PR comment and job summary in markdown) and tools (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..planning.retention import Expired, RetentionPlan
from .markdown import cell, code


def _by_campaign(plan: RetentionPlan, names: Sequence[str] | None) -> list[str]:
    found = sorted({e.campaign for e in plan.expired} | {n for n, _ in plan.notes})
    return [n for n in found if names is None or n in names]


def as_text(plan: RetentionPlan, names: Sequence[str] | None = None) -> str:
    out = [f"Retention at {plan.now}: {len(plan.expired)} RUN collection(s) expire "
           "(`campaign retention apply` removes them; chains are checked on the Butler then)."]
    for name in _by_campaign(plan, names):
        out.append(f"\n{name}:")
        out += [f"  expire {e.run}  ({', '.join(e.keys)}; ended {e.ended or '?'}): {e.reason}"
                for e in plan.of(name)]
        out += [f"  {text}" for n, text in plan.notes if n == name]
    if not _by_campaign(plan, names):
        out.append("No campaign has a retention policy that applies.")
    return "\n".join(out) + "\n"


def as_markdown(plan: RetentionPlan, names: Sequence[str] | None = None, heading: str = "###") -> str:
    """The section of the PR comment / job summary; empty when no shown campaign has a policy."""
    shown = _by_campaign(plan, names)
    if not shown:
        return ""
    expired = [e for e in plan.expired if e.campaign in shown]
    out = [f"{heading} Retention", "",
           f"{len(expired)} RUN collection(s) expire now; `campaign retention apply` on the runner "
           "removes them with the Butler's `removeRuns` (a run another or a protected chain holds is kept).", ""]
    if expired:
        out += ["| campaign | RUN collection | runs | ended | why |", "|---|---|---|---|---|"]
        out += [f"| {cell(e.campaign)} | {code(e.run)} | {cell(', '.join(e.keys))} | {cell(e.ended)} | "
                f"{cell(e.reason)} |" for e in expired]
        out.append("")
    out += [f"- {cell(n)}: {cell(text)}" for n, text in plan.notes if n in shown]
    return "\n".join(out).rstrip("\n") + "\n"


def _expired_dict(e: Expired) -> dict[str, object]:
    return {"campaign": e.campaign, "run": e.run, "runs": list(e.keys), "reason": e.reason, "ended": e.ended,
            "chain": e.chain, "drop_chain": e.drop_chain, "protect": list(e.protect)}


def as_json(plan: RetentionPlan, names: Sequence[str] | None = None) -> str:
    shown = set(_by_campaign(plan, names))
    return json.dumps({"now": plan.now,
                       "expired": [_expired_dict(e) for e in plan.expired if e.campaign in shown],
                       "notes": [{"campaign": n, "note": t} for n, t in plan.notes if n in shown]}, indent=2) + "\n"


__all__ = ["as_json", "as_markdown", "as_text"]
