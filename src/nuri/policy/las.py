"""Tiresias-style discretised two-dimensional least-attained-service (2D-LAS), preemptive.

Source: Gu et al., "Tiresias: A GPU Cluster Manager for Distributed Deep Learning", NSDI'19
(section 4.2, "Discretized 2D-LAS"), and its simulator (SymbioticLab/Tiresias,
``simulator/run_sim.py``, schedule ``dlas-gpu``). Nothing here reads a job's duration:
priorities come only from the service a job has already attained, which the snapshot carries.

How a decision is made
----------------------
*Attained service* is two-dimensional: devices x seconds (``PendingJob.attained_device_seconds``,
``RunningJob.attained_at(now)``). ``K = len(thresholds) + 1`` priority queues split it::

    queue 0          attained <  T0 * s          (every new job starts here)
    queue 1   T0*s <= attained <  T1 * s
    ...
    queue K-1        attained >= T(K-2) * s

where ``s`` is the job's tier scale (below). Queues are served in order, lowest number first;
within a queue jobs go by tier, then requested device-time left (below), then submission time,
then id, promoted jobs last (below). Each pass walks the pending jobs in that order and

1. starts a job on the candidate pool with most free devices if it fits (gang placement by
   :class:`~nuri.policy.placement.FreeDevices`, which consolidates onto few nodes);
2. otherwise *preempts*: running jobs at least ``preempt_gap`` queues below it, or, for a job
   of the bottom queue, of that queue judged to have far more time left (*Preempting by judged
   time left*),
   in one candidate pool, least valuable first (lowest queue, lowest tier, most requested device-time left,
   latest submission), are freed
   (``FreeDevices.give_back``) until the job fits -- on one node if the job fits one node,
   since such a job never spans nodes; among the candidate pools and nodes, the choice whose
   most valuable victim is least valuable wins (*Which victims*, below). If even every
   eligible victim would not let the job start, nothing is preempted (:class:`PassView`).
   Only while the pass's preemption budget lasts (below);
3. otherwise skips it (later, smaller jobs may use the free devices, as in Tiresias).

Order within a queue
--------------------
Within one queue and tier, a job with less *requested device-time left* goes first: ``devices *
time_limit_s - attained device-seconds``, what the user asked for less what the job has already
used (:meth:`Las.requested_left`; for a running victim, attained by now). Among victims of one
queue and tier, the one with most requested device-time left is preempted first. Both use only
the user's time limit and the attained service, never a duration; a time limit is a loose
upper bound (users over-ask 3-5x), but among jobs that attained the same service it tends to
separate the short from the long. LAS alone cannot: jobs of one queue look alike, so long
jobs with similar attained service take turns where an SRTF scheduler would run them one after
another. ``request_order_from`` (default 0, every queue) is the first queue so ordered; in
earlier queues, and everywhere with ``None``, jobs of one tier go by submission (the house FIFO
order of :func:`nuri.policy.fifo.arrival_order`) and victims by latest submission, exactly as
before this order was added.

Learnt from finished jobs (``learn_run_times``, the default): where the snapshot's run-time
history (:class:`~nuri.policy.snapshot.RunTimeHistory`) holds enough run times of jobs that
asked for the same time limit, the device-time a job is judged to have left is its Gittins rank
(:mod:`nuri.policy.gittins`) instead of its requested device-time left: the expected service
per completion, from how long such jobs ran and how long this one has run. A limit is a loose
bound, and jobs that ask for the same one run for very different times; the rank tells a job
that is likely nearly done from one that is likely to run on, which the limit alone cannot. On
the Gavel Philly-derived trace it took LAS from 1.30 to 1.19 times the SRTF oracle's mean JCT,
and to 1.13 with the starvation limit raised to match (docs/scheduling.md). Without history (a
new service, a rare limit) the order is exactly the requested time left, and
``learn_run_times=False`` keeps that order everywhere.

Preempting by judged time left
------------------------------
Queues alone never let jobs of one queue preempt each other: every job past 16 device-hours
shares the bottom queue, so a long job that started there held its devices against any job of
that queue that was likely nearly done. With ``rank_preempt_factor`` (default 2), a pending job
of the bottom queue may also preempt a running job of that queue that is judged, from finished
jobs' run times (the Gittins rank above), to have more than its own device-time left and at
least ``rank_preempt_factor`` times it; where a limit has no history yet, its requested
device-time left is the judge, as in the order within a queue. The factor is hysteresis, as
``preempt_gap`` is between queues: a job is not stopped for one that is judged only a little
shorter, and two jobs do not pass the devices back and forth as their ranks move.
``min_run_s`` protects a (re)start as before, victims are still taken least valuable first,
and the pass's budget still counts them. None keeps preemption to the queues
(``preempt_gap``), as before 2026-12-07.

``rank_preempt_from`` (default None: the bottom queue only) is the first queue whose pending
jobs may so preempt, in their own queue or a lower one. From queue 0 (the rule of 2026-12-07)
it scheduled Gavel a little better than now by mean JCT (69.93 against 69.97 h) at more
preemptions (1.98 per job against 1.91), but every pass then had to weigh every running job
past queue 0 as a victim, and the policy woke at every running job's threshold and protection
end, since a job of queue 0 could take any of them: the 100,000-job simulation took 1.4
times as long as with queues only. Kept to the bottom queue, the victims of a pass and the
moments it must wake for are those of queues only while a new job waits (queue 0's victims lie
two queues down, in the bottom queue anyway), and the rule still reaches the long jobs it was
meant for: on Gavel, 6,052 of its 7,448 preemptions from every queue had been of bottom-queue
jobs by bottom-queue jobs. The simulation gained only a tenth, though (1.3 times queues only):
a long job nearly always waits in the bottom queue, and the policy must then still wake for
every crossing into it and every protection's end there (docs/scheduling.md).

A rank moves as a job runs (it jumps up when a job outlives the run times its limit's history
expected), and the policy does not wake for such a move: the next arrival, end, threshold or
protection end re-judges it.

A job is demoted when its attained service crosses a threshold; :meth:`Las.wake_at` tells the
engine when that (or the end of a protection, or a promotion) happens, so it re-decides then.

Which victims
-------------
A job that fits one node must free its devices on one node, so where it preempts is a choice
among nodes. With ``victim_choice="least-valuable"`` (the default) the victims are walked in
preemption order, least valuable first, and the job takes the first node where they free
enough devices: the choice whose most valuable victim ranks lowest, as if the pool were one
large node (then fewest jobs, devices, pool). ``"fewest"`` (the rule until 2026-12-06) takes
the node where the fewest jobs (then devices) must stop, whatever they are worth.

Why: on the first 7,000 Gavel jobs (288 H100), LAS gave 75.3 h mean JCT with the devices as one
288-device node but 81.9 h as 36 nodes of 8, while the SRTF oracle lost nothing to nodes. The
cost was the multi-device jobs: as 36 nodes, 4- and 8-device jobs waited 93-96 h more than they
ran, on average, against 58-63 h as one node. Counting victims made them the usual targets: a
node held by one 8-device job is one preemption, a node of eight 1-device jobs eight, so an
arriving 8-device job stopped an 8-device job even when it had little of its request left.
Once stopped, a job that needs a whole node waits long for one (every job past 16
device-hours shares the bottom queue, where no job preempts another). The 8-device jobs were
preempted 997 times against 747 as one node. Choosing by worth gave 78.1 h on the prefix, and
83.4 h against 88.1 h on the full trace, for 1.81 preemptions per job against 1.55 (measured
2026-12-06; ``benchmarks/scheduling.py --policy-option las.victim_choice=fewest`` gives the old
rule). Holding a node back for the first multi-device job that cannot start, or preempting
jobs whose devices could restart at once elsewhere to assemble a whole node for it
(defragmenting), changed the prefix by under 1 %: free devices scattered over nodes were not
what the big jobs waited for.

Starvation (Tiresias' STARVELIMIT)
----------------------------------
A pending job that has run before is *promoted* back to queue 0 when it has waited at least
``starve_limit`` times as long as it has run: ``waited >= starve_limit * executed``, where
``executed = attained / devices`` and ``waited = now - submitted_at - executed`` (its whole time
in the system not running). Tiresias counts both since the last promotion; a pure policy has no
memory, so nuri uses the whole history, which makes each further promotion need proportionally
more waiting. Optionally (``max_wait_s``, off by default) a job that has waited that long in
total per attempt it has had (``max_wait_s * (1 + preemptions)``) is promoted too. As Tiresias
appends a promoted job to the end of queue 0, promoted jobs rank after the other queue-0 jobs
(``promoted_last``).

A promoted job that starts runs with its attained service *reset*, as Tiresias resets
``executed_time``: while it runs it is ranked by the service of the current attempt only
(``devices * (now - started_at)``), and it is protected until it has run
``promoted_run_factor * waited / starve_limit`` in all, so that starving jobs are not passed
back and forth. Whether an attempt started promoted is recomputed from ``RunningJob``
(submission, start, attained before the attempt), so the snapshot alone decides.

Tiers
-----
Tiers weigh in twice: the thresholds of a job are multiplied by its tier scale
(``tier_scale``, by default strategic x4, hub member x2, general x1), so higher tiers stay longer
in high queues; and within a queue higher tiers go first. A tier never preempts within a queue.

Thrashing
---------
Each preemption costs the victim ``PolicyContext.restart_cost_s`` (the simulator charges it).
Three guards keep preemptions rare: a job preempts only jobs ``preempt_gap`` (2) or more queues
below its own, or of the bottom queue judged to have ``rank_preempt_factor`` (2) times its
time left -- hysteresis,
so a job that has just crossed one threshold is not stopped for a job one queue up, nor one
for a job judged a little shorter; a (re)started job is protected for ``min_run_s`` (by default
``max(10 * restart_cost_s, 15 min)``); and a promoted job's protection grows with its wait.

Defaults and how they were chosen
---------------------------------
``thresholds_gpu_hours = (1, 16)`` (three queues), ``preempt_gap = 2``, ``starve_limit = 128``,
``promoted_run_factor = 2``, ``min_run_s`` 15 min. Tuned on end metrics only, on the
Philly-derived Gavel trace (15,264 jobs; one H100 pool of 36 x 8 devices, offered load 0.92,
restart cost 60 s) and checked on Alibaba openb; the policy never saw a duration. There it gave
mean JCT 88.1 h (SRTF oracle 64.0 h, Slurm multifactor 536 h), mean bounded slowdown 2.3
(multifactor 3,500), p99 JCT 0.96x multifactor's and 1.55 preemptions per job (measured
2026-12-05), and with the victims chosen by worth (*Which victims*) 83.4 h, mean bounded
slowdown 2.1, p99 0.97x multifactor's and 1.81 preemptions per job (2026-12-06). Ranked by
learnt run times (*Order within a queue*) it gave 75.8 h with ``starve_limit`` 32, and 72.2 h,
p99 0.93x multifactor's and 1.61 preemptions per job with 128 (2026-12-07); preempting by
judged time left (``rank_preempt_factor`` 2) then gave 69.9 h (1.09x the oracle), p99 0.97x
multifactor's, and 1.97 preemptions per job (factor 3: 70.3 h, 1.84; 4: 70.8 h, 1.80). Judged
only where a limit has a history (not by the limit alone) it gave 71.8 h: much of the gain is
on jobs whose limits are too rare to have one. Kept to the bottom queue (the default since
later that day) it gave 69.97 h, p99 0.96x multifactor's and 1.91 preemptions per job, and
simulated a tenth faster.

Why ``starve_limit`` went from 32 to 128: once jobs are ranked by learnt run times, a job that
waits long is mostly one the history says will run long, and promoting it early puts it before
jobs likely to finish soon. On Gavel at 288 H100, 32, 64, 128, 256 and 512 gave 75.8, 73.6,
72.2, 71.4 and 71.3 h, with the p99 falling too (1,943 to 1,727 h); on openb 11.20, 11.07,
10.98, 10.93 and 11.60 h. 128 takes most of the gain and keeps the guarantee tighter than 256:
a job that has run an hour and waits is promoted after at most 128 hours (with 32, 32 hours).

How they got there: eight queues a factor 4 apart (:data:`EIGHT_QUEUE_THRESHOLDS_GPU_HOURS`,
the default until 2026-12-05) gave 114.6 h with jobs of a queue in submission order, and 96.1 h
(1.50x the oracle, 1.85 preemptions per job) once each queue was ordered by requested
device-time left (``request_order_from = 0``; on openb 11.8 to 11.4 h). With that order, fewer
queues help: every job past 16 device-hours shares the bottom queue, where the job with least
requested device-time left starts first, whatever service it has attained, and jobs there never
preempt one another (``preempt_gap`` 2: only queue-0 jobs preempt them). Eight queues instead
ranked a job that had run 20 device-hours before one that had run 200 but had little left of
what it asked for. Three queues gave 88.1 h (1.38x) with fewer preemptions (1.55 per job)
and a lower p99 (1,866 h against 2,045 h), and 11.3 h on openb. Other spacings came close on
Gavel (2 and 32: 87.0 h; 4 and 64: 88.9 h, with mean bounded slowdown 4.0); ``preempt_gap = 1``
gained under 1 % for more than 2 preemptions per job; on the first 7,000 jobs, five to seven
queues lay between three and eight, and thirteen (a factor 2 apart) were worse than eight.
Letting a job also preempt one of its own or a lower queue whose requested device-time left is
4 times its own (SRTF on requests) gained 4 % on the first 3,000 jobs, for 2.2 preemptions per
job and simulations 35 times slower. Before the order within a queue, three queues let long jobs take turns at the bottom and gave
1.8x the mean JCT; ``starve_limit`` 8 with promoted jobs first in queue 0 made promoted long
jobs block new ones (median JCT x13); protecting a restart for a fraction of its past run
blocked short jobs.

Preemption budget
-----------------
A pass starts jobs by preempting only while fewer than ``max_preemptions`` (32) jobs have been
preempted in it; the job that reaches the budget still takes every victim it needs (gangs are
all-or-nothing), so a pass preempts at most 32 jobs plus one job's victims. The rest of the
queue may then start on free devices only, and the next pass goes on from there: the simulator
repeats a pass at once after preemptions (``MAX_REPASSES`` times per instant), the live engine on
its next cycle. Preempting thousands of jobs at once is a restart storm -- every victim pays its
restart cost together and checkpoint storage takes the burst -- so production schedulers pace
preemption per round: YARN's capacity scheduler reclaims at most
``yarn.resourcemanager.monitor.capacity.preemption.total_preemption_per_round`` (10 % of the
cluster by default) per round, "to restrict the pace at which containers are reclaimed"
(Apache Hadoop, *Capacity Scheduler*, preemption properties). nuri counts jobs, not devices,
because a preemption costs its victim a restart whatever its size, and because the count bounds
the work of one decision: on a 10,000-device snapshot whose 2,125 running jobs all sit far below
10,000 new queue-0 jobs, the unbounded pass preempted all 2,125 and took 1-2 s. The budget never
binds on the Alibaba openb and Gavel Philly traces (3,000-job prefixes and full traces): their
schedules are identical with and without it (re-checked on the full traces with the order
within a queue by requested device-time left, and again with three queues on openb and on
Gavel with 288 devices). ``None`` removes it.

Cost: one pass is ``O(P log P + R log R)`` for ``P`` pending and ``R`` running jobs (the order
vectorised in numpy from :data:`VECTOR_ORDER_JOBS` jobs; the running jobs gathered as victims
only once a job cannot start on free devices, only those in queues the best pending job
could preempt, and none at all when that queue is past the last one; ranked only once some job
passes an exact O(1) test that it could preempt one of them (:class:`Candidates`: most jobs
that look for victims find none they may take); each running job's promotion and protection
worked out once per attempt, :class:`_Attempt`), plus placement of the jobs that start and, per
job that preempts, a
victim search: by default a walk over the victims in preemption order that stops at the first
node they free (``"fewest"``: on a pool of at least :data:`VECTOR_SEARCH_NODES` nodes, nodes
in order of a lower bound on what preempting there costs, stopping at the first bound above the
best found, usually after a node or two). Once nothing is free and nobody can be preempted the pass stops,
and a job no larger than one that could not start is skipped in O(1); once the budget is spent,
jobs larger than any pool's free devices are skipped in one vectorised step.
"""

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Literal, NamedTuple, get_args

