"""Proposed awards: as many score-weighted GPU-hours as the call's pool budgets allow.

A mixed-integer programme, solved with HiGHS::

    maximise    sum_p weight_p * sum_k x[p,k]
    subject to  sum_p x[p,k] <= budget_k                       each pool k (its share of the call)
                0 <= x[p,k] <= requested[p,k] * funded_p        never more than asked, only if funded
                sum_k x[p,k] >= minimum_p * funded_p            a funded proposal gets at least its
                                                                minimum viable amount
                x[p,k] integer (whole GPU-hours), funded_p in {0, 1}

``weight_p`` is the proposal's standing (e.g. its normalised review score shifted to be
positive); proposals with no positive weight are not funded. GPU-hours are H100-equivalent, as
awards are. The solution is checked against the budgets before it is returned, so a solver
tolerance can never overspend a pool.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from nuri.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class AwardRequest:
    proposal: str
    weight: float
    requested: Mapping[str, int]
    """Whole H100e GPU-hours asked for, per pool."""
    minimum: int = 0
    """The least total that makes the project viable; funding less is funding nothing."""


@dataclass(frozen=True, slots=True)
class AwardPlan:
    granted: dict[str, dict[str, int]]
    """Proposal -> pool -> GPU-hours; only funded proposals appear."""
    objective: float
    optimal: bool

    def pool_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for pools in self.granted.values():
            for pool, hours in pools.items():
                totals[pool] = totals.get(pool, 0) + hours
        return totals


def optimise_awards(
    requests: Sequence[AwardRequest],
    budgets: Mapping[str, int],
    time_limit_s: float = 30.0,
) -> AwardPlan:
    """The awards that maximise score-weighted granted hours within the pool budgets."""
    _check(requests, budgets)
    candidates = [r for r in requests if r.weight > 0 and sum(r.requested.values()) > 0]
    if not candidates:
        return AwardPlan({}, 0.0, True)
    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # its stub leaves __init__ untyped
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("mip_rel_gap", 1e-6)
    inf = highspy.kHighsInf
    columns: dict[tuple[int, str], int] = {}
    funded: dict[int, int] = {}
    count = 0

    def new_column(lower: float, upper: float, cost: float) -> int:
        nonlocal count
        highs.addVar(lower, upper)
        highs.changeColCost(count, cost)
        highs.changeColIntegrality(count, highspy.HighsVarType.kInteger)
        count += 1
        return count - 1

    for index, request in enumerate(candidates):
        funded[index] = new_column(0, 1, 0.0)
        for pool, hours in request.requested.items():
            if hours > 0:
                columns[(index, pool)] = new_column(0, hours, request.weight)

    def add_row(lower: float, upper: float, entries: Mapping[int, float]) -> None:
        indices = np.array(list(entries), dtype=np.int32)
        values = np.array(list(entries.values()), dtype=np.float64)
        highs.addRow(lower, upper, len(indices), indices, values)

    for (index, pool), column in columns.items():
        hours = candidates[index].requested[pool]
        add_row(-inf, 0.0, {column: 1.0, funded[index]: -float(hours)})
    for index, request in enumerate(candidates):
        own = {column: 1.0 for (i, _), column in columns.items() if i == index}
        if request.minimum > 0:
            add_row(0.0, inf, {**own, funded[index]: -float(request.minimum)})
    for pool, budget in budgets.items():
        using = {column: 1.0 for (_, p), column in columns.items() if p == pool}
        if using:
            add_row(-inf, float(budget), using)
    highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
    highs.run()
    status = highs.getModelStatus()
    values = highs.getSolution().col_value
    if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
        raise InvalidInput(
            f"the award optimiser found no plan: {highs.modelStatusToString(status)}"
        )
    granted: dict[str, dict[str, int]] = {}
    for (index, pool), column in columns.items():
        hours = round(values[column])
        if hours > 0 and round(values[funded[index]]) == 1:
            granted.setdefault(candidates[index].proposal, {})[pool] = hours
    plan = AwardPlan(
        granted=granted,
        objective=sum(
            request.weight * sum(granted.get(request.proposal, {}).values())
            for request in candidates
        ),
        optimal=status == highspy.HighsModelStatus.kOptimal,
    )
    _verify(plan, candidates, budgets)
    return plan


def _check(requests: Sequence[AwardRequest], budgets: Mapping[str, int]) -> None:
    names = [r.proposal for r in requests]
    if len(set(names)) != len(names):
        raise InvalidInput("each proposal may appear once in an award decision")
    for pool, budget in budgets.items():
        if budget < 0:
            raise InvalidInput(f"the budget of pool {pool} must not be negative")
    for request in requests:
        unknown = sorted(set(request.requested) - set(budgets))
        if unknown:
            raise InvalidInput(
                f"proposal {request.proposal} asks for pools the call has no budget for:"
                f" {', '.join(unknown)}"
            )
        if any(hours < 0 for hours in request.requested.values()) or request.minimum < 0:
            raise InvalidInput(f"proposal {request.proposal}: hours must not be negative")


def _verify(plan: AwardPlan, requests: Sequence[AwardRequest], budgets: Mapping[str, int]) -> None:
    """The plan must keep every promise, whatever the solver's tolerances."""
    for pool, total in plan.pool_totals().items():
        if total > budgets[pool]:
            raise AssertionError(f"award plan overspends pool {pool}: {total} > {budgets[pool]}")
    by_name = {r.proposal: r for r in requests}
    for proposal, pools in plan.granted.items():
        request = by_name[proposal]
        if any(hours > request.requested[pool] for pool, hours in pools.items()):
            raise AssertionError(f"award plan grants {proposal} more than it asked")
        if sum(pools.values()) < request.minimum:
            raise AssertionError(f"award plan grants {proposal} less than its minimum")
