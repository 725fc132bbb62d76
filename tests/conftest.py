"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), a commons on a manual
clock with the fake backend, and actors for each role.

`make test` runs the suite on several processes (pytest-xdist, ``--dist loadfile``): each module
stays on one process, so its module-scoped fixtures (a Slurm cluster, a browser, a seeded server)
start once. What modules share outside a process must tolerate that: every test gets its own
PostgreSQL database, free ports and temporary homes; the Slurm modules use their own ports and
cluster names, and ``nuri slurm-dev`` starts and stops clusters one at a time.
"""

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nuri.backends.fake import FakeBackend
from nuri.domain.commons import Role
from nuri.engine.clock import ManualClock
from nuri.engine.cycle import SchedulingEngine
from nuri.policy.fifo import Fifo
from nuri.service.auth import Actor
from nuri.service.commons import Commons, open_commons
from nuri.service.settings import ServerSettings

POSTGRES_URL = os.environ.get(
    "NURI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _postgres_reason() -> str | None:
    """None if PostgreSQL answers at POSTGRES_URL, else why it cannot be used."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure means: skip, and say why
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}"
    return None


_POSTGRES_SKIP = _postgres_reason()


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Restore the root logger after a test reconfigures it (``nuri serve`` does, to the
    stream that is standard error while it runs: a test's, closed when the test ends)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if _POSTGRES_SKIP is not None:
        pytest.skip(_POSTGRES_SKIP)
    name = f"nuri_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL (skipped with its reason if absent)."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'nuri.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@dataclass
class World:
    """A small commons on a manual clock with the fake backend, ready for jobs."""

    commons: Commons
    clock: ManualClock
    backend: FakeBackend
    admin: Actor
    pi: Actor
    member: Actor
    outsider: Actor

    def engine(self, holder: str = "test-engine") -> SchedulingEngine:
        return SchedulingEngine(
            sessions=self.commons.sessions,
            backend=self.backend,
            policy=Fifo(),
            clock=self.clock,
            holder=holder,
        )


def build_world(database_url: str, home: Path, start: datetime = START) -> World:
    clock = ManualClock(start)
    backend = FakeBackend(clock)
    settings = ServerSettings(home=home, database_url=database_url)
    commons = open_commons(settings, clock=clock, backend=backend)
    d = commons.directory
    admin_view, _ = d.create_user(
        None, name="root", display_name="", role="admin", organisation=None
    )
    admin = Actor(admin_view.id, "root", Role.ADMIN)
    d.create_hub(admin, name="ksc", title="", operator="national-centre")
    d.create_pool(
        admin,
        name="h100",
        hub="ksc",
        accelerator="H100",
        nodes=2,
        devices_per_node=4,
        exchange_rate="1",
        krw_per_device_hour=3600,
    )
    d.create_pool(
        admin,
        name="atom",
        hub="ksc",
        accelerator="ATOM",
        nodes=1,
        devices_per_node=8,
        exchange_rate="0.25",
        krw_per_device_hour=720,
    )
    d.create_organisation(admin, name="snu", title="", kind="university")
    d.create_organisation(admin, name="acme", title="", kind="startup")
    pi_view, _ = d.create_user(admin, name="kim", display_name="", role="pi", organisation="snu")
    member_view, _ = d.create_user(
        admin, name="lee", display_name="", role="member", organisation="snu"
    )
    outsider_view, _ = d.create_user(
        admin, name="park", display_name="", role="pi", organisation="acme"
    )
    d.create_project(admin, name="nlp", title="", field="language", organisation="snu", pi="kim")
    d.add_member(admin, project="nlp", user="lee")
    d.create_project(admin, name="vision", title="", field="vision", organisation="acme", pi="park")
    starts_at, ends_at = start - timedelta(days=1), start + timedelta(days=30)
    d.create_allocation(
        admin,
        project="nlp",
        gpu_hours="10",
        pools=["h100", "atom"],
        tier="hub-member",
        starts_at=starts_at,
        ends_at=ends_at,
    )
    d.create_allocation(
        admin,
        project="vision",
        gpu_hours="5",
        pools=["h100"],
        tier="general",
        starts_at=starts_at,
        ends_at=ends_at,
    )
    return World(
        commons=commons,
        clock=clock,
        backend=backend,
        admin=admin,
        pi=Actor(pi_view.id, "kim", Role.PI),
        member=Actor(member_view.id, "lee", Role.MEMBER),
        outsider=Actor(outsider_view.id, "park", Role.PI),
    )


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    built = build_world(database_url, tmp_path / "home")
    yield built
    built.commons.close()


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    built = build_world(f"sqlite+pysqlite:///{tmp_path / 'nuri.sqlite3'}", tmp_path / "home")
    yield built
    built.commons.close()
