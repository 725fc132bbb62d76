"""One portal request's page: its language, who is signed in, and rendering a template.

Route handlers ask for a :class:`Page` through ``SignedInPage`` (redirects to the sign-in page
when nobody is signed in) or ``AnyPage`` and finish with ``page.render(template, **context)``.
Templates see ``page`` (language, the signed-in actor, navigation, URLs, the CSRF token), ``t``
(the catalogue in the page's language) and ``fmt`` (numbers, won and dates in that language).

Every HTML answer gets the same headers: a strict content security policy (scripts only from
this site; there are no inline scripts), no framing, no caching of personal pages, and the
language cookie when ``?lang=`` chose a language.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

import nuri
from nuri.service.auth import Actor
from nuri.service.commons import Commons
from nuri.web.formatting import Formatter, Language
from nuri.web.forms import command_line
from nuri.web.i18n import LANGUAGE_COOKIE, LANGUAGE_COOKIE_MAX_AGE_S, Translator, negotiate
from nuri.web.navigation import NavLink, navigation_for
from nuri.web.sessions import SignedIn, WebSessions

SESSION_COOKIE = "nuri_session"
FRAGMENT_HEADER = "X-Nuri-Fragment"
"""Sent by the page's own script when it refreshes part of a page; such requests get a bare
status instead of a redirect or an error page."""
STATIC_DIR = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Plotly sets element styles and adds <style> rules while drawing charts.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

templates = Environment(
    loader=PackageLoader("nuri.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a misspelt name fails the tests instead of rendering nothing
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["command_line"] = command_line  # a job's words, as one line a person can copy


class SignInRequired(Exception):
    """The page needs a signed-in user and there is none (or the session ended)."""


@dataclass
class Page:
    """Everything a portal template needs about the request it answers."""

    request: Request
    commons: Commons
    lang: Language
    signed_in: SignedIn | None
    t: Translator = field(init=False)
    fmt: Formatter = field(init=False)

    def __post_init__(self) -> None:
        self.t = Translator(self.lang)
        self.fmt = Formatter(self.lang)

    @property
    def version(self) -> str:
        return nuri.__version__

    @property
    def actor(self) -> Actor:
        """The signed-in user; only pages reached through ``SignedInPage`` may ask."""
        if self.signed_in is None:
            raise SignInRequired()
        return self.signed_in.actor

    @property
    def csrf_token(self) -> str:
        return "" if self.signed_in is None else self.signed_in.csrf_token

    @property
    def nav(self) -> list[NavLink]:
        if self.signed_in is None:
            return []
        return navigation_for(self.signed_in.actor.role, self.path, self.request.url.path)

    def path(self, route: str, /, **params: object) -> str:
        """The path of a named route, e.g. ``page.path("portal_job", job_id=12)``."""
        return str(self.request.app.url_path_for(route, **{k: str(v) for k, v in params.items()}))

    def query(self, base: str, params: Mapping[str, object | None]) -> str:
        """``base`` with the non-empty ``params`` as its query string."""
        kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
        return f"{base}?{urlencode(kept)}" if kept else base

    def static(self, name: str) -> str:
        """A static file's URL, versioned so that a new release is never served stale."""
        return f"{self.path('portal_static', path=name)}?v={nuri.__version__}"

    def with_lang(self, lang: Language) -> str:
        """This page in another language (the choice then sticks, through a cookie)."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        return f"{self.request.url.path}?{urlencode([*params, ('lang', lang)])}"

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(template).render(page=self, t=self.t, fmt=self.fmt, **context)
        response = HTMLResponse(html, status_code=status)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        """The headers every portal answer carries, and the language cookie if one was chosen."""
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        if self.request.query_params.get("lang") == self.lang:
            response.set_cookie(
                LANGUAGE_COOKIE,
                self.lang,
                max_age=LANGUAGE_COOKIE_MAX_AGE_S,
                path="/",
                secure=is_https(self.request),
                httponly=True,
                samesite="lax",
            )


def is_https(request: Request) -> bool:
    """Cookies are marked Secure when the browser reached us over https (directly, or through a
    proxy that uvicorn trusts with ``--proxy-headers``)."""
    return request.url.scheme == "https"


def is_fragment_request(request: Request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def build_page(request: Request, *, require_sign_in: bool) -> Page:
    """The page for ``request``; kept on the request so that an error page can reuse it."""
    cached = getattr(request.state, "portal_page", None)
    if isinstance(cached, Page):
        if require_sign_in and cached.signed_in is None:
            raise SignInRequired()
        return cached
    commons: Commons = request.app.state.commons
    lang = negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
    )
    session_id = request.cookies.get(SESSION_COOKIE)
    signed_in = None
    if session_id:
        signed_in = WebSessions(commons.sessions, commons.clock).resolve(session_id)
    page = Page(request=request, commons=commons, lang=lang, signed_in=signed_in)
    request.state.portal_page = page
    if require_sign_in and signed_in is None:
        raise SignInRequired()
    return page


def _signed_in_page(request: Request) -> Page:
    return build_page(request, require_sign_in=True)


def _any_page(request: Request) -> Page:
    return build_page(request, require_sign_in=False)


SignedInPage = Annotated[Page, Depends(_signed_in_page)]
"""A page for a signed-in user; anyone else is sent to sign in and brought back afterwards."""
AnyPage = Annotated[Page, Depends(_any_page)]
"""A page anyone may see (the sign-in page, the error pages)."""
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]
"""``?page=`` of a paginated list, from 1."""