import numpy as np
import numpy.typing as npt

from nuri.domain.commons import Tier
from nuri.policy.gittins import NO_RANKS, RankIndex, RankTables
from nuri.policy.placement import FreeDevices, candidate_pools
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    NodeSlice,
    PendingJob,
    PoolState,
    Preempt,
    RunningJob,
    Start,
)

DEFAULT_THRESHOLDS_GPU_HOURS: tuple[float, ...] = (1.0, 16.0)
"""Queue thresholds in device-hours of attained service: three queues (see *Defaults and how
they were chosen* in the module docstring)."""

EIGHT_QUEUE_THRESHOLDS_GPU_HOURS: tuple[float, ...] = (0.25, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0)
"""The default thresholds until 2026-12-05: eight queues a factor 4 apart. Pass them as
``thresholds_gpu_hours`` to get LAS's earlier schedules back."""

DEFAULT_STARVE_LIMIT = 128.0
"""Promote a job that has waited this many times as long as it has run (32 until 2026-12-07,
when jobs began to be ranked by learnt run times; see *Defaults and how they were chosen*)."""

DEFAULT_PREEMPT_GAP = 2
"""A job may preempt only jobs at least this many queues below its own."""

VECTOR_ORDER_JOBS = 64
"""Queues at least this long are ordered with numpy; shorter ones job by job (same order)."""

