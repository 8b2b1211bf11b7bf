"""The hidden markers that tie an issue, or a comment, to a run and an attempt (how a sync is idempotent)."""

from __future__ import annotations

import re

from .states import RunState

LABEL = "campaignops"  # the label every failure issue carries

_RUN_MARKER = re.compile(r"<!-- campaignops:run (\S+?) -->")


def run_key(campaign: str, step: str, group: str) -> str:
    """The key an issue is found by: `<campaign>/<step>/<group>`."""
    return f"{campaign}/{step}/{group}"


def run_marker(key: str) -> str:
    return f"<!-- campaignops:run {key} -->"


def attempt_marker(number: int, state: RunState = RunState.FAILED) -> str:
    """Marks that this attempt's failure (or HELD block) was reported in a body or comment."""
    suffix = "" if state == RunState.FAILED else f" {state.value.lower()}"
    return f"<!-- campaignops:attempt {number}{suffix} -->"


def acted_marker(number: int) -> str:
    """Marks that the failure rules' action on this failed attempt (a restart, more memory…) was reported."""
    return f"<!-- campaignops:acted {number} -->"


def success_marker(number: int) -> str:
    return f"<!-- campaignops:succeeded {number} -->"


def settled_marker(action: str, at: str) -> str:
    """Marks that an operator's accept or skip of the run (recorded at `at`) was reported, and the issue closed."""
    return f"<!-- campaignops:{action} {at} -->"


def check_marker(what: str, at: str) -> str:
    """Marks that a check's evaluation of `at` (failed, passed, accepted) was reported on its issue."""
    return f"<!-- campaignops:check-{what} {at} -->"


def cancelled_marker(number: int) -> str:
    return f"<!-- campaignops:cancelled {number} -->"


def duplicate_marker(original: str) -> str:
    """Marks an issue closed as a duplicate of `original` (a POST GitHub applied after its timeout)."""
    return f"<!-- campaignops:duplicate-of {original} -->"


def key_of(body: str) -> str | None:
    match = _RUN_MARKER.search(body or "")
    return match.group(1) if match else None
