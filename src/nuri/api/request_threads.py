"""A few threads for the short database work on every request's path.

Starlette runs blocking work in a pool of 40 threads shared by every request. Under a submission
load that let 16 requests' sign-ins, key look-ups and submissions run in 16 threads at once,
each waking for its database round trips and contending for the one GIL: the API process spent
a good part of its CPU switching between them. With at most 8 threads for this work, the same
process admitted 79-106 submissions/s on PostgreSQL against 71-81/s, for 9.4-12.6 ms of its CPU
each against 12.4-14.1 ms (five interleaved pairs, 2026-12-07, docs/operations.md). Slow work
(pages that compute, CSV exports, logs) keeps the shared pool, so it cannot hold these few
threads up.
"""

from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import HTTPConnection

P = ParamSpec("P")
T = TypeVar("T")


class RequestThreads:
    """At most ``threads`` of the short database calls of requests run at once."""

    def __init__(self, threads: int) -> None:
        self._limiter = anyio.CapacityLimiter(threads)

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` in one of the threads (context variables go with it)."""
        return await anyio.to_thread.run_sync(
            partial(function, *args, **kwargs), limiter=self._limiter
        )


def request_threads(connection: HTTPConnection) -> RequestThreads:
    """The app's RequestThreads (``create_app`` keeps them in its state)."""
    threads: RequestThreads = connection.app.state.request_threads
    return threads
