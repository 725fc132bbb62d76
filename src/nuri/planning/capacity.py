"""Capacity planning: how many devices each pool needs so that 90% of jobs start within a target.

Why: buying accelerators is the commons' largest decision, and "enough" must mean something a
researcher feels: how long a job waits. This module recommends a device count per pool and hub
from a demand forecast, checks it by running the scheduler's own simulator on sampled demand,
cross-checks it with Erlang C, and prices it in won.

How a pool is planned
---------------------
1. **Samples.** ``samples`` workloads are drawn from the pool's forecast
   (:mod:`nuri.planning.demand_sampling`); sample ``i`` of pool ``P`` uses the seed
   ``(seed, crc32(P), i)``, so a pool's samples do not depend on the other pools. Samples come
   in antithetic pairs: the forecast errors of sample ``2j + 1`` mirror those of ``2j``, so every
   week above forecast is matched by one below. (On Helios vc6YE at 280 devices this cut the
   spread of the pooled p90 between independent sets of 8 samples from 39-124 min to 43-71
   min.) Job shapes
   larger than the pool's current batch devices (its devices less reserved nodes) are left out
   for that pool: nobody can submit such a job to it today, and one 32-device job would
   otherwise set the size of a 16-device NPU pool.
2. **Common random numbers.** Every candidate size is simulated on *the same* samples, under the
   chosen policy (``easy-backfill`` by default), so differences between sizes are the sizes' and
   not the dice's. The plan's p90 wait is the 90th percentile of the waits (first start minus
   submission) of all measured jobs of all samples pooled. Samples differ a lot (a week whose
   demand runs 20% above forecast queues for hours), so a pooled p90 just under the target would
   miss it on fresh samples about half the time. A size is therefore accepted only when a
   prediction bound on the pooled p90 of a *fresh* set of as many samples is within the target
   too (:mod:`nuri.planning.wait_bound`): the spread is measured between independent sections
   of the samples (antithetic pairs), and the bound is the pooled p90 plus a Student t quantile
   (``confidence``, 0.9 by default) times that spread scaled to the plan's and the fresh set's
   sizes. (A bootstrap over the same pairs under-stated the set-to-set spread near saturation:
   about 4.5 min where fresh sets of 8 samples differed by 7-10 min on Helios vc6YE.)
3. **First hit, from below.** Candidates are whole nodes, from a floor upward; the recommendation
   is the *first* size whose p90 wait and bound are at most the target. The floor does not depend on the
   target: the larger of the nodes the biggest job shape needs and the nodes that carry the
   forecast's mean demand (a smaller pool is overloaded on average). Because the p90 and bound
   of each size are fixed by the samples and the search is first-hit from a fixed floor, a tighter target
   can never recommend fewer devices: the sizes meeting it are a subset of those meeting a
   looser one. (This holds even where the simulated p90 is not monotone in size.) The search
   stops at the size at which every job would start on arrival (no wait at all); if even that
   misses, the pool is reported as not meeting the target.
4. **Reservations.** Nodes a cluster spec reserves for services on the pool are added on top of
   the nodes found: the forecast is taken to be batch demand.
5. **Cross-check.** Erlang C (:mod:`nuri.planning.erlang`) on the forecast's means gives a p90
   wait at the recommended size and the devices it would recommend alone, twice: stationary at
   the mean load over the horizon (the back-of-envelope figure, optimistic because it ignores
   peaks) and step by step with the pointwise stationary approximation (pessimistic: an hour
   whose mean demand exceeds the pool counts as an unbounded wait, where a real queue carries
   it into the next hours). The simulation should fall between them; both assume jobs of one
   size with exponential run times.

Pools are planned independently (sampled jobs are pinned to their pool). Pools without a
forecast keep their size and are reported as not planned.

Cost: capital for the devices *added* (none for a pool that needs fewer than it has) and the
running cost per year of the recommended size, in whole won (:mod:`nuri.planning.costs`).

Budget: with ``budget_krw`` (capital for added devices), the plan says whether it fits. If it
does not, it finds the best p90 wait the money can buy, measured as the *worst* planned pool's
p90: the smallest wait level ``w`` such that bringing every planned pool to its first size with
p90 <= ``w`` costs at most the budget. The cost falls as ``w`` rises (first-hit again), and every
level is read off the sizes already simulated, so this needs no new samples.
"""

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.domain.errors import InvalidInput
from nuri.forecasting.forecast import Forecast
from nuri.planning.costs import ClassCost, CostBook, compare_classes
from nuri.planning.demand_sampling import (
    DEFAULT_ERROR_CORRELATION,
    DEFAULT_WARMUP_S,
    ArrivalModel,
    DemandSample,
    FloatArray,
    JobShapes,
    check_forecast,
    mean_demand_devices,
    pooled_quantile,
    sample_pool,
)
from nuri.planning.erlang import WAIT_QUANTILE, erlang_devices, erlang_p90_wait
from nuri.planning.wait_bound import fresh_set_bound, sections
from nuri.policy.registry import POLICIES, PolicyContext, policy_named
from nuri.sim.simulator import Simulator

