"""Submission load: jobs per second and their latency through the API, beside sbatch's rate.

For each database (SQLite in a temporary NURI_HOME; PostgreSQL in a fresh database on the server
named by ``--postgres-url``, dropped afterwards) the benchmark seeds a commons of ``--projects``
projects, each with its own PI, token and award, starts ``--replicas`` real ``nuri serve``
processes on loopback ports sharing that database (the API keeps no state of its own, so replicas
are how it grows), and then drives them from a *separate* process: ``--concurrency`` clients in
one asyncio loop, each submitting one job after another with a fresh ``Idempotency-Key`` (as
``nuri submit`` does), spread over the projects and replicas; ``--workers`` sets each replica's
worker processes (``nuri serve --workers``, a list such as ``1,2`` to compare them in one run).
The run is bounded by ``--requests`` and ``--seconds``, whichever comes first, after
``--warm-up`` requests that are not counted (with wrk, the default driver where installed, by
``--seconds`` alone after a short warm-up: see ``_drive_with_wrk``). Each submission is
admitted, held against its award and queued, exactly as in service; the scheduling interval is
set long so that the figure is admission's, not this machine starting thousands of local
processes.

In the same run, ``--sbatch N`` submits N held batch jobs to a real Slurm cluster (``nuri
slurm-dev up`` on its own ports, started and stopped here; needs root and Debian's Slurm, which
``slurm-dev up`` installs), with the same concurrency, for comparison: sbatch is what a national
centre's users call today.

With ``--floors`` the same driver also loads two minimal FastAPI servers (validate the body and
answer 201; and that plus one INSERT into PostgreSQL through SQLAlchemy): no implementation of
nuri's API on this stack can beat them on this machine, so they say how much of the gap to the
target is nuri's own work and how much the machine's.

Load goes only to 127.0.0.1. The table lists, per target: requests, failures, rate per second,
p50 and p99 latency in ms, and for the API the CPU time each submission cost in the measured
window, in the driver, the API's processes and PostgreSQL's (read from /proc): on a machine of
few cores, where all three share them, these say what bounds the rate. The last line is
``postgresql_rate=… p99_ms=… target_rate=500 target_p99_ms=100 sbatch_rate=…``.

    .venv/bin/python benchmarks/load.py [--requests 6000] [--seconds 20] [--concurrency 16]
        [--replicas 1] [--workers 1] [--databases sqlite,postgresql] [--sbatch 300] [--floors]
"""

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nuri.domain.commons import Role
from nuri.service.auth import Actor
from nuri.service.commons import open_commons
from nuri.service.settings import ServerSettings

BIN = Path(sys.executable).parent
TARGET_RATE = 500.0
TARGET_P99_MS = 100.0
SLURM_PORT_BASE = 6950
console = Console(width=160)


