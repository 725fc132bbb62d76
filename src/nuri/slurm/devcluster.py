"""A real Slurm cluster on this machine, for development, demos and tests (``nuri slurm-dev``).

Debian's Slurm packages (installed with apt-get when missing), started without systemd:
munged (the machine's, started if none answers, and stopped by the last cluster using it), slurmdbd on a MariaDB server (the one on the database port,
or one started here when none answers), slurmctld, and one ``slurmd -N <node>`` per node of the
cluster spec with fake devices declared as typed GRES. Every daemon started is recorded with its
PID and start time in ``<state>/processes.json``; ``down`` stops those and nothing else.
"""

import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from nuri.domain.errors import DomainError
from nuri.slurm.config import (
    SiteFacts,
    SlurmPool,
    node_layout,
    render_gres_conf,
    render_slurm_conf,
    render_slurmdbd_conf,
)

PACKAGES = ("munge", "slurm-wlm", "slurmctld", "slurmd", "slurm-client", "slurmdbd")
"""Debian packages of a single-machine cluster (slurm-wlm pulls in the plugins)."""

DAEMONS = ("munged", "munge", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacctmgr", "scontrol")
CLUSTERS_DIR = Path("/run/nuri-slurm-dev")
"""``clusters/``: one file per running development cluster (naming its state directory), so that
the munged they share is stopped by the last of them, not the first; ``spool/``: slurmd's files."""
DB_PASSWORD = "nuri-slurm-dev"  # a development database on loopback only


class SlurmDevError(DomainError):
    """The development cluster cannot do what was asked; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Daemon:
    """A process this module started: enough to stop exactly it and nothing else."""

    name: str
    pid: int
    started: float
    """The process's start time in clock ticks since boot (guards against PID reuse)."""


@dataclass(frozen=True, slots=True)
class Status:
    running: bool
    daemons: tuple[tuple[Daemon, bool], ...]
    nodes: str
    slurm_conf: Path


def site_facts(
    state_dir: Path,
    *,
    cluster_name: str = "nuri",
    port_base: int = 6817,
    db_host: str = "127.0.0.1",
    db_port: int = 3306,
) -> SiteFacts:
    return SiteFacts(
        cluster_name=cluster_name,
        hostname=socket.gethostname().split(".")[0],
        state_dir=state_dir,
        controller_port=port_base,
        dbd_port=port_base + 2,
        first_node_port=port_base + 13,
        db_host=db_host,
        db_port=db_port,
        db_name=f"slurm_acct_{cluster_name.replace('-', '_')}",
        db_user="nuri_slurm",
        db_password=DB_PASSWORD,
        node_spool_dir=CLUSTERS_DIR / "spool" / _short_digest(state_dir),
    )


def slurm_environment(slurm_conf: Path) -> dict[str, str]:
    """The environment that points every Slurm command (and daemon) at this cluster."""
    return {**os.environ, "SLURM_CONF": str(slurm_conf)}


class DevCluster:
    """One single-machine cluster kept under ``site.state_dir``."""

    def __init__(
        self,
        pools: Sequence[SlurmPool],
        site: SiteFacts,
        report: Callable[[str], None] = print,
    ) -> None:
        if not pools:
            raise SlurmDevError("the cluster spec has no pools")
        self.pools = tuple(pools)
        self.site = site
        self._report = report
        self._env = slurm_environment(site.slurm_conf)

    # -- public ------------------------------------------------------------------------------

    def up(self, *, install: bool = True, timeout_s: float = 90.0) -> float:
        """Start the cluster (or do nothing if it already runs this spec); seconds it took."""
        begun = time.monotonic()
        if os.geteuid() != 0:
            raise SlurmDevError("nuri slurm-dev must run as root (slurmd starts jobs as users)")
        with machine_lock(self._waiting):
            self._up(install, timeout_s)
        return time.monotonic() - begun

    def _up(self, install: bool, timeout_s: float) -> None:
        config = self._config_text()
        running = self._live_daemons()
        if running:
            if self._state_value("config_digest") == _digest(config) and self._nodes_ready():
                self._report("already running")
                return
            raise SlurmDevError(
                f"a development cluster with another spec (or half started) runs from"
                f" {self.site.state_dir}; run 'nuri slurm-dev down' first"
            )
        self._ensure_packages(install)
        self._check_ports()
        self._write_files(config)
        daemons: list[Daemon] = []
        try:
            daemons += self._ensure_munge()
            self._save(daemons, config)
            self._register()
            daemons += self._ensure_database(install)
            self._save(daemons, config)
            daemons.append(self._spawn("slurmdbd", ["/usr/sbin/slurmdbd", "-D"]))
            self._save(daemons, config)
            self._wait(self._dbd_ready, timeout_s, "slurmdbd did not answer", "slurmdbd.log")
            self._sacctmgr("add", "cluster", self.site.cluster_name, check=False)
            daemons.append(self._spawn("slurmctld", ["/usr/sbin/slurmctld", "-D", "-i"]))
            for node in node_layout(self.pools, self.site):
                daemons.append(
                    self._spawn(f"slurmd-{node.name}", ["/usr/sbin/slurmd", "-D", "-N", node.name])
                )
            self._save(daemons, config)
            self._wait(self._nodes_ready, timeout_s, "nodes did not become idle", "slurmctld.log")
        except BaseException:
            self._down()
            raise

    def down(self) -> list[str]:
        """Stop the daemons this cluster started, by PID; names of those stopped."""
        with machine_lock(self._waiting):
            return self._down()

    def _waiting(self) -> None:
        self._report("waiting for another cluster on this machine to finish starting or stopping")

    def _down(self) -> list[str]:
        daemons = self._recorded()
        if not daemons:
            return []
        if any(d.name == "slurmctld" and _alive(d) for d in daemons):
            # Jobs' slurmstepd processes would outlive slurmd; end them first.
            listed = self._run(["squeue", "-h", "-o", "%i"], check=False)
            job_ids = listed.stdout.split()
            if job_ids:
                self._run(["scancel", *job_ids], check=False)
                time.sleep(1.0)
        stopped: list[str] = []
        self._registration.unlink(missing_ok=True)
        munged = [d for d in daemons if d.name == "munged"]
        heir = next(iter(self._other_live_clusters()), None)
        if munged and heir is not None:  # another cluster still needs it: it inherits munged
            DevCluster._adopt(heir, munged)
            munged = []
        for group in (
            [d for d in daemons if d.name == "slurmctld" or d.name.startswith("slurmd-")],
            [d for d in daemons if d.name == "slurmdbd"],
            [d for d in daemons if d.name == "mariadbd"] + munged,
        ):
            stopped += _stop_group(group)
        self._state_path.unlink(missing_ok=True)
        return stopped

    def status(self) -> Status:
        daemons = self._recorded()
        alive = tuple((daemon, _alive(daemon)) for daemon in daemons)
        nodes = ""
        if any(ok for _, ok in alive):
            result = self._run(["sinfo", "-N", "-h", "-o", "%N %P %T %G"], check=False)
            nodes = result.stdout.strip()
        return Status(
            running=bool(alive) and all(ok for _, ok in alive),
            daemons=alive,
            nodes=nodes,
            slurm_conf=self.site.slurm_conf,
        )

    def restart_controller(self, down_s: float = 0.0) -> None:
        """Stop slurmctld, wait ``down_s`` seconds, start it again from its saved state (jobs
        that were running keep running under their slurmstepd)."""
        daemons = self._recorded()
        controller = [d for d in daemons if d.name == "slurmctld"]
        _stop_group(controller)
        time.sleep(down_s)
        others = [d for d in daemons if d.name != "slurmctld"]
        restarted = self._spawn("slurmctld", ["/usr/sbin/slurmctld", "-D"])
        self._save([*others, restarted], self._config_text())
        self._wait(self._nodes_responding, 60.0, "slurmctld did not come back", "slurmctld.log")

    # -- steps -------------------------------------------------------------------------------

    def _config_text(self) -> dict[str, str]:
        return {
            "slurm.conf": render_slurm_conf(self.pools, self.site),
            "gres.conf": render_gres_conf(self.pools, self.site),
            "slurmdbd.conf": render_slurmdbd_conf(self.site),
        }

    def _ensure_packages(self, install: bool) -> None:
        missing = [name for name in DAEMONS if shutil.which(name) is None and not _sbin(name)]
        if not missing:
            return
        if not install:
            raise SlurmDevError(f"Slurm is not installed (missing {', '.join(missing)})")
        if shutil.which("apt-get") is None:
            raise SlurmDevError(
                "Slurm is not installed and there is no apt-get to install it; install Debian's"
                f" packages {' '.join(PACKAGES)}"
            )
        self._report(f"installing {' '.join(PACKAGES)} with apt-get (once)")
        _install_debian_packages(PACKAGES)

    def _check_ports(self) -> None:
        ports = [self.site.controller_port, self.site.dbd_port]
        ports += [node.port for node in node_layout(self.pools, self.site)]
        for port in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("0.0.0.0", port))  # slurmd binds every address
                except OSError:
                    raise SlurmDevError(
                        f"port {port} is taken by another process; stop it, or pick other ports"
                        " with --port-base"
                    ) from None

    def _write_files(self, config: dict[str, str]) -> None:
        site = self.site
        for directory in (site.state_dir, site.pid_dir, site.log_dir, site.spool_dir / "ctld"):
            directory.mkdir(parents=True, exist_ok=True)
        site.fake_device_dir.mkdir(parents=True, exist_ok=True)
        for node in node_layout(self.pools, site):
            (site.node_spool_dir / f"d.{node.name}").mkdir(parents=True, exist_ok=True)
            for number, path in enumerate(node.device_files):
                if not path.is_char_device():
                    path.unlink(missing_ok=True)
                    try:  # Slurm logs an error per device for plain files, but still counts them
                        os.mknod(path, 0o600 | 0o020000, os.makedev(195, number))
                    except OSError:
                        path.touch()
        for name, text in config.items():
            path = site.state_dir / name
            path.write_text(text)
            path.chmod(0o600 if name == "slurmdbd.conf" else 0o644)

    def _ensure_munge(self) -> list[Daemon]:
        """munged is one per machine (Slurm 22.05's clients ignore ``AuthInfo=socket`` on their
        connections to slurmdbd): use the one that answers, or start it."""
        if _munge_works():
            return []
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            raise SlurmDevError(f"munge has no key at {key}; reinstall the munge package")
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        pid_file = Path("/run/munge/munged.pid")
        subprocess.run(
            ["runuser", "-u", "munge", "--", _binary("munged"), f"--pid-file={pid_file}"],
            check=True,
            capture_output=True,
        )
        for _ in range(100):
            if _munge_works():
                break
            time.sleep(0.1)
        else:
            raise SlurmDevError("munged started but does not answer; see /var/log/munge")
        return [_daemon("munged", int(pid_file.read_text().strip()))]

    def _ensure_database(self, install: bool) -> list[Daemon]:
        site = self.site
        started: list[Daemon] = []
        if not _port_answers(site.db_host, site.db_port):
            started.append(self._start_mariadb(install))
        statements = []
        if not (site.spool_dir / "ctld" / "job_state").exists():
            # A fresh controller numbers jobs from 1 again; accounting kept from an earlier
            # cluster of this name would then hold two different jobs under one id.
            statements.append(f"DROP DATABASE IF EXISTS {site.db_name};")
        statements += [
            f"CREATE USER IF NOT EXISTS '{site.db_user}'@'{host}' IDENTIFIED BY '{site.db_password}';"
            f" GRANT ALL ON {site.db_name}.* TO '{site.db_user}'@'{host}';"
            for host in ("localhost", "127.0.0.1")
        ]
        result = subprocess.run(
            [
                *("mariadb", "-h", site.db_host, "-P", str(site.db_port), "-u", "root", "-e"),
                " ".join(statements) + " FLUSH PRIVILEGES;",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SlurmDevError(
                f"could not create the Slurm accounting user on MariaDB at {site.db_host}:"
                f"{site.db_port} as root without a password: {result.stderr.strip()}"
            )
        return started

    def _start_mariadb(self, install: bool) -> Daemon:
        if shutil.which("mariadbd") is None and not _sbin("mariadbd"):
            if not install:
                raise SlurmDevError(f"no MariaDB answers on port {self.site.db_port}")
            _install_debian_packages(("mariadb-server",))
        data = self.site.state_dir / "mariadb"
        if not (data / "mysql").exists():
            subprocess.run(
                [
                    "mariadb-install-db",
                    "--user=mysql",
                    f"--datadir={data}",
                    "--auth-root-authentication-method=normal",
                ],
                check=True,
                capture_output=True,
            )
        daemon = self._spawn(
            "mariadbd",
            [
                _binary("mariadbd"),
                "--user=mysql",
                f"--datadir={data}",
                f"--port={self.site.db_port}",
                f"--socket={self.site.pid_dir / 'mariadb.sock'}",
                f"--pid-file={self.site.pid_dir / 'mariadb.pid'}",
                "--bind-address=127.0.0.1",
            ],
        )
        self._wait(
            lambda: _port_answers(self.site.db_host, self.site.db_port),
            60.0,
            "MariaDB did not start",
            "mariadbd.out",
        )
        return daemon

    def _spawn(self, name: str, argv: list[str]) -> Daemon:
        log = (self.site.log_dir / f"{name}.out").open("ab")
        process = subprocess.Popen(
            argv,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return _daemon(name, process.pid)

    def _wait(self, ready: Callable[[], bool], timeout_s: float, what: str, log: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [d.name for d in self._recorded() if not _alive(d)]
            if dead:
                break
            time.sleep(0.2)
        else:
            dead = []
        tail = _tail(self.site.log_dir / log)
        exited = f" ({', '.join(dead)} exited)" if dead else ""
        raise SlurmDevError(f"{what} within {timeout_s:.0f} s{exited}; end of {log}:\n{tail}")

    def _dbd_ready(self) -> bool:
        return self._sacctmgr("-n", "list", "cluster", check=False).returncode == 0

    def _nodes_ready(self) -> bool:
        result = self._run(["sinfo", "-N", "-h", "-o", "%N %T"], check=False)
        if result.returncode != 0:
            return False
        states = dict(line.split() for line in result.stdout.splitlines() if line.strip())
        expected = {node.name for node in node_layout(self.pools, self.site)}
        return expected <= set(states) and all(
            states[name].rstrip("*") in ("idle", "mixed", "allocated") for name in expected
        )

    def _nodes_responding(self) -> bool:
        result = self._run(["sinfo", "-N", "-h", "-o", "%N %T"], check=False)
        return result.returncode == 0 and "*" not in result.stdout and bool(result.stdout)

    # -- state -------------------------------------------------------------------------------

    @property
    def _registration(self) -> Path:
        return CLUSTERS_DIR / "clusters" / _short_digest(self.site.state_dir)

    def _register(self) -> None:
        self._registration.parent.mkdir(parents=True, exist_ok=True)
        self._registration.write_text(str(self.site.state_dir))

    def _other_live_clusters(self) -> list[Path]:
        registry = self._registration.parent
        if not registry.is_dir():
            return []
        others = []
        for entry in registry.iterdir():
            if entry == self._registration:
                continue
            state = Path(entry.read_text().strip()) / "processes.json"
            try:
                recorded = json.loads(state.read_text()).get("daemons", [])
            except (OSError, json.JSONDecodeError):
                entry.unlink(missing_ok=True)
                continue
            if any(_alive(Daemon(**item)) for item in recorded):
                others.append(state)
            else:
                entry.unlink(missing_ok=True)
        return others

    @staticmethod
    def _adopt(processes_json: Path, daemons: Sequence[Daemon]) -> None:
        data = json.loads(processes_json.read_text())
        data["daemons"] = data.get("daemons", []) + [asdict(d) for d in daemons]
        processes_json.write_text(json.dumps(data, indent=2))

    @property
    def _state_path(self) -> Path:
        return self.site.state_dir / "processes.json"

    def _save(self, daemons: Sequence[Daemon], config: dict[str, str]) -> None:
        self._state_path.write_text(
            json.dumps(
                {
                    "config_digest": _digest(config),
                    "daemons": [asdict(daemon) for daemon in daemons],
                },
                indent=2,
            )
        )

    def _state_value(self, key: str) -> object:
        try:
            return json.loads(self._state_path.read_text()).get(key)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _recorded(self) -> list[Daemon]:
        raw = self._state_value("daemons")
        if not isinstance(raw, list):
            return []
        return [Daemon(**item) for item in raw]

    def _live_daemons(self) -> list[Daemon]:
        return [daemon for daemon in self._recorded() if _alive(daemon)]

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env=self._env, capture_output=True, text=True, check=check, timeout=60
        )

    def _sacctmgr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(["sacctmgr", "-i", *args], check=check)


# -- processes ---------------------------------------------------------------------------------


def _daemon(name: str, pid: int) -> Daemon:
    return Daemon(name, pid, _start_ticks(pid) or 0.0)


def _start_ticks(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent has not reaped it
        return None
    return float(fields[19])


def _alive(daemon: Daemon) -> bool:
    ticks = _start_ticks(daemon.pid)
    return ticks is not None and ticks == daemon.started


def _stop_group(daemons: Sequence[Daemon], timeout_s: float = 20.0) -> list[str]:
    """SIGTERM every live daemon of the group together, SIGKILL whichever outlives the grace."""
    live = [daemon for daemon in daemons if _alive(daemon)]
    for daemon in live:
        os.kill(daemon.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(d) for d in live):
        _reap()
        time.sleep(0.1)
    for daemon in live:
        if _alive(daemon):
            os.kill(daemon.pid, signal.SIGKILL)
    _reap()
    return [daemon.name for daemon in live]


def _reap() -> None:
    """Collect exited children of this process (daemons started by this same process)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _munge_works() -> bool:
    encoded = subprocess.run(["munge", "-n"], capture_output=True, check=False)
    if encoded.returncode != 0:
        return False
    decoded = subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True, check=False)
    return decoded.returncode == 0


def _port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def machine_lock(waiting: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Held while a cluster starts or stops. Clusters on one machine share Debian's packages,
    munged and perhaps a MariaDB started here: two ``up`` at once would both run apt-get (one
    fails on dpkg's lock) or both start munged, and a ``down`` beside an ``up`` could stop the
    munged the other had just found answering, before it registered as a user of it."""
    CLUSTERS_DIR.mkdir(parents=True, exist_ok=True)
    with (CLUSTERS_DIR / "lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes or the process dies
        yield


def _install_debian_packages(packages: Sequence[str]) -> None:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    policy = Path("/usr/sbin/policy-rc.d")
    if not policy.exists():  # keep dpkg from starting the daemons: there is no init to own them
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        result = subprocess.run(argv, env=environment, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SlurmDevError(
                f"could not install {' '.join(packages)}: '{' '.join(argv)}' failed:\n"
                + _last_lines(result.stderr or result.stdout)
            )


def _sbin(name: str) -> bool:
    return Path("/usr/sbin", name).exists()


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _short_digest(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:12]


def _digest(config: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return _last_lines(path.read_text(errors="replace"), lines)
    except FileNotFoundError:
        return f"({path} does not exist)"


def _last_lines(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
