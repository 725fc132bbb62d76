"""The Slurm backend against a real Slurm cluster started by ``nuri slurm-dev up``.

One cluster serves the whole module (its own ports, state directory, cluster name and
accounting database, so it runs beside a developer's ``nuri slurm-dev`` cluster). Each test
has its own commons and its own project names, since Slurm accounts are cluster-wide.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from nuri.domain.commons import Role
from nuri.domain.errors import AdmissionRefused
from nuri.engine.clock import wall_clock
from nuri.engine.cycle import SchedulingEngine
from nuri.service.auth import Actor
from nuri.service.commons import Commons, open_commons
from nuri.service.settings import ServerSettings
from nuri.slurm.accounts import qos_usage
from nuri.slurm.commands import SlurmTools
from nuri.slurm.config import SlurmPool
from nuri.slurm.devcluster import DevCluster, site_facts
from nuri.store.tables import LedgerEntryRow

PORT_BASE = 7817
CLUSTER_NAME = "nuritest"
SPEC = """\
hubs:
  - name: ksc
    pools:
      - {name: h100, accelerator: H100, nodes: 2, devices_per_node: 4, h100_equivalent: 1.0,
         krw_per_device_hour: 3600}
      - {name: atom, accelerator: ATOM, nodes: 1, devices_per_node: 4, h100_equivalent: 0.25,
         krw_per_device_hour: 900}
"""
POOLS = [SlurmPool("h100", "H100", 2, 4, 1000), SlurmPool("atom", "ATOM", 1, 4, 250)]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a Slurm cluster needs root")


@dataclass
class SlurmCluster:
    state_dir: Path
    slurm_conf: Path
    tools: SlurmTools
    dev: DevCluster
    start_s: float


def _nuri() -> list[str]:
    found = shutil.which("nuri", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "nuri.cli.main"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    base = tmp_path_factory.mktemp("slurm")
    spec = base / "cluster.yaml"
    spec.write_text(SPEC)
    state = base / "state"
    common = ["--spec", str(spec), "--state-dir", str(state), "--port-base", str(PORT_BASE)]
    common += ["--cluster-name", CLUSTER_NAME]
    begun = time.monotonic()
    up = subprocess.run(
        [*_nuri(), "slurm-dev", "up", *common], capture_output=True, text=True, timeout=600
    )
    start_s = time.monotonic() - begun
    assert up.returncode == 0, f"nuri slurm-dev up failed:\n{up.stderr}"
    slurm_conf = state / "slurm.conf"
    assert f"export SLURM_CONF={slurm_conf}" in up.stdout
    dev = DevCluster(POOLS, site_facts(state, cluster_name=CLUSTER_NAME, port_base=PORT_BASE))
    try:
        yield SlurmCluster(state, slurm_conf, SlurmTools(slurm_conf), dev, start_s)
    finally:
        down = subprocess.run(
            [*_nuri(), "slurm-dev", "down", *common], capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 0, down.stderr


@dataclass
class World:
    commons: Commons
    member: Actor
    project: str
    tools: SlurmTools

    def engine(self) -> SchedulingEngine:
        return self.commons.scheduling_engine()


def make_world(cluster: SlurmCluster, tmp_path: Path, mode: str, gpu_hours: str = "10") -> World:
    settings = ServerSettings(
        home=tmp_path / "home",
        database_url=f"sqlite+pysqlite:///{tmp_path / 'nuri.sqlite3'}",
        backend="slurm",
        slurm_mode=mode,
        slurm_conf=cluster.slurm_conf,
        policy="easy-backfill",
    )
    commons = open_commons(settings)
    project = f"p{uuid.uuid4().hex[:8]}"
    d = commons.directory
    admin_view, _ = d.create_user(
        None, name="root", display_name="", role="admin", organisation=None
    )
    admin = Actor(admin_view.id, "root", Role.ADMIN)
    d.create_hub(admin, name="ksc", title="", operator="national-centre")
    d.create_pool(admin, name="h100", hub="ksc", accelerator="H100", nodes=2, devices_per_node=4,
                  exchange_rate="1", krw_per_device_hour=3600)  # fmt: skip
    d.create_pool(admin, name="atom", hub="ksc", accelerator="ATOM", nodes=1, devices_per_node=4,
                  exchange_rate="0.25", krw_per_device_hour=900)  # fmt: skip
    d.create_organisation(admin, name="snu", title="", kind="university")
    d.create_user(admin, name="kim", display_name="", role="pi", organisation="snu")
    member_view, _ = d.create_user(
        admin, name="lee", display_name="", role="member", organisation="snu"
    )
    d.create_project(admin, name=project, title="", field="language", organisation="snu", pi="kim")
    d.add_member(admin, project=project, user="lee")
    now = wall_clock()
    d.create_allocation(
        admin,
        project=project,
        gpu_hours=gpu_hours,
        pools=["h100", "atom"],
        tier="hub-member",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=30),
    )
    return World(commons, Actor(member_view.id, "lee", Role.MEMBER), project, cluster.tools)


@pytest.fixture
def world_factory(cluster: SlurmCluster, tmp_path: Path) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(mode: str = "nuri", gpu_hours: str = "10", subdir: str = "a") -> World:
        world = make_world(cluster, tmp_path / subdir, mode, gpu_hours)
        made.append(world)
        return world

    yield make
    for world in made:  # leave no job of this test behind in the shared cluster
        prefix = world.commons.backend.job_name(0, 0).removesuffix("-0-0")  # type: ignore[attr-defined]
        for entry in world.tools.squeue():
            if entry.name.startswith(prefix) and entry.state in ("RUNNING", "PENDING"):
                world.tools.scancel(entry.slurm_id)
        world.commons.close()


def run_until(engine: SchedulingEngine, done: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the engine did not get there in time"
        engine.cycle()
        time.sleep(0.3)


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def ledger(world: World, job_id: int) -> list[LedgerEntryRow]:
    with world.commons.sessions.begin() as session:
        rows = list(session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.job_id == job_id)))
        session.expunge_all()
    return rows


def slurm_record(world: World, job_id: int, attempt: int = 1):
    """Slurm's accounting record of an attempt, once accounting has it (it lags squeue)."""
    backend = world.commons.backend
    slurm_id = backend.slurm_id(job_id, attempt)  # type: ignore[attr-defined]
    name = backend.job_name(job_id, attempt)  # type: ignore[attr-defined]
    assert slurm_id is not None, f"the backend never submitted {name}"
    deadline = time.monotonic() + 20
    while True:
        records = [r for r in world.tools.sacct(job_ids=[slurm_id]) if r.name == name]
        if records and records[0].end is not None:
            return records[0]
        assert time.monotonic() < deadline, f"no finished accounting record for {name}"
        time.sleep(0.5)


