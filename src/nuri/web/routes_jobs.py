"""A researcher's pages: jobs (live), one job with its log, cancel, resubmit, the submit form.

Every page calls the same use cases as the API (``commons.jobs``, ``commons.directory``) with
the signed-in actor, so what a person may see and do is decided in one place. Parts that change
while a job runs are also served alone (``.../rows``, ``.../status``, ``.../log``), for the
page's script to refresh in place; without the script the pages work as plain documents.
"""

import codecs
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response

from nuri.api.errors import status_of
from nuri.domain.errors import DomainError
from nuri.domain.jobs import JobState
from nuri.service.views import JobView
from nuri.web.csrf import CSRF_FIELD, check_csrf
from nuri.web.errors import PortalRoute
from nuri.web.forms import (
    ACCELERATOR_PREFIX,
    POOL_PREFIX,
    JobForm,
    check_job_form,
    form_from_job,
)
from nuri.web.i18n import refusal_text
from nuri.web.pages import Page, PageNumber, SignedInPage

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

PAGE_SIZE = 25
LIST_REFRESH_S = 5
"""How often a list with running or queued jobs on it refreshes its rows."""
JOB_REFRESH_S = 2
"""How often a running job's page refreshes its state and log."""
QUEUED_REFRESH_S = 5
"""How often a queued job's page refreshes its state: each refresh re-runs the start-time
estimate, which simulates the whole queue, so it is not repeated every two seconds."""
LOG_TAIL_BYTES = 64 * 1024
"""A job page shows at most this much of the end of the log; ``nuri logs`` has all of it."""

ProjectFilter = Annotated[str | None, Query(max_length=63)]
StateFilter = Annotated[str | None, Query(max_length=16)]


# -- the jobs list ---------------------------------------------------------------------------


