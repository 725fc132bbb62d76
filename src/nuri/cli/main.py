"""``nuri``: submit and watch jobs, read usage, administer the commons, and serve the API.

Every command except ``serve`` and ``demo-token`` talks to a running server at ``NURI_URL``
(default http://127.0.0.1:8000) with the token in ``NURI_TOKEN``. Exit status is 0 on success
and 1 with a one-line message on standard error otherwise. ``--json`` output is stable; see
``docs/cli.md``.
"""

import json
import os
import sys
import time
from typing import Annotated, Any

import typer

from nuri.api.v1.schemas import MAX_PAGE_SIZE
from nuri.backends.protocol import BackendError
from nuri.cli import admin, programmes, reports, slurm, tokens, trace
from nuri.cli.backup import backup, restore
from nuri.cli.client import CliError, client_for
from nuri.cli.forecast import forecast
from nuri.cli.plan import estimate, plan
from nuri.cli.render import errors, hours, print_json, print_table, when, won
from nuri.cli.sim import sim
from nuri.domain.errors import DomainError
from nuri.domain.jobs import TERMINAL_STATES, format_duration, parse_duration

DEFAULT_URL = "http://127.0.0.1:8000"

app = typer.Typer(
    name="nuri",
    help="nuri: fair, fast, accountable access to the national AI compute commons.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
job_app = typer.Typer(help="Look at one job.", no_args_is_help=True)
app.add_typer(job_app, name="job")
app.add_typer(admin.app, name="admin")
app.add_typer(tokens.app, name="token")
app.add_typer(trace.app, name="trace")
app.add_typer(slurm.dev_app, name="slurm-dev")
app.add_typer(slurm.books_app, name="slurm")
app.add_typer(programmes.call_app, name="call")
app.add_typer(programmes.proposal_app, name="proposal")
app.add_typer(programmes.review_app, name="review")
app.add_typer(programmes.award_app, name="award")
app.add_typer(programmes.conflict_app, name="conflict")
app.add_typer(programmes.stage_app, name="stage")
app.add_typer(programmes.eval_app, name="eval")
app.add_typer(programmes.catalog_app, name="catalog")
app.add_typer(programmes.course_app, name="course")
app.command("sim")(sim)
app.command("plan")(plan)
app.command("estimate")(estimate)
app.command("audit")(programmes.audit)
app.add_typer(reports.report_app, name="report")
app.command("demand")(reports.demand)
app.command("forecast")(forecast)
app.command("backup")(backup)
app.command("restore")(restore)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print stable JSON instead of a table.")]


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="NURI_URL", help="Where the nuri API is served.")
    ] = DEFAULT_URL,
    token: Annotated[
        str | None, typer.Option(envvar="NURI_TOKEN", help="Your API token.", show_default=False)
    ] = None,
) -> None:
    ctx.obj = {"url": url, "token": token}


