"""Reading rows as domain values, and the lookups every use case needs. Nothing here commits."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.selectable import ScalarSelect

from nuri.domain.cluster_spec import PoolSpec
from nuri.domain.commons import (
    Allocation,
    Hub,
    HubOperator,
    Organisation,
    OrganisationKind,
    Pool,
    Project,
    ResearchField,
    Role,
    Tier,
    User,
)
from nuri.domain.errors import NotFound
from nuri.domain.jobs import ACTIVE_STATES, Job, JobState
from nuri.domain.ledger import Balance, Charge
from nuri.store.tables import (
    AllocationPoolRow,
    AllocationRow,
    CallRow,
    HubRow,
    JobRow,
    LedgerEntryRow,
    OrganisationRow,
    PoolRow,
    ProjectMemberRow,
    ProjectRow,
    ReservationRow,
    UserRow,
)


def hub_of(row: HubRow) -> Hub:
    return Hub(id=row.id, name=row.name, title=row.title, operator=HubOperator(row.operator))


def pool_of(row: PoolRow) -> Pool:
    return Pool(
        id=row.id,
        name=row.name,
        hub_id=row.hub_id,
        accelerator=row.accelerator,
        nodes=row.nodes,
        devices_per_node=row.devices_per_node,
        rate_milli=row.rate_milli,
        krw_per_device_hour=row.krw_per_device_hour,
        max_time_limit_s=row.max_time_limit_s,
    )


def organisation_of(row: OrganisationRow) -> Organisation:
    return Organisation(id=row.id, name=row.name, title=row.title, kind=OrganisationKind(row.kind))


def user_of(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        role=Role(row.role),
        organisation_id=row.organisation_id,
    )


def project_of(session: Session, row: ProjectRow) -> Project:
    members = session.scalars(
        select(ProjectMemberRow.user_id).where(ProjectMemberRow.project_id == row.id)
    )
    return Project(
        id=row.id,
        name=row.name,
        title=row.title,
        field=ResearchField(row.field),
        organisation_id=row.organisation_id,
        pi_user_id=row.pi_user_id,
        member_ids=frozenset(members),
    )


def pool_spec_of(row: PoolRow, hub: str) -> PoolSpec:
    """A stored pool as the simulator's and planner's cluster spec sees it, at hub ``hub``."""
    return PoolSpec(
        pool_id=row.id,
        hub=hub,
        name=row.name,
        accelerator=row.accelerator,
        nodes=row.nodes,
        devices_per_node=row.devices_per_node,
        rate_milli=row.rate_milli,
        krw_per_device_hour=row.krw_per_device_hour,
    )


def allocation_of(session: Session, row: AllocationRow) -> Allocation:
    pools = session.scalars(
        select(AllocationPoolRow.pool_id).where(AllocationPoolRow.allocation_id == row.id)
    )
    return _allocation(row, pools)


def _allocation(row: "AllocationRow | _AllocationTerms", pools: Iterable[int]) -> Allocation:
    """From a mapped row, or a row of its columns by the same names."""
    return Allocation(
        id=row.id,
        project_id=row.project_id,
        awarded_units=row.awarded_units,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        tier=Tier(row.tier),
        pool_ids=frozenset(pools),
    )


def job_of(row: JobRow) -> Job:
    return Job(
        id=row.id,
        name=row.name,
        project_id=row.project_id,
        allocation_id=row.allocation_id,
        pool_id=row.pool_id,
        submitted_by=row.submitted_by,
        command=tuple(row.command),
        workdir=row.workdir,
        devices=row.devices,
        time_limit_s=row.time_limit_s,
        state=JobState(row.state),
        attempt=row.attempt,
        submitted_at=row.submitted_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        node=row.node,
        device_indices=tuple(row.device_indices or ()),
        exit_code=row.exit_code,
        reason=row.reason,
        cancel_requested=row.cancel_requested,
        attained_device_seconds=row.attained_device_seconds,
    )


def charge_of(row: LedgerEntryRow) -> Charge:
    return Charge(
        job_id=row.job_id,
        attempt=row.attempt,
        allocation_id=row.allocation_id,
        pool_id=row.pool_id,
        devices=row.devices,
        seconds=row.seconds,
        h100e_units=row.h100e_units,
        cost_krw=row.cost_krw,
    )


RowT = TypeVar("RowT", HubRow, PoolRow, OrganisationRow, UserRow, ProjectRow, CallRow)


def named(session: Session, table: type[RowT], kind: str, name: str) -> RowT:
    """The row called ``name`` or NotFound saying which kind of thing is missing."""
    row = session.scalar(select(table).where(table.name == name))
    if row is None:
        raise NotFound(f"no {kind} named {name!r}")
    return row


def _active_names() -> list[str]:
    return [state.value for state in ACTIVE_STATES]


def _balance_sums() -> Select[int, int, int, int]:
    """Per allocation id in ``ids``: units charged, KRW charged, units held by active jobs."""

    def charged(column: InstrumentedAttribute[int]) -> ScalarSelect[int]:
        return (
            select(func.coalesce(func.sum(column), 0))
            .where(LedgerEntryRow.allocation_id == AllocationRow.id)
            .correlate(AllocationRow)
            .scalar_subquery()
        )

    held = (
        select(func.coalesce(func.sum(JobRow.hold_units), 0))
        .where(JobRow.allocation_id == AllocationRow.id, JobRow.state.in_(_active_names()))
        .correlate(AllocationRow)
        .scalar_subquery()
    )
    return select(
        AllocationRow.id,
        charged(LedgerEntryRow.h100e_units),
        charged(LedgerEntryRow.cost_krw),
        held,
    ).where(AllocationRow.id.in_(bindparam("ids", expanding=True)))


# Built once: submissions read balances thousands of times a second, and building a statement
# costs more than running it (the database caches its compiled form by the statement object).
# They select columns, not mapped objects, so they run on the session's connection: the ORM's
# result handling would add nothing but its cost (5-12 % of the API's CPU per submission with
# the queue position's count, measured in interleaved pairs).
_BALANCE_SUMS = _balance_sums()
# Each allocation of a project with each of its pools, one row per pair (an allocation with no
# pools comes once, with NULL): admission reads both on every submission, in one round trip.
_PROJECT_ALLOCATIONS = (
    select(
        AllocationRow.id,
        AllocationRow.project_id,
        AllocationRow.awarded_units,
        AllocationRow.starts_at,
        AllocationRow.ends_at,
        AllocationRow.tier,
        AllocationPoolRow.pool_id,
    )
    .outerjoin(AllocationPoolRow, AllocationPoolRow.allocation_id == AllocationRow.id)
    .where(AllocationRow.project_id.in_(bindparam("project_ids", expanding=True)))
    .order_by(AllocationRow.id)
)
# Rows are locked in the order of their ids, whichever projects a transaction asks for, so that
# two transactions locking some of the same projects' allocations cannot deadlock.
_PROJECT_ALLOCATIONS_LOCKED = _PROJECT_ALLOCATIONS.with_for_update(of=AllocationRow)
_AllocationTerms = Row[int, int, int, datetime, datetime, str, int]
"""A row of :data:`_PROJECT_ALLOCATIONS`: an allocation's columns by name, and one of its pools."""


