"""Capacity planning for the commons: what R&D targets need, and how many devices to buy.

Two questions, one package::

    compute_estimate      R&D targets (parameters, tokens, accelerator) -> device-hours, H100e
     +-- accelerator_figures   peak throughput, power and price per accelerator, with sources
    capacity              a demand forecast per pool + a p90-wait target -> devices per pool/hub
     +-- demand_sampling       forecast -> sampled jobs the simulator runs
     +-- wait_bound            the bound on a fresh sample set's p90 wait (sectioning)
     +-- erlang                Erlang C, the quick cross-check
     +-- costs                 capital and running cost in whole won; H100 vs NPU per class

Everything here is pure: values in, values out (the simulator is pure already). Reading files
and printing belong to ``nuri.cli.plan``. See ``docs/planning.md``.
"""

from nuri.planning.accelerator_figures import (
    FIGURES,
    AcceleratorFigures,
    Basis,
    Precision,
    figures_for,
    parse_precision,
)
from nuri.planning.capacity import (
    BudgetOutcome,
    CapacityPlan,
    PlanSettings,
    PoolPlan,
    SizeResult,
    Totals,
    WaitCurve,
    plan_capacity,
    simulate_size,
)
from nuri.planning.compute_estimate import (
    ComputeEstimate,
    ComputeTarget,
    RequestCheck,
    Verdict,
    WorkloadKind,
    add_to_forecast,
    check_request,
    estimate_compute,
    parse_quantity,
)
from nuri.planning.costs import (
    ClassCost,
    CostAssumptions,
    CostBook,
    DeviceCost,
    compare_classes,
    cost_book_from,
    load_cost_book,
)
from nuri.planning.demand_sampling import (
    ArrivalModel,
    DemandSample,
    JobShapes,
    sample_demand,
    sample_pool,
    shapes_from_trace,
    synthetic_shapes,
)

__all__ = [
    "FIGURES",
    "AcceleratorFigures",
    "ArrivalModel",
    "Basis",
    "BudgetOutcome",
    "CapacityPlan",
    "ClassCost",
    "ComputeEstimate",
    "ComputeTarget",
    "CostAssumptions",
    "CostBook",
    "DemandSample",
    "DeviceCost",
    "JobShapes",
    "PlanSettings",
    "PoolPlan",
    "Precision",
    "RequestCheck",
    "SizeResult",
    "Totals",
    "Verdict",
    "WaitCurve",
    "WorkloadKind",
    "add_to_forecast",
    "check_request",
    "compare_classes",
    "cost_book_from",
    "estimate_compute",
    "figures_for",
    "load_cost_book",
    "parse_precision",
    "parse_quantity",
    "plan_capacity",
    "sample_demand",
    "sample_pool",
    "shapes_from_trace",
    "simulate_size",
    "synthetic_shapes",
]
