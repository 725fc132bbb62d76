"""A backend that runs nothing: tests decide when and how each run ends.

It honours the whole protocol (starts are recorded, cancels and preempts end runs on the next
poll, reconcile reports runs it does not know), so the engine can be tested without processes.
"""

from collections.abc import Callable, Sequence
from datetime import datetime

from nuri.backends.protocol import BackendError, Ended, Launch, Refused, Waiting
from nuri.domain.jobs import JobState


class FakeBackend:
    """Records launches; ``finish`` queues an end that the next ``poll`` reports."""

    name = "fake"
    places_jobs = False
    mirrors_queue = False

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.running: dict[int, Launch] = {}
        self.launches: list[Launch] = []
        self.refuse_next_start: str | None = None
        self.closed = False
        self._ends: list[Ended] = []
        self._outputs: dict[int, bytes] = {}

    def sync_queue(self, waiting: Sequence[Waiting]) -> list[Refused]:  # noqa: ARG002
        """Never called: this backend does not mirror the queue."""
        return []

    def start(self, launch: Launch) -> None:
        if self.refuse_next_start is not None:
            reason, self.refuse_next_start = self.refuse_next_start, None
            raise BackendError(reason)
        self.running[launch.job_id] = launch
        self.launches.append(launch)

    def finish(
        self,
        job_id: int,
        state: JobState = JobState.COMPLETED,
        exit_code: int = 0,
        output: bytes | None = None,
    ) -> None:
        """End a running job as if its process had exited (having printed ``output``)."""
        launch = self.running.pop(job_id)
        if output is not None:
            self._outputs[job_id] = output
        reason = None if state is JobState.COMPLETED else f"{state.value.lower()} (fake)"
        self._ends.append(
            Ended(launch.job_id, launch.attempt, state, self._clock(), exit_code, reason)
        )

    def forget(self, job_id: int) -> None:
        """Lose a run without a trace, as a crashed backend would."""
        self.running.pop(job_id)

    def cancel(self, job_id: int) -> None:
        if job_id in self.running:
            self.finish(job_id, JobState.CANCELLED, exit_code=-15)

    def preempt(self, job_id: int) -> None:
        if job_id in self.running:
            self.finish(job_id, JobState.PENDING, exit_code=-15)

    def poll(self) -> list[Ended]:
        ends, self._ends = self._ends, []
        return ends

    def reconcile(self, running: Sequence[tuple[int, int]]) -> list[Ended]:
        return [
            Ended(job_id, attempt, JobState.FAILED, self._clock(), None, "lost by the fake backend")
            for job_id, attempt in running
            if job_id not in self.running or self.running[job_id].attempt != attempt
        ]

    def close(self) -> None:
        self.closed = True

    def logs(self, job_id: int, offset: int = 0) -> bytes:
        if job_id in self._outputs:
            return self._outputs[job_id][offset:]
        launch = self.running.get(job_id)
        text = b"" if launch is None else f"fake output of job {job_id}\n".encode()
        return text[offset:]
