"""The capacity planner: monotone in its target by construction, meeting its target on its own
samples, refusing bad input, spending a budget, and pricing plans in exact won.

Pools are small (4 devices per node, about 10 devices of demand) and forecasts one day long with
three samples, so each plan simulates a few thousand jobs in well under a second.
"""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec, ReservationSpec
from nuri.domain.errors import InvalidInput
from nuri.forecasting.forecast import Forecast, ForecastPoint
from nuri.planning.capacity import (
    PlanSettings,
    WaitCurve,
    floor_nodes,
    plan_capacity,
    simulate_size,
)
from nuri.planning.costs import (
    CostBook,
    compare_classes,
    cost_book_from,
    running_per_device_year,
)
from nuri.planning.demand_sampling import (
    ArrivalModel,
    JobShapes,
    pooled_quantile,
    sample_demand,
    sample_pool,
)
from nuri.planning.wait_bound import fresh_set_bound, sections
from nuri.traces.time_limits import requested_limits

START = datetime(2027, 3, 1, tzinfo=UTC)
DAY_CYCLE = [8.0] * 8 + [12.0] * 10 + [9.0] * 6  # devices demanded per hour, a working day


def make_forecast(means: list[float], band: float = 0.2, step_s: int = 3600) -> Forecast:
    """Device-hours per step with an 80% band of +-band around each mean."""
    scale = step_s / 3600
    return Forecast(
        series="test",
        unit="device-hours",
        step_s=step_s,
        model="hand-made",
        backtest={},
        points=tuple(
            ForecastPoint(
                START + timedelta(seconds=step_s * k),
                m * scale,
                m * scale * (1 - band),
                m * scale * (1 + band),
            )
            for k, m in enumerate(means)
        ),
    )


def make_shapes() -> JobShapes:
    """400 jobs of 1-4 devices, log-normal run times (median 20 min), limits 2.5x rounded up."""
    rng = np.random.default_rng(7)
    count = 400
    devices = rng.choice(np.array([1, 2, 4], dtype=np.int64), size=count, p=[0.6, 0.25, 0.15])
    duration = np.clip(np.exp(np.log(1200.0) + rng.standard_normal(count)), 60.0, 6 * 3600.0)
    return JobShapes(
        devices=devices.astype(np.int64),
        duration_s=duration,
        time_limit_s=requested_limits(duration, np.full(count, 2.5)),
        group=rng.integers(0, 3, size=count).astype(np.int64),
        group_names=("a", "b", "c"),
        source="test shapes",
    )


SHAPES = make_shapes()
FORECAST = make_forecast(DAY_CYCLE)


def pool(name: str = "h100", nodes: int = 2, hub: str = "seoul", accelerator: str = "H100"):
    return PoolSpec(1, hub, name, accelerator, nodes, 4, 1000, 4000)


def cluster(*pools: PoolSpec, reservations: tuple[ReservationSpec, ...] = ()) -> ClusterSpec:
    numbered = tuple(
        PoolSpec(i + 1, p.hub, p.name, p.accelerator, p.nodes, p.devices_per_node, 1000, 4000)
        for i, p in enumerate(pools)
    )
    return ClusterSpec(pools=numbered, reservations=reservations)


def plan_for(target_s: float, **overrides):
    options = {"samples": 3, "seed": 0, **overrides}
    settings_ = PlanSettings(target_p90_wait_s=target_s, **options)
    return plan_capacity(cluster(pool()), {"h100": FORECAST}, settings_, shapes=SHAPES)


@pytest.fixture(scope="module")
def curve() -> WaitCurve:
    """One pool's wait curve on three samples, with the planner's fresh-set bound."""
    spec = pool()
    samples = sample_pool(spec, FORECAST, SHAPES, samples=3, seed=0)
    return WaitCurve(spec, samples, floor=floor_nodes(spec, FORECAST, SHAPES), confidence=0.8)