@dataclass
class Result:
    """What one target did under load."""

    target: str
    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: dict[str, float] = field(default_factory=dict)
    """CPU time per request in the measured window, by process group (driver, API, database)."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument(
        "--workers",
        default="1",
        help="worker processes per replica (nuri serve --workers); a list"
        " such as 1,2 runs each in turn",
    )
    parser.add_argument("--projects", type=int, default=16)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "NURI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--sbatch", type=int, default=300, help="0 skips the Slurm comparison")
    parser.add_argument(
        "--floors",
        action="store_true",
        help="also drive two minimal FastAPI servers: what any API of this stack could reach here",
    )
    parser.add_argument(
        "--driver",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="what sends the load: wrk (Debian's package; the default where installed) or a"
        " Python process with httpx, which costs the machine several times more CPU per request",
    )
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # the separate driver process
    parser.add_argument("--serve-floor", help=argparse.SUPPRESS)  # a floor server process
    args = parser.parse_args()
    if args.drive:
        drive(json.loads(args.drive))
        return
    if args.serve_floor:
        serve_floor(json.loads(args.serve_floor))
        return

    results: list[Result] = []
    for database in args.databases.split(","):
        for workers in (int(count) for count in args.workers.split(",")):
            with database_for(database.strip(), args.postgres_url) as url:
                results.append(load_api(database.strip(), url, args, workers))
    if args.floors:
        results.append(load_floor(None, args))
        with database_for("postgresql", args.postgres_url) as url:
            results.append(load_floor(url, args))
    if args.sbatch > 0:
        sbatch = load_sbatch(args)
        if sbatch is not None:
            results.append(sbatch)
    report(results, args)


# -- the API under load ---------------------------------------------------------------------------


@contextmanager
def database_for(kind: str, postgres_url: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite+pysqlite:///{directory}/nuri.sqlite3"
        return
    if kind != "postgresql":
        raise SystemExit(f"unknown database {kind!r}; use sqlite or postgresql")
    name = f"nuri_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, home: Path, projects: int) -> list[tuple[str, str]]:
    """A big H100 pool and ``projects`` projects with awards; (project, PI token) for each."""
    commons = open_commons(ServerSettings(home=home, database_url=url))
    try:
        d = commons.directory
        admin_view, _ = d.create_user(
            None, name="root", display_name="", role="admin", organisation=None
        )
        admin = Actor(admin_view.id, "root", Role.ADMIN)
        d.create_hub(admin, name="ksc", title="", operator="national-centre")
        d.create_pool(
            admin,
            name="h100",
            hub="ksc",
            accelerator="H100",
            nodes=128,
            devices_per_node=8,
            exchange_rate="1",
            krw_per_device_hour=4000,
        )
        d.create_organisation(admin, name="uni", title="", kind="university")
        now = datetime.now(UTC)
        pairs = []
        for number in range(projects):
            pi, project = f"pi{number}", f"lab{number}"
            d.create_user(admin, name=pi, display_name="", role="pi", organisation="uni")
            d.create_project(
                admin, name=project, title="", field="language", organisation="uni", pi=pi
            )
            d.create_allocation(
                admin,
                project=project,
                gpu_hours="1000000",
                pools=["h100"],
                tier="general",
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=365),
            )
            pairs.append((project, d.issue_token(admin, pi)))
        return pairs
    finally:
        commons.close()


def load_api(database: str, url: str, args: argparse.Namespace, workers: int) -> Result:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        pairs = seed(url, home, args.projects)
        servers = [start_server(url, home, replica, workers) for replica in range(args.replicas)]
        try:
            plan = {
                "urls": [server_url for server_url, _ in servers],
                "server_pids": [process.pid for _, process in servers],
                "pairs": pairs,
                "requests": args.requests,
                "seconds": args.seconds,
                "warm_up": args.warm_up,
                "concurrency": args.concurrency,
                "target": f"nuri API, {database}, {args.replicas} replica(s) x {workers} worker(s)",
            }
            console.print(f"[bold]{plan['target']}[/bold]: driving from a separate process")
            return _run_driver(plan, args)
        finally:
            for _, process in servers:
                process.terminate()
                process.wait(30)


def _run_driver(plan: dict[str, object], args: argparse.Namespace) -> Result:
    if args.driver == "wrk":
        return _drive_with_wrk(plan)
    driver = subprocess.run(
        [sys.executable, __file__, "--drive", json.dumps(plan)],
        capture_output=True,
        text=True,
        check=False,
        timeout=args.seconds + 300,
    )
    if driver.returncode != 0:
        raise SystemExit(f"the driver failed:\n{driver.stderr}")
    return Result(**json.loads(driver.stdout))


def start_server(
    url: str, home: Path, replica: int, workers: int
) -> tuple[str, subprocess.Popen[bytes]]:
    port = 18700 + replica
    env = os.environ | {
        "NURI_HOME": str(home),
        "NURI_DATABASE_URL": url,
        "NURI_SCHEDULER_INTERVAL_S": "60",
        "NURI_LOG_FORMAT": "json",
        "NURI_ANALYSES": "false",
    }
    log = (home / f"serve-{replica}.log").open("ab")
    process = subprocess.Popen(
        [str(BIN / "nuri"), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=log,
    )
    server_url = f"http://127.0.0.1:{port}"
    _wait_until_up(server_url, process, f"nuri serve did not start; see {home}/serve-{replica}.log")
    return server_url, process


def _wait_until_up(
    server_url: str, process: subprocess.Popen[bytes], failure: str = "a server did not start"
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(failure)


WRK_WARM_UP_S = 3
WRK_SCRIPT = """
local pairs_ = {%(pairs)s}
local issued = 0