# -- serving ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Seed the demo commons (once).")] = False,
    backend: Annotated[
        str | None,
        typer.Option(help="What runs jobs: local or slurm (default: $NURI_BACKEND or local)."),
    ] = None,
    slurm_mode: Annotated[
        str | None,
        typer.Option(
            help="With --backend slurm: nuri (nuri's policy decides) or native (Slurm decides).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes serving the API on the one port, each using a core; the scheduler"
            " still runs once, in this process.",
        ),
    ] = 1,
) -> None:
    """Serve the API and run the scheduler (SQLite and the local backend by default)."""
    import uvicorn

    from nuri.api.app import create_app
    from nuri.api.log_format import configure_logging
    from nuri.engine.heap import freeze_start_up_objects
    from nuri.service.commons import open_commons
    from nuri.service.demo import seed_demo
    from nuri.service.settings import ServerSettings

    settings = ServerSettings()
    configure_logging(settings.log_format, stream=sys.stderr)
    if backend is not None:
        settings.backend = backend
    if slurm_mode is not None:
        settings.slurm_mode = slurm_mode
    commons = open_commons(settings)
    if settings.backend == "slurm":
        conf = settings.resolved_slurm_conf()
        errors.print(
            f"nuri: Slurm backend, {settings.slurm_mode} mode, cluster"
            f" {conf if conf else 'from the system slurm.conf'}"
        )
    errors.print(f"nuri: database {_safe_url(settings.resolved_database_url())}")
    if demo:
        seeded = seed_demo(
            commons.sessions, commons.directory, commons.clock, settings.demo_tokens_path
        )
        if seeded:
            from nuri.service.demo_competition import CALL, seed_demo_competition
            from nuri.service.demo_history import HISTORY_DAYS, PROJECTS_BY_POOL, seed_demo_history

            # On Slurm the ledger must agree with sacct, which never saw a simulated past.
            if commons.slurm_books is None:
                with errors.status("nuri: simulating the demo's history"):
                    recorded = seed_demo_history(
                        commons.sessions, commons.clock(), settings.policy, PROJECTS_BY_POOL
                    )
                errors.print(
                    f"nuri: demo history: {recorded:,} simulated jobs over the last"
                    f" {HISTORY_DAYS} days"
                )

            seed_demo_competition(commons, settings.home)
            errors.print(f"nuri: demo competition {CALL}: stage 1 evaluations queued")
        errors.print(
            f"nuri: demo commons {'seeded' if seeded else 'already seeded'}; tokens for admin, pi"
            f" and researcher are in {settings.demo_tokens_path}"
        )
        errors.print("nuri: in another terminal:  export NURI_TOKEN=$(nuri demo-token researcher)")
    if commons.slurm_books is not None:
        # Before serving, so that the first jobs do not wait behind a whole commons of sacctmgr.
        errors.print("nuri: writing the awards to Slurm (accounts, QOS budgets)")
        try:
            commons.slurm_books.sync_awards()
        except BackendError as error:
            raise CliError(
                f"Slurm did not answer ({error}); is it running? ('nuri slurm-dev up' starts one)"
            ) from None
    # nuri's request log replaces uvicorn's access log, which would show raw paths and queries.
    if workers == 1:
        served = create_app(commons)
        freeze_start_up_objects()
        errors.print(f"nuri: serving on http://{host}:{port} (OpenAPI at /openapi.json)")
        uvicorn.run(served, host=host, port=port, log_config=None, access_log=False)
        return
    from nuri.api.app import background_work
    from nuri.api.workers import WORKER_APP, share_settings_with_workers

    share_settings_with_workers(settings)
    if commons.database.dialect.name == "sqlite":
        errors.print(
            "nuri: several workers on SQLite take turns at its one writer lock;"
            " PostgreSQL (NURI_DATABASE_URL) lets them write side by side"
        )
    errors.print(
        f"nuri: serving on http://{host}:{port} with {workers} worker processes"
        " (OpenAPI at /openapi.json)"
    )
    freeze_start_up_objects()  # this process makes the scheduling decisions
    with background_work(commons):
        uvicorn.run(
            WORKER_APP,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )


@app.command("demo-token")
def demo_token(
    role: Annotated[str, typer.Argument(help="admin, pi or researcher.")] = "researcher",
) -> None:
    """Print a demo user's token from $NURI_HOME/demo-tokens.json (written by serve --demo)."""
    from nuri.service.settings import ServerSettings

    path = ServerSettings().demo_tokens_path
    try:
        tokens = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"no demo tokens at {path}; run 'nuri serve --demo' first") from None
    if role not in tokens:
        raise CliError(f"no demo token for {role!r}; choose one of {', '.join(tokens)}")
    typer.echo(tokens[role])


# -- jobs -------------------------------------------------------------------------------------


