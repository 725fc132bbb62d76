"""Running the scheduling engine in the background of ``nuri serve``."""

import logging
import threading

from nuri.engine.cycle import SchedulingEngine

log = logging.getLogger(__name__)


class EngineThread:
    """Calls ``engine.cycle()`` every ``interval_s`` seconds until stopped.

    A failing cycle is logged and retried on the next tick: the engine's steps are idempotent,
    so one bad cycle never leaves the store half-changed.
    """

    def __init__(self, engine: SchedulingEngine, interval_s: float) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nuri-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the cycle under way, then hand the lease back."""
        self._stop.set()
        self._thread.join(timeout_s)
        try:
            self._engine.resign()
        except Exception:
            log.exception("could not release the scheduling lease; it will expire by itself")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._engine.cycle()
            except Exception:
                log.exception("scheduling cycle failed; retrying next tick")
            self._stop.wait(self._interval_s)
