"""Building the SRTF oracle's context from a workload (simulator only).

The oracle (:class:`nuri.policy.oracle.SrtfOracle`) is the one policy allowed to read true job
durations; it gets them here, from the workload the simulator replays, never from a snapshot::

    context = oracle_context(workload, restart_cost_s=60.0)
    policy = policy_named("srtf-oracle", context)   # refused with live=True
    Simulator(cluster, policy, restart_cost_s=60.0).run(workload.jobs)
"""

from collections.abc import Iterable, Mapping

from nuri.policy.registry import PolicyContext
from nuri.sim.simulator import SimJob
from nuri.sim.workload import Workload


def oracle_context(
    workload: Workload | Iterable[SimJob],
    *,
    restart_cost_s: float = 60.0,
    throughputs: Mapping[str, Mapping[str, float]] | None = None,
) -> PolicyContext:
    """A :class:`PolicyContext` whose ``oracle_work_s`` maps each job id to its ``work_s``.

    ``workload`` is a :class:`Workload` or any iterable of :class:`SimJob`. ``restart_cost_s``
    should equal the simulator's, so the oracle weighs preemptions at their real cost.
    """
    jobs = workload.jobs if isinstance(workload, Workload) else workload
    return PolicyContext(
        throughputs=dict(throughputs or {}),
        oracle_work_s={job.job_id: job.work_s for job in jobs},
        restart_cost_s=restart_cost_s,
    )
