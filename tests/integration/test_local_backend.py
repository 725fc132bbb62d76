"""Integration tests for the local backend: real subprocesses, a real wall clock, tmp_path.

Every child is a ``sys.executable -c`` one-liner (never a shell). Each backend created here is
shut down at teardown so no test leaves processes behind.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nuri.backends.local import LocalBackend
from nuri.backends.protocol import BackendError, Ended, Launch
from nuri.domain.jobs import JobState
from nuri.engine.clock import wall_clock

GRACE_S = 0.5
POLL_INTERVAL_S = 0.05

SLEEP_30 = "import time; time.sleep(30)"


def wait_for_ends(backend: LocalBackend, n: int, timeout_s: float = 10) -> list[Ended]:
    """Poll every 0.05 s until ``n`` Ended events were collected; fail the test on timeout."""
    collected: list[Ended] = []
    deadline = time.monotonic() + timeout_s
    while True:
        collected.extend(backend.poll())
        if len(collected) >= n:
            return collected
        if time.monotonic() >= deadline:
            pytest.fail(f"expected {n} ended run(s) within {timeout_s}s, got {collected!r}")
        time.sleep(POLL_INTERVAL_S)


def wait_for_output(
    backend: LocalBackend, job_id: int, predicate: Callable[[bytes], bool], timeout_s: float = 10
) -> bytes:
    """Wait until the job's captured output satisfies ``predicate``; fail the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        output = backend.logs(job_id)
        if predicate(output):
            return output
        if time.monotonic() >= deadline:
            pytest.fail(f"job {job_id} output never matched within {timeout_s}s: {output!r}")
        time.sleep(POLL_INTERVAL_S)


def is_gone(pid: int) -> bool:
    """True if ``pid`` no longer runs: no such process, or only a zombie is left.

    Orphaned grandchildren are re-parented to PID 1, which in some containers never reaps them,
    so a dead grandchild can linger as a zombie; it holds no devices and cannot run.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_until_gone(pid: int, timeout_s: float = 3) -> bool:
    deadline = time.monotonic() + timeout_s
    while not is_gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)
    return True


def launch(
    job_id: int,
    code: str,
    *,
    attempt: int = 1,
    time_limit_s: int = 60,
    device_env_var: str = "CUDA_VISIBLE_DEVICES",
    device_indices: tuple[int, ...] = (0,),
    workdir: str | None = None,
) -> Launch:
    return Launch(
        job_id=job_id,
        attempt=attempt,
        command=(sys.executable, "-c", code),
        pool="test-pool",
        node="localhost",
        device_indices=device_indices,
        device_env_var=device_env_var,
        time_limit_s=time_limit_s,
        workdir=workdir,
    )


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    return tmp_path / "jobs"


@pytest.fixture
def make_backend(jobs_dir: Path) -> Iterator[Callable[[], LocalBackend]]:
    """Builds LocalBackends over the same jobs_dir; all of them are shut down at teardown."""
    backends: list[LocalBackend] = []

    def make() -> LocalBackend:
        backend = LocalBackend(jobs_dir, wall_clock, grace_period_s=GRACE_S)
        backends.append(backend)
        return backend

    yield make
    for backend in backends:
        backend.close()


@pytest.fixture
def backend(make_backend: Callable[[], LocalBackend]) -> LocalBackend:
    return make_backend()


def test_exit_zero_completes_and_captures_stdout_and_stderr(backend: LocalBackend) -> None:
    """Exit 0 ends COMPLETED (exit 0); stdout and stderr land in logs(); offsets slice; unknown job is b''."""
    code = (
        "import sys; sys.stdout.write('out-line\\n'); sys.stdout.flush();"
        " sys.stderr.write('err-line\\n'); sys.stderr.flush()"
    )
    backend.start(launch(1, code))

    [ended] = wait_for_ends(backend, 1)

    assert (ended.job_id, ended.attempt) == (1, 1)
    assert ended.state is JobState.COMPLETED
    assert ended.exit_code == 0
    assert ended.reason is None
    full = backend.logs(1)
    assert full == b"out-line\nerr-line\n"
    assert (backend.job_dir(1) / "output.log").read_bytes() == full
    assert backend.logs(1, offset=len(b"out-line\n")) == b"err-line\n"
    assert backend.logs(1, offset=len(full)) == b""
    assert backend.logs(999) == b""


def test_nonzero_exit_fails_with_the_code(backend: LocalBackend) -> None:
    """A non-zero exit ends FAILED with that exit code and a reason naming the code."""
    backend.start(launch(2, "raise SystemExit(3)"))

    [ended] = wait_for_ends(backend, 1)

    assert ended.state is JobState.FAILED
    assert ended.exit_code == 3
    assert ended.reason is not None and "3" in ended.reason


@pytest.mark.parametrize(
    ("device_env_var", "indices", "expected"),
    [("CUDA_VISIBLE_DEVICES", (2, 3), "2,3"), ("RBLN_DEVICES", (0, 5), "0,5")],
)
def test_child_sees_device_variables_and_job_id(
    backend: LocalBackend, device_env_var: str, indices: tuple[int, ...], expected: str
) -> None:
    """The child sees its devices in the pool's variable and NURI_VISIBLE_DEVICES, and NURI_JOB_ID."""
    names = [device_env_var, "NURI_VISIBLE_DEVICES", "NURI_JOB_ID"]
    code = f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {names!r}}}))"
    backend.start(launch(3, code, device_env_var=device_env_var, device_indices=indices))

    [ended] = wait_for_ends(backend, 1)

    assert ended.state is JobState.COMPLETED, backend.logs(3)
    seen = json.loads(backend.logs(3))
    assert seen == {device_env_var: expected, "NURI_VISIBLE_DEVICES": expected, "NURI_JOB_ID": "3"}