# -- tests --------------------------------------------------------------------------------------


def test_slurm_dev_up_is_idempotent_and_reports_status(cluster: SlurmCluster) -> None:
    common = ["--state-dir", str(cluster.state_dir), "--port-base", str(PORT_BASE)]
    common += ["--cluster-name", CLUSTER_NAME]
    spec = cluster.state_dir.parent / "cluster.yaml"
    again = subprocess.run(
        [*_nuri(), "slurm-dev", "up", "--spec", str(spec), *common],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    status = subprocess.run(
        [*_nuri(), "slurm-dev", "status", "--spec", str(spec), "--json", *common],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert '"running": true' in status.stdout
    nodes = cluster.tools.run(["sinfo", "-N", "-h", "-o", "%N %P %G"]).split("\n")
    assert "h100-n00 h100* gpu:h100:4" in nodes
    assert "atom-n00 atom npu:atom:4" in nodes


def test_slurm_dev_up_says_which_port_is_taken(cluster: SlurmCluster, tmp_path: Path) -> None:
    spec = cluster.state_dir.parent / "cluster.yaml"
    clash = subprocess.run(
        [*_nuri(), "slurm-dev", "up", "--spec", str(spec), "--state-dir", str(tmp_path / "s"),
         "--port-base", str(PORT_BASE), "--cluster-name", "other"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert clash.returncode == 1
    assert f"port {PORT_BASE} is taken" in clash.stderr
    assert "Traceback" not in clash.stderr


def test_nuri_mode_runs_the_policys_choice_and_charges_what_sacct_accounted(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory("nuri")
    engine = world.engine()
    job = world.commons.jobs.submit(
        world.member,
        project=world.project,
        pool="h100",
        gpus=2,
        time_limit_s=300,
        command=sh('echo "devices=$CUDA_VISIBLE_DEVICES nuri=$NURI_VISIBLE_DEVICES"; sleep 2'),
    )
    run_until(engine, lambda: world.commons.jobs.show(world.member, job.id).state == "COMPLETED")
    view = world.commons.jobs.show(world.member, job.id)
    assert view.node in ("h100-n00", "h100-n01")
    assert "devices=0,1 nuri=0,1" in world.commons.jobs.logs(world.member, job.id).decode()
    record = slurm_record(world, job.id)
    assert record.state == "COMPLETED" and record.account == world.project
    assert record.partition == "h100" and record.nodes == view.node
    [entry] = ledger(world, job.id)
    assert (entry.devices, entry.seconds) == (record.alloc_tres["gres/gpu"], record.elapsed_s)
    assert entry.h100e_units == 2 * record.elapsed_s * 1000
    books = world.commons.slurm_books
    assert books is not None
    assert books.reconcile(wall_clock() - timedelta(hours=1)) == []


def test_nuri_mode_holds_pending_jobs_in_slurm_until_the_policy_releases_them(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory("nuri")
    engine = world.engine()
    blocker = world.commons.jobs.submit(
        world.member, project=world.project, pool="atom", gpus=4, time_limit_s=300,
        command=sh("sleep 30"),
    )  # fmt: skip
    run_until(engine, lambda: world.commons.jobs.show(world.member, blocker.id).state == "RUNNING")
    waiting = world.commons.jobs.submit(
        world.member, project=world.project, pool="atom", gpus=1, time_limit_s=300,
        command=sh("true"),
    )  # fmt: skip
    engine.cycle()
    name = world.commons.backend.job_name(waiting.id, 1)  # type: ignore[attr-defined]
    [entry] = [e for e in world.tools.squeue() if e.name == name]
    assert entry.state == "PENDING" and entry.reason == "JobHeldUser"
    world.commons.jobs.cancel(world.member, waiting.id)
    world.commons.jobs.cancel(world.member, blocker.id)
    run_until(
        engine, lambda: world.commons.jobs.show(world.member, blocker.id).state == "CANCELLED"
    )
    assert not [e for e in world.tools.squeue() if e.name == name and e.state == "PENDING"]
    [entry_blocker] = ledger(world, blocker.id)
    assert entry_blocker.seconds == slurm_record(world, blocker.id).elapsed_s


def test_time_limit_is_enforced_by_slurm(world_factory: Callable[..., World]) -> None:
    world = world_factory("nuri")
    engine = world.engine()
    job = world.commons.jobs.submit(
        world.member, project=world.project, pool="h100", gpus=1, time_limit_s=60,
        command=sh("sleep 600"),
    )  # fmt: skip
    run_until(
        engine,
        lambda: world.commons.jobs.show(world.member, job.id).state == "TIMEOUT",
        timeout_s=180,
    )
    record = slurm_record(world, job.id)
    assert record.state == "TIMEOUT"
    assert 60 <= record.elapsed_s < 150
    [entry] = ledger(world, job.id)
    assert entry.seconds == record.elapsed_s


def test_native_mode_slurm_places_jobs_including_an_accelerator_class(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory("native")
    engine = world.engine()
    jobs = world.commons.jobs
    ids = [
        jobs.submit(world.member, project=world.project, pool="h100", gpus=4, time_limit_s=120,
                    command=sh("sleep 1")).id
        for _ in range(3)
    ] + [
        jobs.submit(world.member, project=world.project, pool=None, accelerator="ATOM", gpus=2,
                    time_limit_s=120, command=sh("sleep 1")).id
    ]  # fmt: skip
    run_until(engine, lambda: all(jobs.show(world.member, i).state == "COMPLETED" for i in ids))
    views = [jobs.show(world.member, i) for i in ids]
    assert [v.pool for v in views] == ["h100", "h100", "h100", "atom"]
    for view in views:
        record = slurm_record(world, view.id)
        [entry] = ledger(world, view.id)
        assert record.nodes == view.node
        assert (entry.devices, entry.seconds) == (view.gpus, record.elapsed_s)
    # Slurm ran them by its own priority: the three 4-GPU jobs fit two nodes, so one waited.
    starts = sorted(slurm_record(world, i).start for i in ids[:3])
    assert starts[2] > starts[0]


def test_award_is_enforced_by_slurm_itself(
    world_factory: Callable[..., World], tmp_path: Path
) -> None:
    """An award of 0.05 H100e GPU-hours is 3000 billing-minutes in the project's QOS; a direct
    sbatch that could exceed it is refused by Slurm, and the QOS budget is nuri's remaining."""
    world = world_factory("native", gpu_hours="0.05")
    engine = world.engine()
    engine.cycle()  # writes the award to Slurm
    usage = qos_usage(world.tools, f"nuri-{world.project}")
    assert usage.limit_billing_minutes == 3000
    qos = world.tools.sacctmgr_list("show", "qos", f"nuri-{world.project}", "format=Flags")
    assert qos == [["DenyOnLimit,NoDecay"]]
    refused = subprocess.run(
        ["sbatch", f"--account={world.project}", "--partition=h100", "--gres=gpu:h100:4",
         "--time=1", "--wrap=true"],
        env={**os.environ, "SLURM_CONF": str(world.tools.slurm_conf)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "QOSGrpBillingMinutes" in refused.stderr
    # nuri agrees: it rounds the 40 s limit up to Slurm's whole minute, so the hold (4 GPUs x
    # 60 s) does not fit the award either.
    with pytest.raises(AdmissionRefused):
        world.commons.jobs.submit(
            world.member, project=world.project, pool="h100", gpus=4, time_limit_s=40,
            command=sh("true"),
        )  # fmt: skip
    # A job nuri admits (within the award) is accepted by Slurm too, and charged.
    job = world.commons.jobs.submit(
        world.member, project=world.project, pool="h100", gpus=1, time_limit_s=120,
        command=sh("true"),
    )  # fmt: skip
    run_until(engine, lambda: world.commons.jobs.show(world.member, job.id).state == "COMPLETED")


def test_direct_sbatch_usage_is_imported_once(world_factory: Callable[..., World]) -> None:
    world = world_factory("native")
    engine = world.engine()
    engine.cycle()
    submitted = world.tools.sbatch(
        [f"--account={world.project}", "--partition=atom", "--gres=npu:atom:2", "--time=2",
         "--output=/dev/null"],
        "#!/bin/sh\nsleep 2\n",
    )  # fmt: skip
    books = world.commons.slurm_books
    assert books is not None
    since = wall_clock() - timedelta(hours=1)
    deadline = time.monotonic() + 60
    # Ended and accounted in full: on a loaded machine slurmdbd can first show a placeholder
    # (named 'allocation', no partition) that nuri rightly leaves to a later import.
    while not [
        r for r in world.tools.sacct(job_ids=[submitted]) if r.end is not None and r.partition
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    differences = books.reconcile(since)
    records = world.tools.sacct(job_ids=[submitted])
    assert [d.note for d in differences] == ["run 'import-usage'"], records
    assert books.import_usage(since) == 1
    assert books.import_usage(since) == 0
    assert books.reconcile(since) == []
    [record] = world.tools.sacct(job_ids=[submitted])
    with world.commons.sessions.begin() as session:
        [entry] = session.scalars(select(LedgerEntryRow))
        assert (entry.devices, entry.seconds) == (2, record.elapsed_s)
        assert entry.h100e_units == 2 * record.elapsed_s * 250


def test_restarts_of_nuri_and_slurmctld_lose_and_duplicate_nothing(
    cluster: SlurmCluster, world_factory: Callable[..., World], tmp_path: Path
) -> None:
    world = world_factory("nuri")
    engine = world.engine()
    jobs = world.commons.jobs
    long_job = jobs.submit(world.member, project=world.project, pool="h100", gpus=1,
                           time_limit_s=300, command=sh("sleep 8"))  # fmt: skip
    short_job = jobs.submit(world.member, project=world.project, pool="h100", gpus=1,
                            time_limit_s=300, command=sh("sleep 2"))  # fmt: skip
    run_until(engine, lambda: jobs.show(world.member, long_job.id).state == "RUNNING"
              and jobs.show(world.member, short_job.id).state == "RUNNING")  # fmt: skip
    # nuri goes away (its backend object and its memory with it); the short job ends meanwhile,
    # and slurmctld restarts while the long one runs.
    engine.resign()
    world.commons.close()
    time.sleep(3)
    cluster.dev.restart_controller()
    reopened = open_commons(world.commons.settings)
    try:
        engine = reopened.scheduling_engine()
        run_until(
            engine,
            lambda: all(
                reopened.jobs.show(world.member, j.id).state == "COMPLETED"
                for j in (long_job, short_job)
            ),
            timeout_s=90,
        )
        for job in (long_job, short_job):
            view = reopened.jobs.show(world.member, job.id)
            assert view.attempt == 1
            record = slurm_record(world, job.id)
            [entry] = ledger(world, job.id)
            assert entry.seconds == record.elapsed_s
        books = reopened.slurm_books
        assert books is not None
        assert books.reconcile(wall_clock() - timedelta(hours=1)) == []
    finally:
        reopened.close()
