"""Idempotency-Key on every request that changes something: at most once per caller and key."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from nuri.api.app import create_app
from nuri.cli.client import ApiClient
from nuri.service.idempotency import KEY_RETENTION, IdempotentRequests
from nuri.store.tables import (
    AllocationRow,
    HubRow,
    IdempotencyKeyRow,
    JobRow,
    OrganisationRow,
    TokenRow,
)
from tests.conftest import World

JOB = {"project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": 600, "command": ["x"]}


@dataclass
class Api:
    client: TestClient
    world: World
    tokens: dict[str, str]

    def post(
        self, path: str, body: Any, who: str = "admin", key: str | None = "k-1"
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"/api/v1{path}", json=body, headers=headers)

    def count(self, table: Any) -> int:
        with self.world.commons.sessions.begin() as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def api(world: World) -> Iterator[Api]:
    directory = world.commons.directory
    tokens = {
        who: directory.issue_token(world.admin, user)
        for who, user in {"admin": "root", "member": "lee", "pi": "kim"}.items()
    }
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        yield Api(client, world, tokens)


def _allocation(project: str = "nlp") -> dict[str, Any]:
    return {
        "project": project,
        "gpu_hours": "5",
        "pools": ["h100"],
        "tier": "general",
        "starts_at": "2026-03-01T00:00:00Z",
        "ends_at": "2026-04-01T00:00:00Z",
    }


CREATING_REQUESTS = [
    ("/hubs", {"name": "busan", "title": "Busan", "operator": "regional-data-centre"}, HubRow),
    ("/organisations", {"name": "pnu", "title": "PNU", "kind": "university"}, OrganisationRow),
    ("/allocations", _allocation(), AllocationRow),
]


@pytest.mark.parametrize(
    ("path", "body", "table"), CREATING_REQUESTS, ids=[path for path, _, _ in CREATING_REQUESTS]
)
def test_a_retried_creating_request_is_answered_with_the_first_answer(
    api: Api, path: str, body: dict[str, Any], table: Any
) -> None:
    """The same request with the same key twice: one row, the same answer, marked replayed."""
    before = api.count(table)
    first = api.post(path, body)
    second = api.post(path, body)
    assert first.status_code == 201, first.text
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert api.count(table) == before + 1


def test_a_retried_job_submission_queues_one_job_and_holds_once(api: Api) -> None:
    """Submission: the retry gets the same job; the award holds the job's cost once."""
    first = api.post("/jobs", JOB, who="member")
    second = api.post("/jobs", JOB, who="member")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert api.count(JobRow) == 1
    usage = api.client.get(
        "/api/v1/projects/nlp/usage", headers={"Authorization": f"Bearer {api.tokens['member']}"}
    ).json()
    assert usage["held_units"] == 600 * 1000


def test_json_bodies_that_differ_only_in_layout_are_the_same_request(api: Api) -> None:
    """Key order and whitespace do not make a different request; values do."""
    headers = {"Authorization": f"Bearer {api.tokens['member']}", "Idempotency-Key": "layout"}
    headers["Content-Type"] = "application/json"
    compact = '{"project":"nlp","pool":"h100","gpus":1,"time_limit_s":600,"command":["x"]}'
    spaced = (
        '{ "command": ["x"], "time_limit_s": 600, "gpus": 1, "pool": "h100", "project": "nlp" }'
    )
    first = api.client.post("/api/v1/jobs", content=compact, headers=headers)
    second = api.client.post("/api/v1/jobs", content=spaced, headers=headers)
    assert second.status_code == 201 and second.json()["id"] == first.json()["id"]


