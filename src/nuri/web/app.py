"""Mounting the portal on the API's FastAPI app: its routers, its static files and plotly.js.

The portal is served by the same app as ``/api/v1``, with the same use cases and the same
database; it keeps no state of its own, so any replica serves any page. Its paths::

    /                         to the jobs, or to sign in
    /sign-in, /sign-out       a session from an API token; ending it
    /jobs                     jobs, newest first (paginated, live)
    /jobs/new                 the submit form (?from=<job> to resubmit)
    /jobs/<id>                a job: state, queue position, estimated start, log, cancel
    /projects                 the caller's projects
    /projects/<name>          awards, their burn-down, spend per pool
    /projects/<name>/team     members and spend per member
    /proposals                a PI's proposals
    /reviews                  a reviewer's assigned proposals; /reviews/<call>/<proposal> scores one
    /calls, /calls/<call>     a manager's calls: proposals, reviews, ranking, award plan, stages
    /dashboard/...            operators' and policy makers' figures, charts and CSV downloads
    /static/...               the portal's CSS and scripts
    /vendor/plotly-<v>.min.js plotly.js from the installed plotly package (not copied here)
"""

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from nuri.web import (
    routes_auth,
    routes_dashboard,
    routes_jobs,
    routes_programmes,
    routes_projects,
)
from nuri.web.charts import PLOTLY_VERSION
from nuri.web.errors import unknown_address_response
from nuri.web.pages import STATIC_DIR

YEAR_S = 365 * 24 * 3600
MACHINE_PATHS = ("/api/", "/metrics", "/healthz", "/openapi.json", "/docs", "/redoc")
"""Paths whose clients are programs: an unknown one there is JSON, not a page."""


def plotly_js_path() -> Path:
    """The plotly.js bundle inside the installed ``plotly`` package (its ``package_data``)."""
    return Path(str(files("plotly") / "package_data" / "plotly.min.js"))


def mount_portal(app: FastAPI) -> None:
    """Add the portal's pages, static files and plotly.js to ``app`` (its commons is in
    ``app.state.commons``)."""
    app.include_router(routes_auth.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_projects.router)
    app.include_router(routes_programmes.router)
    app.include_router(routes_dashboard.router)

    @app.get("/vendor/plotly-{version}.min.js", include_in_schema=False, name="portal_plotly")
    def plotly_js(version: str) -> FileResponse:
        # The version is in the path, so browsers may keep the 4.8 MB file for a year.
        if version != PLOTLY_VERSION:
            raise HTTPException(404, f"this server has plotly.js {PLOTLY_VERSION}")
        return FileResponse(
            plotly_js_path(),
            media_type="text/javascript",
            headers={"Cache-Control": f"public, max-age={YEAR_S}, immutable"},
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="portal_static")

    @app.exception_handler(StarletteHTTPException)
    async def _unknown_address(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404 and not request.url.path.startswith(MACHINE_PATHS):
            return unknown_address_response(request)
        return await http_exception_handler(request, error)
