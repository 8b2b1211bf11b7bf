"""Benchmark: the pictures of a status page for a 500-run campaign (5,000 attempts' worth of quanta).

Figures: the series of quanta done (from the ledger), the first SVG drawn in a process (matplotlib import
included), a second one, and the status job's usual case: the series unchanged, found by its digest in
the SVG already on disk, so nothing is drawn. Also the Mermaid flowchart of a 10-step campaign.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from status_bench import make_ledger

from campaignops.views import chart, pictures


@dataclass(frozen=True)
class Step:
    name: str
    total: int | None = 40
    succeeded: int = 20
    failed: int = 1
    running: int = 3
    held: int = 0
    waiting_at_gate: bool = False


def main() -> None:
    ledger = make_ledger(500, 490)
    t0 = time.perf_counter()
    series = pictures.progress_series(ledger)
    t1 = time.perf_counter()
    svg = chart.progress_svg(series, "bench: quanta done")
    t2 = time.perf_counter()
    again = chart.progress_svg(series, "bench: quanta done")
    t3 = time.perf_counter()
    unchanged = chart.drawn_digest(svg) == chart.series_digest(pictures.progress_series(ledger), "bench: quanta done")
    t4 = time.perf_counter()
    steps = [Step(f"step{i}") for i in range(10)]
    text = pictures.flowchart(steps, {f"step{i}": (f"step{i - 1}",) for i in range(1, 10)})
    t5 = time.perf_counter()
    assert svg == again and unchanged
    print(f"pictures: 500-run ledger: series {1000 * (t1 - t0):.0f} ms; first SVG {t2 - t1:.2f} s (matplotlib "
          f"import included), next {1000 * (t3 - t2):.0f} ms, {len(svg) // 1024} KB, byte-identical; unchanged "
          f"series skipped by digest in {1000 * (t4 - t3):.0f} ms; 10-step flowchart {1000 * (t5 - t4):.1f} ms "
          f"({len(text)} chars)")


if __name__ == "__main__":
    main()
