"""Demand, forecasts and reports over HTTP: JSON and CSV, roles, and clear 4xx refusals."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nuri.api.app import create_app
from tests.conftest import World


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def get(self, path: str, who: str, **params: object) -> tuple[int, Any, str]:
        response = self.client.get(
            f"/api/v1{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )
        body = response.json() if "json" in response.headers["content-type"] else response.text
        return response.status_code, body, response.headers["content-type"]


def busy_day(world: World) -> None:
    """Hourly, a 2-device job on the ATOM pool for three quarters of an hour, for a day."""
    engine = world.engine()
    for _ in range(24):
        job = world.commons.jobs.submit(
            world.member, project="nlp", pool="atom", gpus=2, time_limit_s=3600, command=["x"]
        ).id
        engine.cycle()
        world.clock.advance(2700)
        world.backend.finish(job)
        engine.cycle()
        world.clock.advance(900)


@pytest.fixture
def api(sqlite_world: World) -> Iterator[Api]:
    d = sqlite_world.commons.directory
    d.create_user(
        sqlite_world.admin, name="moon", display_name="", role="manager", organisation=None
    )
    tokens = {user: d.issue_token(sqlite_world.admin, user) for user in ("root", "moon", "lee")}
    busy_day(sqlite_world)
    with TestClient(create_app(sqlite_world.commons, run_engine=False)) as client:
        yield Api(client, tokens)


def test_demand_and_spend_as_json_and_csv(api: Api) -> None:
    status, series, _ = api.get("/demand", "moon", series="pool:atom", days=2)
    assert status == 200 and series["unit"] == "device-hours" and len(series["points"]) == 48
    assert sum(p["delivered"] for p in series["points"]) == pytest.approx(24 * 2 * 0.75)
    status, rows, _ = api.get("/reports/spend", "root", by="project")
    assert status == 200
    assert [(r["name"], r["charges"], r["gpu_hours"]) for r in rows] == [("nlp", 24, 9.0)]
    status, text, kind = api.get("/reports/spend", "root", by="hub", format="csv")
    assert status == 200 and kind.startswith("text/csv")
    (record,) = list(csv.DictReader(io.StringIO(text)))
    assert record["name"] == "ksc" and int(record["cost_krw"]) == 36 * 720


def test_burn_down_and_needs_through_http(api: Api) -> None:
    status, awards, _ = api.get("/reports/burn-down", "lee")
    assert status == 200 and [a["project"] for a in awards] == ["nlp"]
    (nlp,) = awards
    status, curve, _ = api.get(f"/reports/burn-down/{nlp['allocation_id']}", "lee")
    assert status == 200 and curve[-1]["used_gpu_hours"] == nlp["used_gpu_hours"] == 9.0
    status, programmes, _ = api.get("/reports/burn-down/programmes", "moon", format="csv")
    assert status == 200 and programmes.startswith("programme,awards,")
    status, needs, _ = api.get("/reports/needs", "moon", days=1)
    assert status == 200 and {row["pool"] for row in needs} == {"h100", "atom"}


def test_refusals_say_what_to_fix(api: Api) -> None:
    status, body, _ = api.get("/reports/spend", "lee")
    assert status == 403 and "only admins and programme managers" in body["detail"]
    status, body, _ = api.get("/demand", "root", series="pool:nope")
    assert status == 404 and "pools are h100, atom" in body["detail"]
    status, body, _ = api.get("/reports/spend", "root", by="colour")
    assert status == 400 and "cannot group spend by 'colour'" in body["detail"]
    status, body, _ = api.get("/demand", "root", step="5m")
    assert status == 422
    status, body, _ = api.get("/reports/burn-down/999", "root")
    assert status == 404
    status, body, _ = api.get("/reports/needs", "root", format="xml")
    assert status == 422


def test_a_forecast_of_a_pool_adds_the_awards_that_start_later(sqlite_world: World) -> None:
    world = sqlite_world
    d = world.commons.directory
    start = world.clock()
    d.create_allocation(
        world.admin, project="nlp", gpu_hours="500", pools=["atom"], tier="general",
        starts_at=start - timedelta(days=1), ends_at=start + timedelta(days=30),
    )  # fmt: skip
    engine = world.engine()
    for hour in range(7 * 24):
        # Busier in working hours: 6 devices from 09:00 to 18:00, 2 otherwise.
        gpus = 6 if 9 <= (start + timedelta(hours=hour)).hour < 18 else 2
        job = world.commons.jobs.submit(
            world.member, project="nlp", pool="atom", gpus=gpus, time_limit_s=3600,
            command=["x"],
        ).id  # fmt: skip
        engine.cycle()
        world.clock.advance(3000)
        world.backend.finish(job)
        engine.cycle()
        world.clock.advance(600)
    token = d.issue_token(world.admin, "root")
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        api = Api(client, {"root": token})
        status, before, _ = api.get("/forecasts", "root", series="pool:atom", horizon="1d", days=7)
        assert status == 200, before
        assert set(before) >= {"model", "backtest", "forecast"}
        assert before["model"] in before["backtest"] and "SeasonalNaive" in before["backtest"]
        points = before["forecast"]
        assert len(points) == 24
        assert all(p["lo80"] <= p["mean"] <= p["hi80"] for p in points)
        first = datetime.fromisoformat(points[0]["timestamp"])
        assert first == world.clock().replace(minute=0, second=0, microsecond=0)
        # Working hours are forecast busier than the night.
        by_hour = {datetime.fromisoformat(p["timestamp"]).hour: p["mean"] for p in points}
        assert by_hour[12] > by_hour[3] + 2
        later = first + timedelta(hours=12)
        d.create_allocation(
            world.admin, project="vision", gpu_hours="240", pools=["atom"], tier="general",
            starts_at=later, ends_at=later + timedelta(days=4),
        )  # fmt: skip
        status, after, _ = api.get("/forecasts", "root", series="pool:atom", horizon="1d", days=7)
        # 240 H100e GPU-hours over 96 hours on a 0.25 H100e pool: 10 more devices an hour.
        added = [a["mean"] - b["mean"] for a, b in zip(after["forecast"], points, strict=True)]
        assert added == pytest.approx([0.0] * 12 + [10.0] * 12)
        status, body, _ = api.get("/forecasts", "root", series="pool:atom", horizon="30d", days=7)
        assert status == 400 and "longer than the 168 steps of history" in body["detail"]
        status, body, _ = api.get("/forecasts", "root", series="pool:atom", horizon="soon")
        assert status == 400