def test_a_key_reused_with_a_different_body_is_refused_and_changes_nothing(api: Api) -> None:
    """422 naming the first request; no second job, and the first answer still replays."""
    first = api.post("/jobs", JOB, who="member", key="reused")
    other = api.post("/jobs", JOB | {"gpus": 2}, who="member", key="reused")
    assert other.status_code == 422
    assert "POST /api/v1/jobs" in other.json()["detail"] and "new key" in other.json()["detail"]
    assert api.count(JobRow) == 1
    elsewhere = api.post("/hubs", {"name": "x", "title": "", "operator": "university"}, "member")
    assert elsewhere.status_code != 201
    again = api.post("/jobs", JOB, who="member", key="reused")
    assert again.json() == first.json()


def test_a_key_reused_on_another_path_is_refused(api: Api) -> None:
    """One key names one request: the same key on another route is a client bug, refused."""
    assert api.post("/hubs", CREATING_REQUESTS[0][1], key="one").status_code == 201
    other = api.post("/organisations", CREATING_REQUESTS[1][1], key="one")
    assert other.status_code == 422
    assert api.count(OrganisationRow) == 2  # the two the world starts with


def test_keys_belong_to_their_caller(api: Api) -> None:
    """Two users choosing the same key get two jobs: keys are scoped to the caller."""
    mine = api.post("/jobs", JOB, who="member", key="same")
    theirs = api.post("/jobs", JOB, who="pi", key="same")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_refused_request_does_not_use_up_its_key(api: Api) -> None:
    """Admission refused (the award is too small), then an award added: the same retry runs."""
    big = JOB | {"gpus": 4, "time_limit_s": 5 * 3600}  # 20 GPU-hours against an award of 10
    refused = api.post("/jobs", big, who="member", key="later")
    assert refused.status_code == 422
    api.post("/allocations", _allocation() | {"gpu_hours": "50"}, key="top-up")
    accepted = api.post("/jobs", big, who="member", key="later")
    assert accepted.status_code == 201, accepted.text
    assert api.count(JobRow) == 1


def test_a_lost_answer_never_repeats_the_work(api: Api) -> None:
    """The server died after the work committed and before the answer was stored: the retry of
    an allocation is refused with 409, a job submission finds its job; nothing is done twice."""
    allocated = api.post("/allocations", _allocation(), key="lost-1")
    submitted = api.post("/jobs", JOB, who="member", key="lost-2")
    with api.world.commons.sessions.begin() as session:
        session.execute(update(IdempotencyKeyRow).values(status_code=None, response_body=None))
    before = api.count(AllocationRow)
    again = api.post("/allocations", _allocation(), key="lost-1")
    assert again.status_code == 409
    assert "already carried out" in again.json()["detail"]
    assert api.count(AllocationRow) == before
    resubmitted = api.post("/jobs", JOB, who="member", key="lost-2")
    assert resubmitted.status_code == 201 and resubmitted.json()["id"] == submitted.json()["id"]
    assert allocated.status_code == 201 and api.count(JobRow) == 1


