"""Submitting, watching and cancelling jobs, and reading usage against awards.

Submission is one transaction: admission (award balance, pool, size, command) and the new
PENDING row with its hold commit together, under a lock on the project's allocations, so two
concurrent submissions can never both spend the same remaining hours. A client-chosen
idempotency key makes a retried submission return the job it already created.
"""

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.admission import admit, admit_class
from nuri.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from nuri.domain.jobs import JobState, check_transition
from nuri.domain.units import round_hours
from nuri.engine.snapshot import build_snapshot
from nuri.policy.snapshot import Policy
from nuri.service.access import can_see_project, visible_project_ids
from nuri.service.auth import Actor
from nuri.service.directory import allocation_view, choice
from nuri.service.views import JobView, MemberSpendView, PoolUsageView, UsageView
from nuri.sim.estimate import estimate_starts
from nuri.store import repository
from nuri.store.tables import (
    Base,
    JobRow,
    LedgerEntryRow,
    PoolRow,
    ProjectMemberRow,
    ProjectRow,
    UserRow,
)

LogReader = Callable[[int, int], bytes]
"""``(job_id, offset) -> bytes`` of captured output, provided by the backend."""

MAX_COMMAND_BYTES = 64 * 1024
MAX_LIST = 1000

# Statements of the submission path, built once: at hundreds of submissions a second, building a
# statement costs more than running it, and a statement object keeps its compiled form cached.
_JOB_ID_BY_KEY = select(JobRow.id).where(
    JobRow.submitted_by == bindparam("user_id"), JobRow.idempotency_key == bindparam("key")
)
# Everything a submission reads before it locks the project's allocations, in one round trip:
# the project and whether the caller may submit to it, the job an earlier request with the same
# idempotency key made (NULL when there is none or no key), and the named pool (NULL if none).
_SUBMISSION_CONTEXT = (
    select(
        ProjectRow.id,
        or_(
            ProjectRow.pi_user_id == bindparam("user_id"),
            exists().where(
                ProjectMemberRow.project_id == ProjectRow.id,
                ProjectMemberRow.user_id == bindparam("user_id"),
            ),
        ),
        _JOB_ID_BY_KEY.scalar_subquery(),
        PoolRow,
    )
    .outerjoin(PoolRow, PoolRow.name == bindparam("pool"))
    .where(ProjectRow.name == bindparam("name"))
)
# On the table, not the mapped class: an ORM-enabled INSERT goes through the ORM's bulk-insert
# machinery, which under load cost three quarters as much again as executing the statement.
_JOBS = Base.metadata.tables[JobRow.__tablename__]
_INSERT_JOB = insert(_JOBS).returning(_JOBS.c.id)
_PENDING_AHEAD = select(func.count()).where(
    JobRow.state == JobState.PENDING.value,
    or_(
        JobRow.submitted_at < bindparam("submitted_at"),
        and_(JobRow.submitted_at == bindparam("submitted_at"), JobRow.id < bindparam("id")),
    ),
)
_PENDING_AHEAD_IN_POOL = _PENDING_AHEAD.where(JobRow.pool_id == bindparam("pool_id"))
_PENDING_AHEAD_FOR_CLASS = _PENDING_AHEAD.where(JobRow.accelerator == bindparam("class"))


