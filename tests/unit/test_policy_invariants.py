"""Invariants every registered policy keeps, on random clusters and queues (Hypothesis).

The harness covers every name in :data:`nuri.policy.registry.POLICIES`, built with
:func:`policy_named` exactly as the simulator builds it (the oracle gets fake work). A policy
whose module is not written yet is skipped with its reason; once the module lands it is covered
without any change here. For each random snapshot:

1. ``plan(policy, snapshot)`` never raises: the engine's checker finds no over-commitment, every
   gang all-or-nothing, every start on a pool the job accepts;
2. decisions are deterministic: the same snapshot twice, and a structurally equal rebuilt copy,
   give equal decisions (and ``wake_at`` answers alike, in the future or None);
3. the snapshot is not mutated;
4. no duration peeking: the job and pool types have no field naming durations or work, and only
   the oracle's registry entry says ``oracle`` (the snapshot's ``RunTimeHistory`` holds run times
   of jobs that have ended; ``tests/unit/test_simulator.py`` checks that no other job's is there);
5. a non-preemptive policy returns no Preempt.
"""

import copy
import dataclasses
import importlib.util

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nuri.domain.commons import Tier
from nuri.policy.cycle import plan
from nuri.policy.registry import POLICIES, PolicyContext, policy_named
from nuri.policy.snapshot import (
    ClusterSnapshot,
    GroupUsage,
    NodeSlice,
    NodeState,
    PendingJob,
    Policy,
    PoolState,
    Preempt,
    Reservation,
    RunningJob,
)

ACCELERATORS = ("H100", "A100", "ATOM")
JOB_CLASSES = ("", "resnet50", "bert")
NOW = 100_000.0


def fake_work(job_id: int) -> float:
    """The oracle's made-up true work of a job (seconds), a fixed function of its id."""
    return 60.0 + (job_id * 7919) % 20_000


def context() -> PolicyContext:
    """What the harness builds every policy with: throughputs, fake work for ids 1-999."""
    return PolicyContext(
        throughputs={
            "resnet50": {"H100": 1.0, "A100": 0.6, "ATOM": 0.2},
            "bert": {"H100": 1.0, "A100": 0.5, "ATOM": 0.3},
        },
        oracle_work_s={job_id: fake_work(job_id) for job_id in range(1, 1000)},
        restart_cost_s=60.0,
    )


def build(name: str) -> Policy:
    """The registered policy ``name``, or skip if its module does not exist yet."""
    module = POLICIES[name].target.partition(":")[0]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"policy {name!r}: module {module} is not written yet")
    return policy_named(name, context())


@st.composite
def snapshots(draw: st.DrawFn) -> ClusterSnapshot:
    """A random consistent snapshot: 1-3 pools of 1-6 nodes of 1-8 devices, some nodes held by a
    reservation (its service holding some devices, borrowers others), running jobs on distinct
    devices (some spanning nodes), pending jobs asking for up to a pool's size, by pool, by
    accelerator class or for any pool, with random tiers, projects and attained service."""
    job_ids = iter(draw(st.permutations(range(1, 200))))
    pool_count = draw(st.integers(1, 3))
    pools_raw: list[tuple[int, str, list[tuple[str, int, int | None]]]] = []
    reservations: list[Reservation] = []
    for pool_id in range(1, pool_count + 1):
        accelerator = draw(st.sampled_from(ACCELERATORS))
        size = draw(st.integers(1, 8))
        count = draw(st.integers(1, 6))
        reserved = draw(st.integers(0, count - 1)) if draw(st.booleans()) else 0
        nodes = [
            (f"p{pool_id}-n{i}", size, pool_id if i < reserved else None) for i in range(count)
        ]
        if reserved:
            wanted = draw(st.integers(0, reserved * size))
            reservations.append(Reservation(pool_id, pool_id, wanted, 0.0, float("inf")))
        pools_raw.append((pool_id, accelerator, nodes))

    free: dict[str, list[int]] = {
        name: list(range(size)) for _, _, nodes in pools_raw for name, size, _ in nodes
    }
    # The reservation's service holds some of its nodes' devices (not a job's).
    for _, _, nodes in pools_raw:
        for name, _, owner in nodes:
            if owner is not None:
                held = draw(st.integers(0, len(free[name])))
                free[name] = free[name][held:]

    def tier() -> Tier:
        return draw(st.sampled_from(list(Tier)))

    running: list[RunningJob] = []
    for _ in range(draw(st.integers(0, 8))):
        pool_id, _, nodes = draw(st.sampled_from(pools_raw))
        preemptible = draw(st.booleans()) or draw(st.booleans())  # 3 in 4
        usable = [n for n, _, owner in nodes if free[n] and (preemptible or owner is None)]
        if not usable:
            continue
        spread = draw(st.integers(1, len(usable)))
        placement: list[NodeSlice] = []
        for name in usable[:spread]:
            take = draw(st.integers(1, len(free[name])))
            placement.append(NodeSlice(name, tuple(free[name][:take])))
            free[name] = free[name][take:]
        started = NOW - draw(st.floats(0.0, 50_000.0))
        submitted = started - draw(st.floats(0.0, 20_000.0))
        running.append(
            RunningJob(
                job_id=next(job_ids),
                project_id=draw(st.integers(1, 3)),
                allocation_id=1,
                tier=tier(),
                pool_id=pool_id,
                placement=tuple(placement),
                time_limit_s=draw(st.sampled_from([1800, 3600, 86_400])),
                started_at=started,
                submitted_at=submitted,
                attained_device_seconds=draw(st.sampled_from([0.0, 1000.0, 20_000.0, 3e5])),
                preemptions=draw(st.integers(0, 3)),
                job_class=draw(st.sampled_from(JOB_CLASSES)),
                preemptible=preemptible,
            )
        )

    pools = tuple(
        PoolState(
            pool_id=pool_id,
            name=f"pool-{pool_id}",
            accelerator=accelerator,
            rate_milli={"H100": 1000, "A100": 600, "ATOM": 250}[accelerator],
            nodes=tuple(
                NodeState(name, size, tuple(free[name]), owner) for name, size, owner in nodes
            ),
        )
        for pool_id, accelerator, nodes in pools_raw
    )

    pending: list[PendingJob] = []
    for _ in range(draw(st.integers(0, 12))):
        target = draw(st.sampled_from(pools))
        how = draw(st.sampled_from(["pool", "class", "any"]))
        wanted_pool: int | None = target.pool_id if how == "pool" else None
        wanted_class: str | None = None
        if how == "class":
            wanted_class = target.accelerator
            if draw(st.booleans()):
                wanted_class = f"{wanted_class}|{draw(st.sampled_from(ACCELERATORS))}"
        largest = target.devices if how != "any" else max(pool.devices for pool in pools)
        devices = draw(st.integers(1, largest))
        attained = draw(st.sampled_from([0.0, 0.0, 500.0, 7200.0, 1e5, 4e6]))
        pending.append(
            PendingJob(
                job_id=next(job_ids),
                project_id=draw(st.integers(1, 3)),
                allocation_id=1,
                tier=tier(),
                pool_id=wanted_pool,
                devices=devices,
                time_limit_s=draw(st.sampled_from([1800, 3600, 86_400])),
                submitted_at=NOW - draw(st.floats(0.0, 10 * 86_400.0)),
                accelerator=wanted_class,
                attained_device_seconds=attained,
                preemptions=draw(st.integers(0, 3)) if attained else 0,
                job_class=draw(st.sampled_from(JOB_CLASSES)),
                preemptible=draw(st.booleans()),
            )
        )
    groups = {
        project: GroupUsage(project, share, draw(st.floats(0, 1e7)), draw(st.floats(0, 1e7)))
        for project, share in ((1, 0.5), (2, 0.3), (3, 0.2))
    }
    return ClusterSnapshot(
        now=NOW,
        pools=pools,
        running=tuple(running),
        pending=tuple(pending),
        groups=groups,
        reservations=tuple(reservations),
    )


