"""One log line per HTTP request, tied to a request id that the client sees too.

The id comes from the request's ``X-Request-ID`` header when it is a sane one (a proxy or the
client chose it), else it is made up; it is echoed in the response's ``X-Request-ID`` and put on
every log line written while the request is served (``log_format.REQUEST_ID``).

A request line carries ``method``, ``route`` (the route's template, e.g. ``/api/v1/jobs/{job_id}``,
never the raw path or query), ``status`` and ``duration_ms``. Headers are never logged, so neither
is a token. Health checks and metric scrapes are logged at DEBUG, so that they do not drown the
rest; server errors at ERROR, everything else at INFO.

The middleware sits inside Starlette's outermost error handler, so a response to an unhandled
exception (500) is sent by that handler and carries no ``X-Request-ID``; its log lines (this
middleware's and the handler's traceback) do carry the id.
"""

import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nuri.api.log_format import REQUEST_ID

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
QUIET_ROUTES = frozenset({"/healthz", "/metrics"})
UNMATCHED_ROUTE = "unmatched"
"""The route of a request no route matched (a 404 for an unknown path)."""

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RouteTemplates:
    """The template of the route that served a request, e.g. ``/api/v1/jobs/{job_id}``.

    Templates keep metric labels and log fields few, whatever paths clients ask for. The router
    records the matched route in the scope, but a route of an included router keeps only its own
    path there (``/jobs/{job_id}``), so the full paths, prefixes and all, are looked up once from
    FastAPI's public ``iter_route_contexts``. A mount (static files) gives its mount path; a
    request no route matched gives ``unmatched``.
    """

    def __init__(self) -> None:
        self._full_paths: dict[int, str] | None = None

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        if self._full_paths is None:  # the first request: every route is registered by now
            self._full_paths = _full_paths(getattr(scope.get("app"), "routes", None) or [])
        path = self._full_paths.get(id(route)) or getattr(route, "path", None)
        return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def _full_paths(routes: list[BaseRoute]) -> dict[int, str]:
    """Route object (by identity) -> its full path template."""
    return {
        id(context.original_route): context.path
        for context in iter_route_contexts(routes)
        if context.path
    }


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` if it is short and plain, else a new random id."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Pure ASGI middleware: a request id per request, and one log line when it is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self._app(scope, receive, send_with_request_id)
        except Exception:
            # Left set: the 500 handler outside this middleware logs the traceback in this same
            # task, and its line should carry the id too. Each request runs in its own task.
            self._log(scope, status or 500, started)
            raise
        self._log(scope, status or 500, started)
        REQUEST_ID.reset(token)

    def _log(self, scope: Scope, status: int, started: float) -> None:
        _log_request(str(scope.get("method", "")), self._routes.of(scope), status, started)


def _log_request(method: str, route: str, status: int, started: float) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    if status >= 500:
        level = logging.ERROR
    elif route in QUIET_ROUTES:
        level = logging.DEBUG
    else:
        level = logging.INFO
    fields: dict[str, Any] = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
    }
    log.log(level, "%s %s %d %.1f ms", method, route, status, duration_ms, extra=fields)


def install_request_log(app: FastAPI) -> None:
    """Log every request ``app`` serves and give each a request id."""
    app.add_middleware(RequestLogMiddleware)
