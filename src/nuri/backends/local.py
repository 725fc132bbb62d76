"""The local backend: jobs run as subprocesses of the nuri service on this machine.

Each attempt runs in its own process group with its output (stdout and stderr) captured to
``<jobs_dir>/<job id>/output.log``, and the device indices the policy chose exported in the
pool's device variable (``CUDA_VISIBLE_DEVICES`` for NVIDIA, the vendor's own for NPUs) and in
``NURI_VISIBLE_DEVICES``. Time limits are enforced here: at the limit the group gets SIGTERM, and
SIGKILL after a grace period. Cancellation and preemption stop a run the same way. Every attempt
of a job sees the same ``NURI_CHECKPOINT_DIR`` (``<jobs_dir>/<job id>/checkpoint``), kept across
preemptions and service restarts, so a job that saves its state on SIGTERM resumes from it.

When a job's main process exits, whatever else is left in its process group is killed, as Slurm
does at the end of a step. Processes belong to the service that started them. If the service
stops, ``reconcile`` on the next start kills any process group left behind (recorded in
``<job id>/pgid``) and reports the run FAILED, since its exit status can no longer be known.
"""

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from nuri.backends.protocol import BackendError, Ended, Launch, Refused, Waiting
from nuri.domain.jobs import JobState

log = logging.getLogger(__name__)

GRACE_PERIOD_S = 10.0
"""Seconds between SIGTERM and SIGKILL when a job is cancelled or reaches its time limit."""


@dataclass
class _Run:
    launch: Launch
    process: subprocess.Popen[bytes]
    started_at: datetime
    deadline: datetime
    stop_state: JobState | None = None
    term_sent_at: datetime | None = None


