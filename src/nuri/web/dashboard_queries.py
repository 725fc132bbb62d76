"""The few figures the operators' dashboard needs that no use case gives: waiting times of the
jobs started in a window, and H100e GPU-hours awarded per community.

Both are for admins and programme managers only (the caller checks, as ``Reports`` does); both
read, never write. The window of waits is bounded by the caller (at most ``MAX_WAIT_DAYS``), so
the query stays proportional to the jobs of those days.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.units import units_to_gpu_hours
from nuri.store.tables import AllocationRow, JobRow, OrganisationRow, PoolRow, ProjectRow

MAX_WAIT_DAYS = 90
WAIT_BINS_S: tuple[float, ...] = (0, 60, 300, 900, 1800, 3600, 2 * 3600, 6 * 3600, 24 * 3600)
"""Lower edges of the histogram's bins; the last bin is everything from a day up."""


@dataclass(frozen=True, slots=True)
class WaitBin:
    lowest_s: float
    highest_s: float | None
    """None for the last, open-ended bin."""
    jobs: int
    cumulative_share: float
    """Share of the window's jobs that waited less than ``highest_s`` (1.0 for the last bin)."""


@dataclass(frozen=True, slots=True)
class WaitSummary:
    jobs: int
    median_s: float | None
    p90_s: float | None
    bins: list[WaitBin]


def waits(sessions: sessionmaker[Session], since: datetime, pool: str | None = None) -> WaitSummary:
    """Waits (start minus submission, in seconds) of the jobs that started at or after ``since``,
    optionally on one pool, as a histogram over ``WAIT_BINS_S`` with its cumulative shares."""
    query = select(JobRow.submitted_at, JobRow.started_at).where(
        JobRow.started_at.is_not(None), JobRow.started_at >= since
    )
    if pool is not None:
        query = query.join(PoolRow, PoolRow.id == JobRow.pool_id).where(PoolRow.name == pool)
    with sessions() as session:
        values = sorted(
            max((started - submitted).total_seconds(), 0.0)
            for submitted, started in session.execute(query)
            if started is not None
        )
    return summarise_waits(values)


def summarise_waits(values: Sequence[float]) -> WaitSummary:
    """The histogram and quantiles of sorted ``values`` (seconds)."""
    counts = [0] * len(WAIT_BINS_S)
    index = 0
    for value in values:
        while index + 1 < len(WAIT_BINS_S) and value >= WAIT_BINS_S[index + 1]:
            index += 1
        counts[index] += 1
    total = len(values)
    bins = []
    running = 0
    for position, lowest in enumerate(WAIT_BINS_S):
        running += counts[position]
        highest = WAIT_BINS_S[position + 1] if position + 1 < len(WAIT_BINS_S) else None
        bins.append(WaitBin(lowest, highest, counts[position], running / total if total else 0.0))
    return WaitSummary(total, _quantile(values, 0.5), _quantile(values, 0.9), bins)


def _quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted ``values`` (nearest rank); None when there are none."""
    if not values:
        return None
    return values[min(max(math.ceil(q * len(values)) - 1, 0), len(values) - 1)]


def awarded_by_community(sessions: sessionmaker[Session]) -> dict[str, float]:
    """H100e GPU-hours of every allocation ever awarded, per community (organisation kind)."""
    query = (
        select(OrganisationRow.kind, func.sum(AllocationRow.awarded_units))
        .join(ProjectRow, ProjectRow.id == AllocationRow.project_id)
        .join(OrganisationRow, OrganisationRow.id == ProjectRow.organisation_id)
        .group_by(OrganisationRow.kind)
    )
    with sessions() as session:
        return {
            str(kind): float(units_to_gpu_hours(int(units or 0)))
            for kind, units in session.execute(query)
        }


def jain_index(values: Sequence[float]) -> float | None:
    """Jain's fairness index of ``values``: 1 when all are equal, 1/n when one has everything;
    None when there is nothing to compare."""
    total = sum(values)
    squares = sum(value * value for value in values)
    if not values or squares == 0:
        return None
    return total * total / (len(values) * squares)
