"""The Slurm backend's bookkeeping against scripted tool output: one Slurm job per attempt, never
submitted twice, ends read from accounting, preemption read back as a requeue after a restart.
(The real cluster is exercised in tests/integration/test_slurm.py.)"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nuri.backends.protocol import BackendError, Ended, Launch, Started, Waiting
from nuri.backends.slurm import PREEMPTED_MARK, SlurmBackend
from nuri.domain.jobs import JobState
from nuri.slurm.commands import AccountingRecord, QueueEntry, SlurmTools, SlurmUnavailable

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class ScriptedSlurm(SlurmTools):
    """Slurm as a dictionary of jobs; tests move them through their states."""

    def __init__(self) -> None:
        super().__init__(None)
        self.jobs: dict[int, dict[str, object]] = {}
        self.calls: list[tuple[str, ...]] = []
        self.refuse: str | None = None
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise SlurmUnavailable("squeue: Unable to contact slurm controller")

    def sbatch(self, options: Sequence[str], script: str) -> int:
        self._check()
        if self.refuse:
            raise BackendError(self.refuse)
        slurm_id = len(self.jobs) + 100
        opts = dict(option.removeprefix("--").split("=", 1) for option in options if "=" in option)
        self.jobs[slurm_id] = {
            "name": opts["job-name"],
            "state": "PENDING",
            "held": "--hold" in options,
            "partition": opts["partition"],
            "nodes": "",
            "comment": "",
        }
        self.calls.append(("sbatch", *options))
        return slurm_id

    def squeue(self) -> list[QueueEntry]:
        self._check()
        return [
            QueueEntry(
                i,
                str(j["name"]),
                str(j["state"]),
                str(j["partition"]),
                str(j["nodes"]),
                NOW if j["state"] != "PENDING" else None,
                "JobHeldUser" if j["held"] else "",
            )
            for i, j in self.jobs.items()
            if not j.get("purged")
        ]

    def sacct(
        self, *, job_ids: Sequence[int] = (), since: datetime | None = None
    ) -> list[AccountingRecord]:
        self._check()
        return [
            AccountingRecord(
                slurm_id=i,
                name=str(j["name"]),
                account="nlp",
                partition=str(j["partition"]),
                state=str(j["state"]),
                exit_code=0,
                submit=NOW,
                start=NOW if j["nodes"] else (NOW if j["state"] == "CANCELLED" else None),
                end=NOW + timedelta(seconds=42)
                if j["state"] not in ("PENDING", "RUNNING")
                else None,
                elapsed_s=42 if j["nodes"] else 0,
                nodes=str(j["nodes"]) or "None assigned",
                alloc_tres={"gres/gpu": 2} if j["nodes"] else {},
                comment=str(j["comment"]),
            )
            for i, j in self.jobs.items()
            if not job_ids or i in job_ids
        ]

    def scancel(self, slurm_id: int) -> None:
        self._check()
        self.calls.append(("scancel", str(slurm_id)))
        self.jobs[slurm_id]["state"] = "CANCELLED"

    def scontrol(self, *args: str) -> str:
        self._check()
        self.calls.append(("scontrol", *args))
        slurm_id = int(args[1].removeprefix("JobId=")) if args[0] == "update" else int(args[1])
        job = self.jobs[slurm_id]
        if args[0] == "release":
            job["held"] = False
            job["state"] = "RUNNING"
            job["nodes"] = job.get("pinned", "n00")
        for arg in args[2:]:
            key, _, value = arg.partition("=")
            if key == "NodeList":
                job["pinned"] = value
            if key == "Partition":
                job["partition"] = value
            if key == "Comment":
                job["comment"] = value
        return ""


def backend(slurm: ScriptedSlurm, tmp_path: Path, mode: str = "nuri") -> SlurmBackend:
    return SlurmBackend(
        slurm,
        jobs_dir=tmp_path,
        prefix="nuriab12cd34",
        mode=mode,  # type: ignore[arg-type]
        clock=lambda: NOW,
    )


def waiting(job_id: int, attempt: int = 1) -> Waiting:
    return Waiting(
        job_id=job_id,
        attempt=attempt,
        name="train",
        project="nlp",
        command=("python3", "train.py"),
        workdir=None,
        devices=2,
        time_limit_s=90,
        pools=(("h100", "H100"),),
    )


def launch(job_id: int, attempt: int = 1) -> Launch:
    return Launch(
        job_id=job_id,
        attempt=attempt,
        command=("python3", "train.py"),
        pool="h100",
        node="h100-n01",
        device_indices=(0, 1),
        device_env_var="CUDA_VISIBLE_DEVICES",
        time_limit_s=120,
        accelerator="H100",
        project="nlp",
    )


def test_nuri_mode_holds_then_pins_and_releases_and_reads_the_end_from_accounting(
    tmp_path: Path,
) -> None:
    slurm = ScriptedSlurm()
    b = backend(slurm, tmp_path)
    assert b.sync_queue([waiting(7)]) == []
    assert b.sync_queue([waiting(7)]) == []  # already submitted: not again
    [(_, *options)] = [call for call in slurm.calls if call[0] == "sbatch"]
    assert "--hold" in options and "--gres=gpu:h100:2" in options
    assert "--cpus-per-task=8" in options  # 4 CPUs per device: Slurm's job size sees devices
    assert "--time=2" in options and "--account=nlp" in options  # 90 s -> 2 whole minutes
    assert "--job-name=nuriab12cd34-7-1" in options
    b.start(launch(7))
    assert ("scontrol", "release", "100") in slurm.calls
    assert slurm.jobs[100]["nodes"] == "h100-n01" and slurm.jobs[100]["partition"] == "h100"
    assert b.poll() == [Started(7, 1, NOW, "h100", "h100-n01")]
    assert b.poll() == []
    slurm.jobs[100]["state"] = "COMPLETED"
    [ended] = b.poll()
    assert isinstance(ended, Ended)
    assert (ended.state, ended.elapsed_s, ended.devices) == (JobState.COMPLETED, 42, 2)
    assert b.poll() == []  # reported once


def test_a_job_withdrawn_while_pending_is_cancelled_in_slurm_and_never_reported(
    tmp_path: Path,
) -> None:
    slurm = ScriptedSlurm()
    b = backend(slurm, tmp_path)
    b.sync_queue([waiting(7), waiting(8)])
    b.poll()
    b.sync_queue([waiting(8)])  # 7 was cancelled in nuri
    assert ("scancel", "100") in slurm.calls
    assert b.poll() == []


def test_a_preempted_run_is_requeued_even_by_a_backend_that_restarted(tmp_path: Path) -> None:
    slurm = ScriptedSlurm()
    first = backend(slurm, tmp_path)
    first.sync_queue([waiting(7)])
    first.start(launch(7))
    first.poll()
    first.preempt(7)
    assert slurm.jobs[100]["comment"] == PREEMPTED_MARK
    # nuri restarts before it reads the end
    second = backend(slurm, tmp_path)
    assert second.reconcile([(7, 1)]) == []
    reports = second.poll()
    assert [type(r) for r in reports] == [Started, Ended]
    assert reports[1].state is JobState.PENDING  # type: ignore[union-attr]
    # the next attempt is a new Slurm job; the old one is not submitted again
    second.sync_queue([waiting(7, attempt=2)])
    assert [j["name"] for j in slurm.jobs.values()] == ["nuriab12cd34-7-1", "nuriab12cd34-7-2"]


def test_a_restarted_backend_finds_submitted_jobs_and_reports_lost_runs(tmp_path: Path) -> None:
    slurm = ScriptedSlurm()
    backend(slurm, tmp_path, "native").sync_queue([waiting(7)])
    again = backend(slurm, tmp_path, "native")
    again.sync_queue([waiting(7)])
    assert len(slurm.jobs) == 1
    [lost] = again.reconcile([(9, 1)])
    assert lost.state is JobState.FAILED and "no record" in (lost.reason or "")


def test_slurm_refusing_a_job_is_a_refusal_but_slurm_down_is_an_error(tmp_path: Path) -> None:
    slurm = ScriptedSlurm()
    b = backend(slurm, tmp_path, "native")
    slurm.refuse = "sbatch: error: QOSGrpBillingMinutes"
    [refusal] = b.sync_queue([waiting(7)])
    assert refusal.job_id == 7 and "QOSGrpBillingMinutes" in refusal.reason
    slurm.refuse = None
    slurm.down = True
    with pytest.raises(SlurmUnavailable):
        b.poll()
    with pytest.raises(BackendError, match="native mode"):
        b.start(launch(8))
