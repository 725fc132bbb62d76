"""The commons' directory: hubs, pools, organisations, users, their tokens, projects and
allocations.

Creating any of these is an admin's job, except that a project's PI may add members to it and
users may issue, list and revoke their own tokens. Listings show everyone the hubs and pools;
projects and allocations only where the caller is involved (admins see all). Every change is
written to the audit log in the transaction that makes it.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import (
    DEFAULT_MAX_TIME_LIMIT_S,
    Allocation,
    HubOperator,
    OrganisationKind,
    ResearchField,
    Role,
    Tier,
    accelerator_named,
    check_name,
    check_pool_shape,
)
from nuri.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from nuri.domain.jobs import JobState
from nuri.domain.ledger import Balance
from nuri.domain.units import (
    format_exchange_rate,
    parse_exchange_rate,
    parse_gpu_hours,
    round_hours,
)
from nuri.service.access import require_admin, visible_project_ids
from nuri.service.audit import audit_entry
from nuri.service.auth import Actor, new_token, token_digest
from nuri.service.views import (
    AllocationView,
    HubView,
    IssuedToken,
    OrganisationView,
    PoolView,
    ProjectView,
    ReservationView,
    TokenView,
    UserView,
)
from nuri.store import repository
from nuri.store.database import joined_or_new
from nuri.store.tables import (
    AllocationPoolRow,
    AllocationRow,
    HubRow,
    JobRow,
    OrganisationRow,
    PoolRow,
    ProjectMemberRow,
    ProjectRow,
    ReservationRow,
    TokenRow,
    UserRow,
)

# Every API request signs in with this statement (through nuri.service.sign_in): built once, so
# its compiled form is reused. Parameters: ``digest`` (of the token) and ``now``.
TOKEN_OWNER = (
    select(UserRow.id, UserRow.name, UserRow.role)
    .join(TokenRow, TokenRow.user_id == UserRow.id)
    .where(
        TokenRow.digest == bindparam("digest"),
        TokenRow.revoked_at.is_(None),
        or_(TokenRow.expires_at.is_(None), TokenRow.expires_at > bindparam("now")),
    )
)

EnumT = TypeVar("EnumT", bound=StrEnum)
MAX_TOKEN_DAYS = 3650


def choice(enum: type[EnumT], kind: str, value: str) -> EnumT:
    """``enum(value)``, or InvalidInput listing the allowed values."""
    try:
        return enum(value)
    except ValueError:
        options = ", ".join(member.value for member in enum)
        raise InvalidInput(f"{kind} {value!r} is not one of: {options}") from None


class Directory:
    """Use cases for the commons' standing entities. One transaction per method."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    # -- authentication -------------------------------------------------------------------

    def actor_for_token(self, token: str, session: Session | None = None) -> Actor | None:
        """The user a bearer token belongs to, or None if it is unknown, revoked or expired
        (looked up in ``session``'s transaction if one is given)."""
        with joined_or_new(self._sessions, session) as session:
            row = session.execute(
                TOKEN_OWNER, {"digest": token_digest(token), "now": self._clock()}
            ).one_or_none()
            if row is None:
                return None
            user_id, name, role = row
            return Actor(user_id=user_id, name=name, role=Role(role))

    def issue_token(
        self, actor: Actor, user: str, label: str = "cli", expires_in_days: int | None = None
    ) -> str:
        """A new token for ``user`` (admins for anyone, others for themselves). Shown once."""
        return self.issue(actor, user, label, expires_in_days).token

    def issue(
        self, actor: Actor, user: str, label: str = "cli", expires_in_days: int | None = None
    ) -> IssuedToken:
        """As :meth:`issue_token`, with the new token's id and expiry (``expires_in_days`` from
        now, 1 to 3650; None: it never expires).

        A user issuing their own token cannot extend their access: if every token they hold
        expires (a course student's, at term end), the new one expires no later than the last
        of them.
        """
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"expires_in_days must be 1 to {MAX_TOKEN_DAYS}")
        now = self._clock()
        expires_at = None if expires_in_days is None else now + timedelta(days=expires_in_days)
        with self._sessions.begin() as session:
            row = self._token_owner(session, actor, user, "issue tokens for")
            if not actor.is_admin:
                expires_at = _no_later_than_own_access(session, row.id, now, expires_at)
            token = add_token(session, row.id, label, now, expires_at)
            token_id = session.scalar(
                select(TokenRow.id).where(TokenRow.digest == token_digest(token))
            )
            assert token_id is not None  # just added and flushed by the query
            detail = {"token_id": token_id, "label": label, "expires_at": _iso(expires_at)}
            audit_entry(session, now, actor, "token.issue", f"user {user}", detail)
            return IssuedToken(id=token_id, user=user, token=token, expires_at=expires_at)

    def list_tokens(self, actor: Actor, user: str) -> list[TokenView]:
        """``user``'s tokens, oldest first, revoked and expired ones too (admins: anyone's)."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._token_owner(session, actor, user, "list the tokens of")
            tokens = session.scalars(
                select(TokenRow).where(TokenRow.user_id == row.id).order_by(TokenRow.id)
            )
            return [_token_view(token, user, now) for token in tokens]

    def revoke_token(self, actor: Actor, user: str, token_id: int) -> TokenView:
        """Revoke one of ``user``'s tokens at once: the API refuses it from the next request and
        portal sessions opened with it end. Revoking a revoked token changes nothing."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._token_owner(session, actor, user, "revoke the tokens of")
            token = session.scalar(
                select(TokenRow).where(TokenRow.id == token_id, TokenRow.user_id == row.id)
            )
            if token is None:
                raise NotFound(f"user {user} has no token {token_id}; see their token list")
            if token.revoked_at is None:
                token.revoked_at = now
                audit_entry(
                    session,
                    now,
                    actor,
                    "token.revoke",
                    f"user {user}",
                    {"token_id": token_id, "label": token.label},
                )
                session.flush()
            return _token_view(token, user, now)

    def _token_owner(self, session: Session, actor: Actor, user: str, action: str) -> UserRow:
        row = repository.named(session, UserRow, "user", user)
        if not actor.is_admin and row.id != actor.user_id:
            raise Forbidden(f"only an admin may {action} another user; you are {actor.name}")
        return row

    # -- hubs and pools ---------------------------------------------------------------------

    def create_hub(self, actor: Actor, *, name: str, title: str, operator: str) -> HubView:
        require_admin(actor, "create hubs")
        kind = choice(HubOperator, "hub operator", operator)
        with self._sessions.begin() as session:
            _unused(session, HubRow, "hub", check_name("hub", name))
            row = HubRow(name=name, title=title or name, operator=kind.value)
            session.add(row)
            _flush(session, f"hub {name}")
            audit_entry(session, self._clock(), actor, "hub.create", f"hub {name}", {})
            return _hub_view(row)

    def list_hubs(self) -> list[HubView]:
        with self._sessions.begin() as session:
            return [_hub_view(row) for row in session.scalars(select(HubRow).order_by(HubRow.id))]

    def create_pool(
        self,
        actor: Actor,
        *,
        name: str,
        hub: str,
        accelerator: str,
        nodes: int,
        devices_per_node: int,
        exchange_rate: str,
        krw_per_device_hour: int,
        max_time_limit_s: int = DEFAULT_MAX_TIME_LIMIT_S,
    ) -> PoolView:
        require_admin(actor, "create pools")
        model = accelerator_named(accelerator)
        rate_milli = parse_exchange_rate(exchange_rate)
        check_pool_shape(nodes, devices_per_node, krw_per_device_hour)
        if max_time_limit_s < 60:
            raise InvalidInput("a pool's maximum time limit must be at least one minute")
        with self._sessions.begin() as session:
            _unused(session, PoolRow, "pool", check_name("pool", name))
            hub_row = repository.named(session, HubRow, "hub", hub)
            row = PoolRow(
                name=name,
                hub_id=hub_row.id,
                accelerator=model.model,
                nodes=nodes,
                devices_per_node=devices_per_node,
                rate_milli=rate_milli,
                krw_per_device_hour=krw_per_device_hour,
                max_time_limit_s=max_time_limit_s,
            )
            session.add(row)
            _flush(session, f"pool {name}")
            detail = {"hub": hub, "accelerator": model.model, "nodes": nodes}
            audit_entry(session, self._clock(), actor, "pool.create", f"pool {name}", detail)
            return self._pool_views(session, [row])[0]

    def list_pools(self) -> list[PoolView]:
        with self._sessions.begin() as session:
            rows = list(session.scalars(select(PoolRow).order_by(PoolRow.id)))
            return self._pool_views(session, rows)

    def _pool_views(self, session: Session, rows: Sequence[PoolRow]) -> list[PoolView]:
        hubs = {row.id: row.name for row in session.scalars(select(HubRow))}
        busy = repository.busy_devices(session, [row.id for row in rows])
        counts: dict[tuple[int | None, str], int] = {
            (pool_id, state): count
            for pool_id, state, count in session.execute(
                select(JobRow.pool_id, JobRow.state, func.count())
                .where(JobRow.state.in_([JobState.RUNNING.value, JobState.PENDING.value]))
                .group_by(JobRow.pool_id, JobRow.state)
            )
        }
        views = []
        for row in rows:
            pool = repository.pool_of(row)
            used = sum(len(busy.get(node, ())) for node in pool.node_names())
            views.append(
                PoolView(
                    id=row.id,
                    name=row.name,
                    hub=hubs[row.hub_id],
                    accelerator=row.accelerator,
                    nodes=row.nodes,
                    devices_per_node=row.devices_per_node,
                    devices=pool.devices,
                    exchange_rate=format_exchange_rate(row.rate_milli),
                    krw_per_device_hour=row.krw_per_device_hour,
                    max_time_limit_s=row.max_time_limit_s,
                    free_devices=pool.devices - used,
                    running_jobs=counts.get((row.id, JobState.RUNNING.value), 0),
                    pending_jobs=counts.get((row.id, JobState.PENDING.value), 0),
                )
            )
        return views

    # -- organisations and users -----------------------------------------------------------

    def create_organisation(
        self, actor: Actor, *, name: str, title: str, kind: str
    ) -> OrganisationView:
        require_admin(actor, "create organisations")
        organisation_kind = choice(OrganisationKind, "organisation kind", kind)
        with self._sessions.begin() as session:
            _unused(session, OrganisationRow, "organisation", check_name("organisation", name))
            row = OrganisationRow(name=name, title=title or name, kind=organisation_kind.value)
            session.add(row)
            _flush(session, f"organisation {name}")
            audit_entry(
                session,
                self._clock(),
                actor,
                "organisation.create",
                f"organisation {name}",
                {"kind": organisation_kind.value},
            )
            return _organisation_view(row)

    def list_organisations(self) -> list[OrganisationView]:
        with self._sessions.begin() as session:
            rows = session.scalars(select(OrganisationRow).order_by(OrganisationRow.id))
            return [_organisation_view(row) for row in rows]

    def create_user(
        self,
        actor: Actor | None,
        *,
        name: str,
        display_name: str,
        role: str,
        organisation: str | None,
    ) -> tuple[UserView, str]:
        """Create a user and their first token. ``actor`` None is the bootstrap (first admin)."""
        if actor is not None:
            require_admin(actor, "create users")
        user_role = choice(Role, "role", role)
        with self._sessions.begin() as session:
            _unused(session, UserRow, "user", check_name("user", name))
            organisation_id = None
            if organisation:
                organisation_id = repository.named(
                    session, OrganisationRow, "organisation", organisation
                ).id
            row = UserRow(
                name=name,
                display_name=display_name or name,
                role=user_role.value,
                organisation_id=organisation_id,
            )
            session.add(row)
            _flush(session, f"user {name}")
            token = add_token(session, row.id, "first token", self._clock())
            detail = {"role": user_role.value, "organisation": organisation}
            audit_entry(session, self._clock(), actor, "user.create", f"user {name}", detail)
            return _user_view(row, organisation), token

    def me(self, actor: Actor) -> UserView:
        with self._sessions.begin() as session:
            row = session.get(UserRow, actor.user_id)
            assert row is not None  # the token resolved to this user
            organisation = session.get(OrganisationRow, row.organisation_id or -1)
            return _user_view(row, None if organisation is None else organisation.name)

    def list_users(self, actor: Actor) -> list[UserView]:
        with self._sessions.begin() as session:
            organisations = {row.id: row.name for row in session.scalars(select(OrganisationRow))}
            query = select(UserRow).order_by(UserRow.id)
            if not actor.is_admin:
                query = query.where(UserRow.id == actor.user_id)
            return [
                _user_view(row, organisations.get(row.organisation_id or -1))
                for row in session.scalars(query)
            ]

    # -- projects ----------------------------------------------------------------------------

    def create_project(
        self,
        actor: Actor,
        *,
        name: str,
        title: str,
        field: str,
        organisation: str,
        pi: str,
    ) -> ProjectView:
        require_admin(actor, "create projects")
        research_field = choice(ResearchField, "research field", field)
        with self._sessions.begin() as session:
            _unused(session, ProjectRow, "project", check_name("project", name))
            organisation_row = repository.named(
                session, OrganisationRow, "organisation", organisation
            )
            pi_row = repository.named(session, UserRow, "user", pi)
            row = ProjectRow(
                name=name,
                title=title or name,
                field=research_field.value,
                organisation_id=organisation_row.id,
                pi_user_id=pi_row.id,
            )
            session.add(row)
            _flush(session, f"project {name}")
            detail = {"organisation": organisation, "pi": pi}
            audit_entry(session, self._clock(), actor, "project.create", f"project {name}", detail)
            return self._project_view(session, row)

    def add_member(self, actor: Actor, *, project: str, user: str) -> ProjectView:
        with self._sessions.begin() as session:
            project_row = repository.named(session, ProjectRow, "project", project)
            if not actor.is_admin and project_row.pi_user_id != actor.user_id:
                raise Forbidden(f"only an admin or the PI of {project} may add members")
            user_row = repository.named(session, UserRow, "user", user)
            already = session.get(ProjectMemberRow, (project_row.id, user_row.id))
            if already is None and user_row.id != project_row.pi_user_id:
                session.add(ProjectMemberRow(project_id=project_row.id, user_id=user_row.id))
                audit_entry(
                    session,
                    self._clock(),
                    actor,
                    "project.member.add",
                    f"project {project}",
                    {"user": user},
                )
                session.flush()
            return self._project_view(session, project_row)

    def list_projects(self, actor: Actor) -> list[ProjectView]:
        with self._sessions.begin() as session:
            query = select(ProjectRow).order_by(ProjectRow.id)
            visible = visible_project_ids(session, actor)
            if visible is not None:
                query = query.where(ProjectRow.id.in_(visible))
            return [self._project_view(session, row) for row in session.scalars(query)]

    def _project_view(self, session: Session, row: ProjectRow) -> ProjectView:
        project = repository.project_of(session, row)
        names = dict(iter(session.execute(select(UserRow.id, UserRow.name))))
        organisation = session.get(OrganisationRow, row.organisation_id)
        assert organisation is not None  # a foreign key guarantees it
        return ProjectView(
            id=row.id,
            name=row.name,
            title=row.title,
            field=row.field,
            organisation=organisation.name,
            pi=names[row.pi_user_id],
            members=tuple(sorted(names[user_id] for user_id in project.member_ids)),
        )

    # -- allocations ------------------------------------------------------------------------

    def create_allocation(
        self,
        actor: Actor,
        *,
        project: str,
        gpu_hours: str,
        pools: Sequence[str],
        starts_at: datetime,
        ends_at: datetime,
        tier: str,
        note: str = "",
    ) -> AllocationView:
        require_admin(actor, "create allocations")
        awarded_units = parse_gpu_hours(gpu_hours)
        allocation_tier = choice(Tier, "tier", tier)
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise InvalidInput("allocation dates need a time zone, e.g. 2026-01-01T00:00:00+09:00")
        if ends_at <= starts_at:
            raise InvalidInput("an allocation must end after it starts")
        if not pools:
            raise InvalidInput("an allocation must allow at least one pool")
        with self._sessions.begin() as session:
            project_row = repository.named(session, ProjectRow, "project", project)
            pool_rows = [repository.named(session, PoolRow, "pool", pool) for pool in pools]
            row = AllocationRow(
                project_id=project_row.id,
                awarded_units=awarded_units,
                starts_at=starts_at,
                ends_at=ends_at,
                tier=allocation_tier.value,
                note=note,
            )
            session.add(row)
            session.flush()
            for pool_row in {pool_row.id: pool_row for pool_row in pool_rows}.values():
                session.add(AllocationPoolRow(allocation_id=row.id, pool_id=pool_row.id))
            audit_entry(
                session,
                self._clock(),
                actor,
                "allocation.create",
                f"allocation {project}#{row.id}",
                {"gpu_hours": gpu_hours, "pools": sorted(pools), "tier": allocation_tier.value},
            )
            session.flush()
            allocation = repository.allocation_of(session, row)
            [(allocation, balance)] = repository.allocation_balances(session, [allocation])
            return allocation_view(session, allocation, balance, self._clock())

    def list_allocations(self, actor: Actor, project: str | None = None) -> list[AllocationView]:
        with self._sessions.begin() as session:
            query = select(AllocationRow).order_by(AllocationRow.id)
            if project is not None:
                project_row = repository.named(session, ProjectRow, "project", project)
                query = query.where(AllocationRow.project_id == project_row.id)
            visible = visible_project_ids(session, actor)
            if visible is not None:
                query = query.where(AllocationRow.project_id.in_(visible))
            allocations = [repository.allocation_of(session, row) for row in session.scalars(query)]
            now = self._clock()
            return [
                allocation_view(session, allocation, balance, now)
                for allocation, balance in repository.allocation_balances(session, allocations)
            ]

    # -- reservations -----------------------------------------------------------------------

    def create_reservation(
        self,
        actor: Actor,
        *,
        name: str,
        pool: str,
        nodes: int,
        starts_at: datetime,
        ends_at: datetime,
        wanted: int | None = None,
        note: str = "",
    ) -> ReservationView:
        """Hold ``nodes`` whole nodes of ``pool`` for a service (wanted: all of them by default)."""
        require_admin(actor, "create reservations")
        if starts_at.tzinfo is None or ends_at.tzinfo is None or ends_at <= starts_at:
            raise InvalidInput(
                "a reservation needs a time zone on both dates and must end after it starts"
            )
        with self._sessions.begin() as session:
            if session.scalar(
                select(ReservationRow.id).where(
                    ReservationRow.name == check_name("reservation", name)
                )
            ):
                raise Conflict(f"a reservation named {name!r} already exists")
            pool_row = repository.named(session, PoolRow, "pool", pool)
            taken = sum(
                session.scalars(
                    select(ReservationRow.nodes).where(ReservationRow.pool_id == pool_row.id)
                )
            )
            if nodes < 1 or taken + nodes > pool_row.nodes:
                raise InvalidInput(
                    f"pool {pool} has {pool_row.nodes} nodes, {taken} already reserved; cannot reserve {nodes} more"
                )
            capacity = nodes * pool_row.devices_per_node
            wanted = capacity if wanted is None else wanted
            if not 0 <= wanted <= capacity:
                raise InvalidInput(f"wanted devices must be 0 to {capacity}, got {wanted}")
            row = ReservationRow(
                name=name,
                pool_id=pool_row.id,
                nodes=nodes,
                wanted=wanted,
                starts_at=starts_at,
                ends_at=ends_at,
                note=note,
            )
            session.add(row)
            _flush(session, f"reservation {name}")
            detail = {"pool": pool, "nodes": nodes, "wanted": wanted}
            audit_entry(
                session, self._clock(), actor, "reservation.create", f"reservation {name}", detail
            )
            return self._reservation_views(session, [row])[0]

    def set_reservation_demand(self, actor: Actor, *, name: str, wanted: int) -> ReservationView:
        """Record how many reserved devices the service needs now (its operator or the service)."""
        require_admin(actor, "change what a reservation needs")
        with self._sessions.begin() as session:
            row = session.scalar(
                select(ReservationRow).where(ReservationRow.name == name).with_for_update()
            )
            if row is None:
                raise NotFound(f"no reservation named {name!r}")
            pool_row = session.get(PoolRow, row.pool_id)
            assert pool_row is not None
            capacity = row.nodes * pool_row.devices_per_node
            if not 0 <= wanted <= capacity:
                raise InvalidInput(f"wanted devices must be 0 to {capacity}, got {wanted}")
            if row.wanted != wanted:
                audit_entry(
                    session,
                    self._clock(),
                    actor,
                    "reservation.demand",
                    f"reservation {name}",
                    {"from": row.wanted, "to": wanted},
                )
            row.wanted = wanted
            session.flush()
            return self._reservation_views(session, [row])[0]

    def list_reservations(self) -> list[ReservationView]:
        with self._sessions.begin() as session:
            rows = list(session.scalars(select(ReservationRow).order_by(ReservationRow.id)))
            return self._reservation_views(session, rows)

    def _reservation_views(
        self, session: Session, rows: Sequence[ReservationRow]
    ) -> list[ReservationView]:
        nodes = repository.reserved_nodes(session)
        now = self._clock()
        views = []
        for row in rows:
            pool_row = session.get(PoolRow, row.pool_id)
            assert pool_row is not None
            views.append(
                ReservationView(
                    id=row.id,
                    name=row.name,
                    pool=pool_row.name,
                    nodes=tuple(name for name, owner in nodes.items() if owner == row.id),
                    devices=row.nodes * pool_row.devices_per_node,
                    wanted=row.wanted,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    active=row.starts_at <= now < row.ends_at,
                    note=row.note,
                )
            )
        return views


