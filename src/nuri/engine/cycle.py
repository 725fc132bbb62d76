"""One scheduling cycle, shared by the live service (and, later, the simulator).

::

    1. lease      hold the scheduling lease, or do nothing this cycle
    2. reconcile  once per leadership: runs the store thinks are RUNNING but the backend lost
    3. observe    apply the ends the backend reports: new state, and one charge per attempt
    4. cancel     forward cancellation requests for RUNNING jobs to the backend
    5. snapshot   pools, nodes' free devices, running and pending jobs, as immutable values
    6. decide     the policy's decisions, checked so that no pool is ever over-committed
    7. apply      mark each started job RUNNING (committed first), then start it on the backend

Each state change is its own transaction, and applying an end twice changes nothing: a crash at
any point leaves the store consistent and the next cycle carries on.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nuri.backends.protocol import (
    Backend,
    BackendError,
    Ended,
    Launch,
    Refused,
    Started,
    Waiting,
)
from nuri.domain.commons import ACCELERATORS
from nuri.domain.jobs import JobState, check_transition
from nuri.domain.ledger import charge_for_attempt, elapsed_seconds
from nuri.engine.clock import Clock
from nuri.engine.lease import SCHEDULER_LEASE, release, try_acquire
from nuri.engine.snapshot import build_snapshot
from nuri.policy.cycle import plan
from nuri.policy.placement import accepts
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Policy,
    Preempt,
    Start,
)
from nuri.store import repository
from nuri.store.tables import JobRow, LedgerEntryRow, PoolRow, ProjectRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one cycle did; ``leader`` is False when another instance holds the lease."""

    leader: bool
    ended: int = 0
    started: int = 0
    cancelling: int = 0
    preempting: int = 0


