"""The HTTP API: authentication, role isolation, clear refusals, idempotent submission."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from nuri.api.app import create_app
from nuri.service.demo import seed_demo
from nuri.store.migrate import head_revision
from tests.conftest import World


@dataclass
class Api:
    client: TestClient
    world: World
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def submit(self, who: str = "member", **overrides: object) -> tuple[int, dict]:
        body = {"project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": 600}
        body |= {"command": ["python", "train.py"]} | overrides
        response = self.client.post("/api/v1/jobs", json=body, headers=self.as_(who))
        return response.status_code, response.json()


@pytest.fixture
def api(world: World) -> Iterator[Api]:
    directory = world.commons.directory
    tokens = {
        name: directory.issue_token(world.admin, user)
        for name, user in {
            "admin": "root",
            "pi": "kim",
            "member": "lee",
            "outsider": "park",
        }.items()
    }
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        yield Api(client, world, tokens)


def test_health_and_openapi_need_no_token(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """/healthz reports the database and schema, quietly (probes ask every few seconds);
    /openapi.json documents /api/v1."""
    with caplog.at_level(logging.INFO):
        health = api.client.get("/healthz").json()
    assert health["status"] == "ok" and health["schema_revision"] == head_revision()
    assert not [record for record in caplog.records if record.name.startswith("alembic")]
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/jobs" in spec["paths"] and "/api/v1/projects/{name}/usage" in spec["paths"]


@pytest.mark.parametrize("header", [None, "Bearer nuri_not-a-real-token", "Basic abc"])
def test_requests_without_a_valid_token_get_401_with_a_reason(api: Api, header: str | None) -> None:
    """No token, an unknown token or the wrong scheme: 401 and a message saying what to do."""
    headers = {} if header is None else {"Authorization": header}
    response = api.client.get("/api/v1/jobs", headers=headers)
    assert response.status_code == 401
    assert "token" in response.json()["detail"].lower()


def test_a_member_sees_only_their_projects_jobs_and_usage(api: Api) -> None:
    """Role isolation: lee (nlp) cannot see vision's jobs or usage; park cannot see nlp's."""
    _, mine = api.submit("member")
    status, theirs = api.submit("outsider", project="vision")
    assert status == 201
    listed = api.client.get("/api/v1/jobs", headers=api.as_("member")).json()
    assert [job["id"] for job in listed] == [mine["id"]]
    assert (
        api.client.get(f"/api/v1/jobs/{theirs['id']}", headers=api.as_("member")).status_code == 404
    )
    assert (
        api.client.get(f"/api/v1/jobs/{mine['id']}", headers=api.as_("outsider")).status_code == 404
    )
    logs = api.client.get(f"/api/v1/jobs/{mine['id']}/logs", headers=api.as_("outsider"))
    assert logs.status_code == 404
    usage = api.client.get("/api/v1/projects/vision/usage", headers=api.as_("member"))
    assert usage.status_code == 404
    projects = api.client.get("/api/v1/projects", headers=api.as_("member")).json()
    assert [project["name"] for project in projects] == ["nlp"]
    allocations = api.client.get("/api/v1/allocations", headers=api.as_("member")).json()
    assert {allocation["project"] for allocation in allocations} == {"nlp"}
    everything = api.client.get("/api/v1/jobs", headers=api.as_("admin")).json()
    assert len(everything) == 2


def test_a_member_cannot_submit_to_or_cancel_in_another_project(api: Api) -> None:
    """Submitting to a project you are not in is 403; cancelling its job is 404."""
    status, body = api.submit("member", project="vision")
    assert status == 403 and "not a member of project vision" in body["detail"]
    _, theirs = api.submit("outsider", project="vision")
    response = api.client.post(f"/api/v1/jobs/{theirs['id']}/cancel", headers=api.as_("member"))
    assert response.status_code == 404


def test_only_admins_administer(api: Api) -> None:
    """Non-admins get 403 with a message naming the action and their role."""
    for who in ("pi", "member"):
        response = api.client.post(
            "/api/v1/hubs", json={"name": "x", "operator": "university"}, headers=api.as_(who)
        )
        assert response.status_code == 403
        assert "only an admin may create hubs" in response.json()["detail"]


def test_a_pi_may_add_members_to_their_own_project_only(api: Api) -> None:
    """kim leads nlp and may add park to it; park may not add anyone to nlp."""
    added = api.client.post(
        "/api/v1/projects/nlp/members", json={"user": "park"}, headers=api.as_("pi")
    )
    assert added.status_code == 200 and "park" in added.json()["members"]
    refused = api.client.post(
        "/api/v1/projects/nlp/members", json={"user": "lee"}, headers=api.as_("outsider")
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"pool": "tpu-v9"}, 422, "unknown pool 'tpu-v9'"),
        ({"gpus": 5}, 422, "at most 4"),
        ({"gpus": 0}, 422, "gpus: Input should be greater than or equal to 1"),
        ({"command": []}, 422, "no command"),
        ({"command": ["  "]}, 422, "no command"),
        ({"time_limit_s": 8 * 24 * 3600}, 422, "allows time limits up to 7d"),
        ({"gpus": 4, "time_limit_s": 3 * 3600}, 422, "10.0 H100e GPU-hours left"),
        ({"project": "nope"}, 404, "no project named 'nope'"),
        ({"colour": "blue"}, 422, "colour: Extra inputs are not permitted"),
    ],
    ids=[
        "unknown-pool",
        "too-many-devices",
        "zero-devices",
        "no-command",
        "blank-command",
        "time-limit",
        "over-award",
        "unknown-project",
        "unknown-field",
    ],
)
def test_bad_submissions_are_refused_with_a_clear_message_and_nothing_is_queued(
    api: Api, overrides: dict, status: int, message: str
) -> None:
    """Each refusal says what to fix; no job and no hold are left behind."""
    got, body = api.submit("member", **overrides)
    assert got == status
    assert message in body["detail"]
    assert api.client.get("/api/v1/jobs", headers=api.as_("admin")).json() == []
    usage = api.client.get("/api/v1/projects/nlp/usage", headers=api.as_("member")).json()
    assert usage["held_units"] == 0


def test_a_retried_submission_with_the_same_idempotency_key_returns_the_same_job(api: Api) -> None:
    """Idempotency-Key: a retry after a lost answer never queues a second job."""
    body = {"project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": 60, "command": ["x"]}
    headers = api.as_("member") | {"Idempotency-Key": "abc-123"}
    first = api.client.post("/api/v1/jobs", json=body, headers=headers)
    second = api.client.post("/api/v1/jobs", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(api.client.get("/api/v1/jobs", headers=api.as_("member")).json()) == 1


def test_job_json_has_the_documented_fields(api: Api) -> None:
    """A job has id, state, project, pool and gpus, and a fresh one is PENDING first in queue."""
    _, job = api.submit("member", gpus=2)
    shown = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.as_("member")).json()
    assert {key: shown[key] for key in ("id", "state", "project", "pool", "gpus")} == {
        "id": job["id"],
        "state": "PENDING",
        "project": "nlp",
        "pool": "h100",
        "gpus": 2,
    }
    assert shown["queue_position"] == 1


def test_usage_json_has_the_documented_fields(api: Api) -> None:
    """Usage reports awarded, used and remaining H100e GPU-hours and the cost in won."""
    usage = api.client.get("/api/v1/projects/nlp/usage", headers=api.as_("pi")).json()
    assert usage["awarded_gpu_hours"] == 10.0
    assert usage["used_gpu_hours"] == 0.0
    assert usage["remaining_gpu_hours"] == 10.0
    assert usage["cost_krw"] == 0


def test_cancelling_twice_and_cancelling_a_finished_job(api: Api) -> None:
    """The first cancel of a pending job cancels it; cancelling it again is a 409 conflict."""
    _, job = api.submit("member")
    first = api.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=api.as_("member"))
    assert first.json()["state"] == "CANCELLED"
    again = api.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=api.as_("member"))
    assert again.status_code == 409 and "already ended CANCELLED" in again.json()["detail"]


def test_admin_builds_a_commons_through_the_api(api: Api) -> None:
    """Hub, pool, organisation, user (with a usable token), project and allocation via HTTP."""
    admin = api.as_("admin")
    post = api.client.post
    assert (
        post(
            "/api/v1/hubs",
            json={"name": "busan", "operator": "regional-data-centre"},
            headers=admin,
        ).status_code
        == 201
    )
    pool = post(
        "/api/v1/pools",
        json={
            "name": "rngd-busan",
            "hub": "busan",
            "accelerator": "rngd",
            "nodes": 1,
            "devices_per_node": 8,
            "exchange_rate": "0.3",
            "krw_per_device_hour": 900,
        },
        headers=admin,
    )
    assert pool.status_code == 201 and pool.json()["accelerator"] == "RNGD"
    assert pool.json()["exchange_rate"] == "0.3"
    assert (
        post(
            "/api/v1/organisations", json={"name": "kaist", "kind": "university"}, headers=admin
        ).status_code
        == 201
    )
    user = post(
        "/api/v1/users", json={"name": "jung", "role": "pi", "organisation": "kaist"}, headers=admin
    )
    token = user.json()["token"]
    assert token.startswith("nuri_")
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["name"] == "jung" and me["organisation"] == "kaist"
    project = post(
        "/api/v1/projects",
        json={"name": "kaist-sci", "field": "science", "organisation": "kaist", "pi": "jung"},
        headers=admin,
    )
    assert project.status_code == 201
    allocation = post(
        "/api/v1/allocations",
        json={
            "project": "kaist-sci",
            "gpu_hours": "12.5",
            "pools": ["rngd-busan"],
            "starts_at": "2026-01-01T00:00:00+09:00",
            "ends_at": "2027-01-01T00:00:00+09:00",
            "tier": "general",
        },
        headers=admin,
    )
    assert allocation.status_code == 201
    assert allocation.json()["awarded_units"] == 12_500 * 3600
    duplicate = post(
        "/api/v1/hubs", json={"name": "busan", "operator": "university"}, headers=admin
    )
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/api/v1/pools",
            {
                "name": "p",
                "hub": "ksc",
                "accelerator": "TPU",
                "nodes": 1,
                "devices_per_node": 8,
                "exchange_rate": "1",
                "krw_per_device_hour": 1,
            },
            "unknown accelerator 'TPU'",
        ),
        (
            "/api/v1/pools",
            {
                "name": "p",
                "hub": "ksc",
                "accelerator": "H100",
                "nodes": 1,
                "devices_per_node": 8,
                "exchange_rate": "0.1234",
                "krw_per_device_hour": 1,
            },
            "more than three decimal places",
        ),
        ("/api/v1/hubs", {"name": "Bad Name", "operator": "university"}, "is not valid"),
        ("/api/v1/hubs", {"name": "ok", "operator": "moon-base"}, "is not one of"),
        (
            "/api/v1/allocations",
            {
                "project": "nlp",
                "gpu_hours": "-1",
                "pools": ["h100"],
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2027-01-01T00:00:00Z",
            },
            "zero or more",
        ),
        (
            "/api/v1/allocations",
            {
                "project": "nlp",
                "gpu_hours": "1",
                "pools": ["h100"],
                "starts_at": "2027-01-01T00:00:00Z",
                "ends_at": "2026-01-01T00:00:00Z",
            },
            "must end after it starts",
        ),
    ],
    ids=["accelerator", "rate-precision", "slug", "operator", "negative-hours", "backwards-period"],
)
def test_bad_admin_input_gets_400_with_what_to_fix(
    api: Api, path: str, body: dict, message: str
) -> None:
    """Malformed administrative input is refused with the reason, never a stack trace."""
    response = api.client.post(path, json=body, headers=api.as_("admin"))
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_demo_seeding_happens_once_and_writes_tokens(world: World, tmp_path) -> None:
    """The demo refuses a database that already holds another commons."""
    path = tmp_path / "tokens.json"
    with pytest.raises(Exception, match="not the demo"):
        seed_demo(world.commons.sessions, world.commons.directory, world.clock, path)
    assert not path.exists()
