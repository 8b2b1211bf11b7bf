"""A scratch control repository with the demo campaign whose launches are real detached processes that end at
once: the profile's stack set-up fails (as on a runner without the stack), so no middleware is imported."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAILING_SETUP = "echo no stack on this runner >&2; false"


def control_repo(where: Path) -> Path:
    root = where / "control"
    shutil.copytree(ROOT / "campaigns" / "profiles", root / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo", root / "campaigns" / "demo",
                    ignore=shutil.ignore_patterns("ledger.yaml", "ledger", "STATUS.md", "*.svg"))
    # No Butler here (bps never starts): the demo's preflight would keep step 1 waiting for one.
    spec = root / "campaigns" / "demo" / "campaign.yaml"
    spec.write_text(re.sub(r"\npreflight:\n(?:  .*\n)+", "\n", spec.read_text()))
    profile = root / "campaigns" / "profiles" / "local-parsl.yaml"
    text = profile.read_text()
    assert 'stack_setup: ""' in text
    profile.write_text(text.replace('stack_setup: ""', f'stack_setup: "{FAILING_SETUP}"'))
    return root
