"""Backups: a populated commons round-trips between SQLite and PostgreSQL row for row, works
afterwards, and every bad backup or unsuitable target is refused with a clear message and
without changing anything."""

import gzip
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from nuri.backends.fake import FakeBackend
from nuri.cli.main import app
from nuri.domain.jobs import JobState
from nuri.engine.clock import ManualClock
from nuri.service.commons import open_commons
from nuri.service.settings import ServerSettings
from nuri.store import backup as backup_module
from nuri.store.backup import BackupError, check_backup, restore_backup, write_backup
from nuri.store.database import make_engine
from nuri.store.migrate import head_revision
from nuri.store.tables import AuditRow, Base, JobRow, LeaseRow, LedgerEntryRow, SettingRow
from tests.conftest import _POSTGRES_SKIP, POSTGRES_URL, World, build_world

NURI = Path(sys.executable).parent / "nuri"


# -- fixtures and helpers -------------------------------------------------------------------


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Another empty PostgreSQL database (the world may already use the fixture's one)."""
    if _POSTGRES_SKIP is not None:
        pytest.skip(_POSTGRES_SKIP)
    name = f"nuri_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database to restore into: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'target.sqlite3'}")
        yield engine
        engine.dispose()
        return
    with fresh_postgres_database() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def populate(world: World) -> dict[str, int]:
    """Jobs in every state with charges in the ledger, plus rows that test the encoding."""
    jobs, engine = world.commons.jobs, world.engine()

    def submit(who: Any, project: str, pool: str, gpus: int, name: str | None = None) -> int:
        return jobs.submit(
            who,
            project=project,
            pool=pool,
            gpus=gpus,
            time_limit_s=600,
            command=["python", "train.py", "--lr", "3e-4"],
            name=name,
        ).id

    completed = submit(world.member, "nlp", "h100", 2, name="한국어 모델 (first run)")
    failed = submit(world.member, "nlp", "atom", 4)
    running = submit(world.outsider, "vision", "h100", 1)
    engine.cycle()
    world.clock.advance(300)
    world.backend.finish(failed, JobState.FAILED, exit_code=1)
    world.clock.advance(600)
    world.backend.finish(completed)
    engine.cycle()
    submit(world.member, "nlp", "h100", 4)  # takes the node the vision job left free
    pending = submit(world.member, "nlp", "h100", 4)  # no node has 4 devices free now
    cancelled = submit(world.member, "nlp", "h100", 4)
    jobs.cancel(world.member, cancelled)
    engine.cycle()
    with world.commons.sessions.begin() as session:
        # String keys whose order differs between byte order and a locale's collation.
        for key in ("Zeta", "alpha", "_hidden", "a-b", "ä"):
            session.add(SettingRow(key=key, value=f"value of {key}\nwith a newline"))
        session.add(
            AuditRow(
                at=world.clock(),
                actor_user_id=world.admin.user_id,
                action="test",
                subject="encoding",
                detail={"z": 1, "a": [0.1, None, True], "큰": {"n": 2**53 + 1}},
            )
        )
    return {
        "completed": completed,
        "failed": failed,
        "running": running,
        "pending": pending,
        "cancelled": cancelled,
    }


def table_contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as Python values, in primary-key order."""
    contents = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            keys = [table.columns.keys().index(column.key) for column in table.primary_key]
            rows = [tuple(row) for row in connection.execute(select(table))]
            contents[table.name] = sorted(rows, key=lambda row: [row[i] for i in keys])
    return contents


def row_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(
            int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        )


def rewrite(path: Path, edit: Callable[[list[bytes]], list[bytes]]) -> None:
    """Change a backup's decompressed lines and compress them again (a valid gzip file)."""
    with gzip.open(path, "rb") as stream:
        lines = stream.read().splitlines(keepends=True)
    path.write_bytes(gzip.compress(b"".join(edit(lines))))


@pytest.fixture
def backed_up(sqlite_world: World, tmp_path: Path) -> tuple[World, Path]:
    """A populated SQLite commons and a backup of it."""
    populate(sqlite_world)
    path = tmp_path / "commons.backup.gz"
    write_backup(sqlite_world.commons.database, path, clock=sqlite_world.clock)
    return sqlite_world, path


# -- round trips ----------------------------------------------------------------------------


