"""Projects as their people see them: awards and how they burn down, the team and what each
member spent, and (for a PI) their proposals.

A researcher reaches a project's page from the list of their projects; a PI sees the same pages
plus the team's spend and their proposals. Visibility is the use cases' (``Jobs.usage``,
``Jobs.spend_by_member``, ``Programmes.list_proposals``): a project someone may not see is "not
found" for them, as in the API. The burn-down is drawn for the awards ``Jobs.usage`` returned.
"""

import json
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from nuri.domain.errors import NotFound
from nuri.service.programmes import CallView, ProposalView
from nuri.service.views import AllocationView, ProjectView
from nuri.web.charts import PLOTLY_VERSION, burn_down_figure
from nuri.web.errors import PortalRoute
from nuri.web.pages import Page, PageNumber, SignedInPage

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

PROJECTS_PAGE_SIZE = 50


@dataclass(frozen=True)
class AwardChart:
    """One award's burn-down: the figure for plotly.js and the same points for a table."""

    allocation: AllocationView
    figure_json: str
    days: list[tuple[str, float, float]]
    """(day, used, remaining GPU-hours), the chart's data for those who cannot see it."""


@router.get("/projects", name="portal_projects")
def projects_list(
    page: SignedInPage,
    page_number: PageNumber = 1,
) -> Response:
    """The projects the caller leads or belongs to (admins: all), ``PROJECTS_PAGE_SIZE`` a page."""
    projects = page.commons.directory.list_projects(page.actor)
    pages = max(-(-len(projects) // PROJECTS_PAGE_SIZE), 1)
    start = (page_number - 1) * PROJECTS_PAGE_SIZE
    here = page.path("portal_projects")
    return page.render(
        "projects.html",
        projects=projects[start : start + PROJECTS_PAGE_SIZE],
        total=len(projects),
        page_number=page_number,
        pages=pages,
        previous_url=page.query(here, {"page": page_number - 1}) if page_number > 1 else None,
        next_url=page.query(here, {"page": page_number + 1}) if page_number < pages else None,
    )


@router.get("/projects/{name}", name="portal_project")
def project_page(page: SignedInPage, name: str) -> Response:
    """A project's awards (awarded, used, held, remaining, cost), their burn-down, spend per pool."""
    usage = page.commons.jobs.usage(page.actor, name)
    project = _project(page, name)
    charts = [_award_chart(page, allocation) for allocation in usage.allocations]
    return page.render(
        "project.html",
        project=project,
        usage=usage,
        charts=charts,
        plotly_src=page.path("portal_plotly", version=PLOTLY_VERSION),
    )


@router.get("/projects/{name}/team", name="portal_team")
def team_page(page: SignedInPage, name: str) -> Response:
    """The PI and members, and what each one's jobs were charged (GPU-hours and won)."""
    spend = page.commons.jobs.spend_by_member(page.actor, name)
    project = _project(page, name)
    total_units = sum(member.used_units for member in spend)
    return page.render("team.html", project=project, spend=spend, total_units=total_units)


@router.get("/proposals", name="portal_proposals")
def proposals_page(page: SignedInPage) -> Response:
    """The caller's proposals in every call (managers and admins: all), with their states."""
    calls: list[tuple[CallView, list[ProposalView]]] = []
    for call in page.commons.programmes.list_calls():
        proposals = page.commons.programmes.list_proposals(page.actor, call.name)
        mine = [proposal for proposal in proposals if proposal.pi == page.actor.name]
        shown = proposals if page.actor.is_admin else mine
        if shown:
            calls.append((call, shown))
    return page.render("proposals.html", calls=calls)


def _project(page: Page, name: str) -> ProjectView:
    for project in page.commons.directory.list_projects(page.actor):
        if project.name == name:
            return project
    raise NotFound(f"no project named {name!r} that you belong to")


def _award_chart(page: Page, allocation: AllocationView) -> AwardChart:
    points = page.commons.reports.burn_down_curve(page.actor, allocation.id)
    figure = burn_down_figure(
        points,
        allocation.awarded_gpu_hours,
        lang=page.lang,
        used_label=page.t("chart.used"),
        remaining_label=page.t("chart.remaining"),
        awarded_label=page.t("chart.awarded"),
        axis_label=page.t("unit.gpu_hours"),
    )
    return AwardChart(
        allocation=allocation,
        # "</" cannot end the <script> element the JSON sits in once its slash is escaped.
        figure_json=json.dumps(figure, ensure_ascii=False).replace("</", "<\\/"),
        days=[
            (page.fmt.day(point.day), point.used_gpu_hours, point.remaining_gpu_hours)
            for point in points
        ],
    )
