"""The flowcharts of the status pages parse with the real Mermaid parser (npm `mermaid`, as GitHub renders
it), and a broken one does not: the structural check in fakes/mermaid.py is not the only judge."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from campaignops.views import status_page
from fakes.mermaid import parse_mermaid

ROOT = Path(__file__).resolve().parents[2]
MODULES = Path(os.environ.get("CAMPAIGNOPS_NODE_MODULES", ROOT / "node_modules"))
pytestmark = pytest.mark.skipif(not (MODULES / "mermaid" / "dist" / "mermaid.core.mjs").exists()
                                or shutil.which("node") is None,
                                reason=f"npm mermaid not in {MODULES}: run `npm install` (make test does)")


def test_status_page_flowcharts_parse_with_mermaid(tmp_path: Path) -> None:
    from test_status_page import Repo, several  # the pages of several campaigns in every state

    repo = Repo(tmp_path / "repo")
    several(repo)
    repo.write()
    pages = [repo.root / "STATUS.md", *sorted((repo.root / "campaigns").glob("*/STATUS.md"))]
    charts = [block.split("```")[0] for page in pages for block in page.read_text().split("```mermaid\n")[1:]]
    assert len(charts) >= 6
    files = []
    for i, chart in enumerate(charts):
        parse_mermaid(chart)
        files.append(tmp_path / f"chart{i}.mmd")
        files[-1].write_text(chart)
    broken = tmp_path / "broken.mmd"
    broken.write_text(charts[0].replace('["', '["a raw " quote ', 1))  # what the label escaping prevents
    node = shutil.which("node")
    assert node is not None
    out = subprocess.run([node, str(Path(__file__).with_name("mermaid_parse.mjs")), str(MODULES),
                          *map(str, files), str(broken)], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.splitlines()
    assert lines[:-1] == ["OK flowchart-v2"] * len(files), out.stdout + out.stderr
    assert lines[-1].startswith("FAIL Parse error"), lines[-1]
    assert status_page.PAGE == "STATUS.md"
