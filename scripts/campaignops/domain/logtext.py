"""Finding the lines of a job or bps log that say what went wrong (the real cause, not the noise)."""

from __future__ import annotations

import re

_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Exit)\b.*:")


def first_error_lines(text: str, limit: int = 3) -> list[str]:
    """Exception lines first (tracebacks hide in INFO logs), then ERROR log lines; each once."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    exc = [ln for ln in lines if _EXCEPTION.match(ln) and not ln.startswith("lsst.")]
    errors = [ln for ln in lines if " ERROR" in ln or ln.startswith(("ERROR", "Error"))]
    out: list[str] = []
    for ln in exc + errors:
        if ln not in out:
            out.append(ln[:500])
        if len(out) >= limit:
            break
    return out