VECTOR_SEARCH_NODES = 64
"""Pools with at least this many unreserved nodes are searched for victims through arrays."""

DEFAULT_REQUEST_ORDER_FROM: int | None = 0
"""From this queue on, jobs of one queue and tier are ordered by requested device-time left
(see *Order within a queue* in the module docstring); None orders them by submission only."""

VictimChoice = Literal["least-valuable", "fewest"]
VICTIM_CHOICES: tuple[str, ...] = get_args(VictimChoice)
DEFAULT_VICTIM_CHOICE: VictimChoice = "least-valuable"
"""How a preempting job picks among the nodes (and pools) it could free devices on (see
*Which victims* in the module docstring)."""


def _checked_victim_choice(choice: VictimChoice) -> VictimChoice:
    """``choice`` if it is one of :data:`VICTIM_CHOICES`, else a ValueError naming them."""
    if choice not in VICTIM_CHOICES:
        raise ValueError(
            f"victim_choice must be one of {', '.join(VICTIM_CHOICES)}, not {choice!r}"
        )
    return choice


DEFAULT_MAX_PREEMPTIONS = 32
"""Per decision, jobs start by preempting only while fewer than this many were preempted
(see *Preemption budget* in the module docstring)."""

DEFAULT_RANK_PREEMPT_FACTOR: float | None = 2.0
"""A bottom-queue job may preempt one of its queue judged to have at least this many times its
device-time left (see *Preempting by judged time left*); None until 2026-12-07."""

ATTEMPTS_KEPT = 65_536
"""Running jobs whose per-attempt facts :class:`Las` keeps between decisions (then it starts over)."""

DEFAULT_PROMOTED_RUN_FACTOR = 2.0
"""A promoted job is protected until its run time reaches this many times wait / starve_limit."""

DEFAULT_TIER_SCALE: Mapping[Tier, float] = {
    Tier.STRATEGIC: 4.0,
    Tier.HUB_MEMBER: 2.0,
    Tier.GENERAL: 1.0,
}
"""How much longer each tier stays in each queue (thresholds are multiplied by it)."""

_EPS = 1e-9
"""Slack for comparing float times and device-seconds (relative to magnitude, see _slack)."""


_TIER_RANK: dict[Tier, int] = {tier: tier.rank for tier in Tier}
_attained = attrgetter("attained_device_seconds")
_devices = attrgetter("devices")
_submitted_at = attrgetter("submitted_at")
_tier = attrgetter("tier")
_job_id = attrgetter("job_id")
_time_limit = attrgetter("time_limit_s")


def _slack(bound: float) -> float:
    """``bound`` less float rounding slack: ``x >= _slack(b)`` is "x reached b" for times and
    device-seconds, so that a wake-up computed for a crossing does see it."""
    return bound - _EPS * max(1.0, abs(bound))