logger = logging.getLogger(__name__)

DEFAULT_CONFIDENCE = 0.9
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """What a plan aims at and how hard it looks.

    ``target_p90_wait_s`` (> 0): the wait 90% of jobs must not exceed, seconds. ``samples``
    (>= 1) workloads per pool; ``seed`` for all of them. ``policy``: a registered policy name.
    ``budget_krw``: capital for added devices, whole won (>= 0), or None for no budget.
    ``confidence``: a size is accepted when the ``confidence`` prediction bound on a fresh set's
    pooled p90 is within the target too (None: the pooled p90 alone decides; see
    :mod:`nuri.planning.wait_bound`; it needs at least two samples, else it is unbounded). ``antithetic``: samples
    in mirrored pairs (see the module docstring).
    ``arrivals``, ``warmup_s``, ``error_correlation``: see :mod:`nuri.planning.demand_sampling`.
    """

    target_p90_wait_s: float
    samples: int = 8
    seed: int = 0
    policy: str = "easy-backfill"
    budget_krw: int | None = None
    confidence: float | None = DEFAULT_CONFIDENCE
    arrivals: ArrivalModel = ArrivalModel.DEMAND_FOLLOWING
    antithetic: bool = True
    warmup_s: float = DEFAULT_WARMUP_S
    error_correlation: float = DEFAULT_ERROR_CORRELATION
    restart_cost_s: float = 60.0

    def __post_init__(self) -> None:
        target = self.target_p90_wait_s
        if not (math.isfinite(target) and target > 0):
            raise InvalidInput(
                f"the p90-wait target must be a positive duration such as 30m or 1h, got {target} s"
            )
        if self.samples < 1:
            raise InvalidInput(f"samples must be at least 1, got {self.samples}")
        if self.budget_krw is not None and self.budget_krw < 0:
            raise InvalidInput(
                f"the budget must be zero or more won, got {self.budget_krw}; leave it out for no"
                " budget"
            )
        if self.policy not in POLICIES:
            raise InvalidInput(
                f"unknown policy {self.policy!r}; known policies: {', '.join(sorted(POLICIES))}"
            )
        if not 0 <= self.error_correlation < 1:
            raise InvalidInput(f"error_correlation must be in [0, 1), got {self.error_correlation}")
        if self.confidence is not None and not 0 < self.confidence < 1:
            raise InvalidInput(f"confidence must be in (0, 1), got {self.confidence}")
        if self.warmup_s < 0 or self.restart_cost_s < 0:
            raise InvalidInput("warmup_s and restart_cost_s must be zero or more")


@dataclass(frozen=True, slots=True)
class SizeResult:
    """One candidate size simulated on a pool's samples.

    ``p90_wait_s`` is over all measured jobs of all samples pooled (``inf`` if more than 10% never
    started); ``sample_p90_wait_s`` is each sample's own p90, showing the spread.
    ``utilisation`` is device-seconds used in the measured window / (devices x window).
    ``p90_wait_upper_s`` is the prediction bound on the pooled p90 of a fresh set of as many
    samples (:func:`nuri.planning.wait_bound.fresh_set_bound`, from the spread between
    sections of the samples): how high the p90 could plausibly be on samples not yet seen.
    ``section_p90_wait_s`` holds each section's pooled p90 (empty without a bound).
    """

    nodes: int
    devices: int
    p90_wait_s: float
    p90_wait_upper_s: float
    """The prediction bound on a fresh set's pooled p90 (``p90_wait_s`` without a bound)."""
    mean_wait_s: float
    utilisation: float
    measured_jobs: int
    sample_p90_wait_s: tuple[float, ...]
    section_p90_wait_s: tuple[float, ...] = ()

    @property
    def planning_p90_wait_s(self) -> float:
        """What the search compares with the target: the larger of the p90 and its bound."""
        return max(self.p90_wait_s, self.p90_wait_upper_s)


