"""The simulator's schedules pinned, so that making it (or a policy) faster provably changes
nothing it decides.

Two seeded synthetic workloads, each run under every registered policy: 1,000 jobs on one H100
pool sized for an offered load of 1.5 (queues build up, so ordering, backfilling and preemption
all matter), and the same jobs, some naming an accelerator class, on an H100 and an A100 pool
whose first H100 node is held for a service with changing demand (borrowing and reclaiming).
For each run the test pins the number of run segments, of preemptions and a SHA-256 of every
segment (job, pool, devices, exact start and end). A change to any start time, placement pool
or preemption fails it. Update the pins only for a change meant to alter decisions, and say
so in its commit.
"""

import hashlib
import math

import pandas as pd
import pytest

import nuri.policy.las as las_module
from nuri.domain.cluster_spec import ClusterSpec, PoolSpec, ReservationSpec
from nuri.policy.las import Las
from nuri.policy.registry import POLICIES, PolicyContext, policy_named
from nuri.policy.snapshot import Policy
from nuri.sim.simulator import SimResult, Simulator
from nuri.sim.workload import build_workload
from nuri.traces.synthetic import generate_trace
from nuri.traces.time_limits import with_time_limits

JOBS = 1000
RESTART_S = 60.0


def trace() -> pd.DataFrame:
    return with_time_limits(generate_trace(JOBS, seed=3), seed=0)


def one_pool(frame: pd.DataFrame, load: float = 1.5) -> ClusterSpec:
    """One H100 pool of 8-device nodes offered ``load`` times its capacity over the trace."""
    work = float((frame["num_gpus"] * frame["duration_s"]).sum())
    span = float(frame["submit_time_s"].max() - frame["submit_time_s"].min())
    nodes = max(math.ceil(work / (span * load) / 8), math.ceil(int(frame["num_gpus"].max()) / 8))
    return ClusterSpec(pools=(PoolSpec(1, "hub", "h100", "H100", nodes, 8, 1000, 4000),))


def two_pools_with_a_service(nodes: int) -> ClusterSpec:
    demand = tuple((hour * 3600.0, (hour * 5) % 9) for hour in range(400))
    return ClusterSpec(
        pools=(
            PoolSpec(1, "hub", "h100", "H100", nodes, 8, 1000, 4000),
            PoolSpec(2, "hub", "a100", "A100", nodes, 8, 600, 2000),
        ),
        reservations=(ReservationSpec(1, "svc", "h100", 1, demand),),
    )


def simulate(
    cluster: ClusterSpec, frame: pd.DataFrame, name: str, policy: Policy | None = None
) -> SimResult:
    """Run the registered policy ``name`` (or ``policy``, built elsewhere) on the workload."""
    workload = build_workload(frame, cluster)
    context = PolicyContext(
        oracle_work_s={job.job_id: job.work_s for job in workload.jobs}
        if POLICIES[name].oracle
        else None,
        restart_cost_s=RESTART_S,
    )
    return Simulator(
        cluster,
        policy or policy_named(name, context),
        shares=workload.shares,
        restart_cost_s=RESTART_S,
    ).run(workload.jobs)


def fingerprint(result: SimResult) -> tuple[int, int, str]:
    """(segments, preemptions, SHA-256 prefix of every segment with exact float times)."""
    lines = "\n".join(
        f"{s.job_id},{s.pool},{s.devices},{s.start_s!r},{s.end_s!r}" for s in result.segments
    )
    return len(result.segments), result.preemptions, hashlib.sha256(lines.encode()).hexdigest()[:16]


