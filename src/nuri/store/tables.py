"""Database tables. Columns hold integers for every quantity the ledger sums."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime, int: Integer}


class HubRow(Base):
    __tablename__ = "hubs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(32))


class PoolRow(Base):
    __tablename__ = "pools"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("hubs.id"))
    accelerator: Mapped[str] = mapped_column(String(32))
    nodes: Mapped[int]
    devices_per_node: Mapped[int]
    rate_milli: Mapped[int]
    krw_per_device_hour: Mapped[int]
    max_time_limit_s: Mapped[int]


class OrganisationRow(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))


class TokenRow(Base):
    """An API token. Only its SHA-256 digest is kept; the token itself is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    """After this moment the token no longer signs anyone in (e.g. a student's, at term end)."""


class IdempotencyKeyRow(Base):
    """A request carried out under a client's ``Idempotency-Key``, and the answer it got.

    The row is written in the same transaction as the request's first write, so a key is claimed
    exactly when the work it stands for commits. The answer is stored just after, so a retry gets
    the same answer; it is missing only if the server died between the two.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(100))
    request: Mapped[str] = mapped_column(String(300))
    """Method and path, e.g. ``POST /api/v1/jobs``: named in the error when a key is reused."""
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the method, path, query and canonical body."""
    created_at: Mapped[datetime] = mapped_column(index=True)
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)


class AnalysisRow(Base):
    """A forecast or capacity plan worked out for one hour of history, as JSON."""

    __tablename__ = "analyses"
    __table_args__ = (
        UniqueConstraint("kind", "subject", "parameter", "as_of", name="uq_analyses_kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``forecast`` or ``plan``."""
    subject: Mapped[str] = mapped_column(String(100))
    """A series name (``pool:h100-ksc``) for a forecast; a pool's name for a plan."""
    parameter: Mapped[str] = mapped_column(String(16))
    """The horizon of a forecast (``2d``); the p90-wait target of a plan (``1h``)."""
    as_of: Mapped[datetime] = mapped_column(index=True)
    """The hour the history it was made from ends."""
    computed_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(Text)


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    pi_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class ProjectMemberRow(Base):
    __tablename__ = "project_members"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class AllocationRow(Base):
    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    awarded_units: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    tier: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")


class AllocationPoolRow(Base):
    __tablename__ = "allocation_pools"
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), primary_key=True)


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("submitted_by", "idempotency_key", name="uq_jobs_submitted_by_key"),
        Index("ix_jobs_state_pool", "state", "pool_id"),
        # The run-time history reads the latest ended jobs every scheduling cycle: without this
        # index it sorts every job that ever ended, each time.
        Index("ix_jobs_ended_at_id", "ended_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    """The pool named at submission, or (for an accelerator-class job) the one it runs on."""
    accelerator: Mapped[str | None] = mapped_column(String(64))
    """For a job that asked for an accelerator class instead of a pool (e.g. ``H100``)."""
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    command: Mapped[list[str]] = mapped_column(JSON)
    workdir: Mapped[str | None] = mapped_column(Text)
    devices: Mapped[int]
    time_limit_s: Mapped[int]
    hold_units: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(default=0)
    attained_device_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    submitted_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    node: Mapped[str | None] = mapped_column(String(100))
    device_indices: Mapped[list[int]] = mapped_column(JSON, default=list)
    exit_code: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    preemptible: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """The submitter accepts preemption (SIGTERM, a grace period, requeue with its checkpoint)."""


class LedgerEntryRow(Base):
    """One charge. The unique key makes a second charge for the same attempt impossible."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("job_id", "attempt", name="uq_ledger_entries_job_attempt"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    attempt: Mapped[int]
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"))
    devices: Mapped[int]
    seconds: Mapped[int] = mapped_column(BigInteger)
    h100e_units: Mapped[int] = mapped_column(BigInteger)
    cost_krw: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class ReservationRow(Base):
    """Whole nodes of a pool held for a long-running service between two moments.

    ``wanted`` is how many of the reserved devices the service needs now (its operator or the
    service itself keeps it current); the scheduler keeps that many free for it and lends the
    rest to preemptible jobs.
    """

    __tablename__ = "reservations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"))
    nodes: Mapped[int]
    wanted: Mapped[int]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class LeaseRow(Base):
    """A named lease: whoever holds it unexpired is the one instance doing that work."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]


class SettingRow(Base):
    """Small facts about this commons' database (e.g. that the demo was seeded)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# -- allocation programmes ---------------------------------------------------------------------


