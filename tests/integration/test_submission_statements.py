"""A keyed job submission asks the database the few things it needs, each once.

Submission is the API's hottest path: each statement on it costs a round trip and a few tenths
of a millisecond of the API's CPU, and the API's CPU is what bounds its rate (docs/operations.md,
"Submission load"). These tests pin the path's statements, so that a change that adds one says so.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from nuri.api.app import create_app
from tests.conftest import World

JOB = {"project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": 600, "command": ["x"]}


class Statements:
    """The SQL statements an engine runs (not BEGIN, COMMIT or SQLite's pragmas)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _c: Any, _cur: Any, statement: str, *_: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            self.seen.append(" ".join(statement.split())[:80])

    def verbs(self) -> list[str]:
        return [statement.split(None, 1)[0] for statement in self.seen]


@pytest.fixture
def counted(world: World) -> Iterator[tuple[TestClient, Statements, str]]:
    token = world.commons.directory.issue_token(world.admin, "lee")
    statements = Statements()
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        event.listen(world.commons.database, "before_cursor_execute", statements)
        try:
            yield client, statements, token
        finally:
            event.remove(world.commons.database, "before_cursor_execute", statements)


def test_a_keyed_submission_runs_eight_statements(
    counted: tuple[TestClient, Statements, str],
) -> None:
    """Sign-in (limit, token and key in one); then, in the submission's transaction, the project
    with the earlier job and the pool's id, the pool, the awards with their pools (locked), their
    balances, the insert, the queue position, and the key's claim carrying the answer. Nothing
    after. (Submissions that arrive together share all but the sign-in: see
    test_submission_batches.)"""
    client, statements, token = counted
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/jobs", json=JOB, headers=headers | {"Idempotency-Key": "warm"})
    statements.seen.clear()
    answer = client.post(
        "/api/v1/jobs", json=JOB, headers=headers | {"Idempotency-Key": uuid.uuid4().hex}
    )
    assert answer.status_code == 201, answer.text
    assert statements.verbs() == ["SELECT"] * 5 + ["INSERT", "SELECT", "INSERT"], statements.seen


def test_a_retry_is_answered_from_the_sign_in_statement_alone(
    counted: tuple[TestClient, Statements, str],
) -> None:
    """The stored answer comes back with the token's owner: one statement, no transaction."""
    client, statements, token = counted
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "again"}
    first = client.post("/api/v1/jobs", json=JOB, headers=headers)
    statements.seen.clear()
    retried = client.post("/api/v1/jobs", json=JOB, headers=headers)
    assert retried.content == first.content and retried.headers["Idempotent-Replayed"] == "true"
    assert statements.verbs() == ["SELECT"], statements.seen
