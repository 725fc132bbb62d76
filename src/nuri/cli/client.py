"""A small HTTP client for the API that turns every failure into a one-line message."""

import time
import uuid
from typing import Any

import httpx
import typer

RETRIES = 3


class CliError(Exception):
    """Something the user must fix or know; printed as one line, exit code 1."""


class ApiClient:
    """Talks to ``<url>/api/v1`` with a bearer token.

    Every request that changes state carries an ``Idempotency-Key`` (the caller's, or a fresh
    one per call), so it is retried on connection failures and timeouts without risk of doing
    the work twice: the server answers a retry with the first answer.
    """

    def __init__(self, url: str, token: str | None, timeout_s: float = 30.0) -> None:
        self._url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self._url, headers=headers, timeout=timeout_s)

    def get(self, path: str, **params: Any) -> Any:
        clean = {key: value for key, value in params.items() if value is not None}
        return self._send("GET", path, params=clean, retry=True)

    def get_text(self, path: str, **params: Any) -> str:
        """A GET whose answer is text (e.g. a CSV export), not JSON."""
        clean = {key: value for key, value in params.items() if value is not None}
        response = self._send("GET", path, params=clean, retry=True, decode=False)
        return str(response)

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        return self._send_keyed("POST", path, body, idempotency_key)

    def patch(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        return self._send_keyed("PATCH", path, body, idempotency_key)

    def put(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        return self._send_keyed("PUT", path, body, idempotency_key)

    def _send_keyed(self, method: str, path: str, body: Any, idempotency_key: str | None) -> Any:
        # Every change carries a key (the caller's, or a fresh one), so that a retry after a
        # timeout or a dropped connection is answered with the first answer, never done twice.
        key = idempotency_key or uuid.uuid4().hex
        return self._send(method, path, json=body, headers={"Idempotency-Key": key}, retry=True)

    def _send(
        self, method: str, path: str, *, retry: bool, decode: bool = True, **kwargs: Any
    ) -> Any:
        attempts = RETRIES if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(method, f"/api/v1{path}", **kwargs)
                break
            except httpx.TransportError as error:
                if attempt == attempts:
                    raise CliError(
                        f"cannot reach nuri at {self._url} ({type(error).__name__});"
                        " is 'nuri serve' running, and is NURI_URL right?"
                    ) from None
                time.sleep(0.5 * attempt)
        if response.status_code >= 400:
            raise CliError(_message(response))
        return response.json() if decode else response.text


def client_for(ctx: typer.Context, timeout_s: float = 30.0) -> ApiClient:
    """The API client for a command: the URL and token given to ``nuri`` (or its environment)."""
    settings = ctx.find_root().obj
    return ApiClient(settings["url"], settings["token"], timeout_s=timeout_s)


def _message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if not isinstance(detail, str):
        detail = response.text.strip()[:300] or response.reason_phrase
    if response.status_code == 401:
        return f"{detail} (HTTP 401: check NURI_TOKEN)"
    return f"{detail} (HTTP {response.status_code})"
