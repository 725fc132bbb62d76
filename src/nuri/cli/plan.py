"""``nuri plan`` and ``nuri estimate``: capacity plans from forecasts, compute from R&D targets.

Both run locally (no server)::

    nuri estimate --params 70B --tokens 2T --accelerator H100 --teams 5 --over 365d
    nuri estimate --inference --params 8B --tokens 500G --accelerator RNGD --accelerator H100
    nuri plan --cluster cluster.yaml --forecast h100=h100.json --target-p90-wait 1h \\
        --budget 5000000000

``--forecast`` takes ``POOL=F.json`` once per pool (the JSON ``nuri forecast --json`` prints); a
bare ``F.json`` is accepted when the cluster has one pool. ``--json`` prints one object. Bad
input raises ``InvalidInput``, which the ``nuri`` entry point prints as one line (exit status 1).
The method and every default are in ``docs/planning.md``.
"""

import json
import math
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nuri.cli.render import console, errors, print_json, print_table, won
from nuri.domain.cluster_spec import ClusterSpec, load_cluster_spec
from nuri.domain.errors import InvalidInput
from nuri.domain.jobs import format_duration, parse_duration

if TYPE_CHECKING:  # the planner pulls in NumPy, pandas and the simulator: load them on use
    from nuri.forecasting.forecast import Forecast
    from nuri.planning.capacity import BudgetOutcome, CapacityPlan, PoolPlan, Totals
    from nuri.planning.compute_estimate import ComputeEstimate, RequestCheck
    from nuri.planning.costs import ClassCost


# -- nuri plan ---------------------------------------------------------------------------------


def plan(
    cluster: Annotated[Path, typer.Option(help="Cluster spec YAML (hubs and pools).")],
    forecast: Annotated[
        list[str],
        typer.Option(
            help="POOL=F.json: a pool's demand forecast (repeat per pool); a bare F.json only"
            " for a one-pool cluster."
        ),
    ],
    target_p90_wait: Annotated[
        str, typer.Option(help="Wait 90% of jobs must not exceed, e.g. 30m, 1h, 4h.")
    ],
    budget: Annotated[
        str | None, typer.Option(help="Capital for added devices, whole won (e.g. 5000000000).")
    ] = None,
    costs: Annotated[
        Path | None, typer.Option(help="Cost assumptions YAML (see docs/planning.md).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the sampled demand.")] = 0,
    samples: Annotated[int, typer.Option(help="Sampled workloads per pool.")] = 8,
    confidence: Annotated[
        float,
        typer.Option(
            help="Confidence (0-1) that a fresh set of as many samples meets the target"
            " (prediction bound from the spread between independent sample pairs)."
        ),
    ] = 0.9,
    policy: Annotated[str, typer.Option(help="Scheduling policy simulated.")] = "easy-backfill",
    jobs_like: Annotated[
        Path | None,
        typer.Option(help="Trace whose job sizes and run times to sample (default: synthetic)."),
    ] = None,
    arrivals: Annotated[
        str, typer.Option(help="How sampled jobs arrive: demand-following or poisson.")
    ] = "demand-following",
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Recommend devices per pool and hub so that 90% of jobs start within the target."""
    from nuri.planning.capacity import PlanSettings, plan_capacity
    from nuri.planning.costs import load_cost_book
    from nuri.planning.demand_sampling import ArrivalModel, shapes_from_trace, synthetic_shapes

    try:
        arrival_model = ArrivalModel(arrivals)
    except ValueError:
        known = ", ".join(model.value for model in ArrivalModel)
        raise InvalidInput(f"--arrivals {arrivals!r} is unknown; use one of {known}") from None
    settings = PlanSettings(
        target_p90_wait_s=float(duration_option(target_p90_wait, "--target-p90-wait")),
        samples=samples,
        seed=seed,
        policy=policy,
        budget_krw=parse_won(budget) if budget is not None else None,
        arrivals=arrival_model,
        confidence=confidence,
    )
    spec = load_cluster_spec(cluster)
    forecasts = read_forecasts(forecast, spec)
    book = load_cost_book(cluster, costs)
    if jobs_like is not None:
        from nuri.traces.schema import read_trace

        shapes = shapes_from_trace(read_trace(jobs_like), seed=seed, source=jobs_like.name)
    else:
        shapes = synthetic_shapes(seed=seed)

    def progress(message: str) -> None:
        if errors.is_terminal:
            errors.print(f"nuri plan: {message}", highlight=False, markup=False)

    result = plan_capacity(spec, forecasts, settings, shapes=shapes, costs=book, progress=progress)
    if as_json:
        print_json(plan_json(result))
        return
    print_plan(result)


def duration_option(text: str, option: str) -> int:
    """Seconds in a duration such as ``30m``, ``1h``, ``4h`` or ``365d``, or a message naming
    the option."""
    try:
        return parse_duration(text)
    except InvalidInput:
        raise InvalidInput(
            f"{option} {text!r} is not a positive duration; write e.g. 30m, 1h, 4h or 365d"
        ) from None


def parse_won(text: str) -> int:
    """Whole won from ``5000000000``, ``5,000,000,000``, ``5_000_000_000`` or ``5e9``."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput(
            f"budget {text!r} is not a number of won; write e.g. 5000000000"
        ) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise InvalidInput(f"budget {text!r} must be a whole number of won")
    if value < 0:
        raise InvalidInput(f"the budget must be zero or more won, got {text}")
    return int(value)