def test_a_backup_restores_row_for_row_across_databases_and_the_commons_works_after(
    world: World, target: Engine, tmp_path: Path
) -> None:
    """SQLite and PostgreSQL in both directions: every row comes back equal, the backup checks
    out, and the restored commons takes new jobs with fresh ids (sequences were reset)."""
    ids = populate(world)
    path = tmp_path / "commons.backup.gz"
    header = write_backup(world.commons.database, path, clock=world.clock)
    assert header.schema_revision == head_revision()
    assert header.database == world.commons.database.dialect.name
    assert {entry.name for entry in header.tables} == set(Base.metadata.tables)
    assert check_backup(path) == header
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)

    restored = restore_backup(target, path)

    assert restored == header
    assert table_contents(target) == table_contents(world.commons.database)
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []

    later = ManualClock(world.clock() + timedelta(hours=1))
    backend = FakeBackend(later)
    url = target.url.render_as_string(hide_password=False)
    settings = ServerSettings(home=tmp_path / "restored-home", database_url=url)
    commons = open_commons(settings, clock=later, backend=backend)
    try:
        usage = commons.jobs.usage(world.member, "nlp")
        assert usage.used_units == world.commons.jobs.usage(world.member, "nlp").used_units
        new_job = commons.jobs.submit(
            world.member, project="nlp", pool="atom", gpus=1, time_limit_s=60, command=["true"]
        )
        assert new_job.id == max(ids.values()) + 1
        engine = commons.scheduling_engine()
        engine.cycle()  # takes over the expired lease; the restored RUNNING job is unknown here
        backend.finish(new_job.id)
        engine.cycle()
        assert commons.jobs.show(world.member, new_job.id).state == "COMPLETED"
        with commons.sessions.begin() as session:
            entries = session.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.id)).all()
            assert len({entry.id for entry in entries}) == len(entries)
            assert {entry.job_id for entry in entries} >= {
                ids["completed"],
                ids["failed"],
                ids["running"],
                new_job.id,
            }
    finally:
        commons.close()


def test_force_replaces_everything_in_a_database_that_is_not_empty(
    backed_up: tuple[World, Path], tmp_path: Path
) -> None:
    """Into a commons that has its own data: refused without --force; with it, replaced."""
    world, path = backed_up
    other = build_world(f"sqlite+pysqlite:///{tmp_path / 'other.sqlite3'}", tmp_path / "other")
    try:
        database = other.commons.database
        before = table_contents(database)
        with pytest.raises(BackupError, match=r"not empty .* pass --force to replace"):
            restore_backup(database, path)
        assert table_contents(database) == before
        restore_backup(database, path, replace=True)
        assert table_contents(database) == table_contents(world.commons.database)
    finally:
        other.commons.close()


def test_a_target_whose_server_only_took_the_scheduling_lease_counts_as_empty(
    backed_up: tuple[World, Path], tmp_path: Path
) -> None:
    """`nuri serve` started once on the new database leaves only its lease: no --force needed."""
    world, path = backed_up
    clock = ManualClock(world.clock())
    settings = ServerSettings(
        home=tmp_path / "fresh", database_url=f"sqlite+pysqlite:///{tmp_path / 'fresh.sqlite3'}"
    )
    commons = open_commons(settings, clock=clock, backend=FakeBackend(clock))
    try:
        assert commons.scheduling_engine().cycle().leader
        restore_backup(commons.database, path)
        assert table_contents(commons.database) == table_contents(world.commons.database)
    finally:
        commons.close()


# -- refusals -------------------------------------------------------------------------------


def test_a_corrupted_or_truncated_backup_is_refused_and_the_target_is_untouched(
    backed_up: tuple[World, Path], tmp_path: Path
) -> None:
    """Flipped bytes, a cut-off file, an edited row: each refused with a reason, nothing written."""
    _, path = backed_up
    raw = path.read_bytes()
    target = make_engine(f"sqlite+pysqlite:///{tmp_path / 'target.sqlite3'}")

    def refused(data: bytes, pattern: str) -> None:
        broken = tmp_path / "broken.backup.gz"
        broken.write_bytes(data)
        with pytest.raises(BackupError, match=pattern) as caught:
            restore_backup(target, broken)
        assert "\n" not in str(caught.value)
        with pytest.raises(BackupError, match=pattern):
            check_backup(broken)
        assert inspect(target).get_table_names() == []

    middle = len(raw) * 2 // 3
    flipped = raw[:middle] + bytes(b ^ 0xFF for b in raw[middle : middle + 8]) + raw[middle + 8 :]
    refused(flipped, "is corrupted or truncated")
    refused(raw[: len(raw) - 40], "is corrupted or truncated")

    rewrite(path, lambda lines: [line.replace(b'"lee"', b'"LEE"') for line in lines])
    refused(path.read_bytes(), r"rows of table users do not match their checksum")
    path.write_bytes(raw)
    rewrite(path, lambda lines: lines[:-1])
    refused(path.read_bytes(), "is truncated")
    target.dispose()


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "is not a nuri backup: it is empty"),
        (b"hello, world\n", "is not a nuri backup: it is not gzip-compressed"),
        (gzip.compress(b'{"format": "pg_dump"}\n'), "is not a nuri backup"),
        (gzip.compress(b'{"format": "nuri-backup", "format_version": 9}\n'), "format 9"),
        (gzip.compress(b'{"format": "nuri-backup", "format_version": 1}\n'), "header is damaged"),
    ],
    ids=["empty", "not-gzip", "other-format", "newer-format", "damaged-header"],
)
def test_a_file_that_is_not_a_backup_is_refused_with_what_it_is(
    tmp_path: Path, content: bytes, pattern: str
) -> None:
    """Anything but a nuri backup of a format this nuri reads is refused before any database."""
    path = tmp_path / "not-a-backup"
    path.write_bytes(content)
    with pytest.raises(BackupError, match=pattern):
        check_backup(path)