def allocation_balances(
    session: Session, allocations: Sequence[Allocation]
) -> list[tuple[Allocation, Balance]]:
    """Each allocation with its balance: charges from the ledger, holds from its active jobs.

    The ledger's integer columns are summed by the database (the same sums ``balance_of`` makes
    of the charges, without loading a year of them into memory on every submission), charges and
    holds in one statement.
    """
    if not allocations:
        return []
    sums = {
        int(allocation_id): (int(units), int(won), int(held))
        for allocation_id, units, won, held in session.connection().execute(
            _BALANCE_SUMS, {"ids": [allocation.id for allocation in allocations]}
        )
    }
    return [
        (
            allocation,
            Balance(
                awarded_units=allocation.awarded_units,
                charged_units=sums.get(allocation.id, (0, 0, 0))[0],
                held_units=sums.get(allocation.id, (0, 0, 0))[2],
                cost_krw=sums.get(allocation.id, (0, 0, 0))[1],
            ),
        )
        for allocation in allocations
    ]


def project_allocations(
    session: Session, project_id: int, *, lock: bool = False
) -> list[Allocation]:
    """The project's allocations, oldest first; with ``lock``, their rows are locked (PostgreSQL)
    until the transaction ends, so that concurrent submissions see each other's holds."""
    return projects_allocations(session, [project_id], lock=lock).get(project_id, [])


def projects_allocations(
    session: Session, project_ids: Iterable[int], *, lock: bool = False
) -> dict[int, list[Allocation]]:
    """Each of the projects' allocations, oldest first, by project (a project with none is
    missing), in one statement; with ``lock``, as :func:`project_allocations`."""
    query = _PROJECT_ALLOCATIONS_LOCKED if lock else _PROJECT_ALLOCATIONS
    terms: dict[int, _AllocationTerms] = {}
    pools: dict[int, set[int]] = {}
    rows = session.connection().execute(query, {"project_ids": sorted(set(project_ids))})
    for row in rows:  # one per allocation and pool, ordered by allocation
        terms[row.id] = row
        pools.setdefault(row.id, set())
        if row.pool_id is not None:
            pools[row.id].add(row.pool_id)
    allocations: dict[int, list[Allocation]] = {}
    for allocation_id, row in terms.items():
        allocations.setdefault(row.project_id, []).append(_allocation(row, pools[allocation_id]))
    return allocations


def busy_devices(session: Session, pool_ids: Iterable[int] | None = None) -> dict[str, set[int]]:
    """Device indices held by RUNNING jobs, per node name."""
    query = select(JobRow.node, JobRow.device_indices).where(JobRow.state == JobState.RUNNING.value)
    if pool_ids is not None:
        query = query.where(JobRow.pool_id.in_(list(pool_ids)))
    busy: dict[str, set[int]] = {}
    for node, indices in session.execute(query):
        if node is not None:
            busy.setdefault(node, set()).update(indices or ())
    return busy


def reserved_nodes(session: Session) -> dict[str, int]:
    """Node name -> id of the reservation that holds it: each reservation takes the next whole
    nodes of its pool, in the order reservations were made (the simulator does the same)."""
    owners: dict[str, int] = {}
    taken: dict[int, int] = {}
    pools = {row.id: row for row in session.scalars(select(PoolRow))}
    for row in session.scalars(select(ReservationRow).order_by(ReservationRow.id)):
        pool = pool_of(pools[row.pool_id])
        start = taken.get(row.pool_id, 0)
        for name in pool.node_names()[start : start + row.nodes]:
            owners[name] = row.id
        taken[row.pool_id] = start + row.nodes
    return owners