def read_forecasts(options: list[str], spec: ClusterSpec) -> "dict[str, Forecast]":
    """``POOL=F.json`` options (or one bare ``F.json`` for a one-pool cluster) read into forecasts."""
    from nuri.forecasting.forecast import Forecast

    names = [pool.name for pool in spec.pools]
    found: dict[str, Forecast] = {}
    for option in options:
        pool, separator, path = option.partition("=")
        if not separator:
            if len(names) != 1:
                raise InvalidInput(
                    f"the cluster has pools {', '.join(names)}: name the pool of each forecast,"
                    f" e.g. --forecast {names[0]}={option}"
                )
            pool, path = names[0], option
        pool = pool.strip()
        if pool not in names:
            raise InvalidInput(
                f"--forecast names pool {pool!r}, which the cluster lacks; its pools are"
                f" {', '.join(names)}"
            )
        if pool in found:
            raise InvalidInput(f"pool {pool} has more than one --forecast; give one per pool")
        file = Path(path.strip())
        try:
            data = json.loads(file.read_text())
        except FileNotFoundError:
            raise InvalidInput(f"no forecast file at {file}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InvalidInput(f"{file} is not JSON: {error}") from None
        found[pool] = Forecast.from_json(data)
    return found


def wait_text(seconds: float | None) -> str:
    """A wait for people: seconds, minutes or hours; 'unbounded' for inf."""
    if seconds is None:
        return ""
    if not math.isfinite(seconds):
        return "unbounded"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def print_plan(result: "CapacityPlan") -> None:
    settings = result.settings
    rows: list[list[Any]] = []
    for pool in result.pools:
        if not pool.planned:
            status, erlang, erlang_devices = "not planned", "", ""
        else:
            status = (
                f"{wait_text(pool.simulated_p90_wait_s)}"
                f" (bound {wait_text(pool.simulated_p90_wait_upper_s)})"
            )
            if not pool.meets_target:
                status += " (misses target)"
            erlang = (
                f"{wait_text(pool.erlang_c_p90_wait_s)} /"
                f" {wait_text(pool.erlang_c_pointwise_p90_wait_s)}"
            )
            erlang_devices = f"{pool.erlang_c_devices} / {pool.erlang_c_pointwise_devices}"
        change = f"+{pool.added_devices}" if pool.added_devices else "0"
        if pool.surplus_devices:
            change = f"-{pool.surplus_devices} (surplus)"
        rows.append(
            [
                pool.hub,
                pool.pool,
                pool.accelerator,
                pool.current_devices,
                pool.recommended_devices,
                change,
                status,
                erlang,
                erlang_devices,
                won(pool.capital_krw),
                won(pool.running_krw_per_year),
            ]
        )
    print_table(
        f"Capacity plan: p90 wait <= {format_duration(math.ceil(settings.target_p90_wait_s))}"
        f" ({settings.policy}, {settings.samples} samples per pool, seed {settings.seed},"
        f" {settings.arrivals.value} arrivals; jobs: {result.shapes_source})",
        [
            "Hub",
            "Pool",
            "Accelerator",
            "Current devices",
            "Recommended",
            "Added",
            "Simulated p90 wait",
            "Erlang C p90 wait (mean load / hourly)",
            "Erlang C devices (mean load / hourly)",
            "Capital (added)",
            "Running / year",
        ],
        rows,
    )
    print_table(
        "Totals",
        ["Hub", "Current devices", "Recommended", "Added", "Capital (added)", "Running / year"],
        [
            [
                totals.hub,
                totals.current_devices,
                totals.recommended_devices,
                totals.added_devices,
                won(totals.capital_krw),
                won(totals.running_krw_per_year),
            ]
            for totals in (*result.hubs, result.total)
        ],
    )
    by_accelerator: dict[str, dict[str, Any]] = {}
    for row in result.comparison:
        entry = by_accelerator.setdefault(
            row.accelerator,
            {
                "row": row,
                "training": ("not offered", ""),
                "inference": ("", ""),
            },
        )
        rate = "" if row.h100e_per_device_hour is None else f"{row.h100e_per_device_hour:.3f}"
        cost = "n/a" if row.krw_per_h100e_hour is None else won(row.krw_per_h100e_hour)
        entry[row.workload_class] = (f"{rate} -> {cost}" if rate else cost, row.basis)
    print_table(
        "Cost per H100e GPU-hour delivered, by workload class (H100e per device-hour -> won)",
        [
            "Accelerator",
            "Domestic",
            "Price / device",
            "Running / device-year",
            "Training",
            "Inference",
            "Inference basis",
        ],
        [
            [
                model,
                "yes" if entry["row"].domestic else "",
                won(entry["row"].device_price_krw),
                won(entry["row"].running_krw_per_year),
                entry["training"][0],
                entry["inference"][0],
                entry["inference"][1],
            ]
            for model, entry in by_accelerator.items()
        ],
    )
    if result.budget is not None:
        outcome = result.budget
        verdict = "fits" if outcome.fits else "does not fit"
        console.print(
            f"Budget {won(outcome.budget_krw)} {verdict} the plan's capital of"
            f" {won(outcome.capital_needed_krw)}: {outcome.note}.",
            highlight=False,
            markup=False,
        )
        if not outcome.fits and outcome.spends:
            print_table(
                "What the budget buys",
                ["Pool", "Hub", "Added devices", "Capital", "Simulated p90 wait"],
                [
                    [s.pool, s.hub, s.added_devices, won(s.capital_krw), wait_text(s.p90_wait_s)]
                    for s in outcome.spends
                ],
            )


# -- JSON ----------------------------------------------------------------------------------


def plan_json(plan: "CapacityPlan") -> dict[str, Any]:
    """The plan as one JSON-ready object: waits in seconds (``null`` when unbounded), money in
    whole won, each pool with every candidate size simulated."""
    return {
        "target_p90_wait_s": plan.settings.target_p90_wait_s,
        "policy": plan.settings.policy,
        "samples": plan.settings.samples,
        "seed": plan.settings.seed,
        "confidence": plan.settings.confidence,
        "arrivals": plan.settings.arrivals.value,
        "antithetic": plan.settings.antithetic,
        "job_shapes": plan.shapes_source,
        "pools": [_pool_json(pool) for pool in plan.pools],
        "hubs": [_totals_json(hub) for hub in plan.hubs],
        "total": _totals_json(plan.total),
        "budget": None if plan.budget is None else _budget_json(plan.budget),
        "comparison": [_class_json(row) for row in plan.comparison],
        "assumptions": dict(plan.assumptions),
    }


def _seconds(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 1)


def _pool_json(pool: "PoolPlan") -> dict[str, Any]:
    return {
        "hub": pool.hub,
        "pool": pool.pool,
        "accelerator": pool.accelerator,
        "planned": pool.planned,
        "current_devices": pool.current_devices,
        "recommended_devices": pool.recommended_devices,
        "added_devices": pool.added_devices,
        "surplus_devices": pool.surplus_devices,
        "reserved_devices": pool.reserved_devices,
        "meets_target": pool.meets_target,
        "simulated_p90_wait_s": _seconds(pool.simulated_p90_wait_s),
        "simulated_p90_wait_upper_s": _seconds(pool.simulated_p90_wait_upper_s),
        "simulated_mean_wait_s": _seconds(pool.simulated_mean_wait_s),
        "simulated_utilisation": None
        if pool.simulated_utilisation is None
        else round(pool.simulated_utilisation, 4),
        "sample_p90_wait_s": [_seconds(value) for value in pool.sample_p90_wait_s],
        "erlang_c_p90_wait_s": _seconds(pool.erlang_c_p90_wait_s),
        "erlang_c_devices": pool.erlang_c_devices,
        "erlang_c_pointwise_p90_wait_s": _seconds(pool.erlang_c_pointwise_p90_wait_s),
        "erlang_c_pointwise_devices": pool.erlang_c_pointwise_devices,
        "mean_demand_devices": None
        if pool.mean_demand_devices is None
        else round(pool.mean_demand_devices, 2),
        "largest_job_devices": pool.largest_job_devices,
        "device_price_krw": pool.device_price_krw,
        "running_krw_per_device_year": pool.running_krw_per_device_year,
        "capital_krw": pool.capital_krw,
        "running_krw_per_year": pool.running_krw_per_year,
        "candidates": [
            {
                "devices": c.devices,
                "p90_wait_s": _seconds(c.p90_wait_s),
                "p90_wait_upper_s": _seconds(c.p90_wait_upper_s),
            }
            for c in pool.candidates
        ],
    }


def _totals_json(totals: "Totals") -> dict[str, Any]:
    return {
        "hub": totals.hub,
        "current_devices": totals.current_devices,
        "recommended_devices": totals.recommended_devices,
        "added_devices": totals.added_devices,
        "capital_krw": totals.capital_krw,
        "running_krw_per_year": totals.running_krw_per_year,
    }


def _budget_json(budget: "BudgetOutcome") -> dict[str, Any]:
    return {
        "budget_krw": budget.budget_krw,
        "capital_needed_krw": budget.capital_needed_krw,
        "fits": budget.fits,
        "spent_krw": budget.spent_krw,
        "best_p90_wait_s": _seconds(budget.best_p90_wait_s),
        "spends": [
            {
                "pool": s.pool,
                "hub": s.hub,
                "added_devices": s.added_devices,
                "capital_krw": s.capital_krw,
                "p90_wait_s": _seconds(s.p90_wait_s),
            }
            for s in budget.spends
        ],
        "note": budget.note,
    }


def _class_json(row: "ClassCost") -> dict[str, Any]:
    return {
        "accelerator": row.accelerator,
        "domestic": row.domestic,
        "workload_class": row.workload_class,
        "h100e_per_device_hour": None
        if row.h100e_per_device_hour is None
        else round(row.h100e_per_device_hour, 4),
        "basis": row.basis,
        "device_price_krw": row.device_price_krw,
        "running_krw_per_year": row.running_krw_per_year,
        "krw_per_h100e_hour": row.krw_per_h100e_hour,
    }


# -- nuri estimate -----------------------------------------------------------------------------


def estimate(
    params: Annotated[str, typer.Option(help="Model parameters, e.g. 70B, 7.5B, 350M.")],
    tokens: Annotated[
        str,
        typer.Option(help="Training tokens (or tokens processed, with --inference), e.g. 2T."),
    ],
    accelerator: Annotated[
        list[str] | None, typer.Option(help="Accelerator to estimate on (repeat; default H100).")
    ] = None,
    teams: Annotated[int, typer.Option(help="Teams each doing this.")] = 1,
    inference: Annotated[
        bool, typer.Option("--inference", help="Serving: 2 x parameters FLOPs per token.")
    ] = False,
    mfu: Annotated[
        float | None,
        typer.Option(help="Expected utilisation of peak (default 0.40 training, 0.10 inference)."),
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="bf16 (or fp16), fp8, int8 or fp32 (default by kind).")
    ] = None,
    peak_tflops: Annotated[
        float | None, typer.Option(help="Use this dense peak instead of the published one.")
    ] = None,
    over: Annotated[
        str | None, typer.Option(help="Spread over a period, e.g. 365d: devices busy on average.")
    ] = None,
    requested: Annotated[
        float | None,
        typer.Option(help="H100e GPU-hours a proposal asks for: check it against the estimate."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON.")] = False,
) -> None:
    """Device-hours and H100e GPU-hours that an R&D target needs (6ND training, 2N inference)."""
    from nuri.planning.accelerator_figures import parse_precision
    from nuri.planning.compute_estimate import (
        ComputeTarget,
        WorkloadKind,
        check_request,
        estimate_compute,
        parse_quantity,
    )

    target = ComputeTarget(
        kind=WorkloadKind.INFERENCE if inference else WorkloadKind.TRAINING,
        parameters=parse_quantity(params, "--params"),
        tokens=parse_quantity(tokens, "--tokens"),
        teams=teams,
    )
    period_s = float(duration_option(over, "--over")) if over is not None else None
    chosen = parse_precision(precision) if precision is not None else None
    models = accelerator or ["H100"]
    if peak_tflops is not None and len(models) > 1:
        raise InvalidInput("--peak-tflops applies to one accelerator; give only one --accelerator")
    estimates = [
        estimate_compute(
            target,
            model,
            utilisation=mfu,
            precision=chosen,
            peak_tflops=peak_tflops,
            period_s=period_s,
        )
        for model in models
    ]
    check = check_request(requested, estimates[0]) if requested is not None else None
    if as_json:
        print_json(estimate_json(estimates, check))
        return
    print_estimates(estimates, check)


def estimate_json(
    estimates: "list[ComputeEstimate]", check: "RequestCheck | None"
) -> dict[str, Any]:
    target = estimates[0].target
    return {
        "kind": target.kind.value,
        "parameters": target.parameters,
        "tokens": target.tokens,
        "teams": target.teams,
        "flops": target.flops,
        "period_s": estimates[0].period_s,
        "estimates": [
            {
                "accelerator": e.accelerator,
                "precision": e.precision.value,
                "peak_tflops": e.peak_tflops,
                "peak_source": e.peak_source,
                "peak_basis": None if e.peak_basis is None else e.peak_basis.value,
                "utilisation": e.utilisation,
                "device_hours": e.device_hours,
                "h100e_gpu_hours": e.h100e_gpu_hours,
                "devices_busy": e.devices_busy,
                "h100e_per_hour": e.h100e_per_hour,
                "caveats": list(e.caveats),
            }
            for e in estimates
        ],
        "request": None
        if check is None
        else {
            "requested_h100e_gpu_hours": check.requested_h100e_gpu_hours,
            "estimated_h100e_gpu_hours": check.estimated_h100e_gpu_hours,
            "ratio": check.ratio,
            "verdict": check.verdict.value,
            "within_band": list(check.band),
        },
    }


def quantity_text(value: float) -> str:
    """``7e10`` as ``70B``, ``2e12`` as ``2T``: the form ``--params`` and ``--tokens`` take."""
    for suffix, size in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:,.4g}{suffix}"
    return f"{value:,.4g}"


def print_estimates(estimates: "list[ComputeEstimate]", check: "RequestCheck | None") -> None:
    target = estimates[0].target
    teams = f"{target.teams} teams x " if target.teams > 1 else ""
    what = "training" if target.kind.value == "training" else "inference"
    period = estimates[0].period_s
    columns = [
        "Accelerator",
        "Precision",
        "Peak TFLOPS",
        "Utilisation",
        "Device-hours",
        "H100e GPU-hours",
    ]
    if period is not None:
        columns += ["Devices busy", "H100e per hour"]
    rows = []
    for e in estimates:
        row: list[Any] = [
            e.accelerator,
            e.precision.value,
            f"{e.peak_tflops:,.1f}",
            f"{e.utilisation:.2f}",
            f"{e.device_hours:,.0f}",
            f"{e.h100e_gpu_hours:,.0f}",
        ]
        if period is not None:
            row += [f"{e.devices_busy:,.1f}", f"{e.h100e_per_hour:,.1f}"]
        rows.append(row)
    print_table(
        f"Compute for {teams}{what} of a model of {quantity_text(target.parameters)} parameters"
        f" on {quantity_text(target.tokens)} tokens: {target.flops:.3e} FLOPs",
        columns,
        rows,
    )
    for e in estimates:
        basis = "" if e.peak_basis is None else f" ({e.peak_basis.value})"
        console.print(
            f"{e.accelerator} peak: {e.peak_source}{basis}", highlight=False, markup=False
        )
        for caveat in e.caveats:
            console.print(f"  caveat: {caveat}", highlight=False, markup=False)
    if period is not None:
        console.print(
            f"Spread over {period / 86400:,.0f} days: devices busy = device-hours per hour,"
            " to add to an hourly pool forecast.",
            highlight=False,
            markup=False,
        )
    if check is not None:
        low, high = check.band
        console.print(
            f"Request of {check.requested_h100e_gpu_hours:,.0f} H100e GPU-hours is"
            f" {check.ratio:.2f}x the estimate on {estimates[0].accelerator}:"
            f" {check.verdict.value} (within is {low:.2f}-{high:.2f}x).",
            highlight=False,
            markup=False,
        )
