"""The demos' scratch control repository: a git repository of their own, and what they print as they go."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..adapters import pages as page_files
from ..engine.observe import Change
from ..planning.advance import step_progress
from ..views import pages
from ..workspace import Workspace


def say(msg: str = "") -> None:
    print(msg, flush=True)


def write_pages(control: Path, ws: Workspace) -> list[Path]:
    """The status pages of the control repository, from the demo's workspace, through the one writer."""
    now = datetime.now(UTC)
    return page_files.write(control, pages.render_all(pages.read_model(
        control, now, held=[pages.Held(ws.campaign, ws.ledger, ws.plan)])), now)


def git(control: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(control), *args], check=True, capture_output=True, text=True).stdout


def commit(control: Path, message: str) -> None:
    """Everything in `control` committed as the demo's bot."""
    git(control, "add", "-A")
    git(control, "-c", "user.name=campaignops demo", "-c", "user.email=demo@localhost", "commit", "-qm", message)


def error_lines(change: Change) -> tuple[str, ...]:
    """The first error lines of the failed attempt a change is about, as the look that saw it read them."""
    return change.errors or (change.detail or "no error line recorded",)


def progress_line(ws: Workspace, started: float, extra: Sequence[str] = ()) -> str:
    """`[  42s] step1 3/3 | step2 1/3 (2 active) | …`: each step's groups done, then `extra`."""
    parts = []
    for step in ws.campaign.steps:
        p = step_progress(ws.plan, ws.ledger, step)
        parts.append(f"{step.name} {p.succeeded}/{p.total}" + (f" ({p.active} active)" if p.active else "")
                     + (f" ({p.failed} FAILED)" if p.failed else ""))
    return f"[{time.monotonic() - started:5.0f}s] " + " | ".join([*parts, *extra])
