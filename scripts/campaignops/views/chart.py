"""The progress-over-time chart of a campaign as SVG (matplotlib, Agg): byte-identical for the same series,
so a status job that re-draws an unchanged ledger leaves git clean."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC
from typing import Any

from .pictures import Series

CHART_FILE = "progress.svg"
# The digest of what was drawn, kept in the SVG's description: an unchanged series is not drawn again.
_DIGEST = re.compile(r"campaignops-series ([0-9a-f]{16})")
_SALT = "campaignops"  # fixes the ids matplotlib derives for clip paths and glyphs


def series_digest(series: Series, title: str) -> str:
    text = repr((title, series.total, [t.isoformat() for t in series.times], series.done))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def drawn_digest(svg: str) -> str | None:
    """The digest recorded in an SVG this module wrote, None for any other file."""
    match = _DIGEST.search(svg[:4000])
    return match[1] if match else None


def progress_svg(series: Series, title: str) -> str:
    """A step chart of quanta done against time (UTC), the known total as a dashed ceiling."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import numpy as np
    from matplotlib import dates
    from matplotlib import pyplot as plt

    mdates: Any = dates  # its locators and formatters are not annotated

    style: dict[str, Any] = {"svg.hashsalt": _SALT, "svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9,
             "axes.spines.top": False, "axes.spines.right": False}
    settings: Any = matplotlib  # rc_context takes only its literal key names in its annotations
    with settings.rc_context(style):
        fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
        try:
            times = [np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "s") for t in series.times]
            done = list(series.done)
            if len(times) == 1:  # one point: show it as a step from nothing
                times, done = times * 2, [0, done[0]]
            ax.step(times, done, where="post", color="#0969da", linewidth=1.8, label="quanta done")
            ax.plot(times[-1:], done[-1:], "o", color="#0969da", markersize=4)
            if series.total:
                ax.axhline(series.total, color="#8c959f", linestyle="--", linewidth=1,
                           label=f"quanta known: {series.total}")
            ax.set_ylim(0, max(series.total, max(done, default=0), 1) * 1.08)
            ax.set_ylabel("quanta done")
            ax.set_title(title, loc="left", fontsize=10)
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.set_xlabel("time (UTC)")
            ax.grid(axis="y", color="#d0d7de", linewidth=0.6)
            ax.legend(loc="lower right", frameon=False, fontsize=8)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={
                "Date": None, "Creator": "campaignops",
                "Description": f"campaignops-series {series_digest(series, title)}"})
        finally:
            plt.close(fig)
    return buf.getvalue()


__all__ = ["CHART_FILE", "drawn_digest", "progress_svg", "series_digest"]
