"""Markdown pieces every page and comment uses: a safe table cell, an inline code span, a code fence."""

from __future__ import annotations

import re
from collections.abc import Iterable


def cell(value: object) -> str:
    """Text safe inside a GitHub table cell (a pipe ends the cell, a line break ends the row)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def code(text: str) -> str:
    """`text` as an inline code span in a table cell."""
    text = cell(text)
    if not text:
        return ""
    # A backtick inside would close the span: fence with one more backtick than its longest run.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"`{text}`"


def fence(lines: Iterable[str]) -> str:
    """A backtick fence longer than any backtick run in `lines` (at least three)."""
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)
