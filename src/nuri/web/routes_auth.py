"""Signing in with an API token, and signing out.

A failed sign-in says only that the token does not sign anyone in: not whether it was unknown,
revoked or expired, so the page cannot be used to probe tokens. (Tokens carry 256 random bits,
so guessing is hopeless anyway; the uniform message is about not leaking a token's history.)
Failures count against the client's address, as on the API (``SignInLimits``): past the limit the
form answers 429 with Retry-After and how long to wait, without looking at the token.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import RedirectResponse, Response

from nuri.api.v1.routes import client_address
from nuri.domain.errors import TooManyAttempts
from nuri.web.csrf import (
    CSRF_FIELD,
    SIGN_IN_CSRF_COOKIE,
    SIGN_IN_CSRF_MAX_AGE_S,
    check_csrf,
    new_csrf_token,
)
from nuri.web.errors import PortalRoute
from nuri.web.pages import SESSION_COOKIE, AnyPage, Page, is_https
from nuri.web.sessions import WebSessions

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/", name="portal_home")
def home(page: AnyPage) -> Response:
    """Jobs for the signed in; the sign-in page for everyone else."""
    target = "portal_jobs" if page.signed_in is not None else "portal_sign_in"
    return RedirectResponse(page.path(target), status_code=303)


@router.get("/sign-in", name="portal_sign_in")
def sign_in_form(
    page: AnyPage,
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "",
    signed_out: bool = False,
) -> Response:
    if page.signed_in is not None:
        return RedirectResponse(_safe_next(page, next_path), status_code=303)
    notice = "sign_in.signed_out" if signed_out else None
    return _sign_in_page(page, next_path=next_path, notice=notice)


@router.post("/sign-in", name="portal_sign_in_submit")
def sign_in(
    page: AnyPage,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    check_csrf(csrf_token, page.request.cookies.get(SIGN_IN_CSRF_COOKIE))
    web_sessions = WebSessions(page.commons.sessions, page.commons.clock)
    try:
        opened = page.commons.sign_in_limits.attempt(
            client_address(page.request), lambda: web_sessions.open(token.strip())
        )
    except TooManyAttempts as refusal:
        response = _sign_in_page(
            page,
            next_path=next_path,
            error="sign_in.too_many",
            error_params={"seconds": refusal.retry_after_s},
            status=429,
        )
        response.headers["Retry-After"] = str(refusal.retry_after_s)
        return response
    if opened is None:
        return _sign_in_page(page, next_path=next_path, error="sign_in.refused", status=401)
    response = RedirectResponse(_safe_next(page, next_path), status_code=303)
    lifetime_s = (opened.signed_in.expires_at - page.commons.clock()).total_seconds()
    response.set_cookie(
        SESSION_COOKIE,
        opened.session_id,
        max_age=max(int(lifetime_s), 1),
        path="/",
        secure=is_https(page.request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/")
    page.finish(response)
    return response


@router.post("/sign-out", name="portal_sign_out")
def sign_out(
    page: AnyPage,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    """End the session (its row is deleted) and forget the cookie."""
    if page.signed_in is not None:
        check_csrf(csrf_token, page.signed_in.csrf_token)
        session_id = page.request.cookies.get(SESSION_COOKIE, "")
        WebSessions(page.commons.sessions, page.commons.clock).close(session_id)
    response = RedirectResponse(
        page.query(page.path("portal_sign_in"), {"signed_out": "1"}), status_code=303
    )
    response.delete_cookie(SESSION_COOKIE, path="/", secure=is_https(page.request), httponly=True)
    page.finish(response)
    return response


def _sign_in_page(
    page: Page,
    *,
    next_path: str,
    error: str | None = None,
    error_params: dict[str, object] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    token = new_csrf_token()
    response = page.render(
        "sign_in.html",
        status=status,
        sign_in_csrf=token,
        next_path=next_path if _is_local_path(next_path) else "",
        error=error,
        error_params=error_params,
        notice=notice,
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        max_age=SIGN_IN_CSRF_MAX_AGE_S,
        path="/",
        secure=is_https(page.request),
        httponly=True,
        samesite="lax",
    )
    return response


def _safe_next(page: Page, next_path: str) -> str:
    """Where to go after signing in: ``next_path`` if it is a path on this site, else the jobs."""
    return next_path if _is_local_path(next_path) else page.path("portal_jobs")


def _is_local_path(target: str) -> bool:
    # "//host" and "/\host" are read by browsers as another site: an open redirect.
    return target.startswith("/") and not target.startswith(("//", "/\\"))