class CallRow(Base):
    """A call for proposals: budgets per pool, eligibility, dates, a rubric and the award term."""

    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    rubric: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    eligible_kinds: Mapped[list[str]] = mapped_column(JSON)
    """Organisation kinds that may propose; empty means every kind."""
    tier: Mapped[str] = mapped_column(String(32))
    """The priority tier of the allocations it awards."""
    award_starts_at: Mapped[datetime]
    award_ends_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class CallBudgetRow(Base):
    __tablename__ = "call_budgets"
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), primary_key=True)
    gpu_hours: Mapped[int]
    """Whole H100e GPU-hours the call may award on the pool."""


class ProposalRow(Base):
    __tablename__ = "proposals"
    __table_args__ = (UniqueConstraint("call_id", "name", name="uq_proposals_call_id_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    abstract: Mapped[str] = mapped_column(Text)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    pi_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested: Mapped[dict[str, int]] = mapped_column(JSON)
    """Pool name -> whole H100e GPU-hours asked for."""
    minimum_hours: Mapped[int]
    team: Mapped[list[str]] = mapped_column(JSON)
    data_plan: Mapped[str] = mapped_column(Text)
    model_plan: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]


class ReviewRow(Base):
    """A reviewer assigned to a proposal, and (once submitted) their rubric scores."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("proposal_id", "reviewer_user_id", name="uq_reviews_proposal_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    reviewer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # none_as_null: "not scored yet" must be SQL NULL, which queries can test, not JSON null.
    scores: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True))
    comment: Mapped[str] = mapped_column(Text, default="")
    assigned_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]


class DeclaredConflictRow(Base):
    """A reviewer's declared conflict with a proposal, a person or an organisation (by name)."""

    __tablename__ = "declared_conflicts"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(63), primary_key=True)


class AwardDecisionRow(Base):
    """What a proposal was awarded, by the optimiser or by a manager's override (with reason)."""

    __tablename__ = "award_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    granted: Mapped[dict[str, int]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float | None]
    decided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime]
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"))


class AuditRow(Base):
    """An append-only record of a decision: who did what to which subject, and why."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(63))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class StageRow(Base):
    """A stage of a staged competition: its end, its evaluation task, and how its gate decides."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("call_id", "number", name="uq_stages_call_id_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(63))
    ends_at: Mapped[datetime]
    metric: Mapped[str] = mapped_column(String(63))
    higher_is_better: Mapped[bool] = mapped_column(Boolean)
    top_k: Mapped[int | None]
    threshold: Mapped[float | None]
    task_command: Mapped[list[str]] = mapped_column(JSON)
    """The evaluation command; the URI of the team's registered model is appended to it."""
    task_pool: Mapped[str] = mapped_column(String(63))
    task_gpus: Mapped[int]
    task_time_limit_s: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    gated_at: Mapped[datetime | None]


class EvaluationRunRow(Base):
    """A team's evaluation: a job on the commons, and the metrics it printed as JSON."""

    __tablename__ = "evaluation_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    model: Mapped[str] = mapped_column(String(200))
    metrics: Mapped[dict[str, float] | None] = mapped_column(JSON(none_as_null=True))
    problem: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime]


class CatalogueEntryRow(Base):
    """A model or dataset a team registered, with its licence, provenance and visibility."""

    __tablename__ = "catalogue_entries"
    __table_args__ = (
        UniqueConstraint("kind", "name", "version", name="uq_catalogue_entries_kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    licence: Mapped[str] = mapped_column(String(100))
    provenance: Mapped[str] = mapped_column(Text)
    uri: Mapped[str] = mapped_column(String(500))
    visibility: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    """For programme visibility: the call whose participants may see it."""
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class PurchaseRow(Base):
    """A public agency's use of a team's premium model, recorded in whole won. The reference
    (e.g. a contract number) is unique, so recording a purchase twice records it once."""

    __tablename__ = "purchases"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entries.id"), index=True)
    buyer_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    krw: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    purpose: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class CourseRow(Base):
    """A classroom programme: an instructor's course project, its term and per-student cap."""

    __tablename__ = "courses"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), unique=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    """The course allocation that student allocations are carved from."""
    cap_units: Mapped[int] = mapped_column(BigInteger)
    """Each student's own allocation, in H100e units."""
    term_ends_at: Mapped[datetime]


class CourseStudentRow(Base):
    __tablename__ = "course_students"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))


class WebSessionRow(Base):
    """A browser signed in to the web portal with an API token.

    Only the SHA-256 digest of the session id (the cookie's value) is kept, so a copy of the
    database signs nobody in. A session ends at ``expires_at``, at sign-out (the row is deleted),
    or as soon as the API token it was opened with is revoked or expires.
    """

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    """Sent back in a hidden field of every form; a POST without it is refused."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SignInFailureRow(Base):
    """A failed sign-in (a bearer token or the portal's form), keyed by the client's address only:
    never by a user name or token, so the table cannot tell whether an account exists. Rows older
    than the limit's window are pruned whenever a failure is recorded."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_client_address_at", "client_address", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
