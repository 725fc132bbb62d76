"""API v1 routes of allocation programmes: calls, proposals, reviews, rankings and awards."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from nuri.api.v1.routes import ActorDep, CommonsDep
from nuri.api.v1.schemas import Body, PageSize
from nuri.service.competitions import EvaluationView, GateView, StageView, StandingView
from nuri.service.programmes import (
    AwardProposal,
    AwardView,
    CallView,
    ProposalView,
    RankedProposal,
    ReviewView,
)

router = APIRouter(tags=["programmes"])

Hours = dict[str, int]


class Criterion(Body):
    name: str = Field(max_length=63)
    weight: float = Field(gt=0, le=1000, description="Relative weight of the criterion.")
    lowest: int = Field(default=1, ge=0, le=100)
    highest: int = Field(default=5, ge=1, le=100)


class CallCreate(Body):
    name: str = Field(max_length=63, description="Short unique slug, e.g. 'llm-2027'.")
    title: str = Field(default="", max_length=200)
    opens_at: datetime
    closes_at: datetime = Field(description="The submission deadline.")
    budgets: Hours = Field(description="Pool name -> whole H100e GPU-hours the call may award.")
    rubric: list[Criterion] = Field(min_length=1, max_length=20)
    award_starts_at: datetime
    award_ends_at: datetime
    eligible_kinds: list[str] = Field(
        default_factory=list, description="Organisation kinds that may propose; empty: all."
    )
    tier: str = Field(default="general", description="strategic, hub-member or general.")


class ProposalCreate(Body):
    name: str = Field(max_length=63, description="Slug, unique within the call.")
    title: str = Field(default="", max_length=200)
    abstract: str = Field(default="", max_length=20_000)
    project: str = Field(description="The PI's project the award will fund.")
    requested: Hours = Field(description="Pool name -> whole H100e GPU-hours asked for.")
    minimum_hours: int = Field(default=0, ge=0, description="Least total that keeps it viable.")
    team: list[str] = Field(default_factory=list, max_length=100, description="User names.")
    data_plan: str = Field(default="", max_length=20_000)
    model_plan: str = Field(default="", max_length=20_000)


class ProposalUpdate(Body):
    title: str | None = Field(default=None, max_length=200)
    abstract: str | None = Field(default=None, max_length=20_000)
    requested: Hours | None = None
    minimum_hours: int | None = Field(default=None, ge=0)
    team: list[str] | None = Field(default=None, max_length=100)
    data_plan: str | None = Field(default=None, max_length=20_000)
    model_plan: str | None = Field(default=None, max_length=20_000)


class ReviewerAssign(Body):
    reviewer: str = Field(description="User name of a reviewer.")


class ReviewSubmit(Body):
    scores: dict[str, int] = Field(description="Criterion name -> score on its scale.")
    comment: str = Field(default="", max_length=20_000)


class ConflictDeclare(Body):
    subject: str = Field(max_length=63, description="A proposal, person or organisation name.")


class Override(Body):
    granted: Hours = Field(description="Pool name -> GPU-hours to award instead (0: none).")
    reason: str = Field(min_length=1, max_length=2000, description="Why, for the audit log.")


class AwardDecide(Body):
    overrides: dict[str, Override] = Field(
        default_factory=dict, description="Proposal name -> the manager's award instead."
    )


@router.post("/calls", status_code=201)
def create_call(body: CallCreate, commons: CommonsDep, actor: ActorDep) -> CallView:
    data = body.model_dump()
    data["rubric"] = [criterion.model_dump() for criterion in body.rubric]
    return commons.programmes.create_call(actor, **data)


@router.get("/calls")
def list_calls(commons: CommonsDep, _: ActorDep) -> list[CallView]:
    return commons.programmes.list_calls()


@router.get("/calls/{call}")
def show_call(call: str, commons: CommonsDep, _: ActorDep) -> CallView:
    return commons.programmes.show_call(call)


@router.post("/calls/{call}/proposals", status_code=201)
def create_proposal(
    call: str, body: ProposalCreate, commons: CommonsDep, actor: ActorDep
) -> ProposalView:
    return commons.programmes.create_proposal(actor, call=call, **body.model_dump())


@router.get("/calls/{call}/proposals")
def list_proposals(call: str, commons: CommonsDep, actor: ActorDep) -> list[ProposalView]:
    return commons.programmes.list_proposals(actor, call)


@router.patch("/calls/{call}/proposals/{proposal}")
def update_proposal(
    call: str, proposal: str, body: ProposalUpdate, commons: CommonsDep, actor: ActorDep
) -> ProposalView:
    """Change a draft (its PI, before the deadline); fields left out stay as they are."""
    return commons.programmes.update_proposal(
        actor, call, proposal, **body.model_dump(exclude_unset=True)
    )


@router.post("/calls/{call}/proposals/{proposal}/submit")
def submit_proposal(call: str, proposal: str, commons: CommonsDep, actor: ActorDep) -> ProposalView:
    return commons.programmes.submit_proposal(actor, call, proposal)


@router.post("/calls/{call}/proposals/{proposal}/withdraw")
def withdraw_proposal(
    call: str, proposal: str, commons: CommonsDep, actor: ActorDep
) -> ProposalView:
    return commons.programmes.withdraw_proposal(actor, call, proposal)


@router.post("/calls/{call}/proposals/{proposal}/reviewers", status_code=201)
def assign_reviewer(
    call: str, proposal: str, body: ReviewerAssign, commons: CommonsDep, actor: ActorDep
) -> ReviewView:
    return commons.programmes.assign_reviewer(actor, call, proposal, body.reviewer)


@router.put("/calls/{call}/proposals/{proposal}/review")
def submit_review(
    call: str, proposal: str, body: ReviewSubmit, commons: CommonsDep, actor: ActorDep
) -> ReviewView:
    """The caller's review of a proposal they are assigned to (resubmitting replaces it)."""
    return commons.programmes.submit_review(actor, call, proposal, body.scores, body.comment)


