"""Creating database engines and sessions for SQLite and PostgreSQL."""

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
_HOLDS_WRITER = "nuri_holds_writer"
"""Connection info: this connection's open transaction holds the process's SQLite writer lock."""


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and write-serialising transactions.

    A plain ``postgresql://`` URL is routed to psycopg 3, the driver nuri installs.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed.render_as_string(hide_password=False))
    # Connections beyond pool_size are closed when returned, and a new PostgreSQL connection
    # costs a server process: keep enough for a busy replica's worker threads. With 10, sixteen
    # clients submitting at once made PostgreSQL spend 7-9 ms of CPU per submission, mostly
    # starting and ending backends; with 20, 3.0-3.4 ms (benchmarks/load.py). No ping before
    # each use (a round trip per transaction, a tenth of a job submission's time): a connection
    # the server dropped fails its one request, SQLAlchemy then discards the whole pool, and the
    # client's retry (with its Idempotency-Key) finds fresh ones. Recycling bounds their age.
    return create_engine(parsed, pool_size=20, max_overflow=20, pool_recycle=1800)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN; take control so every transaction
        # starts with BEGIN IMMEDIATE. Two writers then queue instead of one of them failing
        # half-way (read, then write) with "database is locked".
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        try:  # SQLite's math functions are a build option; fair-share decay needs exp()
            cursor.execute("SELECT exp(0)")
        except sqlite3.OperationalError:
            dbapi_connection.create_function("exp", 1, math.exp, deterministic=True)
        cursor.close()

    # SQLite's busy handler waits for the write lock by sleeping in growing steps (up to 100 ms)
    # and retrying, so under load a writer can lose the lock to later arrivals several times over:
    # p99 latencies of a second at 150 submissions/s. This process's transactions queue on a
    # lock of their own instead and are woken as soon as it is free; other processes on the same
    # file (a second replica, `nuri backup`) still meet SQLite's busy handler.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise sqlite3.OperationalError(
                "database is locked: another transaction in this process held it for "
                f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s"
            )
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        connection.info[_HOLDS_WRITER] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        # Fired just before COMMIT or ROLLBACK: the next transaction's BEGIN IMMEDIATE may meet
        # this one's lock for the moment the commit takes, which the busy handler absorbs.
        if connection.info.pop(_HOLDS_WRITER, False):
            writer.release()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_autocommit_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions in which each statement commits on its own, for work that needs no transaction
    around its statements (looking a token and a key up; storing an answer).

    On PostgreSQL a transaction costs two round trips of its own (BEGIN and COMMIT), as many
    as the statements of such work; in autocommit mode they are not sent. On SQLite the
    ordinary sessions are returned: its transactions queue on the writer lock, and a
    transaction costs no round trip there.
    """
    if engine.dialect.name != "postgresql":
        return make_sessionmaker(engine)
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


@contextmanager
def joined_or_new(sessions: sessionmaker[Session], session: Session | None) -> Iterator[Session]:
    """``session`` if the caller already has a transaction open, else a new transaction.

    Lets a request that does several small things (check the sign-in limit, find the token's
    user, look its Idempotency-Key up) do them in one round of BEGIN and COMMIT.
    """
    if session is not None:
        yield session
        return
    with sessions.begin() as new:
        yield new
