"""How a check reads a number out of a metric dataset: a plain mapping (the demo's StructuredDataDict), or an
analysis_tools `MetricMeasurementBundle`. analysis_tools and lsst.verify are not installable here (not on PyPI),
so the bundle below is built with the same shape as theirs: `MetricMeasurementBundle(UserDict[str,
list[Measurement]])` (analysis_tools python/lsst/analysis/tools/interfaces/_metricMeasurementBundle.py), each
Measurement with a `metric_name` (lsst.verify python/lsst/verify/naming.py `Name`: `str()` is
`package.metric`, `.metric` the bare name) and an astropy `quantity` (`.value`)."""

from __future__ import annotations

from collections import UserDict
from dataclasses import dataclass
from typing import Any

from campaignops.adapters.butler import metric_value


@dataclass(frozen=True)
class Name:  # lsst.verify.Name, as far as a reader of a bundle sees it
    package: str | None
    metric: str

    def __str__(self) -> str:
        return f"{self.package}.{self.metric}" if self.package else self.metric


@dataclass(frozen=True)
class Quantity:  # astropy.units.Quantity: the number is `.value`
    value: float
    unit: str = "mag"


@dataclass(frozen=True)
class Measurement:
    metric_name: Name
    quantity: Quantity | None


class MetricMeasurementBundle(UserDict[str, list[Any]]):
    """A UserDict, as analysis_tools' own: a Mapping whose values are lists of measurements."""


def bundle() -> MetricMeasurementBundle:
    return MetricMeasurementBundle({
        "stellarPhotometricRepeatability": [
            Measurement(Name("analysis_tools", "stellarPhotRepeatStdev"), Quantity(5.25)),
            Measurement(Name(None, "stellarPhotRepeatOutlierFraction"), Quantity(0.01, "")),
        ],
        "empty": [Measurement(Name(None, "notComputed"), None)],
    })


def test_a_mapping_value_is_read_by_its_key() -> None:
    assert metric_value({"n_coadds": 4, "mean_flux": 1.5e-8}, "mean_flux") == 1.5e-8
    assert metric_value({"flag": True, "name": "x"}, "flag") is None, "a bool or a text is no number"
    assert metric_value({"n_coadds": 4}, "mean_flux") is None


def test_a_bundle_measurement_is_read_by_its_metric_name_bare_or_qualified() -> None:
    b = bundle()
    assert metric_value(b, "stellarPhotRepeatStdev") == 5.25
    assert metric_value(b, "analysis_tools.stellarPhotRepeatStdev") == 5.25
    assert metric_value(b, "stellarPhotRepeatOutlierFraction") == 0.01
    assert metric_value(b, "stellarPhotometricRepeatability") is None, "an action's name is no metric"
    assert metric_value(b, "notComputed") is None, "a measurement without a quantity has no number"
    assert metric_value(b, "unknown") is None
