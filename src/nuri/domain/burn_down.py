"""How an award is being used up: its pace, and when it will run out at the recent rate.

An award is *on pace* when the share it has used is close to the share of its term that has
passed; a project far *behind* will leave hours unused (and others waiting), one far *ahead*
will run dry before its term ends. The projection extrapolates the burn rate of a recent window
(14 days by default), not the whole term, because projects speed up and slow down; with no
recent use there is no projection. Quantities are integer H100e units; only the shares shown to
people are rounded.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from nuri.domain.errors import InvalidInput

PACE_TOLERANCE = 0.10
"""Used share within this many points of elapsed share counts as on pace."""
RECENT_WINDOW = timedelta(days=14)
MAX_PROJECTION_DAYS = 36_500
"""A trickle of use projects exhaustion centuries ahead: no projection at all says it better."""


class Pace(StrEnum):
    NOT_STARTED = "not-started"
    ON_PACE = "on-pace"
    AHEAD = "ahead"
    BEHIND = "behind"
    EXHAUSTED = "exhausted"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class BurnDown:
    used_share: float
    elapsed_share: float
    pace: Pace
    units_per_day: int
    """Recent burn rate in H100e units per day (integer floor)."""
    projected_exhaustion: datetime | None
    """When the remaining units run out at the recent rate; None without recent use (or if
    that is more than a century away)."""
    exhausts_before_end: bool


def burn_down(
    *,
    awarded_units: int,
    used_units: int,
    held_units: int,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    recent_units: int,
    recent_window: timedelta = RECENT_WINDOW,
) -> BurnDown:
    """``recent_units`` are the units charged in the ``recent_window`` before ``now``."""
    if ends_at <= starts_at:
        raise InvalidInput("an award's term must end after it starts")
    if min(awarded_units, used_units, held_units, recent_units) < 0:
        raise InvalidInput("awarded, used, held and recent units must not be negative")
    term_s = (ends_at - starts_at).total_seconds()
    elapsed_s = min(max((now - starts_at).total_seconds(), 0.0), term_s)
    elapsed_share = elapsed_s / term_s
    spent = used_units + held_units
    used_share = spent / awarded_units if awarded_units else 1.0
    window_s = max(min(recent_window.total_seconds(), (now - starts_at).total_seconds()), 0.0)
    units_per_day = int(recent_units * 86_400 // window_s) if window_s > 0 else 0
    remaining = max(awarded_units - spent, 0)
    projected: datetime | None = None
    if remaining == 0:
        projected = now
    elif units_per_day > 0 and remaining / units_per_day <= MAX_PROJECTION_DAYS:
        projected = now + timedelta(days=remaining / units_per_day)
    return BurnDown(
        used_share=used_share,
        elapsed_share=elapsed_share,
        pace=_pace(now, starts_at, ends_at, remaining, used_share, elapsed_share),
        units_per_day=units_per_day,
        projected_exhaustion=projected,
        exhausts_before_end=projected is not None and projected < ends_at and now < ends_at,
    )


def _pace(
    now: datetime,
    starts_at: datetime,
    ends_at: datetime,
    remaining: int,
    used_share: float,
    elapsed_share: float,
) -> Pace:
    if remaining == 0:
        return Pace.EXHAUSTED
    if now < starts_at:
        return Pace.NOT_STARTED
    if now >= ends_at:
        return Pace.ENDED
    if used_share > elapsed_share + PACE_TOLERANCE:
        return Pace.AHEAD
    if used_share < elapsed_share - PACE_TOLERANCE:
        return Pace.BEHIND
    return Pace.ON_PACE
