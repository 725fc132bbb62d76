"""The Slurm backend: the commons' jobs run as Slurm batch jobs, one Slurm job per attempt.

Two scheduling modes, chosen per cluster:

- ``native``: Slurm decides. Every pending nuri job is submitted at once (``sbatch`` with
  account = project, partition = pool, or every pool of its accelerator class, typed ``--gres``,
  time limit); Slurm's multifactor priority, fair share and the awards nuri wrote as QOS limits
  (:mod:`nuri.slurm.accounts`) choose when and where it runs, and ``poll`` reports each start.
- ``nuri``: nuri decides. Pending jobs are submitted *held* (so ``squeue`` shows the commons'
  whole queue and Slurm's accounting keeps true submit times); when nuri's policy starts one, it
  is pinned to the chosen partition and node (``scontrol update``) and released.

A Slurm job is named ``<prefix>-<nuri job id>-<attempt>``; the prefix is this commons' own, so
several commons (or test databases) can share one Slurm cluster. The names are the only state:
a restarted nuri finds its jobs again in ``squeue`` and ``sacct``, which is how it never submits
an attempt twice and never loses one. Ends are read from ``sacct`` (state, exit code, elapsed
seconds, allocated devices), so what nuri charges is what Slurm accounted.

Each device comes with ``cpus_per_device`` CPUs (``--cpus-per-task``), as the nodes of
``nuri slurm-dev`` are declared: Slurm's job-size priority factor counts CPUs, so it then sees
the devices, as nuri's ``slurm-multifactor`` does.

Preemption cancels the attempt's Slurm job (SIGTERM, then SIGKILL after Slurm's ``KillWait``)
after marking it in its comment, so the end is read as "requeue" even by a restarted nuri; the
next attempt is a new Slurm job, and it sees the same ``NURI_CHECKPOINT_DIR``.
"""

import logging
import math
import re
import shlex
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from nuri.backends.protocol import BackendError, Ended, Launch, Refused, Started, Waiting
from nuri.domain.commons import ACCELERATORS
from nuri.domain.jobs import JobState
from nuri.slurm.commands import AccountingRecord, QueueEntry, SlurmTools
from nuri.slurm.commands import SlurmUnavailable as _Unreachable
from nuri.slurm.config import CPUS_PER_DEVICE, gres_of

log = logging.getLogger(__name__)

SchedulingMode = Literal["native", "nuri"]
SCHEDULING_MODES: tuple[SchedulingMode, ...] = ("native", "nuri")

PREEMPTED_MARK = "nuri-preempted"
LOOKBACK = timedelta(days=30)
"""How far back a restarted backend looks in Slurm's accounting for its own jobs."""

_ENDED_STATES = {
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "OUT_OF_MEMORY": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED,
    "DEADLINE": JobState.FAILED,
    "TIMEOUT": JobState.TIMEOUT,
    "CANCELLED": JobState.CANCELLED,
    # The run was lost through no fault of the job: nuri requeues it as a new attempt.
    "NODE_FAIL": JobState.PENDING,
    "PREEMPTED": JobState.PENDING,
    "REQUEUED": JobState.PENDING,
}
_ACTIVE_STATES = {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "CONFIGURING", "SIGNALING"}

Key = tuple[int, int]
"""``(nuri job id, attempt)``."""


