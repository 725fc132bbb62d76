"""``nuri slurm-dev``: a real Slurm cluster on this machine; ``nuri slurm``: the commons' books
against Slurm's accounting.

Both run on the machine that hosts the commons (they read ``NURI_HOME`` /
``NURI_DATABASE_URL`` and talk to Slurm directly), not over the API.
"""

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nuri.cli.client import CliError
from nuri.cli.render import errors, print_json, print_table
from nuri.domain.cluster_spec import load_cluster_spec
from nuri.domain.errors import DomainError
from nuri.domain.units import parse_exchange_rate
from nuri.engine.clock import Clock, wall_clock
from nuri.slurm.config import SlurmPool
from nuri.slurm.devcluster import DevCluster, site_facts

if TYPE_CHECKING:
    from nuri.service.slurm_accounting import SlurmBooks

dev_app = typer.Typer(
    help="A real single-machine Slurm cluster for development, demos and tests.",
    no_args_is_help=True,
)
books_app = typer.Typer(
    help="Awards written to Slurm, usage imported from sacct, and their reconciliation.",
    no_args_is_help=True,
)

SpecOption = Annotated[
    Path | None,
    typer.Option(
        "--spec", help="Cluster spec YAML (default: the demo commons' pools).", show_default=False
    ),
]
StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where configs, logs and PIDs live (default: $NURI_HOME/slurm-dev).",
        show_default=False,
    ),
]
PortOption = Annotated[
    int,
    typer.Option(
        "--port-base",
        help="slurmctld listens here, slurmdbd at +2, the nodes from +13 on.",
    ),
]
NameOption = Annotated[str, typer.Option("--cluster-name", help="Slurm's ClusterName.")]


def _cluster(
    spec: Path | None, state_dir: Path | None, port_base: int, cluster_name: str
) -> DevCluster:
    from nuri.service.demo import DEMO_POOLS
    from nuri.service.settings import ServerSettings

    if spec is not None:
        pools = [
            SlurmPool(p.name, p.accelerator, p.nodes, p.devices_per_node, p.rate_milli)
            for p in load_cluster_spec(spec).pools
        ]
    else:
        pools = [
            SlurmPool(
                str(p["name"]),
                str(p["accelerator"]),
                int(p["nodes"]),
                int(p["devices_per_node"]),
                parse_exchange_rate(str(p["exchange_rate"])),
            )
            for p in DEMO_POOLS
        ]
    directory = state_dir or ServerSettings().slurm_dev_dir
    site = site_facts(directory.resolve(), cluster_name=cluster_name, port_base=port_base)
    return DevCluster(pools, site, report=lambda message: errors.print(f"slurm-dev: {message}"))


@dev_app.command()
def up(
    spec: SpecOption = None,
    state_dir: StateOption = None,
    port_base: PortOption = 6817,
    cluster_name: NameOption = "nuri",
    install: Annotated[
        bool, typer.Option(help="apt-get install Slurm's packages when missing.")
    ] = True,
) -> None:
    """Start the cluster (installing Slurm once) and wait until every node is idle."""
    cluster = _cluster(spec, state_dir, port_base, cluster_name)
    try:
        seconds = cluster.up(install=install)
    except DomainError as error:
        raise CliError(error.message) from None
    nodes = sum(pool.nodes for pool in cluster.pools)
    errors.print(
        f"slurm-dev: {nodes} nodes idle in {len(cluster.pools)} partitions after {seconds:.1f} s"
    )
    typer.echo(f"export SLURM_CONF={cluster.site.slurm_conf}")


@dev_app.command()
def down(
    spec: SpecOption = None,
    state_dir: StateOption = None,
    port_base: PortOption = 6817,
    cluster_name: NameOption = "nuri",
) -> None:
    """Stop the daemons 'up' started (by PID), and nothing else."""
    cluster = _cluster(spec, state_dir, port_base, cluster_name)
    stopped = cluster.down()
    errors.print(f"slurm-dev: stopped {', '.join(stopped) if stopped else 'nothing'}")


@dev_app.command()
def status(
    spec: SpecOption = None,
    state_dir: StateOption = None,
    port_base: PortOption = 6817,
    cluster_name: NameOption = "nuri",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The daemons started by 'up' and the nodes as Slurm sees them; exit 1 if not running."""
    cluster = _cluster(spec, state_dir, port_base, cluster_name)
    state = cluster.status()
    if json_output:
        print_json(
            {
                "running": state.running,
                "slurm_conf": str(state.slurm_conf),
                "daemons": [
                    {"name": d.name, "pid": d.pid, "alive": alive} for d, alive in state.daemons
                ],
                "nodes": state.nodes.splitlines(),
            }
        )
    else:
        print_table(
            "Daemons",
            ["daemon", "pid", "alive"],
            [[d.name, str(d.pid), "yes" if alive else "no"] for d, alive in state.daemons],
        )
        if state.nodes:
            typer.echo(state.nodes)
        typer.echo(f"export SLURM_CONF={state.slurm_conf}")
    if not state.running:
        raise typer.Exit(1)


def _books() -> tuple["SlurmBooks", Clock]:
    from nuri.service.commons import commons_id
    from nuri.service.settings import ServerSettings
    from nuri.service.slurm_accounting import SlurmBooks
    from nuri.slurm.commands import SlurmTools
    from nuri.store.database import make_engine, make_sessionmaker
    from nuri.store.migrate import upgrade_to_head

    settings = ServerSettings()
    database = make_engine(settings.resolved_database_url())
    upgrade_to_head(database)
    sessions = make_sessionmaker(database)
    tools = SlurmTools(settings.resolved_slurm_conf())
    return SlurmBooks(sessions, tools, f"nuri{commons_id(sessions)}", wall_clock), wall_clock


DaysOption = Annotated[int, typer.Option("--days", min=1, help="How far back to look.")]


@books_app.command("sync-awards")
def sync_awards() -> None:
    """Write every project's awards to Slurm as accounts and QOS limits now."""
    books, _ = _books()
    try:
        books.sync_awards()
    except DomainError as error:
        raise CliError(error.message) from None
    rows = [
        [a.name, a.qos, str(a.billing_minutes), str(a.fairshare), str(a.priority)]
        for a in books.desired()
    ]
    print_table(
        "Slurm accounts", ["account", "qos", "budget (billing-min)", "fairshare", "priority"], rows
    )


@books_app.command("import-usage")
def import_usage(days: DaysOption = 30) -> None:
    """Charge the ledger for every run Slurm accounted that it lacks (idempotent)."""
    books, clock = _books()
    try:
        count = books.import_usage(clock() - timedelta(days=days))
    except DomainError as error:
        raise CliError(error.message) from None
    typer.echo(f"imported {count} run{'s' if count != 1 else ''} from Slurm accounting")


@books_app.command()
def reconcile(
    days: DaysOption = 30,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every difference between the ledger and Slurm's accounting; exit 1 if any."""
    books, clock = _books()
    try:
        differences = books.reconcile(clock() - timedelta(days=days))
    except DomainError as error:
        raise CliError(error.message) from None
    if json_output:
        print_json([_as_dict(d) for d in differences])
    elif differences:
        print_table(
            "Differences",
            ["subject", "ledger", "slurm", "note"],
            [[d.subject, d.ledger, d.slurm, d.note] for d in differences],
        )
    else:
        typer.echo("the ledger and Slurm's accounting agree")
    if differences:
        raise typer.Exit(1)


def _as_dict(difference: object) -> dict[str, str]:
    return {name: str(getattr(difference, name)) for name in ("subject", "ledger", "slurm", "note")}
