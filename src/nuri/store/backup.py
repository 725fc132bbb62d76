"""Backing up a commons' database to one portable file, and restoring it, on SQLite or PostgreSQL.

A backup is a gzip file of JSON lines, in two gzip members (``zcat`` reads them as one stream)::

    {"format": "nuri-backup", "format_version": 1, ..., "tables": [{"name", "columns",
     "rows", "sha256"}, ...]}                                   <- the header, one line
    {"table": "hubs"}                                           <- each table in turn, in
    [1, "ksc", "Korea Supercomputing Centre", "national-centre"]   foreign-key order: a marker,
    ...                                                            then one JSON array per row

Every table of ``Base.metadata`` is written in ``metadata.sorted_tables`` order (parents before
children) with its rows in primary-key order (strings compared byte by byte on both databases),
so the same data gives the same lines whichever database it came from. Values are lossless:
integers exact, datetimes ISO 8601 with their zone, JSON columns as JSON, booleans, ``null``.
A table's ``sha256`` is the digest of its row lines exactly as written, so a backup is checked
without a database, and a restored database is checked by encoding its tables again.

Guarantees:

- ``write_backup`` reads every table in one transaction (PostgreSQL: REPEATABLE READ, read only;
  SQLite: one read transaction, which in WAL mode does not hold up writers), writes to a
  temporary file beside the target, checks it, and only then renames it over the target.
- ``restore_backup`` refuses, changing nothing, unless the backup is intact, its schema revision
  is this nuri's, and the target is empty (but for the scheduling lease a server started on it
  may hold) or ``replace`` is given. It then inserts every row in
  one transaction, resets PostgreSQL's id sequences, and checks the restored tables' counts and
  digests before committing: all or nothing.

Every refusal is a ``BackupError`` whose message says what is wrong and what to do.
"""

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from alembic.runtime.migration import MigrationContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    Table,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

import nuri
from nuri.engine.clock import Clock
from nuri.store.migrate import head_revision, upgrade_to_head
from nuri.store.tables import Base, LeaseRow

FORMAT = "nuri-backup"
FORMAT_VERSION = 1
BATCH_ROWS = 1000
"""Rows inserted per statement and fetched per round trip."""
HEADER_MAX_BYTES = 16 * 1024 * 1024
"""A first line longer than this is not a nuri header; stops a stray file being read whole."""
SERVER_STATE_TABLES = frozenset({LeaseRow.__tablename__})
"""A running server's own state (who holds the scheduling lease), not the commons': a server
started once on the target leaves a row there, which does not make the target "not empty".
A restore replaces these rows without ``--force``."""


class BackupError(Exception):
    """A backup cannot be written, read or restored; the message says why and what to do."""


class TableEntry(BaseModel):
    """One table in a backup: its columns in order, how many rows, and their digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    columns: tuple[str, ...]
    rows: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the table's row lines, UTF-8, each with its newline, in file order."""


class BackupHeader(BaseModel):
    """The first line of a backup: what made it, from which schema, and what it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["nuri-backup"]
    format_version: int = Field(ge=1)
    nuri_version: str
    """The nuri that wrote it (a backup restores with any nuri at the same schema revision)."""
    schema_revision: str
    """The Alembic revision of the database it was taken from."""
    created_at: datetime
    """When the snapshot was taken, with its zone."""
    database: str
    """The SQLAlchemy dialect it was taken from: ``sqlite`` or ``postgresql``."""
    tables: tuple[TableEntry, ...]

    @property
    def total_rows(self) -> int:
        return sum(table.rows for table in self.tables)


class BackupProgress(Protocol):
    """Told how far a backup, check or restore has got, e.g. to draw a progress bar."""

    def start(self, activity: str, total_rows: int) -> None:
        """A new pass over ``total_rows`` rows begins (``activity``: e.g. "backing up")."""

    def table(self, name: str) -> None:
        """The pass has reached table ``name``."""

    def advance(self, rows: int) -> None:
        """``rows`` more rows are done."""


class SilentProgress:
    """Reports nothing."""

    def start(self, activity: str, total_rows: int) -> None:
        pass

    def table(self, name: str) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


# -- encoding values ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Codec:
    """How one column's values become JSON and back."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _encode_moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _decode_moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


_PLAIN = _Codec(_same, _same)
_MOMENT = _Codec(_encode_moment, _decode_moment)


