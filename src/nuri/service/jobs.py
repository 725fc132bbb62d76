"""Submitting, watching and cancelling jobs, and reading usage against awards.

Submission is one transaction: admission (award balance, pool, size, command) and the new
PENDING row with its hold commit together, under a lock on the project's allocations, so two
concurrent submissions can never both spend the same remaining hours. A client-chosen
idempotency key makes a retried submission return the job it already created.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from nuri.domain.admission import Admission, admit, admit_class
from nuri.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from nuri.domain.jobs import JobState, check_transition
from nuri.domain.units import round_hours
from nuri.engine.snapshot import build_snapshot
from nuri.policy.snapshot import Policy
from nuri.service.access import can_see_project, visible_project_ids
from nuri.service.auth import Actor
from nuri.service.directory import allocation_view, choice
from nuri.service.idempotency import Claim, claim_keys
from nuri.service.views import JobView, MemberSpendView, PoolUsageView, UsageView
from nuri.sim.estimate import estimate_starts
from nuri.store import repository
from nuri.store.numbered_statements import numbered_parameters, numbered_union
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


# Everything a submission reads before it locks its project's allocations: the project and
# whether the caller may submit to it, the job an earlier request with the same idempotency key
# made (NULL when there is none or no key), and the named pool's id (NULL if none). A submission
# whose project does not exist has no row.
_SUBMISSION_CONTEXT = select(
    ProjectRow.id.label("project_id"),
    or_(
        ProjectRow.pi_user_id == bindparam("user_id"),
        exists().where(
            ProjectMemberRow.project_id == ProjectRow.id,
            ProjectMemberRow.user_id == bindparam("user_id"),
        ),
    ).label("is_member"),
    _JOB_ID_BY_KEY.scalar_subquery().label("earlier_id"),
    select(PoolRow.id).where(PoolRow.name == bindparam("pool")).scalar_subquery().label("pool_id"),
).where(ProjectRow.name == bindparam("name"))


@cache
def _submission_contexts(count: int) -> Executable:
    """:data:`_SUBMISSION_CONTEXT` for ``count`` submissions in one round trip (numbered copies).
    Built once per count (the batches are small): building a statement costs more than running
    it, and a statement object keeps its compiled form cached."""
    return numbered_union(_SUBMISSION_CONTEXT, count)


# On the table, not the mapped class: an ORM-enabled INSERT goes through the ORM's bulk-insert
# machinery, which under load cost three quarters as much again as executing the statement.
_JOBS = Base.metadata.tables[JobRow.__tablename__]
_INSERT_JOB = insert(_JOBS).returning(_JOBS.c.id)
_INSERT_JOBS = insert(_JOBS).returning(_JOBS.c.id, sort_by_parameter_order=True)
# Each job's place in its queue: 1 + the pending jobs that arrived earlier asking for the same
# pool or class (FIFO order), for several jobs in one statement.
_AHEAD = _JOBS.alias("ahead")
_NEW = _JOBS.alias("new")
_ARRIVED_EARLIER = (
    _AHEAD.c.state == JobState.PENDING.value,
    or_(
        _AHEAD.c.submitted_at < _NEW.c.submitted_at,
        and_(_AHEAD.c.submitted_at == _NEW.c.submitted_at, _AHEAD.c.id < _NEW.c.id),
    ),
)
_QUEUE_POSITIONS = select(
    _NEW.c.id,
    1
    + case(
        (
            _NEW.c.pool_id.is_not(None),
            select(func.count())
            .where(_AHEAD.c.pool_id == _NEW.c.pool_id, *_ARRIVED_EARLIER)
            .scalar_subquery(),
        ),
        else_=select(func.count())
        .where(_AHEAD.c.accelerator == _NEW.c.accelerator, *_ARRIVED_EARLIER)
        .scalar_subquery(),
    ),
).where(_NEW.c.id.in_(bindparam("ids", expanding=True)))


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
        preempted (SIGTERM, a grace period, requeued with its checkpoint directory). With an
        ``idempotency_key`` already used by this caller, returns that earlier job and queues
        nothing new.
        """
        (outcome,) = self.submit_many(
            [
                Submission(
                    actor=actor,
                    project=project,
                    pool=pool,
                    gpus=gpus,
                    time_limit_s=time_limit_s,
                    command=tuple(command),
                    name=name,
                    workdir=workdir,
                    idempotency_key=idempotency_key,
                    accelerator=accelerator,
                    preemptible=preemptible,
                    on_queued=on_queued,
                )
            ]
        )
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def submit_many(self, submissions: Sequence["Submission"]) -> list[JobView | DomainError]:
        """Admit and queue several jobs in one transaction; for each, in order, its job (as
        :meth:`submit` returns it) or the DomainError that refused it.

        A refusal refuses only its own submission. The projects' allocations are locked together,
        in one statement, and each submission is admitted against the balance its project has
        left after the ones before it. A later submission with the same caller and key as an
        earlier one waits for the next transaction, where it finds the earlier one's job. If the
        transaction fails on a concurrent write (a retry with the same key queued by another
        process, a deadlock), each submission is carried out again on its own.
        """
        outcomes: list[JobView | DomainError | None] = [None] * len(submissions)
        now_together: list[int] = []
        later: list[int] = []
        keys: set[tuple[int, str]] = set()
        for index, submission in enumerate(submissions):
            key = submission.idempotency_key
            if key is not None and (submission.actor.user_id, key) in keys:
                later.append(index)
                continue
            if key is not None:
                keys.add((submission.actor.user_id, key))
            now_together.append(index)
        together = [submissions[index] for index in now_together]
        try:
            with self._sessions.begin() as session:
                results = self._submit_in(session, together)
        except (DBAPIError, DomainError) as error:
            if len(together) > 1:
                results = [self.submit_many([submission])[0] for submission in together]
            elif isinstance(error, DomainError):  # its key's claim, taken meanwhile
                results = [error]
            else:
                # A concurrent retry with the same key won the race: its job is the answer.
                earlier = self._earlier_view(together[0])
                if earlier is None:
                    raise
                results = [earlier]
        for index, result in zip(now_together, results, strict=True):
            outcomes[index] = result
        if later:
            for index, result in zip(
                later, self.submit_many([submissions[index] for index in later]), strict=True
            ):
                outcomes[index] = result
        return [outcome for outcome in outcomes if outcome is not None]

    def _earlier_view(self, submission: "Submission") -> JobView | None:
        with self._sessions.begin() as session:
            earlier = self._by_key(session, submission.actor, submission.idempotency_key)
            return None if earlier is None else self._view(session, earlier)

    def _submit_in(
        self, session: Session, submissions: Sequence["Submission"]
    ) -> list[JobView | DomainError]:
        outcomes: list[JobView | DomainError | None] = [None] * len(submissions)
        admitting: list[tuple[int, _Context]] = []
        for index, found in enumerate(self._contexts(session, submissions)):
            if isinstance(found, _Context):
                admitting.append((index, found))
            else:
                outcomes[index] = found
        if admitting:
            # Lock the projects' allocations (PostgreSQL; SQLite serialises writers anyway) so
            # that concurrent submissions see each other's holds.
            allocations = repository.projects_allocations(
                session, {context.project_id for _, context in admitting}, lock=True
            )
            balances = dict(
                repository.allocation_balances(
                    session, [each for group in allocations.values() for each in group]
                )
            )
            now = self._clock()
            queued: list[tuple[int, _Context, dict[str, object]]] = []
            class_pools: Sequence[PoolRow] | None = None
            for index, context in admitting:
                submission = context.submission
                project_balances = [
                    (allocation, balances[allocation])
                    for allocation in allocations.get(context.project_id, [])
                ]
                try:
                    if submission.accelerator is not None:
                        if class_pools is None:
                            class_pools = list(
                                session.scalars(select(PoolRow).order_by(PoolRow.id))
                            )
                        admission = admit_class(
                            project_name=submission.project,
                            accelerator=context.accelerator or "",
                            pools=[
                                repository.pool_of(row)
                                for row in class_pools
                                if row.accelerator.upper() in context.wanted
                            ],
                            devices=submission.gpus,
                            time_limit_s=context.time_limit_s,
                            command=submission.command,
                            allocations=project_balances,
                            now=now,
                        )
                    else:
                        admission = admit(
                            project_name=submission.project,
                            pool_name=str(submission.pool),
                            pool=None
                            if context.pool_row is None
                            else repository.pool_of(context.pool_row),
                            devices=submission.gpus,
                            time_limit_s=context.time_limit_s,
                            command=submission.command,
                            allocations=project_balances,
                            now=now,
                        )
                except DomainError as error:
                    outcomes[index] = error
                    continue
                charged = next(a for a, _ in project_balances if a.id == admission.allocation_id)
                balances[charged] = replace(
                    balances[charged],
                    held_units=balances[charged].held_units + admission.hold_units,
                )
                queued.append((index, context, self._job_values(context, admission, now)))
            if queued:
                self._queue(session, queued, outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    def _contexts(
        self, session: Session, submissions: Sequence["Submission"]
    ) -> list["_Context | JobView | DomainError"]:
        """For each submission, what admission needs from the database about it; or the job an
        earlier request with its key queued; or the DomainError that refuses it whatever the
        balance."""
        found: list[_Context | JobView | DomainError] = []
        asking: list[tuple[int, Submission, str]] = []
        for submission in submissions:
            try:
                asking.append((len(found), submission, self._check(submission)))
                found.append(NotFound(f"no project named {submission.project!r}"))
            except DomainError as error:
                found.append(error)
        if not asking:
            return found
        parameters = numbered_parameters(
            [
                {
                    "name": submission.project,
                    "user_id": submission.actor.user_id,
                    "key": submission.idempotency_key,
                    "pool": submission.pool,
                }
                for _, submission, _ in asking
            ]
        )
        rows = {
            int(row.i): row
            for row in session.connection().execute(_submission_contexts(len(asking)), parameters)
        }
        pool_ids = {row.pool_id for row in rows.values() if row.pool_id is not None}
        pools = (
            {
                row.id: row
                for row in session.scalars(select(PoolRow).where(PoolRow.id.in_(pool_ids)))
            }
            if pool_ids
            else {}
        )
        step = self._time_limit_step_s
        for i, (index, submission, name) in enumerate(asking):
            actor, row = submission.actor, rows.get(i)
            if row is None:  # no such project: perhaps renamed since its job was queued by key
                earlier = self._by_key(session, actor, submission.idempotency_key)
                if earlier is not None:
                    found[index] = self._view(session, earlier)
                continue
            if row.earlier_id is not None:
                found[index] = self._view(session, session.get_one(JobRow, row.earlier_id))
                continue
            if not (actor.is_admin or row.is_member):
                found[index] = Forbidden(
                    f"you are not a member of project {submission.project}",
                    key="jobs.not_member",
                    params={"project": submission.project},
                )
                continue
            wanted = frozenset(
                part.strip().upper()
                for part in (submission.accelerator or "").split("|")
                if part.strip()
            )
            found[index] = _Context(
                submission=submission,
                project_id=int(row.project_id),
                pool_row=None if row.pool_id is None else pools[row.pool_id],
                name=name,
                time_limit_s=-(-submission.time_limit_s // step) * step,
                wanted=wanted,
                accelerator="|".join(sorted(wanted))
                if submission.accelerator is not None
                else None,
            )
        return found

    @staticmethod
    def _check(submission: "Submission") -> str:
        """The job's name, if the submission is well formed; else raises InvalidInput."""
        if (submission.pool is None) == (submission.accelerator is None):
            raise InvalidInput(
                "name a pool or an accelerator class (e.g. H100), not both or neither"
            )
        if sum(len(part.encode()) for part in submission.command) > MAX_COMMAND_BYTES:
            raise InvalidInput(f"the command is longer than {MAX_COMMAND_BYTES} bytes")
        key = submission.idempotency_key
        if key is not None and not 1 <= len(key) <= 100:
            raise InvalidInput("an idempotency key must be 1 to 100 characters")
        return _job_name(submission.name, submission.command)

    @staticmethod
    def _job_values(context: "_Context", admission: Admission, now: datetime) -> dict[str, object]:
        submission = context.submission
        return {
            "name": context.name,
            "project_id": context.project_id,
            "allocation_id": admission.allocation_id,
            "pool_id": None if context.pool_row is None else context.pool_row.id,
            "accelerator": context.accelerator,
            "submitted_by": submission.actor.user_id,
            "idempotency_key": submission.idempotency_key,
            "command": list(submission.command),
            "workdir": submission.workdir,
            "devices": submission.gpus,
            "time_limit_s": context.time_limit_s,
            "hold_units": admission.hold_units,
            "state": JobState.PENDING.value,
            "attempt": 0,
            "attained_device_seconds": 0,
            "submitted_at": now,
            "device_indices": [],
            "cancel_requested": False,
            "preemptible": submission.preemptible,
        }

    def _queue(
        self,
        session: Session,
        queued: Sequence[tuple[int, "_Context", dict[str, object]]],
        outcomes: list[JobView | DomainError | None],
    ) -> None:
        """Insert the admitted jobs, answer each with its view, and claim the keys of those that
        came with a claim, all in ``session``'s transaction."""
        # INSERT statements, not session.add: the ORM's flushes (these rows' and the idempotency
        # claims') took a seventh of the API's CPU per submission under load, and rows that
        # nothing else in the transaction touches need none of their work.
        if len(queued) == 1:
            ids = [session.execute(_INSERT_JOB, queued[0][2]).scalar_one()]
        else:
            ids = list(session.execute(_INSERT_JOBS, [values for _, _, values in queued]).scalars())
        rows = [
            JobRow(**values, id=job_id) for (_, _, values), job_id in zip(queued, ids, strict=True)
        ]
        positions = _batch_positions(session, rows)
        claims: list[Claim] = []
        for (index, context, _), row in zip(queued, rows, strict=True):
            submission = context.submission
            view = self._view(
                session,
                row,
                submitter=submission.actor,
                project_name=submission.project,
                queue_position=positions[row.id],
            )
            if submission.on_queued is not None:
                submission.on_queued(view)
            if submission.claim is not None:
                claims.append(submission.claim)
            outcomes[index] = view
        claim_keys(session, claims)

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
        queue_position: int | None = None,
    ) -> JobView:
        """The job as callers see it; ``submitter``, ``project_name`` and a pending job's
        ``queue_position``, when the caller knows them, save lookups."""
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
            queue_position=(queue_position or _queue_positions(session, [row.id])[row.id])
            if state is JobState.PENDING
            else None,
            estimated_start=None,
            held_units=row.hold_units if not state.terminal else 0,
            charged_units=int(charged_units),
            used_gpu_hours=round_hours(int(charged_units)),
            cost_krw=int(cost),
        )