class SchedulingEngine:
    """Drives a backend with a policy. Call :meth:`cycle` repeatedly (see ``engine.runner``)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        backend: Backend,
        policy: Policy,
        clock: Clock,
        holder: str,
        lease_s: float = 15.0,
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        self._sessions = sessions
        self._backend = backend
        self._policy = policy
        self._clock = clock
        self._holder = holder
        self._lease_s = lease_s
        self._reconciled = False
        self._housekeeping = housekeeping

    def cycle(self) -> CycleReport:
        # 1. lease
        if not try_acquire(
            self._sessions, SCHEDULER_LEASE, self._holder, self._clock(), self._lease_s
        ):
            self._reconciled = False
            return CycleReport(leader=False)
        if self._housekeeping is not None:  # e.g. awards written to Slurm before submissions
            self._housekeeping()
        # 2. reconcile
        ended = 0
        if not self._reconciled:
            ended += self._apply_ends(self._backend.reconcile(self._running_attempts()))
            self._reconciled = True
        # 3. observe
        for report in self._backend.poll():
            if isinstance(report, Started):
                self.apply_start(report)
            else:
                ended += self.apply_end(report)
        # 4. cancel
        cancelling = self._forward_cancels()
        # 5. snapshot
        snapshot = self.snapshot()
        if self._backend.mirrors_queue:
            for refusal in self._backend.sync_queue(self._waiting(snapshot)):
                ended += self._refuse(refusal)
        if self._backend.places_jobs:  # Slurm's own scheduler decides (native mode)
            return CycleReport(leader=True, ended=ended, cancelling=cancelling)
        # 6. decide (reservations honoured, every decision checked)
        decisions = plan(self._policy, snapshot)
        # 7. apply
        preempting = 0
        for decision in decisions:
            if isinstance(decision, Preempt):
                self._backend.preempt(decision.job_id)
                preempting += 1
        started = sum(self._start(d) for d in decisions if isinstance(d, Start))
        return CycleReport(
            leader=True, ended=ended, started=started, cancelling=cancelling, preempting=preempting
        )

    def resign(self) -> None:
        """Give up the lease (on clean shutdown) so that another instance takes over at once."""
        release(self._sessions, SCHEDULER_LEASE, self._holder)
        self._reconciled = False

    def snapshot(self) -> ClusterSnapshot:
        """The immutable state the policy sees now."""
        with self._sessions.begin() as session:
            return build_snapshot(session, self._clock())

    # -- steps ---------------------------------------------------------------------------------

    def _running_attempts(self) -> list[tuple[int, int]]:
        with self._sessions.begin() as session:
            rows = session.execute(
                select(JobRow.id, JobRow.attempt).where(JobRow.state == JobState.RUNNING.value)
            )
            return [(job_id, attempt) for job_id, attempt in rows]

    def _apply_ends(self, ends: Sequence[Ended]) -> int:
        return sum(self.apply_end(end) for end in ends)

    def apply_end(self, end: Ended) -> bool:
        """Record that an attempt ended, and charge it; False if it was already recorded."""
        with self._sessions.begin() as session:
            row = session.scalar(select(JobRow).where(JobRow.id == end.job_id).with_for_update())
            if row is None or row.state != JobState.RUNNING.value or row.attempt != end.attempt:
                return False
            check_transition(JobState.RUNNING, end.state)
            assert row.started_at is not None and row.pool_id is not None
            pool_row = session.get(PoolRow, row.pool_id)
            assert pool_row is not None
            # A backend that measures run time (Slurm's accounting) is believed over nuri's clock.
            seconds = (
                end.elapsed_s
                if end.elapsed_s is not None
                else elapsed_seconds(row.started_at, end.ended_at)
            )
            charge = charge_for_attempt(
                job_id=row.id,
                attempt=row.attempt,
                allocation_id=row.allocation_id,
                pool=repository.pool_of(pool_row),
                devices=end.devices if end.devices is not None else row.devices,
                seconds=seconds,
            )
            already = session.scalar(
                select(LedgerEntryRow.id).where(
                    LedgerEntryRow.job_id == row.id, LedgerEntryRow.attempt == row.attempt
                )
            )
            if already is None:
                session.add(
                    LedgerEntryRow(
                        job_id=charge.job_id,
                        attempt=charge.attempt,
                        allocation_id=charge.allocation_id,
                        project_id=row.project_id,
                        pool_id=charge.pool_id,
                        devices=charge.devices,
                        seconds=charge.seconds,
                        h100e_units=charge.h100e_units,
                        cost_krw=charge.cost_krw,
                        created_at=self._clock(),
                    )
                )
            row.state = end.state.value
            row.exit_code = end.exit_code
            row.reason = end.reason
            # All service attained, the ended attempt's too: a requeued job is ranked by it,
            # a finished one's run time (attained / devices) teaches the run-time history.
            row.attained_device_seconds += charge.device_seconds
            if end.state is JobState.PENDING:
                row.started_at = None
                row.node = None
                row.device_indices = []
                if row.accelerator is not None:
                    row.pool_id = None  # requeued: the policy may choose another pool of the class
            else:
                row.ended_at = end.ended_at
        log.info("job %s attempt %s ended %s", end.job_id, end.attempt, end.state)
        return True

    def apply_start(self, started: Started) -> bool:
        """Record a start the backend made (or correct the recorded start time to the
        backend's); False if there was nothing to change."""
        with self._sessions.begin() as session:
            row = session.scalar(
                select(JobRow).where(JobRow.id == started.job_id).with_for_update()
            )
            if row is None:
                return False
            if row.state == JobState.RUNNING.value and row.attempt == started.attempt:
                changed = row.started_at != started.started_at
                row.started_at = started.started_at
                return changed
            pool_id = session.scalar(select(PoolRow.id).where(PoolRow.name == started.pool))
            runnable = row.state == JobState.PENDING.value and row.attempt < started.attempt
            if not runnable or pool_id is None:
                orphan = True
            else:
                orphan = False
                check_transition(JobState.PENDING, JobState.RUNNING)
                row.state = JobState.RUNNING.value
                row.attempt = started.attempt
                row.pool_id = pool_id
                row.started_at = started.started_at
                row.node = started.node
                row.device_indices = []
                row.reason = None
        if orphan:  # e.g. cancelled in nuri just as Slurm started it: stop the run
            log.warning(
                "job %s attempt %s started but is not pending; cancelling it",
                started.job_id,
                started.attempt,
            )
            self._backend.cancel(started.job_id)
            return False
        log.info("job %s attempt %s started on %s", started.job_id, started.attempt, started.node)
        return True

    def _waiting(self, snapshot: ClusterSnapshot) -> list[Waiting]:
        """The pending jobs as a queue-mirroring backend submits them."""
        if not snapshot.pending:
            return []
        with self._sessions.begin() as session:
            rows = {
                row.id: row
                for row in session.scalars(
                    select(JobRow).where(JobRow.state == JobState.PENDING.value)
                )
            }
            projects = dict(iter(session.execute(select(ProjectRow.id, ProjectRow.name))))
        waiting = []
        for job in snapshot.pending:
            row = rows.get(job.job_id)
            if row is None:
                continue
            pools = tuple(
                (pool.name, pool.accelerator)
                for pool in snapshot.pools
                if accepts(pool, job) and any(n.devices >= job.devices for n in pool.nodes)
            )
            if not pools:
                continue
            waiting.append(
                Waiting(
                    job_id=row.id,
                    attempt=row.attempt + 1,
                    name=row.name,
                    project=projects[row.project_id],
                    command=tuple(row.command),
                    workdir=row.workdir,
                    devices=row.devices,
                    time_limit_s=row.time_limit_s,
                    pools=pools,
                )
            )
        return waiting

    def _refuse(self, refusal: Refused) -> bool:
        with self._sessions.begin() as session:
            row = session.scalar(
                select(JobRow).where(JobRow.id == refusal.job_id).with_for_update()
            )
            if row is None or row.state != JobState.PENDING.value:
                return False
            row.state = check_transition(JobState.PENDING, JobState.FAILED).value
            row.ended_at = self._clock()
            row.reason = refusal.reason
        log.info("job %s refused by the backend: %s", refusal.job_id, refusal.reason)
        return True

    def _forward_cancels(self) -> int:
        with self._sessions.begin() as session:
            ids = list(
                session.scalars(
                    select(JobRow.id).where(
                        JobRow.state == JobState.RUNNING.value, JobRow.cancel_requested.is_(True)
                    )
                )
            )
        for job_id in ids:
            self._backend.cancel(job_id)
        return len(ids)

    def _start(self, decision: Start) -> bool:
        if len(decision.placement) != 1:
            raise BackendError(
                f"job {decision.job_id}: the {self._backend.name} backend runs a job on one node"
            )
        [part] = decision.placement
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.scalar(
                select(JobRow).where(JobRow.id == decision.job_id).with_for_update()
            )
            if row is None or row.state != JobState.PENDING.value or row.cancel_requested:
                return False  # cancelled between snapshot and now
            if row.pool_id is not None and row.pool_id != decision.pool_id:
                raise ValueError(f"job {row.id} was placed outside the pool it named")
            row.pool_id = decision.pool_id  # an accelerator-class job gets its pool now
            pool_row = session.get(PoolRow, decision.pool_id)
            assert pool_row is not None
            project_name = session.scalar(
                select(ProjectRow.name).where(ProjectRow.id == row.project_id)
            )
            assert project_name is not None
            check_transition(JobState.PENDING, JobState.RUNNING)
            row.state = JobState.RUNNING.value
            row.attempt += 1
            row.started_at = now
            row.node = part.node
            row.device_indices = list(part.device_indices)
            row.reason = None
            launch = Launch(
                job_id=row.id,
                attempt=row.attempt,
                command=tuple(row.command),
                pool=pool_row.name,
                node=part.node,
                device_indices=part.device_indices,
                device_env_var=ACCELERATORS[pool_row.accelerator].device_env_var,
                time_limit_s=row.time_limit_s,
                workdir=row.workdir,
                accelerator=pool_row.accelerator,
                project=project_name,
                name=row.name,
            )
        try:
            self._backend.start(launch)
        except BackendError as error:
            self.apply_end(
                Ended(
                    job_id=launch.job_id,
                    attempt=launch.attempt,
                    state=JobState.FAILED,
                    ended_at=self._clock(),
                    reason=str(error),
                )
            )
            return False
        return True
