"""Demand integration: exact per-step device-hours, whatever the intervals."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nuri.domain.errors import InvalidInput
from nuri.forecasting.demand import DemandInterval, demand_steps, step_hours


def test_an_interval_is_split_across_the_steps_it_overlaps() -> None:
    # 2 devices from 00:30 to 02:15, hourly steps from 00:00.
    hours = step_hours([DemandInterval(1800, 8100, 2)], origin_s=0, step_s=3600, steps=3)
    assert hours.tolist() == [1.0, 2.0, 0.5]


def test_weights_turn_device_hours_into_h100e_hours_and_waiting_is_the_difference() -> None:
    demanded = [DemandInterval(0, 7200, 8, weight_milli=250)]
    delivered = [DemandInterval(3600, 7200, 8, weight_milli=250)]
    steps = demand_steps(demanded, delivered, origin_s=0, step_s=3600, steps=2)
    assert steps.demanded_hours.tolist() == [2.0, 2.0]
    assert steps.delivered_hours.tolist() == [0.0, 2.0]
    assert steps.waiting_hours.tolist() == [2.0, 0.0]
    assert steps.step_starts_s.tolist() == [0, 3600]


def test_bad_intervals_and_steps_are_refused() -> None:
    with pytest.raises(InvalidInput, match="start <= end"):
        DemandInterval(10, 5, 1)
    with pytest.raises(InvalidInput, match="positive"):
        step_hours([], origin_s=0, step_s=0, steps=1)


intervals = st.lists(
    st.tuples(st.integers(0, 10 * 86_400), st.integers(0, 3 * 86_400), st.integers(1, 64)).map(
        lambda t: DemandInterval(t[0], t[0] + t[1], t[2], 1000)
    ),
    max_size=40,
)


@given(intervals, st.integers(0, 86_400), st.sampled_from([60, 900, 3600, 86_400]))
def test_steps_add_up_to_each_intervals_overlap_with_the_window(
    spans: list[DemandInterval], origin_s: int, step_s: int
) -> None:
    steps = (12 * 86_400) // step_s
    hours = step_hours(spans, origin_s, step_s, steps)
    end_s = origin_s + steps * step_s
    expected = sum(
        max(0, min(i.end_s, end_s) - max(i.start_s, origin_s)) * i.devices for i in spans
    )
    assert np.all(hours >= 0)
    assert hours.sum() * 3600 == pytest.approx(expected, abs=1e-6)
