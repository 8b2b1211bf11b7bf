"""The status pages of a repository root, as a command holding only the root writes them: read, render, write."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from campaignops.adapters import pages as page_files
from campaignops.views import pages


def write_pages(root: Path, now: datetime, **kwargs: Any) -> list[Path]:
    return page_files.write(root, pages.render_all(pages.read_model(root, now, **kwargs)), now)
