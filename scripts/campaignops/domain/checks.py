"""Checks of a campaign's output: what the pipeline wrote to the Butler, against bounds and the last instance.

A check reads one value from the Butler after its step (or the whole campaign) succeeded:
- `count`: how many datasets of a type the step's output collections hold (one per data ID);
- `completeness`: that count over the datasets the quanta were to write (the producing tasks' quanta);
  its lower bound defaults to the step's acceptance (1 - max_failed_fraction); `completeness: all` does it for
  every output type of the step's tasks at once (the lowest is the value, each type's numbers in the record);
- `inputs` (the campaign's `preflight:`): before step 1, every data ID the campaign's query selects has the
  dataset type in the input collections of the Butler that will read it (one check per site that runs a first
  step in a multi-site campaign, `preflight/raw@site`); the missing ones are listed and step 1 waits at that
  site (`missing: wait`) or goes on without them, excluded and recorded (`missing: exclude`); once all are
  there they are frozen in a TAGGED collection for provenance;
- `metric`: a named number in a dict-like metric dataset (a `StructuredDataDict`, or an analysis_tools
  bundle read as a mapping), reduced over its data IDs (mean by default).
The value is compared with `min` / `max` and, with `regression`, with the value the previous instance of
the same template recorded. Pure: the engine reads the values (engine/checks.py), the ledger keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

CheckKind = Literal["count", "completeness", "metric", "inputs"]
Reduce = Literal["mean", "sum", "min", "max"]
Missing = Literal["wait", "exclude"]  # the preflight's `missing:`: what step 1 does about missing inputs
CAMPAIGN_SCOPE = "campaign"  # the scope of a check written on the campaign rather than on a step
PREFLIGHT_SCOPE = "preflight"  # the inputs checked before step 1 (`preflight: {inputs: [...]}`)
# `completeness: all`: every output dataset type of the step's tasks (their logs aside), each produced over expected;
# the check's value is the lowest, and the record names each type's numbers
EVERY_OUTPUT = "all"


class CheckVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # the value could not be read (no dataset, the Butler did not answer): never FAIL


@dataclass(frozen=True)
class Check:
    """One check of the spec, with where it sits (`scope`: a step name or "campaign")."""

    scope: str
    name: str
    kind: CheckKind
    dataset_type: str
    key: str = ""  # metric: the name of the value inside the metric dataset
    minimum: float | None = None
    maximum: float | None = None
    max_change: float | None = None  # regression: the largest relative change from the last instance (0.1 = 10 %)
    reduce: Reduce = "mean"
    site: str = ""  # inputs of a multi-site campaign: the site whose Butler is read ("" = the central site)
    missing: Missing = "wait"  # inputs: wait for the missing data IDs, or exclude them and go on

    @property
    def ref(self) -> str:
        """How people and the ledger name it: `step3/coadd-count`, `campaign/mean-flux`."""
        return f"{self.scope}/{self.name}"

    def describe(self) -> str:
        if self.kind == "metric":
            return f"{self.reduce} of {self.dataset_type}['{self.key}']"
        if self.kind == "completeness":
            if self.dataset_type == EVERY_OUTPUT:
                return "every output type produced / expected (the lowest)"
            return f"{self.dataset_type} produced / expected"
        if self.kind == "inputs":
            return (f"{self.dataset_type} of every data ID the query selects, in the inputs"
                    + (f" at {self.site}" if self.site else ""))
        return f"count of {self.dataset_type}"

    def bounds(self) -> str:
        """The bounds in words: `≥ 12`, `0.95 … 1.05`, `change ≤ 10 %`."""
        if self.kind == "inputs":
            return "all present" if self.missing == "wait" else "all present, or the missing ones excluded"
        parts = []

        def shown(v: float) -> str:  # a completeness is a fraction: read as a percentage
            return f"{fmt(v * 100)} %" if self.kind == "completeness" else fmt(v)

        if self.minimum is not None and self.maximum is not None:
            parts.append(f"{shown(self.minimum)} … {shown(self.maximum)}")
        elif self.minimum is not None:
            parts.append(f"≥ {shown(self.minimum)}")
        elif self.maximum is not None:
            parts.append(f"≤ {shown(self.maximum)}")
        if self.max_change is not None:
            parts.append(f"change ≤ {fmt(self.max_change * 100)} % from the last instance")
        return "; ".join(parts) or "none"


def fmt(value: float | None) -> str:
    """A value as people read it: integers without decimals, others with up to 4 significant digits."""
    if value is None:
        return "—"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def parse_change(text: str | float | int) -> float:
    """`10%` → 0.1; a number is a fraction already (0.1). Raises ValueError for anything else."""
    if isinstance(text, bool):
        raise ValueError("a change is a percentage like '10%' or a fraction like 0.1")
    if isinstance(text, int | float):
        value = float(text)
    else:
        s = text.strip()
        value = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    if value < 0:
        raise ValueError("a change cannot be negative")
    return value


def reduce_values(values: list[float], how: Reduce) -> float | None:
    if not values:
        return None
    if how == "sum":
        return float(sum(values))
    if how == "min":
        return float(min(values))
    if how == "max":
        return float(max(values))
    return float(sum(values) / len(values))


@dataclass(frozen=True)
class Judgement:
    verdict: CheckVerdict
    why: str  # what failed, in words ("" when it passed)


def judge(check: Check, value: float | None, previous: float | None) -> Judgement:
    """The verdict on `value` (None: could not be read) given the last instance's value (None: there is none)."""
    if value is None:
        return Judgement(CheckVerdict.UNKNOWN, "no value could be read")
    broken = []
    if check.minimum is not None and value < check.minimum:
        broken.append(f"{fmt(value)} < {fmt(check.minimum)}")
    if check.maximum is not None and value > check.maximum:
        broken.append(f"{fmt(value)} > {fmt(check.maximum)}")
    if check.max_change is not None and previous is not None:
        change = relative_change(value, previous)
        if change > check.max_change:
            broken.append(f"changed {fmt(change * 100)} % from {fmt(previous)} (the last instance), more than "
                          f"{fmt(check.max_change * 100)} %")
    return Judgement(CheckVerdict.FAIL if broken else CheckVerdict.PASS, "; ".join(broken))


def relative_change(value: float, previous: float) -> float:
    """|value - previous| / |previous|; from 0, any change is infinite and no change is 0."""
    if previous == 0:
        return 0.0 if value == 0 else float("inf")
    return abs(value - previous) / abs(previous)


__all__ = [
    "CAMPAIGN_SCOPE",
    "EVERY_OUTPUT",
    "PREFLIGHT_SCOPE",
    "Check",
    "CheckKind",
    "CheckVerdict",
    "Judgement",
    "Missing",
    "Reduce",
    "fmt",
    "judge",
    "parse_change",
    "reduce_values",
    "relative_change",
]
