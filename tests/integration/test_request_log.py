"""The request log: one JSON line per request with its route template, status and duration, a
request id echoed to the client, and never a token."""

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nuri.api.app import create_app
from nuri.api.log_format import JsonLogFormatter
from tests.conftest import World


@dataclass
class Logged:
    client: TestClient
    output: io.StringIO
    token: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.getvalue().splitlines()]

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "nuri.api.request_log"]


@pytest.fixture
def logged(sqlite_world: World) -> Iterator[Logged]:
    """An app whose every log record (any logger) goes, as JSON, to a string."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    token = sqlite_world.commons.directory.issue_token(sqlite_world.admin, "lee")
    app = create_app(sqlite_world.commons, run_engine=False)

    def explode() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-only/explode", explode)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Logged(client, output, token)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_request_is_logged_once_with_its_route_status_duration_and_id(logged: Logged) -> None:
    """The client's X-Request-ID is echoed and logged; the route is the template, not the path."""
    response = logged.client.get(
        "/api/v1/jobs/424242",
        headers={"Authorization": f"Bearer {logged.token}", "X-Request-ID": "trace-1.a:b"},
    )
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "trace-1.a:b"
    [line] = logged.requests()
    assert line["level"] == "INFO" and line["request_id"] == "trace-1.a:b"
    assert line["method"] == "GET" and line["route"] == "/api/v1/jobs/{job_id}"
    assert line["status"] == 404 and line["duration_ms"] >= 0
    assert line["message"].startswith("GET /api/v1/jobs/{job_id} 404 ")


@pytest.mark.parametrize(
    "given", [None, "has spaces", "x" * 129, "new\\nline"], ids=["none", "space", "long", "escape"]
)
def test_a_missing_or_odd_request_id_is_replaced_by_a_fresh_one(
    logged: Logged, given: str | None
) -> None:
    """Only short, plain ids are trusted (they go into logs); otherwise one is made up."""
    headers = {} if given is None else {"X-Request-ID": given}
    response = logged.client.get("/healthz", headers=headers)
    request_id = response.headers["X-Request-ID"]
    assert request_id != given and len(request_id) == 32
    [line] = logged.requests()
    assert line["request_id"] == request_id
    assert line["level"] == "DEBUG"  # health checks stay out of the way


def test_no_token_reaches_the_log_whatever_happens(logged: Logged) -> None:
    """Good and bad tokens, 401s, 404s and a 500: the output never contains a token."""
    good = {"Authorization": f"Bearer {logged.token}"}
    bad = {"Authorization": "Bearer nuri_" + "z" * 43}
    logged.client.get("/api/v1/jobs", headers=good)
    logged.client.get("/api/v1/jobs", headers=bad)
    logged.client.get(f"/api/v1/jobs?token={logged.token}", headers=good)
    logged.client.get("/test-only/explode", headers=good)
    text = logged.output.getvalue()
    assert logged.token not in text and "z" * 43 not in text
    assert "Authorization" not in text


def test_a_server_error_is_logged_at_error_and_its_traceback_carries_the_same_id(
    logged: Logged,
) -> None:
    """A 500: the request line at ERROR, and the handler's traceback line with the same id."""
    response = logged.client.get("/test-only/explode", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details"}
    [line] = logged.requests()
    assert line["level"] == "ERROR" and line["status"] == 500
    assert line["route"] == "/test-only/explode"
    tracebacks = [entry for entry in logged.lines() if "exception" in entry]
    assert tracebacks and all(entry["request_id"] == "boom-1" for entry in tracebacks)
    assert "RuntimeError: a bug" in tracebacks[0]["exception"]