def rebuilt(snapshot: ClusterSnapshot) -> ClusterSnapshot:
    """A structurally equal snapshot made of fresh objects (no cached properties carried)."""
    pools = tuple(
        PoolState(
            pool.pool_id,
            pool.name,
            pool.accelerator,
            pool.rate_milli,
            tuple(
                NodeState(n.name, n.devices, tuple(n.free_indices), n.reserved_for)
                for n in pool.nodes
            ),
            pool.hub,
        )
        for pool in snapshot.pools
    )
    return ClusterSnapshot(
        now=snapshot.now,
        pools=pools,
        running=tuple(dataclasses.replace(job) for job in snapshot.running),
        pending=tuple(dataclasses.replace(job) for job in snapshot.pending),
        groups=dict(snapshot.groups),
        reservations=tuple(snapshot.reservations),
    )


INVARIANT_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("name", sorted(POLICIES))
@INVARIANT_SETTINGS
@given(snapshot=snapshots())
def test_plan_never_raises_and_is_deterministic(name: str, snapshot: ClusterSnapshot) -> None:
    """(1) plan's checker accepts every decision; (2) same and rebuilt snapshots give equal
    decisions and wake-ups; (3) the snapshot is left as it was; (5) no Preempt from a
    non-preemptive policy."""
    policy = build(name)
    before = copy.deepcopy(snapshot)
    decisions = plan(policy, snapshot)
    assert plan(policy, snapshot) == decisions
    assert plan(build(name), rebuilt(snapshot)) == decisions
    assert snapshot == before
    if not policy.preemptive:
        assert not any(isinstance(d, Preempt) for d in policy.decide(snapshot))
    else:
        wake = policy.wake_at(snapshot)
        assert wake == build(name).wake_at(rebuilt(snapshot))
        assert wake is None or wake > snapshot.now
    assert snapshot == before


SNAPSHOT_TYPES = (
    ClusterSnapshot,
    PoolState,
    NodeState,
    PendingJob,
    RunningJob,
    GroupUsage,
    Reservation,
)
FORBIDDEN = ("duration", "work", "runtime", "run_time", "remaining", "finish", "end_s")


@pytest.mark.parametrize("kind", SNAPSHOT_TYPES, ids=lambda kind: kind.__name__)
def test_snapshot_types_carry_no_duration(kind: type) -> None:
    """(4) What a policy sees has no field naming a job's duration, work or run time."""
    names = [field.name for field in dataclasses.fields(kind)]
    assert names, kind
    for field_name in names:
        assert not any(word in field_name.lower() for word in FORBIDDEN), (kind, field_name)


def test_only_the_oracle_reads_durations() -> None:
    """(4) Exactly one registered policy is marked oracle: srtf-oracle."""
    assert [name for name, info in POLICIES.items() if info.oracle] == ["srtf-oracle"]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_declares_the_protocol(name: str) -> None:
    """Each policy has a name, a preemptive flag and answers wake_at on an empty cluster."""
    policy = build(name)
    empty = ClusterSnapshot(now=0.0, pools=(), running=(), pending=())
    assert isinstance(policy.preemptive, bool) and policy.name == name
    assert plan(policy, empty) == []
    assert policy.wake_at(empty) is None