class SlurmBackend:
    """Runs the commons' jobs on a Slurm cluster; see the module docstring."""

    name = "slurm"
    mirrors_queue = True

    def __init__(
        self,
        tools: SlurmTools,
        *,
        jobs_dir: Path,
        prefix: str,
        mode: SchedulingMode,
        clock: Callable[[], datetime],
        cpus_per_device: int = CPUS_PER_DEVICE,
    ) -> None:
        if mode not in SCHEDULING_MODES:
            raise BackendError(f"unknown Slurm scheduling mode {mode!r}; use native or nuri")
        self.tools = tools
        self.mode: SchedulingMode = mode
        self.places_jobs = mode == "native"
        self._jobs_dir = jobs_dir
        self._prefix = prefix
        self._name_pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-(\d+)$")
        self._clock = clock
        self._cpus_per_device = cpus_per_device
        self._ids: dict[Key, int] = {}
        """Every Slurm job of this commons seen or submitted: ``(job, attempt)`` -> Slurm id."""
        self._active: dict[Key, int] = {}
        """Attempts that run (or ran and whose end is not yet reported)."""
        self._started: set[Key] = set()
        self._ended: set[Key] = set()
        self._preempting: set[Key] = set()
        self._queue: list[QueueEntry] = []
        self._swept = False

    def job_name(self, job_id: int, attempt: int) -> str:
        return f"{self._prefix}-{job_id}-{attempt}"

    def slurm_id(self, job_id: int, attempt: int) -> int | None:
        """The Slurm job id of an attempt, if this backend has submitted or seen it."""
        return self._ids.get((job_id, attempt))

    def job_dir(self, job_id: int) -> Path:
        return self._jobs_dir / str(job_id)

    # -- the queue ---------------------------------------------------------------------------

    def sync_queue(self, waiting: Sequence[Waiting]) -> list[Refused]:
        self._sweep_once()
        wanted = {(w.job_id, w.attempt) for w in waiting}
        refused: list[Refused] = []
        for item in waiting:
            key = (item.job_id, item.attempt)
            if key in self._ids:
                continue
            try:
                self._ids[key] = self._submit(item)
            except BackendError as error:
                if isinstance(error, _Unreachable):
                    raise
                refused.append(Refused(item.job_id, f"Slurm refused it: {error}"))
        # Pending Slurm jobs nuri no longer wants (cancelled in nuri, or a stale attempt).
        for entry in self._queue:
            stale = self._key(entry.name)
            if (
                stale is not None
                and entry.state == "PENDING"
                and stale not in wanted
                and stale not in self._active  # released by nuri, not yet started by Slurm
            ):
                self._cancel_quietly(entry.slurm_id)
                self._ids.pop(stale, None)
        return refused

    def _submit(self, item: Waiting) -> int:
        gres = {gres_of(accelerator) for _, accelerator in item.pools}
        if len({g.name for g in gres}) != 1:
            raise BackendError("its pools mix GPU and NPU devices; name one pool")
        [name] = {g.name for g in gres}
        request = (
            next(iter(gres)).request(item.devices) if len(gres) == 1 else f"{name}:{item.devices}"
        )
        options = [
            f"--partition={','.join(pool for pool, _ in item.pools)}",
            f"--gres={request}",
            f"--cpus-per-task={self._cpus_per_device * item.devices}",
            *self._common_options(
                item.job_id, item.attempt, item.name, item.project, item.time_limit_s, item.workdir
            ),
        ]
        if self.mode == "nuri":
            options.append("--hold")
        accelerator = item.pools[0][1]
        return self.tools.sbatch(options, _script(item.command, accelerator))

    def _common_options(
        self,
        job_id: int,
        attempt: int,
        label: str,
        project: str,
        time_limit_s: int,
        workdir: str | None,
    ) -> list[str]:
        directory = self.job_dir(job_id)
        checkpoints = directory / "checkpoint"
        checkpoints.mkdir(parents=True, exist_ok=True)
        chdir = workdir if workdir and Path(workdir).is_dir() else str(directory)
        environment = {
            "NURI_JOB_ID": str(job_id),
            "NURI_JOB_ATTEMPT": str(attempt),
            "NURI_JOB_LABEL": label,
            "NURI_CHECKPOINT_DIR": str(checkpoints),
        }
        exported = ",".join(
            f"{key}={value}" for key, value in environment.items() if "," not in value
        )
        return [
            f"--job-name={self.job_name(job_id, attempt)}",
            f"--account={project}",
            f"--time={slurm_minutes(time_limit_s)}",
            "--no-requeue",
            f"--output={directory / 'output.log'}",
            "--open-mode=append",
            f"--chdir={chdir}",
            f"--export=ALL,{exported}",
        ]

    # -- runs --------------------------------------------------------------------------------

    def start(self, launch: Launch) -> None:
        if self.mode == "native":
            raise BackendError("in native mode Slurm starts jobs; nuri's policy does not")
        key = (launch.job_id, launch.attempt)
        gres = gres_of(launch.accelerator or _accelerator_of(launch.device_env_var))
        count = len(launch.device_indices)
        slurm_id = self._ids.get(key)
        if slurm_id is None:  # not staged yet (e.g. a backend just replaced): submit it pinned
            slurm_id = self.tools.sbatch(
                [
                    f"--partition={launch.pool}",
                    f"--nodelist={launch.node}",
                    f"--gres={gres.request(count)}",
                    f"--cpus-per-task={self._cpus_per_device * count}",
                    *self._common_options(
                        launch.job_id,
                        launch.attempt,
                        launch.name,
                        launch.project,
                        launch.time_limit_s,
                        launch.workdir,
                    ),
                ],
                _script(launch.command, launch.accelerator),
            )
            self._ids[key] = slurm_id
        else:
            self.tools.scontrol(
                "update",
                f"JobId={slurm_id}",
                f"Partition={launch.pool}",
                f"NodeList={launch.node}",
                f"TresPerNode=gres:{gres.request(count)}",
            )
            self.tools.scontrol("release", str(slurm_id))
        self._active[key] = slurm_id

    def cancel(self, job_id: int) -> None:
        for key, slurm_id in list(self._active.items()):
            if key[0] == job_id:
                self._cancel_quietly(slurm_id)

    def preempt(self, job_id: int) -> None:
        for key, slurm_id in list(self._active.items()):
            if key[0] == job_id:
                self._preempting.add(key)
                self.tools.scontrol("update", f"JobId={slurm_id}", f"Comment={PREEMPTED_MARK}")
                self._cancel_quietly(slurm_id)

    def poll(self) -> list[Started | Ended]:
        self._queue = [e for e in self.tools.squeue() if self._key(e.name) is not None]
        reports: list[Started | Ended] = []
        in_queue = {entry.slurm_id for entry in self._queue}
        to_account: set[int] = set()
        for entry in self._queue:
            key = self._key(entry.name)
            assert key is not None
            self._ids[key] = entry.slurm_id
            if entry.state in _ACTIVE_STATES:
                self._active[key] = entry.slurm_id
                if key not in self._started and entry.start is not None:
                    self._started.add(key)
                    reports.append(
                        Started(key[0], key[1], entry.start, entry.partition, entry.nodes)
                    )
            elif entry.state != "PENDING" and key not in self._ended:
                to_account.add(entry.slurm_id)
        # Runs that left the queue without being seen to end (e.g. while nuri was down).
        to_account |= {
            slurm_id
            for key, slurm_id in self._active.items()
            if slurm_id not in in_queue and key not in self._ended
        }
        if to_account:
            for record in self.tools.sacct(job_ids=sorted(to_account)):
                reports += self._ended_from(record)
        return reports

    def reconcile(self, running: Sequence[Key]) -> list[Ended]:
        """Find the store's running attempts in Slurm; report those Slurm never heard of."""
        self._sweep_once(force=True)
        self._queue = [e for e in self.tools.squeue() if self._key(e.name) is not None]
        lost = []
        for key in running:
            slurm_id = self._ids.get(key)
            if slurm_id is None:
                lost.append(
                    Ended(
                        key[0],
                        key[1],
                        JobState.FAILED,
                        self._clock(),
                        None,
                        "lost: Slurm has no record of this run",
                    )
                )
            else:
                self._active[key] = slurm_id  # the next poll reports how it stands
        return lost

    def logs(self, job_id: int, offset: int = 0) -> bytes:
        try:
            with (self.job_dir(job_id) / "output.log").open("rb") as handle:
                handle.seek(max(0, offset))
                return handle.read()
        except FileNotFoundError:
            return b""

    def close(self) -> None:
        """Runs live in Slurm and carry on without nuri; nothing to release."""

    # -- helpers -----------------------------------------------------------------------------

    def _key(self, name: str) -> Key | None:
        match = self._name_pattern.match(name)
        return None if match is None else (int(match[1]), int(match[2]))

    def _sweep_once(self, force: bool = False) -> None:
        """Learn this commons' Slurm jobs from accounting (once per backend object)."""
        if self._swept and not force:
            return
        for record in self.tools.sacct(since=self._clock() - LOOKBACK):
            key = self._key(record.name)
            if key is not None:
                self._ids.setdefault(key, record.slurm_id)
                if record.start is not None and record.end is None:  # still running
                    self._active.setdefault(key, record.slurm_id)
        for entry in self.tools.squeue():
            key = self._key(entry.name)
            if key is not None:
                self._ids[key] = entry.slurm_id
        self._swept = True

    def _ended_from(self, record: AccountingRecord) -> list[Started | Ended]:
        key = self._key(record.name)
        state = _ENDED_STATES.get(record.state)
        if key is None or state is None or key in self._ended or record.end is None:
            return []  # still running as far as accounting knows: ask again next poll
        ran = record.start is not None and record.nodes not in ("", "None assigned")
        if not ran and key in self._started:
            # squeue saw it run but accounting has not caught up (slurmctld reports to
            # slurmdbd asynchronously): ask again next poll rather than charge nothing.
            return []
        self._ended.add(key)
        believed_running = self._active.pop(key, None) is not None
        if not ran and not believed_running:
            return []  # only ever pending (withdrawn): nothing ran, nothing to report
        reports: list[Started | Ended] = []
        if ran and key not in self._started:
            assert record.start is not None
            self._started.add(key)
            reports.append(Started(key[0], key[1], record.start, record.partition, record.nodes))
        preempted = key in self._preempting or record.comment == PREEMPTED_MARK
        if state is JobState.CANCELLED and preempted:
            state = JobState.PENDING
        self._preempting.discard(key)
        gres = [name for name in record.alloc_tres if name in ("gres/gpu", "gres/npu")]
        # An attempt nuri released that never ran (cancelled before Slurm started it) still
        # ends, with nothing to charge.
        reports.append(
            Ended(
                job_id=key[0],
                attempt=key[1],
                state=state,
                ended_at=record.end,
                exit_code=record.exit_code,
                reason=_reason(record, state),
                elapsed_s=record.elapsed_s if ran else 0,
                devices=record.alloc_tres[gres[0]] if gres else None,
            )
        )
        return reports

    def _cancel_quietly(self, slurm_id: int) -> None:
        try:
            self.tools.scancel(slurm_id)
        except _Unreachable:
            raise
        except BackendError as error:  # already gone: its end is read from accounting
            log.info("scancel %s: %s", slurm_id, error)


