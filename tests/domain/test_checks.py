"""Judging a check's value: bounds, the change from the last instance, and a value that could not be read."""

from __future__ import annotations

import pytest

from campaignops.domain.checks import Check, CheckVerdict, judge, parse_change, reduce_values


def metric(**bounds: float | None) -> Check:
    return Check("step4", "tract-flux", "metric", "demo_tract_summary", "mean_flux", **bounds)  # type: ignore[arg-type]


def test_a_value_inside_its_bounds_passes_and_one_outside_says_which_bound() -> None:
    check = metric(minimum=1.0, maximum=10.0)
    assert judge(check, 5.0, None).verdict == CheckVerdict.PASS
    low = judge(check, 0.5, None)
    assert low.verdict == CheckVerdict.FAIL and low.why == "0.5 < 1"
    assert judge(check, 11.0, None).why == "11 > 10"


def test_a_change_beyond_max_change_from_the_last_instance_fails_and_names_both_values() -> None:
    check = metric(max_change=0.1)
    assert judge(check, 1050.0, 1000.0).verdict == CheckVerdict.PASS
    tripped = judge(check, 1500.0, 1000.0)
    assert tripped.verdict == CheckVerdict.FAIL
    assert tripped.why == "changed 50 % from 1000 (the last instance), more than 10 %"
    assert judge(check, 1500.0, None).verdict == CheckVerdict.PASS, "a first instance has nothing to regress from"
    assert judge(check, 1.0, 0.0).verdict == CheckVerdict.FAIL, "any change from zero is beyond any limit"


def test_no_value_is_unknown_never_a_failure() -> None:
    assert judge(metric(minimum=1.0), None, 3.0).verdict == CheckVerdict.UNKNOWN


def test_the_bounds_read_as_people_write_them() -> None:
    assert metric(minimum=1.0, maximum=100000.0, max_change=0.1).bounds() == \
        "1 … 100000; change ≤ 10 % from the last instance"
    assert metric(minimum=0.95).bounds() == "≥ 0.95"


@pytest.mark.parametrize(("text", "value"), [("10%", 0.1), ("2.5%", 0.025), (0.1, 0.1), (0, 0.0)])
def test_a_change_is_a_percentage_or_a_fraction(text: str | float, value: float) -> None:
    assert parse_change(text) == pytest.approx(value)


def test_values_over_several_data_ids_are_reduced_as_asked() -> None:
    assert reduce_values([1.0, 2.0, 6.0], "mean") == 3.0
    assert reduce_values([1.0, 2.0, 6.0], "sum") == 9.0
    assert reduce_values([1.0, 2.0, 6.0], "max") == 6.0
    assert reduce_values([], "mean") is None
