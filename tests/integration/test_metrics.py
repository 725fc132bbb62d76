"""/metrics: the commons' queues, pools, waits and ledger as read from the database, and this
process' requests and errors, in Prometheus' text format, with no names of people or projects."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from nuri.api.app import create_app
from nuri.api.metrics import nearest_rank
from tests.conftest import World

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    """Every sample of /metrics, by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@dataclass
class Scene:
    client: TestClient
    world: World
    token: str


@pytest.fixture
def scene(world: World) -> Iterator[Scene]:
    """A known state, 180 s after the first submission:

    - h100 (8 devices): two jobs running on 2 + 4 devices, after waits of 60 s and 30 s;
      one 4-device job pending for 90 s.
    - atom (8 devices): one job started after 60 s and completed 30 s later on 4 devices
      (30 s x 4 x 0.25 = 30 H100e GPU-seconds, 4 x 30 s x 720 KRW/h = 24 KRW).
    - one job that asked for any ATOM pool, pending for 90 s (no pool yet).
    """
    jobs, engine = world.commons.jobs, world.engine()

    def submit(pool: str | None, gpus: int, accelerator: str | None = None) -> int:
        return jobs.submit(
            world.member,
            project="nlp",
            pool=pool,
            accelerator=accelerator,
            gpus=gpus,
            time_limit_s=600,
            command=["python", "train.py"],
        ).id

    submit("h100", 2)
    atom_job = submit("atom", 4)
    world.clock.advance(60)
    engine.cycle()
    submit("h100", 4)
    world.clock.advance(30)
    world.backend.finish(atom_job)
    engine.cycle()
    submit("h100", 4)
    submit(None, 1, accelerator="ATOM")
    world.clock.advance(90)
    token = world.commons.directory.issue_token(world.admin, "lee")
    app = create_app(world.commons, run_engine=False)

    def explode() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-only/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Scene(client, world, token)


def test_the_queue_pools_and_utilisation_are_read_from_the_database(scene: Scene) -> None:
    """Pending and running jobs, busy devices and utilisation per pool match the known state."""
    samples = scrape(scene.client)
    h100 = {"pool": "h100", "accelerator": "H100"}
    atom = {"pool": "atom", "accelerator": "ATOM"}
    assert value(samples, "nuri_database_up") == 1
    assert value(samples, "nuri_pool_devices", **h100) == 8
    assert value(samples, "nuri_pool_busy_devices", **h100) == 6
    assert value(samples, "nuri_pool_utilisation_ratio", **h100) == 0.75
    assert value(samples, "nuri_pool_running_jobs", **h100) == 2
    assert value(samples, "nuri_pool_pending_jobs", **h100) == 1
    assert value(samples, "nuri_pool_oldest_pending_job_age_seconds", **h100) == 90
    assert value(samples, "nuri_pool_utilisation_ratio", **atom) == 0
    assert value(samples, "nuri_pool_pending_jobs", **atom) == 0
    any_atom = {"pool": "", "accelerator": "ATOM"}
    assert value(samples, "nuri_pool_pending_jobs", **any_atom) == 1
    assert value(samples, "nuri_pool_oldest_pending_job_age_seconds", **any_atom) == 90


