"""The commons and Slurm's books kept in step: awards out to Slurm, usage in from ``sacct``.

- :meth:`SlurmBooks.sync_awards` writes every project's awards as Slurm accounts and QOS
  limits (:mod:`nuri.slurm.accounts`), only when they changed since the last call.
- :meth:`SlurmBooks.import_usage` charges the ledger for every run Slurm accounted that the
  ledger lacks: runs of this commons' jobs whose end nuri never observed, and jobs submitted to
  Slurm directly (``sbatch -A <project>``), which become jobs of the project's PI with their
  Slurm id as idempotency key. Importing twice charges nothing twice.
- :meth:`SlurmBooks.reconcile` lists every difference between the ledger and Slurm: per run
  (devices x seconds), and per project (the budget Slurm enforces against nuri's remaining).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import Tier
from nuri.domain.jobs import JobState
from nuri.domain.ledger import charge_for_attempt
from nuri.engine.clock import Clock
from nuri.slurm.accounts import (
    AwardFacts,
    SlurmAccount,
    apply_accounts,
    desired_accounts,
    qos_name,
    qos_usage,
)
from nuri.slurm.commands import AccountingRecord, SlurmTools
from nuri.store import repository
from nuri.store.tables import (
    AllocationRow,
    JobRow,
    LedgerEntryRow,
    PoolRow,
    ProjectRow,
)

_SLURM_STATES = {
    "COMPLETED": JobState.COMPLETED,
    "TIMEOUT": JobState.TIMEOUT,
    "CANCELLED": JobState.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class Difference:
    """One disagreement between the ledger and Slurm."""

    subject: str
    """``job 12 attempt 1``, ``slurm job 40`` or ``project snu-nlp``."""
    ledger: str
    slurm: str
    note: str


class SlurmBooks:
    """Awards and usage between one commons' store and one Slurm cluster."""

    def __init__(
        self, sessions: sessionmaker[Session], tools: SlurmTools, prefix: str, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._tools = tools
        self._prefix = prefix
        self._name = re.compile(rf"^{re.escape(prefix)}-(\d+)-(\d+)$")
        self._clock = clock
        self._synced: list[SlurmAccount] | None = None

    # -- awards out --------------------------------------------------------------------------

    def desired(self) -> list[SlurmAccount]:
        now = self._clock()
        with self._sessions.begin() as session:
            charged = dict(
                iter(
                    session.execute(
                        select(
                            LedgerEntryRow.allocation_id, func.sum(LedgerEntryRow.h100e_units)
                        ).group_by(LedgerEntryRow.allocation_id)
                    )
                )
            )
            rows = session.execute(
                select(AllocationRow, ProjectRow.name).join(
                    ProjectRow, ProjectRow.id == AllocationRow.project_id
                )
            ).all()
            facts = [
                AwardFacts(
                    project=name,
                    awarded_units=allocation.awarded_units,
                    charged_units=int(charged.get(allocation.id, 0)),
                    tier=Tier(allocation.tier),
                    in_force=allocation.starts_at <= now < allocation.ends_at,
                )
                for allocation, name in rows
            ]
        return desired_accounts(facts)

    def sync_awards(self) -> bool:
        """Write to Slurm the projects' awards that changed since the last call (all of them
        the first time); True if anything was written. Each project costs a few ``sacctmgr``
        calls of about half a second, so only what changed is written."""
        accounts = self.desired()
        if accounts == self._synced:
            return False
        known = set(self._synced or ())
        apply_accounts(self._tools, [account for account in accounts if account not in known])
        self._synced = accounts
        return True

    # -- usage in ----------------------------------------------------------------------------

    def import_usage(self, since: datetime) -> int:
        """Charge every run Slurm accounted since ``since`` that the ledger lacks; how many."""
        imported = 0
        for record in self._finished_runs(since):
            with self._sessions.begin() as session:
                imported += self._import(session, record)
        return imported

    def _import(self, session: Session, record: AccountingRecord) -> int:
        pool = session.scalar(select(PoolRow).where(PoolRow.name == record.partition))
        if pool is None or record.end is None or record.start is None:
            return 0
        match = self._name.match(record.name)
        if match is not None:
            job = session.get(JobRow, int(match[1]))
            attempt = int(match[2])
            if job is None:
                return 0
        else:
            job = self._direct_job(session, record)
            if job is None:
                return 0
            attempt = 1
        exists = session.scalar(
            select(LedgerEntryRow.id).where(
                LedgerEntryRow.job_id == job.id, LedgerEntryRow.attempt == attempt
            )
        )
        if exists is not None:
            return 0
        charge = charge_for_attempt(
            job_id=job.id,
            attempt=attempt,
            allocation_id=job.allocation_id,
            pool=repository.pool_of(pool),
            devices=_devices(record),
            seconds=record.elapsed_s,
        )
        session.add(
            LedgerEntryRow(
                job_id=job.id,
                attempt=attempt,
                allocation_id=job.allocation_id,
                project_id=job.project_id,
                pool_id=pool.id,
                devices=charge.devices,
                seconds=charge.seconds,
                h100e_units=charge.h100e_units,
                cost_krw=charge.cost_krw,
                created_at=self._clock(),
            )
        )
        return 1

    def _direct_job(self, session: Session, record: AccountingRecord) -> JobRow | None:
        """The job row standing for a job submitted to Slurm directly (created once)."""
        project = session.scalar(select(ProjectRow).where(ProjectRow.name == record.account))
        if project is None:
            return None
        key = f"slurm:{self._prefix}:{record.slurm_id}"
        existing = session.scalar(
            select(JobRow).where(
                JobRow.submitted_by == project.pi_user_id, JobRow.idempotency_key == key
            )
        )
        if existing is not None:
            return existing
        assert record.start is not None and record.end is not None
        allocation = session.scalar(
            select(AllocationRow)
            .where(
                AllocationRow.project_id == project.id,
                AllocationRow.starts_at <= record.start,
                AllocationRow.ends_at > record.start,
            )
            .order_by(AllocationRow.id)
        )
        if allocation is None:
            return None
        pool_id = session.scalar(select(PoolRow.id).where(PoolRow.name == record.partition))
        state = _SLURM_STATES.get(record.state, JobState.FAILED)
        row = JobRow(
            name=record.name[:200],
            project_id=project.id,
            allocation_id=allocation.id,
            pool_id=pool_id,
            submitted_by=project.pi_user_id,
            idempotency_key=key,
            command=[f"(submitted to Slurm directly as job {record.slurm_id})"],
            workdir=None,
            devices=max(1, _devices(record)),
            time_limit_s=max(60, record.elapsed_s),
            hold_units=0,
            state=state.value,
            attempt=1,
            submitted_at=record.submit or record.start,
            started_at=record.start,
            ended_at=record.end,
            node=record.nodes,
            exit_code=record.exit_code,
            reason=f"imported from Slurm accounting ({record.state.lower()})",
        )
        session.add(row)
        session.flush()
        return row

    def _finished_runs(self, since: datetime) -> list[AccountingRecord]:
        """Runs that used devices and ended, one record per Slurm job.

        slurmdbd files a job's records as slurmctld reports them, asynchronously; for a moment a
        job can appear twice, once under a placeholder name ("allocation") before its own. A
        job id seen under this commons' name is this commons' job, whatever else is listed.
        """
        with self._sessions.begin() as session:
            projects = set(session.scalars(select(ProjectRow.name)))
        by_id: dict[int, AccountingRecord] = {}
        for record in self._tools.sacct(since=since):
            ran = record.start is not None and record.nodes not in ("", "None assigned")
            if record.account not in projects or record.end is None or not ran:
                continue
            current = by_id.get(record.slurm_id)
            if current is None or self._name.match(record.name):
                by_id[record.slurm_id] = record
        return list(by_id.values())

    # -- comparison --------------------------------------------------------------------------

    def reconcile(self, since: datetime | None = None) -> list[Difference]:
        """Every difference between the ledger and Slurm's accounting (empty: they agree)."""
        since = since or self._clock() - timedelta(days=30)
        differences: list[Difference] = []
        runs = self._finished_runs(since)
        with self._sessions.begin() as session:
            entries = {
                (entry.job_id, entry.attempt): entry
                for entry in session.scalars(
                    select(LedgerEntryRow).where(LedgerEntryRow.created_at >= since)
                )
            }
            direct_keys = dict(
                iter(
                    session.execute(
                        select(JobRow.idempotency_key, JobRow.id).where(
                            JobRow.idempotency_key.like("slurm:%")
                        )
                    )
                )
            )
        seen: set[tuple[int, int]] = set()
        for record in runs:
            match = self._name.match(record.name)
            if match is not None:
                key = (int(match[1]), int(match[2]))
                subject = f"job {key[0]} attempt {key[1]} (slurm job {record.slurm_id})"
            else:
                direct = direct_keys.get(f"slurm:{self._prefix}:{record.slurm_id}")
                key = (direct, 1) if direct is not None else (-record.slurm_id, 0)
                subject = f"slurm job {record.slurm_id} ({record.account}, submitted directly)"
            seen.add(key)
            slurm_usage = f"{_devices(record)} devices x {record.elapsed_s} s"
            entry = entries.get(key)
            if entry is None:
                if record.elapsed_s > 0:
                    differences.append(
                        Difference(subject, "no charge", slurm_usage, "run 'import-usage'")
                    )
                continue
            if (entry.devices, entry.seconds) != (_devices(record), record.elapsed_s):
                differences.append(
                    Difference(
                        subject,
                        f"{entry.devices} devices x {entry.seconds} s",
                        slurm_usage,
                        "usage differs",
                    )
                )
        for key, entry in entries.items():
            if key not in seen and entry.seconds > 0:
                differences.append(
                    Difference(
                        f"job {key[0]} attempt {key[1]}",
                        f"{entry.devices} devices x {entry.seconds} s",
                        "no record",
                        "charged but Slurm has no run",
                    )
                )
        differences += self._budget_differences()
        return differences

    def _budget_differences(self) -> list[Difference]:
        differences = []
        for account in self.desired():
            try:
                usage = qos_usage(self._tools, qos_name(account.name))
            except ValueError:
                differences.append(
                    Difference(
                        f"project {account.name}",
                        f"{account.billing_minutes} billing-minutes",
                        "no QOS",
                        "awards not written to Slurm",
                    )
                )
                continue
            if usage.limit_billing_minutes != account.billing_minutes:
                differences.append(
                    Difference(
                        f"project {account.name}",
                        f"budget {account.billing_minutes} billing-minutes",
                        f"budget {usage.limit_billing_minutes}",
                        "Slurm enforces another budget",
                    )
                )
        return differences


def _devices(record: AccountingRecord) -> int:
    for name in ("gres/gpu", "gres/npu"):
        if name in record.alloc_tres:
            return record.alloc_tres[name]
    return 0
