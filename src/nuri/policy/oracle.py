"""Preemptive shortest-remaining-GPU-time-first with true durations: the simulator's yardstick.

SRTF minimises mean completion time on one machine (Schrage, "A proof of the optimality of the
shortest remaining processing time discipline", Operations Research 16(3), 1968); with gangs of
devices it is the ``shortest-gpu`` (shortest remaining GPU-time) oracle of Tiresias' simulator
(Gu et al., NSDI'19). No real scheduler knows durations, so this policy is a *bound* to compare
others with: the registry marks it ``oracle`` and refuses to build it for the live service.

Remaining work. ``PolicyContext.oracle_work_s[job_id]`` is the job's true work in seconds at
speed 1.0. A job that attained ``a`` device-seconds on ``d`` devices has about
``w - a / d`` seconds left (attained service includes restart overhead and ignores pool speed,
so this is an estimate, as it would be for any real oracle fed from accounting); its remaining
GPU-time is that times ``d``. A job missing from the table ranks last.

Each pass takes pending jobs by remaining GPU-time (then submission, then id) and

1. starts a job that fits (same placement as FIFO: the candidate pool with most free devices);
2. otherwise preempts running jobs whose remaining GPU-time exceeds the job's by more than the
   restart cost of the victim (``gain_factor * restart_cost_s * victim devices`` device-seconds),
   longest remaining first, if that lets the job start (see
   :meth:`nuri.policy.las.PassView.start_by_preempting`);
3. otherwise skips it.

Because a running job's remaining time only shrinks and a waiting job's does not change, a job
is preempted only by one that is strictly shorter by a margin: the oracle does not thrash, and it
never needs a wake-up (``wake_at`` is always None).
"""

from collections.abc import Callable, Mapping, Sequence

from nuri.domain.errors import InvalidInput
from nuri.policy.las import PassView, Victim
from nuri.policy.placement import candidate_pools
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import ClusterSnapshot, Decision, PendingJob, Preempt, RunningJob

DEFAULT_GAIN_FACTOR = 2.0
"""A preemption must save at least this many times the victim's restart cost."""


class SrtfOracle:
    """Preemptive shortest remaining GPU-time first, reading true work (simulator only).

    Raises :class:`~nuri.domain.errors.InvalidInput` when built without
    ``context.oracle_work_s``. ``decide`` is pure; the work table is copied at construction.
    """

    name = "srtf-oracle"
    preemptive = True

    def __init__(
        self, context: PolicyContext | None = None, *, gain_factor: float = DEFAULT_GAIN_FACTOR
    ) -> None:
        if context is None or context.oracle_work_s is None:
            raise InvalidInput(
                "srtf-oracle needs the jobs' true work (PolicyContext.oracle_work_s); build it"
                " with nuri.sim.oracle.oracle_context(workload)"
            )
        self._work: Mapping[int, float] = dict(context.oracle_work_s)
        self.margin_s = gain_factor * context.restart_cost_s
        """Device-seconds of gain per victim device a preemption must exceed."""

    def remaining_gpu_s(self, job_id: int, devices: int, attained: float) -> float:
        """Remaining GPU-time (device-seconds) of a job, ``inf`` if its work is unknown."""
        work = self._work.get(job_id)
        if work is None:
            return float("inf")
        return max(0.0, work - attained / devices) * devices

    def _pending_remaining(self, job: PendingJob) -> float:
        return self.remaining_gpu_s(job.job_id, job.devices, job.attained_device_seconds)

    def _running_remaining(self, job: RunningJob, now: float) -> float:
        return self.remaining_gpu_s(job.job_id, job.devices, job.attained_at(now))

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        """Starts and preemptions for this pass; see the module docstring."""
        if not snapshot.pending:
            return []
        now = snapshot.now
        view = PassView(snapshot)
        victims = sorted(
            ((job, self._running_remaining(job, now)) for job in snapshot.running),
            key=lambda entry: (-entry[1], -entry[0].job_id),
        )
        view.add_victims(victims)  # longest remaining first
        ordered = sorted(
            (
                (self._pending_remaining(job), job.submitted_at, job.job_id, job)
                for job in snapshot.pending
            ),
            key=lambda entry: entry[:3],
        )
        decisions: list[Decision] = []
        for remaining, _, _, job in ordered:
            pools = candidate_pools(snapshot.pools, job)
            start = view.start_on_free(pools, job)
            if start is None:
                chosen = view.start_by_preempting(pools, job, self._worth_preempting(remaining))
                if chosen is None:
                    continue
                start, stopped = chosen
                decisions.extend(Preempt(stopped_job.job_id) for stopped_job in stopped)
            decisions.append(start)
        return decisions

    def _worth_preempting(self, remaining: float) -> Callable[[Victim], bool]:
        """Whether preempting a victim for a job with ``remaining`` GPU-seconds left gains more
        than the victim's restart cost (``margin_s`` per device)."""
        return lambda victim: victim.worth - remaining > self.margin_s * victim.job.devices

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:  # noqa: ARG002 - protocol
        """Never: priorities change only when jobs arrive or end (see the module docstring)."""
        return None
