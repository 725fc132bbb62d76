"""The store on SQLite and PostgreSQL: migrations, constraints, leases and concurrent writers."""

import threading
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import IntegrityError

from nuri.domain.errors import AdmissionRefused
from nuri.engine.lease import release, try_acquire
from nuri.store.database import make_autocommit_sessionmaker, make_engine, make_sessionmaker
from nuri.store.migrate import current_revision, head_revision, upgrade_to_head
from nuri.store.tables import Base, JobRow, LedgerEntryRow, SettingRow
from tests.conftest import START, World


def test_migrations_from_empty_reach_head_and_match_the_models(database_url: str) -> None:
    """An empty database migrates to the newest revision, and the schema equals the models."""
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert {"jobs", "ledger_entries", "allocations", "api_tokens"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    """Every start migrates; on an up-to-date database that is a no-op."""
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    """The default database uses write-ahead logging, so readers never block the writer."""
    engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_the_ledger_refuses_a_second_charge_for_one_attempt(world: World) -> None:
    """The unique key on (job, attempt) makes double charging impossible in the database."""
    job = world.commons.jobs.submit(
        world.member, project="nlp", pool="h100", gpus=1, time_limit_s=60, command=["true"]
    )
    entry = {
        "job_id": job.id,
        "attempt": 1,
        "allocation_id": job.allocation_id,
        "project_id": 1,
        "pool_id": 1,
        "devices": 1,
        "seconds": 10,
        "h100e_units": 10_000,
        "cost_krw": 10,
        "created_at": START,
    }
    sessions = world.commons.sessions
    with sessions.begin() as session:
        entry["project_id"] = session.scalar(select(JobRow.project_id).where(JobRow.id == job.id))
        session.add(LedgerEntryRow(**entry))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(LedgerEntryRow(**entry))


def test_lease_is_exclusive_until_it_expires(world: World) -> None:
    """One holder at a time; another may take the lease only once it has expired or been released."""
    sessions = world.commons.sessions
    assert try_acquire(sessions, "scheduler", "a", START, 10)
    assert not try_acquire(sessions, "scheduler", "b", START + timedelta(seconds=5), 10)
    assert try_acquire(sessions, "scheduler", "a", START + timedelta(seconds=5), 10)  # renew
    assert not try_acquire(sessions, "scheduler", "b", START + timedelta(seconds=14), 10)
    assert try_acquire(sessions, "scheduler", "b", START + timedelta(seconds=15), 10)
    release(sessions, "scheduler", "b")
    assert try_acquire(sessions, "scheduler", "a", START + timedelta(seconds=16), 10)


def test_concurrent_submissions_never_overspend_an_award(world: World) -> None:
    """Eight threads race to hold 2 GPU-hours each of a 10-hour award: exactly five win."""
    results: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        try:
            world.commons.jobs.submit(
                world.member, project="nlp", pool="h100", gpus=2, time_limit_s=3600, command=["x"]
            )
            outcome = "admitted"
        except AdmissionRefused:
            outcome = "refused"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["admitted"] * 5 + ["refused"] * 3
    usage = world.commons.jobs.usage(world.admin, "nlp")
    assert usage.held_units == usage.awarded_units
    assert usage.remaining_units == 0


def test_concurrent_retries_with_one_idempotency_key_create_one_job(world: World) -> None:
    """A submission retried in parallel under the same key queues exactly one job."""
    ids: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def submit() -> None:
        barrier.wait()
        job = world.commons.jobs.submit(
            world.member,
            project="nlp",
            pool="h100",
            gpus=1,
            time_limit_s=60,
            command=["x"],
            idempotency_key="retry-me",
        )
        with lock:
            ids.append(job.id)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(ids) == 4 and len(set(ids)) == 1
    assert len(world.commons.jobs.list(world.admin)) == 1


def test_timestamps_come_back_timezone_aware_in_utc(world: World) -> None:
    """Datetimes round-trip through either database as aware UTC values."""
    job = world.commons.jobs.submit(
        world.member, project="nlp", pool="h100", gpus=1, time_limit_s=60, command=["x"]
    )
    shown = world.commons.jobs.show(world.member, job.id)
    assert shown.submitted_at == START
    assert shown.submitted_at.utcoffset() == timedelta(0)


def test_sessionmaker_on_a_fresh_sqlite_file_creates_its_directory(tmp_path) -> None:
    """NURI_HOME need not exist beforehand: the database's folder is created."""
    engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'a' / 'b' / 'nuri.sqlite3'}")
    upgrade_to_head(engine)
    with make_sessionmaker(engine).begin() as session:
        assert session.execute(select(LedgerEntryRow)).first() is None
    engine.dispose()


def test_autocommit_sessions_commit_each_statement_on_postgresql_only(database_url: str) -> None:
    """On PostgreSQL a write in an autocommit session is everyone's at once, with no BEGIN or
    COMMIT sent; on SQLite the sessions are the ordinary ones, so it waits for the commit."""
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    # Another client of the database, without this process's SQLite writer lock.
    outside = create_engine(database_url)

    def seen(key: str) -> str | None:
        with outside.connect() as other:
            return other.scalar(select(SettingRow.value).where(SettingRow.key == key))

    try:
        with make_autocommit_sessionmaker(engine).begin() as session:
            session.add(SettingRow(key="probe", value="1"))
            session.flush()
            seen_inside = seen("probe")
        assert seen_inside == ("1" if engine.dialect.name == "postgresql" else None)
        assert seen("probe") == "1"
        with make_sessionmaker(engine).begin() as session:
            session.add(SettingRow(key="pending", value="2"))
            session.flush()
            assert seen("pending") is None  # the ordinary sessions keep a transaction's rows
        assert seen("pending") == "2"
    finally:
        outside.dispose()
        engine.dispose()