def allocation_view(
    session: Session, allocation: Allocation, balance: Balance, now: datetime
) -> AllocationView:
    project = session.get(ProjectRow, allocation.project_id)
    assert project is not None  # a foreign key guarantees it
    pool_names = dict(iter(session.execute(select(PoolRow.id, PoolRow.name))))
    active = allocation.active_at(now)
    remaining = balance.remaining_units if active else 0
    return AllocationView(
        id=allocation.id,
        name=f"{project.name}#{allocation.id}",
        project=project.name,
        tier=allocation.tier.value,
        pools=tuple(sorted(pool_names[pool_id] for pool_id in allocation.pool_ids)),
        starts_at=allocation.starts_at,
        ends_at=allocation.ends_at,
        active=active,
        awarded_units=allocation.awarded_units,
        charged_units=balance.charged_units,
        held_units=balance.held_units,
        remaining_units=remaining,
        awarded_gpu_hours=round_hours(allocation.awarded_units),
        used_gpu_hours=round_hours(balance.charged_units),
        held_gpu_hours=round_hours(balance.held_units),
        remaining_gpu_hours=round_hours(remaining),
        cost_krw=balance.cost_krw,
    )


def add_token(
    session: Session, user_id: int, label: str, now: datetime, expires_at: datetime | None = None
) -> str:
    """A new token for the user (only its digest is stored); the token itself, shown once."""
    token = new_token()
    session.add(
        TokenRow(
            user_id=user_id,
            digest=token_digest(token),
            label=label,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return token


def _unused(
    session: Session,
    table: type[HubRow | PoolRow | OrganisationRow | UserRow | ProjectRow],
    kind: str,
    name: str,
) -> None:
    if session.scalar(select(table.id).where(table.name == name)) is not None:
        raise Conflict(f"a {kind} named {name!r} already exists")


def _flush(session: Session, what: str) -> None:
    """Flush, turning a race with a concurrent creator into a clear conflict."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{what} clashes with an existing record (created concurrently?)") from None


def _no_later_than_own_access(
    session: Session, user_id: int, now: datetime, wanted: datetime | None
) -> datetime | None:
    """``wanted``, or the last expiry of the user's usable tokens if every one of them expires."""
    expiries = list(
        session.scalars(
            select(TokenRow.expires_at).where(
                TokenRow.user_id == user_id,
                TokenRow.revoked_at.is_(None),
                or_(TokenRow.expires_at.is_(None), TokenRow.expires_at > now),
            )
        )
    )
    if not expiries or any(expiry is None for expiry in expiries):
        return wanted
    last = max(expiry for expiry in expiries if expiry is not None)
    return last if wanted is None or wanted > last else wanted


def _token_view(row: TokenRow, user: str, now: datetime) -> TokenView:
    expired = row.expires_at is not None and row.expires_at <= now
    return TokenView(
        id=row.id,
        user=user,
        label=row.label,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        active=row.revoked_at is None and not expired,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _hub_view(row: HubRow) -> HubView:
    return HubView(id=row.id, name=row.name, title=row.title, operator=row.operator)


def _organisation_view(row: OrganisationRow) -> OrganisationView:
    return OrganisationView(id=row.id, name=row.name, title=row.title, kind=row.kind)


def _user_view(row: UserRow, organisation: str | None) -> UserView:
    return UserView(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        role=row.role,
        organisation=organisation,
    )