def _codec(table: Table, column: Column[Any]) -> _Codec:
    """The codec for a column; a type without one fails before any row is read or written."""
    column_type = column.type
    while isinstance(column_type, TypeDecorator):  # e.g. UtcDateTime: encode what it stores
        column_type = column_type.impl_instance
    if isinstance(column_type, JSON):
        return _PLAIN
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        python_type = object
    if python_type is datetime:
        return _MOMENT
    if python_type in (int, str, bool, float):
        return _PLAIN
    raise BackupError(
        f"column {table.name}.{column.name} has type {column.type}, which backups do not encode;"
        " this is a bug in nuri, please report it"
    )


def _row_line(values: Sequence[Any]) -> bytes:
    # sort_keys: a JSON column's keys come back from the databases in different orders.
    return (
        json.dumps(list(values), ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
    ).encode()


def _marker_line(table: Table) -> bytes:
    return (json.dumps({"table": table.name}) + "\n").encode()


# -- reading tables -------------------------------------------------------------------------


def _tables() -> list[Table]:
    """Every table, parents before children, so rows insert without breaking a foreign key."""
    return list(Base.metadata.sorted_tables)


def _rows_in_key_order(table: Table, dialect: str) -> Select[Any]:
    order: list[ColumnElement[Any]] = []
    for column in table.primary_key.columns:
        if dialect == "postgresql" and isinstance(column.type, String):
            # PostgreSQL sorts text by locale; "C" sorts bytes, as SQLite does, so both
            # databases give a table's rows in the same order and hence the same digest.
            order.append(column.collate("C"))
        else:
            order.append(column)
    return select(table).order_by(*order)


def _encoded_rows(connection: Connection, table: Table) -> Iterator[bytes]:
    """The table's rows as backup lines, in primary-key order, streamed in batches."""
    codecs = [_codec(table, column) for column in table.columns]
    result = connection.execution_options(yield_per=BATCH_ROWS).execute(
        _rows_in_key_order(table, connection.dialect.name)
    )
    for row in result:
        yield _row_line([codec.encode(value) for codec, value in zip(codecs, row, strict=True)])


def _count(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection in one read transaction that sees every table as of the same moment."""
    if engine.dialect.name == "postgresql":
        with (
            engine.connect().execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            ) as connection,
            connection.begin(),
        ):
            yield connection
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.begin() as connection:
            yield connection
        return
    # nuri's SQLite engine begins every transaction IMMEDIATE, which would hold up the running
    # service's writers for the whole backup. A plain BEGIN gives, in WAL mode, a read snapshot
    # (fixed at the first SELECT) while writers carry on.
    reader = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # nuri issues BEGIN itself, not the driver

    @event.listens_for(reader, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    try:
        with reader.begin() as connection:
            yield connection
    finally:
        reader.dispose()


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


# -- writing --------------------------------------------------------------------------------


def write_backup(
    engine: Engine,
    path: Path,
    *,
    clock: Clock,
    progress: BackupProgress | None = None,
) -> BackupHeader:
    """Write a backup of the database behind ``engine`` to ``path`` and return its header.

    The database must be at this nuri's schema revision. ``path`` is replaced only once the new
    backup is complete and checked; it is created readable by its owner only (it holds token
    digests). ``clock`` stamps ``created_at``. Raises ``BackupError``.
    """
    report = progress or SilentProgress()
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a directory; give a file name for the backup")
    if not path.parent.is_dir():
        raise BackupError(f"cannot write {path}: directory {path.parent} does not exist")
    head = head_revision()
    tables = _tables()
    for table in tables:  # a column without a codec fails now, not after an hour of reading
        for column in table.columns:
            _codec(table, column)
    try:
        scratch = _scratch_file(path, "body")
    except OSError as error:
        raise BackupError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with _snapshot(engine) as connection:
            created_at = clock()
            revision = _revision(connection)
            if revision is None:
                raise BackupError(
                    "the database has no nuri schema, so there is nothing to back up;"
                    " check NURI_DATABASE_URL or NURI_HOME"
                )
            if revision != head:
                raise BackupError(
                    f"the database is at schema revision {revision} but this nuri's is {head};"
                    " back it up with the nuri that uses it, or start 'nuri serve' once to"
                    " migrate it, then back it up"
                )
            report.start("backing up", sum(_count(connection, table) for table in tables))
            entries = _write_tables(connection, tables, scratch, report)
        header = BackupHeader(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            nuri_version=nuri.__version__,
            schema_revision=revision,
            created_at=created_at,
            database=engine.dialect.name,
            tables=tuple(entries),
        )
        _publish(path, header, scratch, report)
    except SQLAlchemyError as error:
        raise BackupError(f"reading the database failed: {_first_line(error)}") from error
    except OSError as error:  # e.g. the disk is full; FILE is as it was
        raise BackupError(f"writing {path} failed: {error.strerror or error}") from error
    finally:
        scratch.unlink(missing_ok=True)
    return header


def _write_tables(
    connection: Connection, tables: list[Table], body_path: Path, report: BackupProgress
) -> list[TableEntry]:
    """Every table's marker and rows into a gzip file; their counts and digests."""
    entries = []
    with gzip.open(body_path, "wb", compresslevel=6) as body:
        for table in tables:
            report.table(table.name)
            body.write(_marker_line(table))
            digest, rows = hashlib.sha256(), 0
            for line in _encoded_rows(connection, table):
                body.write(line)
                digest.update(line)
                rows += 1
                if rows % BATCH_ROWS == 0:
                    report.advance(BATCH_ROWS)
            report.advance(rows % BATCH_ROWS)
            entries.append(
                TableEntry(
                    name=table.name,
                    columns=tuple(column.name for column in table.columns),
                    rows=rows,
                    sha256=digest.hexdigest(),
                )
            )
    return entries


def _scratch_file(path: Path, purpose: str) -> Path:
    """An empty private file beside ``path``, so that the final rename stays on one filesystem."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=purpose)
    os.close(descriptor)
    return Path(name)


def _publish(path: Path, header: BackupHeader, body: Path, report: BackupProgress) -> None:
    """Header member + body member into a temporary file, checked, fsynced, renamed to ``path``."""
    complete = _scratch_file(path, "partial")
    try:
        with complete.open("wb") as out:
            out.write(gzip.compress((header.model_dump_json() + "\n").encode()))
            with body.open("rb") as compressed_rows:
                while chunk := compressed_rows.read(1024 * 1024):
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        check_backup(complete, progress=report, shown_as=path)
        os.replace(complete, path)
    finally:
        complete.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    with suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# -- reading a backup file ------------------------------------------------------------------


class _BackupReader:
    """Reads a backup file line by line, turning every way it can be broken into BackupError."""

    def __init__(self, stream: gzip.GzipFile, shown_as: Path) -> None:
        self._stream = stream
        self._shown_as = shown_as

    def line(self) -> bytes | None:
        """The next line with its newline, or None at the end of the file."""
        try:
            line = self._stream.readline()
        except gzip.BadGzipFile as error:
            raise self.broken(f"not valid gzip: {error}") from None
        except (EOFError, zlib.error) as error:
            raise self.broken(f"the compressed data ends early or is damaged: {error}") from None
        except OSError as error:
            raise BackupError(f"cannot read {self._shown_as}: {error.strerror or error}") from None
        if not line:
            return None
        if not line.endswith(b"\n"):
            raise self.broken("its last line is cut short")
        return line

    def header(self) -> BackupHeader:
        try:
            line = self._stream.readline(HEADER_MAX_BYTES)
        except gzip.BadGzipFile:
            raise self.not_a_backup("it is not gzip-compressed") from None
        except (EOFError, zlib.error) as error:
            raise self.broken(f"the compressed data ends early or is damaged: {error}") from None
        except OSError as error:
            raise BackupError(f"cannot read {self._shown_as}: {error.strerror or error}") from None
        if not line:
            raise self.not_a_backup("it is empty")
        try:
            fields = json.loads(line)
        except (UnicodeDecodeError, ValueError):
            raise self.not_a_backup("its first line is not a nuri backup header") from None
        if not isinstance(fields, dict) or fields.get("format") != FORMAT:
            raise self.not_a_backup("its first line is not a nuri backup header")
        version = fields.get("format_version")
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise BackupError(
                f"{self._shown_as} is a backup in format {version}, made by nuri"
                f" {fields.get('nuri_version', '?')}; this nuri reads format {FORMAT_VERSION}:"
                " restore it with that nuri or a newer one"
            )
        try:
            return BackupHeader.model_validate(fields)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise self.broken(f"its header is damaged ({where}: {problem['msg']})") from None

    def rows(self, table: Table, entry: TableEntry) -> Iterator[list[Any]]:
        """The decoded rows of ``table``; the digest and count are checked when they run out."""
        marker = self.line()
        if marker is None:
            raise self.broken(f"it ends before table {table.name}")
        if marker != _marker_line(table):
            raise self.broken(f"table {table.name} does not start where the header says it does")
        codecs = [_codec(table, column) for column in table.columns]
        digest = hashlib.sha256()
        for number in range(1, entry.rows + 1):
            line = self.line()
            if line is None:
                raise self.broken(
                    f"it ends after row {number - 1} of the {entry.rows} rows of table"
                    f" {table.name}; it is truncated"
                )
            digest.update(line)
            try:
                values = json.loads(line)
                if not isinstance(values, list) or len(values) != len(codecs):
                    raise ValueError("not a row of this table")
                yield [codec.decode(value) for codec, value in zip(codecs, values, strict=True)]
            except (UnicodeDecodeError, ValueError, TypeError):
                raise self.broken(f"row {number} of table {table.name} is damaged") from None
        if digest.hexdigest() != entry.sha256:
            raise self.broken(f"the rows of table {table.name} do not match their checksum")

    def end(self) -> None:
        if self.line() is not None:
            raise self.broken("it has data after its last table")

    def not_a_backup(self, why: str) -> BackupError:
        return BackupError(f"{self._shown_as} is not a nuri backup: {why}")

    def broken(self, why: str) -> BackupError:
        return BackupError(f"{self._shown_as} is corrupted or truncated: {why}; use another backup")


@contextmanager
def _open_backup(path: Path, shown_as: Path | None = None) -> Iterator[_BackupReader]:
    shown = shown_as or path
    try:
        # Opened apart from the ``with`` below, so that only opening errors are reported here.
        stream = gzip.open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise BackupError(f"there is no file {shown}; check the path") from None
    except IsADirectoryError:
        raise BackupError(f"{shown} is a directory, not a backup file") from None
    except OSError as error:
        raise BackupError(f"cannot read {shown}: {error.strerror or error}") from None
    with stream:
        yield _BackupReader(stream, shown)


def _matching_tables(header: BackupHeader, shown_as: Path) -> list[tuple[Table, TableEntry]]:
    """This nuri's tables paired with the backup's, which must be the same, in the same order."""
    tables = _tables()
    layout = [(table.name, tuple(column.name for column in table.columns)) for table in tables]
    if [(entry.name, entry.columns) for entry in header.tables] != layout:
        raise BackupError(
            f"{shown_as} has tables or columns that differ from this nuri's schema at revision"
            f" {header.schema_revision}; restore it with nuri {header.nuri_version}, which made it"
        )
    return list(zip(tables, header.tables, strict=True))


def read_header(path: Path) -> BackupHeader:
    """A backup's header, without reading its rows. Raises ``BackupError``."""
    with _open_backup(Path(path)) as reader:
        return reader.header()


def check_backup(
    path: Path, *, progress: BackupProgress | None = None, shown_as: Path | None = None
) -> BackupHeader:
    """Read the whole backup, checking every table's rows, count and digest; return its header.

    Needs no database. ``shown_as`` names the file in messages (when checking a temporary file).
    Raises ``BackupError`` on the first problem found.
    """
    report = progress or SilentProgress()
    path = Path(path)
    with _open_backup(path, shown_as) as reader:
        header = reader.header()
        report.start("checking", header.total_rows)
        for table, entry in _matching_tables(header, shown_as or path):
            report.table(table.name)
            for _ in _batches(reader.rows(table, entry), report):
                pass
        reader.end()
    return header


def _batches(rows: Iterator[list[Any]], report: BackupProgress) -> Iterator[list[list[Any]]]:
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            report.advance(len(batch))
            batch = []
    if batch:
        yield batch
        report.advance(len(batch))


# -- restoring ------------------------------------------------------------------------------


def restore_backup(
    engine: Engine,
    path: Path,
    *,
    replace: bool = False,
    progress: BackupProgress | None = None,
) -> BackupHeader:
    """Restore the backup at ``path`` into the database behind ``engine``; return its header.

    The backup must be intact and at this nuri's schema revision. The database must be empty
    (no tables at all, which are then created by migrating it, or nuri's tables with no rows);
    with ``replace`` its rows are deleted first instead, in the same transaction. Either every
    row is restored and checked, or the database is left as it was. Raises ``BackupError``.
    """
    report = progress or SilentProgress()
    path = Path(path)
    header = read_header(path)
    head = head_revision()
    if header.schema_revision != head:
        raise BackupError(
            f"{path} is of schema revision {header.schema_revision} (nuri"
            f" {header.nuri_version}) but this nuri's schema is at revision {head}; restore it"
            f" with nuri {header.nuri_version}, start 'nuri serve' once to migrate the restored"
            " database, then back it up again"
        )
    try:
        needs_schema = _check_target(engine, head, replace=replace)
        check_backup(path, progress=report)
        if needs_schema:
            upgrade_to_head(engine)
        with engine.begin() as connection:
            _check_target_rows(connection, replace=replace)
            for table in reversed(_tables()):
                if replace or table.name in SERVER_STATE_TABLES:
                    connection.execute(table.delete())
            _insert_rows(connection, path, report)
            if connection.dialect.name == "postgresql":
                _reset_sequences(connection)
            _verify_restored(connection, header, report)
    except SQLAlchemyError as error:
        raise BackupError(
            f"restoring failed, no rows were restored: {_first_line(error)}"
        ) from error
    return header


def _check_target(engine: Engine, head: str | None, *, replace: bool) -> bool:
    """Whether the target needs its schema created; raises if it cannot take the backup."""
    with engine.connect() as connection:
        revision = _revision(connection)
        if revision is None:
            existing = sorted(inspect(connection).get_table_names())
            if existing:
                raise BackupError(
                    f"the target database has {_count_of(len(existing), 'table')} (e.g."
                    f" {existing[0]}) but no nuri schema; restore into an empty database"
                )
            return True
        if revision != head:
            raise BackupError(
                f"the target database is at schema revision {revision} but this nuri's is"
                f" {head}; restore into an empty database, or start 'nuri serve' once to"
                " migrate it first"
            )
        _check_target_rows(connection, replace=replace)
        return False


def _check_target_rows(connection: Connection, *, replace: bool) -> None:
    if replace:
        return
    counts = {
        table.name: _count(connection, table)
        for table in _tables()
        if table.name not in SERVER_STATE_TABLES
    }
    holding = [name for name, rows in counts.items() if rows]
    if holding:
        raise BackupError(
            f"the target database is not empty ({_count_of(sum(counts.values()), 'row')} in"
            f" {_count_of(len(holding), 'table')}, e.g. {holding[0]}); restore into an empty"
            " database, or pass --force to replace everything in it"
        )


def _count_of(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"


def _insert_rows(connection: Connection, path: Path, report: BackupProgress) -> None:
    with _open_backup(path) as reader:
        header = reader.header()
        report.start("restoring", header.total_rows)
        for table, entry in _matching_tables(header, path):
            report.table(table.name)
            keys = [column.key for column in table.columns]
            for batch in _batches(reader.rows(table, entry), report):
                try:
                    connection.execute(
                        table.insert(), [dict(zip(keys, row, strict=True)) for row in batch]
                    )
                except SQLAlchemyError as error:
                    raise BackupError(
                        f"the target database refused rows of table {table.name}, so nothing"
                        f" was restored: {_first_line(error)}"
                    ) from error
        reader.end()


def _reset_sequences(connection: Connection) -> None:
    """Set each id sequence past the largest restored id, so new rows get fresh ids."""
    preparer = connection.dialect.identifier_preparer
    for table in _tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].type.python_type is not int:
            continue
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": preparer.format_table(table), "column": keys[0].name},
        )
        if sequence is None:
            continue
        largest = connection.scalar(select(func.max(keys[0])))
        connection.execute(
            text("SELECT setval(CAST(:sequence AS regclass), :next, false)"),
            {"sequence": sequence, "next": int(largest or 0) + 1},
        )


def _verify_restored(connection: Connection, header: BackupHeader, report: BackupProgress) -> None:
    """Encode the restored tables again; any difference from the backup undoes the restore."""
    report.start("verifying", header.total_rows)
    for table, entry in zip(_tables(), header.tables, strict=True):
        report.table(table.name)
        digest, rows = hashlib.sha256(), 0
        for line in _encoded_rows(connection, table):
            digest.update(line)
            rows += 1
        report.advance(rows)
        if rows != entry.rows or digest.hexdigest() != entry.sha256:
            raise BackupError(
                f"table {table.name} reads back differently after restoring ({rows} rows,"
                f" {entry.rows} in the backup), so nothing was restored; this is a bug in nuri,"
                " please report it"
            )


def _first_line(error: SQLAlchemyError) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