def simulate_size(
    pool: PoolSpec,
    nodes: int,
    samples: Sequence[DemandSample],
    *,
    policy: str = "easy-backfill",
    restart_cost_s: float = 60.0,
    groups: Sequence[Sequence[int]] | None = None,
    confidence: float | None = None,
) -> SizeResult:
    """Simulate ``pool`` with ``nodes`` nodes (no reservations) on every sample; pool the waits.

    ``groups`` (independent sections of sample indices, see
    :func:`nuri.planning.wait_bound.sections`) and ``confidence`` give ``p90_wait_upper_s``;
    without them it equals the pooled p90.
    """
    if nodes < 1:
        raise InvalidInput(f"a pool needs at least one node, got {nodes}")
    spec = PoolSpec(
        pool_id=1,
        hub=pool.hub,
        name=pool.name,
        accelerator=pool.accelerator,
        nodes=nodes,
        devices_per_node=pool.devices_per_node,
        rate_milli=pool.rate_milli,
        krw_per_device_hour=pool.krw_per_device_hour,
    )
    cluster = ClusterSpec(pools=(spec,))
    waits: list[float] = []
    per_sample: list[float] = []
    sample_waits: list[FloatArray] = []
    used = window = 0.0
    for sample in samples:
        context = PolicyContext(
            oracle_work_s={job.job_id: job.work_s for job in sample.jobs}
            if POLICIES[policy].oracle
            else None,
            restart_cost_s=restart_cost_s,
        )
        shares = {index + 1: 1.0 / sample.group_count for index in range(sample.group_count)}
        result = Simulator(
            cluster, policy_named(policy, context), shares=shares, restart_cost_s=restart_cost_s
        ).run(sample.jobs)
        own = [
            result.first_start[job.job_id] - job.submit_s
            if job.job_id in result.first_start
            else math.inf
            for job in sample.measured()
        ]
        waits.extend(own)
        sample_waits.append(np.asarray(own, dtype=np.float64))
        per_sample.append(pooled_quantile(own, WAIT_QUANTILE))
        low, high = sample.measured_from_s, sample.horizon_end_s
        used += sum(
            segment.devices * max(0.0, min(segment.end_s, high) - max(segment.start_s, low))
            for segment in result.segments
        )
        window += spec.devices * (high - low)
    finite = [wait for wait in waits if math.isfinite(wait)]
    pooled = pooled_quantile(waits, WAIT_QUANTILE)
    upper = pooled
    section_p90: list[float] = []
    if groups is not None and confidence is not None:
        section_p90 = [
            pooled_quantile(np.concatenate([sample_waits[i] for i in group]), WAIT_QUANTILE)
            for group in groups
        ]
        upper = fresh_set_bound(pooled, section_p90, [len(group) for group in groups], confidence)
    return SizeResult(
        nodes=nodes,
        devices=spec.devices,
        p90_wait_s=pooled,
        p90_wait_upper_s=upper,
        mean_wait_s=math.fsum(finite) / len(finite) if finite else 0.0,
        utilisation=used / window if window > 0 else 0.0,
        measured_jobs=len(waits),
        sample_p90_wait_s=tuple(per_sample),
        section_p90_wait_s=tuple(section_p90),
    )


def floor_nodes(pool: PoolSpec, forecast: Forecast, shapes: JobShapes) -> int:
    """The smallest candidate: fits the biggest job shape and carries the mean demand."""
    per_node = pool.devices_per_node
    mean_devices = float(mean_demand_devices(forecast).mean())
    return max(1, math.ceil(shapes.max_devices / per_node), math.ceil(mean_devices / per_node))


