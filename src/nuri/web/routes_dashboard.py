"""The operators' and policy makers' dashboard (admins and programme managers): spend and what is
still needed, utilisation per pool and hub by hour and weekday, waiting times, fairness over
communities, and demand forecasts with their intervals; CSV downloads of the same figures.

Every figure comes from the use cases the API and CLI use (``commons.reports``,
``commons.demand``), called with the signed-in actor, plus two small read-only queries
(:mod:`nuri.web.dashboard_queries`). The CSV downloads are the API's CSV views
(``csv_text``), served with the session instead of a bearer token.

Forecasts and the capacity plan page's plans (one pool at a time, few samples, against the pool's
own forecast) take seconds to work out, so they come from ``commons.analyses``, which works them
out ahead of time once per hour and keeps them in the database; ``nuri plan`` does the full job
for many pools.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from nuri.domain.commons import OrganisationKind
from nuri.domain.errors import InvalidInput
from nuri.service.access import require_commons_reader
from nuri.service.analyses import FORECAST_HORIZONS, PLAN_SAMPLES, PLAN_TARGETS_S
from nuri.service.csv_export import csv_text
from nuri.service.demand import DemandPoint
from nuri.service.reports import NeedRow, SpendRow
from nuri.web.charts import PLOTLY_VERSION, bars_figure, forecast_figure, heatmap_figure
from nuri.web.dashboard_queries import (
    MAX_WAIT_DAYS,
    awarded_by_community,
    jain_index,
    waits,
)
from nuri.web.errors import PortalRoute
from nuri.web.formatting import SEOUL
from nuri.web.i18n import refusal_text
from nuri.web.pages import Page, SignedInPage

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

DASHBOARDS = "read the commons' dashboards"
SPEND_BY = ("pool", "hub", "community", "programme")
UTILISATION_DAYS = 28
"""Four weeks: each weekday's cell averages four days."""
FORECAST_HISTORY_DAYS = 30
HISTORY_SHOWN_STEPS = 7 * 24
"""The forecast chart shows the last week of history before the forecast."""
SeriesName = Annotated[str | None, Query(max_length=80)]


def _json(figure: dict[str, Any]) -> str:
    # "</" cannot end the <script> element the JSON sits in once its slash is escaped.
    return json.dumps(figure, ensure_ascii=False).replace("</", "<\\/")


def _render(page: Page, template: str, section: str, **context: Any) -> Response:
    return page.render(
        template,
        section=section,
        plotly_src=page.path("portal_plotly", version=PLOTLY_VERSION),
        **context,
    )


def _csv(page: Page, text: str, filename: str) -> Response:
    response = Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    page.finish(response)
    return response


# -- spend and needs -------------------------------------------------------------------------


@router.get("/dashboard", name="portal_dashboard")
def spend_page(page: SignedInPage, by: Annotated[str, Query(max_length=20)] = "pool") -> Response:
    """Spend to date by pool, hub, community or programme, and the devices each pool lacks."""
    require_commons_reader(page.actor, DASHBOARDS)
    if by not in SPEND_BY:
        raise InvalidInput(f"cannot group spend by {by!r}; choose one of {', '.join(SPEND_BY)}")
    spend = page.commons.reports.spend(page.actor, by=by)
    needs = page.commons.reports.needs(page.actor, days=30)
    figure = bars_figure(
        [row.name for row in spend],
        [(page.t("dashboard.spend_gpu_hours"), [row.gpu_hours for row in spend])],
        axis_label=page.t("unit.gpu_hours"),
    )
    return _render(
        page,
        "dashboard_spend.html",
        "spend",
        by=by,
        groups=SPEND_BY,
        spend=spend,
        total_krw=sum(row.cost_krw for row in spend),
        total_gpu_hours=sum(row.gpu_hours for row in spend),
        needs=needs,
        additional_krw=sum(row.additional_krw_per_year for row in needs),
        figure_json=_json(figure),
    )


