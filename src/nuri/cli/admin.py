"""``nuri admin``: create hubs, pools, organisations, users, projects and allocations.

These call admin-only API endpoints (``add-member`` is also open to the project's PI).
Each prints the created record as JSON, so scripts can read ids and tokens from it.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from nuri.cli.client import CliError, client_for
from nuri.cli.render import print_json

app = typer.Typer(help="Administer the commons (admin token needed).", no_args_is_help=True)


@app.command("create-hub")
def create_hub(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. ksc.")],
    operator: Annotated[
        str, typer.Option(help="national-centre, university, regional-data-centre, cloud-partner.")
    ],
    title: Annotated[str, typer.Option(help="Full name.")] = "",
) -> None:
    """Create a hub."""
    print_json(client_for(ctx).post("/hubs", {"name": name, "title": title, "operator": operator}))


@app.command("create-pool")
def create_pool(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. h100-ksc.")],
    hub: Annotated[str, typer.Option(help="Hub hosting the pool.")],
    accelerator: Annotated[str, typer.Option(help="H100, A100, ATOM, RNGD, ...")],
    nodes: Annotated[int, typer.Option(help="Number of nodes.")],
    devices_per_node: Annotated[int, typer.Option(help="Devices in each node.")],
    exchange_rate: Annotated[str, typer.Option(help="H100e per device-hour, e.g. 0.45.")],
    krw_per_device_hour: Annotated[int, typer.Option(help="Price of a device-hour in won.")],
    max_time: Annotated[str, typer.Option(help="Longest time limit allowed, e.g. 7d.")] = "7d",
) -> None:
    """Create a pool of identical nodes at a hub."""
    from nuri.domain.jobs import parse_duration

    print_json(
        client_for(ctx).post(
            "/pools",
            {
                "name": name,
                "hub": hub,
                "accelerator": accelerator,
                "nodes": nodes,
                "devices_per_node": devices_per_node,
                "exchange_rate": exchange_rate,
                "krw_per_device_hour": krw_per_device_hour,
                "max_time_limit_s": parse_duration(max_time),
            },
        )
    )


@app.command("create-org")
def create_org(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. snu.")],
    kind: Annotated[str, typer.Option(help="university, startup, sme, institute, public-agency.")],
    title: Annotated[str, typer.Option(help="Full name.")] = "",
) -> None:
    """Create an organisation."""
    print_json(client_for(ctx).post("/organisations", {"name": name, "title": title, "kind": kind}))


@app.command("create-user")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, pi, member, manager or reviewer.")] = "member",
    org: Annotated[str | None, typer.Option(help="Organisation name.")] = None,
    display_name: Annotated[str, typer.Option(help="Name shown to people.")] = "",
) -> None:
    """Create a user and print their first token (shown only once)."""
    body = {"name": name, "role": role, "organisation": org, "display_name": display_name}
    print_json(client_for(ctx).post("/users", body))


@app.command("token")
def token(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User name.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Days until it expires (default: never)."),
    ] = None,
) -> None:
    """Issue another token for a user (yourself, or anyone as an admin); printed once."""
    body = {"label": label, "expires_in_days": expires_in_days}
    print_json(client_for(ctx).post(f"/users/{user}/tokens", body))


@app.command("create-project")
def create_project(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. snu-nlp.")],
    org: Annotated[str, typer.Option(help="Organisation running the project.")],
    pi: Annotated[str, typer.Option(help="User name of the principal investigator.")],
    field: Annotated[
        str, typer.Option(help="language, vision, speech, multimodal, science, other.")
    ] = "other",
    title: Annotated[str, typer.Option(help="Full title.")] = "",
) -> None:
    """Create a project led by a PI."""
    body = {"name": name, "title": title, "field": field, "organisation": org, "pi": pi}
    print_json(client_for(ctx).post("/projects", body))


@app.command("add-member")
def add_member(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name.")],
    user: Annotated[str, typer.Argument(help="User to add.")],
) -> None:
    """Add a user to a project (admins, or the project's PI)."""
    print_json(client_for(ctx).post(f"/projects/{project}/members", {"user": user}))


@app.command("create-allocation")
def create_allocation(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project to award.")],
    gpu_hours: Annotated[str, typer.Option(help="Awarded H100e GPU-hours, e.g. 1500.")],
    pool: Annotated[list[str], typer.Option(help="A pool the award may use (repeat).")],
    tier: Annotated[str, typer.Option(help="strategic, hub-member or general.")] = "general",
    starts: Annotated[str | None, typer.Option(help="Start, ISO 8601 (default: now).")] = None,
    ends: Annotated[str | None, typer.Option(help="End, ISO 8601 (default: a year on).")] = None,
    note: Annotated[str, typer.Option(help="Why it was awarded.")] = "",
) -> None:
    """Award a project H100e GPU-hours on some pools for a period."""
    starts_at, ends_at = _period(starts, ends)
    body = {
        "project": project,
        "gpu_hours": gpu_hours,
        "pools": pool,
        "tier": tier,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "note": note,
    }
    print_json(client_for(ctx).post("/allocations", body))


@app.command("users")
def users(ctx: typer.Context) -> None:
    """List users (JSON)."""
    print_json(client_for(ctx).get("/users"))


@app.command("allocations")
def allocations(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project's.")] = None,
) -> None:
    """List allocations with their balances (JSON)."""
    print_json(client_for(ctx).get("/allocations", project=project))


@app.command("create-reservation")
def create_reservation(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. public-llm.")],
    pool: Annotated[str, typer.Option(help="Pool whose nodes are held.")],
    nodes: Annotated[int, typer.Option(help="Whole nodes to hold.")],
    wanted: Annotated[
        int | None, typer.Option(help="Devices the service needs now (default: all).")
    ] = None,
    starts: Annotated[str | None, typer.Option(help="Start, ISO 8601 (default: now).")] = None,
    ends: Annotated[str | None, typer.Option(help="End, ISO 8601 (default: a year on).")] = None,
    note: Annotated[str, typer.Option(help="What the service is.")] = "",
) -> None:
    """Hold whole nodes of a pool for a long-running service; idle ones are lent to preemptible jobs."""
    starts_at, ends_at = _period(starts, ends)
    body = {
        "name": name,
        "pool": pool,
        "nodes": nodes,
        "wanted": wanted,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "note": note,
    }
    print_json(client_for(ctx).post("/reservations", body))


@app.command("reservation-demand")
def reservation_demand(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Reservation name.")],
    wanted: Annotated[int, typer.Argument(help="Devices the service needs now.")],
) -> None:
    """Set how many reserved devices the service needs now (borrowers are preempted if needed)."""
    print_json(client_for(ctx).post(f"/reservations/{name}/demand", {"wanted": wanted}))


@app.command("reservations")
def reservations(ctx: typer.Context) -> None:
    """List reservations (JSON)."""
    print_json(client_for(ctx).get("/reservations"))


def _period(starts: str | None, ends: str | None) -> tuple[datetime, datetime]:
    """The period given, defaulting to from now for a year."""
    starts_at = _moment(starts) if starts else datetime.now(UTC)
    ends_at = _moment(ends) if ends else starts_at + timedelta(days=365)
    return starts_at, ends_at


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{text!r} is not an ISO 8601 date, e.g. 2027-01-01 or 2027-01-01T09:00+09:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
