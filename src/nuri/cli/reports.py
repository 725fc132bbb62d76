"""``nuri report spend|burn-down|programmes|curve|needs`` and ``nuri demand``: the commons' books
and demand, read over the API. ``--csv FILE`` saves the server's CSV export of the same table;
``--json`` prints the API's answer unchanged."""

from pathlib import Path
from typing import Annotated, Any

import typer

from nuri.cli.client import CliError, client_for
from nuri.cli.render import hours, print_json, print_table, when, won

report_app = typer.Typer(
    help="Spend, awards' burn-down and what the commons is missing (CSV export with --csv).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
CsvFile = Annotated[
    Path | None,
    typer.Option("--csv", help="Save the table as CSV to this file.", show_default=False),
]


def _save_csv(ctx: typer.Context, path: Path, endpoint: str, **params: Any) -> None:
    text = client_for(ctx).get_text(endpoint, format="csv", **params)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror}") from None
    rows = max(text.count("\n") - 1, 0)
    typer.echo(f"wrote {rows} rows to {path}")


@report_app.command("spend")
def spend(
    ctx: typer.Context,
    by: Annotated[
        str, typer.Option(help="Group by pool, hub, community, field, programme or project.")
    ] = "pool",
    since: Annotated[
        str | None, typer.Option(help="Only charges from then on (ISO date or time).")
    ] = None,
    csv: CsvFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Spend to date from the ledger: charges, device-hours, H100e GPU-hours and won."""
    if csv is not None:
        _save_csv(ctx, csv, "/reports/spend", by=by, since=since)
        return
    rows = client_for(ctx).get("/reports/spend", by=by, since=since)
    if as_json:
        print_json(rows)
        return
    total_won = sum(r["cost_krw"] for r in rows)
    total_hours = sum(r["h100e_units"] for r in rows) / 3_600_000
    print_table(
        f"Spend by {by}",
        [by.capitalize(), "Charges", "Device-hours", "H100e GPU-hours", "Cost"],
        [
            [
                r["name"],
                r["charges"],
                hours(r["device_hours"]),
                hours(r["gpu_hours"]),
                won(r["cost_krw"]),
            ]
            for r in rows
        ]
        + ([["total", "", "", hours(total_hours), won(total_won)]] if rows else []),
    )


@report_app.command("burn-down")
def burn_down(
    ctx: typer.Context,
    programme: Annotated[str | None, typer.Option(help="Only this call's awards.")] = None,
    csv: CsvFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Every award you may see: used, remaining, pace and when it runs out at the recent rate."""
    if csv is not None:
        _save_csv(ctx, csv, "/reports/burn-down", programme=programme)
        return
    rows = client_for(ctx).get("/reports/burn-down", programme=programme)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Awards' burn-down (H100e GPU-hours)",
        ["ID", "Project", "Programme", "Term", "Awarded", "Used", "Remaining", "Used/elapsed",
         "Pace", "Per day", "Runs out", "Cost"],
        [
            [
                r["allocation_id"],
                r["project"],
                r["programme"],
                f"{when(r['starts_at'])[:10]} to {when(r['ends_at'])[:10]}",
                hours(r["awarded_gpu_hours"]),
                hours(r["used_gpu_hours"]),
                hours(r["remaining_gpu_hours"]),
                f"{r['used_share']:.0%} / {r['elapsed_share']:.0%}",
                r["pace"],
                hours(r["gpu_hours_per_day"]),
                _runs_out(r),
                won(r["cost_krw"]),
            ]
            for r in rows
        ],
    )  # fmt: skip


@report_app.command("programmes")
def programmes(ctx: typer.Context, csv: CsvFile = None, as_json: JsonFlag = False) -> None:
    """Burn-down per programme (call): its awards together."""
    if csv is not None:
        _save_csv(ctx, csv, "/reports/burn-down/programmes")
        return
    rows = client_for(ctx).get("/reports/burn-down/programmes")
    if as_json:
        print_json(rows)
        return
    print_table(
        "Programmes' burn-down (H100e GPU-hours)",
        ["Programme", "Awards", "Awarded", "Used", "Remaining", "Used share", "Per day",
         "Runs out", "Last award ends", "Cost"],
        [
            [
                r["programme"],
                r["awards"],
                hours(r["awarded_gpu_hours"]),
                hours(r["used_gpu_hours"]),
                hours(r["remaining_gpu_hours"]),
                f"{r['used_share']:.0%}",
                hours(r["gpu_hours_per_day"]),
                when(r["projected_exhaustion"])[:10] or "-",
                when(r["ends_at"])[:10],
                won(r["cost_krw"]),
            ]
            for r in rows
        ],
    )  # fmt: skip


