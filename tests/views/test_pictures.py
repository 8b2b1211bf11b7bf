"""Pictures on the status pages: the Mermaid flowchart parses, bars and the series tell the truth, the SVG
is valid and byte-stable (so the status job does not commit noise)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.views import chart, pictures
from fakes.mermaid import parse_mermaid


@dataclass(frozen=True)
class Step:
    name: str
    total: int | None = 2
    succeeded: int = 0
    failed: int = 0
    running: int = 0
    held: int = 0
    waiting_at_gate: bool = False
    settled: int = 0
    cancelled: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.settled


def test_flowchart_parses_with_one_node_per_step_edges_per_prerequisite_and_a_colour_per_state() -> None:
    steps = [Step("step1", succeeded=2), Step("step2", succeeded=1, running=1), Step("step3", failed=1),
             Step("step4", held=1), Step("step5", waiting_at_gate=True), Step("step6", total=None)]
    requires = {"step2": ("step1",), "step3": ("step2",), "step4": ("step2",), "step5": ("step3", "step4"),
                "step6": ("step5", "gone-from-spec")}
    parsed = parse_mermaid(pictures.flowchart(steps, requires))

    nodes = parsed["nodes"]
    assert isinstance(nodes, dict) and len(nodes) == 6
    assert nodes["s1"] == "step2<br/>1/2 groups · 1 running"
    assert nodes["s5"] == "step6<br/>0/? groups"
    assert parsed["edges"] == [("s0", "s1"), ("s1", "s2"), ("s1", "s3"), ("s2", "s4"), ("s3", "s4"), ("s4", "s5")]
    assert parsed["classes"] == {"s0": "done", "s1": "running", "s2": "failed", "s3": "held", "s4": "gate",
                                 "s5": "waiting"}
    class_defs = parsed["class_defs"]
    assert isinstance(class_defs, dict)
    assert class_defs["failed"]["fill"] != class_defs["done"]["fill"]


def test_flowchart_escapes_what_would_break_a_label() -> None:
    text = pictures.flowchart([Step('odd"name<script>#1')], {})
    nodes = parse_mermaid(text)["nodes"]
    assert isinstance(nodes, dict)
    assert nodes["s0"].startswith("odd#quot;name#lt;script#gt;#35;1<br/>")


def test_a_failed_run_colours_its_step_red_even_when_others_run() -> None:
    assert pictures.step_state(Step("s", succeeded=1, running=3, failed=1)) == "failed"
    assert pictures.step_state(Step("s", total=2, succeeded=2)) == "done"
    assert pictures.step_state(Step("s", total=None)) == "waiting"


@pytest.mark.parametrize(("done", "total", "expected"), [
    (0, 4, "░░░░░░░░░░ 0/4"), (3, 4, "███████░░░ 3/4"), (4, 4, "██████████ 4/4"), (1, None, "░░░░░░░░░░ 1/?"),
    (1, 3, "███░░░░░░░ 1/3"),
])
def test_progress_bar(done: int, total: int | None, expected: str) -> None:
    assert pictures.bar(done, total) == expected


# ---- quanta done against time --------------------------------------------------------------------

def attempt(number: int, kind: str, state: RunState, at: str, ok: int, failed: int = 0, checked: str = "") -> Attempt:
    tasks = (TaskCounts("pipetaskInit", (("SUCCEEDED", 1),)),
             TaskCounts("isr", tuple(sorted({"SUCCEEDED": ok, "FAILED": failed}.items()))),
             TaskCounts("finalJob", (("SUCCEEDED", 1),)))
    return Attempt(number=number, kind=kind, output_run=f"o/a{number}", config_hash="h", config_path="c",
                   launch_dir="l", state=state, last_checked=checked, tasks=tasks,
                   transitions=(Transition("2026-11-20T09:00:00+00:00", RunState.PENDING), Transition(at, state)))


def ledger() -> Ledger:
    return Ledger("c", (
        RunRecord("step1", "g1", "", (
            attempt(1, "submit", RunState.FAILED, "2026-11-20T10:00:00+00:00", ok=6, failed=2),
            attempt(2, "restart", RunState.SUCCEEDED, "2026-11-20T11:00:00+00:00", ok=8))),
        RunRecord("step1", "g2", "", (
            attempt(1, "submit", RunState.FAILED, "2026-11-20T10:30:00+00:00", ok=5, failed=3),
            attempt(2, "rescue", RunState.SUCCEEDED, "2026-11-20T12:00:00+00:00", ok=3))),
        RunRecord("step2", "all", "", (
            attempt(1, "submit", RunState.RUNNING, "2026-11-20T12:10:00+00:00", ok=1,
                    checked="2026-11-20T12:30:00+00:00"),)),
        RunRecord("step3", "all", "", ()),
    ))


def test_series_counts_quanta_done_per_run_without_double_counting_restarts_and_adding_rescues() -> None:
    series = pictures.progress_series(ledger())
    hours = [t.strftime("%H:%M") for t in series.times]
    assert hours == ["09:00", "10:00", "10:30", "11:00", "12:00", "12:30"]
    # from 0 at the first submission; g1: 6 then 8 (restart reports the whole run); g2: 5 then 5+3
    # (rescue adds); step2: 1 at its last check
    assert series.done == (0, 6, 11, 13, 16, 17)
    assert series.total == 8 + 8 + 1  # pipetaskInit and finalJob are not quanta
    assert series.times[0].tzinfo is not None


def test_series_is_empty_without_task_counts() -> None:
    assert not pictures.progress_series(Ledger("c", (RunRecord("s", "g", "", ()),)))


# ---- the SVG -----------------------------------------------------------------------------------------

def test_chart_is_valid_svg_and_records_what_it_drew() -> None:
    series = pictures.progress_series(ledger())
    svg = chart.progress_svg(series, "c: quanta done")
    root = ET.fromstring(svg.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = "".join(root.itertext())
    assert "c: quanta done" in texts and "quanta known: 17" in texts
    assert chart.drawn_digest(svg) == chart.series_digest(series, "c: quanta done")
    assert "dc:date" not in svg  # no date in the metadata: the same ledger draws the same bytes


def test_chart_bytes_are_the_same_in_another_process_and_change_with_the_ledger(tmp_path: Path) -> None:
    store.save(tmp_path, ledger())
    code = ("import sys; from pathlib import Path; from campaignops.ledger import store; "
            "from campaignops.views import chart, pictures; "
            "sys.stdout.write(chart.progress_svg(pictures.progress_series(store.load(Path(sys.argv[1]), 'c')), "
            "'c: quanta done'))")
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                           check=True).stdout
    here = chart.progress_svg(pictures.progress_series(ledger()), "c: quanta done")
    assert here == other

    changed = ledger()
    run = changed.runs[2]
    assert run.current is not None
    changed = changed.with_run(replace(run, attempts=(replace(run.current, last_checked="2026-11-20T13:00:00+00:00"),)))
    assert chart.progress_svg(pictures.progress_series(changed), "c: quanta done") != here


def test_a_single_point_still_draws() -> None:
    one = pictures.Series((datetime(2026, 11, 20, tzinfo=UTC),), (3,), 4)
    ET.fromstring(chart.progress_svg(one, "one").encode())


def test_the_bots_chart_and_profile_commits_submit_nothing() -> None:
    from campaignops.campaign_spec.changes import changed_campaigns

    bot = ["campaigns/c/progress.svg", "campaigns/c/profile.yaml", "campaigns/c/STATUS.md", "campaigns/c/ledger.yaml"]
    assert changed_campaigns(bot, {"c": "usdf-panda"}) == []
    assert changed_campaigns([*bot, "campaigns/c/campaign.yaml"], {"c": "usdf-panda"}) == ["c"]
