"""Wiring one commons together at the edge: database, backend, clock and use cases."""

import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from nuri.backends.local import LocalBackend
from nuri.backends.protocol import Backend
from nuri.backends.slurm import SCHEDULING_MODES, SlurmBackend
from nuri.domain.errors import InvalidInput
from nuri.engine.clock import Clock, wall_clock
from nuri.engine.cycle import SchedulingEngine
from nuri.policy.registry import policy_named
from nuri.service.analyses import Analyses
from nuri.service.catalogue import Catalogue
from nuri.service.classroom import Classroom
from nuri.service.competitions import Competitions
from nuri.service.demand import DemandReports
from nuri.service.directory import Directory
from nuri.service.idempotency import IdempotentRequests
from nuri.service.jobs import Jobs
from nuri.service.programmes import Programmes
from nuri.service.reports import Reports
from nuri.service.settings import ServerSettings
from nuri.service.sign_in import BearerSignIn
from nuri.service.sign_in_limits import SignInLimits
from nuri.service.slurm_accounting import SlurmBooks
from nuri.slurm.commands import SlurmTools
from nuri.store.database import make_autocommit_sessionmaker, make_engine, make_sessionmaker
from nuri.store.migrate import upgrade_to_head
from nuri.store.tables import SettingRow

COMMONS_ID_KEY = "commons_id"


@dataclass
class Commons:
    """The use cases of one commons and the adapters they share."""

    settings: ServerSettings
    database: Engine
    sessions: sessionmaker[Session]
    autocommit_sessions: sessionmaker[Session]
    """For work whose statements need no transaction around them (see the maker's docstring)."""
    clock: Clock
    backend: Backend
    directory: Directory
    jobs: Jobs
    programmes: Programmes
    competitions: Competitions
    catalogue: Catalogue
    classroom: Classroom
    demand: DemandReports
    reports: Reports
    idempotent_requests: IdempotentRequests
    analyses: Analyses
    sign_in_limits: SignInLimits
    slurm_books: SlurmBooks | None = None

    @property
    def bearer_sign_in(self) -> BearerSignIn:
        """Bearer-token sign-ins under :attr:`sign_in_limits` (whichever limits are set now)."""
        return BearerSignIn(self.sign_in_limits, self.clock)

    def scheduling_engine(self) -> SchedulingEngine:
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        return SchedulingEngine(
            sessions=self.sessions,
            backend=self.backend,
            policy=policy_named(self.settings.policy, live=True),
            clock=self.clock,
            holder=holder,
            lease_s=self.settings.lease_s,
            housekeeping=None if self.slurm_books is None else self.slurm_books.sync_awards,
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
    autocommit_sessions = make_autocommit_sessionmaker(database)
    books = None
    if backend is None:
        if settings.backend == "slurm":
            backend, books = _slurm(settings, sessions, clock)
        else:
            backend = _backend_named(settings, clock)
    jobs = Jobs(
        sessions,
        clock,
        backend.logs,
        policy_named(settings.policy, live=True),
        time_limit_step_s=60 if isinstance(backend, SlurmBackend) else 1,
    )
    catalogue = Catalogue(sessions, clock)
    demand = DemandReports(sessions, clock)
    return Commons(
        settings=settings,
        database=database,
        sessions=sessions,
        autocommit_sessions=autocommit_sessions,
        clock=clock,
        backend=backend,
        directory=Directory(sessions, clock),
        jobs=jobs,
        programmes=Programmes(sessions, clock),
        competitions=Competitions(sessions, clock, jobs, backend.logs, catalogue),
        catalogue=catalogue,
        classroom=Classroom(sessions, clock),
        demand=demand,
        reports=Reports(sessions, clock, demand),
        idempotent_requests=IdempotentRequests(sessions, clock, answers=autocommit_sessions),
        analyses=Analyses(sessions, clock, demand),
        sign_in_limits=SignInLimits(
            sessions,
            clock,
            limit=settings.sign_in_failure_limit,
            window_s=settings.sign_in_window_s,
        ),
        slurm_books=books,
    )


def commons_id(sessions: sessionmaker[Session]) -> str:
    """This commons' own short id (made once), which tells its Slurm jobs from others'."""
    with sessions.begin() as session:
        row = session.get(SettingRow, COMMONS_ID_KEY)
        if row is None:
            row = SettingRow(key=COMMONS_ID_KEY, value=uuid.uuid4().hex[:8])
            session.add(row)
        return row.value


def _slurm(
    settings: ServerSettings, sessions: sessionmaker[Session], clock: Clock
) -> tuple[SlurmBackend, SlurmBooks]:
    if settings.slurm_mode not in SCHEDULING_MODES:
        raise InvalidInput(
            f"unknown Slurm scheduling mode {settings.slurm_mode!r}; use native or nuri"
        )
    tools = SlurmTools(settings.resolved_slurm_conf())
    prefix = f"nuri{commons_id(sessions)}"
    backend = SlurmBackend(
        tools,
        jobs_dir=settings.jobs_dir,
        prefix=prefix,
        mode=settings.slurm_mode,
        clock=clock,
    )
    return backend, SlurmBooks(sessions, tools, prefix, clock)


def _backend_named(settings: ServerSettings, clock: Clock) -> Backend:
    if settings.backend == "local":
        return LocalBackend(settings.jobs_dir, clock)
    raise InvalidInput(f"unknown backend {settings.backend!r}; known backends: local, slurm")
