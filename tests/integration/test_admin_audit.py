"""Every admin action leaves one audit entry (actor, action, subject) in its own transaction,
and GET /api/v1/audit shows them to managers and admins."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nuri.api.app import create_app
from nuri.store.tables import AuditRow, UserRow
from tests.conftest import START, World

DATES = {
    "starts_at": START.isoformat(),
    "ends_at": (START + timedelta(days=30)).isoformat(),
}
ACTIONS: list[tuple[str, str, dict[str, Any] | None, str, str]] = [
    # (method, path, body, action, subject)
    ("POST", "/hubs", {"name": "gist", "operator": "university"}, "hub.create", "hub gist"),
    (
        "POST",
        "/pools",
        {
            "name": "a100",
            "hub": "gist",
            "accelerator": "A100",
            "nodes": 2,
            "devices_per_node": 8,
            "exchange_rate": "0.5",
            "krw_per_device_hour": 1000,
        },
        "pool.create",
        "pool a100",
    ),
    (
        "POST",
        "/organisations",
        {"name": "kaist", "kind": "university"},
        "organisation.create",
        "organisation kaist",
    ),
    (
        "POST",
        "/users",
        {"name": "jung", "role": "pi", "organisation": "kaist"},
        "user.create",
        "user jung",
    ),
    (
        "POST",
        "/projects",
        {"name": "speech", "field": "speech", "organisation": "kaist", "pi": "jung"},
        "project.create",
        "project speech",
    ),
    ("POST", "/projects/speech/members", {"user": "lee"}, "project.member.add", "project speech"),
    (
        "POST",
        "/allocations",
        {"project": "speech", "gpu_hours": "100", "pools": ["a100"]} | DATES,
        "allocation.create",
        "allocation speech#3",
    ),
    (
        "POST",
        "/reservations",
        {"name": "svc", "pool": "a100", "nodes": 1} | DATES,
        "reservation.create",
        "reservation svc",
    ),
    ("POST", "/reservations/svc/demand", {"wanted": 2}, "reservation.demand", "reservation svc"),
    ("POST", "/users/jung/tokens", {"label": "ci"}, "token.issue", "user jung"),
    ("POST", "/users/jung/tokens/{token}/revoke", None, "token.revoke", "user jung"),
    (
        "POST",
        "/courses",
        {
            "name": "ai101",
            "instructor": "jung",
            "gpu_hours": "4",
            "cap_gpu_hours": "1",
            "pools": ["a100"],
            "starts_at": START.isoformat(),
            "term_ends_at": (START + timedelta(days=90)).isoformat(),
        },
        "course.create",
        "course ai101",
    ),
    (
        "POST",
        "/courses/ai101/students",
        {"students_csv": "name,display_name\ns1,\n"},
        "course.enrol",
        "course ai101",
    ),
]


@pytest.fixture
def admin_client(world: World) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = world.commons.directory.issue_token(world.admin, "root")
    with TestClient(create_app(world.commons, run_engine=False)) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def audit_rows(world: World) -> list[tuple[str | None, str, str]]:
    with world.commons.sessions.begin() as session:
        rows = session.execute(
            select(UserRow.name, AuditRow.action, AuditRow.subject)
            .outerjoin(UserRow, UserRow.id == AuditRow.actor_user_id)
            .order_by(AuditRow.id)
        ).all()
        return [(actor, action, subject) for actor, action, subject in rows]


def test_each_admin_action_writes_one_audit_entry(
    world: World, admin_client: tuple[TestClient, dict[str, str]]
) -> None:
    """Creating a hub, pool, organisation, user, project, member, allocation, reservation, a
    reservation's demand, issuing and revoking a token, a course and its enrolment: each adds
    exactly one entry naming root, the action and its subject; GET /audit lists them newest
    first."""
    client, headers = admin_client
    token_id = None
    for method, path, body, action, subject in ACTIONS:
        before = audit_rows(world)
        response = client.request(
            method, "/api/v1" + path.format(token=token_id), json=body, headers=headers
        )
        assert response.status_code in (200, 201), (path, response.text)
        if action == "token.issue":
            token_id = response.json()["id"]
        added = audit_rows(world)[len(before) :]
        assert added == [("root", action, subject)], (path, added)
    listed = client.get("/api/v1/audit", params={"limit": len(ACTIONS)}, headers=headers).json()
    assert [(row["actor"], row["action"], row["subject"]) for row in reversed(listed)] == [
        ("root", action, subject) for _, _, _, action, subject in ACTIONS
    ]


def test_the_seeded_world_was_audited_too(world: World) -> None:
    """The fixtures' own setup went through the same use cases: the bootstrap admin (no actor)
    and then root's creations are in the log."""
    rows = audit_rows(world)
    assert rows[0] == (None, "user.create", "user root")
    assert ("root", "project.create", "project nlp") in rows
    assert ("root", "project.member.add", "project nlp") in rows


def test_a_refused_or_failed_action_is_not_audited(
    world: World, admin_client: tuple[TestClient, dict[str, str]]
) -> None:
    """The entry is written in the action's transaction: a duplicate hub (409) leaves the log as
    it was, and so does a non-admin's attempt (403)."""
    client, headers = admin_client
    before = audit_rows(world)
    duplicate = client.post("/api/v1/hubs", json={"name": "ksc", "operator": "university"},
                            headers=headers)  # fmt: skip
    assert duplicate.status_code == 409
    assert audit_rows(world) == before
    lee = world.commons.directory.issue_token(world.admin, "lee")
    before = audit_rows(world)  # issuing lee's token was itself audited
    refused = client.post(
        "/api/v1/organisations",
        json={"name": "x", "kind": "startup"},
        headers={"Authorization": f"Bearer {lee}"},
    )
    assert refused.status_code == 403
    assert audit_rows(world) == before


def test_managers_read_the_log_and_others_may_not(
    world: World, admin_client: tuple[TestClient, dict[str, str]]
) -> None:
    """GET /audit is for managers and admins; a PI gets 403 naming who may."""
    client, _ = admin_client
    directory = world.commons.directory
    directory.create_user(world.admin, name="han", display_name="", role="manager",
                          organisation=None)  # fmt: skip
    han = directory.issue_token(world.admin, "han")
    kim = directory.issue_token(world.admin, "kim")
    assert (
        client.get("/api/v1/audit", headers={"Authorization": f"Bearer {han}"}).status_code == 200
    )
    refused = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {kim}"})
    assert refused.status_code == 403 and "manager or an admin" in refused.json()["detail"]