PINNED_ONE_POOL: dict[str, tuple[int, int, str]] = {
    "allocation-fair": (1000, 0, "0840267143cef925"),
    "easy-backfill": (1000, 0, "f7beba5830f07dda"),
    "fifo": (1000, 0, "e1c77601ed937090"),
    "hetero": (1000, 0, "8b239a8f60bd06af"),
    "las": (1125, 125, "0f797b6f877364b6"),
    "slurm-multifactor": (1000, 0, "021b6fc8cf7a63e9"),
    "srtf-oracle": (1823, 823, "39ea162de17ad5c9"),
}
PINNED_TWO_POOLS: dict[str, tuple[int, int, str]] = {
    "allocation-fair": (1002, 11, "060eff2ba48bb743"),
    "easy-backfill": (1004, 13, "afcd485c243e7243"),
    "fifo": (1001, 10, "4a5692eb046bc16c"),
    "hetero": (1009, 18, "e9e76b51ea004348"),
    "las": (1093, 102, "315c027451356c29"),
    "slurm-multifactor": (1000, 9, "4939e899e19fe33e"),
    "srtf-oracle": (1580, 589, "45172e8fd3a6f0b3"),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_one_pool_schedule_is_pinned(name: str) -> None:
    """Every policy's schedule of the queued one-pool workload is exactly the pinned one."""
    frame = trace()
    assert fingerprint(simulate(one_pool(frame), frame, name)) == PINNED_ONE_POOL[name]


def two_pool_workload() -> tuple[ClusterSpec, pd.DataFrame]:
    """The jobs of at most 16 devices, some naming an accelerator class, on two pools."""
    frame = trace()
    frame = frame.assign(
        gpu_type=["", "H100", "A100", "H100|A100"] * (len(frame) // 4) + [""] * (len(frame) % 4)
    )
    frame = frame[frame["num_gpus"] <= 16]
    return two_pools_with_a_service(max(2, one_pool(frame).pools[0].nodes // 2)), frame


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_two_pool_schedule_with_a_service_is_pinned(name: str) -> None:
    """Accelerator classes, two pools, a reserved node lent and reclaimed: pinned schedules."""
    cluster, frame = two_pool_workload()
    assert fingerprint(simulate(cluster, frame, name)) == PINNED_TWO_POOLS[name]


LAS_BY_SUBMISSION = ((1379, 379, "e946420698daa66d"), (1430, 439, "a96c575984c81e3e"))
"""LAS's pins before jobs of one queue were ordered by requested device-time left."""


def test_las_without_request_order_keeps_its_earlier_schedules() -> None:
    """LAS with its earlier eight queues and request_order_from=None (queues and victims by
    submission, not by requested device-time left) makes exactly the schedules LAS made before
    that order was added."""
    frame = trace()
    cluster, two_pool_frame = two_pool_workload()
    context = PolicyContext(restart_cost_s=RESTART_S)
    old = Las(
        context,
        thresholds_gpu_hours=las_module.EIGHT_QUEUE_THRESHOLDS_GPU_HOURS,
        request_order_from=None,
        victim_choice="fewest",
        starve_limit=32.0,
    )
    assert (
        fingerprint(simulate(one_pool(frame), frame, "las", old)),
        fingerprint(simulate(cluster, two_pool_frame, "las", old)),
    ) == LAS_BY_SUBMISSION


LAS_EIGHT_QUEUES = ((1381, 381, "dfec0c8cbc7e1eae"), (1430, 439, "49a171893329b064"))
"""LAS's pins before its default went from eight queues to three (2026-12-05)."""


def test_las_with_eight_queues_keeps_its_earlier_schedules() -> None:
    """LAS with its earlier default thresholds (eight queues a factor 4 apart) and the order
    within a queue by requested device-time left makes exactly the schedules it made before
    the default became three queues."""
    frame = trace()
    cluster, two_pool_frame = two_pool_workload()
    context = PolicyContext(restart_cost_s=RESTART_S)
    eight = Las(
        context,
        thresholds_gpu_hours=las_module.EIGHT_QUEUE_THRESHOLDS_GPU_HOURS,
        victim_choice="fewest",
        learn_run_times=False,
        starve_limit=32.0,
        rank_preempt_factor=None,
    )
    assert (
        fingerprint(simulate(one_pool(frame), frame, "las", eight)),
        fingerprint(simulate(cluster, two_pool_frame, "las", eight)),
    ) == LAS_EIGHT_QUEUES


LAS_FEWEST_VICTIMS = ((1123, 123, "d5d28e91fe1dd169"), (1086, 95, "72859f93c866c397"))
"""LAS's pins before a preempting job took the least valuable victims over the fewest
(2026-12-06)."""


def test_las_with_fewest_victims_keeps_its_earlier_schedules() -> None:
    """LAS choosing the node (or pool) that preempts the fewest jobs, as it did before the
    default became the least valuable victims, makes exactly the schedules it made then."""
    frame = trace()
    cluster, two_pool_frame = two_pool_workload()
    fewest = Las(
        PolicyContext(restart_cost_s=RESTART_S),
        victim_choice="fewest",
        learn_run_times=False,
        starve_limit=32.0,
        rank_preempt_factor=None,
    )
    assert (
        fingerprint(simulate(one_pool(frame), frame, "las", fewest)),
        fingerprint(simulate(cluster, two_pool_frame, "las", fewest)),
    ) == LAS_FEWEST_VICTIMS


LAS_REQUESTED_TIME_LEFT = ((1098, 98, "0dcbee009f535c6c"), (1083, 92, "af5faf23407cebcc"))
"""LAS's pins before jobs of one queue were ordered by the Gittins rank that finished jobs'
run times give their time limits (2026-12-07)."""


def test_las_without_learned_run_times_keeps_its_earlier_schedules() -> None:
    """LAS with ``learn_run_times=False`` (and its starvation limit of then, 32) orders jobs of
    one queue by requested device-time left, whatever the snapshots' run-time history says, and
    so makes exactly the schedules it made before it learnt from run times."""
    frame = trace()
    cluster, two_pool_frame = two_pool_workload()
    requested = Las(
        PolicyContext(restart_cost_s=RESTART_S),
        learn_run_times=False,
        starve_limit=32.0,
        rank_preempt_factor=None,
    )
    assert (
        fingerprint(simulate(one_pool(frame), frame, "las", requested)),
        fingerprint(simulate(cluster, two_pool_frame, "las", requested)),
    ) == LAS_REQUESTED_TIME_LEFT


LAS_QUEUES_ONLY = ((1100, 100, "35a7707c947ec50b"), (1092, 101, "ef2a3d8fba7a881c"))
"""LAS's pins before a job could preempt one of its own queue judged to have at least twice its
device-time left (2026-12-07)."""


def test_las_preempting_by_queues_only_keeps_its_earlier_schedules() -> None:
    """LAS with ``rank_preempt_factor=None`` (a job preempts only jobs two queues below its
    own) makes exactly the schedules it made before it could preempt by judged time left."""
    frame = trace()
    cluster, two_pool_frame = two_pool_workload()
    queues_only = Las(PolicyContext(restart_cost_s=RESTART_S), rank_preempt_factor=None)
    assert (
        fingerprint(simulate(one_pool(frame), frame, "las", queues_only)),
        fingerprint(simulate(cluster, two_pool_frame, "las", queues_only)),
    ) == LAS_QUEUES_ONLY


LAS_JUDGED_IN_EVERY_QUEUE = ((1513, 513, "992543d0eb27acfc"), (1521, 530, "094cebdfdb199bbf"))
"""LAS's pins while a job of any queue could preempt one of its own queue or a lower one judged
to have at least twice its device-time left (2026-12-07, before only the bottom queue's
jobs could)."""


def test_las_judging_in_every_queue_keeps_its_earlier_schedules() -> None:
    """LAS with ``rank_preempt_from=0`` lets jobs of every queue preempt by judged time left,
    and so makes exactly the schedules it made before that was kept to the bottom queue."""
    frame = trace()
    cluster, two_pool_frame = two_pool_workload()
    every_queue = Las(PolicyContext(restart_cost_s=RESTART_S), rank_preempt_from=0)
    assert (
        fingerprint(simulate(one_pool(frame), frame, "las", every_queue)),
        fingerprint(simulate(cluster, two_pool_frame, "las", every_queue)),
    ) == LAS_JUDGED_IN_EVERY_QUEUE
