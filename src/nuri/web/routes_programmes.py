"""Reviewers' and programme managers' pages: reviews on the rubric, calls, rankings, the award
optimiser's plan, stages with their leaderboards and gates.

A reviewer sees the proposals assigned to them per call and scores each on the call's rubric
(``Programmes.submit_review``; sending the form again replaces the scores). A programme manager
(or an admin) sees every call: its proposals and their states, the reviews received, the
normalised ranking, the optimiser's award plan (read-only: awards are decided with ``nuri`` or
the API), and the stages with their leaderboards and gate outcomes; while a call is open they
may also assign a reviewer, which the service refuses on a conflict of interest, with the
reason. Every page calls the same use cases as the API with the signed-in actor, so the roles
are enforced in one place.
"""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nuri.api.errors import status_of
from nuri.domain.commons import Role
from nuri.domain.errors import DomainError, NotFound
from nuri.programmes.rubric import Rubric
from nuri.programmes.stage_gate import GateDecision, Standing, gate
from nuri.service.competitions import StageView, StandingView
from nuri.service.programmes import (
    AwardProposal,
    CallView,
    ProposalView,
    ReviewView,
    require_role,
)
from nuri.web.csrf import CSRF_FIELD, check_csrf
from nuri.web.errors import PortalRoute
from nuri.web.i18n import refusal_text
from nuri.web.pages import Page, SignedInPage
from nuri.web.review_form import (
    COMMENT_FIELD,
    SCORE_PREFIX,
    FieldProblem,
    ReviewForm,
    check_review_form,
    form_from_post,
    score_field_id,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

MANAGING = "see calls' reviews, rankings and award plans"


# -- a reviewer's pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """One proposal assigned to the caller, with the caller's review of it."""

    proposal: ProposalView
    review: ReviewView


@router.get("/reviews", name="portal_reviews")
def reviews_page(page: SignedInPage, declared: str | None = None) -> Response:
    """The proposals assigned to the caller, per call, each with their own review's state; the
    conflicts of interest they have declared, and a form to declare another."""
    return _render_reviews(page, declared=declared)


@router.post("/reviews/conflicts", name="portal_declare_conflict")
def declare_conflict(
    page: SignedInPage,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
    subject: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Declare a conflict of interest with a proposal, person or organisation (by name), so
    that no manager can assign the caller to review it; a bad name is refused with why."""
    check_csrf(csrf_token, page.csrf_token)
    subject = subject.strip()
    try:
        page.commons.programmes.declare_conflict(page.actor, subject)
    except DomainError as refusal:
        return _render_reviews(
            page, refusal=refusal_text(page.t, refusal), subject=subject, status=status_of(refusal)
        )
    target = page.path("portal_reviews")
    return RedirectResponse(f"{target}?declared={quote(subject)}#conflicts", status_code=303)


def _render_reviews(
    page: Page,
    *,
    declared: str | None = None,
    refusal: str | None = None,
    subject: str = "",
    status: int = 200,
) -> Response:
    calls: list[tuple[CallView, list[Assignment]]] = []
    for call in page.commons.programmes.list_calls():
        mine = {
            review.proposal: review
            for review in page.commons.programmes.reviews(page.actor, call.name)
            if review.reviewer == page.actor.name
        }
        if not mine:
            continue
        proposals = page.commons.programmes.list_proposals(page.actor, call.name)
        assigned = [Assignment(p, mine[p.name]) for p in proposals if p.name in mine]
        calls.append((call, assigned))
    return page.render(
        "reviews.html",
        status=status,
        calls=calls,
        conflicts=page.commons.programmes.declared_conflicts(page.actor),
        declared=declared,
        refusal=refusal,
        subject=subject,
    )


@router.get("/reviews/{call}/{proposal}", name="portal_review")
def review_page(page: SignedInPage, call: str, proposal: str, saved: bool = False) -> Response:
    """A proposal assigned to the caller and the rubric as a form, with their saved scores."""
    call_view, proposal_view, review = _assignment(page, call, proposal)
    form = ReviewForm(
        scores={name: str(score) for name, score in (review.scores or {}).items()},
        comment=review.comment,
    )
    return _render_review(page, call_view, proposal_view, review, form, saved=saved)


@router.post("/reviews/{call}/{proposal}", name="portal_review_submit")
async def review_submit(request: Request, page: SignedInPage, call: str, proposal: str) -> Response:
    """Save the caller's scores (replacing earlier ones), or show each field's problem."""
    posted = await request.form()
    values = {key: value for key, value in posted.items() if isinstance(value, str)}
    return await run_in_threadpool(_submit_review, page, call, proposal, values)


def _submit_review(page: Page, call: str, proposal: str, values: dict[str, str]) -> Response:
    check_csrf(values.get(CSRF_FIELD), page.csrf_token)
    call_view, proposal_view, review = _assignment(page, call, proposal)
    rubric = Rubric.of(call_view.rubric)
    form = form_from_post(rubric, values)
    checked = check_review_form(rubric, form)
    if checked.scores is None:
        return _render_review(
            page, call_view, proposal_view, review, form, problems=checked.problems, status=400
        )
    try:
        page.commons.programmes.submit_review(
            page.actor, call, proposal, checked.scores, form.comment
        )
    except DomainError as refusal:
        return _render_review(
            page,
            call_view,
            proposal_view,
            review,
            form,
            refusal=refusal_text(page.t, refusal),
            status=status_of(refusal),
        )
    target = page.path("portal_review", call=call, proposal=proposal)
    return RedirectResponse(f"{target}?saved=1", status_code=303)


def _assignment(page: Page, call: str, proposal: str) -> tuple[CallView, ProposalView, ReviewView]:
    """The call, the proposal and the caller's review of it; "not found" unless assigned."""
    call_view = page.commons.programmes.show_call(call)
    reviews = [
        review
        for review in page.commons.programmes.reviews(page.actor, call)
        if review.proposal == proposal and review.reviewer == page.actor.name
    ]
    proposals = [
        view
        for view in page.commons.programmes.list_proposals(page.actor, call)
        if view.name == proposal
    ]
    if not reviews or not proposals:
        raise NotFound(f"you are not assigned to review a proposal {proposal!r} in call {call}")
    return call_view, proposals[0], reviews[0]


@dataclass(frozen=True)
class ScoreField:
    """One criterion's input on the form."""

    id: str
    name: str
    criterion: str
    weight: float
    lowest: int
    highest: int
    value: str


def _render_review(
    page: Page,
    call: CallView,
    proposal: ProposalView,
    review: ReviewView,
    form: ReviewForm,
    *,
    problems: dict[str, FieldProblem] | None = None,
    refusal: str | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    rubric = Rubric.of(call.rubric)
    weights = sum(c.weight for c in rubric.criteria)
    fields = [
        ScoreField(
            id=score_field_id(index),
            name=SCORE_PREFIX + criterion.name,
            criterion=criterion.name,
            weight=criterion.weight / weights,
            lowest=criterion.lowest,
            highest=criterion.highest,
            value=form.scores.get(criterion.name, ""),
        )
        for index, criterion in enumerate(rubric.criteria)
    ]
    errors = {
        name: page.t(problem.key, **problem.params) for name, problem in (problems or {}).items()
    }
    return page.render(
        "review.html",
        status=status,
        call=call,
        proposal=proposal,
        review=review,
        fields=fields,
        comment=form.comment,
        comment_field=COMMENT_FIELD,
        errors=errors,
        refusal=refusal,
        saved=saved and not errors and refusal is None,
    )


# -- a programme manager's pages ---------------------------------------------------------------


@router.get("/calls", name="portal_calls")
def calls_page(page: SignedInPage) -> Response:
    """Every call with its state, dates and number of proposals (programme managers, admins)."""
    require_role(page.actor, MANAGING, Role.MANAGER)
    return page.render("calls.html", calls=page.commons.programmes.list_calls())


@dataclass(frozen=True)
class StageBoard:
    """A stage with its leaderboard and its gate: decided, or what it would decide now."""

    stage: StageView
    standings: list[StandingView]
    outcome: GateDecision | None


@router.get("/calls/{call}", name="portal_call")
def call_page(page: SignedInPage, call: str, assigned: str | None = None) -> Response:
    """A call: proposals, reviews, ranking, the award plan, awards, stages and leaderboards."""
    require_role(page.actor, MANAGING, Role.MANAGER)
    return _render_call(page, call, assigned=assigned)


@router.post("/calls/{call}/reviewers", name="portal_assign_reviewer")
def assign_reviewer(
    page: SignedInPage,
    call: str,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
    proposal: Annotated[str, Form(max_length=100)] = "",
    reviewer: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Assign a reviewer to a submitted proposal; a conflict of interest is refused with why."""
    check_csrf(csrf_token, page.csrf_token)
    require_role(page.actor, MANAGING, Role.MANAGER)
    reviewer = reviewer.strip()
    try:
        page.commons.programmes.assign_reviewer(page.actor, call, proposal, reviewer)
    except DomainError as refusal:
        return _render_call(
            page,
            call,
            refusal=refusal_text(page.t, refusal),
            chosen=(proposal, reviewer),
            status=status_of(refusal),
        )
    target = page.path("portal_call", call=call)
    return RedirectResponse(f"{target}?assigned={quote(reviewer)}#assign", status_code=303)


def _render_call(
    page: Page,
    call: str,
    *,
    assigned: str | None = None,
    refusal: str | None = None,
    chosen: tuple[str, str] = ("", ""),
    status: int = 200,
) -> Response:
    programmes = page.commons.programmes
    view = programmes.show_call(call)
    proposals = programmes.list_proposals(page.actor, call)
    plan: AwardProposal = programmes.propose_awards(page.actor, call)
    planned_per_pool = {
        pool: sum(granted.get(pool, 0) for granted in plan.granted.values())
        for pool in plan.budgets
    }
    return page.render(
        "call.html",
        status=status,
        call=view,
        rubric=Rubric.of(view.rubric),
        proposals=proposals,
        reviews=programmes.reviews(page.actor, call),
        ranking=programmes.ranking(page.actor, call),
        plan=plan,
        planned_per_pool=planned_per_pool,
        awards=programmes.awards(page.actor, call),
        stages=[
            _stage_board(page, call, stage) for stage in page.commons.competitions.stages(call)
        ],
        submitted=[p.name for p in proposals if p.state == "submitted"],
        assigned=assigned,
        refusal=refusal,
        chosen=chosen,
    )


def _stage_board(page: Page, call: str, stage: StageView) -> StageBoard:
    standings = page.commons.competitions.leaderboard(call, stage.name)
    outcome = None
    if stage.top_k is not None or stage.threshold is not None:
        outcome = gate(
            [Standing(s.rank, s.proposal, s.value) for s in standings],
            top_k=stage.top_k,
            threshold=stage.threshold,
            higher_is_better=stage.higher_is_better,
        )
    return StageBoard(stage, standings, outcome)