@router.get("/jobs", name="portal_jobs")
def jobs_list(
    page: SignedInPage,
    page_number: PageNumber = 1,
    project: ProjectFilter = None,
    state: StateFilter = None,
) -> Response:
    """The caller's visible jobs, newest first, ``PAGE_SIZE`` a page."""
    project, state = project or None, state or None
    total = page.commons.jobs.count(page.actor, project=project, state=state)
    jobs = _page_of_jobs(page, page_number, project, state)
    pages = max(-(-total // PAGE_SIZE), 1)
    filters = {"project": project, "state": state}
    return page.render(
        "jobs.html",
        jobs=jobs,
        total=total,
        page_number=page_number,
        pages=pages,
        filters=filters,
        rows_url=page.query(page.path("portal_job_rows"), {"page": page_number, **filters}),
        previous_url=page.query(page.path("portal_jobs"), {"page": page_number - 1, **filters})
        if page_number > 1
        else None,
        next_url=page.query(page.path("portal_jobs"), {"page": page_number + 1, **filters})
        if page_number < pages
        else None,
        projects=[view.name for view in page.commons.directory.list_projects(page.actor)],
        states=[state.value for state in JobState],
        refresh_s=LIST_REFRESH_S,
    )


@router.get("/jobs/rows", name="portal_job_rows")
def jobs_rows(
    page: SignedInPage,
    page_number: PageNumber = 1,
    project: ProjectFilter = None,
    state: StateFilter = None,
) -> Response:
    """The list's rows alone, for the list page to refresh while its jobs are active."""
    project, state = project or None, state or None
    jobs = _page_of_jobs(page, page_number, project, state)
    rows_url = page.query(
        page.path("portal_job_rows"), {"page": page_number, "project": project, "state": state}
    )
    return page.render("_job_rows.html", jobs=jobs, rows_url=rows_url, refresh_s=LIST_REFRESH_S)


def _page_of_jobs(
    page: Page, page_number: int, project: str | None, state: str | None
) -> list[JobView]:
    return page.commons.jobs.list(
        page.actor,
        project=project,
        state=state,
        limit=PAGE_SIZE,
        offset=(page_number - 1) * PAGE_SIZE,
    )


# -- submitting ------------------------------------------------------------------------------


@router.get("/jobs/new", name="portal_submit_form")
def submit_form(
    page: SignedInPage,
    from_job: Annotated[int | None, Query(alias="from", ge=1)] = None,
) -> Response:
    """The submit form; ``?from=<job>`` fills it in from an earlier job (resubmit)."""
    form = JobForm()
    if from_job is not None:
        form = form_from_job(page.commons.jobs.show(page.actor, from_job, with_estimate=False))
    else:
        projects = page.commons.directory.list_projects(page.actor)
        if len(projects) == 1:
            form.project = projects[0].name
    form.idempotency_key = uuid.uuid4().hex
    return _render_submit_form(page, form, resubmitting=from_job)


@router.post("/jobs/new", name="portal_submit")
def submit(
    page: SignedInPage,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
    project: Annotated[str, Form(max_length=63)] = "",
    target: Annotated[str, Form(max_length=100)] = "",
    gpus: Annotated[str, Form(max_length=10)] = "",
    time_limit: Annotated[str, Form(max_length=32)] = "",
    command: Annotated[str, Form(max_length=64 * 1024)] = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    preemptible: Annotated[str, Form(max_length=10)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Check the form, then queue the job through ``Jobs.submit`` and show it."""
    check_csrf(csrf_token, page.csrf_token)
    form = JobForm(
        project=project,
        target=target,
        gpus=gpus,
        time_limit=time_limit,
        command=command,
        name=name,
        preemptible=preemptible == "on",
        idempotency_key=idempotency_key or uuid.uuid4().hex,
    )
    pools = page.commons.directory.list_pools()
    checked = check_job_form(
        form,
        projects={view.name for view in page.commons.directory.list_projects(page.actor)},
        pools={pool.name for pool in pools},
        accelerators={pool.accelerator for pool in pools},
    )
    if checked.request is None:
        return _render_submit_form(page, form, errors=checked.errors, status=400)
    request = checked.request
    try:
        job = page.commons.jobs.submit(
            page.actor,
            project=request.project,
            pool=request.pool,
            accelerator=request.accelerator,
            gpus=request.gpus,
            time_limit_s=request.time_limit_s,
            command=request.command,
            name=request.name,
            preemptible=request.preemptible,
            idempotency_key=form.idempotency_key,
        )
    except DomainError as error:
        return _render_submit_form(
            page, form, refusal=refusal_text(page.t, error), status=status_of(error)
        )
    return RedirectResponse(page.path("portal_job", job_id=job.id), status_code=303)


def _render_submit_form(
    page: Page,
    form: JobForm,
    *,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    resubmitting: int | None = None,
    status: int = 200,
) -> Response:
    pools = page.commons.directory.list_pools()
    accelerators = sorted({pool.accelerator for pool in pools})
    return page.render(
        "submit.html",
        status=status,
        form=form,
        errors=errors or {},
        refusal=refusal,
        resubmitting=resubmitting,
        projects=page.commons.directory.list_projects(page.actor),
        pools=pools,
        accelerators=accelerators,
        pool_prefix=POOL_PREFIX,
        accelerator_prefix=ACCELERATOR_PREFIX,
    )


# -- one job ---------------------------------------------------------------------------------


@router.get("/jobs/{job_id}", name="portal_job")
def job_page(page: SignedInPage, job_id: int) -> Response:
    """A job: its state, place in the queue and estimated start, details, and its log's end."""
    job = page.commons.jobs.show(page.actor, job_id)
    data = page.commons.jobs.logs(page.actor, job_id, 0)
    shown = data[-LOG_TAIL_BYTES:]
    if len(shown) < len(data) and b"\n" in shown:
        shown = shown[shown.index(b"\n") + 1 :]  # start the tail at a whole line
    return page.render(
        "job.html",
        job=job,
        policy=page.commons.settings.policy,
        log_text=shown.decode("utf-8", errors="replace"),
        log_truncated=len(shown) < len(data),
        log_offset=len(data),
        refresh_s=_refresh_s(job),
        log_refresh_s=JOB_REFRESH_S,
    )


@router.get("/jobs/{job_id}/status", name="portal_job_status")
def job_status(page: SignedInPage, job_id: int) -> Response:
    """The job page's state panel alone, for the page to refresh while the job is active."""
    job = page.commons.jobs.show(page.actor, job_id)
    return page.render(
        "_job_status.html", job=job, policy=page.commons.settings.policy, refresh_s=_refresh_s(job)
    )


def _refresh_s(job: JobView) -> int:
    return QUEUED_REFRESH_S if job.state == JobState.PENDING.value else JOB_REFRESH_S


@router.get("/jobs/{job_id}/log", name="portal_job_log")
def job_log(page: SignedInPage, job_id: int, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Output from byte ``offset`` as JSON ``{text, next_offset, final}``, for the log to grow.

    ``final`` means the job has ended and every byte was written before this answer (the state
    is read before the log, as the API does). A multi-byte character cut by the end of the
    output so far is left for the next poll instead of being shown broken.
    """
    job = page.commons.jobs.show(page.actor, job_id, with_estimate=False)
    final = JobState(job.state).terminal
    data = page.commons.jobs.logs(page.actor, job_id, offset)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=final)
    pending, _ = decoder.getstate()
    response = JSONResponse(
        {"text": text, "next_offset": offset + len(data) - len(pending), "final": final}
    )
    page.finish(response)
    return response


@router.post("/jobs/{job_id}/cancel", name="portal_job_cancel")
def cancel(
    page: SignedInPage,
    job_id: int,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    """Cancel through ``Jobs.cancel`` (the submitter, the project's PI or an admin may)."""
    check_csrf(csrf_token, page.csrf_token)
    page.commons.jobs.cancel(page.actor, job_id)
    return RedirectResponse(page.path("portal_job", job_id=job_id), status_code=303)
