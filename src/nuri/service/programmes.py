"""Allocation programmes as use cases: calls, proposals, reviews, and award decisions.

The life of a call::

    manager: create_call (budgets per pool, rubric, eligibility, dates, award term)
    PI:      create_proposal (a draft for one of their projects) -> submit_proposal (by the deadline)
    manager: assign_reviewer (refused on a conflict of interest, with the reason)
    reviewer: submit_review (scores on the rubric)
    manager: ranking (z-scores per reviewer) -> propose_awards (HiGHS) -> decide_awards
             (optionally overriding with a reason): allocations in the ledger

Every decision (assignment, award, override) is written to the audit log in the transaction
that makes it. Rules themselves are pure (:mod:`nuri.programmes`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import OrganisationKind, Role, Tier, check_name
from nuri.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from nuri.domain.units import H100E_UNITS_PER_GPU_HOUR
from nuri.engine.clock import Clock
from nuri.programmes.award_optimiser import AwardPlan, AwardRequest, optimise_awards
from nuri.programmes.conflicts import ProposalFacts, ReviewerFacts, conflict
from nuri.programmes.normalisation import ReviewTotal, normalised_scores, ranking
from nuri.programmes.rubric import Rubric
from nuri.service.access import visible_project_ids
from nuri.service.audit import audit_entry
from nuri.service.auth import Actor
from nuri.service.directory import choice
from nuri.store import repository
from nuri.store.tables import (
    AllocationPoolRow,
    AllocationRow,
    AuditRow,
    AwardDecisionRow,
    CallBudgetRow,
    CallRow,
    DeclaredConflictRow,
    OrganisationRow,
    PoolRow,
    ProjectRow,
    ProposalRow,
    ReviewRow,
    UserRow,
)

MAX_TEXT = 20_000


@dataclass(frozen=True, slots=True)
class CallView:
    name: str
    title: str
    opens_at: datetime
    closes_at: datetime
    budgets: dict[str, int]
    rubric: list[dict[str, Any]]
    eligible_kinds: list[str]
    tier: str
    award_starts_at: datetime
    award_ends_at: datetime
    state: str
    proposals: int


@dataclass(frozen=True, slots=True)
class ProposalView:
    call: str
    name: str
    title: str
    abstract: str
    project: str
    pi: str
    organisation: str
    requested: dict[str, int]
    minimum_hours: int
    team: list[str]
    data_plan: str
    model_plan: str
    state: str
    submitted_at: datetime | None
    reviews_assigned: int
    reviews_submitted: int


@dataclass(frozen=True, slots=True)
class ReviewView:
    call: str
    proposal: str
    reviewer: str
    scores: dict[str, int] | None
    total: float | None
    comment: str
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class RankedProposal:
    rank: int
    proposal: str
    score: float
    reviews: int
    requested: dict[str, int]


@dataclass(frozen=True, slots=True)
class AwardView:
    proposal: str
    granted: dict[str, int]
    source: str
    reason: str
    score: float | None
    allocation_id: int | None


@dataclass(frozen=True, slots=True)
class AwardProposal:
    """The optimiser's plan for a call, before a manager decides it."""

    call: str
    budgets: dict[str, int]
    granted: dict[str, dict[str, int]]
    weights: dict[str, float]
    optimal: bool


