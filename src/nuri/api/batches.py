"""Work that arrives together is carried out together: one thread takes what is waiting.

Under load, most of a short database request's cost in the API process was not its own work but
what every piece of it paid apart: a hand-off to a worker thread and back, a connection checked
out, BEGIN and COMMIT, a round trip per statement, and the worker threads' contention for the GIL
while they waited on the database. A :class:`Batches` runs one thread that takes the items that
are waiting, as many as have arrived (up to ``largest``), and hands them to a function that
carries them out together (one session, set-based statements where it can); while it works, the
next ones gather. Alone, an item is carried out as soon as it arrives, so this adds no waiting
when the service is quiet. Each item still gets its own outcome: its result, or its own error.

Two kinds of work go this way: sign-ins (:mod:`nuri.api.sign_ins`) and job submissions
(:meth:`nuri.service.jobs.Jobs.submit_many`). Only this process's requests are gathered;
replicas and worker processes gather their own, and the database keeps them apart as before.
"""

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.requests import HTTPConnection

from nuri.service.jobs import Submission
from nuri.service.views import JobView

Item = TypeVar("Item")
Result = TypeVar("Result")

_STOP = None


class Batches(Generic[Item, Result]):
    """One thread that carries out the items waiting for it, together.

    ``carry_out`` gets the items in the order they arrived and returns, in the same order, each
    one's result or the exception it is answered with.
    """

    def __init__(
        self,
        carry_out: Callable[[Sequence[Item]], Sequence[Result | BaseException]],
        *,
        name: str,
        largest: int = 64,
        idle_s: float = 10.0,
    ) -> None:
        """``idle_s``: the thread ends after waiting that long for work (and starts again when
        some comes), so that an app that is dropped without being shut down leaves nothing."""
        self._carry_out_many = carry_out
        self._name = name
        self._largest = largest
        self._idle_s = idle_s
        self._waiting: queue.SimpleQueue[
            tuple[Item, asyncio.Future[Result | BaseException], asyncio.AbstractEventLoop] | None
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    async def submit(self, item: Item) -> Result:
        """Carry out ``item`` with whichever arrive with it; its result, or its error raised."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Result | BaseException] = loop.create_future()
        self._waiting.put((item, outcome, loop))
        self._start()
        result = await outcome
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self) -> None:
        """Stop the thread once the items already waiting are carried out."""
        with self._starting:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(_STOP)
            thread.join()

    def _start(self) -> None:
        # Under the lock, after the item is put: a thread that is just ending looks at the queue
        # under the same lock, so either it sees the item and goes on, or this sees it gone.
        with self._starting:
            if self._thread is None:
                # A thread of its own, not one of the request threads: it runs in no request's
                # context, so nothing of one request's context (an idempotency claim) leaks
                # into another's work.
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._waiting.get(timeout=self._idle_s)
            except queue.Empty:
                with self._starting:
                    if self._thread is not threading.current_thread():
                        return  # closed
                    if self._waiting.empty():
                        self._thread = None
                        return
                continue
            if first is _STOP:
                return
            batch = [first]
            stopping = False
            while len(batch) < self._largest:
                try:
                    waiting = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if waiting is _STOP:
                    stopping = True
                    break
                batch.append(waiting)
            self._carry_out(batch)
            if stopping:
                return

    def _carry_out(
        self,
        batch: Sequence[
            tuple[Item, asyncio.Future[Result | BaseException], asyncio.AbstractEventLoop]
        ],
    ) -> None:
        outcomes: Sequence[Result | BaseException]
        try:
            outcomes = self._carry_out_many([item for item, _, _ in batch])
        except Exception as error:  # every request of the batch answers 500, as it would alone
            outcomes = [error] * len(batch)
        by_loop: dict[
            asyncio.AbstractEventLoop,
            list[tuple[asyncio.Future[Result | BaseException], Result | BaseException]],
        ] = {}
        for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, settled in by_loop.items():
            # One wake-up of the event loop for the whole batch, not one per request.
            loop.call_soon_threadsafe(_settle, settled)


def _settle(
    settled: Sequence[tuple[asyncio.Future[Result | BaseException], Result | BaseException]],
) -> None:
    for future, outcome in settled:
        if not future.done():  # a request whose client went away was cancelled
            future.set_result(outcome)


SubmissionBatches = Batches[Submission, JobView]


def submission_batches(connection: HTTPConnection) -> SubmissionBatches:
    """The app's SubmissionBatches (``create_app`` keeps them in its state)."""
    batches: SubmissionBatches = connection.app.state.submission_batches
    return batches
