"""Forecasts and capacity plans worked out once per hour, kept in the database, read by pages."""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nuri.api.app import create_app
from nuri.domain.errors import Forbidden
from nuri.engine.clock import ManualClock
from nuri.service import analyses as analyses_module
from nuri.service.analyses import FORECAST, KEPT_FOR, PLAN, Wanted
from nuri.service.analyses_worker import ANALYSES_LEASE, AnalysesProcess
from nuri.service.commons import open_commons
from nuri.service.demo_history import seed_demo_history
from nuri.service.settings import ServerSettings
from nuri.store.dataclass_json import from_jsonable, to_jsonable
from nuri.store.tables import AnalysisRow, LeaseRow
from tests.conftest import World, build_world
from tests.integration.test_portal import sign_in

pytestmark = pytest.mark.slow

H100_FORECAST = Wanted(FORECAST, "pool:h100", "7d")
H100_PLAN = Wanted(PLAN, "h100", "4h")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The small world with four weeks of simulated history on its H100 pool."""
    built = build_world(f"sqlite+pysqlite:///{tmp_path / 'nuri.sqlite3'}", tmp_path / "home")
    seed_demo_history(built.commons.sessions, built.clock(), "fifo", {"h100": ["vision"]})
    yield built
    built.commons.close()


def _stored(world: World) -> int:
    with world.commons.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AnalysisRow)) or 0)


def _refuse(*_: object, **__: object) -> None:
    raise AssertionError("worked out again instead of read from the store")


def test_a_refresh_stores_each_analysis_once_and_pages_read_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a refresh, the forecast and plan pages answer from the store: nothing is worked
    out again, on this replica or another one (a second app on the same database)."""
    analyses = world.commons.analyses
    assert analyses.refresh([H100_FORECAST, H100_PLAN]) == 2
    assert _stored(world) == 2
    assert analyses.refresh([H100_FORECAST, H100_PLAN]) == 0
    monkeypatch.setattr(world.commons.demand, "forecast", _refuse)
    monkeypatch.setattr(analyses_module, "plan_capacity", _refuse)
    token = world.commons.directory.issue_token(world.admin, "root")
    for _replica in range(2):
        client = TestClient(create_app(world.commons, run_engine=False), follow_redirects=False)
        assert sign_in(client, token).status_code == 303
        started = time.perf_counter()
        page = client.get("/dashboard/forecast?series=pool:h100&horizon=7d")
        plan = client.get("/dashboard/plan?pool=h100&target=4h")
        assert time.perf_counter() - started < 5  # read, not worked out (seconds each)
        assert page.status_code == 200 and 'data-chart="figure-forecast"' in page.text
        assert plan.status_code == 200 and 'id="plan-table"' in plan.text


def test_a_stored_plan_reads_back_equal_to_the_plan_made(world: World) -> None:
    """The JSON codec loses nothing: the stored plan is the plan, float for float."""
    made = world.commons.analyses.plan(world.admin, "h100", "4h")
    with world.commons.sessions() as session:
        text = session.scalars(select(AnalysisRow.result).where(AnalysisRow.kind == PLAN)).one()
    read = from_jsonable(type(made), json.loads(text))
    assert read == made or json.dumps(to_jsonable(read)) == json.dumps(to_jsonable(made))
    assert read.pools[0].recommended_devices == made.pools[0].recommended_devices


def test_an_analysis_not_yet_stored_is_worked_out_on_demand_and_kept(world: World) -> None:
    """The first request works it out and stores it; the next one reads it."""
    analyses = world.commons.analyses
    first = analyses.forecast(world.admin, "pool:h100", "7d")
    assert _stored(world) == 1
    assert analyses.forecast(world.admin, "pool:h100", "7d") == first


def test_a_new_hour_is_worked_out_afresh_and_old_hours_are_deleted(world: World) -> None:
    """Each hour of history has its own analyses; a refresh deletes those older than KEPT_FOR."""
    analyses = world.commons.analyses
    analyses.refresh([H100_FORECAST])
    world.clock.advance(3600)
    assert analyses.refresh([H100_FORECAST]) == 1
    assert _stored(world) == 2
    world.clock.advance((KEPT_FOR + timedelta(hours=1)).total_seconds())
    analyses.refresh([H100_FORECAST])
    with world.commons.sessions() as session:
        hours = session.scalars(select(AnalysisRow.as_of)).all()
    assert hours == [analyses.as_of()]


def test_only_commons_readers_may_read_analyses(world: World) -> None:
    """Forecasts and plans are commons-wide figures: admins and managers only."""
    with pytest.raises(Forbidden):
        world.commons.analyses.forecast(world.pi, "pool:h100", "7d")
    with pytest.raises(Forbidden):
        world.commons.analyses.plan(world.member, "h100", "1h")
    assert _stored(world) == 0


def test_the_dashboards_list_of_analyses_covers_every_pool_and_series(world: World) -> None:
    """Every pool gets a plan per target and its week-ahead forecast; every series the
    forecast page offers gets a forecast at each horizon."""
    wanted = {(w.kind, w.subject, w.parameter) for w in world.commons.analyses.wanted()}
    for pool in ("h100", "atom"):
        for target in ("30m", "1h", "4h"):
            assert (PLAN, pool, target) in wanted
    for series in ("all", "pool:atom", "hub:ksc", "community:startup"):
        for horizon in ("1d", "2d", "7d"):
            assert (FORECAST, series, horizon) in wanted
    assert len(wanted) == len(world.commons.analyses.wanted())


def test_the_worker_process_works_analyses_out_under_a_lease_and_stops(tmp_path: Path) -> None:
    """``nuri serve``'s worker: a separate process stores analyses for the current hour, holds
    the ``analyses`` lease while it works, and stops when asked."""
    url = f"sqlite+pysqlite:///{tmp_path / 'nuri.sqlite3'}"
    world = build_world(url, tmp_path / "home", start=datetime.now(UTC))
    seed_demo_history(world.commons.sessions, datetime.now(UTC), "fifo", {"h100": ["vision"]})
    world.commons.close()
    settings = ServerSettings(home=tmp_path / "home", database_url=url, analyses_interval_s=60)
    worker = AnalysesProcess(settings)
    worker.start()
    commons = open_commons(settings, clock=ManualClock(datetime.now(UTC)))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with commons.sessions() as session:
                if session.scalar(select(func.count()).select_from(AnalysisRow)):
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the worker stored nothing in two minutes")
        with commons.sessions() as session:
            assert session.get(LeaseRow, ANALYSES_LEASE) is not None
    finally:
        worker.stop()
    with commons.sessions() as session:
        assert session.get(LeaseRow, ANALYSES_LEASE) is None  # handed back on the way out
    commons.close()
    assert worker._process is not None and not worker._process.is_alive()