def test_recent_waits_ended_jobs_and_ledger_totals_match_the_known_state(scene: Scene) -> None:
    """Waits of jobs started in the last hour by quantile; ended jobs and charges as counters."""
    samples = scrape(scene.client)
    h100 = {"pool": "h100", "accelerator": "H100"}
    atom = {"pool": "atom", "accelerator": "ATOM"}
    assert value(samples, "nuri_pool_recent_job_starts", **h100) == 2
    assert value(samples, "nuri_pool_recent_job_wait_seconds", **h100, quantile="0.5") == 30
    assert value(samples, "nuri_pool_recent_job_wait_seconds", **h100, quantile="0.9") == 60
    assert value(samples, "nuri_pool_recent_job_wait_seconds", **atom, quantile="0.5") == 60
    assert value(samples, "nuri_pool_jobs_ended_total", **atom, state="COMPLETED") == 1
    assert value(samples, "nuri_ledger_charged_h100e_gpu_seconds_total", **atom) == 30
    assert value(samples, "nuri_ledger_charged_krw_total", **atom) == 24
    assert value(samples, "nuri_ledger_charged_krw_total", **h100) == 0

    scene.world.clock.advance(3600)  # an hour on, no job started recently
    later = scrape(scene.client)
    assert value(later, "nuri_pool_recent_job_starts", **h100) == 0
    assert (
        "nuri_pool_recent_job_wait_seconds",
        frozenset({**h100, "quantile": "0.5"}.items()),
    ) not in later


def test_requests_and_errors_are_counted_by_route_template_and_status_class(scene: Scene) -> None:
    """A 404 for an unknown path, a 404 for an unknown job and a 500 each count as errors, under
    their route templates, never the raw path."""
    headers = {"Authorization": f"Bearer {scene.token}"}
    assert scene.client.get("/no/such/page").status_code == 404
    assert scene.client.get("/api/v1/jobs/999999", headers=headers).status_code == 404
    assert scene.client.get("/api/v1/jobs/1", headers=headers).status_code == 200
    assert scene.client.get("/test-only/explode").status_code == 500
    samples = scrape(scene.client)
    job = {"method": "GET", "route": "/api/v1/jobs/{job_id}"}
    assert value(samples, "nuri_http_requests_total", **job, status_class="2xx") == 1
    assert value(samples, "nuri_http_requests_total", **job, status_class="4xx") == 1
    assert value(samples, "nuri_http_request_errors_total", **job, status_class="4xx") == 1
    unmatched = {"method": "GET", "route": "unmatched", "status_class": "4xx"}
    assert value(samples, "nuri_http_request_errors_total", **unmatched) == 1
    boom = {"method": "GET", "route": "/test-only/explode", "status_class": "5xx"}
    assert value(samples, "nuri_http_request_errors_total", **boom) == 1
    assert value(samples, "nuri_http_request_duration_seconds_count", **job) == 2
    assert not any("999999" in dict(labels).get("route", "") for _, labels in samples)


def test_metrics_hold_no_names_of_people_or_projects(scene: Scene) -> None:
    """Only aggregates: no user, project or token appears in any label or in the text."""
    scene.client.get("/api/v1/projects", headers={"Authorization": f"Bearer {scene.token}"})
    text = scene.client.get("/metrics").text
    label_values = {
        value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for value in sample.labels.values()
    }
    assert not label_values & {"nlp", "vision", "kim", "lee", "park", "root"}
    assert scene.token not in text


def test_a_database_that_does_not_answer_is_reported_not_raised(scene: Scene) -> None:
    """The scrape still answers, with nuri_database_up 0 and the process' own metrics."""
    commons = scene.world.commons
    unreachable = create_engine("sqlite+pysqlite:////proc/no-such-directory/nuri.sqlite3")
    real = commons.sessions
    commons.sessions = sessionmaker(unreachable)
    try:
        samples = scrape(scene.client)
    finally:
        commons.sessions = real
        unreachable.dispose()
    assert value(samples, "nuri_database_up") == 0
    assert not any(name.startswith("nuri_pool_") for name, _ in samples)


@pytest.mark.parametrize(
    ("values", "quantile", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([1.0, 2.0], 0.5, 1.0),
        ([1.0, 2.0], 0.9, 2.0),
        ([1.0, 2.0, 3.0], 0.5, 2.0),
    ],
    ids=["one", "two-median", "two-p90", "three-median"],
)
def test_nearest_rank_quantiles(values: list[float], quantile: float, expected: float) -> None:
    """A quantile is an observed wait (nearest rank), never an interpolation between two."""
    assert nearest_rank(values, quantile) == expected
