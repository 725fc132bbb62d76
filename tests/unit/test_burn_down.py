"""An award's pace and projected exhaustion."""

from datetime import UTC, datetime, timedelta

import pytest

from nuri.domain.burn_down import Pace, burn_down
from nuri.domain.errors import InvalidInput

START = datetime(2027, 1, 1, tzinfo=UTC)
END = START + timedelta(days=100)
GPU_HOUR = 3_600_000


def test_on_pace_ahead_behind_and_the_projection_from_the_recent_rate() -> None:
    now = START + timedelta(days=50)
    half = burn_down(
        awarded_units=1000 * GPU_HOUR, used_units=500 * GPU_HOUR, held_units=0,
        starts_at=START, ends_at=END, now=now, recent_units=140 * GPU_HOUR,
    )  # fmt: skip
    assert half.pace is Pace.ON_PACE and half.elapsed_share == 0.5
    assert half.units_per_day == 10 * GPU_HOUR
    assert half.projected_exhaustion == now + timedelta(days=50)
    assert not half.exhausts_before_end
    fast = burn_down(
        awarded_units=1000 * GPU_HOUR, used_units=700 * GPU_HOUR, held_units=0,
        starts_at=START, ends_at=END, now=now, recent_units=280 * GPU_HOUR,
    )  # fmt: skip
    assert fast.pace is Pace.AHEAD and fast.exhausts_before_end
    assert fast.projected_exhaustion == now + timedelta(days=15)
    idle = burn_down(
        awarded_units=1000 * GPU_HOUR, used_units=100 * GPU_HOUR, held_units=0,
        starts_at=START, ends_at=END, now=now, recent_units=0,
    )  # fmt: skip
    assert idle.pace is Pace.BEHIND and idle.projected_exhaustion is None
    trickle = burn_down(
        awarded_units=10**15, used_units=0, held_units=0,
        starts_at=START, ends_at=END, now=now, recent_units=14,
    )  # fmt: skip
    assert trickle.units_per_day == 1 and trickle.projected_exhaustion is None


def test_holds_count_as_spent_and_states_outside_the_term() -> None:
    gone = burn_down(
        awarded_units=10, used_units=6, held_units=4, starts_at=START, ends_at=END,
        now=START + timedelta(days=1), recent_units=6,
    )  # fmt: skip
    assert gone.pace is Pace.EXHAUSTED and gone.projected_exhaustion == START + timedelta(days=1)
    early = burn_down(
        awarded_units=10, used_units=0, held_units=0, starts_at=START, ends_at=END,
        now=START - timedelta(days=1), recent_units=0,
    )  # fmt: skip
    assert early.pace is Pace.NOT_STARTED and early.elapsed_share == 0.0
    late = burn_down(
        awarded_units=10, used_units=1, held_units=0, starts_at=START, ends_at=END,
        now=END + timedelta(days=1), recent_units=0,
    )  # fmt: skip
    assert late.pace is Pace.ENDED and late.elapsed_share == 1.0


def test_impossible_terms_and_negative_units_are_refused() -> None:
    with pytest.raises(InvalidInput, match="end after it starts"):
        burn_down(
            awarded_units=1, used_units=0, held_units=0, starts_at=END, ends_at=START,
            now=START, recent_units=0,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="must not be negative"):
        burn_down(
            awarded_units=1, used_units=-1, held_units=0, starts_at=START, ends_at=END,
            now=START, recent_units=0,
        )  # fmt: skip
