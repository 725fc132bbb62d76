"""The process that works out forecasts and plans ahead of time, beside ``nuri serve``.

Forecasting and simulation are CPU-bound Python; in the server's own process they would hold the
interpreter lock while API requests wait. So ``nuri serve`` starts this worker as a separate
process (spawned, so it shares nothing with the server but the database). Every
``analyses_interval_s`` it takes the ``analyses`` lease and, holding it, runs
:meth:`Analyses.refresh`, renewing the lease between items: however many replicas serve, one
computes. The worker stops when asked (SIGTERM, as the server does on shutdown; at once, handing the
lease back) or when the server that started it is gone (at the end of the item under way).
"""

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import uuid
from multiprocessing.process import BaseProcess
from typing import Any

from nuri.engine.clock import wall_clock
from nuri.engine.lease import release, try_acquire
from nuri.service.analyses import Analyses
from nuri.service.demand import DemandReports
from nuri.service.settings import ServerSettings
from nuri.store.database import make_engine, make_sessionmaker

log = logging.getLogger(__name__)

ANALYSES_LEASE = "analyses"
LEASE_S = 600.0
"""Long enough for one plan; renewed between items, so a dead worker's lease lapses soon."""


class AnalysesProcess:
    """Starts and stops the worker process for one server."""

    def __init__(self, settings: ServerSettings) -> None:
        self._settings = settings
        self._process: BaseProcess | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=run_worker,
            args=(self._settings.model_dump(mode="json"), os.getpid()),
            name="nuri-analyses",
            daemon=True,
        )
        self._process.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._process is None or not self._process.is_alive():
            return
        self._process.terminate()
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout_s)


def run_worker(settings_data: dict[str, Any], server_pid: int) -> None:
    """The worker's main loop (in its own process)."""
    from nuri.api.log_format import configure_logging

    settings = ServerSettings.model_validate(settings_data)
    configure_logging(settings.log_format, stream=sys.stderr)
    stopping = threading.Event()

    def stop_now(*_: object) -> None:
        # Leave at once, even in the middle of a forecast: the finally below hands the lease
        # back, and an unfinished analysis is simply not stored.
        stopping.set()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop_now)
    database = make_engine(settings.resolved_database_url())
    sessions = make_sessionmaker(database)
    analyses = Analyses(sessions, wall_clock, DemandReports(sessions, wall_clock))
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def stopped() -> bool:
        return stopping.is_set() or os.getppid() != server_pid

    def keep_going() -> bool:
        return not stopped() and try_acquire(
            sessions, ANALYSES_LEASE, holder, wall_clock(), LEASE_S
        )

    try:
        while not stopped():
            if keep_going():  # else another replica holds the lease: look again next round
                try:
                    made = analyses.refresh(keep_going=keep_going)
                    if made:
                        log.info("worked out %d forecasts and plans ahead of time", made)
                except Exception:
                    log.exception("working out analyses failed; trying again next round")
            stopping.wait(settings.analyses_interval_s)
    finally:
        try:
            release(sessions, ANALYSES_LEASE, holder)
        finally:
            database.dispose()