def test_a_missing_file_is_refused_with_its_name(tmp_path: Path) -> None:
    """No such file: the message names it."""
    with pytest.raises(BackupError, match=r"there is no file .*missing\.gz; check the path"):
        check_backup(tmp_path / "missing.gz")


def test_a_backup_of_another_schema_revision_is_refused_with_what_to_do(
    backed_up: tuple[World, Path], tmp_path: Path
) -> None:
    """A backup from an older schema says which nuri restores it; the target stays empty."""
    _, path = backed_up

    def older(lines: list[bytes]) -> list[bytes]:
        header = json.loads(lines[0])
        header["schema_revision"], header["nuri_version"] = "0001", "0.0.1"
        return [json.dumps(header).encode() + b"\n", *lines[1:]]

    rewrite(path, older)
    target = make_engine(f"sqlite+pysqlite:///{tmp_path / 'target.sqlite3'}")
    with pytest.raises(BackupError, match=r"revision 0001 .* restore it with nuri 0\.0\.1"):
        restore_backup(target, path)
    assert inspect(target).get_table_names() == []
    target.dispose()


def test_a_failed_backup_leaves_the_previous_backup_and_no_partial_file(
    backed_up: tuple[World, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup that fails half-way replaces nothing and leaves no temporary files behind."""
    world, path = backed_up
    before = path.read_bytes()
    real = backup_module._encoded_rows

    def failing(connection: Any, table: Any) -> Iterator[bytes]:
        if table.name == "jobs":
            raise BackupError("disk full (simulated)")
        return real(connection, table)

    monkeypatch.setattr(backup_module, "_encoded_rows", failing)
    with pytest.raises(BackupError, match="simulated"):
        write_backup(world.commons.database, path, clock=world.clock)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_restoring_needs_an_empty_database_and_counts_what_is_there(
    backed_up: tuple[World, Path],
) -> None:
    """Restoring into the very database it came from is refused, and changes nothing; the
    count leaves out the scheduler's lease (a server's state, not the commons')."""
    world, path = backed_up
    rows = row_count(world.commons.database)
    with world.commons.sessions.begin() as session:
        leases = session.scalar(select(func.count()).select_from(LeaseRow))
    assert leases == 1
    with pytest.raises(BackupError, match=f"not empty \\({rows - 1} rows in"):
        restore_backup(world.commons.database, path)
    assert row_count(world.commons.database) == rows


# -- the commands ---------------------------------------------------------------------------


def nuri(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (errors become one line and exit code 1)."""
    env = {**os.environ, "NURI_HOME": str(home)}
    env.pop("NURI_DATABASE_URL", None)
    return subprocess.run(
        [str(NURI), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_nuri_backup_and_restore_commands_round_trip_and_refuse_in_one_line(
    tmp_path: Path,
) -> None:
    """The commands use $NURI_HOME's database; refusals are one line, exit 1, no traceback."""
    source_home, target_home = tmp_path / "source", tmp_path / "target"
    world = build_world(f"sqlite+pysqlite:///{source_home / 'nuri.sqlite3'}", source_home)
    populate(world)
    expected = table_contents(world.commons.database)
    world.commons.close()
    path = tmp_path / "commons.backup.gz"
    runner = CliRunner()

    def invoke(home: Path, *args: str) -> Any:
        # In-process for speed; the subprocess runs below check what a user sees on failure.
        result = runner.invoke(app, list(args), env={"NURI_HOME": str(home)})
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    assert "backed up" in invoke(source_home, "backup", str(path)).stderr
    assert "intact nuri backup" in invoke(source_home, "restore", "--check", str(path)).stdout
    assert "restored" in invoke(target_home, "restore", str(path)).stderr
    target = make_engine(f"sqlite+pysqlite:///{target_home / 'nuri.sqlite3'}")
    assert table_contents(target) == expected

    for args, message in [
        (("restore", str(path)), "error: the target database is not empty"),
        (("restore", str(tmp_path / "missing.gz")), "error: there is no file"),
    ]:
        refused = nuri(target_home, *args)
        assert refused.returncode == 1
        assert refused.stderr.startswith(message), refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    invoke(target_home, "restore", "--force", str(path))
    assert table_contents(target) == expected
    target.dispose()


def test_job_ids_in_a_backup_are_the_ones_the_ledger_refers_to(
    backed_up: tuple[World, Path],
) -> None:
    """The header's counts agree with the database: one ledger entry per charged attempt."""
    world, path = backed_up
    header = check_backup(path)
    counts = {entry.name: entry.rows for entry in header.tables}
    with world.commons.sessions.begin() as session:
        assert counts["jobs"] == session.scalar(select(func.count()).select_from(JobRow))
        assert counts["ledger_entries"] == session.scalar(
            select(func.count()).select_from(LedgerEntryRow)
        )
    assert counts["ledger_entries"] == 2  # the completed and the failed job