def _queue_positions(session: Session, job_ids: Sequence[int]) -> dict[int, int]:
    """Each pending job's place in its queue, by id."""
    # On the connection, past the ORM's result handling: see repository.allocation_balances.
    rows = session.connection().execute(_QUEUE_POSITIONS, {"ids": list(job_ids)})
    return {int(job_id): int(position) for job_id, position in rows}


def _batch_positions(session: Session, rows: Sequence[JobRow]) -> dict[int, int]:
    """The queue places of jobs just queued together, by id: the count runs once per queue, for
    the first of them in it; each later one stands behind those before it. (A job of another
    process queued at the same microsecond, between two of these, is not counted.)"""
    firsts: dict[tuple[int | None, str | None], JobRow] = {}
    for row in sorted(rows, key=lambda row: row.id):
        firsts.setdefault((row.pool_id, row.accelerator), row)
    counted = _queue_positions(session, [row.id for row in firsts.values()])
    behind: dict[tuple[int | None, str | None], int] = {}
    positions: dict[int, int] = {}
    for row in sorted(rows, key=lambda row: row.id):
        queue = (row.pool_id, row.accelerator)
        positions[row.id] = counted[firsts[queue].id] + behind.get(queue, 0)
        behind[queue] = behind.get(queue, 0) + 1
    return positions


