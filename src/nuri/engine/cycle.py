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
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nuri.backends.protocol import Backend, BackendError, Ended, Launch
from nuri.domain.commons import ACCELERATORS, Tier
from nuri.domain.jobs import JobState, check_transition
from nuri.domain.ledger import charge_for_attempt, elapsed_seconds
from nuri.engine.clock import Clock
from nuri.engine.lease import SCHEDULER_LEASE, release, try_acquire
from nuri.policy.placement import check_decisions
from nuri.policy.snapshot import (
    ClusterSnapshot,
    NodeState,
    PendingJob,
    Policy,
    PoolState,
    Preempt,
    RunningJob,
    Start,
)
from nuri.store import repository
from nuri.store.tables import AllocationRow, JobRow, LedgerEntryRow, PoolRow

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
    ) -> None:
        self._sessions = sessions
        self._backend = backend
        self._policy = policy
        self._clock = clock
        self._holder = holder
        self._lease_s = lease_s
        self._reconciled = False

    def cycle(self) -> CycleReport:
        # 1. lease
        if not try_acquire(
            self._sessions, SCHEDULER_LEASE, self._holder, self._clock(), self._lease_s
        ):
            self._reconciled = False
            return CycleReport(leader=False)
        # 2. reconcile
        ended = 0
        if not self._reconciled:
            ended += self._apply_ends(self._backend.reconcile(self._running_attempts()))
            self._reconciled = True
        # 3. observe
        ended += self._apply_ends(self._backend.poll())
        # 4. cancel
        cancelling = self._forward_cancels()
        # 5. snapshot
        snapshot = self.snapshot()
        # 6. decide
        decisions = list(self._policy.decide(snapshot))
        check_decisions(snapshot, decisions)
        # 7. apply
        preempting = 0
        for decision in decisions:
            if isinstance(decision, Preempt):
                self._backend.preempt(decision.job_id)
                preempting += 1
        started = sum(
            self._start(decision) for decision in decisions if isinstance(decision, Start)
        )
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
            pool_rows = list(session.scalars(select(PoolRow).order_by(PoolRow.id)))
            busy = repository.busy_devices(session)
            pools = tuple(_pool_state(row, busy) for row in pool_rows)
            tiers = dict(iter(session.execute(select(AllocationRow.id, AllocationRow.tier))))
            active = session.scalars(
                select(JobRow)
                .where(JobRow.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))
                .order_by(JobRow.id)
            )
            running: list[RunningJob] = []
            pending: list[PendingJob] = []
            for row in active:
                tier = Tier(tiers[row.allocation_id])
                if row.state == JobState.RUNNING.value:
                    assert row.node is not None and row.started_at is not None
                    running.append(
                        RunningJob(
                            job_id=row.id,
                            project_id=row.project_id,
                            allocation_id=row.allocation_id,
                            tier=tier,
                            pool_id=row.pool_id,
                            node=row.node,
                            device_indices=tuple(row.device_indices),
                            time_limit_s=row.time_limit_s,
                            started_at=row.started_at.timestamp(),
                        )
                    )
                elif not row.cancel_requested:
                    pending.append(
                        PendingJob(
                            job_id=row.id,
                            project_id=row.project_id,
                            allocation_id=row.allocation_id,
                            tier=tier,
                            pool_id=row.pool_id,
                            devices=row.devices,
                            time_limit_s=row.time_limit_s,
                            submitted_at=row.submitted_at.timestamp(),
                            attained_device_seconds=row.attained_device_seconds,
                        )
                    )
            return ClusterSnapshot(
                now=self._clock().timestamp(),
                pools=pools,
                running=tuple(running),
                pending=tuple(pending),
            )

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
            assert row.started_at is not None
            pool_row = session.get(PoolRow, row.pool_id)
            assert pool_row is not None
            seconds = elapsed_seconds(row.started_at, end.ended_at)
            charge = charge_for_attempt(
                job_id=row.id,
                attempt=row.attempt,
                allocation_id=row.allocation_id,
                pool=repository.pool_of(pool_row),
                devices=row.devices,
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
            if end.state is JobState.PENDING:
                row.attained_device_seconds += charge.device_seconds
                row.started_at = None
                row.node = None
                row.device_indices = []
            else:
                row.ended_at = end.ended_at
        log.info("job %s attempt %s ended %s", end.job_id, end.attempt, end.state)
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
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.scalar(
                select(JobRow).where(JobRow.id == decision.job_id).with_for_update()
            )
            if row is None or row.state != JobState.PENDING.value or row.cancel_requested:
                return False  # cancelled between snapshot and now
            pool_row = session.get(PoolRow, row.pool_id)
            assert pool_row is not None
            check_transition(JobState.PENDING, JobState.RUNNING)
            row.state = JobState.RUNNING.value
            row.attempt += 1
            row.started_at = now
            row.node = decision.node
            row.device_indices = list(decision.device_indices)
            row.reason = None
            launch = Launch(
                job_id=row.id,
                attempt=row.attempt,
                command=tuple(row.command),
                pool=pool_row.name,
                node=decision.node,
                device_indices=decision.device_indices,
                device_env_var=ACCELERATORS[pool_row.accelerator].device_env_var,
                time_limit_s=row.time_limit_s,
                workdir=row.workdir,
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


def _pool_state(row: PoolRow, busy: dict[str, set[int]]) -> PoolState:
    pool = repository.pool_of(row)
    nodes = tuple(
        NodeState(
            name=name,
            devices=pool.devices_per_node,
            free_indices=tuple(
                index for index in range(pool.devices_per_node) if index not in busy.get(name, ())
            ),
        )
        for name in pool.node_names()
    )
    return PoolState(
        pool_id=row.id,
        name=row.name,
        accelerator=row.accelerator,
        rate_milli=row.rate_milli,
        nodes=nodes,
    )