def slurm_minutes(time_limit_s: int) -> int:
    """Slurm keeps time limits in whole minutes; nuri's limit, rounded up."""
    return max(1, math.ceil(time_limit_s / 60))


def _accelerator_of(device_env_var: str) -> str:
    for model, accelerator in ACCELERATORS.items():
        if accelerator.device_env_var == device_env_var:
            return model
    raise BackendError(f"no accelerator uses {device_env_var}")


def _script(command: Sequence[str], accelerator: str) -> str:
    """The batch script: nuri's device variables from what Slurm assigned, then the command."""
    variable = ACCELERATORS[accelerator].device_env_var if accelerator in ACCELERATORS else ""
    lines = ["#!/bin/sh"]
    if variable == "CUDA_VISIBLE_DEVICES":
        lines.append('export NURI_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-}"')
    elif variable:
        # Slurm exports no device list for a non-GPU GRES; the job gets the node's devices.
        lines.append(f'export {variable}="${{{variable}:-${{SLURM_JOB_GPUS:-}}}}"')
    lines.append("exec " + shlex.join(command))
    return "\n".join(lines) + "\n"


def _reason(record: AccountingRecord, state: JobState) -> str | None:
    if state is JobState.COMPLETED:
        return None
    if state is JobState.PENDING:
        return f"requeued: Slurm ended the run {record.state.lower()}"
    if state is JobState.TIMEOUT:
        return "reached its time limit (Slurm)"
    if state is JobState.CANCELLED:
        return "cancelled (Slurm)"
    return f"Slurm: {record.state.lower()} with exit code {record.exit_code}"
