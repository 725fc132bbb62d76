"""Start-time estimates: the current queue simulated forward with the live policy.

Nobody knows how long jobs will really run, so the estimate assumes what admission assumes:
every running job holds its devices until its time limit, and every queued job runs for its
whole time limit. Real jobs usually end earlier (users over-ask), so estimates err late rather
than early; the scheduling benchmark measures by how much (median absolute error, and the share
of estimates within 2x of the wait that then happened).
"""

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.policy.snapshot import ClusterSnapshot, Policy
from nuri.sim.simulator import InitialRun, SimJob, Simulator

DEFAULT_HORIZON_JOBS = 2000
"""Estimate at most this many queued jobs (the first in submission order); later ones get none."""


def cluster_of(snapshot: ClusterSnapshot) -> ClusterSpec:
    """The snapshot's pools as a cluster spec (node names follow ``<pool>-nNN``, as live)."""
    return ClusterSpec(
        pools=tuple(
            PoolSpec(
                pool_id=pool.pool_id,
                hub=pool.hub,
                name=pool.name,
                accelerator=pool.accelerator,
                nodes=len(pool.nodes),
                devices_per_node=pool.node_size,
                rate_milli=pool.rate_milli,
                krw_per_device_hour=0,
            )
            for pool in snapshot.pools
        )
    )


def estimate_starts(
    snapshot: ClusterSnapshot,
    policy: Policy,
    *,
    max_jobs: int = DEFAULT_HORIZON_JOBS,
    only: set[int] | None = None,
) -> dict[int, float]:
    """Estimated start time (same clock as ``snapshot.now``) of each pending job, by job id.

    With ``only``, the simulation stops as soon as those jobs have started. Jobs the simulation
    could not start (a queue longer than ``max_jobs``) are left out.
    """
    if not snapshot.pending:
        return {}
    now = snapshot.now
    initial = [
        InitialRun(
            job=SimJob(
                job_id=job.job_id,
                trace_id=str(job.job_id),
                group=str(job.project_id),
                project_id=job.project_id,
                submit_s=job.submitted_at,
                work_s=max(1.0, job.started_at + job.time_limit_s - now),
                devices=job.devices,
                time_limit_s=job.time_limit_s,
                pool_id=job.pool_id,
                job_class=job.job_class,
                tier=job.tier,
                preemptible=job.preemptible,
            ),
            pool_id=job.pool_id,
            placement=job.placement,
            started_s=now,
            attained_device_seconds=job.attained_at(now),
        )
        for job in snapshot.running
    ]
    queued = sorted(snapshot.pending, key=lambda job: (job.submitted_at, job.job_id))[:max_jobs]
    jobs = [
        SimJob(
            job_id=job.job_id,
            trace_id=str(job.job_id),
            group=str(job.project_id),
            project_id=job.project_id,
            submit_s=min(job.submitted_at, now),
            work_s=float(job.time_limit_s),
            devices=job.devices,
            time_limit_s=job.time_limit_s,
            pool_id=job.pool_id,
            accelerator=job.accelerator,
            job_class=job.job_class,
            tier=job.tier,
            preemptible=job.preemptible,
            allowed_pool_ids=job.allowed_pool_ids,
        )
        for job in queued
    ]
    shares = {group.project_id: group.share for group in snapshot.groups.values()}
    simulator = Simulator(cluster_of(snapshot), policy, shares=shares)
    result = simulator.run(
        jobs,
        initial=initial,
        watch={job.job_id for job in jobs if only is None or job.job_id in only},
        start_at=now,
        usage=snapshot.groups,
        history=snapshot.history,
    )
    return {
        job.job_id: max(now, result.first_start[job.job_id])
        for job in jobs
        if job.job_id in result.first_start
    }