def test_time_limit_ends_run_as_timeout(backend: LocalBackend) -> None:
    """A run past its time limit gets SIGTERM from poll() and ends TIMEOUT within a few seconds."""
    began = time.monotonic()
    backend.start(launch(4, SLEEP_30, time_limit_s=1))

    [ended] = wait_for_ends(backend, 1, timeout_s=5)

    elapsed = time.monotonic() - began
    assert ended.state is JobState.TIMEOUT
    assert ended.exit_code == -signal.SIGTERM
    assert ended.reason is not None and "time limit" in ended.reason
    assert 1 <= elapsed < 4


def test_time_limit_kills_a_child_that_ignores_sigterm(backend: LocalBackend) -> None:
    """A child ignoring SIGTERM is SIGKILLed once the grace period passes and still ends TIMEOUT."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " print('ready', flush=True); time.sleep(30)"
    )
    began = time.monotonic()
    backend.start(launch(5, code, time_limit_s=1))
    wait_for_output(backend, 5, lambda output: b"ready" in output)

    [ended] = wait_for_ends(backend, 1, timeout_s=6)

    elapsed = time.monotonic() - began
    assert ended.state is JobState.TIMEOUT
    assert ended.exit_code == -signal.SIGKILL
    assert 1 + GRACE_S <= elapsed < 5


GRANDCHILD_THEN_SLEEP = (
    "import subprocess, sys, time;"
    " child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']);"
    " print(child.pid, flush=True); time.sleep(30)"
)


def test_cancel_ends_cancelled_and_kills_the_whole_group(backend: LocalBackend) -> None:
    """cancel() ends the run CANCELLED and its process group, grandchildren included, is gone."""
    backend.start(launch(6, GRANDCHILD_THEN_SLEEP))
    output = wait_for_output(backend, 6, lambda output: output.endswith(b"\n"))
    grandchild = int(output.split()[0])
    assert not is_gone(grandchild)

    backend.cancel(6)
    [ended] = wait_for_ends(backend, 1)

    assert ended.state is JobState.CANCELLED
    assert ended.reason is not None and "cancel" in ended.reason
    assert wait_until_gone(grandchild), f"grandchild {grandchild} survived the cancel"


def test_cancel_kills_grandchildren_that_ignore_sigterm(backend: LocalBackend) -> None:
    """cancel() leaves no group member alive, even one ignoring SIGTERM whose leader died at once."""
    code = (
        "import subprocess, sys, time;"
        " inner = 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        ' print("ready", flush=True); time.sleep(30)\';'
        " child = subprocess.Popen([sys.executable, '-c', inner]);"
        " print(child.pid, flush=True); time.sleep(30)"
    )
    backend.start(launch(16, code))
    output = wait_for_output(backend, 16, lambda output: b"ready" in output)
    grandchild = int(output.split()[0])
    try:
        backend.cancel(16)
        [ended] = wait_for_ends(backend, 1)
        assert ended.state is JobState.CANCELLED
        # Past the grace period, at least one poll must have had the chance to SIGKILL the group.
        deadline = time.monotonic() + GRACE_S + 1.5
        while time.monotonic() < deadline and not is_gone(grandchild):
            backend.poll()
            time.sleep(POLL_INTERVAL_S)
        assert is_gone(grandchild), f"grandchild {grandchild} survived the cancel"
    finally:
        if not is_gone(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_preempt_ends_pending_for_requeue(backend: LocalBackend) -> None:
    """preempt() ends the run with state PENDING and a reason saying it was preempted."""
    backend.start(launch(7, SLEEP_30))

    backend.preempt(7)
    [ended] = wait_for_ends(backend, 1)

    assert ended.state is JobState.PENDING
    assert ended.reason is not None and "preempted" in ended.reason


def test_each_end_is_reported_exactly_once(backend: LocalBackend) -> None:
    """Every end is reported by exactly one poll(); later polls and a late cancel add nothing."""
    backend.start(launch(8, "pass"))
    backend.start(launch(9, "raise SystemExit(1)"))
    backend.start(launch(10, SLEEP_30))
    backend.cancel(10)

    ended = wait_for_ends(backend, 3)

    assert sorted(end.job_id for end in ended) == [8, 9, 10]
    backend.cancel(10)
    backend.preempt(8)
    for _ in range(5):
        time.sleep(POLL_INTERVAL_S)
        assert backend.poll() == []


def test_start_of_missing_program_raises_backend_error(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """start() of a program that does not exist raises BackendError naming it and the cause."""
    missing = str(tmp_path / "no-such-program")
    bad = Launch(
        job_id=11,
        attempt=1,
        command=(missing, "--flag"),
        pool="test-pool",
        node="localhost",
        device_indices=(0,),
        device_env_var="CUDA_VISIBLE_DEVICES",
        time_limit_s=60,
    )

    with pytest.raises(BackendError) as raised:
        backend.start(bad)

    message = str(raised.value)
    assert missing in message
    assert "No such file" in message
    assert backend.poll() == []


def test_reconcile_reports_runs_it_never_started_as_failed(backend: LocalBackend) -> None:
    """reconcile() reports FAILED, with a reason, for a run this backend never started."""
    [ended] = backend.reconcile([(12, 2)])

    assert (ended.job_id, ended.attempt) == (12, 2)
    assert ended.state is JobState.FAILED
    assert ended.reason


def test_reconcile_is_silent_about_runs_it_is_running(backend: LocalBackend) -> None:
    """reconcile() reports nothing for a run this backend is running, and leaves it running."""
    backend.start(launch(13, SLEEP_30, attempt=3))

    assert backend.reconcile([(13, 3)]) == []
    time.sleep(0.2)
    assert backend.poll() == []


def test_reconcile_of_a_stale_attempt_spares_the_current_one(backend: LocalBackend) -> None:
    """reconcile() naming an old attempt of a job never kills the attempt this backend now runs."""
    backend.start(launch(19, SLEEP_30, attempt=2))

    backend.reconcile([(19, 1)])
    time.sleep(0.3)

    assert backend.poll() == []


def test_reconcile_after_restart_kills_the_leftover_group(
    make_backend: Callable[[], LocalBackend], jobs_dir: Path
) -> None:
    """A fresh backend's reconcile() kills the group an earlier instance left (it has NURI_JOB_ID)."""
    before_restart = make_backend()
    before_restart.start(launch(14, SLEEP_30))
    pgid_file = jobs_dir / "14" / "pgid"
    assert pgid_file.exists()

    after_restart = make_backend()
    [ended] = after_restart.reconcile([(14, 1)])

    assert ended.state is JobState.FAILED
    assert ended.reason
    assert not pgid_file.exists()
    # The old instance still owns the child, so it reaps it and sees that it was SIGKILLed.
    [seen_by_old] = wait_for_ends(before_restart, 1, timeout_s=3)
    assert seen_by_old.exit_code == -signal.SIGKILL