# -- monotone in the target ---------------------------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.floats(min_value=1.0, max_value=8 * 3600.0),
    second=st.floats(min_value=1.0, max_value=8 * 3600.0),
)
def test_a_tighter_target_never_recommends_fewer_devices(
    curve: WaitCurve, first: float, second: float
) -> None:
    """For any two targets, the tighter one's first hit is at least as large, and each first hit
    meets its own target."""
    tight, loose = sorted((first, second))
    tight_hit, loose_hit = curve.first_hit(tight), curve.first_hit(loose)
    tight_devices = math.inf if tight_hit is None else tight_hit.devices
    loose_devices = math.inf if loose_hit is None else loose_hit.devices
    assert tight_devices >= loose_devices
    for hit, target in ((tight_hit, tight), (loose_hit, loose)):
        if hit is not None:
            assert hit.planning_p90_wait_s <= target
            for smaller in range(curve.floor, hit.nodes):  # first hit: nothing smaller meets it
                assert curve.at(smaller).planning_p90_wait_s > target


def test_full_plans_are_monotone_in_the_target() -> None:
    """plan_capacity end to end: 2 min, 20 min, 2 h and 8 h give non-increasing device counts."""
    devices = [
        plan_for(minutes * 60.0).pools[0].recommended_devices for minutes in (2, 20, 120, 480)
    ]
    assert devices == sorted(devices, reverse=True)
    assert devices[0] > devices[-1]  # the targets are far enough apart to matter


def test_the_curve_limit_is_a_size_where_nobody_waits(curve: WaitCurve) -> None:
    """At the search limit every job starts on arrival, so any positive target is met."""
    assert curve.at(curve.limit).p90_wait_s == 0.0
    assert curve.first_hit(1e-6) is not None


# -- meeting the target --------------------------------------------------------------------------


def test_a_plan_meets_its_target_on_its_own_samples() -> None:
    """Re-simulating the recommended size on the same seed's samples gives p90 <= target, and one
    node fewer misses it (or is below the search floor)."""
    target = 20 * 60.0
    plan = plan_for(target).pools[0]
    assert plan.meets_target and plan.simulated_p90_wait_s is not None
    assert plan.simulated_p90_wait_s <= target
    assert plan.simulated_p90_wait_upper_s is not None
    assert plan.simulated_p90_wait_upper_s <= target
    spec = pool()
    samples = sample_pool(spec, FORECAST, SHAPES, samples=3, seed=0)
    nodes = plan.recommended_devices // 4
    again = simulate_size(spec, nodes, samples)
    assert again.p90_wait_s == pytest.approx(plan.simulated_p90_wait_s)
    if nodes > floor_nodes(spec, FORECAST, SHAPES):
        assert plan.candidates[-2].planning_p90_wait_s > target


def test_plans_are_deterministic() -> None:
    """The same inputs and seed give the same plan, to the second and the won."""
    assert plan_for(1800.0) == plan_for(1800.0)