@app.command(context_settings={"allow_interspersed_args": False})
def submit(
    ctx: typer.Context,
    command: Annotated[list[str], typer.Argument(help="The command to run, after '--'.")],
    project: Annotated[str, typer.Option(help="Project to charge.")],
    pool: Annotated[
        str | None, typer.Option(help="Pool to run on ('nuri pools' lists them).")
    ] = None,
    accelerator: Annotated[
        str | None,
        typer.Option(help="Instead of --pool: any pool of this accelerator, e.g. H100."),
    ] = None,
    gpus: Annotated[int, typer.Option(help="Devices to use, all on one node.")] = 1,
    time: Annotated[str, typer.Option("--time", help="Time limit, e.g. 30m, 2h, 1d.")] = "1h",
    name: Annotated[str | None, typer.Option(help="A label for the job.")] = None,
    preemptible: Annotated[
        bool,
        typer.Option(
            "--preemptible",
            help="Accept preemption (SIGTERM, grace period, requeue; keep state in"
            " $NURI_CHECKPOINT_DIR): the job may then borrow idle reserved devices.",
        ),
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Name this submission (e.g. a UUID): submitting again with the same key returns"
            " the same job instead of queueing another. A fresh key is made if none is given.",
        ),
    ] = None,
) -> None:
    """Queue a job and print its id, e.g. nuri submit --project P --pool POOL --gpus 2 -- python train.py

    Give --accelerator H100 instead of --pool to run on any H100 pool your award allows."""
    body = {
        "project": project,
        "pool": pool,
        "accelerator": accelerator,
        "gpus": gpus,
        "time_limit_s": parse_duration(time),
        "command": command,
        "name": name,
        "preemptible": preemptible,
        "workdir": os.getcwd(),
    }
    job = client_for(ctx).post("/jobs", body, idempotency_key=idempotency_key)
    typer.echo(job["id"])
    errors.print(
        f"queued job {job['id']} on {job['pool']} ({job['gpus']} device(s),"
        f" {format_duration(job['time_limit_s'])}); queue position {job['queue_position']}"
    )


