"""A request budget per hour for the BigPanDA monitor, shared by every `campaign` process on the runner.

The monitor blocks an IP that asks too often (BIGMON_TRAFFIC_CONTROL_MAX_REQUESTS_PER_HOUR, 1000 by
default; RTN-023 quotes ~500/hour before a block). The status job, `campaign status` from a shell and
the notify job all count against one file under the work dir: a sliding window of the last hour's
request times, read and written under an exclusive lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ...domain.errors import WmsUnreachable

DEFAULT_PER_HOUR = 120  # well under the monitor's per-IP limit; a 15-minute cycle needs ~3 + failing tasks
WINDOW = 3600.0


class BudgetSpent(WmsUnreachable):
    """No request left in this hour's budget: the runs are UNKNOWN until `next_at`."""

    def __init__(self, message: str, next_at: float) -> None:
        super().__init__(message)
        self.next_at = next_at


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M UTC")


class RequestBudget:
    """`take()` before every request: records it, or raises BudgetSpent saying when the next one is allowed."""

    def __init__(self, path: Path, per_hour: int = DEFAULT_PER_HOUR, clock: Callable[[], float] = time.time) -> None:
        if per_hour < 1:
            raise ValueError("a request budget needs at least one request per hour")
        self.path = Path(path)
        self.per_hour = per_hour
        self.clock = clock

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[float]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            times = self._read()
            yield times
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"per_hour": self.per_hour, "requests": times}), encoding="utf-8")
            tmp.replace(self.path)
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> list[float]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            times = [float(t) for t in data.get("requests", [])]
        except (OSError, ValueError, TypeError, AttributeError):
            return []  # no file yet, or a damaged one: start a new window (the monitor's own limit still holds)
        now = self.clock()
        return sorted(t for t in times if now - WINDOW < t <= now + 60)

    def take(self) -> None:
        """Count one request now, or raise BudgetSpent (nothing recorded) when the hour's budget is used."""
        with self._locked() as times:
            now = self.clock()
            if len(times) >= self.per_hour:
                next_at = times[len(times) - self.per_hour] + WINDOW
                raise BudgetSpent(
                    f"monitor budget spent: {len(times)} requests in the last hour (limit {self.per_hour}, shared by "
                    f"every campaign process on this runner, {self.path}); next check at {_hhmm(next_at)}. "
                    "Raise monitor.requests_per_hour in the profile (or $PANDAMON_REQUESTS_PER_HOUR) if the "
                    "monitor allows more", next_at)
            times.append(now)

    def used(self) -> int:
        """Requests counted in the last hour."""
        with self._locked() as times:
            return len(times)
