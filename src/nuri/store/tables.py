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