@app.command()
def jobs(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project's jobs.")] = None,
    state: Annotated[
        str | None, typer.Option(help="Only jobs in this state, e.g. RUNNING.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_PAGE_SIZE, help="At most this many, newest first.")
    ] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List jobs in your projects, newest first."""
    found = client_for(ctx).get("/jobs", project=project, state=state, limit=limit)
    if as_json:
        print_json(found)
        return
    print_table(
        "Jobs",
        ["ID", "Name", "State", "Project", "Pool", "GPUs", "User", "Submitted", "H100e h", "KRW"],
        [
            [
                job["id"],
                job["name"],
                _state(job),
                job["project"],
                job["pool"],
                job["gpus"],
                job["user"],
                when(job["submitted_at"]),
                hours(job["used_gpu_hours"]),
                won(job["cost_krw"]),
            ]
            for job in found
        ],
    )


@job_app.command("show")
def job_show(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one job: state, place in the queue, devices, times and cost."""
    job = client_for(ctx).get(f"/jobs/{job_id}")
    if as_json:
        print_json(job)
        return
    fields: list[tuple[str, Any]] = [
        ("id", job["id"]),
        ("name", job["name"]),
        ("state", _state(job)),
        ("queue position", job["queue_position"]),
        ("estimated start", when(job.get("estimated_start"))),
        ("project", job["project"]),
        ("pool", job["pool"]),
        ("gpus", job["gpus"]),
        ("time limit", format_duration(job["time_limit_s"])),
        ("command", " ".join(job["command"])),
        ("user", job["user"]),
        ("allocation", job["allocation_id"]),
        ("attempt", job["attempt"]),
        ("submitted", when(job["submitted_at"])),
        ("started", when(job["started_at"])),
        ("ended", when(job["ended_at"])),
        ("node", job["node"]),
        ("devices", ",".join(str(index) for index in job["device_indices"])),
        ("exit code", job["exit_code"]),
        ("reason", job["reason"]),
        ("used", f"{hours(job['used_gpu_hours'])} H100e GPU-hours"),
        ("cost", won(job["cost_krw"])),
    ]
    print_table(
        f"Job {job['id']}", ["Field", "Value"], [f for f in fields if f[1] not in (None, "")]
    )


@app.command()
def logs(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until it ends.")
    ] = False,
) -> None:
    """Print a job's output (stdout and stderr together)."""
    api = client_for(ctx)
    offset = 0
    while True:
        chunk = api.get(f"/jobs/{job_id}/logs", offset=offset)
        if chunk["text"]:
            typer.echo(chunk["text"], nl=False)
        offset = chunk["next_offset"]
        if not follow or (chunk["state"] in TERMINAL_STATES and not chunk["text"]):
            return
        time.sleep(1.0)


@app.command()
def cancel(ctx: typer.Context, job_id: Annotated[int, typer.Argument(help="Job id.")]) -> None:
    """Cancel a job (a running one stops within a scheduling cycle)."""
    job = client_for(ctx).post(f"/jobs/{job_id}/cancel")
    if job["state"] == "CANCELLED":
        errors.print(f"job {job_id} cancelled")
    else:
        errors.print(f"job {job_id} is being cancelled")


# -- usage and the commons --------------------------------------------------------------------


@app.command()
def usage(
    ctx: typer.Context,
    project: Annotated[str, typer.Option(help="Project name.")],
    as_json: JsonFlag = False,
) -> None:
    """Awarded, used and remaining H100e GPU-hours and the cost in won, for one project."""
    report = client_for(ctx).get(f"/projects/{project}/usage")
    if as_json:
        print_json(report)
        return
    print_table(
        f"Usage of {report['project']} (H100e GPU-hours)",
        ["Awarded", "Used", "Held by active jobs", "Remaining", "Cost"],
        [
            [
                hours(report["awarded_gpu_hours"]),
                hours(report["used_gpu_hours"]),
                hours(report["held_gpu_hours"]),
                hours(report["remaining_gpu_hours"]),
                won(report["cost_krw"]),
            ]
        ],
    )
    print_table(
        "Allocations",
        ["ID", "Tier", "Pools", "Period", "Active", "Awarded", "Used", "Remaining", "Cost"],
        [
            [
                a["id"],
                a["tier"],
                ", ".join(a["pools"]),
                f"{when(a['starts_at'])[:10]} to {when(a['ends_at'])[:10]}",
                "yes" if a["active"] else "no",
                hours(a["awarded_gpu_hours"]),
                hours(a["used_gpu_hours"]),
                hours(a["remaining_gpu_hours"]),
                won(a["cost_krw"]),
            ]
            for a in report["allocations"]
        ],
    )
    print_table(
        "Spend per pool",
        ["Pool", "Accelerator", "Jobs", "Device-hours", "H100e GPU-hours", "Cost"],
        [
            [
                p["pool"],
                p["accelerator"],
                p["jobs"],
                hours(p["device_hours"]),
                hours(p["used_gpu_hours"]),
                won(p["cost_krw"]),
            ]
            for p in report["pools"]
        ],
    )


@app.command()
def projects(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the projects you lead or belong to."""
    found = client_for(ctx).get("/projects")
    if as_json:
        print_json(found)
        return
    print_table(
        "Projects",
        ["ID", "Name", "Title", "Field", "Organisation", "PI", "Members"],
        [
            [
                p["id"],
                p["name"],
                p["title"],
                p["field"],
                p["organisation"],
                p["pi"],
                ", ".join(p["members"]),
            ]
            for p in found
        ],
    )


@app.command()
def pools(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the pools: accelerator, size, free devices, queue, exchange rate and price."""
    found = client_for(ctx).get("/pools")
    if as_json:
        print_json(found)
        return
    print_table(
        "Pools",
        [
            "ID",
            "Name",
            "Hub",
            "Accelerator",
            "Nodes x devices",
            "Free",
            "Running",
            "Pending",
            "H100e rate",
            "KRW/device-h",
        ],
        [
            [
                p["id"],
                p["name"],
                p["hub"],
                p["accelerator"],
                f"{p['nodes']} x {p['devices_per_node']}",
                f"{p['free_devices']}/{p['devices']}",
                p["running_jobs"],
                p["pending_jobs"],
                p["exchange_rate"],
                f"{p['krw_per_device_hour']:,}",
            ]
            for p in found
        ],
    )


def _state(job: dict[str, Any]) -> str:
    if job["state"] == "RUNNING" and job.get("cancel_requested"):
        return "RUNNING (cancelling)"
    return str(job["state"])


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def run() -> None:
    """Console entry point: run the app, turning known errors into one line and exit code 1."""
    try:
        app()
    except (CliError, DomainError) as error:
        errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
