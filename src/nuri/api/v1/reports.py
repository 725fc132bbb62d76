"""API v1 routes for demand, forecasts and reports (spend, burn-down, needs), as JSON or CSV."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Response

from nuri.api.v1.routes import ActorDep, CommonsDep
from nuri.api.v1.schemas import RowId
from nuri.service.csv_export import csv_text
from nuri.service.demand import DemandSeriesView
from nuri.service.reports import (
    AwardBurnDown,
    BurnDownPoint,
    NeedRow,
    ProgrammeBurnDown,
    SpendRow,
)

router = APIRouter(tags=["reports"])
View = TypeVar("View")

Format = Annotated[
    Literal["json", "csv"], Query(description="json (default) or csv for a spreadsheet.")
]
SeriesName = Annotated[
    str,
    Query(
        max_length=100,
        description="all, pool:<pool>, hub:<hub>, community:<kind> or field:<field>.",
    ),
]
Step = Annotated[Literal["1h", "1d"], Query(description="Step of the series: an hour or a day.")]
Days = Annotated[int, Query(ge=1, le=366, description="How many days of history.")]
_STEP_S = {"1h": 3600, "1d": 86_400}
OR_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows as JSON, or with format=csv as CSV with a header line.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
"""Reports answer CSV when asked; the document says so beside the JSON rows."""


def _answer(
    view_type: type[View], rows: Sequence[View], form: str, name: str
) -> list[View] | Response:
    if form == "csv":
        return Response(
            csv_text(view_type, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return list(rows)


@router.get("/demand")
def demand_series(
    commons: CommonsDep,
    actor: ActorDep,
    series: SeriesName = "all",
    step: Step = "1h",
    days: Days = 30,
) -> DemandSeriesView:
    """Device-hours (a pool) or H100e GPU-hours (anything wider) demanded, delivered and left
    waiting in each whole step of the last ``days``."""
    return commons.demand.series(actor, series, step_s=_STEP_S[step], days=days)


@router.get("/forecasts")
def forecast(
    commons: CommonsDep,
    actor: ActorDep,
    series: SeriesName = "all",
    horizon: Annotated[
        str, Query(max_length=16, description="How far ahead, e.g. 7d, 36h, 2w.")
    ] = "7d",
    step: Step = "1h",
    days: Days = 30,
) -> dict[str, Any]:
    """The demanded series forecast ``horizon`` ahead: the model chosen by rolling-origin
    backtests, each model's backtest MASE and 80% interval coverage, and the points with
    calibrated 80% intervals; awards and call budgets that start later are added as known
    future demand."""
    return commons.demand.forecast(
        actor, series, horizon=horizon, step_s=_STEP_S[step], days=days
    ).to_json()


@router.get("/reports/spend", response_model=list[SpendRow], responses=OR_CSV)
def spend(
    commons: CommonsDep,
    actor: ActorDep,
    by: Annotated[
        str, Query(description="pool, hub, community, field, programme or project.")
    ] = "pool",
    since: Annotated[datetime | None, Query(description="Only charges from then on.")] = None,
    format: Format = "json",
) -> list[SpendRow] | Response:
    rows = commons.reports.spend(actor, by, since)
    return _answer(SpendRow, rows, format, f"spend-by-{by}")


@router.get("/reports/burn-down", response_model=list[AwardBurnDown], responses=OR_CSV)
def award_burn_down(
    commons: CommonsDep,
    actor: ActorDep,
    programme: Annotated[str | None, Query(description="Only this call's awards.")] = None,
    format: Format = "json",
) -> list[AwardBurnDown] | Response:
    """Every award the caller may see: used, held, remaining, pace and projected exhaustion."""
    rows = commons.reports.award_burn_down(actor, programme)
    return _answer(AwardBurnDown, rows, format, "burn-down")


@router.get(
    "/reports/burn-down/programmes", response_model=list[ProgrammeBurnDown], responses=OR_CSV
)
def programme_burn_down(
    commons: CommonsDep, actor: ActorDep, format: Format = "json"
) -> list[ProgrammeBurnDown] | Response:
    rows = commons.reports.programme_burn_down(actor)
    return _answer(ProgrammeBurnDown, rows, format, "programme-burn-down")


@router.get(
    "/reports/burn-down/{allocation_id}", response_model=list[BurnDownPoint], responses=OR_CSV
)
def burn_down_curve(
    allocation_id: RowId, commons: CommonsDep, actor: ActorDep, format: Format = "json"
) -> list[BurnDownPoint] | Response:
    """One award's used and remaining GPU-hours, day by day."""
    rows = commons.reports.burn_down_curve(actor, allocation_id)
    return _answer(BurnDownPoint, rows, format, f"burn-down-{allocation_id}")


@router.get("/reports/needs", response_model=list[NeedRow], responses=OR_CSV)
def needs(
    commons: CommonsDep, actor: ActorDep, days: Days = 30, format: Format = "json"
) -> list[NeedRow] | Response:
    """How much more is needed: per pool, utilisation, waiting demand and missing devices."""
    rows = commons.reports.needs(actor, days)
    return _answer(NeedRow, rows, format, "needs")
