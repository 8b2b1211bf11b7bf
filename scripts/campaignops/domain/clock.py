"""Recorded times: the one way the ledger, the engine and the adapters read and write a UTC instant."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc(text: str) -> datetime | None:
    """A recorded ISO time ('Z' or an offset; naive read as UTC), None when it is not one."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def utc_text(when: datetime) -> str:
    """`when` as the ledger records it: seconds, 'Z'."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> str:
    return utc_text(datetime.now(UTC))


__all__ = ["parse_utc", "utc_text", "utcnow"]