def _slack_array(bounds: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """:func:`_slack` of every element, with the same floating-point operations."""
    result: npt.NDArray[np.float64] = bounds - _EPS * np.maximum(1.0, np.abs(bounds))
    return result


class _Attempt(NamedTuple):
    """What a pass needs of a running job that does not change while the attempt runs.

    Worked out once per :class:`RunningJob` object and kept (:meth:`Las._attempt`): the simulator
    hands the same objects to every pass while they run, and a pass reads every running job
    (victims, wake-ups), where working out promotion and protection again cost more than the
    rest of the pass. Every field is computed with the same floating-point operations as the
    scalar methods it stands for, so decisions do not change.
    """

    job: RunningJob
    devices: int
    started_at: float
    attained: float
    """Device-seconds attained before the attempt (``job.attained_device_seconds``)."""
    start_service: float
    """Service at the attempt's start by which it is ranked (:meth:`Las.running_service`)."""
    bounds: tuple[float, ...]
    """The queue bounds of the job's tier (its queue: ``bisect_right(bounds, service)``)."""
    protection_end: float
    """:meth:`Las.protected_until` (``inf``: never preempted)."""
    guard: float
    """``_slack(protection_end)``: the job may be preempted from this moment."""
    thresholds: tuple[float, ...]
    """The queue thresholds of the job's tier, in device-seconds (scaled by its tier)."""


_WakeUp = tuple[RunningJob, int, float, float, float]
"""One running job's part in :meth:`Las.wake_at`: ``(job, victim floor, asked at, valid
until, wake-up)``. Given the floor, the part depends on the time only through the job's queue
and whether its crossing and protection end are still ahead. Between ``asked at`` and ``valid
until`` neither changes: the queue cannot rise before its next bound is reached (less
:data:`_QUEUE_MARGIN`, far wider than the rounding of service), and a wake-up still ahead stays
ahead until it comes."""

_QUEUE_MARGIN = 1e-6
"""Relative margin before a running job's next queue bound within which :meth:`Las.wake_at`
works its part out again rather than trust a kept one."""


class Las:
    """Discretised 2D-LAS with preemption, starvation promotion and anti-thrashing guards.

    Build it from a :class:`PolicyContext` (only ``restart_cost_s`` is read) and optional
    keyword overrides; see the module docstring for what each one means. The object is
    immutable after construction; ``decide`` and ``wake_at`` are pure.
    """

    name = "las"
    preemptive = True

    def __init__(
        self,
        context: PolicyContext | None = None,
        *,
        thresholds_gpu_hours: Sequence[float] = DEFAULT_THRESHOLDS_GPU_HOURS,
        starve_limit: float | None = DEFAULT_STARVE_LIMIT,
        max_wait_s: float | None = None,
        min_run_s: float | None = None,
        promoted_run_factor: float = DEFAULT_PROMOTED_RUN_FACTOR,
        preempt_gap: int = DEFAULT_PREEMPT_GAP,
        promoted_last: bool = True,
        max_preemptions: int | None = DEFAULT_MAX_PREEMPTIONS,
        tier_scale: Mapping[Tier, float] = DEFAULT_TIER_SCALE,
        request_order_from: int | None = DEFAULT_REQUEST_ORDER_FROM,
        victim_choice: VictimChoice = DEFAULT_VICTIM_CHOICE,
        learn_run_times: bool = True,
        rank_preempt_factor: float | None = DEFAULT_RANK_PREEMPT_FACTOR,
        rank_preempt_from: int | None = None,
    ) -> None:
        restart_cost_s = (context or PolicyContext()).restart_cost_s
        thresholds = tuple(float(t) * 3600.0 for t in thresholds_gpu_hours)
        if any(t <= 0 for t in thresholds) or list(thresholds) != sorted(set(thresholds)):
            raise ValueError("LAS thresholds must be positive and strictly increasing")
        if starve_limit is not None and starve_limit <= 0:
            raise ValueError("starve_limit must be positive (or None to disable promotion)")
        if promoted_run_factor < 1.0:
            raise ValueError("promoted_run_factor must be at least 1")
        self.thresholds_s: tuple[float, ...] = thresholds
        """Queue thresholds in device-seconds, for a tier scale of 1."""
        self.starve_limit = starve_limit
        self.max_wait_s = max_wait_s
        self.min_run_s = (
            max(10.0 * restart_cost_s, 900.0) if min_run_s is None else float(min_run_s)
        )
        self.promoted_run_factor = promoted_run_factor
        if preempt_gap < 1:
            raise ValueError("preempt_gap must be at least 1")
        self.preempt_gap = preempt_gap
        self.promoted_last = promoted_last
        if max_preemptions is not None and max_preemptions < 1:
            raise ValueError("max_preemptions must be at least 1 (or None for no budget)")
        self.max_preemptions = max_preemptions
        self.tier_scale: dict[Tier, float] = {tier: tier_scale.get(tier, 1.0) for tier in Tier}
        if request_order_from is not None and request_order_from < 0:
            raise ValueError("request_order_from must be a queue index >= 0 (or None)")
        self.request_order_from = request_order_from
        """From this queue on, jobs of one queue and tier go by requested device-time left
        (:meth:`requested_left`); None: by submission only."""
        self.victim_choice: VictimChoice = _checked_victim_choice(victim_choice)
        self.learn_run_times = learn_run_times
        """Whether requested device-time left gives way to the Gittins rank that finished jobs'
        run times give a job's time limit (see *Order within a queue*)."""
        if rank_preempt_factor is not None and rank_preempt_factor < 1.0:
            raise ValueError("rank_preempt_factor must be at least 1 (or None: queues only)")
        self.rank_preempt_factor = rank_preempt_factor
        """A job of ``rank_preempt_from`` or a later queue may also preempt one of its own queue
        or a lower one judged to have this many times its device-time left (see *Preempting by
        judged time left*); None: queues only."""
        if rank_preempt_from is not None and rank_preempt_from < 0:
            raise ValueError("rank_preempt_from must be a queue index >= 0 (or None: the last)")
        self.rank_preempt_from = rank_preempt_from
        """From this queue on, pending jobs may preempt by judged time left (None: the last
        queue only; see *Preempting by judged time left*)."""
        self._judged: tuple[int, float] | None = None
        """``(first queue whose pending jobs may preempt by judged time left, factor)``, or
        None where no queue may."""
        # Only where queues are ordered by time left is there a judged time left to compare.
        if rank_preempt_factor is not None and request_order_from is not None:
            last_queue = len(thresholds)
            first = last_queue if rank_preempt_from is None else rank_preempt_from
            judged_from = max(request_order_from, first)
            if judged_from <= last_queue:
                self._judged = (judged_from, rank_preempt_factor)
        self._rank_tables = RankTables()
        self._attempts: dict[int, _Attempt] = {}
        """A memo, not state: each running job's :class:`_Attempt`, by ``id`` of the object."""
        self._wakes: dict[int, _WakeUp] = {}
        """A memo, not state: each running job's part in :meth:`wake_at`, by ``id``."""
        self._scaled: dict[Tier, tuple[float, ...]] = {
            tier: tuple(t * self.tier_scale[tier] for t in thresholds) for tier in Tier
        }
        """Per tier, the thresholds scaled by the tier (device-seconds)."""
        # Per tier, the scaled thresholds less float slack: queue = how many of them are <= x.
        self._bounds: dict[Tier, tuple[float, ...]] = {
            tier: tuple(_slack(t * self.tier_scale[tier]) for t in thresholds) for tier in Tier
        }

    # -- priorities ------------------------------------------------------------------------------

    def queue_of(self, attained: float, tier: Tier) -> int:
        """The queue (0 = highest) of a job with ``attained`` device-seconds in ``tier``."""
        return bisect_right(self._bounds[tier], attained)

    def victim_floor(self, queue: int) -> int:
        """The highest queue (smallest number) in which a victim of any pending job of ``queue``
        or a later one may be: ``preempt_gap`` queues below, or from the first queue that
        preempts by judged time left on, that queue itself. Never decreases with ``queue``, so
        the pass's best pending job bounds the victims of the whole pass."""
        floor = queue + self.preempt_gap
        if self._judged is not None:
            floor = min(floor, max(queue, self._judged[0]))
        return floor

    def _starving(self, attained: float, devices: int, waited: float, preemptions: int) -> bool:
        """True if a job that ran ``attained`` device-seconds and waited ``waited`` s is promoted."""
        if attained <= 0.0:
            return False  # a job that never ran is in queue 0 already
        if self.starve_limit is not None and waited >= _slack(
            self.starve_limit * attained / devices
        ):
            return True
        return self.max_wait_s is not None and waited >= _slack(self.max_wait_s * (1 + preemptions))

    def pending_queue(self, job: PendingJob, now: float) -> int:
        """Queue of a pending job at ``now``: 0 if starving, else by its attained service."""
        attained = job.attained_device_seconds
        if attained <= 0.0:
            return 0
        waited = now - job.submitted_at - attained / job.devices
        if self._starving(attained, job.devices, waited, job.preemptions):
            return 0
        return bisect_right(self._bounds[job.tier], attained)

    def _late(self, job: PendingJob, queue: int) -> bool:
        """Whether a pending job ranks after the others of its queue: a promoted job does,
        with ``promoted_last`` (Tiresias appends a promoted job to the end of queue 0)."""
        return (
            self.promoted_last
            and queue == 0
            and job.attained_device_seconds > 0.0
            and self.queue_of(job.attained_device_seconds, job.tier) > 0
        )

    def requested_left(self, job: PendingJob, queue: int, ranks: RankIndex = NO_RANKS) -> float:
        """A pending job's within-queue sort key in queue ``request_order_from`` or a later one:
        the device-seconds it is judged to have left, by the Gittins rank of its time limit in
        ``ranks`` (:meth:`ranks_of`) or else ``devices * time_limit_s - attained`` (its
        requested device-seconds not yet used); 0 in earlier queues (then submission alone
        orders the queue)."""
        if self.request_order_from is None or queue < self.request_order_from:
            return 0.0
        return ranks.left(job.time_limit_s, job.devices, job.attained_device_seconds)

    def ranks_of(self, snapshot: ClusterSnapshot) -> RankIndex:
        """The Gittins ranks of the snapshot's run-time history (none without
        ``learn_run_times`` or when no queue is ordered by time left)."""
        if not self.learn_run_times or self.request_order_from is None:
            return NO_RANKS
        return self._rank_tables.of(snapshot.history)

    def _promoted_at_start(self, job: RunningJob, devices: int) -> bool:
        """Whether the current attempt started as a promotion (then its service was reset)."""
        attained = job.attained_device_seconds
        if attained <= 0.0:
            return False
        waited = job.started_at - job.submitted_at - attained / devices
        return self._starving(attained, devices, waited, job.preemptions)

    def running_service(self, job: RunningJob, now: float) -> tuple[float, float]:
        """``(service at the attempt's start, service now)`` by which a running job is ranked."""
        devices = job.devices
        if self._promoted_at_start(job, devices):
            return 0.0, devices * max(0.0, now - job.started_at)
        return job.attained_device_seconds, job.attained_device_seconds + devices * max(
            0.0, now - job.started_at
        )

    def running_queue(self, job: RunningJob, now: float) -> int:
        """Queue of a running job at ``now`` (attempt-only service if it started promoted)."""
        return self.queue_of(self.running_service(job, now)[1], job.tier)

    def protected_until(self, job: RunningJob) -> float:
        """When a running job may first be preempted by this policy (``inf``: never).

        Every attempt is protected for ``min_run_s``. An attempt that started as a starvation
        promotion, after waiting ``W`` with ``E`` seconds run before, is protected until the
        job has run ``promoted_run_factor * W / starve_limit`` seconds in all (at least
        ``min_run_s``), so a promotion buys a stretch of running that grows with the wait and
        a starving job is not passed back and forth among other starving ones.
        """
        if not job.preemptible:
            return float("inf")
        devices = job.devices
        return self._protection_end(job, devices, self._promoted_at_start(job, devices))

    def _protection_end(self, job: RunningJob, devices: int, promoted: bool) -> float:
        """:meth:`protected_until` of a preemptible job of ``devices`` devices, given whether
        its attempt started promoted (callers that need that too work it out once)."""
        until = job.started_at + self.min_run_s
        if self.starve_limit is not None and promoted:
            executed = job.attained_device_seconds / devices
            waited = job.started_at - job.submitted_at - executed
            earned = self.promoted_run_factor * waited / self.starve_limit - executed
            until = max(until, job.started_at + earned)
        return until

    def _attempt(self, job: RunningJob, keep: bool = True) -> _Attempt:
        """The :class:`_Attempt` of a running job: from the memo when this object is in it,
        else worked out (and, with ``keep``, kept)."""
        known = self._attempts.get(id(job))
        if known is not None and known.job is job:
            return known
        devices = job.devices
        attained = job.attained_device_seconds
        promoted = attained > 0.0 and self._promoted_at_start(job, devices)
        start_service = 0.0 if promoted else attained
        preemptible = job.preemptible
        end = self._protection_end(job, devices, promoted) if preemptible else float("inf")
        tier = job.tier
        # tuple.__new__, not _Attempt(...): a named tuple's own constructor is Python code, and
        # a live decision makes one of these per running job past queue 0 (thousands)
        attempt = tuple.__new__(
            _Attempt,
            (
                job,
                devices,
                job.started_at,
                attained,
                start_service,
                self._bounds[tier],
                end,
                _slack(end) if preemptible else end,  # _slack(inf) is nan
                self._scaled[tier],
            ),
        )
        if keep:
            if len(self._attempts) >= ATTEMPTS_KEPT:
                self._attempts.clear()
            self._attempts[id(job)] = attempt
        return attempt

    # -- the policy ------------------------------------------------------------------------------

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        """Starts (and preemptions) for this pass; see the module docstring for the rules."""
        if not snapshot.pending:
            return []
        now = snapshot.now
        jobs = snapshot.pending
        ranks = self.ranks_of(snapshot)
        queues, order = self.pass_order(jobs, now, ranks)
        judged, floor_of = self._judged, self.victim_floor
        lefts: dict[int, float] = {}  # judged device-time left of each victim, by job id
        pass_floor = floor_of(queues[order[0]])
        if pass_floor > len(self.thresholds_s) and not any(
            pool.free_devices for pool in snapshot.pools
        ):
            return []  # nothing is free and no job may preempt: the loop below would stop at once
        view = PassView(snapshot, self.victim_choice)
        # Worked out when first needed (many passes never preempt), and registered with the
        # view only once some job could preempt one of them (most passes that look never do).
        candidates: Candidates | None = None
        registered = False
        decisions: list[Decision] = []
        failed: dict[tuple[tuple[int, ...], tuple[bool, ...], bool, int, int, bool], int] = {}
        choices: dict[tuple[int | None, str | None, frozenset[int]], _PoolChoice] = {}
        budget = self.max_preemptions
        preemptions = 0
        for position, index in enumerate(order):
            if budget is not None and preemptions >= budget:
                rest = order[position:]
                decisions.extend(_start_rest_on_free(view, snapshot, jobs, rest, choices))
                break  # the preemption budget is spent: the rest may only use free devices
            job, queue = jobs[index], queues[index]
            if view.free.total_free() == 0:
                if candidates is None:
                    candidates = self._candidates(snapshot, now, pass_floor, ranks)
                floor = floor_of(queue)
                if registered:
                    anyone = any(victim.worth >= floor for victim in view.first_victims())
                else:  # nobody is preempted yet: the lowest queue of all is some pool's first
                    anyone = candidates.lowest_queue >= floor
                if not anyone:
                    break  # nothing is free and nobody below this queue may be preempted
            where = (job.pool_id, job.accelerator, job.allowed_pool_ids)
            choice = choices.get(where)
            if choice is None:
                choice = choices[where] = _pool_choice(snapshot.pools, job)
            pools, pool_ids, node_sizes = choice
            devices = job.devices
            # Whether a job of this size and these options can start is monotone in its size,
            # given whether it must fit one node in each pool; free devices only shrink.
            key = (
                pool_ids,
                (devices > node_sizes[0],)
                if len(node_sizes) == 1
                else tuple(devices > size for size in node_sizes),
                job.preemptible,
                queue,
                _TIER_RANK[job.tier],
                self._late(job, queue),
            )
            if devices >= failed.get(key, devices + 1):
                continue  # a job no larger, with the same options, could not start
            start = view.start_on_free(pools, job)
            if start is None:
                if candidates is None:
                    candidates = self._candidates(snapshot, now, pass_floor, ranks)
                below = queue + self.preempt_gap - 1
                if judged is None or queue < judged[0]:
                    if not candidates.could_preempt(below):
                        failed[key] = devices
                        continue
                    may_preempt = _below(below)
                else:
                    factor = judged[1]
                    left = self.requested_left(job, queue, ranks)
                    if not candidates.could_preempt(below, queue=queue, left=left, factor=factor):
                        failed[key] = devices
                        continue
                    may_preempt = _below_or_judged_longer(below, queue, left, factor, lefts)
                if not registered:
                    view.add_victims(candidates.ranked(lefts))
                    registered = True
                chosen = view.start_by_preempting(pools, job, may_preempt)
                if chosen is None:
                    failed[key] = job.devices
                    continue
                start, stopped = chosen
                decisions.extend(Preempt(stopped_job.job_id) for stopped_job in stopped)
                preemptions += len(stopped)
            decisions.append(start)
        return decisions

    def pass_order(
        self,
        jobs: Sequence[PendingJob],
        now: float,
        ranks: RankIndex = NO_RANKS,
    ) -> tuple[list[int], list[int]]:
        """``(queue of each job, positions of the jobs in the order a pass considers them)``.

        The order is by queue, promoted jobs after the others of queue 0 (``promoted_last``),
        tier, device-time left (:meth:`requested_left`, with ``ranks``), submission time, id;
        queues are :meth:`pending_queue`'s. Vectorised with the same floating-point operations as
        :meth:`pending_queue`, :meth:`_late` and :meth:`requested_left` (so the same results,
        about 10 times faster on 10,000 jobs).
        """
        count = len(jobs)
        if count < VECTOR_ORDER_JOBS:  # numpy's per-call cost outweighs a short loop
            return self._pass_order_job_by_job(jobs, now, ranks)
        # Columns read through attrgetter and a rank lookup: on 10,000 jobs, generator
        # expressions and the Tier.rank property cost as much as all the arithmetic below.
        attained = np.fromiter(map(_attained, jobs), np.float64, count)
        devices = np.fromiter(map(_devices, jobs), np.float64, count)
        submitted = np.fromiter(map(_submitted_at, jobs), np.float64, count)
        tiers = np.fromiter(map(_TIER_RANK.__getitem__, map(_tier, jobs)), np.int64, count)
        ids = np.fromiter(map(_job_id, jobs), np.int64, count)
        by_service = np.zeros(count, np.int64)  # the queue of the attained service alone
        for tier in Tier:
            mine = tiers == tier.rank
            if mine.any():
                by_service[mine] = np.searchsorted(
                    np.asarray(self._bounds[tier], np.float64), attained[mine], side="right"
                )
        has_run = attained > 0.0
        executed = np.where(has_run, attained, 0.0) / devices
        waited = now - submitted - executed
        starving = np.zeros(count, np.bool_)
        if self.starve_limit is not None:
            starving |= waited >= _slack_array(self.starve_limit * attained / devices)
        if self.max_wait_s is not None:
            preemptions = np.fromiter((job.preemptions for job in jobs), np.float64, count)
            starving |= waited >= _slack_array(self.max_wait_s * (1 + preemptions))
        starving &= has_run
        queues = np.where(starving | ~has_run, 0, by_service)
        late = (
            (queues == 0) & has_run & (by_service > 0)
            if self.promoted_last
            else np.zeros(count, np.bool_)
        )
        if self.request_order_from is None:
            order = np.lexsort((ids, submitted, tiers, late, queues))
        else:
            limits = np.fromiter(map(_time_limit, jobs), np.float64, count)
            judged = ranks.left_array(limits, devices, attained)
            left = np.where(queues >= self.request_order_from, judged, 0.0)
            order = np.lexsort((ids, submitted, left, tiers, late, queues))
        return queues.tolist(), order.tolist()

    def _pass_order_job_by_job(
        self, jobs: Sequence[PendingJob], now: float, ranks: RankIndex
    ) -> tuple[list[int], list[int]]:
        """:meth:`pass_order` for a short queue, straight from the scalar rules."""
        queues = [self.pending_queue(job, now) for job in jobs]
        keys = [
            (
                queue,
                self._late(job, queue),
                _TIER_RANK[job.tier],
                self.requested_left(job, queue, ranks),
                job.submitted_at,
                job.job_id,
                index,
            )
            for index, (job, queue) in enumerate(zip(jobs, queues, strict=True))
        ]
        keys.sort()  # the index last: equal keys (none, ids are unique) keep the queue order
        return queues, [key[-1] for key in keys]

    def _candidates(
        self, snapshot: ClusterSnapshot, now: float, lowest: int, ranks: RankIndex
    ) -> "Candidates":
        """The running jobs that may be preempted now (not protected, in queue ``lowest`` or a
        lower one; never queue 0), each with its queue and device-time left as
        :meth:`requested_left` judges it (with ``ranks``, from all service attained by ``now``;
        0 before queue ``request_order_from``), unranked (:meth:`Candidates.ranked` ranks them).

        A pass asks only for the queues from :meth:`victim_floor` of its best pending job on:
        no job of the pass could preempt the others, so leaving them out changes no choice, and
        the victim index is built over fewer jobs.
        """
        lowest = max(1, lowest)  # nothing outranks queue 0
        last_queue = len(self.thresholds_s)
        if lowest > last_queue:
            return Candidates([], last_queue)  # below the last queue: no job can be there
        entries: list[tuple[RunningJob, int, float]] = []
        request_from = self.request_order_from
        memo, attempt_of = self._attempts, self._attempt
        floor = lowest - 1
        floors = {tier: tier_bounds[floor] for tier, tier_bounds in self._bounds.items()}
        for job in snapshot.running:
            attempt = memo.get(id(job))
            if attempt is None or attempt[0] is not job:
                # Not seen before (in a live decision, no job is): tested against the floor
                # (below) from the job alone first, so that only the jobs past it, not every
                # running job, have their facts worked out (same arithmetic as below); and
                # not kept: wake_at keeps them, which the simulator asks after every pass and
                # the live engine, whose jobs are new objects every cycle, never does.
                devices = job.devices
                elapsed = now - job.started_at
                this_attempt = devices * (elapsed if elapsed > 0.0 else 0.0)
                if job.attained_device_seconds + this_attempt < floors[job.tier]:
                    continue
                attempt = attempt_of(job, False)
            # Unpacked, not read by name: a pass reads every running job (about 90 here).
            _, devices, started_at, attained, start_service, bounds, _, guard, _ = attempt
            if now < guard:
                continue  # protected (or never preemptible)
            elapsed = now - started_at
            this_attempt = devices * (elapsed if elapsed > 0.0 else 0.0)  # max(0.0, elapsed)
            # Queue `lowest` or a lower one means a service of at least its bound (bisect_right
            # counts the bounds <= service). Service is at most all attained by now (an attempt
            # that started promoted counts only itself), so a job whose total is below the
            # bound is left out before it is ranked: most running jobs.
            total = attained + this_attempt
            if total < bounds[floor]:
                continue
            queue = bisect_right(bounds, start_service + this_attempt)
            if queue < lowest:
                continue
            left = (
                0.0
                if request_from is None or queue < request_from
                else ranks.left(job.time_limit_s, devices, total)
            )
            entries.append((job, queue, left))
        return Candidates(entries, last_queue)

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:
        """The earliest future moment at which this policy could decide differently.

        Considered: a running job crossing its next queue threshold into a queue some pending
        job could take victims from (``preempt_gap`` queues below its own, or its own from
        the first queue that preempts by judged time left on); a running job's protection
        ending (see :meth:`protected_until`) in such a queue; a pending job reaching its
        starvation promotion. Not a running job's judged time left growing (see *Preempting by
        judged time left*). None if there is no pending job or no such moment.
        """
        if not snapshot.pending:
            return None
        now = snapshot.now
        times: list[float] = []
        last_queue = len(self.thresholds_s)
        best_pending = last_queue
        judged_from = last_queue + 1 if self._judged is None else self._judged[0]
        best_judged = last_queue + 1  # the best queue of a pending job that preempts by judging
        for job in snapshot.pending:
            queue = self.pending_queue(job, now)
            if queue < best_pending:
                best_pending = queue
            if queue > 0:
                at = self._promotion_time(job)
                if at is not None:
                    times.append(at)
            if judged_from <= queue < best_judged:
                best_judged = queue
        # The highest queue any pending job could take a victim from: a pending job's queue
        # changes only by its promotion, which is a wake-up of its own.
        floor = min(best_pending + self.preempt_gap, best_judged)
        if floor > last_queue:
            # No running job can be in a queue a pending job could preempt, now or after its
            # next threshold (the two conditions below need queue + 1 <= last_queue or queue
            # >= floor, with queue <= last_queue): only promotions count.
            running_jobs: Sequence[RunningJob] = ()
        else:
            running_jobs = snapshot.running
        memo, attempt_of, wakes = self._attempts, self._attempt, self._wakes
        crossing_from = floor - 1  # a crossing counts out of this queue on
        protected_from = max(1, floor)  # queue 0 is never preempted
        soonest = float("inf")
        for running in running_jobs:
            known = wakes.get(id(running))
            if (
                known is not None
                and known[0] is running
                and known[1] == floor
                and known[2] <= now < known[3]
            ):
                if known[4] < soonest:
                    soonest = known[4]
                continue
            attempt = memo.get(id(running))
            if attempt is None or attempt[0] is not running:
                attempt = attempt_of(running)
            _, devices, started_at, _, start_service, bounds, end, _, thresholds = attempt
            elapsed = now - started_at
            queue = bisect_right(
                bounds, start_service + devices * (elapsed if elapsed > 0.0 else 0.0)
            )
            mine = float("inf")  # this job's wake-up: its crossing or its protection's end
            if crossing_from <= queue < last_queue:
                at = started_at + (thresholds[queue] - start_service) / devices
                if now < at:
                    mine = at
            if queue >= protected_from and now < end < mine:
                mine = end
            if mine < soonest:
                soonest = mine
            # Kept until the job could leave its queue or its wake-up comes (until then the
            # same queue gives the same answer; see _WakeUp). The simulator asks after every
            # pass, mostly about the same running jobs.
            until = mine
            if queue < last_queue:
                leaves = started_at + (bounds[queue] - start_service) / devices
                leaves -= _QUEUE_MARGIN * max(1.0, abs(leaves), abs(bounds[queue]) / devices)
                until = min(until, leaves)
            if now < until:
                if len(wakes) >= ATTEMPTS_KEPT:
                    wakes.clear()
                wakes[id(running)] = (running, floor, now, until, mine)
        for at in times:
            if now < at < soonest:
                soonest = at
        return None if soonest == float("inf") else soonest

    def _promotion_time(self, job: PendingJob) -> float | None:
        """When a pending job that has run will reach its starvation promotion (None: never)."""
        if job.attained_device_seconds <= 0.0:
            return None
        executed = job.attained_device_seconds / job.devices
        base = job.submitted_at + executed
        options: list[float] = []
        if self.starve_limit is not None:
            options.append(base + self.starve_limit * executed)
        if self.max_wait_s is not None:
            options.append(base + self.max_wait_s * (1 + job.preemptions))
        return min(options) if options else None


class Candidates:
    """The running jobs one pass may preempt, with what decides whether a job could preempt any.

    ``entries`` are ``(job, queue, judged device-time left)`` in no order. Most passes in which a job cannot start on free devices find nobody it may
    preempt (on a synthetic 30,000-job trace, four in five), so the entries are ranked and
    registered with a :class:`PassView` only for a job that passes :meth:`could_preempt`, an
    exact test in O(1): the lowest queue among them, and per queue the most time left judged
    in it or a lower one. Both are of all the entries, so once some are preempted the test is
    still necessary, no longer sufficient.
    """

    __slots__ = ("entries", "lowest_queue", "most_left_from")

    def __init__(
        self,
        entries: list[tuple[RunningJob, int, float]],
        last_queue: int,
    ) -> None:
        self.entries = entries
        most = [-math.inf] * (last_queue + 1)
        lowest_queue = -1
        for _, queue, left in entries:
            if left > most[queue]:
                most[queue] = left
            if queue > lowest_queue:
                lowest_queue = queue
        for queue in range(last_queue - 1, -1, -1):
            most[queue] = max(most[queue], most[queue + 1])
        self.lowest_queue = lowest_queue
        """The lowest queue (largest number) of any entry; -1 without entries."""
        self.most_left_from = most
        """Per queue, the most device-time left judged of any entry in it or a lower one."""

    def could_preempt(
        self, below: int, *, queue: int = 0, left: float | None = None, factor: float = 1.0
    ) -> bool:
        """Whether any entry is in a lower queue than ``below``, or, with ``left`` given, in
        ``queue`` or a lower one and judged to have more than ``left`` and at least ``factor *
        left`` (what :func:`_below` and :func:`_below_or_judged_longer` accept)."""
        if self.lowest_queue > below:
            return True
        if left is None or queue > self.lowest_queue:
            return False
        most = self.most_left_from[queue]
        return most >= factor * left and most > left

    def ranked(self, lefts: dict[int, float] | None = None) -> list[tuple[RunningJob, float]]:
        """``(job, queue)`` least valuable first: lowest queue (highest number), lowest tier,
        most judged device-time left, latest submission, highest id; each job's judged time
        left goes into ``lefts`` (by job id) when given."""
        if lefts is not None:
            lefts.update((job.job_id, left) for job, _, left in self.entries)
        ranked = sorted(
            self.entries,
            key=lambda entry: (
                -entry[1],
                -entry[0].tier.rank,
                -entry[2],
                -entry[0].submitted_at,
                -entry[0].job_id,
            ),
        )
        return [(job, float(queue)) for job, queue, _ in ranked]


def _start_rest_on_free(
    view: "PassView",
    snapshot: ClusterSnapshot,
    jobs: Sequence[PendingJob],
    rest: Sequence[int],
    choices: dict[tuple[int | None, str | None, frozenset[int]], "_PoolChoice"],
) -> list[Start]:
    """Start the jobs at positions ``rest`` of ``jobs``, in that order, on free devices only.

    What a pass does once its preemption budget is spent. Free devices only shrink from here
    on, so a job larger than the most free devices of any pool is passed over at once (a
    vectorised test first, then against the count as it stands after each start), and, as in
    :meth:`Las.decide`, a job no smaller than one with the same options that could not start.
    """
    pools_all = snapshot.pools

    def most_free() -> int:
        return max((view.free.free(pool.pool_id, borrowing=True) for pool in pools_all), default=0)

    largest = most_free()
    sizes = np.fromiter((jobs[index].devices for index in rest), np.int64, len(rest))
    starts: list[Start] = []
    failed: dict[tuple[tuple[int, ...], tuple[bool, ...], bool], int] = {}
    for offset in np.flatnonzero(sizes <= largest).tolist():
        if largest == 0:
            break
        job = jobs[rest[offset]]
        if job.devices > largest:
            continue
        where = (job.pool_id, job.accelerator, job.allowed_pool_ids)
        choice = choices.get(where)
        if choice is None:
            choice = choices[where] = _pool_choice(pools_all, job)
        pools, pool_ids, node_sizes = choice
        key = (
            pool_ids,
            tuple(job.devices > size for size in node_sizes),
            job.preemptible,
        )
        if job.devices >= failed.get(key, job.devices + 1):
            continue
        start = view.start_on_free(pools, job)
        if start is None:
            failed[key] = job.devices
            continue
        starts.append(start)
        largest = most_free()
    return starts


class _PoolChoice(NamedTuple):
    """The pools a job may use (one pass works this out once per pool, accelerator and allowed
    pools asked for), with their ids and node sizes: what the keys of the sizes that could not
    start are made of."""

    pools: list[PoolState]
    pool_ids: tuple[int, ...]
    node_sizes: tuple[int, ...]


def _pool_choice(pools: Sequence[PoolState], job: PendingJob) -> _PoolChoice:
    candidates = candidate_pools(pools, job)
    return _PoolChoice(
        candidates,
        tuple(pool.pool_id for pool in candidates),
        tuple(pool.node_size for pool in candidates),
    )


def _below_or_judged_longer(
    below: int, queue: int, left: float, factor: float, lefts: Mapping[int, float]
) -> Callable[["Victim"], bool]:
    """Whether a victim is in a lower queue than ``below``, or in ``queue`` or a lower one and
    judged to have more than ``left`` and at least ``factor * left`` device-seconds left
    (``lefts``, by job id)."""
    bar = factor * left

    def eligible(victim: "Victim") -> bool:
        if victim.worth > below:
            return True
        if victim.worth < queue:
            return False
        victim_left = lefts[victim.job.job_id]
        return victim_left >= bar and victim_left > left

    return eligible


def _below(queue: int) -> Callable[["Victim"], bool]:
    """Whether a victim is in a strictly lower queue (larger number) than ``queue``."""
    return lambda victim: victim.worth > queue


class Victim(NamedTuple):
    """A running job a preempting policy may stop, in that policy's terms.

    ``worth`` is the policy's measure of the job (LAS: its queue; the oracle: its remaining
    GPU-time); ``usable`` are its slices on unreserved nodes, the only devices handed to
    another job in the same pass (a reservation may need the others back).

    Immutable like the domain's frozen dataclasses, but a named tuple: a live decision
    registers one per running job (thousands), and a frozen dataclass took four times as
    long to build, a third of registering them.
    """

    job: RunningJob
    worth: float
    usable: tuple[NodeSlice, ...]
    usable_devices: int
    """Devices in ``usable`` (not ``count``: a named tuple has a ``count`` method)."""
    devices: int
    """All devices the job holds (what preempting it costs): ``job.devices``."""
    rank: int
    """Position in the pass's preemption order (0: least valuable of all pools)."""


class PassView:
    """The free devices during one pass of a preempting policy, and who may be preempted.

    Wraps :class:`~nuri.policy.placement.FreeDevices` (through its public methods only) and
    keeps, in step with every start and preemption of the pass, the free devices of each
    unreserved node: a job that fits one node never spans nodes, so preempting for it must free
    enough devices *on one node*. Built per pass; never shared between passes.

    Per node it also keeps two bounds over the victims registered there: the fewest devices
    any of them holds and how many devices of the node they hold together. Victims only leave
    during a pass, so these stay a lower and an upper bound, and they let
    :meth:`start_by_preempting` pass over a node that cannot beat the best choice so far, or
    cannot free enough, without working out which of its victims it would take.
    """

    def __init__(self, snapshot: ClusterSnapshot, victim_choice: VictimChoice = "fewest") -> None:
        self.victim_choice = _checked_victim_choice(victim_choice)
        self.free = FreeDevices(snapshot)
        reserved: set[str] = set()
        self._node_free: dict[str, int] = {}
        self._nodes_of: dict[int, tuple[str, ...]] = {}
        for pool in snapshot.pools:  # one walk over the nodes: a pass builds this every time
            names = []
            for node in pool.nodes:
                if node.reserved_for is None:
                    names.append(node.name)
                    self._node_free[node.name] = len(node.free_indices)
                else:
                    reserved.add(node.name)
            self._nodes_of[pool.pool_id] = tuple(names)
        self._reserved = frozenset(reserved)
        self._by_pool: dict[int, list[tuple[Victim, int]]] = {}
        self._by_node: dict[str, list[tuple[Victim, int]]] = {}
        # node -> (fewest devices of a victim there, devices of the node victims hold)
        self._bounds: dict[str, tuple[int, int]] = {}
        # pool -> position in _by_pool of its first victim not preempted (only moves forward)
        self._first: dict[int, int] = {}
        # Pools of at least vector_nodes unreserved nodes are searched through arrays, per
        # node in _nodes_of order: free devices (kept in step), fewest victim devices, and
        # victim-held devices (the two bounds of _bounds). Built at a pool's first search.
        self.vector_nodes = VECTOR_SEARCH_NODES
        self._arrays: dict[int, tuple[npt.NDArray[np.int64], ...]] = {}
        # node -> (pool, index in _nodes_of), for the nodes of pools whose arrays are built
        self._position: dict[str, tuple[int, int]] = {}
        self.preempted: set[int] = set()
        """Ids of the jobs preempted so far in this pass."""
        self._registered = 0  # victims registered so far: the next one's rank

    def add_victims(self, victims: Iterable[tuple[RunningJob, float]]) -> None:
        """Register ``(job, worth)`` pairs in preemption order (least valuable first).

        Jobs that are not preemptible or hold no unreserved device are left out.
        """
        reserved, by_pool, by_node = self._reserved, self._by_pool, self._by_node
        bounds: dict[str, tuple[int, int]] = {}
        entries_pool: int | None = None  # the pool whose by_pool list pool_entries is
        pool_entries: list[tuple[Victim, int]] = []
        for job, worth in victims:
            if not job.preemptible:
                continue
            placement = job.placement
            # Most jobs sit on one node: a live decision registers thousands of victims, so
            # that case skips the per-node tally of the general case below (same result).
            if len(placement) == 1:
                node = placement[0].node
                devices = count = len(placement[0].device_indices)
                if not count or node in reserved:
                    continue
                victim = Victim(job, worth, placement, count, devices, self._registered)
                on_node: Iterable[tuple[str, int]] = ((node, count),)
            else:
                devices = sum(len(part.device_indices) for part in placement)
                usable = (
                    tuple(part for part in placement if part.node not in reserved)
                    if reserved
                    else placement
                )
                count = (
                    devices if usable is placement else sum(len(p.device_indices) for p in usable)
                )
                if not count:
                    continue
                victim = Victim(job, worth, usable, count, devices, self._registered)
                tally: dict[str, int] = {}
                for part in usable:
                    tally[part.node] = tally.get(part.node, 0) + len(part.device_indices)
                on_node = tally.items()
            self._registered += 1
            if job.pool_id != entries_pool:  # victims mostly come pool by pool, or all in one
                entries_pool = job.pool_id
                pool_entries = by_pool.setdefault(entries_pool, [])
            pool_entries.append((victim, count))
            for name, held in on_node:
                listed = by_node.get(name)
                if listed is None:
                    by_node[name] = [(victim, held)]
                    bounds[name] = (devices, held)
                else:
                    listed.append((victim, held))
                    smallest, total = bounds.get(name, (devices, 0))
                    bounds[name] = (min(smallest, devices), total + held)
        self._bounds.update(bounds)

    def first_victims(self) -> list[Victim]:
        """Per pool, the least valuable victim not yet preempted."""
        first = []
        for pool_id, entries in self._by_pool.items():
            position = self._first.get(pool_id, 0)
            while position < len(entries) and entries[position][0].job.job_id in self.preempted:
                position += 1
            self._first[pool_id] = position
            if position < len(entries):
                first.append(entries[position][0])
        return first

    def start_on_free(self, pools: Sequence[PoolState], job: PendingJob) -> Start | None:
        """Place ``job`` on the candidate pool with most free devices it can use, if one fits.

        Pools with too few free devices are skipped in O(1), which keeps long queues cheap.
        """
        borrow = job.preemptible
        free = self.free
        if len(pools) == 1:  # the common case: nothing to rank
            pool_id = pools[0].pool_id
            if free.free(pool_id, borrowing=borrow) < job.devices:
                return None
            placement = free.place(pool_id, job.devices, may_borrow=borrow)
            if placement is None:
                return None
            self._count(placement, -1)
            return Start(job_id=job.job_id, pool_id=pool_id, placement=placement)
        fitting = [
            pool for pool in pools if free.free(pool.pool_id, borrowing=borrow) >= job.devices
        ]
        fitting.sort(key=lambda p: (-free.free(p.pool_id, borrowing=borrow), p.pool_id))
        for pool in fitting:
            placement = free.place(pool.pool_id, job.devices, may_borrow=borrow)
            if placement is not None:
                self._count(placement, -1)
                return Start(job_id=job.job_id, pool_id=pool.pool_id, placement=placement)
        return None

    def start_by_preempting(
        self, pools: Sequence[PoolState], job: PendingJob, may_preempt: Callable[[Victim], bool]
    ) -> tuple[Start, list[RunningJob]] | None:
        """Start ``job`` by preempting victims of one candidate pool, or None (nothing changed).

        Only victims for which ``may_preempt`` holds and not preempted yet are considered, in
        their registered order. A job larger than a node needs enough free devices in the pool;
        one that fits a node needs them on one node, counting only victims' devices there. Per
        pool (and node), victims are taken in order until the job would fit, then those not
        needed are dropped again (most valuable first). Which pool and node wins is the
        view's ``victim_choice``: ``"least-valuable"`` (:meth:`_least_valuable`) or
        ``"fewest"`` (:meth:`_fewest`; each preemption costs a job a restart). On success the
        victims are marked preempted and their devices given to the job; the caller emits the
        Preempt decisions (shared by :class:`Las` and the SRTF oracle, which uses ``"fewest"``).
        """
        if self.victim_choice == "least-valuable":
            best = self._least_valuable(pools, job, may_preempt)
        else:
            best = self._fewest(pools, job, may_preempt)
        if best is None:
            return None
        _, pool_id, chosen = best
        for victim in chosen:
            self.free.give_back(pool_id, victim.usable)
            self._count(victim.usable, +1)
        placement = self.free.place(pool_id, job.devices, may_borrow=job.preemptible)
        if placement is None:  # the per-node view disagrees with FreeDevices: undo, start nothing
            for victim in chosen:
                self.free.take(pool_id, victim.usable)
                self._count(victim.usable, -1)
            return None
        self._count(placement, -1)
        self.preempted.update(victim.job.job_id for victim in chosen)
        return Start(job.job_id, pool_id, placement), [victim.job for victim in chosen]

    def _least_valuable(
        self,
        pools: Sequence[PoolState],
        job: PendingJob,
        may_preempt: Callable[[Victim], bool],
    ) -> tuple[tuple[int, ...], int, list[Victim]] | None:
        """The choice whose most valuable victim ranks lowest (then fewest jobs, devices, pool).

        A job larger than a node takes the pool's victims in order; one that fits a node takes
        them on the first node where the victims, walked in preemption order, free enough
        devices: that finds the node without working out every node's choice.
        """
        best: tuple[tuple[int, ...], int, list[Victim]] | None = None
        devices = job.devices
        for pool in pools:
            pool_id = pool.pool_id
            if devices > pool.node_size:
                chosen = self._cover_pool(pool_id, job, may_preempt)
            else:
                chosen = self._first_node_freed(pool_id, devices, may_preempt)
            if chosen is None:
                continue
            cost = (
                max(victim.rank for victim in chosen),
                len(chosen),
                sum(victim.devices for victim in chosen),
                pool_id,
            )
            if best is None or cost < best[0]:
                best = (cost, pool_id, chosen)
        return best

    def _cover_pool(
        self, pool_id: int, job: PendingJob, may_preempt: Callable[[Victim], bool]
    ) -> list[Victim] | None:
        """For a job larger than a node: the pool's victims, in order, that free the devices it
        still lacks there; None if it lacks none (the caller tried free devices first) or they
        cannot."""
        need = job.devices - self.free.free(pool_id, borrowing=job.preemptible)
        if need <= 0:
            return None
        return _cover(self._by_pool.get(pool_id, []), need, may_preempt, self.preempted)

    def _first_node_freed(
        self, pool_id: int, devices: int, may_preempt: Callable[[Victim], bool]
    ) -> list[Victim] | None:
        """Victims on the node of ``pool_id`` where preempting in order first frees ``devices``."""
        node_free, preempted = self._node_free, self.preempted
        gained: dict[str, int] = {}
        entries = self._by_pool.get(pool_id, [])
        for position in range(self._first.get(pool_id, 0), len(entries)):
            victim = entries[position][0]
            if victim.job.job_id in preempted or not may_preempt(victim):
                continue
            for part in victim.usable:
                name = part.node
                held = gained.get(name, 0) + len(part.device_indices)
                gained[name] = held
                if node_free[name] + held >= devices:
                    return _cover(
                        self._by_node[name], devices - node_free[name], may_preempt, preempted
                    )
        return None

    def _fewest(
        self,
        pools: Sequence[PoolState],
        job: PendingJob,
        may_preempt: Callable[[Victim], bool],
    ) -> tuple[tuple[int, ...], int, list[Victim]] | None:
        """The choice preempting the fewest jobs, then devices, then pool and node order."""
        best: tuple[tuple[int, ...], int, list[Victim]] | None = None
        devices = job.devices
        for pool in pools:
            pool_id = pool.pool_id
            if devices > pool.node_size:
                chosen = self._cover_pool(pool_id, job, may_preempt)
                if chosen is not None:
                    cost = (len(chosen), sum(v.devices for v in chosen), pool_id, 0)
                    if best is None or cost < best[0]:
                        best = (cost, pool_id, chosen)
                continue
            names = self._nodes_of.get(pool_id, ())
            if len(names) >= self.vector_nodes:
                best = self._search_nodes(pool_id, names, job, may_preempt, best)
                continue
            node_free, bounds, by_node = self._node_free, self._bounds, self._by_node
            for index, name in enumerate(names):
                bound = bounds.get(name)
                if bound is None:
                    continue  # no victim on this node
                need = devices - node_free[name]
                if need <= 0 or bound[1] < need:
                    continue  # fits already, or every victim there would not free enough
                if best is not None and (1, max(bound[0], need), pool_id, index) > best[0]:
                    continue  # no choice here can beat the best: it takes a victim, >= need
                chosen = _cover(by_node[name], need, may_preempt, self.preempted)
                if chosen is None:
                    continue
                cost = (len(chosen), sum(v.devices for v in chosen), pool_id, index)
                if best is None or cost < best[0]:
                    best = (cost, pool_id, chosen)
        return best

    def _search_nodes(
        self,
        pool_id: int,
        names: Sequence[str],
        job: PendingJob,
        may_preempt: Callable[[Victim], bool],
        best: tuple[tuple[int, ...], int, list[Victim]] | None,
    ) -> tuple[tuple[int, ...], int, list[Victim]] | None:
        """The node loop of :meth:`start_by_preempting` for a large pool, same result.

        No choice on a node costs less than ``(1, max(fewest victim devices there, need),
        pool, node)``: it preempts at least one job, which holds at least the devices still
        needed. Nodes are tried in order of that bound, and the search stops at the first
        bound above the best cost found, so usually after a node or two, instead of a loop
        over every node of the pool.
        """
        arrays = self._arrays.get(pool_id)
        if arrays is None:
            no_victim = (0, 0)  # never a candidate: nothing to free there
            arrays = (
                np.array([self._node_free[name] for name in names], np.int64),
                np.array([self._bounds.get(name, no_victim)[0] for name in names], np.int64),
                np.array([self._bounds.get(name, no_victim)[1] for name in names], np.int64),
            )
            self._arrays[pool_id] = arrays
            self._position.update((name, (pool_id, index)) for index, name in enumerate(names))
        node_free, fewest, held = arrays
        need = job.devices - node_free
        candidates = np.flatnonzero((need > 0) & (held >= need))
        if not candidates.size:
            return best
        lower = np.maximum(fewest[candidates], need[candidates])
        ranked = np.lexsort((candidates, lower))
        for index, bound, wanted in zip(
            candidates[ranked].tolist(),
            lower[ranked].tolist(),
            need[candidates[ranked]].tolist(),
            strict=True,
        ):
            if best is not None and (1, bound, pool_id, index) > best[0]:
                break
            chosen = _cover(self._by_node[names[index]], wanted, may_preempt, self.preempted)
            if chosen is None:
                continue
            cost = (len(chosen), sum(v.devices for v in chosen), pool_id, index)
            if best is None or cost < best[0]:
                best = (cost, pool_id, chosen)
        return best

    def _count(self, placement: Iterable[NodeSlice], sign: int) -> None:
        for part in placement:
            if part.node in self._node_free:
                change = sign * len(part.device_indices)
                self._node_free[part.node] += change
                position = self._position.get(part.node)
                if position is not None:  # its pool's arrays are built: keep them in step
                    self._arrays[position[0]][0][position[1]] += change


def _cover(
    entries: Sequence[tuple[Victim, int]],
    need: int,
    may_preempt: Callable[[Victim], bool],
    preempted: set[int],
) -> list[Victim] | None:
    """Victims, in order, whose devices (each entry's count: on one node, or in the whole pool)
    cover ``need``, with those not needed dropped again, most valuable first; None if they
    cannot cover it."""
    chosen: list[tuple[Victim, int]] = []
    gained = 0
    for victim, count in entries:
        if gained >= need:
            break
        if victim.job.job_id in preempted or not may_preempt(victim):
            continue
        chosen.append((victim, count))
        gained += count
    if gained < need:
        return None
    for index in range(len(chosen) - 1, -1, -1):
        if gained - chosen[index][1] >= need:
            gained -= chosen[index][1]
            del chosen[index]
    return [victim for victim, _ in chosen]