def held_devices_per_step(sample, steps: int) -> np.ndarray:
    """Devices the sample's jobs hold per hour if each starts on arrival (the demand's unit)."""
    held = np.zeros(steps)
    for job in sample.jobs:
        start, end = job.submit_s, job.submit_s + min(job.work_s, job.time_limit_s)
        for k in range(int(start // 3600), min(steps, math.ceil(end / 3600))):
            held[k] += job.devices * (min(end, (k + 1) * 3600) - max(start, k * 3600)) / 3600
    return held


def test_demand_following_arrivals_hold_the_drawn_demand_step_by_step() -> None:
    """Devices held per step track the drawn demand closely (the offered load equals it, up to
    about one job per step), on average over steps and samples."""
    errors = []
    for seed in range(10):
        sample = sample_demand(FORECAST, SHAPES, np.random.default_rng(seed), warmup_s=0.0)
        held = held_devices_per_step(sample, len(DAY_CYCLE))
        errors.append(held[2:] - sample.step_devices[2:])  # after the first jobs have arrived
    assert abs(float(np.mean(errors))) < 0.5  # devices, on about 10 demanded
    assert float(np.mean(np.abs(errors))) < 2.0


def test_poisson_arrivals_offer_the_drawn_work_on_average() -> None:
    """With Poisson counts, submitted work over many samples averages the drawn demand."""
    ratios = []
    for seed in range(40):
        sample = sample_demand(
            FORECAST,
            SHAPES,
            np.random.default_rng(seed),
            warmup_s=0.0,
            arrivals=ArrivalModel.POISSON,
        )
        submitted = sum(job.devices * job.work_s for job in sample.jobs) / 3600
        ratios.append(submitted / float(sample.step_devices.sum()))
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.05)


def test_antithetic_samples_mirror_each_others_forecast_errors() -> None:
    """Samples 0 and 1 draw mirrored errors: with a symmetric band their demand per step sums to
    twice the mean; sample 2 starts a new pair; without antithetic they are independent."""
    paired = sample_pool(pool(), FORECAST, SHAPES, samples=3, seed=4)
    mean = np.array(DAY_CYCLE)
    assert np.allclose(paired[0].step_devices + paired[1].step_devices, 2 * mean)
    assert not np.allclose(paired[1].step_devices + paired[2].step_devices, 2 * mean)
    plain = sample_pool(pool(), FORECAST, SHAPES, samples=2, seed=4, antithetic=False)
    assert not np.allclose(plain[0].step_devices + plain[1].step_devices, 2 * mean)


def test_a_sizes_bound_comes_from_the_spread_between_its_pairs() -> None:
    """simulate_size pools each antithetic pair's waits into a section p90 and bounds a fresh
    set's p90 from their spread; without a confidence the bound is the pooled p90."""
    spec = pool()
    samples = sample_pool(spec, FORECAST, SHAPES, samples=4, seed=0)
    nodes = floor_nodes(spec, FORECAST, SHAPES)
    groups = sections(4)
    result = simulate_size(spec, nodes, samples, groups=groups, confidence=0.9)
    assert len(result.section_p90_wait_s) == 2
    expected = fresh_set_bound(result.p90_wait_s, result.section_p90_wait_s, [2, 2], 0.9)
    assert result.p90_wait_upper_s == pytest.approx(expected)
    assert result.p90_wait_upper_s >= result.p90_wait_s
    plain = simulate_size(spec, nodes, samples)
    assert plain.p90_wait_upper_s == plain.p90_wait_s and plain.section_p90_wait_s == ()


def test_pooled_quantile_handles_jobs_that_never_start() -> None:
    """inf marks a job that never started; the p90 is inf only when the quantile reaches them."""
    assert pooled_quantile([0.0] * 95 + [math.inf] * 5, 0.9) == 0.0
    assert math.isinf(pooled_quantile([0.0] * 80 + [math.inf] * 20, 0.9))
    assert pooled_quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9) == pytest.approx(4.6)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PlanSettings(target_p90_wait_s=0.0), "positive duration"),
        (lambda: PlanSettings(target_p90_wait_s=-60.0), "positive duration"),
        (lambda: PlanSettings(target_p90_wait_s=math.nan), "positive duration"),
        (lambda: PlanSettings(target_p90_wait_s=60.0, budget_krw=-1), "zero or more won"),
        (lambda: PlanSettings(target_p90_wait_s=60.0, samples=0), "samples"),
        (lambda: PlanSettings(target_p90_wait_s=60.0, policy="nope"), "known policies"),
    ],
    ids=["target 0", "target < 0", "target nan", "budget < 0", "no samples", "policy"],
)
def test_bad_settings_are_refused_with_what_to_fix(build, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build()


def test_a_forecast_for_an_unknown_pool_names_the_pools() -> None:
    with pytest.raises(InvalidInput, match=r"no pool named a100; its pools are h100"):
        plan_capacity(cluster(pool()), {"a100": FORECAST}, PlanSettings(60.0), shapes=SHAPES)


def test_no_forecast_and_empty_forecasts_are_refused() -> None:
    with pytest.raises(InvalidInput, match="no forecast given"):
        plan_capacity(cluster(pool()), {}, PlanSettings(60.0), shapes=SHAPES)
    empty = Forecast("x", "device-hours", 3600, "m", {}, ())
    with pytest.raises(InvalidInput, match="empty"):
        plan_capacity(cluster(pool()), {"h100": empty}, PlanSettings(60.0), shapes=SHAPES)
    inverted = make_forecast([5.0], band=-0.5)  # lo80 above the mean
    with pytest.raises(InvalidInput, match="lo80 <= mean <= hi80"):
        plan_capacity(cluster(pool()), {"h100": inverted}, PlanSettings(60.0), shapes=SHAPES)


# -- several pools, reservations, costs ---------------------------------------------------------


def test_pools_without_a_forecast_keep_their_size_and_totals_add_up() -> None:
    """An NPU pool without a forecast is reported as not planned; hub and overall totals are the
    exact sums of the pools."""
    spec = cluster(pool("h100", 2, "seoul"), pool("rngd", 3, "gwangju", "RNGD"))
    plan = plan_capacity(spec, {"h100": FORECAST}, PlanSettings(1800.0, samples=2), shapes=SHAPES)
    h100, rngd = plan.pools
    assert h100.planned and not rngd.planned
    assert rngd.recommended_devices == rngd.current_devices == 12 and rngd.capital_krw == 0
    assert rngd.running_krw_per_year == 12 * rngd.running_krw_per_device_year
    assert h100.capital_krw == h100.added_devices * 52_000_000
    assert isinstance(plan.total.capital_krw, int)
    assert plan.total.capital_krw == sum(p.capital_krw for p in plan.pools)
    assert plan.total.running_krw_per_year == sum(p.running_krw_per_year for p in plan.pools)
    assert [hub.hub for hub in plan.hubs] == ["seoul", "gwangju"]
    assert plan.hubs[1].recommended_devices == 12


def test_reserved_nodes_are_added_on_top_of_the_batch_plan() -> None:
    """A service holding one node keeps it: the recommendation is batch nodes plus that node."""
    reserved = ReservationSpec(1, "svc", "h100", 1, ((0.0, 4),))
    plain = plan_for(1800.0).pools[0]
    spec = cluster(pool(nodes=3), reservations=(reserved,))
    plan = plan_capacity(
        spec, {"h100": FORECAST}, PlanSettings(1800.0, samples=3), shapes=SHAPES
    ).pools[0]
    assert plan.reserved_devices == 4
    assert plan.recommended_devices == plain.recommended_devices + 4


def test_running_cost_is_exact_whole_won() -> None:
    """An H100 (700 W, 52M won): energy 1.05 kW x 1.3 x 8,760 h x 180 = 2,152,332; hosting
    1.05 x 150,000 x 12 = 1,890,000; maintenance 10% = 5,200,000."""
    book = CostBook()
    assert running_per_device_year(52_000_000, 700, book.assumptions) == 9_242_332
    assert book.device_cost("h100").running_krw_per_year == 9_242_332
    # Rounded once, half up: 3,074.76 + 2,700 + 0.1 = 5,774.86 -> 5,775; 0.5 -> 1 (not 0).
    assert running_per_device_year(1, 1, book.assumptions) == 5_775
    assert running_per_device_year(5, 0, book.assumptions) == 1


def test_cost_overrides_from_most_general_to_most_specific() -> None:
    """Cluster-spec costs, then the costs file, then keys on the pool itself."""
    cluster_data = {
        "costs": {
            "electricity_krw_per_kwh": 100,
            "accelerators": {"H100": {"device_power_w": 600}},
        },
        "hubs": [{"name": "a", "pools": [{"name": "p1", "device_price_krw": 40_000_000}]}],
    }
    costs_data = {"pue": 1.2, "accelerators": {"h100": {"device_price_krw": 45_000_000}}}
    book = cost_book_from(cluster_data, costs_data)
    assert str(book.assumptions.electricity_krw_per_kwh) == "100"
    assert str(book.assumptions.pue) == "1.2"
    plain = book.device_cost("H100")
    assert (plain.device_price_krw, plain.device_power_w) == (45_000_000, 600)
    on_pool = book.device_cost("H100", "p1")
    assert on_pool.device_price_krw == 40_000_000 and "pool p1" in on_pool.price_basis
    with pytest.raises(InvalidInput, match="unknown key"):
        cost_book_from({"hubs": []}, {"electricity": 100})
    with pytest.raises(InvalidInput, match="whole number"):
        cost_book_from({"hubs": [{"name": "a", "pools": [{"name": "p", "device_price_krw": -1}]}]})
    with pytest.raises(InvalidInput, match="fraction"):
        cost_book_from({"hubs": []}, {"fleet_utilisation": 1.5})


def test_cost_per_h100e_hour_per_class() -> None:
    """H100: (52M / 5 + 9,242,332) / (8,760 x 0.7) = 3,203 won per H100e-hour for both classes;
    inference-only NPUs are not offered for training; RNGD inference uses the measured ratio."""
    rows = {(r.accelerator, r.workload_class): r for r in compare_classes(["RNGD"])}
    assert rows[("H100", "training")].krw_per_h100e_hour == 3203
    assert rows[("H100", "inference")].krw_per_h100e_hour == 3203
    assert rows[("RNGD", "training")].krw_per_h100e_hour is None
    rngd = rows[("RNGD", "inference")]
    assert rngd.h100e_per_device_hour == pytest.approx(0.298)
    assert "measured" in rngd.basis and isinstance(rngd.krw_per_h100e_hour, int)
    assert rows[("SAPEON-X330", "inference")].krw_per_h100e_hour is None  # no published peak


# -- budget ------------------------------------------------------------------------------------


def test_a_generous_budget_fits_with_money_left() -> None:
    plan = plan_for(600.0, budget_krw=10**12)
    assert plan.budget is not None and plan.budget.fits
    assert plan.budget.spent_krw == plan.total.capital_krw
    assert "left over" in plan.budget.note


def test_a_short_budget_buys_the_best_worst_pool_wait_it_can() -> None:
    """With the pool at its search floor and no money, the budget 'buys' the floor: its p90 is
    above the target, and nothing is spent; with one node's worth, one node is bought."""
    target = 60.0
    floor = floor_nodes(pool(), FORECAST, SHAPES)
    spec = cluster(pool(nodes=floor))
    nothing = plan_capacity(
        spec, {"h100": FORECAST}, PlanSettings(target, samples=3, budget_krw=0), shapes=SHAPES
    )
    assert nothing.pools[0].added_devices > 4  # the target needs at least two more nodes
    outcome = nothing.budget
    assert outcome is not None and not outcome.fits and outcome.spent_krw == 0
    assert outcome.best_p90_wait_s is not None and outcome.best_p90_wait_s > target
    one_node = plan_capacity(
        spec,
        {"h100": FORECAST},
        PlanSettings(target, samples=3, budget_krw=4 * 52_000_000),
        shapes=SHAPES,
    ).budget
    assert one_node is not None and one_node.spent_krw <= 4 * 52_000_000
    assert one_node.best_p90_wait_s is not None
    assert one_node.best_p90_wait_s <= outcome.best_p90_wait_s
    assert "h100" in one_node.note or one_node.spent_krw == 0


def test_a_budget_below_the_search_floor_says_what_it_would_take() -> None:
    """A one-node pool and no money: the note names the capital the floor needs."""
    plan = plan_capacity(
        cluster(pool(nodes=1)),
        {"h100": FORECAST},
        PlanSettings(60.0, samples=2, budget_krw=0),
        shapes=SHAPES,
    )
    assert plan.budget is not None and plan.budget.best_p90_wait_s is None
    assert "needs" in plan.budget.note and "won" in plan.budget.note