def test_reconcile_leaves_an_unrelated_process_group_alone(
    backend: LocalBackend, jobs_dir: Path
) -> None:
    """reconcile() does not kill a recorded group whose leader lacks NURI_JOB_ID (a reused pid)."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("NURI_")
    }
    stranger = subprocess.Popen(
        [sys.executable, "-c", SLEEP_30], env=environment, start_new_session=True
    )
    try:
        pgid_file = jobs_dir / "15" / "pgid"
        pgid_file.parent.mkdir(parents=True)
        pgid_file.write_text(str(stranger.pid))

        [ended] = backend.reconcile([(15, 1)])

        assert ended.state is JobState.FAILED
        time.sleep(0.3)
        assert stranger.poll() is None, "reconcile killed a process that was not the job's"
    finally:
        stranger.kill()
        stranger.wait()


def test_job_runs_in_its_workdir(backend: LocalBackend, tmp_path: Path) -> None:
    """The job runs in launch.workdir when it exists, and in its job directory when it does not."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    code = "import os; print(os.getcwd())"
    backend.start(launch(17, code, workdir=str(workdir)))
    backend.start(launch(18, code, workdir=str(tmp_path / "missing")))

    wait_for_ends(backend, 2)

    assert backend.logs(17).decode().strip() == os.path.realpath(workdir)
    assert backend.logs(18).decode().strip() == os.path.realpath(backend.job_dir(18))
