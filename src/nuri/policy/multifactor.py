"""Slurm's multifactor job priority, then EASY backfilling in priority order.

A faithful port of Slurm's ``priority/multifactor`` plugin with the *classic* fair-share
algorithm (``PriorityFlags=NO_FAIR_TREE``) on a flat association tree (every project is a direct
child of the root), as documented in:

- "Multifactor Priority Plugin", https://slurm.schedmd.com/priority_multifactor.html, sections
  *Job Priority Factors In General*, *Age Factor*, *Job Size Factor*, *Quality of Service (QOS)
  Factor*, *Fairshare Factor* and *Configuration Example*;
- "Classic Fairshare Algorithm", https://slurm.schedmd.com/classic_fair_share.html, sections
  *Normalized Shares*, *Normalized Usage* and *The Fair-share Factor*;
- ``slurm.conf(5)``, https://slurm.schedmd.com/slurm.conf.html: ``PriorityMaxAge`` (default
  ``7-0``), ``PriorityDecayHalfLife`` (default ``7-0``), ``PriorityFavorSmall`` (default ``NO``);
- the job size computation in Slurm's ``src/plugins/priority/multifactor/priority_multifactor.c``
  (``set_priority_factors``), which the documentation describes only in words.

The priority of a pending job ``j`` of project ``g`` at time ``now``::

    priority = W_AGE * age + W_FAIRSHARE * fairshare + W_JOBSIZE * size + W_QOS * qos

    age       = min(1, (now - submitted_at) / PriorityMaxAge)            PriorityMaxAge = 7 days
    fairshare = 2 ** (-U / S)                      classic formula, FairShareDampeningFactor = 1
                U = decayed_usage[g] / sum of decayed_usage   (normalised decayed usage; on a
                    flat tree the effective usage equals it), 0 if nobody has used anything
                S = share[g] / sum of share                   (normalised shares)
                fairshare = 0 if S = 0 (no shares, as Slurm gives an association without any)
    size      = (nodes / cluster_nodes + devices / cluster_devices) / 2   PriorityFavorSmall=NO:
                the larger the job, the larger the factor; a job asking for the whole machine
                gets 1. Devices stand in for Slurm's CPUs and ``nodes = ceil(devices /
                node size)`` (the largest node of a pool it accepts) for its minimum node count.
    qos       = the tier's QOS priority normalised by the largest: strategic 1, hub member 0.5,
                general 0 (Slurm's ``norm_priority`` of a QOS)

Decayed usage is ``GroupUsage.decayed_usage`` of the snapshot: H100e device-seconds with the
7-day half-life of :mod:`nuri.policy.fairshare` (Slurm's ``PriorityDecayHalfLife``).

Weights. Slurm leaves them to the site (``slurm.conf``, ``PriorityWeight*``); nuri takes those
of the documentation's *Configuration Example* -- ``PriorityWeightAge=1000``,
``PriorityWeightFairshare=10000``, ``PriorityWeightJobSize=1000`` -- except QOS, which that
example switches off and nuri needs for its tiers: ``PriorityWeightQOS=10000``, as large as the
fair-share weight, so that a strategic job of a project that used far more than its share ranks
with a general job of an idle project. (The example's ``PriorityMaxAge=14-0`` is replaced by
Slurm's default of 7 days.) Jobs of equal priority go in submission order, then by job id,
which is Slurm's own tie-break ("Job priority, Job submit time, Job ID" in the introduction of
the plugin's page). Priorities are kept as floats; Slurm truncates them to integers.

What nuri adds. Slurm's priority alone does not keep a job from waiting forever: once its age
factor saturates it can be overtaken by every later job of a higher tier or of a less-used
project. nuri therefore applies a starvation guard at ``PriorityMaxAge``: a job pending 7 days
or more goes ahead of all jobs that are not, the longest-waiting first
(:func:`nuri.policy.backfill.rank_jobs`), and EASY backfilling
(:func:`nuri.policy.backfill.plan_backfill`) then guarantees it a reservation that no job behind
it can delay. Tiers weigh in through the QOS factor; they do not reorder starved jobs.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nuri.domain.commons import Tier
from nuri.policy.backfill import OrderedBackfill, rank_jobs, uniform_bound
from nuri.policy.placement import accepts
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import ClusterSnapshot, GroupUsage, PendingJob, PoolState

PRIORITY_MAX_AGE_S: Final = 7 * 86_400.0
"""``PriorityMaxAge``: the wait at which the age factor reaches 1 (Slurm's default, 7 days)."""

WEIGHT_AGE: Final = 1000.0
"""``PriorityWeightAge`` (priority_multifactor.html, *Configuration Example*)."""

WEIGHT_FAIRSHARE: Final = 10000.0
"""``PriorityWeightFairshare`` (priority_multifactor.html, *Configuration Example*)."""

WEIGHT_JOB_SIZE: Final = 1000.0
"""``PriorityWeightJobSize`` (priority_multifactor.html, *Configuration Example*)."""

WEIGHT_QOS: Final = 10000.0
"""``PriorityWeightQOS``: nuri's choice, equal to the fair-share weight (see module docstring)."""


QOS_FACTOR: Final[Mapping[Tier, float]] = {
    Tier.STRATEGIC: 1.0,
    Tier.HUB_MEMBER: 0.5,
    Tier.GENERAL: 0.0,
}
"""Each tier's normalised QOS priority (QOS priorities 2, 1 and 0 divided by the largest)."""


def age_factor(job: PendingJob, now: float) -> float:
    """``min(1, wait / PriorityMaxAge)``, in [0, 1]; a job submitted in the future counts 0."""
    return min(1.0, max(0.0, now - job.submitted_at) / PRIORITY_MAX_AGE_S)


def fairshare_factors(groups: Mapping[int, GroupUsage]) -> dict[int, float]:
    """Classic fair-share factor ``2 ** (-U / S)`` of every project in ``groups``.

    ``U`` is the project's decayed usage over all projects' (0 for all if nobody has any),
    ``S`` its share over all shares. A project with no share gets 0, the lowest factor; so
    does a project absent from ``groups`` (callers use ``.get(project_id, 0.0)``).
    """
    usages = [max(0.0, group.decayed_usage) for group in groups.values()]
    shares = [max(0.0, group.share) for group in groups.values()]
    total_usage = sum(usages)
    total_share = sum(shares)
    factors: dict[int, float] = {}
    for project_id, usage, share in zip(groups, usages, shares, strict=True):
        normalised_share = share / total_share if total_share > 0 else 0.0
        normalised_usage = usage / total_usage if total_usage > 0 else 0.0
        factors[project_id] = (
            2.0 ** (-normalised_usage / normalised_share) if normalised_share > 0 else 0.0
        )
    return factors


def job_size_factor(job: PendingJob, pools: Sequence[PoolState]) -> float:
    """Slurm's job size factor with ``PriorityFavorSmall=NO``, in [0, 1].

    ``(nodes / cluster_nodes + devices / cluster_devices) / 2`` over all pools of the snapshot,
    with ``nodes`` the fewest nodes of the largest node size among the pools ``job`` accepts
    (``priority_multifactor.c``, ``set_priority_factors``, "favor large" branch).
    """
    cluster_devices = sum(pool.devices for pool in pools)
    cluster_nodes = sum(len(pool.nodes) for pool in pools)
    node_size = max((pool.node_size for pool in pools if accepts(pool, job)), default=0)
    return _size_factor(job.devices, node_size, cluster_nodes, cluster_devices)


def _size_factor(devices: int, node_size: int, cluster_nodes: int, cluster_devices: int) -> float:
    """The job size factor of a job of ``devices`` whose largest candidate node has
    ``node_size`` devices; 0 if it fits no node or the cluster is empty.

    In float64 throughout, operation for operation as :func:`priorities` once computed it
    over whole columns in numpy, so that its priorities did not change.
    """
    if cluster_devices == 0 or cluster_nodes == 0 or node_size == 0:
        return 0.0
    wanted = float(devices)
    nodes = float(math.ceil(wanted / node_size))
    factor = (nodes / cluster_nodes + wanted / cluster_devices) / 2
    return min(1.0, max(0.0, factor))


def _size_factors(jobs: Sequence[PendingJob], pools: Sequence[PoolState]) -> list[float]:
    """:func:`job_size_factor` of every job, worked out once per distinct input.

    A job's candidate pools depend on its pool id or, without one, on its accelerator class;
    the largest node among them is worked out once per such key, for its first job, and the
    factor once per (largest node, devices).
    """
    cluster_devices = sum(pool.devices for pool in pools)
    cluster_nodes = sum(len(pool.nodes) for pool in pools)
    # Columns are read by comprehensions: on CPython 3.11 they read a slotted attribute about
    # twice as fast as map() over an attrgetter.
    pool_ids = {job.pool_id for job in jobs}
    if len(pool_ids) == 1 and (None not in pool_ids or len({job.accelerator for job in jobs}) == 1):
        # one key for the whole queue (the usual case): no per-job lookups
        largest = max((pool.node_size for pool in pools if accepts(pool, jobs[0])), default=0)
        wanted = [job.devices for job in jobs]
        by_devices = {
            devices: _size_factor(devices, largest, cluster_nodes, cluster_devices)
            for devices in set(wanted)
        }
        return [by_devices[devices] for devices in wanted]
    node_size: dict[int | str | None, int] = {}
    factor_of: dict[tuple[int, int], float] = {}
    factors = []
    for job in jobs:
        key = job.pool_id if job.pool_id is not None else job.accelerator
        if key not in node_size:
            node_size[key] = max(
                (pool.node_size for pool in pools if accepts(pool, job)), default=0
            )
        shape = (node_size[key], job.devices)
        if shape not in factor_of:
            factor_of[shape] = _size_factor(job.devices, shape[0], cluster_nodes, cluster_devices)
        factors.append(factor_of[shape])
    return factors


@dataclass(frozen=True, slots=True)
class PriorityFactors:
    """The normalised factors of one job (each in [0, 1]) and its weighted priority."""

    age: float
    fairshare: float
    job_size: float
    qos: float

    @property
    def priority(self) -> float:
        return _weighted(self.age, self.fairshare, self.job_size, self.qos)


def _weighted(age: float, fairshare: float, job_size: float, qos: float) -> float:
    """The weighted sum, always in this order so that equal factors give equal floats."""
    return (
        WEIGHT_AGE * age
        + WEIGHT_FAIRSHARE * fairshare
        + WEIGHT_JOB_SIZE * job_size
        + WEIGHT_QOS * qos
    )


_SHORT_QUEUE: Final = 64
"""Queues up to this long get their priorities job by job in Python: below it, numpy's fixed
cost per operation outweighs its gain per job (measured on the simulator's passes, whose
queues are mostly a few dozen jobs long)."""


def priorities(snapshot: ClusterSnapshot) -> npt.NDArray[np.float64]:
    """The priority of every pending job, in the order of ``snapshot.pending``.

    The same floats as :attr:`PriorityFactors.priority`: a short queue goes through
    :func:`_weighted` job by job, a long one through the same floating-point operations in
    the same order over numpy columns (about 2 ms for 10,000 jobs, against 15 ms job by job).
    """
    jobs = snapshot.pending
    count = len(jobs)
    fairshare = defaultdict(float, fairshare_factors(snapshot.groups))  # no factor: 0.0
    size = _size_factors(jobs, snapshot.pools)
    if count <= _SHORT_QUEUE:
        now = snapshot.now
        return np.array(
            [
                _weighted(
                    min(1.0, max(0.0, now - job.submitted_at) / PRIORITY_MAX_AGE_S),  # age_factor
                    fairshare[job.project_id],
                    job_size,
                    QOS_FACTOR[job.tier],
                )
                for job, job_size in zip(jobs, size, strict=True)
            ],
            np.float64,
        )
    # Columns read by comprehensions (see _size_factors): this runs on every pass over the queue.
    submitted = np.array([job.submitted_at for job in jobs], np.float64)
    share = np.array([fairshare[job.project_id] for job in jobs], np.float64)
    qos = np.array([QOS_FACTOR[job.tier] for job in jobs], np.float64)
    age = np.minimum(1.0, np.maximum(0.0, snapshot.now - submitted) / PRIORITY_MAX_AGE_S)
    result: npt.NDArray[np.float64] = (
        WEIGHT_AGE * age
        + WEIGHT_FAIRSHARE * share
        + WEIGHT_JOB_SIZE * np.array(size, np.float64)
        + WEIGHT_QOS * qos
    )
    return result


class SlurmMultifactor(OrderedBackfill):
    """Slurm's multifactor priority (age, fair-share, job size, tier as QOS), EASY backfill.

    See the module docstring for the formula, the sources and nuri's starvation guard.
    Stateless: ``decide`` is a pure function of the snapshot.
    """

    name = "slurm-multifactor"

    def __init__(self, context: PolicyContext | None = None) -> None:
        del context  # the priority needs nothing beyond the snapshot

    def factors(self, snapshot: ClusterSnapshot) -> dict[int, PriorityFactors]:
        """Every pending job's priority factors, by job id (what ``sprio -n`` would show)."""
        fairshare = fairshare_factors(snapshot.groups)
        return {
            job.job_id: PriorityFactors(
                age=age_factor(job, snapshot.now),
                fairshare=fairshare.get(job.project_id, 0.0),
                job_size=job_size_factor(job, snapshot.pools),
                qos=QOS_FACTOR[job.tier],
            )
            for job in snapshot.pending
        }

    def order(self, snapshot: ClusterSnapshot) -> list[PendingJob]:
        """Pending jobs by descending priority, then submission, then id; starved jobs first."""
        jobs = snapshot.pending
        return rank_jobs(
            jobs, priorities(snapshot), snapshot.now, uniform_bound(PRIORITY_MAX_AGE_S)
        )
