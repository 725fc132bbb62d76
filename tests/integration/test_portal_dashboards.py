"""The operators' and policy makers' dashboard through FastAPI's TestClient: every section in both
languages for admins and managers, CSV downloads through the session, a polite message where a
forecast has too little history, and refusals for everyone else."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from nuri.api.app import create_app
from nuri.domain.errors import InvalidInput
from nuri.service.demo_history import seed_demo_history
from nuri.web.dashboard_queries import jain_index, summarise_waits
from tests.conftest import World
from tests.integration.test_portal import sign_in

SECTIONS = [
    "/dashboard",
    "/dashboard?by=community",
    "/dashboard?by=programme",
    "/dashboard/utilisation",
    "/dashboard/utilisation?series=hub:ksc",
    "/dashboard/waits?days=30",
    "/dashboard/fairness",
    "/dashboard/forecast?series=pool:h100",
]


@dataclass
class Dashboards:
    world: World
    tokens: dict[str, str]

    def signed_in(self, who: str, lang: str = "en") -> TestClient:
        client = TestClient(
            create_app(self.world.commons, run_engine=False), follow_redirects=False
        )
        client.cookies.set("nuri_lang", lang)
        assert sign_in(client, self.tokens[who]).status_code == 303
        return client


@pytest.fixture
def dashboards(sqlite_world: World) -> Iterator[Dashboards]:
    """The small world with one finished job charged to nlp, a manager and a reviewer."""
    world = sqlite_world
    d = world.commons.directory
    d.create_user(world.admin, name="moon", display_name="", role="manager", organisation=None)
    d.create_user(world.admin, name="han", display_name="", role="reviewer", organisation=None)
    job = world.commons.jobs.submit(
        world.member, project="nlp", pool="h100", gpus=2, time_limit_s=3600, command=["train"]
    )
    engine = world.engine()
    world.clock.advance(30)
    engine.cycle()
    world.clock.advance(1800)
    world.backend.finish(job.id)
    engine.cycle()
    users = {"admin": "root", "manager": "moon", "reviewer": "han", "pi": "kim", "member": "lee"}
    tokens = {who: d.issue_token(world.admin, user) for who, user in users.items()}
    yield Dashboards(world, tokens)


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("who", ["admin", "manager"])
def test_every_section_renders_for_operators_and_managers(
    dashboards: Dashboards, who: str, lang: str
) -> None:
    """Each section answers 200 with its heading in the page's language, a chart with a text
    alternative where it has data, and the menu marks the dashboard as the current page."""
    client = dashboards.signed_in(who, lang)
    title = "공동활용 인프라 현황" if lang == "ko" else "Commons dashboard"
    for path in SECTIONS:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert f"<h1>{title}</h1>" in response.text, path
        assert 'href="/dashboard" aria-current="page"' in response.text
    spend = client.get("/dashboard").text
    assert 'data-chart="figure-spend" role="img" aria-label=' in spend
    assert ("얼마나 더 필요한가" if lang == "ko" else "How much more is needed") in spend
    fairness = client.get("/dashboard/fairness").text
    assert 'id="jain"' in fairness


def test_a_short_history_gets_the_services_reason_instead_of_a_chart(
    dashboards: Dashboards, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the forecaster refuses (too little history), the page says why, politely (200);
    otherwise it draws the forecast with the model chosen and its backtest."""
    client = dashboards.signed_in("manager", "ko")
    drawn = client.get("/dashboard/forecast?series=hub:ksc&horizon=1d")
    assert drawn.status_code == 200
    assert 'data-chart="figure-forecast"' in drawn.text and "백테스트" in drawn.text

    def refuse(*_: object, **__: object) -> None:
        raise InvalidInput("too little history: 10 points")

    monkeypatch.setattr(dashboards.world.commons.demand, "forecast", refuse)
    response = client.get("/dashboard/forecast?series=community:startup&horizon=7d")
    assert response.status_code == 200
    assert 'id="forecast-problem"' in response.text
    assert "이 시계열은 예측할 수 없습니다" in response.text
    assert "too little history: 10 points" in response.text
    assert "figure-forecast" not in response.text


