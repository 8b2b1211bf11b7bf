"""The one writer of the status pages: writes what `views.pages.render_all` made and returns the files it wrote.

`FILES` declares every page the renderers may make; `campaign publish` commits exactly the declared files
(`adapters/git/publish.BOT_PATHS` is built from it), and a page outside it is refused here, so a new page can
never be written and then left out of the record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from .globs import matches_any

FILES = (
    "STATUS.md",  # the root page
    "sites/*.md",  # one page per data facility
    "campaigns/*/STATUS.md",  # one page per campaign
    "campaigns/*/progress.svg",  # its progress chart
    "trends/*.md",  # one trend page per template: each check's value per instance
    "trends/*/*.svg",  # a chart per check
)
_STAMP = re.compile(r"^_Page last changed: .*_\n\n?", re.MULTILINE)


def is_page(path: str) -> bool:
    return matches_any(path, FILES)


def write(root: Path, pages: Mapping[str, str], now: datetime) -> list[Path]:
    """Write each page (a path from the root -> its text) that changed; returns the files written.

    A markdown page is stamped with `now` only when its content (stamp aside) changed, so a status job that
    finds nothing new leaves git clean; a chart is written when its bytes differ."""
    undeclared = sorted(p for p in pages if not is_page(p))
    if undeclared:
        raise ValueError(f"pages not declared in adapters/pages.FILES: {', '.join(undeclared)} "
                         "(`campaign publish` would never commit them)")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    written = []
    for rel, text in pages.items():
        path = root / rel
        if _write(path, text, now if rel.endswith(".md") else None):
            written.append(path)
    return written


def _write(path: Path, text: str, now: datetime | None) -> bool:
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if now is None:
        if old == text:
            return False
    else:
        if old is not None and _STAMP.sub("", old) == text:
            return False
        stamp = f"_Page last changed: {now.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}_\n\n"
        first, _, rest = text.partition("\n\n")
        text = f"{first}\n\n{stamp}{rest}" if rest else text
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True