class LocalBackend:
    """Runs jobs as local subprocesses; see the module docstring for the contract."""

    name = "local"
    places_jobs = False
    mirrors_queue = False

    def __init__(
        self, jobs_dir: Path, clock: Callable[[], datetime], grace_period_s: float = GRACE_PERIOD_S
    ) -> None:
        self._jobs_dir = jobs_dir
        self._clock = clock
        self._grace_period_s = grace_period_s
        self._runs: dict[int, _Run] = {}
        self._lock = threading.Lock()

    def job_dir(self, job_id: int) -> Path:
        return self._jobs_dir / str(job_id)

    def sync_queue(self, waiting: Sequence[Waiting]) -> list[Refused]:  # noqa: ARG002
        """Never called: this backend does not mirror the queue."""
        return []

    def start(self, launch: Launch) -> None:
        directory = self.job_dir(launch.job_id)
        checkpoints = directory / "checkpoint"
        checkpoints.mkdir(parents=True, exist_ok=True)
        workdir = launch.workdir if launch.workdir and Path(launch.workdir).is_dir() else directory
        devices = ",".join(str(index) for index in launch.device_indices)
        environment = {
            **os.environ,
            **launch.environment,
            launch.device_env_var: devices,
            "NURI_VISIBLE_DEVICES": devices,
            "NURI_JOB_ID": str(launch.job_id),
            "NURI_JOB_ATTEMPT": str(launch.attempt),
            "NURI_POOL": launch.pool,
            "NURI_NODE": launch.node,
            "NURI_CHECKPOINT_DIR": str(checkpoints),
        }
        output = open(directory / "output.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            process = subprocess.Popen(
                list(launch.command),
                cwd=workdir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            raise BackendError(f"could not start {launch.command[0]!r}: {error.strerror}") from None
        finally:
            output.close()
        (directory / "pgid").write_text(str(process.pid))
        now = self._clock()
        with self._lock:
            self._runs[launch.job_id] = _Run(
                launch=launch,
                process=process,
                started_at=now,
                deadline=now + timedelta(seconds=launch.time_limit_s),
            )
        log.info("started job %s attempt %s as pid %s", launch.job_id, launch.attempt, process.pid)

    def cancel(self, job_id: int) -> None:
        self._stop(job_id, JobState.CANCELLED)

    def preempt(self, job_id: int) -> None:
        self._stop(job_id, JobState.PENDING)

    def _stop(self, job_id: int, state: JobState) -> None:
        with self._lock:
            run = self._runs.get(job_id)
            if run is not None and run.stop_state is None:
                run.stop_state = state
                self._terminate(run)

    def poll(self) -> list[Ended]:
        ended: list[Ended] = []
        now = self._clock()
        with self._lock:
            for job_id, run in list(self._runs.items()):
                code = run.process.poll()
                if code is None:
                    self._enforce(run, now)
                    continue
                del self._runs[job_id]
                # As Slurm does at the end of a step: whatever the job left in its process group
                # (workers, daemons, children ignoring SIGTERM) dies with it, so the devices the
                # engine now frees are really free.
                _signal_group(run.process.pid, signal.SIGKILL)
                (self.job_dir(job_id) / "pgid").unlink(missing_ok=True)
                ended.append(_ending(run, code, now))
        return ended

    def reconcile(self, running: Sequence[tuple[int, int]]) -> list[Ended]:
        ended: list[Ended] = []
        with self._lock:
            current = {job_id: run.launch.attempt for job_id, run in self._runs.items()}
        for job_id, attempt in running:
            if current.get(job_id) == attempt:
                continue
            if job_id not in current:
                # Only a run this backend is not running can have left a stray process group;
                # the live run of a later attempt shares the job's pgid file and is spared.
                _kill_leftover_group(job_id, self.job_dir(job_id) / "pgid")
            ended.append(
                Ended(
                    job_id=job_id,
                    attempt=attempt,
                    state=JobState.FAILED,
                    ended_at=self._clock(),
                    reason="the local backend lost this run when the nuri service restarted",
                )
            )
        return ended

    def logs(self, job_id: int, offset: int = 0) -> bytes:
        path = self.job_dir(job_id) / "output.log"
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, offset))
                return handle.read()
        except FileNotFoundError:
            return b""

    def close(self) -> None:
        """Stop every run this backend started: local runs cannot outlive the service."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            _signal_group(run.process.pid, signal.SIGKILL)

    def _enforce(self, run: _Run, now: datetime) -> None:
        if run.stop_state is None and now >= run.deadline:
            run.stop_state = JobState.TIMEOUT
            self._terminate(run)
        elif (
            run.term_sent_at is not None
            and (now - run.term_sent_at).total_seconds() >= self._grace_period_s
        ):
            _signal_group(run.process.pid, signal.SIGKILL)

    def _terminate(self, run: _Run) -> None:
        run.term_sent_at = self._clock()
        _signal_group(run.process.pid, signal.SIGTERM)


def _ending(run: _Run, code: int, now: datetime) -> Ended:
    launch = run.launch
    if run.stop_state is JobState.TIMEOUT:
        reason = f"time limit of {launch.time_limit_s}s reached"
        return Ended(launch.job_id, launch.attempt, JobState.TIMEOUT, now, code, reason)
    if run.stop_state is JobState.CANCELLED:
        return Ended(launch.job_id, launch.attempt, JobState.CANCELLED, now, code, "cancelled")
    if run.stop_state is JobState.PENDING:
        return Ended(
            launch.job_id, launch.attempt, JobState.PENDING, now, code, "preempted; requeued"
        )
    if code == 0:
        return Ended(launch.job_id, launch.attempt, JobState.COMPLETED, now, 0)
    reason = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return Ended(launch.job_id, launch.attempt, JobState.FAILED, now, code, reason)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        log.warning("not allowed to signal process group %s", pgid)


def _kill_leftover_group(job_id: int, pgid_file: Path) -> None:
    """Kill a process group left by an earlier service, if it is still that job's.

    Process ids are reused, so the group leader's environment must still carry the job's id;
    otherwise the recorded group belongs to someone else now and is left alone.
    """
    try:
        pgid = int(pgid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        environment = Path(f"/proc/{pgid}/environ").read_bytes()
    except OSError:
        environment = b""
    if f"NURI_JOB_ID={job_id}".encode() in environment.split(b"\0"):
        _signal_group(pgid, signal.SIGKILL)
    pgid_file.unlink(missing_ok=True)
