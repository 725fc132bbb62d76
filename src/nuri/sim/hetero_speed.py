"""A simulator speed model from measured throughputs, for heterogeneous clusters.

The simulator runs a job of ``work_s`` seconds on a pool for ``work_s / speed(job, pool)``
seconds (:data:`nuri.sim.simulator.SpeedModel`). Its default,
:func:`~nuri.sim.simulator.exchange_rate_speed`, scales every job by exchange rates alone, so a
K80 is equally slow for every model. :func:`table_speed` uses a
:class:`~nuri.policy.throughput.ThroughputTable` instead wherever it has entries, so a
simulated Recommendation job really runs faster on a P100 than on a V100, as Gavel measured
(Narayanan et al., OSDI'20).

The workload's ``work_s`` must be run times on one accelerator, the *reference*: the Gavel
Philly-derived trace (:func:`nuri.traces.gavel.load_gavel_philly`) gives V100 run times, so its
reference is ``"V100"``.
"""

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.domain.commons import accelerator_named
from nuri.policy.throughput import ThroughputTable
from nuri.sim.simulator import SimJob, SpeedModel, exchange_rate_speed


def table_speed(
    cluster: ClusterSpec, table: ThroughputTable, reference_accelerator: str
) -> SpeedModel:
    """How fast each job runs on each pool, relative to its run time on the reference.

    For a job of class ``c`` on a pool of accelerator ``a``, with ``ref`` the reference:

    - ``table.ratio(c, a, ref)`` (speed on ``a`` over speed on ``ref``) when the table has both;
    - otherwise the exchange-rate rule: the pool's rate over the reference's rate in
      ``cluster`` (the largest, if several pools have that accelerator) -- or, if the cluster has
      no pool of the reference accelerator, the simulator's default
      :func:`~nuri.sim.simulator.exchange_rate_speed` (work measured on the accelerator the job
      asked for, or on an H100).

    The model is a pure function of its arguments (the table is immutable) and reads nothing
    else. Raises InvalidInput if ``reference_accelerator`` is not a known accelerator model.
    """
    reference = accelerator_named(reference_accelerator).model
    reference_rates = [pool.rate_milli for pool in cluster.pools if pool.accelerator == reference]
    reference_rate = max(reference_rates) if reference_rates else None
    default = exchange_rate_speed(cluster)

    def speed(job: SimJob, pool: PoolSpec) -> float:
        measured = table.ratio(job.job_class, pool.accelerator, reference)
        if measured is not None:
            return measured
        if reference_rate is not None:
            return pool.rate_milli / reference_rate
        return default(job, pool)

    return speed