@report_app.command("curve")
def curve(
    ctx: typer.Context,
    allocation: Annotated[int, typer.Argument(help="The award's allocation id.")],
    csv: CsvFile = None,
    as_json: JsonFlag = False,
) -> None:
    """One award's used and remaining GPU-hours, day by day."""
    if csv is not None:
        _save_csv(ctx, csv, f"/reports/burn-down/{allocation}")
        return
    rows = client_for(ctx).get(f"/reports/burn-down/{allocation}")
    if as_json:
        print_json(rows)
        return
    print_table(
        f"Burn-down of award {allocation} (H100e GPU-hours)",
        ["Day", "Used", "Remaining"],
        [
            [when(r["day"])[:10], hours(r["used_gpu_hours"]), hours(r["remaining_gpu_hours"])]
            for r in rows
        ],
    )


@report_app.command("needs")
def needs(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(help="How many days of history to judge by.")] = 30,
    csv: CsvFile = None,
    as_json: JsonFlag = False,
) -> None:
    """How much more is needed: per pool, how busy it was, demand left waiting, devices missing.

    A quick indicator (90th percentile of hourly demand within 85% utilisation); 'nuri plan'
    answers by simulation against a waiting-time target."""
    if csv is not None:
        _save_csv(ctx, csv, "/reports/needs", days=days)
        return
    rows = client_for(ctx).get("/reports/needs", days=days)
    if as_json:
        print_json(rows)
        return
    print_table(
        f"How much more is needed (last {days} days)",
        ["Pool", "Hub", "Accelerator", "Devices", "Utilisation", "Waiting device-hours",
         "p90 demand (devices)", "p90 wait", "Needed", "Add", "Cost per year to run them"],
        [
            [
                r["pool"],
                r["hub"],
                r["accelerator"],
                r["devices"],
                f"{r['utilisation']:.0%}",
                hours(r["waiting_device_hours"]),
                f"{r['p90_demanded_devices']:.1f}",
                _duration(r["p90_wait_s"]),
                r["needed_devices"],
                r["additional_devices"],
                won(r["additional_krw_per_year"]),
            ]
            for r in rows
        ],
    )  # fmt: skip


def demand(
    ctx: typer.Context,
    series: Annotated[
        str,
        typer.Argument(help="all, pool:<pool>, hub:<hub>, community:<kind> or field:<field>."),
    ] = "all",
    step: Annotated[str, typer.Option(help="1h or 1d.")] = "1h",
    days: Annotated[int, typer.Option(help="How many days of history.")] = 7,
    out: Annotated[
        Path | None,
        typer.Option(help="Save as a timestamp,value CSV of demanded hours (for nuri forecast)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Demand from the commons' records: hours demanded (waiting + running), delivered, waiting."""
    found = client_for(ctx).get("/demand", series=series, step=step, days=days)
    if out is not None:
        lines = ["timestamp,value"] + [f"{p['timestamp']},{p['demanded']}" for p in found["points"]]
        try:
            out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        except OSError as error:
            raise CliError(f"cannot write {out}: {error.strerror}") from None
        typer.echo(f"wrote {len(found['points'])} steps of {found['series']} to {out}")
        return
    if as_json:
        print_json(found)
        return
    print_table(
        f"Demand of {found['series']} ({found['unit']} per {step})",
        ["Step", "Demanded", "Delivered", "Waiting"],
        [
            [
                when(p["timestamp"])[:16],
                hours(p["demanded"]),
                hours(p["delivered"]),
                hours(p["waiting"]),
            ]
            for p in found["points"]
        ],
    )


def _runs_out(row: dict[str, Any]) -> str:
    moment = when(row["projected_exhaustion"])[:10]
    if not moment:
        return "-"
    return f"{moment} (before its end)" if row["exhausts_before_end"] else moment


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