class Programmes:
    """Use cases of allocation programmes; every method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    # -- calls -------------------------------------------------------------------------------

    def create_call(
        self,
        actor: Actor,
        *,
        name: str,
        title: str,
        opens_at: datetime,
        closes_at: datetime,
        budgets: Mapping[str, int],
        rubric: Sequence[Mapping[str, object]],
        award_starts_at: datetime,
        award_ends_at: datetime,
        eligible_kinds: Sequence[str] = (),
        tier: str = "general",
    ) -> CallView:
        require_role(actor, "create calls", Role.MANAGER)
        check_name("call", name)
        checked_rubric = Rubric.of(rubric)
        kinds = [
            choice(OrganisationKind, "organisation kind", kind).value for kind in eligible_kinds
        ]
        for moment in (opens_at, closes_at, award_starts_at, award_ends_at):
            if moment.tzinfo is None:
                raise InvalidInput("call dates need a time zone, e.g. 2027-01-31T18:00:00+09:00")
        if closes_at <= opens_at:
            raise InvalidInput("a call must close after it opens")
        if award_ends_at <= award_starts_at:
            raise InvalidInput("the award term must end after it starts")
        if not budgets:
            raise InvalidInput("a call needs a budget on at least one pool")
        if any(not isinstance(h, int) or h <= 0 for h in budgets.values()):
            raise InvalidInput("pool budgets are whole H100e GPU-hours above zero")
        with self._sessions.begin() as session:
            if session.scalar(select(CallRow.id).where(CallRow.name == name)) is not None:
                raise Conflict(f"a call named {name!r} already exists")
            pools = {pool: repository.named(session, PoolRow, "pool", pool) for pool in budgets}
            row = CallRow(
                name=name,
                title=title,
                opens_at=opens_at,
                closes_at=closes_at,
                rubric=[
                    {"name": c.name, "weight": c.weight, "lowest": c.lowest, "highest": c.highest}
                    for c in checked_rubric.criteria
                ],
                eligible_kinds=kinds,
                tier=choice(Tier, "tier", tier).value,
                award_starts_at=award_starts_at,
                award_ends_at=award_ends_at,
                state="open",
                created_by=actor.user_id,
            )
            session.add(row)
            session.flush()
            for pool, hours in budgets.items():
                session.add(CallBudgetRow(call_id=row.id, pool_id=pools[pool].id, gpu_hours=hours))
            audit_entry(
                session,
                self._clock(),
                actor,
                "call.create",
                f"call {name}",
                {"budgets": dict(budgets)},
            )
            session.flush()
            return _call_view(session, row)

    def list_calls(self) -> list[CallView]:
        with self._sessions.begin() as session:
            return [
                _call_view(session, row)
                for row in session.scalars(select(CallRow).order_by(CallRow.id))
            ]

    def show_call(self, call: str) -> CallView:
        with self._sessions.begin() as session:
            return _call_view(session, repository.named(session, CallRow, "call", call))

    # -- proposals ---------------------------------------------------------------------------

    def create_proposal(
        self,
        actor: Actor,
        *,
        call: str,
        name: str,
        title: str,
        abstract: str,
        project: str,
        requested: Mapping[str, int],
        minimum_hours: int = 0,
        team: Sequence[str] = (),
        data_plan: str = "",
        model_plan: str = "",
    ) -> ProposalView:
        """A draft proposal by the PI of ``project``; checked against the call now."""
        check_name("proposal", name)
        for text in (abstract, data_plan, model_plan):
            if len(text) > MAX_TEXT:
                raise InvalidInput(f"proposal texts are limited to {MAX_TEXT} characters each")
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            project_row = repository.named(session, ProjectRow, "project", project)
            if project_row.pi_user_id != actor.user_id:
                raise Forbidden(f"only the PI of {project} may propose for it")
            now = self._clock()
            _check_open(call_row, now)
            organisation = session.get(OrganisationRow, project_row.organisation_id)
            assert organisation is not None
            if call_row.eligible_kinds and organisation.kind not in call_row.eligible_kinds:
                raise Forbidden(
                    f"call {call} is open to {', '.join(call_row.eligible_kinds)} organisations;"
                    f" {organisation.name} is a {organisation.kind}"
                )
            budgets = _budgets(session, call_row)
            _check_request(requested, minimum_hours, budgets)
            for member in team:
                repository.named(session, UserRow, "user", member)
            if session.scalar(
                select(ProposalRow.id).where(
                    ProposalRow.call_id == call_row.id, ProposalRow.name == name
                )
            ):
                raise Conflict(f"call {call} already has a proposal named {name!r}")
            row = ProposalRow(
                call_id=call_row.id,
                name=name,
                title=title,
                abstract=abstract,
                project_id=project_row.id,
                pi_user_id=actor.user_id,
                requested=dict(requested),
                minimum_hours=minimum_hours,
                team=list(team),
                data_plan=data_plan,
                model_plan=model_plan,
                state="draft",
                created_at=now,
                submitted_at=None,
            )
            session.add(row)
            session.flush()
            return _proposal_view(session, row)

    def update_proposal(
        self,
        actor: Actor,
        call: str,
        proposal: str,
        *,
        title: str | None = None,
        abstract: str | None = None,
        requested: Mapping[str, int] | None = None,
        minimum_hours: int | None = None,
        team: Sequence[str] | None = None,
        data_plan: str | None = None,
        model_plan: str | None = None,
    ) -> ProposalView:
        """Change a draft (its PI, before the deadline); fields not given stay as they are."""
        for text in (abstract, data_plan, model_plan):
            if text is not None and len(text) > MAX_TEXT:
                raise InvalidInput(f"proposal texts are limited to {MAX_TEXT} characters each")
        with self._sessions.begin() as session:
            call_row, row = self._proposal(session, call, proposal)
            if row.pi_user_id != actor.user_id:
                raise Forbidden(f"only the PI who wrote {proposal} may change it")
            if row.state != "draft":
                raise Conflict(f"proposal {proposal} is {row.state}; only drafts can be changed")
            _check_open(call_row, self._clock())
            new_requested = dict(requested) if requested is not None else dict(row.requested)
            new_minimum = minimum_hours if minimum_hours is not None else row.minimum_hours
            _check_request(new_requested, new_minimum, _budgets(session, call_row))
            for member in team or ():
                repository.named(session, UserRow, "user", member)
            row.requested, row.minimum_hours = new_requested, new_minimum
            if title is not None:
                row.title = title
            if abstract is not None:
                row.abstract = abstract
            if team is not None:
                row.team = list(team)
            if data_plan is not None:
                row.data_plan = data_plan
            if model_plan is not None:
                row.model_plan = model_plan
            session.flush()
            return _proposal_view(session, row)

    def submit_proposal(self, actor: Actor, call: str, proposal: str) -> ProposalView:
        with self._sessions.begin() as session:
            call_row, row = self._proposal(session, call, proposal)
            if row.pi_user_id != actor.user_id:
                raise Forbidden(f"only the PI who wrote {proposal} may submit it")
            if row.state != "draft":
                raise Conflict(f"proposal {proposal} is {row.state}, not a draft")
            now = self._clock()
            _check_open(call_row, now)
            row.state = "submitted"
            row.submitted_at = now
            audit_entry(session, now, actor, "proposal.submit", f"proposal {call}/{proposal}", {})
            return _proposal_view(session, row)

    def withdraw_proposal(self, actor: Actor, call: str, proposal: str) -> ProposalView:
        with self._sessions.begin() as session:
            _, row = self._proposal(session, call, proposal)
            if row.pi_user_id != actor.user_id:
                raise Forbidden(f"only the PI who wrote {proposal} may withdraw it")
            if row.state not in ("draft", "submitted"):
                raise Conflict(f"proposal {proposal} is {row.state}; it can no longer be withdrawn")
            row.state = "withdrawn"
            audit_entry(
                session,
                self._clock(),
                actor,
                "proposal.withdraw",
                f"proposal {call}/{proposal}",
                {},
            )
            return _proposal_view(session, row)

    def list_proposals(self, actor: Actor, call: str) -> list[ProposalView]:
        """Managers and admins see every proposal; reviewers those assigned to them; PIs theirs."""
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            rows = list(
                session.scalars(
                    select(ProposalRow)
                    .where(ProposalRow.call_id == call_row.id)
                    .order_by(ProposalRow.id)
                )
            )
            if actor.role not in (Role.ADMIN, Role.MANAGER):
                assigned = set(
                    session.scalars(
                        select(ReviewRow.proposal_id).where(
                            ReviewRow.reviewer_user_id == actor.user_id
                        )
                    )
                )
                rows = [r for r in rows if r.pi_user_id == actor.user_id or r.id in assigned]
            return [_proposal_view(session, row) for row in rows]

    # -- reviews -----------------------------------------------------------------------------

    def declare_conflict(self, actor: Actor, subject: str) -> list[str]:
        """Declare a conflict with a proposal, person or organisation (by name); all declared."""
        check_name("conflict subject", subject)
        with self._sessions.begin() as session:
            if session.get(DeclaredConflictRow, (actor.user_id, subject)) is None:
                session.add(DeclaredConflictRow(user_id=actor.user_id, subject=subject))
                audit_entry(
                    session,
                    self._clock(),
                    actor,
                    "conflict.declare",
                    f"user {actor.name}",
                    {"subject": subject},
                )
            session.flush()
            return sorted(
                session.scalars(
                    select(DeclaredConflictRow.subject).where(
                        DeclaredConflictRow.user_id == actor.user_id
                    )
                )
            )

    def declared_conflicts(self, actor: Actor) -> list[str]:
        """The subjects the caller has declared a conflict of interest with, by name."""
        with self._sessions() as session:
            return sorted(
                session.scalars(
                    select(DeclaredConflictRow.subject).where(
                        DeclaredConflictRow.user_id == actor.user_id
                    )
                )
            )

    def assign_reviewer(self, actor: Actor, call: str, proposal: str, reviewer: str) -> ReviewView:
        require_role(actor, "assign reviewers", Role.MANAGER)
        with self._sessions.begin() as session:
            _, row = self._proposal(session, call, proposal)
            if row.state != "submitted":
                raise Conflict(
                    f"proposal {proposal} is {row.state}; only submitted proposals are reviewed"
                )
            user = repository.named(session, UserRow, "user", reviewer)
            if user.role != Role.REVIEWER.value:
                raise InvalidInput(f"{reviewer} is a {user.role}, not a reviewer")
            reason = conflict(_reviewer_facts(session, user), _proposal_facts(session, row))
            if reason is not None:
                raise Conflict(f"conflict of interest: {reason}")
            if session.scalar(
                select(ReviewRow.id).where(
                    ReviewRow.proposal_id == row.id, ReviewRow.reviewer_user_id == user.id
                )
            ):
                raise Conflict(f"{reviewer} already reviews {proposal}")
            review = ReviewRow(
                proposal_id=row.id,
                reviewer_user_id=user.id,
                scores=None,
                comment="",
                assigned_at=self._clock(),
                submitted_at=None,
            )
            session.add(review)
            audit_entry(
                session,
                self._clock(),
                actor,
                "review.assign",
                f"proposal {call}/{proposal}",
                {"reviewer": reviewer},
            )
            session.flush()
            return _review_view(session, review)

    def submit_review(
        self, actor: Actor, call: str, proposal: str, scores: Mapping[str, int], comment: str = ""
    ) -> ReviewView:
        with self._sessions.begin() as session:
            call_row, row = self._proposal(session, call, proposal)
            review = session.scalar(
                select(ReviewRow).where(
                    ReviewRow.proposal_id == row.id, ReviewRow.reviewer_user_id == actor.user_id
                )
            )
            if review is None:
                raise Forbidden(f"you are not assigned to review {proposal}")
            if call_row.state != "open":
                raise Conflict(f"call {call} is {call_row.state}; reviews are closed")
            review.scores = _rubric(call_row).check(scores)
            review.comment = comment[:MAX_TEXT]
            review.submitted_at = self._clock()
            session.flush()
            return _review_view(session, review)

    def reviews(self, actor: Actor, call: str) -> list[ReviewView]:
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            query = (
                select(ReviewRow)
                .join(ProposalRow, ProposalRow.id == ReviewRow.proposal_id)
                .where(ProposalRow.call_id == call_row.id)
                .order_by(ReviewRow.id)
            )
            if actor.role not in (Role.ADMIN, Role.MANAGER):
                query = query.where(ReviewRow.reviewer_user_id == actor.user_id)
            return [_review_view(session, review) for review in session.scalars(query)]

    # -- decisions ---------------------------------------------------------------------------

    def ranking(self, actor: Actor, call: str) -> list[RankedProposal]:
        require_role(actor, "see rankings", Role.MANAGER)
        with self._sessions.begin() as session:
            return self._ranking(session, repository.named(session, CallRow, "call", call))

    def propose_awards(self, actor: Actor, call: str) -> AwardProposal:
        require_role(actor, "propose awards", Role.MANAGER)
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            ranked = self._ranking(session, call_row)
            return _plan(
                call_row.name,
                _budgets(session, call_row),
                ranked,
                self._minimums(session, call_row),
            )

    def decide_awards(
        self,
        actor: Actor,
        call: str,
        overrides: Mapping[str, tuple[Mapping[str, int], str]] | None = None,
    ) -> list[AwardView]:
        """Turn the optimiser's plan (with any overrides: proposal -> (granted, reason)) into
        allocations, and close the call. Overrides must still fit the pool budgets."""
        require_role(actor, "decide awards", Role.MANAGER)
        overrides = dict(overrides or {})
        now = self._clock()
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            if call_row.state != "open":
                raise Conflict(f"call {call} is already {call_row.state}")
            if now < call_row.closes_at:
                raise Conflict(
                    f"call {call} closes at {call_row.closes_at.isoformat()}; decide after"
                )
            budgets = _budgets(session, call_row)
            ranked = self._ranking(session, call_row)
            plan = _plan(call, budgets, ranked, self._minimums(session, call_row))
            submitted = {
                row.name: row
                for row in session.scalars(
                    select(ProposalRow).where(
                        ProposalRow.call_id == call_row.id, ProposalRow.state == "submitted"
                    )
                )
            }
            unknown = sorted(set(overrides) - set(submitted))
            if unknown:
                raise NotFound(f"no submitted proposal named {', '.join(unknown)} in call {call}")
            final: dict[str, tuple[dict[str, int], str, str]] = {}
            for name in submitted:
                if name in overrides:
                    granted, reason = overrides[name]
                    if not reason.strip():
                        raise InvalidInput(f"an override of {name} needs a reason")
                    _check_request(granted, 0, budgets)
                    final[name] = ({p: h for p, h in granted.items() if h > 0}, "override", reason)
                else:
                    final[name] = (plan.granted.get(name, {}), "optimiser", "")
            totals: dict[str, int] = {}
            for granted, _, _ in final.values():
                for pool, hours in granted.items():
                    totals[pool] = totals.get(pool, 0) + hours
            over = [
                f"{pool} ({hours} > {budgets[pool]})"
                for pool, hours in totals.items()
                if hours > budgets[pool]
            ]
            if over:
                raise InvalidInput(f"these awards exceed the call's budget on {', '.join(over)}")
            scores = {r.proposal: r.score for r in ranked}
            views = []
            for name, (granted, source, reason) in final.items():
                row = submitted[name]
                allocation_id = None
                if granted:
                    allocation = AllocationRow(
                        project_id=row.project_id,
                        awarded_units=sum(granted.values()) * H100E_UNITS_PER_GPU_HOUR,
                        starts_at=call_row.award_starts_at,
                        ends_at=call_row.award_ends_at,
                        tier=call_row.tier,
                        note=f"call {call}, proposal {name}",
                    )
                    session.add(allocation)
                    session.flush()
                    for pool in granted:
                        pool_row = repository.named(session, PoolRow, "pool", pool)
                        session.add(
                            AllocationPoolRow(allocation_id=allocation.id, pool_id=pool_row.id)
                        )
                    allocation_id = allocation.id
                row.state = "awarded" if granted else "declined"
                decision = AwardDecisionRow(
                    call_id=call_row.id,
                    proposal_id=row.id,
                    granted=granted,
                    source=source,
                    reason=reason,
                    score=scores.get(name),
                    decided_by=actor.user_id,
                    decided_at=now,
                    allocation_id=allocation_id,
                )
                session.add(decision)
                audit_entry(
                    session,
                    now,
                    actor,
                    "award.override" if source == "override" else "award.decide",
                    f"proposal {call}/{name}",
                    {"granted": granted, "reason": reason, "optimiser": plan.granted.get(name, {})},
                )
                views.append(
                    AwardView(name, granted, source, reason, scores.get(name), allocation_id)
                )
            call_row.state = "decided"
            return views

    def awards(self, actor: Actor, call: str) -> list[AwardView]:
        """The call's decided awards: all of them for managers and admins; for anyone else only
        those to projects they lead or belong to (another team's award is its own business)."""
        with self._sessions.begin() as session:
            call_row = repository.named(session, CallRow, "call", call)
            query = (
                select(AwardDecisionRow, ProposalRow.name)
                .join(ProposalRow, ProposalRow.id == AwardDecisionRow.proposal_id)
                .where(AwardDecisionRow.call_id == call_row.id)
                .order_by(AwardDecisionRow.id)
            )
            if actor.role is not Role.MANAGER:
                visible = visible_project_ids(session, actor)
                if visible is not None:
                    query = query.where(ProposalRow.project_id.in_(visible))
            rows = session.execute(query).all()
            return [
                AwardView(
                    name, dict(row.granted), row.source, row.reason, row.score, row.allocation_id
                )
                for row, name in rows
            ]

    def audit(self, actor: Actor, limit: int = 100) -> list[dict[str, Any]]:
        require_role(actor, "read the audit log", Role.MANAGER)
        with self._sessions.begin() as session:
            rows = session.execute(
                select(AuditRow, UserRow.name)
                .outerjoin(UserRow, UserRow.id == AuditRow.actor_user_id)
                .order_by(AuditRow.id.desc())
                .limit(limit)
            ).all()
            return [
                {
                    "at": row.at,
                    "actor": name,
                    "action": row.action,
                    "subject": row.subject,
                    "detail": row.detail,
                }
                for row, name in rows
            ]

    # -- helpers -----------------------------------------------------------------------------

    def _proposal(self, session: Session, call: str, proposal: str) -> tuple[CallRow, ProposalRow]:
        call_row = repository.named(session, CallRow, "call", call)
        row = session.scalar(
            select(ProposalRow).where(
                ProposalRow.call_id == call_row.id, ProposalRow.name == proposal
            )
        )
        if row is None:
            raise NotFound(f"call {call} has no proposal named {proposal!r}")
        return call_row, row

    def _ranking(self, session: Session, call_row: CallRow) -> list[RankedProposal]:
        rubric = _rubric(call_row)
        rows = session.execute(
            select(ReviewRow, ProposalRow.name, UserRow.name)
            .join(ProposalRow, ProposalRow.id == ReviewRow.proposal_id)
            .join(UserRow, UserRow.id == ReviewRow.reviewer_user_id)
            .where(
                ProposalRow.call_id == call_row.id,
                ProposalRow.state.in_(("submitted", "awarded", "declined")),
                ReviewRow.scores.is_not(None),
            )
        ).all()
        totals = [
            ReviewTotal(reviewer, proposal, rubric.total(review.scores or {}))
            for review, proposal, reviewer in rows
        ]
        scores = normalised_scores(totals)
        counts: dict[str, int] = {}
        for total in totals:
            counts[total.proposal] = counts.get(total.proposal, 0) + 1
        requested = {
            row.name: dict(row.requested)
            for row in session.scalars(
                select(ProposalRow).where(ProposalRow.call_id == call_row.id)
            )
        }
        return [
            RankedProposal(rank, name, scores[name], counts[name], requested[name])
            for rank, name in enumerate(ranking(scores), start=1)
        ]

    def _minimums(self, session: Session, call_row: CallRow) -> dict[str, int]:
        return {
            row.name: row.minimum_hours
            for row in session.scalars(
                select(ProposalRow).where(ProposalRow.call_id == call_row.id)
            )
        }


# -- module helpers -----------------------------------------------------------------------------


def require_role(actor: Actor, action: str, role: Role) -> None:
    if actor.role not in (Role.ADMIN, role):
        raise Forbidden(
            f"only a {role} or an admin may {action}; you are {actor.name} ({actor.role})"
        )


def _check_open(call_row: CallRow, now: datetime) -> None:
    if now < call_row.opens_at:
        raise Conflict(f"call {call_row.name} opens at {call_row.opens_at.isoformat()}")
    if now >= call_row.closes_at or call_row.state != "open":
        raise Conflict(
            f"call {call_row.name} closed at {call_row.closes_at.isoformat()}; late proposals are"
            " not accepted"
        )


def _budgets(session: Session, call_row: CallRow) -> dict[str, int]:
    rows = session.execute(
        select(PoolRow.name, CallBudgetRow.gpu_hours)
        .join(PoolRow, PoolRow.id == CallBudgetRow.pool_id)
        .where(CallBudgetRow.call_id == call_row.id)
    )
    return dict(iter(rows))


def _check_request(requested: Mapping[str, int], minimum: int, budgets: Mapping[str, int]) -> None:
    if not requested:
        raise InvalidInput("ask for GPU-hours on at least one pool")
    unknown = sorted(set(requested) - set(budgets))
    if unknown:
        raise InvalidInput(
            f"the call funds only {', '.join(sorted(budgets))}; not {', '.join(unknown)}"
        )
    for pool, hours in requested.items():
        if isinstance(hours, bool) or not isinstance(hours, int) or hours < 0:
            raise InvalidInput(f"GPU-hours on {pool} must be a whole number, zero or more")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
        raise InvalidInput("the minimum viable amount must be a whole number of GPU-hours")
    if minimum > sum(requested.values()):
        raise InvalidInput("the minimum viable amount cannot exceed what is requested")


def _rubric(call_row: CallRow) -> Rubric:
    return Rubric.of(call_row.rubric)


def _plan(
    call: str,
    budgets: dict[str, int],
    ranked: Sequence[RankedProposal],
    minimums: Mapping[str, int],
) -> AwardProposal:
    """Weights: normalised scores shifted so the lowest-ranked reviewed proposal weighs 1 and
    each z-score above it adds 1 (z-scores themselves can be negative)."""
    if not ranked:
        return AwardProposal(call, budgets, {}, {}, True)
    lowest = min(r.score for r in ranked)
    weights = {r.proposal: 1.0 + (r.score - lowest) for r in ranked}
    plan: AwardPlan = optimise_awards(
        [
            AwardRequest(r.proposal, weights[r.proposal], r.requested, minimums.get(r.proposal, 0))
            for r in ranked
        ],
        budgets,
    )
    return AwardProposal(call, budgets, plan.granted, weights, plan.optimal)


def _reviewer_facts(session: Session, user: UserRow) -> ReviewerFacts:
    organisation = (
        None if user.organisation_id is None else session.get(OrganisationRow, user.organisation_id)
    )
    declared = frozenset(
        session.scalars(
            select(DeclaredConflictRow.subject).where(DeclaredConflictRow.user_id == user.id)
        )
    )
    return ReviewerFacts(user.name, None if organisation is None else organisation.name, declared)


def _proposal_facts(session: Session, row: ProposalRow) -> ProposalFacts:
    project = session.get(ProjectRow, row.project_id)
    assert project is not None
    organisation = session.get(OrganisationRow, project.organisation_id)
    pi = session.get(UserRow, row.pi_user_id)
    assert organisation is not None and pi is not None
    return ProposalFacts(row.name, organisation.name, pi.name, tuple(row.team))


def _call_view(session: Session, row: CallRow) -> CallView:
    proposals = len(
        list(session.scalars(select(ProposalRow.id).where(ProposalRow.call_id == row.id)))
    )
    return CallView(
        name=row.name,
        title=row.title,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        budgets=_budgets(session, row),
        rubric=list(row.rubric),
        eligible_kinds=list(row.eligible_kinds),
        tier=row.tier,
        award_starts_at=row.award_starts_at,
        award_ends_at=row.award_ends_at,
        state=row.state,
        proposals=proposals,
    )


def _proposal_view(session: Session, row: ProposalRow) -> ProposalView:
    call = session.get(CallRow, row.call_id)
    project = session.get(ProjectRow, row.project_id)
    pi = session.get(UserRow, row.pi_user_id)
    assert call is not None and project is not None and pi is not None
    organisation = session.get(OrganisationRow, project.organisation_id)
    assert organisation is not None
    reviews = list(session.scalars(select(ReviewRow).where(ReviewRow.proposal_id == row.id)))
    return ProposalView(
        call=call.name,
        name=row.name,
        title=row.title,
        abstract=row.abstract,
        project=project.name,
        pi=pi.name,
        organisation=organisation.name,
        requested=dict(row.requested),
        minimum_hours=row.minimum_hours,
        team=list(row.team),
        data_plan=row.data_plan,
        model_plan=row.model_plan,
        state=row.state,
        submitted_at=row.submitted_at,
        reviews_assigned=len(reviews),
        reviews_submitted=sum(1 for r in reviews if r.scores is not None),
    )


def _review_view(session: Session, review: ReviewRow) -> ReviewView:
    proposal = session.get(ProposalRow, review.proposal_id)
    assert proposal is not None
    call = session.get(CallRow, proposal.call_id)
    reviewer = session.get(UserRow, review.reviewer_user_id)
    assert call is not None and reviewer is not None
    total = None if review.scores is None else _rubric(call).total(review.scores)
    return ReviewView(
        call=call.name,
        proposal=proposal.name,
        reviewer=reviewer.name,
        scores=None if review.scores is None else dict(review.scores),
        total=total,
        comment=review.comment,
        submitted_at=review.submitted_at,
    )