class WaitCurve:
    """The pooled p90 wait of one pool as a function of its node count, on fixed samples.

    Sizes are simulated on demand and remembered, so a curve answers many targets (and the
    budget search) at the cost of the sizes it has to look at. ``floor`` and ``limit`` bound the
    first-hit search; ``limit`` is where every job starts on arrival in every sample.
    """

    def __init__(
        self,
        pool: PoolSpec,
        samples: Sequence[DemandSample],
        *,
        floor: int,
        policy: str = "easy-backfill",
        restart_cost_s: float = 60.0,
        confidence: float | None = None,
        paired: bool = True,
        progress: Progress | None = None,
    ) -> None:
        if not samples:
            raise InvalidInput("a wait curve needs at least one sample")
        self.pool = pool
        self.samples = tuple(samples)
        self.floor = max(1, floor)
        peak = max(sample.peak_concurrent_devices for sample in self.samples)
        self.limit = max(self.floor, math.ceil(peak / pool.devices_per_node))
        self._policy = policy
        self._restart_cost_s = restart_cost_s
        self._confidence = confidence
        self._groups = (
            sections(len(self.samples), paired=paired) if confidence is not None else None
        )
        self._progress = progress
        self._cache: dict[int, SizeResult] = {}

    def at(self, nodes: int) -> SizeResult:
        """The simulated result of ``nodes`` nodes (simulated once, then remembered)."""
        found = self._cache.get(nodes)
        if found is None:
            found = simulate_size(
                self.pool,
                nodes,
                self.samples,
                policy=self._policy,
                restart_cost_s=self._restart_cost_s,
                groups=self._groups,
                confidence=self._confidence,
            )
            self._cache[nodes] = found
            message = (
                f"{self.pool.name}: {found.devices} devices, p90 wait"
                f" {found.p90_wait_s / 60:,.1f} min (bound {found.p90_wait_upper_s / 60:,.1f} min)"
                f" over {found.measured_jobs:,} jobs"
            )
            logger.info("%s", message)
            if self._progress is not None:
                self._progress(message)
        return found

    def first_hit(self, target_s: float) -> SizeResult | None:
        """The smallest size from ``floor`` up whose planning p90 is at most ``target_s``.

        None if no size up to ``limit`` meets it.
        """
        for nodes in range(self.floor, self.limit + 1):
            result = self.at(nodes)
            if result.planning_p90_wait_s <= target_s:
                return result
        return None

    def evaluated(self) -> tuple[SizeResult, ...]:
        return tuple(self._cache[nodes] for nodes in sorted(self._cache))


