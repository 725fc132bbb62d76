"""The simulator stops an attempt at the job's time limit and says so."""

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.policy.fifo import Fifo
from nuri.sim.simulator import SimJob, Simulator


def test_a_job_slower_than_its_limit_is_stopped_and_flagged() -> None:
    """On an ATOM at 0.5 H100e, 100 s of H100 work takes 200 s: a 150 s limit stops it."""
    pool = PoolSpec(1, "hub", "atom", "ATOM", 1, 4, 500, 300)
    job = SimJob(1, "j1", "g", 1, 0.0, work_s=100.0, devices=1, time_limit_s=150)
    fits = SimJob(2, "j2", "g", 1, 0.0, work_s=100.0, devices=1, time_limit_s=600)
    result = Simulator(ClusterSpec(pools=(pool,)), Fifo()).run([job, fits])
    outcomes = {outcome.job_id: outcome for outcome in result.outcomes}
    assert outcomes["j1"].end_s == 150.0 and outcomes["j1"].timed_out
    assert outcomes["j2"].end_s == 200.0 and not outcomes["j2"].timed_out
