"""What a portal page shows when something goes wrong: a page, never a stack trace or JSON.

The API's error handlers answer JSON for the whole app; portal routes use ``PortalRoute``, which
catches errors before those handlers do and answers in HTML:

    SignInRequired        303 to the sign-in page, coming back here afterwards
    CsrfRefused           403: the form is stale or not from this site; reload and try again
    DomainError           its message, with the API's status for it (400, 403, 404, 409, 422)
    RequestValidationError
                          404 for a malformed path (``/jobs/abc``), 400 for a malformed query
    anything else         500: "something went wrong"; the details go to the server log

An address no route serves gets a 404 page too (``unknown_address_response``), unless it is under
the API, whose clients want JSON.

A request from the page's own refresh script (see ``FRAGMENT_HEADER``) gets the bare status
instead, so that a page whose session ended stops refreshing rather than showing a sign-in form
inside a table.
"""

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from nuri.api.errors import status_of
from nuri.domain.errors import DomainError
from nuri.web.csrf import CsrfRefused
from nuri.web.i18n import refusal_text
from nuri.web.pages import SignInRequired, build_page, is_fragment_request

log = logging.getLogger(__name__)


class PortalRoute(APIRoute):
    """A route whose errors become friendly HTML pages (see the module's table)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException:
                raise
            except Exception as error:  # every error becomes a page, as the table above says
                return error_response(request, error)

        return portal_handler


def error_response(request: Request, error: Exception) -> Response:
    if isinstance(error, SignInRequired):
        if is_fragment_request(request):
            return Response(status_code=401)
        target = request.url.path
        if request.url.query:
            target += f"?{request.url.query}"
        sign_in = request.app.url_path_for("portal_sign_in")
        return RedirectResponse(f"{sign_in}?{urlencode({'next': target})}", status_code=303)
    if isinstance(error, CsrfRefused):
        status, title, message = 403, "error.csrf.title", "error.csrf.message"
        detail = None
    elif isinstance(error, DomainError):
        status, title, message = status_of(error), _title(error), None
        detail = error.message
    elif isinstance(error, RequestValidationError):
        in_path = any(item.get("loc", ("",))[0] == "path" for item in error.errors())
        status = 404 if in_path else 400
        title = "error.not_found.title" if in_path else "error.bad_request.title"
        message, detail = "error.bad_address.message", None
    else:
        log.exception("portal page %s failed", request.url.path, exc_info=error)
        status, title, message, detail = 500, "error.internal.title", "error.internal.message", None
    return _error_page(request, status, title, message, detail, error)


def unknown_address_response(request: Request) -> Response:
    """404 as a portal page, for an address no route serves (outside the API)."""
    return _error_page(
        request, 404, "error.not_found.title", "error.bad_address.message", None, None
    )


def _error_page(
    request: Request,
    status: int,
    title: str,
    message: str | None,
    detail: str | None,
    error: Exception | None,
) -> Response:
    if is_fragment_request(request):
        return Response(status_code=status)
    try:
        page = build_page(request, require_sign_in=False)
    except Exception:  # the database itself may be what failed; say so without a template
        log.exception("portal error page could not be built", exc_info=error or True)
        return Response("internal error", status_code=500, media_type="text/plain")
    if isinstance(error, DomainError):
        detail = refusal_text(page.t, error)  # in the page's language where the catalogue can
    return page.render(
        "error.html",
        status=status,
        title_key=title,
        message_key=message,
        detail=detail,
    )


def _title(error: DomainError) -> str:
    status = status_of(error)
    return {
        403: "error.forbidden.title",
        404: "error.not_found.title",
        409: "error.conflict.title",
        422: "error.refused.title",
    }.get(status, "error.bad_request.title")
