"""Failed sign-ins are limited per client address, in the database (so on every replica): on the
API's bearer tokens and the portal's form, on SQLite and PostgreSQL."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from nuri.api.app import create_app
from nuri.service.settings import ServerSettings
from nuri.service.sign_in_limits import SignInLimits
from nuri.store.tables import SignInFailureRow
from tests.conftest import World
from tests.integration.test_portal import csrf_of

LIMIT, WINDOW_S = 3, 300
BAD = "nuri_" + "x" * 43


@pytest.fixture
def limited(world: World) -> Iterator[World]:
    """The world with a limit of 3 failures per 5 minutes."""
    commons = world.commons
    commons.sign_in_limits = SignInLimits(
        commons.sessions, world.clock, limit=LIMIT, window_s=WINDOW_S
    )
    yield world


def client_at(world: World, address: str) -> TestClient:
    return TestClient(create_app(world.commons, run_engine=False), client=(address, 50000))


def me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def failures(world: World) -> int:
    with world.commons.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(SignInFailureRow)) or 0


def test_an_address_that_keeps_failing_gets_429_with_retry_after(limited: World) -> None:
    """Three bad tokens from one address within the window: the fourth attempt, even with a valid
    token, is 429 with Retry-After (when the oldest failure leaves the window) and a message
    saying what to do. Another address is not affected."""
    valid = limited.commons.directory.issue_token(limited.admin, "lee")
    attacker, neighbour = client_at(limited, "10.0.0.1"), client_at(limited, "10.0.0.2")
    for second in (0, 10, 20):
        limited.clock.set(limited.clock().replace(second=second))
        assert me(attacker, BAD) == 401
    limited.clock.advance(10)
    refused = attacker.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(WINDOW_S - 30)
    assert "too many failed sign-ins" in refused.json()["detail"]
    assert "wait 270 s" in refused.json()["detail"]
    assert me(neighbour, valid) == 200
    assert failures(limited) == 3, "refused attempts are not counted, so waiting always works"


def test_the_window_slides(limited: World) -> None:
    """Once the oldest failure is older than the window, one more attempt is let through."""
    valid = limited.commons.directory.issue_token(limited.admin, "lee")
    client = client_at(limited, "10.0.0.1")
    start = limited.clock()
    for offset in (0, 100, 200):
        limited.clock.set(start + timedelta(seconds=offset))
        assert me(client, BAD) == 401
    limited.clock.set(start + timedelta(seconds=WINDOW_S - 1))
    assert me(client, valid) == 429
    limited.clock.set(start + timedelta(seconds=WINDOW_S))
    assert me(client, valid) == 200
    assert me(client, BAD) == 401
    assert me(client, valid) == 429


def test_a_successful_sign_in_resets_no_counter(limited: World) -> None:
    """A valid token between guesses does not lift the limit, for its own address or another."""
    valid = limited.commons.directory.issue_token(limited.admin, "lee")
    guesser, other = client_at(limited, "10.0.0.1"), client_at(limited, "10.0.0.2")
    assert me(guesser, BAD) == 401
    assert me(guesser, BAD) == 401
    assert me(guesser, valid) == 200
    assert me(other, valid) == 200
    assert me(guesser, BAD) == 401
    assert me(guesser, valid) == 429


def test_requests_without_any_token_are_not_counted(limited: World) -> None:
    """A missing Authorization header is a client that has not tried to sign in: 401, never
    429, and nothing recorded."""
    client = client_at(limited, "10.0.0.1")
    for _ in range(LIMIT + 2):
        assert client.get("/api/v1/me").status_code == 401
    assert failures(limited) == 0


def test_the_portal_form_is_limited_by_address_alone(limited: World) -> None:
    """The portal's sign-in form counts failures the same way: past the limit its page is 429
    with Retry-After and the wait in words, and a valid token is refused too. What is stored is
    the address and the moment, nothing that tells whether an account exists."""
    valid = limited.commons.directory.issue_token(limited.admin, "lee")
    browser = client_at(limited, "10.0.0.9")

    def submit(token: str) -> int:
        form = browser.get("/sign-in")
        response = browser.post(
            "/sign-in",
            data={"token": token, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        return response.status_code

    for _ in range(LIMIT):
        assert submit(BAD) == 401
    form = browser.get("/sign-in")
    refused = browser.post(
        "/sign-in", data={"token": valid, "csrf_token": csrf_of(form.text)}, follow_redirects=False
    )
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(WINDOW_S)
    assert f"Wait {WINDOW_S} seconds" in refused.text
    columns = {column["name"] for column in inspect(limited.commons.database).get_columns(
        "sign_in_failures")}  # fmt: skip
    assert columns == {"id", "client_address", "at"}
    limited.clock.advance(WINDOW_S)
    assert submit(valid) == 303


def test_old_failures_are_pruned_when_a_new_one_is_recorded(limited: World) -> None:
    """Rows older than the window go at the next failure, whichever address it comes from."""
    limits = limited.commons.sign_in_limits
    for address in ("10.0.0.1", "10.0.0.2"):
        limits.record_failure(address)
    limited.clock.advance(WINDOW_S)
    assert failures(limited) == 2
    limits.record_failure("10.0.0.3")
    assert failures(limited) == 1
    assert limits.failures("10.0.0.1") == 0 and limits.failures("10.0.0.3") == 1


def test_the_limit_and_window_are_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten failures per five minutes unless NURI_SIGN_IN_FAILURE_LIMIT and
    NURI_SIGN_IN_WINDOW_S say otherwise."""
    defaults = ServerSettings()
    assert (defaults.sign_in_failure_limit, defaults.sign_in_window_s) == (10, 300)
    monkeypatch.setenv("NURI_SIGN_IN_FAILURE_LIMIT", "5")
    monkeypatch.setenv("NURI_SIGN_IN_WINDOW_S", "60")
    changed = ServerSettings()
    assert (changed.sign_in_failure_limit, changed.sign_in_window_s) == (5, 60)