@router.get("/calls/{call}/reviews")
def list_reviews(call: str, commons: CommonsDep, actor: ActorDep) -> list[ReviewView]:
    """Managers see every review of the call; a reviewer sees their own."""
    return commons.programmes.reviews(actor, call)


@router.post("/conflicts", status_code=201)
def declare_conflict(body: ConflictDeclare, commons: CommonsDep, actor: ActorDep) -> list[str]:
    """Declare a conflict of interest; returns every subject the caller has declared."""
    return commons.programmes.declare_conflict(actor, body.subject)


@router.get("/calls/{call}/ranking")
def ranking(call: str, commons: CommonsDep, actor: ActorDep) -> list[RankedProposal]:
    return commons.programmes.ranking(actor, call)


@router.get("/calls/{call}/award-plan")
def award_plan(call: str, commons: CommonsDep, actor: ActorDep) -> AwardProposal:
    """The optimiser's proposed awards (HiGHS), not yet decided."""
    return commons.programmes.propose_awards(actor, call)


@router.post("/calls/{call}/awards", status_code=201)
def decide_awards(
    call: str, body: AwardDecide, commons: CommonsDep, actor: ActorDep
) -> list[AwardView]:
    overrides = {name: (o.granted, o.reason) for name, o in body.overrides.items()}
    return commons.programmes.decide_awards(actor, call, overrides)


@router.get("/calls/{call}/awards")
def list_awards(call: str, commons: CommonsDep, actor: ActorDep) -> list[AwardView]:
    """Every award of the call for managers and admins; yours (your projects') otherwise."""
    return commons.programmes.awards(actor, call)


@router.get("/audit")
def audit(commons: CommonsDep, actor: ActorDep, limit: PageSize = 100) -> list[dict[str, Any]]:
    """The newest decisions first (managers and admins)."""
    return commons.programmes.audit(actor, limit)


# -- staged competitions ------------------------------------------------------------------------


class StageCreate(Body):
    name: str = Field(max_length=63, description="Slug, unique within the call, e.g. 'stage-1'.")
    ends_at: datetime = Field(description="When the stage ends (its gate decides after).")
    metric: str = Field(max_length=63, description="The metric that ranks teams, e.g. 'accuracy'.")
    higher_is_better: bool = True
    top_k: int | None = Field(default=None, ge=1, description="How many teams advance.")
    threshold: float | None = Field(default=None, description="Or: the value teams must reach.")
    task_command: list[str] = Field(
        min_length=1,
        max_length=100,
        description="The evaluation command; the model's URI is appended.",
    )
    task_pool: str = Field(description="The pool evaluation jobs run on.")
    task_gpus: int = Field(default=1, ge=1, le=64)
    task_time_limit_s: int = Field(default=3600, ge=60, le=7 * 86_400)


class EvaluationCreate(Body):
    proposal: str = Field(description="The team (its proposal's name).")
    model: str = Field(max_length=200, description="The model to evaluate, e.g. 'snu-ko-7b@1.2'.")


@router.post("/calls/{call}/stages", status_code=201)
def add_stage(call: str, body: StageCreate, commons: CommonsDep, actor: ActorDep) -> StageView:
    return commons.competitions.add_stage(actor, call, **body.model_dump())


@router.get("/calls/{call}/stages")
def list_stages(call: str, commons: CommonsDep, _: ActorDep) -> list[StageView]:
    return commons.competitions.stages(call)


@router.post("/calls/{call}/stages/{stage}/evaluations", status_code=201)
def submit_evaluation(
    call: str, stage: str, body: EvaluationCreate, commons: CommonsDep, actor: ActorDep
) -> EvaluationView:
    """Run the stage's task on a team's model, as a job charged to the team's project."""
    return commons.competitions.submit_evaluation(actor, call, stage, body.proposal, body.model)


@router.get("/calls/{call}/stages/{stage}/evaluations")
def list_evaluations(
    call: str, stage: str, commons: CommonsDep, actor: ActorDep
) -> list[EvaluationView]:
    """Every team's runs for managers and admins; your teams' runs otherwise."""
    return commons.competitions.evaluations(actor, call, stage)


@router.get("/calls/{call}/stages/{stage}/leaderboard")
def stage_leaderboard(
    call: str, stage: str, commons: CommonsDep, _: ActorDep
) -> list[StandingView]:
    return commons.competitions.leaderboard(call, stage)


@router.post("/calls/{call}/stages/{stage}/gate")
def stage_gate(call: str, stage: str, commons: CommonsDep, actor: ActorDep) -> GateView:
    """Advance the best teams (their allocations extended), stop the others (theirs end)."""
    return commons.competitions.gate(actor, call, stage)
