"""A real server killed with SIGKILL at random moments under load loses and duplicates nothing.

Client threads submit jobs, each with its own Idempotency-Key, and resend a request until it is
acknowledged, as ``nuri submit`` does. Meanwhile the test kills ``nuri serve`` (SIGKILL, no chance
to clean up) at seeded random moments and starts it again on the same database. The jobs are short
local processes, so the server is killed while it admits, schedules, starts and charges. At the
end every job must have ended, and the database is checked against what the clients saw.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from nuri.domain.commons import Role
from nuri.domain.jobs import TERMINAL_STATES
from nuri.domain.ledger import elapsed_seconds
from nuri.domain.units import h100e_units
from nuri.service.auth import Actor
from nuri.service.commons import Commons, open_commons
from nuri.service.settings import ServerSettings
from nuri.store.tables import JobRow, LedgerEntryRow, PoolRow, UserRow
from tests.conftest import build_world
from tests.e2e.test_readme_walkthrough import BIN, free_port, wait_until_serving

pytestmark = pytest.mark.slow

KILLS = 3
CLIENTS = 3
JOB_COMMAND = ["sleep", "0.2"]
JOB_TIME_LIMIT_S = 5
TERMINAL = {state.value for state in TERMINAL_STATES}


@dataclass
class Server:
    """``nuri serve`` on one database, restartable; each start appends to one log."""

    database_url: str
    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = os.environ | {
            "NURI_HOME": str(self.home),
            "NURI_DATABASE_URL": self.database_url,
            "NURI_SCHEDULER_INTERVAL_S": "0.1",
            "NURI_LEASE_S": "1",
            "NURI_ANALYSES": "false",
        }
        with (self.home / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "nuri"), "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_serving(self.url, self.process, self.home / "serve.log", 60, poll_s=0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)


@dataclass
class Submitter:
    """Sends jobs one after another; resends each until acknowledged; records what it saw."""

    url: str
    token: str
    name: str
    acknowledged: dict[str, int] = field(default_factory=dict)
    resends: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None
    """What ended the thread early, if anything did (a thread's exception fails no test)."""

    def run(self) -> None:
        try:
            with httpx.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=5
            ) as http:
                number = 0
                while not self.stop.is_set():
                    number += 1
                    key = f"{self.name}-{number}"
                    self.acknowledged[key] = self._submit(http, key)
        except BaseException:
            self.failure = traceback.format_exc()

    def _submit(self, http: httpx.Client, key: str) -> int:
        # A short limit: each pending job holds its limit's hours, and at hundreds of
        # submissions a second a longer one would spend the award before the jobs run.
        body = {"project": "nlp", "pool": "h100", "gpus": 1, "time_limit_s": JOB_TIME_LIMIT_S}
        body["command"] = JOB_COMMAND
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                response = http.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                self.resends += 1
                time.sleep(0.1)
                continue
            if response.status_code == 201:
                return int(response.json()["id"])
            # 409: a concurrent copy of this request holds the key; its answer comes shortly.
            assert response.status_code in (409, 503), response.text
            self.resends += 1
            time.sleep(0.1)
        raise AssertionError(f"job {key} was never acknowledged")


def _seed(database_url: str, home: Path) -> str:
    """The tests' small commons with its awards in force now; a token for kim, nlp's PI."""
    world = build_world(database_url, home, start=datetime.now(UTC))
    try:
        return world.commons.directory.issue_token(world.admin, "kim")
    finally:
        world.commons.close()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    home.mkdir()
    running = Server(database_url, home)
    try:
        yield running
    finally:
        running.stop()


def test_sigkill_under_load_loses_and_duplicates_nothing(server: Server) -> None:
    """Every acknowledged job exists exactly once; every job ends; every run is charged exactly
    once, for what it ran; the awards' balances add up from the ledger."""
    token = _seed(server.database_url, server.home)
    server.start()
    submitters = [Submitter(server.url, token, f"client{n}") for n in range(CLIENTS)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in submitters]
    for thread in threads:
        thread.start()
    chance = random.Random(20261204)
    for _ in range(KILLS):
        time.sleep(chance.uniform(0.5, 2.0))
        server.kill()
        time.sleep(chance.uniform(0.0, 0.3))
        server.start()
    time.sleep(1.0)
    for submitter in submitters:
        submitter.stop.set()
    for thread in threads:
        thread.join(150)
        assert not thread.is_alive(), "a client never got its last job acknowledged"
    for submitter in submitters:
        assert submitter.failure is None, submitter.failure
    _wait_until_every_job_ends(server, token)
    server.stop()

    acknowledged = {key: job for s in submitters for key, job in s.acknowledged.items()}
    assert len(acknowledged) >= 20, "too little load to mean anything"
    assert sum(s.resends for s in submitters) >= 1, "no request was ever cut off by a kill"
    _check_the_books(server, acknowledged)


def _wait_until_every_job_ends(server: Server, token: str) -> None:
    deadline = time.monotonic() + 90
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        jobs = httpx.get(
            f"{server.url}/api/v1/jobs", params={"limit": 1000}, headers=headers, timeout=10
        ).json()
        if all(job["state"] in TERMINAL for job in jobs):
            return
        time.sleep(0.5)
    pytest.fail("jobs still active 90 s after the load stopped")


def _check_the_books(server: Server, acknowledged: dict[str, int]) -> None:
    commons = open_commons(ServerSettings(home=server.home, database_url=server.database_url))
    try:
        with commons.sessions.begin() as session:
            jobs = session.scalars(select(JobRow)).all()
            charges = session.scalars(select(LedgerEntryRow)).all()
            rate = session.scalar(select(PoolRow.rate_milli).where(PoolRow.name == "h100"))
            charged_units = session.scalar(select(func.sum(LedgerEntryRow.h100e_units)))
        (balance,) = commons.directory.list_allocations(_admin(commons), project="nlp")
    finally:
        commons.close()

    by_key = {job.idempotency_key: job for job in jobs}
    # Exactly once: one job per key, and each acknowledged key names the job the client saw.
    assert len(by_key) == len(jobs)
    assert set(by_key) == set(acknowledged), "a job exists that no client was told of, or none"
    assert {key: job.id for key, job in by_key.items()} == acknowledged
    assert all(job.state in TERMINAL for job in jobs)
    # Charged exactly once per run that started, never for one that did not.
    charged = {(charge.job_id, charge.attempt): charge for charge in charges}
    assert len(charged) == len(charges)
    ran = {(job.id, job.attempt) for job in jobs if job.started_at is not None}
    assert set(charged) == ran
    for job in jobs:
        charge = charged.get((job.id, job.attempt))
        if charge is None:
            continue
        assert job.ended_at is not None and job.started_at is not None
        assert charge.seconds == elapsed_seconds(job.started_at, job.ended_at)
        assert charge.h100e_units == h100e_units(charge.devices, charge.seconds, int(rate or 0))
    # The balance the service reports is the ledger's sum, with nothing left held.
    assert balance.charged_units == (charged_units or 0)
    assert balance.held_units == 0
    assert balance.remaining_units == balance.awarded_units - balance.charged_units


def _admin(commons: Commons) -> Actor:
    with commons.sessions.begin() as session:
        admin = session.scalars(select(UserRow).where(UserRow.name == "root")).one()
        return Actor(admin.id, admin.name, Role.ADMIN)


if sys.platform != "linux":  # process groups and SIGKILL as on the servers nuri runs on
    pytestmark = [pytestmark, pytest.mark.skip(reason="needs Linux")]