def test_a_submission_s_answer_commits_with_its_job(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job submission's answer is stored in the transaction that queues the job, so even a
    server that dies the moment it has committed leaves the answer for the retry: nothing is
    stored afterwards (here, storing afterwards fails), and the retry replays the first answer
    byte for byte, which says what reading the job says (but for the estimated start, which
    only reading a job works out)."""

    def dead_after_commit(*_: object) -> None:
        raise AssertionError("nothing should be stored after a submission")

    monkeypatch.setattr(IdempotentRequests, "store_answer", dead_after_commit)
    monkeypatch.setattr(IdempotentRequests, "_pruning_due", lambda *_: False)
    first = api.post("/jobs", JOB, who="member", key="with-the-job")
    retried = api.post("/jobs", JOB, who="member", key="with-the-job")
    assert first.status_code == retried.status_code == 201, first.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.content == first.content
    shown = api.client.get(
        f"/api/v1/jobs/{first.json()['id']}",
        headers={"Authorization": f"Bearer {api.tokens['member']}"},
    )
    assert shown.json() | {"estimated_start": None} == first.json()
    assert api.count(JobRow) == 1


def test_answers_that_show_a_token_are_never_stored(api: Api) -> None:
    """A new token is shown once: the retry is refused instead of showing it again."""
    body = {"name": "jung", "role": "pi", "organisation": "snu", "display_name": ""}
    first = api.post("/users", body, key="new-user")
    assert first.status_code == 201 and first.headers["Cache-Control"] == "no-store"
    token = first.json()["token"]
    again = api.post("/users", body, key="new-user")
    assert again.status_code == 409 and token not in again.text
    issued = api.post("/users/jung/tokens", {"label": "laptop"}, key="tok")
    tokens_before = api.count(TokenRow)
    retried = api.post("/users/jung/tokens", {"label": "laptop"}, key="tok")
    assert issued.status_code == 201 and retried.status_code == 409
    assert api.count(TokenRow) == tokens_before
    with api.world.commons.sessions.begin() as session:
        stored = session.scalars(select(IdempotencyKeyRow.response_body)).all()
    assert all(body is None or "nuri_" not in body for body in stored)


def test_concurrent_retries_with_one_key_create_one_allocation(api: Api) -> None:
    """Eight simultaneous copies of one request: one allocation; every answer is 201 or 409."""
    before = api.count(AllocationRow)
    statuses: list[int] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        statuses.append(api.post("/allocations", _allocation(), key="race").status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert api.count(AllocationRow) == before + 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}


def test_a_key_is_forgotten_after_the_retention_period(api: Api) -> None:
    """After KEY_RETENTION the same key names a new request."""
    body = CREATING_REQUESTS[0][1]
    assert api.post("/hubs", body, key="old").status_code == 201
    api.world.clock.advance((KEY_RETENTION + timedelta(minutes=1)).total_seconds())
    again = api.post("/hubs", body | {"name": "daegu"}, key="old")
    assert again.status_code == 201 and again.json()["name"] == "daegu"


@pytest.mark.parametrize("key", [b"", b"has space", "키".encode(), b"x" * 101])
def test_a_malformed_key_is_refused_with_what_to_fix(api: Api, key: bytes) -> None:
    """Keys are 1 to 100 printable ASCII characters without spaces."""
    headers = {"Authorization": f"Bearer {api.tokens['member']}"}
    response = api.client.post("/api/v1/jobs", json=JOB, headers=headers | {"Idempotency-Key": key})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert api.count(JobRow) == 0


class LoseFirstAnswer(httpx.BaseTransport):
    """Carries the first request out and then times out, as a dropped connection would."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if len(self.requests) == 1:
            response.read()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_the_cli_client_retries_a_lost_submission_without_queueing_twice(api: Api) -> None:
    """ApiClient sends a fresh key with every change and resends it after a timeout."""
    lossy = LoseFirstAnswer(api.client._transport)
    cli = ApiClient("http://testserver", api.tokens["member"])
    cli._http = httpx.Client(
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {api.tokens['member']}"},
        transport=lossy,
    )
    job = cli.post("/jobs", JOB)
    assert api.count(JobRow) == 1 and job["state"] == "PENDING"
    keys = {request.headers["Idempotency-Key"] for request in lossy.requests}
    assert len(lossy.requests) == 2 and len(keys) == 1


def test_a_keyed_request_is_one_sign_in_attempt_and_obeys_the_limit(api: Api) -> None:
    """With a bad token a keyed request counts one failure, not two; from a blocked address
    even a good token gets 429 with Retry-After, and nothing is done."""
    limits = api.world.commons.sign_in_limits
    bad = {"Authorization": "Bearer nuri_not-a-token", "Idempotency-Key": "k-bad"}
    assert api.client.post("/api/v1/jobs", json=JOB, headers=bad).status_code == 401
    assert limits.failures("testclient") == 1
    for _ in range(api.world.commons.settings.sign_in_failure_limit):
        limits.record_failure("testclient")
    blocked = api.post("/jobs", JOB, who="member", key="k-blocked")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert api.count(JobRow) == 0
