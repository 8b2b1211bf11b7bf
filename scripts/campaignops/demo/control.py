"""The demos' scratch control repository: a git repository of their own, and what they print as they go."""

from __future__ import annotations

import subprocess
from pathlib import Path


def say(msg: str = "") -> None:
    print(msg, flush=True)


def git(control: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(control), *args], check=True, capture_output=True, text=True).stdout


def commit(control: Path, message: str) -> None:
    """Everything in `control` committed as the demo's bot."""
    git(control, "add", "-A")
    git(control, "-c", "user.name=campaignops demo", "-c", "user.email=demo@localhost", "commit", "-qm", message)
