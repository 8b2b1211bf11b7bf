"""The trend page of a template: each check's value per instance as a table and a byte-stable SVG, linked from
STATUS.md, declared so `campaign publish` commits it, and not drawn again while nothing changed."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from campaignops.adapters import pages as page_files
from campaignops.adapters.git.publish import BOT_PATHS
from campaignops.adapters.globs import matches_any
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Profile
from campaignops.ledger.records import CheckRecord, Control, Ledger
from campaignops.views import chart, pages, trends

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
PROFILE = Profile("local-parsl", "test", "local", "parsl", "", (("wmsServiceClass", "x.Service"),))


def instance(name: str, flux: float, verdict: str, accepted: bool = False) -> pages.Held:
    data = {"name": name, "description": "d", "operator": "op", "profile": "local-parsl", "stack": {"tag": name},
            "butler": {"repo": "/repo", "inputs": ["in"], "output": "out/{campaign}"}, "pipeline": "p.yaml",
            "steps": [{"name": "step4", "subsets": ["step4"]}]}
    campaign = replace(campaign_from_dict(data, PROFILE), template="demo-weekly")
    week = name[-2:]
    ledger = Ledger(name).with_check(CheckRecord("step4/tract-flux", "metric", f"2026-11-{week}T06:00:00Z", verdict,
                                                 "b", value=flux))
    if accepted:
        ledger = ledger.with_control(Control(f"2026-11-{week}T07:00:00Z", "alice", "accept-check",
                                             "check:step4/tract-flux", "new calibration"))
    return pages.Held(campaign, ledger)


def rendered(drawn: dict[str, str] | None = None) -> dict[str, str]:
    held = [instance("demo-w23", 1000.0, "pass"), instance("demo-w30", 1500.0, "fail", accepted=True),
            instance("demo-w16", 990.0, "pass")]
    return pages.render_all(pages.model(held, Path("/nonexistent-root"), NOW, drawn=drawn))


def test_the_trend_page_lists_each_instance_value_newest_first_and_links_its_chart() -> None:
    out = rendered()
    page = out["trends/demo-weekly.md"]
    rows = [line for line in page.splitlines() if line.startswith("| [demo-w")]
    assert [r.split("]")[0][3:] for r in rows] == ["demo-w30", "demo-w23", "demo-w16"]
    assert "| 1500 | accepted |" in rows[0] and "| 1000 | passed |" in rows[1]
    assert "![step4/tract-flux](demo-weekly/step4-tract-flux.svg)" in page
    assert "[demo-weekly](trends/demo-weekly.md)" in out["STATUS.md"]


def test_the_trend_chart_is_valid_svg_the_same_in_another_process_and_not_redrawn_when_unchanged() -> None:
    out = rendered()
    svg = out["trends/demo-weekly/step4-tract-flux.svg"]
    assert ET.fromstring(svg.encode()).tag == "{http://www.w3.org/2000/svg}svg"
    points = trends.trend_points([("a", "t", Ledger("a").with_check(
        CheckRecord("s/c", "metric", "2026-11-01T00:00:00Z", "pass", "b", value=1.0)))])["t"]["s/c"]
    code = ("import sys; from campaignops.views import trends; from campaignops.ledger.records import CheckRecord, "
            "Ledger; p = trends.trend_points([('a', 't', Ledger('a').with_check(CheckRecord('s/c', 'metric', "
            "'2026-11-01T00:00:00Z', 'pass', 'b', value=1.0)))])['t']['s/c']; "
            "sys.stdout.write(trends.trend_svg(p, 't: s/c'))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert other == trends.trend_svg(points, "t: s/c")
    digest = chart.drawn_digest(svg)
    assert digest is not None
    quiet = rendered({"trends/demo-weekly/step4-tract-flux.svg": digest})
    assert "trends/demo-weekly/step4-tract-flux.svg" not in quiet and "trends/demo-weekly.md" in quiet


def test_trend_pages_are_declared_so_publish_commits_them() -> None:
    for path in ("trends/demo-weekly.md", "trends/demo-weekly/step4-tract-flux.svg"):
        assert page_files.is_page(path) and matches_any(path, BOT_PATHS)