def _job_name(name: str | None, command: Sequence[str]) -> str:
    if name:
        if len(name) > 200:
            raise InvalidInput("a job name may be at most 200 characters")
        return name
    first = next((part for part in command if part.strip()), "job")
    return first.rsplit("/", 1)[-1][:200]


@dataclass(frozen=True, slots=True)
class Submission:
    """One job to admit and queue: :meth:`Jobs.submit`'s arguments, for :meth:`Jobs.submit_many`."""

    actor: Actor
    project: str
    pool: str | None
    gpus: int
    time_limit_s: int
    command: tuple[str, ...]
    name: str | None = None
    workdir: str | None = None
    idempotency_key: str | None = None
    accelerator: str | None = None
    preemptible: bool = False
    on_queued: Callable[[JobView], None] | None = None
    """Called with the job's view inside its transaction, before it commits."""
    claim: Claim | None = None
    """The keyed request this submission carries out, when it runs outside that request's
    context (a batch): its key is claimed in the job's transaction, with the answer
    ``on_queued`` handed to it."""


@dataclass(frozen=True, slots=True)
class _Context:
    """A submission with what admission needs to know from the database about it."""

    submission: Submission
    project_id: int
    pool_row: PoolRow | None
    name: str
    time_limit_s: int
    """Rounded up to the backend's step."""
    wanted: frozenset[str]
    """The accelerator classes a class submission accepts (upper case)."""
    accelerator: str | None
    """Those classes as stored on the job, ``|``-separated."""
