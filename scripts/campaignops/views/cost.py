"""The cost table (pure): per step and for the campaign, core-hours, CPU hours, peak memory and the share lost to
failures, for `campaign profile` and the campaign page."""

from __future__ import annotations

from ..planning.cost import Cost

LOST = "lost to failures: the failed jobs' core-hours, and an attempt's whole when the next one re-ran every quantum"


def _hours(h: float) -> str:
    """1 decimal from an hour up; below, 3 significant digits (a demo's quanta take seconds)."""
    return f"{h:,.1f}" if h >= 1 or h == 0 else f"{h:.3g}"


def _mem(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB" if mb else "-"


def cost_markdown(rows: list[Cost]) -> list[str]:
    """`## Cost` of the campaign page (empty when nothing reported use)."""
    if not rows:
        return []
    out = ["## Cost", "", f"Core-hours (cores × wall time), CPU hours and peak memory as each WMS reports them; {LOST}.",
           "", "| step | attempts | jobs | core-hours | CPU hours | peak memory | lost | source |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for c in rows:
        name = f"**{c.what}**" if c.what == "campaign" else c.what
        out.append(f"| {name} | {c.attempts} | {c.jobs} | {_hours(c.core_hours)} | {_hours(c.cpu_hours)} | "
                   f"{_mem(c.peak_memory_mb)} | {_hours(c.lost_core_hours)} ({c.lost_share:.0%}) | "
                   f"{', '.join(c.sources)} |")
    return [*out, ""]


def cost_text(rows: list[Cost]) -> str:
    if not rows:
        return "cost: no attempt reported its use yet\n"
    lines = [f"{'step':<16} {'attempts':>8} {'jobs':>8} {'core-h':>10} {'cpu-h':>10} {'peak mem':>9} "
             f"{'lost core-h':>16}  source"]
    for c in rows:
        lines.append(f"{c.what:<16} {c.attempts:>8} {c.jobs:>8} {_hours(c.core_hours):>10} {_hours(c.cpu_hours):>10} "
                     f"{_mem(c.peak_memory_mb):>9} {_hours(c.lost_core_hours):>9} ({c.lost_share:>3.0%})  "
                     f"{', '.join(c.sources)}")
    return "\n".join([*lines, f"({LOST})", ""])


__all__ = ["cost_markdown", "cost_text"]
