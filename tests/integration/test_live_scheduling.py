"""The live engine driving real processes on the local backend through the shared policy stage."""

import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from nuri.backends.local import LocalBackend
from nuri.engine.clock import wall_clock
from nuri.engine.cycle import SchedulingEngine
from nuri.policy.fifo import Fifo
from nuri.policy.snapshot import ClusterSnapshot, Decision, Preempt
from nuri.service.commons import Commons, open_commons
from nuri.service.settings import ServerSettings
from tests.conftest import build_world


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Commons, LocalBackend, object]]:
    """A commons on the wall clock whose jobs run as real processes."""
    world = build_world(
        f"sqlite+pysqlite:///{tmp_path / 'nuri.sqlite3'}", tmp_path / "seed", start=wall_clock()
    )
    world.commons.close()
    backend = LocalBackend(tmp_path / "jobs", wall_clock, grace_period_s=2.0)
    settings = ServerSettings(
        home=tmp_path / "home", database_url=f"sqlite+pysqlite:///{tmp_path / 'nuri.sqlite3'}"
    )
    commons = open_commons(settings, backend=backend)
    yield commons, backend, world.member
    backend.close()
    commons.close()


def run_until(engine: SchedulingEngine, done, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the engine did not get there in time"
        engine.cycle()
        time.sleep(0.1)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_real_jobs_share_a_pool_without_sharing_a_device(live) -> None:
    """Six 2-device jobs on 2 nodes of 4: at most four run at once, on disjoint devices, all complete."""
    commons, _, member = live
    engine = SchedulingEngine(
        sessions=commons.sessions,
        backend=commons.backend,
        policy=Fifo(),
        clock=wall_clock,
        holder="t",
    )
    code = "import os, time; print(os.environ['NURI_NODE'], os.environ['CUDA_VISIBLE_DEVICES']); time.sleep(1.0)"
    ids = [
        commons.jobs.submit(
            member, project="nlp", pool="h100", gpus=2, time_limit_s=60, command=python(code)
        ).id
        for _ in range(6)
    ]
    seen_running: set[frozenset[tuple[str, int]]] = set()

    def all_done() -> bool:
        jobs = [commons.jobs.show(member, job_id) for job_id in ids]
        running = [job for job in jobs if job.state == "RUNNING"]
        devices = [(job.node, index) for job in running for index in job.device_indices]
        assert len(devices) == len(set(devices)), "two running jobs share a device"
        assert len(running) <= 4
        seen_running.add(frozenset(devices))
        return all(job.state == "COMPLETED" for job in jobs)

    run_until(engine, all_done)
    for job_id in ids:
        node, devices = commons.jobs.logs(member, job_id).decode().split()
        job = commons.jobs.show(member, job_id)
        assert node == job.node and devices == ",".join(map(str, job.device_indices))
        assert job.charged_units >= 2 * 1000  # at least 2 devices x 1 s x rate 1.0


class PreemptOnce:
    """A test policy: FIFO, but preempts job ``victim`` once, the first time it sees it running."""

    name = "preempt-once"
    preemptive = True

    def __init__(self, victim: int) -> None:
        self._victim = victim
        self._done = False
        self._fifo = Fifo()

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        running = {job.job_id: job for job in snapshot.running}
        victim = running.get(self._victim)
        if not self._done and victim is not None and snapshot.now - victim.started_at > 1.0:
            self._done = True
            return [Preempt(self._victim)]
        return self._fifo.decide(snapshot)

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:
        return None


def test_a_preempted_job_gets_sigterm_keeps_its_checkpoint_and_resumes(live) -> None:
    """SIGTERM, a grace period to save state in NURI_CHECKPOINT_DIR, requeue, resume from it."""
    commons, _, member = live
    code = (
        "import os, pathlib, signal, sys, time\n"
        "ckpt = pathlib.Path(os.environ['NURI_CHECKPOINT_DIR']) / 'step'\n"
        "step = int(ckpt.read_text()) if ckpt.exists() else 0\n"
        "print('attempt', os.environ['NURI_JOB_ATTEMPT'], 'resumes at', step, flush=True)\n"
        "def save(*_):\n"
        "    ckpt.write_text(str(step)); print('saved', step, flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, save)\n"
        "while step < 30:\n"
        "    step += 1; time.sleep(0.1)\n"
        "print('finished at', step, flush=True)\n"
    )
    job_id = commons.jobs.submit(
        member, project="nlp", pool="h100", gpus=1, time_limit_s=60, command=python(code)
    ).id
    engine = SchedulingEngine(
        sessions=commons.sessions,
        backend=commons.backend,
        policy=PreemptOnce(job_id),
        clock=wall_clock,
        holder="t",
    )
    run_until(engine, lambda: commons.jobs.show(member, job_id).state == "COMPLETED")
    job = commons.jobs.show(member, job_id)
    assert job.attempt == 2
    log = commons.jobs.logs(member, job_id).decode()
    assert "attempt 1 resumes at 0" in log and "saved" in log
    saved = int(log.split("saved ")[1].split()[0])
    assert saved > 0 and f"attempt 2 resumes at {saved}" in log and "finished at 30" in log
    usage = commons.jobs.usage(member, "nlp")
    assert usage.used_units == job.charged_units > 0  # both attempts charged, once each