class Jobs:
    """Use cases for jobs and usage. One transaction per method."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        read_logs: LogReader,
        policy: Policy | None = None,
        time_limit_step_s: int = 1,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._read_logs = read_logs
        self._policy = policy
        self._time_limit_step_s = time_limit_step_s
        """Time limits are rounded up to a multiple of this: Slurm keeps whole minutes, and the
        hold must cover the limit the backend really enforces."""

    def submit(
        self,
        actor: Actor,
        *,
        project: str,
        pool: str | None,
        gpus: int,
        time_limit_s: int,
        command: Sequence[str],
        name: str | None = None,
        workdir: str | None = None,
        idempotency_key: str | None = None,
        accelerator: str | None = None,
        preemptible: bool = False,
        on_queued: Callable[[JobView], None] | None = None,
    ) -> JobView:
        """Admit and queue a job; returns it PENDING, or raises AdmissionRefused with the reason.

        ``on_queued`` is called with the new job's view inside the transaction, before it commits,
        so that what it records (the API's answer, for an idempotent retry) commits with the job.

        The job names a ``pool``, or an ``accelerator`` class (any pool of it its allocation
        allows; the policy picks one). A ``preemptible`` job may borrow reserved devices and be
        preempted (SIGTERM, a grace period, requeued with its checkpoint directory). With an ``idempotency_key`` already used by this caller,
        returns that earlier job and queues nothing new.
        """
        if (pool is None) == (accelerator is None):
            raise InvalidInput(
                "name a pool or an accelerator class (e.g. H100), not both or neither"
            )
        if sum(len(part.encode()) for part in command) > MAX_COMMAND_BYTES:
            raise InvalidInput(f"the command is longer than {MAX_COMMAND_BYTES} bytes")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 100:
            raise InvalidInput("an idempotency key must be 1 to 100 characters")
        step = self._time_limit_step_s
        time_limit_s = -(-time_limit_s // step) * step
        try:
            with self._sessions.begin() as session:
                context = session.execute(
                    _SUBMISSION_CONTEXT,
                    {
                        "name": project,
                        "user_id": actor.user_id,
                        "key": idempotency_key,
                        "pool": pool,
                    },
                ).one_or_none()
                if context is None:
                    earlier = self._by_key(session, actor, idempotency_key)
                    if earlier is None:
                        raise NotFound(f"no project named {project!r}")
                    return self._view(session, earlier)
                project_id, is_member, earlier_id, pool_row = context
                if earlier_id is not None:
                    return self._view(session, session.get_one(JobRow, earlier_id))
                if not (actor.is_admin or is_member):
                    raise Forbidden(
                        f"you are not a member of project {project}",
                        key="jobs.not_member",
                        params={"project": project},
                    )
                # Lock the project's allocations (PostgreSQL; SQLite serialises writers anyway)
                # so that concurrent submissions see each other's holds.
                allocations = repository.project_allocations(session, project_id, lock=True)
                balances = repository.allocation_balances(session, allocations)
                now = self._clock()
                if accelerator is not None:
                    wanted = {
                        part.strip().upper() for part in accelerator.split("|") if part.strip()
                    }
                    admission = admit_class(
                        project_name=project,
                        accelerator="|".join(sorted(wanted)),
                        pools=[
                            repository.pool_of(row)
                            for row in session.scalars(select(PoolRow).order_by(PoolRow.id))
                            if row.accelerator.upper() in wanted
                        ],
                        devices=gpus,
                        time_limit_s=time_limit_s,
                        command=command,
                        allocations=balances,
                        now=now,
                    )
                    accelerator = "|".join(sorted(wanted))
                else:
                    admission = admit(
                        project_name=project,
                        pool_name=str(pool),
                        pool=None if pool_row is None else repository.pool_of(pool_row),
                        devices=gpus,
                        time_limit_s=time_limit_s,
                        command=command,
                        allocations=balances,
                        now=now,
                    )
                queued = {
                    "name": _job_name(name, command),
                    "project_id": project_id,
                    "allocation_id": admission.allocation_id,
                    "pool_id": None if pool_row is None else pool_row.id,
                    "accelerator": accelerator,
                    "submitted_by": actor.user_id,
                    "idempotency_key": idempotency_key,
                    "command": list(command),
                    "workdir": workdir,
                    "devices": gpus,
                    "time_limit_s": time_limit_s,
                    "hold_units": admission.hold_units,
                    "state": JobState.PENDING.value,
                    "attempt": 0,
                    "attained_device_seconds": 0,
                    "submitted_at": now,
                    "device_indices": [],
                    "cancel_requested": False,
                    "preemptible": preemptible,
                }
                # An INSERT statement, not session.add: the ORM's flushes (this row's and the
                # idempotency claim's) took a seventh of the API's CPU per submission under load,
                # and a row that nothing else in the transaction touches needs none of their work.
                row = JobRow(**queued, id=session.execute(_INSERT_JOB, queued).scalar_one())
                view = self._view(session, row, submitter=actor, project_name=project)
                if on_queued is not None:
                    on_queued(view)
                return view
        except IntegrityError:
            # A concurrent retry with the same key won the race: return its job.
            with self._sessions.begin() as session:
                earlier = self._by_key(session, actor, idempotency_key)
                if earlier is None:
                    raise
                return self._view(session, earlier)

    def list(
        self,
        actor: Actor,
        *,
        project: str | None = None,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobView]:
        """Visible jobs, newest first; ``offset`` skips that many (for pages)."""
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be 1 to {MAX_LIST}")
        if offset < 0:
            raise InvalidInput("offset must not be negative")
        with self._sessions.begin() as session:
            query = select(JobRow).where(*self._list_filter(session, actor, project, state))
            query = query.order_by(JobRow.id.desc()).limit(limit).offset(offset)
            return [self._view(session, row) for row in session.scalars(query)]

    def count(self, actor: Actor, *, project: str | None = None, state: str | None = None) -> int:
        """How many jobs :meth:`list` would show with no limit (to number pages)."""
        with self._sessions.begin() as session:
            query = select(func.count(JobRow.id)).where(
                *self._list_filter(session, actor, project, state)
            )
            return int(session.scalar(query) or 0)

    def spend_by_member(self, actor: Actor, project: str) -> tuple[MemberSpendView, ...]:
        """Per person of a project (PI first, then members by name): the jobs they submitted
        and what those jobs were charged. Anyone who may see the project's usage may see this;
        people who left the project but were charged for it are listed too."""
        with self._sessions.begin() as session:
            project_row = repository.named(session, ProjectRow, "project", project)
            if not can_see_project(session, actor, project_row.id):
                raise NotFound(f"no project named {project!r} that you belong to")
            team = repository.project_of(session, project_row)
            jobs_by_user = {
                user_id: int(count)
                for user_id, count in session.execute(
                    select(JobRow.submitted_by, func.count(JobRow.id))
                    .where(JobRow.project_id == project_row.id)
                    .group_by(JobRow.submitted_by)
                )
            }
            charged = {
                user_id: (int(units), int(won))
                for user_id, units, won in session.execute(
                    select(
                        JobRow.submitted_by,
                        func.sum(LedgerEntryRow.h100e_units),
                        func.sum(LedgerEntryRow.cost_krw),
                    )
                    .join(JobRow, JobRow.id == LedgerEntryRow.job_id)
                    .where(LedgerEntryRow.project_id == project_row.id)
                    .group_by(JobRow.submitted_by)
                )
            }
            people = {project_row.pi_user_id, *team.member_ids, *jobs_by_user}
            users = {
                row.id: row
                for row in session.scalars(select(UserRow).where(UserRow.id.in_(people)))
            }
            views = []
            for user_id in people:
                user = users[user_id]
                units, won = charged.get(user_id, (0, 0))
                views.append(
                    MemberSpendView(
                        user=user.name,
                        display_name=user.display_name,
                        is_pi=user_id == project_row.pi_user_id,
                        is_member=user_id == project_row.pi_user_id or user_id in team.member_ids,
                        jobs=jobs_by_user.get(user_id, 0),
                        used_units=units,
                        used_gpu_hours=round_hours(units),
                        cost_krw=won,
                    )
                )
            return tuple(sorted(views, key=lambda view: (not view.is_pi, view.user)))

    def show(self, actor: Actor, job_id: int, *, with_estimate: bool = True) -> JobView:
        """One job; a PENDING one with its estimated start (the live policy simulated forward),
        unless ``with_estimate`` is False (the simulation reads the whole queue and the ledger's
        usage, so callers that only need the state skip it)."""
        with self._sessions.begin() as session:
            row = self._visible_job(session, actor, job_id)
            view = self._view(session, row)
            if row.state != JobState.PENDING.value or self._policy is None or not with_estimate:
                return view
            snapshot = build_snapshot(session, self._clock())
        estimate = estimate_starts(snapshot, self._policy).get(job_id)
        if estimate is None:
            return view
        return replace(view, estimated_start=datetime.fromtimestamp(estimate, UTC))

    def cancel(self, actor: Actor, job_id: int) -> JobView:
        """Cancel a job: a PENDING one at once; a RUNNING one when the engine next runs.

        The submitter, the project's PI and admins may cancel. Cancelling a job already being
        cancelled is a no-op; cancelling a finished one is a conflict.
        """
        with self._sessions.begin() as session:
            row = self._visible_job(session, actor, job_id, lock=True)
            project = session.get(ProjectRow, row.project_id)
            assert project is not None  # a foreign key guarantees it
            allowed = actor.is_admin or actor.user_id in (row.submitted_by, project.pi_user_id)
            if not allowed:
                raise Forbidden(
                    f"only the submitter, the PI of {project.name} or an admin may cancel"
                )
            state = JobState(row.state)
            if state.terminal:
                raise Conflict(f"job {job_id} already ended {state}; there is nothing to cancel")
            if state is JobState.PENDING:
                check_transition(state, JobState.CANCELLED)
                row.state = JobState.CANCELLED.value
                row.ended_at = self._clock()
                row.reason = f"cancelled by {actor.name} before it started"
            else:
                row.cancel_requested = True
            session.flush()
            return self._view(session, row)

    def logs(self, actor: Actor, job_id: int, offset: int = 0) -> bytes:
        if offset < 0:
            raise InvalidInput("offset must not be negative")
        with self._sessions.begin() as session:
            self._visible_job(session, actor, job_id)
        return self._read_logs(job_id, offset)

    def usage(self, actor: Actor, project: str) -> UsageView:
        """A project's awards, spend and remaining balance, with spend per pool."""
        with self._sessions.begin() as session:
            project_row = repository.named(session, ProjectRow, "project", project)
            if not can_see_project(session, actor, project_row.id):
                raise NotFound(f"no project named {project!r} that you belong to")
            now = self._clock()
            balances = repository.allocation_balances(
                session, repository.project_allocations(session, project_row.id)
            )
            allocations = tuple(
                allocation_view(session, allocation, balance, now)
                for allocation, balance in balances
            )
            pools = tuple(
                PoolUsageView(
                    pool=name,
                    accelerator=accelerator,
                    jobs=int(jobs),
                    device_hours=round(int(device_seconds) / 3600, 4),
                    used_gpu_hours=round_hours(int(units)),
                    cost_krw=int(won),
                )
                for name, accelerator, jobs, device_seconds, units, won in session.execute(
                    select(
                        PoolRow.name,
                        PoolRow.accelerator,
                        func.count(func.distinct(LedgerEntryRow.job_id)),
                        func.sum(LedgerEntryRow.devices * LedgerEntryRow.seconds),
                        func.sum(LedgerEntryRow.h100e_units),
                        func.sum(LedgerEntryRow.cost_krw),
                    )
                    .join(PoolRow, PoolRow.id == LedgerEntryRow.pool_id)
                    .where(LedgerEntryRow.project_id == project_row.id)
                    .group_by(PoolRow.name, PoolRow.accelerator)
                    .order_by(PoolRow.name)
                )
            )
            awarded = sum(balance.awarded_units for _, balance in balances)
            used = sum(balance.charged_units for _, balance in balances)
            held = sum(balance.held_units for _, balance in balances)
            remaining = sum(view.remaining_units for view in allocations)
            return UsageView(
                project=project,
                awarded_units=awarded,
                used_units=used,
                held_units=held,
                remaining_units=remaining,
                awarded_gpu_hours=round_hours(awarded),
                used_gpu_hours=round_hours(used),
                held_gpu_hours=round_hours(held),
                remaining_gpu_hours=round_hours(remaining),
                cost_krw=sum(balance.cost_krw for _, balance in balances),
                allocations=allocations,
                pools=pools,
            )

    # -- helpers ---------------------------------------------------------------------------

    def _list_filter(
        self, session: Session, actor: Actor, project: str | None, state: str | None
    ) -> tuple[ColumnElement[bool], ...]:
        """The conditions of :meth:`list` and :meth:`count`: visible, and the filters given."""
        conditions: tuple[ColumnElement[bool], ...] = ()
        visible = visible_project_ids(session, actor)
        if visible is not None:
            conditions += (JobRow.project_id.in_(visible),)
        if project is not None:
            project_row = repository.named(session, ProjectRow, "project", project)
            conditions += (JobRow.project_id == project_row.id,)
        if state is not None:
            conditions += (JobRow.state == choice(JobState, "state", state.upper()).value,)
        return conditions

    def _by_key(self, session: Session, actor: Actor, key: str | None) -> JobRow | None:
        if key is None:
            return None
        job_id = session.scalar(_JOB_ID_BY_KEY, {"user_id": actor.user_id, "key": key})
        return None if job_id is None else session.get(JobRow, job_id)

    def _visible_job(
        self, session: Session, actor: Actor, job_id: int, *, lock: bool = False
    ) -> JobRow:
        query = select(JobRow).where(JobRow.id == job_id)
        if lock:
            query = query.with_for_update()
        row = session.scalar(query)
        if row is None or not can_see_project(session, actor, row.project_id):
            raise NotFound(f"no job {job_id} in your projects")
        return row

    def _view(
        self,
        session: Session,
        row: JobRow,
        submitter: Actor | None = None,
        project_name: str | None = None,
    ) -> JobView:
        """The job as callers see it; ``submitter`` and ``project_name``, when the caller knows
        them, save lookups."""
        if project_name is None:
            project = session.get(ProjectRow, row.project_id)
            assert project is not None
            project_name = project.name
        pool = None if row.pool_id is None else session.get(PoolRow, row.pool_id)
        if submitter is not None and submitter.user_id == row.submitted_by:
            user_name = submitter.name
        else:
            user = session.get(UserRow, row.submitted_by)
            assert user is not None
            user_name = user.name
        charged_units, cost = 0, 0
        if row.attempt > 0 or row.started_at is not None:  # only a run that started is charged
            charged_units, cost = session.execute(
                select(
                    func.coalesce(func.sum(LedgerEntryRow.h100e_units), 0),
                    func.coalesce(func.sum(LedgerEntryRow.cost_krw), 0),
                ).where(LedgerEntryRow.job_id == row.id)
            ).one()
        state = JobState(row.state)
        return JobView(
            id=row.id,
            name=row.name,
            state=state.value,
            project=project_name,
            pool=pool.name if pool is not None else f"any {row.accelerator}",
            accelerator=row.accelerator,
            gpus=row.devices,
            time_limit_s=row.time_limit_s,
            command=tuple(row.command),
            user=user_name,
            allocation_id=row.allocation_id,
            attempt=row.attempt,
            submitted_at=row.submitted_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
            node=row.node,
            device_indices=tuple(row.device_indices or ()),
            exit_code=row.exit_code,
            reason=row.reason,
            cancel_requested=row.cancel_requested,
            preemptible=row.preemptible,
            queue_position=_queue_position(session, row) if state is JobState.PENDING else None,
            estimated_start=None,
            held_units=row.hold_units if not state.terminal else 0,
            charged_units=int(charged_units),
            used_gpu_hours=round_hours(int(charged_units)),
            cost_krw=int(cost),
        )


def _queue_position(session: Session, row: JobRow) -> int:
    """1 + the pending jobs that arrived earlier asking for the same pool or class (FIFO order)."""
    earlier = {"submitted_at": row.submitted_at, "id": row.id}
    # On the connection, past the ORM's result handling: see repository.allocation_balances.
    if row.pool_id is not None:
        ahead = session.connection().scalar(
            _PENDING_AHEAD_IN_POOL, earlier | {"pool_id": row.pool_id}
        )
    else:
        ahead = session.connection().scalar(
            _PENDING_AHEAD_FOR_CLASS, earlier | {"class": row.accelerator}
        )
    return 1 + int(ahead or 0)


def _job_name(name: str | None, command: Sequence[str]) -> str:
    if name:
        if len(name) > 200:
            raise InvalidInput("a job name may be at most 200 characters")
        return name
    first = next((part for part in command if part.strip()), "job")
    return first.rsplit("/", 1)[-1][:200]
