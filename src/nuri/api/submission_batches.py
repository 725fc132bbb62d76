"""Job submissions that arrive together are queued together, in one transaction.

Under load, most of a submission's cost in the API process was not its own work but what every
transaction pays: a thread hand-off, a connection checked out, BEGIN and COMMIT, one round trip per
statement, and the worker threads' contention for the GIL while they wait on the database. Here one
thread takes the submissions that are waiting, as many as have arrived (up to ``largest``), and
hands them to :meth:`nuri.service.jobs.Jobs.submit_many`, which admits them with one lock of
their projects' allocations and queues them with one insert; while it works, the next ones gather.
Alone, a submission is carried out as soon as it arrives, so this adds no waiting when the
service is quiet. Each submission still gets its own answer, or its own refusal.

Only this process's requests are gathered; replicas and worker processes gather their own, and the
allocation locks keep them apart as before.
"""

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence

from starlette.requests import HTTPConnection

from nuri.domain.errors import DomainError
from nuri.service.jobs import Submission
from nuri.service.views import JobView

SubmitMany = Callable[[Sequence[Submission]], Sequence[JobView | DomainError]]
Outcome = JobView | BaseException

_STOP = None


class SubmissionBatches:
    """One thread that queues the submissions waiting for it, together."""

    def __init__(self, submit_many: SubmitMany, *, largest: int = 64) -> None:
        self._submit_many = submit_many
        self._largest = largest
        self._waiting: queue.SimpleQueue[
            tuple[Submission, asyncio.Future[Outcome], asyncio.AbstractEventLoop] | None
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    async def submit(self, submission: Submission) -> JobView:
        """Queue ``submission`` with whichever arrive with it; its job, or its refusal raised."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outcome] = loop.create_future()
        self._start()
        self._waiting.put((submission, answer, loop))
        outcome = await answer
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        """Stop the thread once the submissions already waiting are queued."""
        with self._starting:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(_STOP)
            thread.join()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._starting:
            if self._thread is None:
                # A thread of its own, not one of the request threads: it runs in no request's
                # context, so no request's idempotency claim leaks into another's transaction.
                self._thread = threading.Thread(
                    target=self._run, name="nuri-submissions", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._waiting.get()
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
        batch: Sequence[tuple[Submission, asyncio.Future[Outcome], asyncio.AbstractEventLoop]],
    ) -> None:
        outcomes: Sequence[Outcome]
        try:
            outcomes = self._submit_many([submission for submission, _, _ in batch])
        except Exception as error:  # every request of the batch answers 500, as it would alone
            outcomes = [error] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome], Outcome]]]
        by_loop = {}
        for (_, answer, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((answer, outcome))
        for loop, answers in by_loop.items():
            # One wake-up of the event loop for the whole batch, not one per request.
            loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: Sequence[tuple[asyncio.Future[Outcome], Outcome]]) -> None:
    for answer, outcome in answers:
        if not answer.done():  # a request whose client went away was cancelled
            answer.set_result(outcome)


def submission_batches(connection: HTTPConnection) -> SubmissionBatches:
    """The app's SubmissionBatches (``create_app`` keeps them in its state)."""
    batches: SubmissionBatches = connection.app.state.submission_batches
    return batches