def test_csv_downloads_use_the_session_and_the_apis_columns(dashboards: Dashboards) -> None:
    """Spend, needs and demand download as CSV (as the API's CSV views) without a bearer token."""
    client = dashboards.signed_in("manager")
    spend = client.get("/dashboard/spend.csv?by=pool")
    assert spend.status_code == 200 and spend.headers["content-type"].startswith("text/csv")
    assert spend.text.splitlines()[0].startswith("group,name,charges,device_hours")
    assert 'filename="spend-by-pool.csv"' in spend.headers["content-disposition"]
    needs = client.get("/dashboard/needs.csv")
    assert needs.text.splitlines()[0].startswith("pool,hub,accelerator,devices")
    demand = client.get("/dashboard/demand.csv?series=pool:h100&days=2")
    assert demand.text.splitlines()[0] == "timestamp,demanded,delivered,waiting"
    assert len(demand.text.splitlines()) == 1 + 48


@pytest.mark.parametrize("who", ["reviewer", "pi", "member"])
def test_only_operators_and_managers_see_the_dashboard(dashboards: Dashboards, who: str) -> None:
    """Anyone else gets 403 pages for every section and download, and no menu link."""
    client = dashboards.signed_in(who)
    for path in [*SECTIONS, "/dashboard/spend.csv", "/dashboard/needs.csv"]:
        assert client.get(path).status_code == 403, path
    assert 'href="/dashboard"' not in client.get("/jobs").text


def test_bad_choices_are_pages_not_traces(dashboards: Dashboards) -> None:
    """An unknown grouping, series or window is a 400 page with the reason."""
    client = dashboards.signed_in("admin")
    assert client.get("/dashboard?by=nothing").status_code == 400
    assert client.get("/dashboard/utilisation?series=pool:nope").status_code == 400
    assert client.get("/dashboard/waits?days=1000").status_code == 400
    assert client.get("/dashboard/forecast?horizon=9y").status_code == 400


def test_wait_histogram_and_jain_index() -> None:
    """Waits fall into their bins with cumulative shares; Jain's index is 1 for equal ratios."""
    summary = summarise_waits([0, 30, 61, 4000, 100_000])
    assert [b.jobs for b in summary.bins] == [2, 1, 0, 0, 0, 1, 0, 0, 1]
    assert summary.bins[-1].cumulative_share == 1.0
    assert summary.median_s == 61 and summary.p90_s == 100_000
    assert jain_index([1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert jain_index([1.0, 0.0]) == pytest.approx(0.5)
    assert jain_index([]) is None


def test_the_capacity_plan_page_plans_a_pool_from_its_forecast(dashboards: Dashboards) -> None:
    """With four weeks of (simulated) history, a pool's plan shows a recommended size, its
    simulated p90 wait and costs, and the H100 / NPU comparison, in both languages."""
    world = dashboards.world
    client = dashboards.signed_in("manager")
    form = client.get("/dashboard/plan")
    assert form.status_code == 200 and '<label for="pool">Pool</label>' in form.text
    assert 'id="plan-table"' not in form.text
    seed_demo_history(world.commons.sessions, world.clock(), "fifo", {"h100": ["vision"]})
    page = client.get("/dashboard/plan?pool=h100&target=4h")
    assert page.status_code == 200, page.text
    assert 'id="plan-table"' in page.text and "Recommended size for a p90 wait of 4h" in page.text
    assert "RNGD" in page.text and "₩" in page.text
    korean = dashboards.signed_in("admin", "ko").get("/dashboard/plan?pool=h100&target=4h")
    assert korean.status_code == 200 and "90% 대기 시간 4h 목표의 권고 규모" in korean.text
    assert client.get("/dashboard/plan?pool=h100&target=2d").status_code == 400
    assert dashboards.signed_in("pi").get("/dashboard/plan").status_code == 403