request = function()
  issued = issued + 1
  local pair = pairs_[(issued %% #pairs_) + 1]
  local body = '{"project":"' .. pair[1] .. '","pool":"h100","gpus":1,"time_limit_s":3600,'
    .. '"command":["python","train.py","--epochs","3"]}'
  return wrk.format("POST", "/api/v1/jobs", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. pair[2],
    ["Idempotency-Key"] = "%(prefix)s-" .. issued,
  }, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"failures":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _drive_with_wrk(plan: dict[str, object]) -> Result:
    """The same load as the httpx driver's, sent by wrk: an HTTP load generator in C whose CPU per
    request is a small fraction of httpx's, so the driver takes less of the machine's cores from
    the server being measured. Each connection sends one request after another, each with a
    fresh Idempotency-Key; a warm-up run comes first and is not counted.

    wrk's runs are bounded by time (``--seconds``) only: it waits out its whole duration even
    when told to stop sooner, so a count would make its rate wrong.
    """
    urls = [str(url) for url in plan["urls"]]  # type: ignore[attr-defined]
    if len(urls) != 1:
        raise SystemExit("the wrk driver loads one server; use --driver httpx for replicas")
    pairs = ", ".join(
        f'{{"{project}", "{token}"}}'
        for project, token in plan["pairs"]  # type: ignore[attr-defined]
    )
    server_pids = [int(pid) for pid in plan["server_pids"]]  # type: ignore[attr-defined]
    concurrency = int(str(plan["concurrency"]))

    def run(seconds: float) -> tuple[dict[str, float], float]:
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(WRK_SCRIPT % {"pairs": pairs, "prefix": uuid.uuid4().hex})
            script.flush()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            finished = subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{concurrency}",
                    f"-d{max(1, math.ceil(seconds))}s",
                    "--timeout",
                    "30s",
                    "-s",
                    script.name,
                    urls[0],
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if finished.returncode != 0:
            raise SystemExit(f"wrk failed:\n{finished.stderr}")
        spent = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return json.loads(finished.stdout.strip().splitlines()[-1]), spent

    run(WRK_WARM_UP_S)
    cpu_before = _cpu_by_group(server_pids)
    summary, driver_cpu = run(float(str(plan["seconds"])))
    cpu_after = _cpu_by_group(server_pids)
    requests = int(summary["requests"])
    result = Result(
        target=str(plan["target"]),
        requests=requests,
        failures=int(summary["failures"]),
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
    )
    if requests:
        result.cpu_ms = {
            group: 1000 * (cpu_after[group] - cpu_before[group]) / requests
            for group in ("API", "database")
        } | {"driver": 1000 * driver_cpu / requests}
    return result


def drive(plan: dict[str, object]) -> None:
    """The driver process: submissions from ``concurrency`` clients; prints a Result as JSON."""
    result = asyncio.run(_drive(plan))
    sys.stdout.write(json.dumps(asdict(result)))


async def _drive(plan: dict[str, object]) -> Result:
    urls = list(plan["urls"])  # type: ignore[call-overload]
    pairs = [tuple(pair) for pair in plan["pairs"]]  # type: ignore[attr-defined]
    concurrency = int(plan["concurrency"])  # type: ignore[call-overload]
    warm_up = int(plan["warm_up"])  # type: ignore[call-overload]
    wanted = int(plan["requests"])  # type: ignore[call-overload]
    seconds = float(plan["seconds"])  # type: ignore[arg-type]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = [httpx.AsyncClient(base_url=url, limits=limits, timeout=30) for url in urls]
    latencies: list[float] = []
    failures = 0
    issued = 0
    measuring = False

    async def submit(worker: int, number: int) -> tuple[float, bool]:
        project, token = pairs[(worker + number) % len(pairs)]
        client = clients[(worker + number) % len(clients)]
        body = {
            "project": project,
            "pool": "h100",
            "gpus": 1,
            "time_limit_s": 3600,
            "command": ["python", "train.py", "--epochs", "3"],
        }
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        response = await client.post("/api/v1/jobs", json=body, headers=headers)
        return time.perf_counter() - started, response.status_code == 201

    async def worker(index: int, stop_at: float, budget: int) -> None:
        nonlocal failures, issued
        number = 0
        while issued < budget and time.perf_counter() < stop_at:
            issued += 1
            number += 1
            elapsed, ok = await submit(index, number)
            if measuring:
                latencies.append(elapsed)
                failures += 0 if ok else 1

    await asyncio.gather(
        *(worker(i, time.perf_counter() + 60, warm_up) for i in range(concurrency))
    )
    measuring, issued = True, 0
    server_pids = [int(pid) for pid in plan["server_pids"]]  # type: ignore[attr-defined]
    cpu_before = _cpu_by_group(server_pids)
    began = time.perf_counter()
    await asyncio.gather(*(worker(i, began + seconds, wanted) for i in range(concurrency)))
    elapsed = time.perf_counter() - began
    cpu_after = _cpu_by_group(server_pids)
    for client in clients:
        await client.aclose()
    result = _result(str(plan["target"]), latencies, failures, elapsed)
    if latencies:
        result.cpu_ms = {
            group: 1000 * (cpu_after[group] - cpu_before[group]) / len(latencies)
            for group in cpu_before
        }
    return result


def _cpu_by_group(server_pids: list[int]) -> dict[str, float]:
    """CPU seconds used so far by this driver, the API servers and PostgreSQL's processes (its
    backends serve the API's connections; on SQLite the database's work is the API's own)."""
    postgres = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _comm(entry) == "postgres"
    ]
    return {
        "driver": time.process_time(),
        "API": sum(_cpu_seconds(pid)[0] for pid in _with_children(server_pids)),
        # A backend that ends (a connection closed) takes its CPU time into its parent's count
        # of ended children, so the sum stays continuous when connections come and go.
        "database": sum(sum(_cpu_seconds(pid)) for pid in postgres),
    }


def _with_children(pids: list[int]) -> list[int]:
    """``pids`` and their child processes (a server's worker processes)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry)
            if fields and int(fields[1]) in pids:  # the parent's pid
                children.append(int(entry.name))
    return [*pids, *children]


def _stat_fields(process: Path) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name, which may hold spaces (empty if
    the process has gone): the state, the parent's pid, and so on (``man 5 proc``, from 3)."""
    try:
        stat = (process / "stat").read_text()
    except OSError:
        return []
    return stat.rsplit(")", 1)[1].split()


def _comm(process: Path) -> str:
    try:
        return (process / "comm").read_text().strip()
    except OSError:
        return ""


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU of one process, and of its ended children (zeros if it has gone)."""
    fields = _stat_fields(Path(f"/proc/{pid}"))
    if not fields:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _result(target: str, latencies: list[float], failures: int, elapsed: float) -> Result:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0
    return Result(
        target=target,
        requests=len(ordered),
        failures=failures,
        seconds=elapsed,
        p50_ms=1000 * statistics.median(ordered) if ordered else 0.0,
        p99_ms=1000 * p99,
    )


# -- floors: what a minimal server of the same stack reaches on this machine ---------------------


def load_floor(url: str | None, args: argparse.Namespace) -> Result:
    """Drive a minimal FastAPI server with the same driver, clients and body as the API.

    Without ``url`` it validates the body and answers 201; with one it also inserts the job
    into PostgreSQL through SQLAlchemy in a transaction of its own, as one durable write costs.
    Neither authenticates, admits, holds, keys or logs anything, so nuri's API can only be
    slower; the gap between them and nuri is what its own work costs.
    """
    port = 18690 + (0 if url is None else 1)
    target = "floor: FastAPI" + ("" if url is None else " + one INSERT, postgresql")
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-floor", json.dumps({"port": port, "url": url})],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server_url = f"http://127.0.0.1:{port}"
        _wait_until_up(server_url, process, f"the floor server {target!r} did not start")
        plan = {
            "urls": [server_url],
            "server_pids": [process.pid],
            "pairs": [(f"lab{number}", "no-token") for number in range(args.projects)],
            "requests": args.requests,
            "seconds": args.seconds,
            "warm_up": args.warm_up,
            "concurrency": args.concurrency,
            "target": target,
        }
        console.print(f"[bold]{target}[/bold]: driving from a separate process")
        return _run_driver(plan, args)
    finally:
        process.terminate()
        process.wait(30)


def serve_floor(config: dict[str, object]) -> None:
    """The floor server process (see :func:`load_floor`)."""
    import uvicorn
    from fastapi import FastAPI
    from pydantic import BaseModel
    from sqlalchemy import JSON, Column, Integer, MetaData, String, insert
    from sqlalchemy import Table as SqlTable

    class Submission(BaseModel):
        project: str
        pool: str
        gpus: int
        time_limit_s: int
        command: list[str]

    jobs = SqlTable(
        "floor_jobs",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("project", String(100)),
        Column("pool", String(100)),
        Column("devices", Integer),
        Column("time_limit_s", Integer),
        Column("command", JSON),
    )
    url = config["url"]
    engine = None
    if url is not None:
        engine = create_engine(str(url), pool_size=20, max_overflow=20)  # as nuri's
        jobs.metadata.create_all(engine)
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/jobs", status_code=201)
    def submit(body: Submission) -> dict[str, object]:
        job_id = 0
        if engine is not None:
            with engine.begin() as connection:
                job_id = connection.execute(
                    insert(jobs)
                    .values(
                        project=body.project,
                        pool=body.pool,
                        devices=body.gpus,
                        time_limit_s=body.time_limit_s,
                        command=body.command,
                    )
                    .returning(jobs.c.id)
                ).scalar_one()
        return {"id": job_id, "project": body.project, "pool": body.pool, "state": "PENDING"}

    uvicorn.run(
        app, host="127.0.0.1", port=int(str(config["port"])), log_config=None, access_log=False
    )


# -- sbatch, for comparison -----------------------------------------------------------------------

SLURM_SPEC = """\
hubs:
  - name: ksc
    pools:
      - {name: h100, accelerator: H100, nodes: 2, devices_per_node: 8, h100_equivalent: 1.0, krw_per_device_hour: 4000}
"""


def load_sbatch(args: argparse.Namespace) -> Result | None:
    if os.geteuid() != 0:
        console.print("[yellow]sbatch comparison skipped: slurm-dev needs root[/yellow]")
        return None
    from nuri.slurm.accounts import SlurmAccount, apply_accounts
    from nuri.slurm.commands import SlurmTools

    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory)
        (state / "cluster.yaml").write_text(SLURM_SPEC)
        nuri = [str(BIN / "nuri"), "slurm-dev"]
        where = ["--spec", str(state / "cluster.yaml"), "--state-dir", str(state / "slurm")]
        where += ["--port-base", str(SLURM_PORT_BASE), "--cluster-name", "nuriload"]
        console.print("[bold]sbatch[/bold]: starting a Slurm cluster (nuri slurm-dev up)")
        up = subprocess.run([*nuri, "up", *where], capture_output=True, text=True, check=False)
        if up.returncode != 0:
            console.print(f"[yellow]sbatch comparison skipped: {up.stderr.strip()}[/yellow]")
            return None
        try:
            conf = state / "slurm" / "slurm.conf"
            apply_accounts(SlurmTools(conf), [SlurmAccount("load", 1, "nuri-load", 10**9, 0)])
            return _drive_sbatch(conf, args)
        finally:
            subprocess.run(
                ["scancel", "--account=load"],
                env=os.environ | {"SLURM_CONF": str(state / "slurm" / "slurm.conf")},
                capture_output=True,
                check=False,
            )
            subprocess.run([*nuri, "down", *where], capture_output=True, check=False)


def _drive_sbatch(conf: Path, args: argparse.Namespace) -> Result:
    env = os.environ | {"SLURM_CONF": str(conf)}
    command = [
        "sbatch",
        "--parsable",
        "--hold",
        "--account=load",
        "--qos=nuri-load",
        "--partition=h100",
        "--gres=gpu:h100:1",
        "--time=60",
        "--output=/dev/null",
        "--wrap=python train.py --epochs 3",
    ]

    async def one() -> tuple[float, bool]:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        code = await process.wait()
        return time.perf_counter() - started, code == 0

    async def run() -> Result:
        latencies: list[float] = []
        failures = 0
        issued = 0

        async def worker() -> None:
            nonlocal issued, failures
            while issued < args.sbatch:
                issued += 1
                elapsed, ok = await one()
                latencies.append(elapsed)
                failures += 0 if ok else 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        return _result(
            "sbatch --hold, Slurm 2 nodes", latencies, failures, time.perf_counter() - began
        )

    if shutil.which("sbatch") is None:
        raise SystemExit("sbatch is not on PATH after slurm-dev up")
    return asyncio.run(run())


def report(results: list[Result], args: argparse.Namespace) -> None:
    table = Table(title=f"Job submissions, {args.concurrency} concurrent clients on loopback")
    groups = ("driver", "API", "database")
    columns = ("target", "requests", "failures", "rate /s", "p50 ms", "p99 ms")
    for column in (*columns, *(f"CPU ms/req, {group}" for group in groups)):
        table.add_column(column, justify="left" if column == "target" else "right")
    for result in results:
        table.add_row(
            result.target,
            str(result.requests),
            str(result.failures),
            f"{result.rate:.0f}",
            f"{result.p50_ms:.1f}",
            f"{result.p99_ms:.1f}",
            *(f"{result.cpu_ms[group]:.2f}" if group in result.cpu_ms else "" for group in groups),
        )
    console.print(table)
    postgres = next((r for r in results if "postgresql" in r.target), None)
    sbatch = next((r for r in results if r.target.startswith("sbatch")), None)
    console.print(
        f"postgresql_rate={postgres.rate if postgres else float('nan'):.0f}"
        f" p99_ms={postgres.p99_ms if postgres else float('nan'):.1f}"
        f" target_rate={TARGET_RATE:.0f} target_p99_ms={TARGET_P99_MS:.0f}"
        f" sbatch_rate={sbatch.rate if sbatch else float('nan'):.0f}"
    )


if __name__ == "__main__":
    main()