@router.get("/dashboard/spend.csv", name="portal_spend_csv")
def spend_csv(page: SignedInPage, by: Annotated[str, Query(max_length=20)] = "pool") -> Response:
    require_commons_reader(page.actor, DASHBOARDS)
    rows = page.commons.reports.spend(page.actor, by=by)
    return _csv(page, csv_text(SpendRow, rows), f"spend-by-{by}.csv")


@router.get("/dashboard/needs.csv", name="portal_needs_csv")
def needs_csv(page: SignedInPage) -> Response:
    require_commons_reader(page.actor, DASHBOARDS)
    rows = page.commons.reports.needs(page.actor, days=30)
    return _csv(page, csv_text(NeedRow, rows), "needs.csv")


@router.get("/dashboard/demand.csv", name="portal_demand_csv")
def demand_csv(
    page: SignedInPage,
    series: SeriesName = "all",
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    """A demand series hour by hour: demanded, delivered and waiting per step."""
    require_commons_reader(page.actor, DASHBOARDS)
    view = page.commons.demand.series(page.actor, series or "all", step_s=3600, days=days)
    name = view.series.replace(":", "-")
    return _csv(page, csv_text(DemandPoint, view.points), f"demand-{name}.csv")


# -- utilisation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesChoice:
    value: str
    label: str


def _series_choices(page: Page, *, with_all: bool) -> list[SeriesChoice]:
    choices = [SeriesChoice("all", page.t("dashboard.series_all"))] if with_all else []
    choices += [
        SeriesChoice(f"pool:{pool.name}", page.t("dashboard.series_pool", name=pool.name))
        for pool in page.commons.directory.list_pools()
    ]
    choices += [
        SeriesChoice(f"hub:{hub.name}", page.t("dashboard.series_hub", name=hub.name))
        for hub in page.commons.directory.list_hubs()
    ]
    if with_all:
        choices += [
            SeriesChoice(
                f"community:{kind}",
                page.t("dashboard.series_community", name=page.t.maybe("community." + kind, kind)),
            )
            for kind in OrganisationKind
        ]
    return choices


def _capacity_per_hour(page: Page, series: str) -> float:
    """What the series' unit per hour is at full use: a pool's devices, or a hub's H100e."""
    kind, _, name = series.partition(":")
    pools = page.commons.directory.list_pools()
    if kind == "pool":
        return float(sum(pool.devices for pool in pools if pool.name == name))
    return float(
        sum(pool.devices * Decimal(pool.exchange_rate) for pool in pools if pool.hub == name)
    )


@router.get("/dashboard/utilisation", name="portal_utilisation")
def utilisation_page(page: SignedInPage, series: SeriesName = None) -> Response:
    """Delivered over capacity by weekday and hour (the page's time zone), last four weeks."""
    require_commons_reader(page.actor, DASHBOARDS)
    choices = _series_choices(page, with_all=False)
    chosen = series or (choices[0].value if choices else "")
    if chosen not in {choice.value for choice in choices}:
        raise InvalidInput(f"choose a pool or a hub; {chosen!r} is neither")
    view = page.commons.demand.series(page.actor, chosen, step_s=3600, days=UTILISATION_DAYS)
    capacity = _capacity_per_hour(page, chosen)
    zone = SEOUL if page.lang == "ko" else UTC
    sums = [[0.0] * 24 for _ in range(7)]
    counts = [[0] * 24 for _ in range(7)]
    for point in view.points:
        local = point.timestamp.astimezone(zone)
        share = min(point.delivered / capacity, 1.0) if capacity else 0.0
        sums[local.weekday()][local.hour] += share
        counts[local.weekday()][local.hour] += 1
    grid: list[list[float | None]] = [
        [sums[d][h] / counts[d][h] if counts[d][h] else None for h in range(24)] for d in range(7)
    ]
    days = [page.t(f"weekday.{d}") for d in range(7)]
    hours = [str(h) for h in range(24)]
    delivered = sum(point.delivered for point in view.points)
    overall = delivered / (capacity * len(view.points)) if capacity and view.points else 0.0
    figure = heatmap_figure(
        days,
        hours,
        grid,
        value_label=page.t("dashboard.utilisation"),
        x_label=page.t("dashboard.hour_of_day", zone="KST" if page.lang == "ko" else "UTC"),
        y_label=page.t("dashboard.weekday"),
    )
    busiest = max(
        ((grid[d][h], d, h) for d in range(7) for h in range(24) if grid[d][h] is not None),
        default=None,
    )
    if busiest is not None and not busiest[0]:
        busiest = None  # idle all along: there is no busiest hour to name
    return _render(
        page,
        "dashboard_utilisation.html",
        "utilisation",
        choices=choices,
        chosen=chosen,
        unit=view.unit,
        overall=overall,
        busiest=busiest,
        days=days,
        grid=grid,
        zone="KST" if page.lang == "ko" else "UTC",
        figure_json=_json(figure),
        window_days=UTILISATION_DAYS,
    )


# -- waiting times ---------------------------------------------------------------------------


@router.get("/dashboard/waits", name="portal_waits")
def waits_page(
    page: SignedInPage,
    days: Annotated[int, Query(ge=1, le=MAX_WAIT_DAYS)] = 7,
    pool: Annotated[str | None, Query(max_length=63)] = None,
) -> Response:
    """How long the jobs that started in the last ``days`` waited: a histogram and its CDF."""
    require_commons_reader(page.actor, DASHBOARDS)
    pools = [view.name for view in page.commons.directory.list_pools()]
    pool = pool or None
    if pool is not None and pool not in pools:
        raise InvalidInput(f"no pool named {pool!r}; pools are {', '.join(pools)}")
    summary = waits(page.commons.sessions, page.commons.clock() - timedelta(days=days), pool)
    labels = [
        page.t(
            "dashboard.wait_bin",
            lowest=page.fmt.duration(b.lowest_s),
            highest=page.fmt.duration(b.highest_s),
        )
        if b.highest_s is not None
        else page.t("dashboard.wait_bin_last", lowest=page.fmt.duration(b.lowest_s))
        for b in summary.bins
    ]
    figure = bars_figure(
        labels, [(page.t("dashboard.jobs"), [b.jobs for b in summary.bins])],
        axis_label=page.t("dashboard.jobs"),
    )  # fmt: skip
    return _render(
        page,
        "dashboard_waits.html",
        "waits",
        waited=summary,
        labels=labels,
        days=days,
        pool=pool,
        pools=pools,
        max_days=MAX_WAIT_DAYS,
        figure_json=_json(figure),
    )


# -- fairness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityShare:
    community: str
    awarded_gpu_hours: float
    delivered_gpu_hours: float
    awarded_share: float
    delivered_share: float
    ratio: float | None
    """Delivered share over awarded share: 1 is exactly what was awarded."""


@router.get("/dashboard/fairness", name="portal_fairness")
def fairness_page(page: SignedInPage) -> Response:
    """Per community: share of H100e delivered against share awarded, and Jain's index."""
    require_commons_reader(page.actor, DASHBOARDS)
    delivered = {
        row.name: row.gpu_hours for row in page.commons.reports.spend(page.actor, by="community")
    }
    awarded = awarded_by_community(page.commons.sessions)
    rows = _shares(awarded, delivered)
    ratios = [row.ratio for row in rows if row.ratio is not None]
    figure = bars_figure(
        [page.t.maybe("community." + row.community, row.community) for row in rows],
        [
            (page.t("dashboard.awarded_share"), [row.awarded_share for row in rows]),
            (page.t("dashboard.delivered_share"), [row.delivered_share for row in rows]),
        ],
        axis_label=page.t("dashboard.share"),
    )
    figure["layout"]["yaxis"]["tickformat"] = ".0%"
    return _render(
        page,
        "dashboard_fairness.html",
        "fairness",
        rows=rows,
        jain=jain_index(ratios),
        figure_json=_json(figure),
    )


def _shares(awarded: dict[str, float], delivered: dict[str, float]) -> list[CommunityShare]:
    communities = sorted(set(awarded) | set(delivered))
    total_awarded = sum(awarded.values())
    total_delivered = sum(delivered.values())
    rows = []
    for community in communities:
        a, d = awarded.get(community, 0.0), delivered.get(community, 0.0)
        a_share = a / total_awarded if total_awarded else 0.0
        d_share = d / total_delivered if total_delivered else 0.0
        rows.append(
            CommunityShare(
                community, a, d, a_share, d_share, d_share / a_share if a_share else None
            )
        )
    return rows


# -- forecasts -------------------------------------------------------------------------------


@router.get("/dashboard/forecast", name="portal_forecast")
def forecast_page(
    page: SignedInPage,
    series: SeriesName = "all",
    horizon: Annotated[str, Query(max_length=8)] = "2d",
) -> Response:
    """A series' demand forecast with its 80% interval, the model chosen and its backtest; a
    series with too little history gets the service's reason instead of a chart."""
    require_commons_reader(page.actor, DASHBOARDS)
    choices = _series_choices(page, with_all=True)
    chosen = series or "all"
    if chosen not in {choice.value for choice in choices}:
        raise InvalidInput(f"unknown demand series {chosen!r}")
    if horizon not in FORECAST_HORIZONS:
        raise InvalidInput(f"choose a horizon of {', '.join(FORECAST_HORIZONS)}")
    context: dict[str, Any] = {
        "choices": choices,
        "chosen": chosen,
        "horizon": horizon,
        "horizons": FORECAST_HORIZONS,
        "forecast": None,
        "problem": None,
        "figure_json": None,
        "csv_url": page.query(page.path("portal_demand_csv"), {"series": chosen}),
    }
    history = page.commons.demand.series(
        page.actor, chosen, step_s=3600, days=FORECAST_HISTORY_DAYS
    )
    try:
        forecast = page.commons.analyses.forecast(page.actor, chosen, horizon)
    except InvalidInput as problem:
        context["problem"] = refusal_text(page.t, problem)
        return _render(page, "dashboard_forecast.html", "forecast", **context)
    shown = _recent(history.points, HISTORY_SHOWN_STEPS)
    figure = forecast_figure(
        [(p.timestamp.isoformat(), p.demanded) for p in shown],
        [(p.timestamp.isoformat(), p.mean, p.lo80, p.hi80) for p in forecast.points],
        lang=page.lang,
        history_label=page.t("dashboard.history"),
        mean_label=page.t("dashboard.forecast_mean"),
        band_label=page.t("dashboard.interval80"),
        axis_label=forecast.unit,
    )
    context |= {"forecast": forecast, "figure_json": _json(figure)}
    return _render(page, "dashboard_forecast.html", "forecast", **context)


def _recent(points: Sequence[DemandPoint], steps: int) -> Sequence[DemandPoint]:
    return points[-steps:]


# -- capacity plan ---------------------------------------------------------------------------

PLAN_TARGETS = tuple(PLAN_TARGETS_S)


@router.get("/dashboard/plan", name="portal_plan")
def plan_page(
    page: SignedInPage,
    pool: Annotated[str | None, Query(max_length=63)] = None,
    target: Annotated[str, Query(max_length=8)] = "1h",
) -> Response:
    """How many devices a pool needs for 90% of jobs to start within a target wait, by
    simulating samples of its forecast demand on candidate sizes, with the cost in won and how
    H100s compare with domestic NPUs per workload class."""
    require_commons_reader(page.actor, DASHBOARDS)
    pools = page.commons.directory.list_pools()
    if target not in PLAN_TARGETS:
        raise InvalidInput(f"choose a target of {', '.join(PLAN_TARGETS)}")
    context: dict[str, Any] = {
        "pools": pools,
        "chosen": pool,
        "target": target,
        "targets": PLAN_TARGETS,
        "plan": None,
        "problem": None,
        "samples": PLAN_SAMPLES,
    }
    if pool is None:
        return _render(page, "dashboard_plan.html", "plan", **context)
    if pool not in {p.name for p in pools}:
        raise InvalidInput(f"unknown pool {pool!r}")
    try:
        made = page.commons.analyses.plan(page.actor, pool, target)
    except InvalidInput as problem:
        context["problem"] = refusal_text(page.t, problem)
        return _render(page, "dashboard_plan.html", "plan", **context)
    context["plan"] = made
    return _render(page, "dashboard_plan.html", "plan", **context)
