"""API tokens: issued with an expiry, listed without their secret, revoked at once (API, portal
and CLI), each issue and revocation in the audit log."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from nuri.api.app import create_app
from nuri.cli.client import CliError
from nuri.cli.main import app as cli_app
from nuri.service.directory import add_token
from nuri.store.tables import AuditRow, TokenRow
from tests.conftest import World
from tests.integration.test_portal import sign_in


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.commons, run_engine=False)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(client: TestClient, as_token: str, user: str, **body: Any) -> httpx.Response:
    return client.post(f"/api/v1/users/{user}/tokens", json=body, headers=bearer(as_token))


def audit_count(world: World, action: str) -> int:
    with world.commons.sessions.begin() as session:
        return session.scalar(select(func.count()).where(AuditRow.action == action)) or 0


def test_a_token_issued_with_an_expiry_stops_working_when_it_expires(
    world: World, client: TestClient
) -> None:
    """expires_in_days sets expires_at; the token works until then and gets 401 from then on."""
    admin = world.commons.directory.issue_token(world.admin, "root")
    issued = issue(client, admin, "lee", label="laptop", expires_in_days=2)
    assert issued.status_code == 201
    body = issued.json()
    now = world.clock()
    assert body["expires_at"] == (now + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    assert client.get("/api/v1/me", headers=bearer(body["token"])).json()["name"] == "lee"
    world.clock.advance(2 * 86_400 - 1)
    assert client.get("/api/v1/me", headers=bearer(body["token"])).status_code == 200
    world.clock.advance(1)
    expired = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_an_expiry_out_of_range_is_refused_with_the_range(
    world: World, client: TestClient, days: int
) -> None:
    """expires_in_days is 1 to 3650; anything else is 422 naming the field, and no token."""
    admin = world.commons.directory.issue_token(world.admin, "root")
    before = audit_count(world, "token.issue")
    refused = issue(client, admin, "lee", expires_in_days=days)
    assert refused.status_code == 422 and "expires_in_days" in refused.json()["detail"]
    assert audit_count(world, "token.issue") == before


def test_a_listing_shows_each_token_but_never_its_secret(world: World, client: TestClient) -> None:
    """A user's tokens come with id, label, dates and state; not the token, not its digest."""
    lee = world.commons.directory.issue_token(world.admin, "lee", "first")
    second = issue(client, lee, "lee", label="second", expires_in_days=1).json()
    response = client.get("/api/v1/users/lee/tokens", headers=bearer(lee))
    assert response.status_code == 200
    rows = response.json()
    assert [row["label"] for row in rows] == ["first token", "first", "second"]
    assert set(rows[0]) == {
        "id",
        "user",
        "label",
        "created_at",
        "expires_at",
        "revoked_at",
        "active",
    }
    assert rows[2]["id"] == second["id"] and rows[2]["expires_at"] is not None
    assert all(row["active"] for row in rows)
    assert lee not in response.text and second["token"] not in response.text
    assert "digest" not in response.text


def test_revoking_a_token_refuses_it_at_once_on_the_api_and_the_portal(
    world: World, client: TestClient
) -> None:
    """After revocation the next API request with the token is 401, the portal session opened
    with it sends the browser to sign in, and the token's listing says when it was revoked."""
    lee = world.commons.directory.issue_token(world.admin, "lee", "browser")
    sign_in(client, lee)
    assert client.get("/jobs", follow_redirects=False).status_code == 200
    token_id = client.get("/api/v1/users/lee/tokens", headers=bearer(lee)).json()[-1]["id"]
    revoked = client.post(f"/api/v1/users/lee/tokens/{token_id}/revoke", headers=bearer(lee))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None and revoked.json()["active"] is False
    assert client.get("/api/v1/me", headers=bearer(lee)).status_code == 401
    page = client.get("/jobs", follow_redirects=False)
    assert page.status_code == 303 and "/sign-in" in page.headers["location"]


def test_an_expired_tokens_portal_session_ends_with_it(world: World, client: TestClient) -> None:
    """A session never outlives its token: at the token's expiry the portal asks to sign in."""
    admin = world.commons.directory.issue_token(world.admin, "root")
    token = issue(client, admin, "lee", expires_in_days=1).json()["token"]
    sign_in(client, token)
    assert client.get("/jobs", follow_redirects=False).status_code == 200
    world.clock.advance(86_400)
    page = client.get("/jobs", follow_redirects=False)
    assert page.status_code == 303 and "/sign-in" in page.headers["location"]


