"""Wiring one commons together at the edge: database, backend, clock and use cases."""

import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from nuri.backends.local import LocalBackend
from nuri.backends.protocol import Backend
from nuri.domain.errors import InvalidInput
from nuri.engine.clock import Clock, wall_clock
from nuri.engine.cycle import SchedulingEngine
from nuri.policy.registry import policy_named
from nuri.service.directory import Directory
from nuri.service.jobs import Jobs
from nuri.service.settings import ServerSettings
from nuri.store.database import make_engine, make_sessionmaker
from nuri.store.migrate import upgrade_to_head


@dataclass
class Commons:
    """The use cases of one commons and the adapters they share."""

    settings: ServerSettings
    database: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    backend: Backend
    directory: Directory
    jobs: Jobs

    def scheduling_engine(self) -> SchedulingEngine:
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        return SchedulingEngine(
            sessions=self.sessions,
            backend=self.backend,
            policy=policy_named(self.settings.policy, live=True),
            clock=self.clock,
            holder=holder,
            lease_s=self.settings.lease_s,
        )

    def close(self) -> None:
        self.database.dispose()


def open_commons(
    settings: ServerSettings, *, clock: Clock = wall_clock, backend: Backend | None = None
) -> Commons:
    """Connect to the database, migrate it to the newest schema, and build the use cases."""
    policy_named(settings.policy, live=True)  # fail at start, not at the first cycle
    settings.home.mkdir(parents=True, exist_ok=True)
    database = make_engine(settings.resolved_database_url())
    upgrade_to_head(database)
    sessions = make_sessionmaker(database)
    if backend is None:
        backend = _backend_named(settings, clock)
    return Commons(
        settings=settings,
        database=database,
        sessions=sessions,
        clock=clock,
        backend=backend,
        directory=Directory(sessions, clock),
        jobs=Jobs(sessions, clock, backend.logs, policy_named(settings.policy, live=True)),
    )


def _backend_named(settings: ServerSettings, clock: Clock) -> Backend:
    if settings.backend == "local":
        return LocalBackend(settings.jobs_dir, clock)
    raise InvalidInput(f"unknown backend {settings.backend!r}; known backends: local")
