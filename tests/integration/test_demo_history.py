"""The demo's simulated history: recorded like real runs, charged exactly, and forecastable."""

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from nuri.domain.commons import Role
from nuri.domain.units import cost_krw, h100e_units
from nuri.engine.clock import ManualClock
from nuri.service.auth import Actor
from nuri.service.commons import open_commons
from nuri.service.demo import seed_demo
from nuri.service.demo_history import HISTORY_DAYS, NOTE, PROJECTS_BY_POOL, seed_demo_history
from nuri.service.settings import ServerSettings
from nuri.store.tables import AllocationRow, JobRow, LedgerEntryRow, PoolRow, ProjectRow
from tests.conftest import START


def test_history_is_charged_exactly_to_ended_awards_and_feeds_forecasts(tmp_path: Path) -> None:
    settings = ServerSettings(home=tmp_path)
    commons = open_commons(settings, clock=ManualClock(START))
    seed_demo(commons.sessions, commons.directory, commons.clock, settings.demo_tokens_path)
    recorded = seed_demo_history(commons.sessions, START, "fifo", PROJECTS_BY_POOL)
    assert recorded > 1000
    with commons.sessions() as session:
        jobs = list(session.scalars(select(JobRow)))
        assert len(jobs) == recorded and all(job.name.startswith("history-") for job in jobs)
        assert all(job.ended_at is not None and job.ended_at <= START for job in jobs)
        assert min(job.submitted_at for job in jobs) >= START - timedelta(days=HISTORY_DAYS)
        assert {job.state for job in jobs} <= {"COMPLETED", "TIMEOUT", "CANCELLED"}
        rates = {p.id: p for p in session.scalars(select(PoolRow))}
        for entry in session.scalars(select(LedgerEntryRow)):
            pool = rates[entry.pool_id]
            assert entry.h100e_units == h100e_units(entry.devices, entry.seconds, pool.rate_milli)
            assert entry.cost_krw == cost_krw(
                entry.devices, entry.seconds, pool.krw_per_device_hour
            )
        history = list(session.scalars(select(AllocationRow).where(AllocationRow.note == NOTE)))
        assert {a.ends_at for a in history} == {START}
        for allocation in history:
            used = session.scalar(
                select(func.sum(LedgerEntryRow.h100e_units)).where(
                    LedgerEntryRow.allocation_id == allocation.id
                )
            )
            assert allocation.awarded_units == used
        snu = session.scalar(select(ProjectRow.id).where(ProjectRow.name == "snu-nlp"))
        assert all(job.project_id != snu for job in jobs)
    admin = Actor(1, "admin", Role.ADMIN)
    series = commons.demand.series(admin, "pool:h100-ksc", days=HISTORY_DAYS)
    busy = [p for p in series.points if p.delivered > 0]
    assert len(busy) > 0.9 * len(series.points)
    forecast = commons.demand.forecast(admin, "pool:h100-ksc", horizon="7d", days=HISTORY_DAYS)
    assert len(forecast.points) == 168
    commons.close()
