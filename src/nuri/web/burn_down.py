"""An award's day-by-day burn-down for its chart, summed by the database.

``Reports.burn_down_curve`` gives the same points but reads every charge of the award into
memory; a year-old award with 80,000 charges then costs half a second, beyond the portal's
300 ms budget for a page. Here the database sums the charges per UTC day (an index on the
ledger's allocation keeps it to the award's rows), and Python only accumulates a few hundred
daily sums. The caller passes allocations it obtained through a use case (``Jobs.usage``), so
who may see which award is decided there, as everywhere.
"""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.units import units_to_gpu_hours
from nuri.service.reports import BurnDownPoint
from nuri.service.views import AllocationView
from nuri.store.tables import LedgerEntryRow


def daily_burn_down(
    sessions: sessionmaker[Session], allocation: AllocationView, now: datetime
) -> list[BurnDownPoint]:
    """Used and remaining H100e GPU-hours at the end of each UTC day, from the award's first day
    to today (or its last day, if it has ended); one point at least."""
    day = func.date(LedgerEntryRow.created_at)  # stored as UTC; SQLite and PostgreSQL agree
    with sessions() as session:
        per_day = {
            _as_date(charged_on): int(units)
            for charged_on, units in session.execute(
                select(day, func.sum(LedgerEntryRow.h100e_units))
                .where(LedgerEntryRow.allocation_id == allocation.id)
                .group_by(day)
            )
        }
    first = _utc_day(allocation.starts_at)
    last = max(_utc_day(min(now, allocation.ends_at)), first)
    # Charges before the first day (none should exist) count on it, as in Reports.
    used = sum(units for charged_on, units in per_day.items() if charged_on < first)
    points = []
    for offset in range((last - first).days + 1):
        today = first + timedelta(days=offset)
        used += per_day.get(today, 0)
        points.append(
            BurnDownPoint(
                day=datetime(today.year, today.month, today.day, tzinfo=UTC),
                used_gpu_hours=_hours(used),
                remaining_gpu_hours=_hours(max(allocation.awarded_units - used, 0)),
            )
        )
    # Charges dated after the last day (an award that ended) count on the last one.
    late = sum(units for charged_on, units in per_day.items() if charged_on > last)
    if late:
        final = points[-1]
        total = used + late
        points[-1] = BurnDownPoint(
            day=final.day,
            used_gpu_hours=_hours(total),
            remaining_gpu_hours=_hours(max(allocation.awarded_units - total, 0)),
        )
    return points


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _as_date(value: object) -> date:
    # SQLite's date() answers "YYYY-MM-DD"; PostgreSQL's a date.
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _hours(units: int) -> float:
    return round(float(units_to_gpu_hours(units)), 4)