def test_users_manage_their_own_tokens_and_admins_anyones(world: World, client: TestClient) -> None:
    """lee may list, issue and revoke lee's tokens but not kim's (403, nothing changed); the
    admin may do all three for kim. Revoking twice changes nothing; an unknown id is 404."""
    directory = world.commons.directory
    lee, admin = (
        directory.issue_token(world.admin, "lee"),
        directory.issue_token(world.admin, "root"),
    )
    kim_token_id = directory.issue(world.admin, "kim", "kim's").id
    assert client.get("/api/v1/users/kim/tokens", headers=bearer(lee)).status_code == 403
    refused = issue(client, lee, "kim")
    assert refused.status_code == 403 and "only an admin" in refused.json()["detail"]
    path = f"/api/v1/users/kim/tokens/{kim_token_id}/revoke"
    assert client.post(path, headers=bearer(lee)).status_code == 403
    assert all(row.active for row in directory.list_tokens(world.admin, "kim"))
    # lee cannot reach kim's token through lee's own path either.
    sideways = client.post(f"/api/v1/users/lee/tokens/{kim_token_id}/revoke", headers=bearer(lee))
    assert sideways.status_code == 404
    assert client.post(path, headers=bearer(admin)).status_code == 200
    assert client.post(path, headers=bearer(admin)).status_code == 200
    assert audit_count(world, "token.revoke") == 1
    assert client.get("/api/v1/users/kim/tokens", headers=bearer(admin)).status_code == 200
    assert issue(client, admin, "kim").status_code == 201
    missing = client.post("/api/v1/users/kim/tokens/9999/revoke", headers=bearer(admin))
    assert missing.status_code == 404 and "no token 9999" in missing.json()["detail"]


def test_a_user_whose_access_expires_cannot_extend_it(world: World, client: TestClient) -> None:
    """A course student's tokens end with the term; a token they issue themselves, with no expiry
    or a later one, ends then too (an admin's issue is not capped)."""
    directory = world.commons.directory
    term_ends_at = world.clock() + timedelta(days=30)
    with world.commons.sessions.begin() as session:
        student = add_token(session, world.member.user_id, "course", world.clock(), term_ends_at)
    with world.commons.sessions.begin() as session:
        session.execute(
            update(TokenRow)
            .where(TokenRow.user_id == world.member.user_id, TokenRow.label == "first token")
            .values(revoked_at=world.clock())
        )
    forever = issue(client, student, "lee").json()
    later = issue(client, student, "lee", expires_in_days=365).json()
    sooner = issue(client, student, "lee", expires_in_days=1).json()
    term = term_ends_at.isoformat().replace("+00:00", "Z")
    assert forever["expires_at"] == term and later["expires_at"] == term
    assert sooner["expires_at"] != term
    world.clock.advance(30 * 86_400)
    assert client.get("/api/v1/me", headers=bearer(forever["token"])).status_code == 401
    assert directory.issue(world.admin, "lee", "renewed").expires_at is None


@pytest.fixture
def cli(world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The ``nuri`` command talking to the test app instead of a server."""

    def in_process(*, base_url: str, headers: dict[str, str], timeout: float) -> TestClient:
        del timeout
        return TestClient(client.app, base_url=base_url, headers=headers)

    monkeypatch.setattr("nuri.cli.client.httpx.Client", in_process)
    return CliRunner()


def test_the_cli_issues_lists_and_revokes_tokens(world: World, cli: CliRunner) -> None:
    """nuri admin token --expires-in-days, nuri token list (your own by default; --user for an
    admin) and nuri token revoke ID: the revoked token no longer signs in."""
    directory = world.commons.directory
    lee = directory.issue_token(world.admin, "lee", "cli")
    admin = directory.issue_token(world.admin, "root")
    issued = cli.invoke(
        cli_app,
        ["--token", lee, "admin", "token", "lee", "--label", "ci", "--expires-in-days", "7"],
    )
    assert issued.exit_code == 0, issued.output
    new = json.loads(issued.output)
    assert new["expires_at"] is not None
    listed = cli.invoke(cli_app, ["--token", lee, "token", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [row["label"] for row in json.loads(listed.output)][-1] == "ci"
    assert new["token"] not in listed.output
    table = cli.invoke(cli_app, ["--token", admin, "token", "list", "--user", "lee"])
    assert table.exit_code == 0 and "ci" in table.output
    revoked = cli.invoke(cli_app, ["--token", lee, "token", "revoke", str(new["id"])])
    assert revoked.exit_code == 0, revoked.output
    assert directory.actor_for_token(new["token"]) is None
    refused = cli.invoke(cli_app, ["--token", lee, "token", "revoke", "1", "--user", "kim"])
    # The command's entry point prints a CliError as one line; here it is the exception.
    assert isinstance(refused.exception, CliError)
    assert "only an admin" in str(refused.exception)
