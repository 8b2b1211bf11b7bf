"""Trends: each template's instances (the weekly ci_hsc) with each check's value per instance — a table and a
byte-stable SVG chart per check (matplotlib, Agg, like chart.py), so a regression is visible the Monday it
happens. Pure: the series come from the ledgers the caller holds."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..domain.checks import fmt
from ..ledger.records import Ledger
from .markdown import cell

TRENDS_DIR = "trends"
_SALT = "campaignops"


@dataclass(frozen=True)
class Point:
    campaign: str
    at: str  # when the check was evaluated
    value: float
    verdict: str  # pass | fail (an accepted failure still reads fail here; the table says accepted)
    accepted: bool = False


def page_path(template: str) -> str:
    return f"{TRENDS_DIR}/{template}.md"


def svg_name(ref: str) -> str:
    return ref.replace("/", "-") + ".svg"


def svg_path(template: str, ref: str) -> str:
    return f"{TRENDS_DIR}/{template}/{svg_name(ref)}"


def trend_points(instances: Iterable[tuple[str, str | None, Ledger]]) -> dict[str, dict[str, list[Point]]]:
    """template -> check ref -> one point per instance that recorded a value, oldest evaluation first."""
    out: dict[str, dict[str, list[Point]]] = {}
    for campaign, template, ledger in instances:
        if template is None:
            continue
        for record in ledger.checks:
            if record.value is None or record.verdict == "unknown":
                continue
            out.setdefault(template, {}).setdefault(record.ref, []).append(
                Point(campaign, record.at, record.value, record.verdict,
                      ledger.check_accepted(record.ref) is not None))
    return {t: {ref: sorted(points, key=lambda p: (p.at, p.campaign)) for ref, points in sorted(refs.items())}
            for t, refs in sorted(out.items())}


def trend_page(template: str, series: dict[str, list[Point]]) -> str:
    """The trend page of a template: per check, its chart and a table of instances (newest first)."""
    out = [f"# Trends of {template}", "",
           f"Each check of the output, per instance of `campaigns/templates/{template}.yaml` (the value its "
           "ledger recorded; a red point failed).", ""]
    for ref, points in series.items():
        out += [f"## {ref}", "", f"![{ref}]({template}/{svg_name(ref)})", "",
                "| instance | evaluated | value | verdict |", "|---|---|---:|---|"]
        for p in reversed(points):
            verdict = "accepted" if p.accepted else ("passed" if p.verdict == "pass" else "**FAILED**")
            out.append(f"| [{cell(p.campaign)}](../campaigns/{p.campaign}/STATUS.md) | {cell(p.at)} | "
                       f"{fmt(p.value)} | {verdict} |")
        out.append("")
    return "\n".join(out)


def trend_digest(points: list[Point], title: str) -> str:
    text = repr((title, [(p.campaign, p.value, p.verdict) for p in points]))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trend_svg(points: list[Point], title: str) -> str:
    """Value per instance (oldest left), failed ones red; the digest of what was drawn in its description."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    style: dict[str, Any] = {"svg.hashsalt": _SALT, "svg.fonttype": "none", "font.family": "DejaVu Sans",
                             "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    settings: Any = matplotlib
    with settings.rc_context(style):
        fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
        try:
            xs = list(range(len(points)))
            ax.plot(xs, [p.value for p in points], color="#0969da", linewidth=1.5)
            ax.scatter(xs, [p.value for p in points], s=18, zorder=3,
                       color=["#0969da" if p.verdict == "pass" or p.accepted else "#cf222e" for p in points])
            ax.set_xticks(xs, [p.campaign for p in points], rotation=20, ha="right", fontsize=7)
            ax.set_title(title, loc="left", fontsize=10)
            ax.grid(axis="y", color="#d0d7de", linewidth=0.6)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={
                "Date": None, "Creator": "campaignops",
                "Description": f"campaignops-series {trend_digest(points, title)}"})
        finally:
            plt.close(fig)
    return buf.getvalue()


__all__ = ["TRENDS_DIR", "Point", "page_path", "svg_path", "trend_digest", "trend_page", "trend_points", "trend_svg"]