# -- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolPlan:
    """The plan for one pool. Devices include reserved ones; money is whole won.

    For a pool not planned (no forecast), the recommendation is its current size and the
    simulated and Erlang fields are None.
    """

    hub: str
    pool: str
    accelerator: str
    devices_per_node: int
    planned: bool
    current_devices: int
    recommended_devices: int
    added_devices: int
    surplus_devices: int
    """Devices beyond the recommendation (a pool larger than its demand needs)."""
    reserved_devices: int
    meets_target: bool | None
    simulated_p90_wait_s: float | None
    simulated_p90_wait_upper_s: float | None
    """The fresh-set prediction bound the search also held within the target (see PlanSettings)."""
    simulated_mean_wait_s: float | None
    simulated_utilisation: float | None
    sample_p90_wait_s: tuple[float, ...]
    erlang_c_p90_wait_s: float | None
    """Stationary Erlang C at the mean load, at the recommended batch size."""
    erlang_c_devices: int | None
    erlang_c_pointwise_p90_wait_s: float | None
    """Erlang C step by step (pointwise stationary), at the recommended batch size."""
    erlang_c_pointwise_devices: int | None
    mean_demand_devices: float | None
    largest_job_devices: int | None
    """The largest sampled job: shapes larger than the pool's current batch devices are left out."""
    device_price_krw: int
    running_krw_per_device_year: int
    capital_krw: int
    running_krw_per_year: int
    candidates: tuple[SizeResult, ...] = ()


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the pools of one hub (or of all hubs: ``hub == "all"``)."""

    hub: str
    current_devices: int
    recommended_devices: int
    added_devices: int
    capital_krw: int
    running_krw_per_year: int


@dataclass(frozen=True, slots=True)
class BudgetSpend:
    pool: str
    hub: str
    added_devices: int
    capital_krw: int
    p90_wait_s: float


@dataclass(frozen=True, slots=True)
class BudgetOutcome:
    """What a capital budget buys. ``best_p90_wait_s`` is the worst planned pool's p90 at the
    sizes bought (None when the budget cannot bring every planned pool to a size that carries
    its mean demand)."""

    budget_krw: int
    capital_needed_krw: int
    fits: bool
    spent_krw: int
    best_p90_wait_s: float | None
    spends: tuple[BudgetSpend, ...]
    note: str


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    settings: PlanSettings
    shapes_source: str
    pools: tuple[PoolPlan, ...]
    hubs: tuple[Totals, ...]
    total: Totals
    budget: BudgetOutcome | None
    comparison: tuple[ClassCost, ...]
    assumptions: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Planned:
    pool: PoolSpec
    forecast: Forecast
    shapes: JobShapes
    curve: WaitCurve
    hit: SizeResult | None
    reserved_nodes: int
    price: int

    @property
    def current_batch_nodes(self) -> int:
        return max(0, self.pool.nodes - self.reserved_nodes)


def plan_capacity(
    cluster: ClusterSpec,
    forecasts: Mapping[str, Forecast],
    settings: PlanSettings,
    *,
    shapes: JobShapes,
    costs: CostBook | None = None,
    progress: Progress | None = None,
) -> CapacityPlan:
    """Recommend devices per pool and hub (see the module docstring for the method).

    ``forecasts`` maps a pool name to its forecast of device-hours per step on that pool.
    Raises InvalidInput when no forecast is given, one names a pool the cluster lacks, or one is
    empty or malformed; PlanSettings has already refused a bad target, budget or policy.
    """
    costs = costs or CostBook()
    names = [pool.name for pool in cluster.pools]
    if not forecasts:
        raise InvalidInput(
            "no forecast given: pass --forecast POOL=F.json for at least one of the pools "
            + ", ".join(names)
        )
    unknown = sorted(set(forecasts) - set(names))
    if unknown:
        raise InvalidInput(
            f"the cluster has no pool named {', '.join(unknown)}; its pools are {', '.join(names)}"
        )
    for name, forecast in forecasts.items():
        check_forecast(forecast, name)
    reserved: dict[str, int] = {}
    for reservation in cluster.reservations:
        reserved[reservation.pool] = reserved.get(reservation.pool, 0) + reservation.nodes

    planned: dict[str, _Planned] = {}
    plans: list[PoolPlan] = []
    for pool in cluster.pools:
        device = costs.pool_cost(pool)
        pool_forecast = forecasts.get(pool.name)
        if pool_forecast is None:
            plans.append(_unplanned(pool, device.device_price_krw, device.running_krw_per_year))
            continue
        reserved_nodes = reserved.get(pool.name, 0)
        batch_devices = max(1, pool.nodes - reserved_nodes) * pool.devices_per_node
        pool_shapes = shapes.at_most(batch_devices)
        samples = sample_pool(
            pool,
            pool_forecast,
            pool_shapes,
            samples=settings.samples,
            seed=settings.seed,
            warmup_s=settings.warmup_s,
            error_correlation=settings.error_correlation,
            arrivals=settings.arrivals,
            antithetic=settings.antithetic,
        )
        curve = WaitCurve(
            pool,
            samples,
            floor=floor_nodes(pool, pool_forecast, pool_shapes),
            policy=settings.policy,
            restart_cost_s=settings.restart_cost_s,
            confidence=settings.confidence,
            paired=settings.antithetic,
            progress=progress,
        )
        work = _Planned(
            pool=pool,
            forecast=pool_forecast,
            shapes=pool_shapes,
            curve=curve,
            hit=curve.first_hit(settings.target_p90_wait_s),
            reserved_nodes=reserved_nodes,
            price=device.device_price_krw,
        )
        planned[pool.name] = work
        plans.append(
            _planned_pool(work, settings, device.device_price_krw, device.running_krw_per_year)
        )

    hubs = _hub_totals(plans)
    total = _sum_totals("all", plans)
    budget = None
    if settings.budget_krw is not None:
        budget = _spend_budget(settings.budget_krw, list(planned.values()), plans, settings)
    return CapacityPlan(
        settings=settings,
        shapes_source=shapes.source,
        pools=tuple(plans),
        hubs=hubs,
        total=total,
        budget=budget,
        comparison=compare_classes([pool.accelerator for pool in cluster.pools], costs),
        assumptions=_assumptions(costs, settings, shapes),
    )


def _unplanned(pool: PoolSpec, price: int, running: int) -> PoolPlan:
    return PoolPlan(
        hub=pool.hub,
        pool=pool.name,
        accelerator=pool.accelerator,
        devices_per_node=pool.devices_per_node,
        planned=False,
        current_devices=pool.devices,
        recommended_devices=pool.devices,
        added_devices=0,
        surplus_devices=0,
        reserved_devices=0,
        meets_target=None,
        simulated_p90_wait_s=None,
        simulated_p90_wait_upper_s=None,
        simulated_mean_wait_s=None,
        simulated_utilisation=None,
        sample_p90_wait_s=(),
        erlang_c_p90_wait_s=None,
        erlang_c_devices=None,
        erlang_c_pointwise_p90_wait_s=None,
        erlang_c_pointwise_devices=None,
        mean_demand_devices=None,
        largest_job_devices=None,
        device_price_krw=price,
        running_krw_per_device_year=running,
        capital_krw=0,
        running_krw_per_year=pool.devices * running,
    )


def _planned_pool(work: _Planned, settings: PlanSettings, price: int, running: int) -> PoolPlan:
    pool, curve, hit, shapes = work.pool, work.curve, work.hit, work.shapes
    target = settings.target_p90_wait_s
    chosen = hit if hit is not None else curve.at(curve.limit)
    per_node = pool.devices_per_node
    reserved_devices = work.reserved_nodes * per_node
    recommended = chosen.devices + reserved_devices
    added = max(0, recommended - pool.devices)
    return PoolPlan(
        hub=pool.hub,
        pool=pool.name,
        accelerator=pool.accelerator,
        devices_per_node=per_node,
        planned=True,
        current_devices=pool.devices,
        recommended_devices=recommended,
        added_devices=added,
        surplus_devices=max(0, pool.devices - recommended),
        reserved_devices=reserved_devices,
        meets_target=hit is not None,
        simulated_p90_wait_s=chosen.p90_wait_s,
        simulated_p90_wait_upper_s=chosen.p90_wait_upper_s,
        simulated_mean_wait_s=chosen.mean_wait_s,
        simulated_utilisation=chosen.utilisation,
        sample_p90_wait_s=chosen.sample_p90_wait_s,
        erlang_c_p90_wait_s=erlang_p90_wait(chosen.devices, work.forecast, shapes),
        erlang_c_devices=erlang_devices(target, per_node, work.forecast, shapes) + reserved_devices,
        erlang_c_pointwise_p90_wait_s=erlang_p90_wait(
            chosen.devices, work.forecast, shapes, pointwise=True
        ),
        erlang_c_pointwise_devices=erlang_devices(
            target, per_node, work.forecast, shapes, pointwise=True
        )
        + reserved_devices,
        mean_demand_devices=float(mean_demand_devices(work.forecast).mean()),
        largest_job_devices=shapes.max_devices,
        device_price_krw=price,
        running_krw_per_device_year=running,
        capital_krw=added * price,
        running_krw_per_year=recommended * running,
        candidates=curve.evaluated(),
    )


def _sum_totals(hub: str, plans: Sequence[PoolPlan]) -> Totals:
    return Totals(
        hub=hub,
        current_devices=sum(p.current_devices for p in plans),
        recommended_devices=sum(p.recommended_devices for p in plans),
        added_devices=sum(p.added_devices for p in plans),
        capital_krw=sum(p.capital_krw for p in plans),
        running_krw_per_year=sum(p.running_krw_per_year for p in plans),
    )


def _hub_totals(plans: Sequence[PoolPlan]) -> tuple[Totals, ...]:
    hubs: dict[str, list[PoolPlan]] = {}
    for plan in plans:
        hubs.setdefault(plan.hub, []).append(plan)
    return tuple(_sum_totals(hub, members) for hub, members in hubs.items())


# -- budget ----------------------------------------------------------------------------------


def _spend_budget(
    budget_krw: int,
    planned: Sequence[_Planned],
    plans: Sequence[PoolPlan],
    settings: PlanSettings,
) -> BudgetOutcome:
    """What ``budget_krw`` of capital buys (see the module docstring's *Budget*)."""
    needed = sum(plan.capital_krw for plan in plans if plan.planned)
    if needed <= budget_krw:
        spends = tuple(
            BudgetSpend(
                p.pool,
                p.hub,
                p.added_devices,
                p.capital_krw,
                p.simulated_p90_wait_s if p.simulated_p90_wait_s is not None else 0.0,
            )
            for p in plans
            if p.planned
        )
        worst = max((spend.p90_wait_s for spend in spends), default=0.0)
        return BudgetOutcome(
            budget_krw=budget_krw,
            capital_needed_krw=needed,
            fits=True,
            spent_krw=needed,
            best_p90_wait_s=worst,
            spends=spends,
            note=f"{budget_krw - needed:,} won are left over",
        )
    target = settings.target_p90_wait_s
    levels = sorted(
        {
            result.planning_p90_wait_s
            for work in planned
            for result in work.curve.evaluated()
            if result.planning_p90_wait_s > target
        }
    )

    def sizes_at(level: float) -> dict[str, int]:
        chosen: dict[str, int] = {}
        for work in planned:
            hit = work.curve.first_hit(level)
            nodes = hit.nodes if hit is not None else work.curve.limit
            chosen[work.pool.name] = max(work.current_batch_nodes, nodes)
        return chosen

    def cost(chosen: Mapping[str, int]) -> int:
        return sum(
            (chosen[w.pool.name] - w.current_batch_nodes) * w.pool.devices_per_node * w.price
            for w in planned
        )

    # The cost falls as the level rises: the first affordable level is the best.
    best: tuple[float, dict[str, int]] | None = None
    for level in levels:
        if not math.isfinite(level):
            break
        chosen = sizes_at(level)
        if cost(chosen) <= budget_krw:
            best = (level, chosen)
            break
    if best is None:
        floors = {w.pool.name: max(w.current_batch_nodes, w.curve.floor) for w in planned}
        return BudgetOutcome(
            budget_krw=budget_krw,
            capital_needed_krw=needed,
            fits=False,
            spent_krw=0,
            best_p90_wait_s=None,
            spends=(),
            note=(
                "it cannot even bring every planned pool to the smallest size searched (one that"
                f" carries its mean demand and fits its largest job): that needs {cost(floors):,}"
                " won"
            ),
        )
    _, chosen = best
    bought: list[BudgetSpend] = []
    for work in planned:
        nodes = chosen[work.pool.name]
        added_devices = (nodes - work.current_batch_nodes) * work.pool.devices_per_node
        bought.append(
            BudgetSpend(
                pool=work.pool.name,
                hub=work.pool.hub,
                added_devices=added_devices,
                capital_krw=added_devices * work.price,
                p90_wait_s=work.curve.at(nodes).p90_wait_s,
            )
        )
    spent = sum(spend.capital_krw for spend in bought)
    worst = max(spend.p90_wait_s for spend in bought)
    buying = [s for s in bought if s.added_devices > 0]
    where = (
        ", ".join(f"{s.pool} +{s.added_devices} devices ({s.capital_krw:,} won)" for s in buying)
        or "no pool"
    )
    return BudgetOutcome(
        budget_krw=budget_krw,
        capital_needed_krw=needed,
        fits=False,
        spent_krw=spent,
        best_p90_wait_s=worst,
        spends=tuple(bought),
        note=(
            f"it buys a worst-pool p90 wait of {worst / 60:,.1f} min by spending {spent:,} won"
            f" on {where}"
        ),
    )


def _assumptions(costs: CostBook, settings: PlanSettings, shapes: JobShapes) -> dict[str, str]:
    a = costs.assumptions
    return {
        "job_shapes": shapes.source,
        "demand": "split normal fitted to each step's lo80/hi80, clipped at 0, AR(1) errors"
        f" with correlation {settings.error_correlation}",
        "warmup_s": f"{settings.warmup_s:g}",
        "electricity_krw_per_kwh": str(a.electricity_krw_per_kwh),
        "pue": str(a.pue),
        "server_power_overhead": str(a.server_power_overhead),
        "hosting_krw_per_kw_month": str(a.hosting_krw_per_kw_month),
        "maintenance_fraction_per_year": str(a.maintenance_fraction_per_year),
        "amortisation_years": str(a.amortisation_years),
        "fleet_utilisation": str(a.fleet_utilisation),
    }
