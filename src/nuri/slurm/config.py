"""Slurm configuration for a commons: pools become partitions, devices become typed GRES.

Pure: renders the text of ``slurm.conf``, ``gres.conf`` and ``slurmdbd.conf`` from pools and a
few site facts. ``nuri slurm-dev`` writes them for a cluster on one machine; a real centre's
operators can read them as the mapping nuri expects (node names, partitions, GRES types,
billing weights).

Mapping:

- one Slurm partition per pool, named as the pool; one Slurm node per pool node, named as nuri
  names it (``<pool>-n00`` ...), so a placement nuri decides is a ``--nodelist`` Slurm accepts;
- NVIDIA accelerators are ``gpu`` GRES of their model (``gpu:h100``); domestic NPUs are their
  own GRES name ``npu`` of their model (``npu:rngd``), so no tool mistakes them for CUDA devices;
- each partition bills ``TRESBillingWeights=CPU=0,GRES/<name>=<rate_milli>``: a device-minute
  of a pool bills its exchange rate in thousandths of an H100-minute. Awards, written as
  ``GrpTRESMins=billing=...``, are therefore H100-equivalent, exactly as nuri's ledger counts.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nuri.domain.commons import ACCELERATORS

CPUS_PER_DEVICE = 4
"""CPUs each node advertises per device (``SlurmdParameters=config_overrides`` allows it)."""

MEMORY_MB_PER_DEVICE = 16_000


@dataclass(frozen=True, slots=True)
class Gres:
    """A Slurm generic resource type: ``name:type``, e.g. ``gpu:h100``."""

    name: str
    type: str

    def request(self, count: int) -> str:
        """The ``--gres`` value asking for ``count`` of these."""
        return f"{self.name}:{self.type}:{count}"

    @property
    def tres(self) -> str:
        """The TRES name Slurm's accounting records, e.g. ``gres/gpu:h100``."""
        return f"gres/{self.name}:{self.type}"


def gres_of(accelerator: str) -> Gres:
    """The GRES an accelerator model is declared as."""
    vendor = ACCELERATORS[accelerator].vendor
    return Gres("gpu" if vendor == "nvidia" else "npu", accelerator.lower())


@dataclass(frozen=True, slots=True)
class SlurmPool:
    """What the Slurm configuration needs of one pool."""

    name: str
    accelerator: str
    nodes: int
    devices_per_node: int
    rate_milli: int

    def node_names(self) -> list[str]:
        return [f"{self.name}-n{index:02d}" for index in range(self.nodes)]


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """Where one cluster keeps its files and which ports and database it uses."""

    cluster_name: str
    hostname: str
    state_dir: Path
    controller_port: int
    dbd_port: int
    first_node_port: int
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_password: str
    node_spool_dir: Path
    """Where each slurmd keeps its files (``d.<node>`` below). slurmstepd makes unix sockets
    there, whose paths must stay under 108 bytes: a short directory, not the state directory."""

    @property
    def fake_device_dir(self) -> Path:
        return self.state_dir / "devices"

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def slurm_conf(self) -> Path:
        return self.state_dir / "slurm.conf"


@dataclass(frozen=True, slots=True)
class NodeLayout:
    """One Slurm node: its name, port and the fake device files behind its GRES."""

    name: str
    pool: SlurmPool
    port: int
    device_files: tuple[Path, ...]


def node_layout(pools: Sequence[SlurmPool], site: SiteFacts) -> list[NodeLayout]:
    """Every node of every pool, numbered consecutively for ports and device files."""
    layout: list[NodeLayout] = []
    device = 0
    for pool in pools:
        for name in pool.node_names():
            files = tuple(
                site.fake_device_dir / f"dev{index}"
                for index in range(device, device + pool.devices_per_node)
            )
            device += pool.devices_per_node
            layout.append(NodeLayout(name, pool, site.first_node_port + len(layout), files))
    return layout


def gres_names(pools: Sequence[SlurmPool]) -> list[str]:
    return sorted({gres_of(pool.accelerator).name for pool in pools})


def accounting_tres(pools: Sequence[SlurmPool]) -> list[str]:
    """The TRES Slurm must account: each GRES name and each typed GRES."""
    names = {f"gres/{name}" for name in gres_names(pools)}
    typed = {gres_of(pool.accelerator).tres for pool in pools}
    return sorted(names | typed)


def render_slurm_conf(pools: Sequence[SlurmPool], site: SiteFacts) -> str:
    """``slurm.conf``: multifactor priority with nuri's weights, backfill every second, limits
    enforced (``safe``: a job must fit its award by its time limit)."""
    lines = [
        "# Written by nuri slurm-dev; edits are overwritten by the next 'nuri slurm-dev up'.",
        f"ClusterName={site.cluster_name}",
        f"SlurmctldHost={site.hostname}(127.0.0.1)",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"SlurmctldPort={site.controller_port}",
        f"StateSaveLocation={site.spool_dir / 'ctld'}",
        f"SlurmdSpoolDir={site.node_spool_dir / 'd.%n'}",
        f"SlurmctldPidFile={site.pid_dir / 'slurmctld.pid'}",
        f"SlurmdPidFile={site.pid_dir / 'slurmd.%n.pid'}",
        f"SlurmctldLogFile={site.log_dir / 'slurmctld.log'}",
        f"SlurmdLogFile={site.log_dir / 'slurmd.%n.log'}",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        # One machine, no cgroups, no systemd.
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/linux",
        "JobAcctGatherFrequency=30",
        "MpiDefault=none",
        "SwitchType=switch/none",
        "ReturnToService=2",
        "SlurmdParameters=config_overrides",
        "SchedulerType=sched/backfill",
        # Seconds-long jobs in tests and fidelity runs need backfill to look every second.
        "SchedulerParameters=bf_interval=1,bf_resolution=1,sched_min_interval=100000",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        f"GresTypes={','.join(gres_names(pools))}",
        # The weights of nuri's slurm-multifactor policy (see nuri.policy.multifactor).
        "PriorityType=priority/multifactor",
        "PriorityFlags=NO_FAIR_TREE",
        "PriorityDecayHalfLife=7-0",
        "PriorityMaxAge=7-0",
        "PriorityCalcPeriod=1",
        "PriorityWeightAge=1000",
        "PriorityWeightFairshare=10000",
        "PriorityWeightJobSize=1000",
        "PriorityWeightQOS=10000",
        "AccountingStorageType=accounting_storage/slurmdbd",
        "AccountingStorageHost=127.0.0.1",
        f"AccountingStoragePort={site.dbd_port}",
        f"AccountingStorageTRES={','.join(accounting_tres(pools))}",
        "AccountingStorageEnforce=associations,limits,qos,safe",
        # nuri marks a preempted run in its comment, so a restarted nuri still requeues it.
        "AccountingStoreFlags=job_comment",
        "JobCompType=jobcomp/none",
        "SlurmctldTimeout=30",
        "SlurmdTimeout=30",
        "InactiveLimit=0",
        "MinJobAge=600",
        # The grace between SIGTERM and SIGKILL on cancel, preemption and time limit.
        "KillWait=10",
        "Waittime=0",
    ]
    layout = node_layout(pools, site)
    for node in layout:
        gres = gres_of(node.pool.accelerator)
        cpus = CPUS_PER_DEVICE * node.pool.devices_per_node
        lines.append(
            f"NodeName={node.name} NodeHostname={site.hostname} NodeAddr=127.0.0.1"
            f" Port={node.port} CPUs={cpus} Boards=1 SocketsPerBoard=1 CoresPerSocket={cpus}"
            f" ThreadsPerCore=1"
            f" RealMemory={MEMORY_MB_PER_DEVICE * node.pool.devices_per_node}"
            f" Gres={gres.request(node.pool.devices_per_node)} State=UNKNOWN"
        )
    for index, pool in enumerate(pools):
        gres = gres_of(pool.accelerator)
        nodes = ",".join(pool.node_names())
        lines.append(
            f"PartitionName={pool.name} Nodes={nodes} Default={'YES' if index == 0 else 'NO'}"
            f" DefaultTime=60 MaxTime=INFINITE State=UP"
            f' TRESBillingWeights="CPU=0,GRES/{gres.name}={pool.rate_milli}"'
        )
    return "\n".join(lines) + "\n"


def render_gres_conf(pools: Sequence[SlurmPool], site: SiteFacts) -> str:
    """``gres.conf``: each node's fake devices (character devices Slurm counts as real)."""
    lines = [
        "# Written by nuri slurm-dev: fake devices, no hardware behind them.",
        "AutoDetect=off",
    ]
    for node in node_layout(pools, site):
        gres = gres_of(node.pool.accelerator)
        for path in node.device_files:
            lines.append(f"NodeName={node.name} Name={gres.name} Type={gres.type} File={path}")
    return "\n".join(lines) + "\n"


def render_slurmdbd_conf(site: SiteFacts) -> str:
    """``slurmdbd.conf`` (Slurm refuses it unless owned by SlurmUser with mode 0600)."""
    return (
        "\n".join(
            [
                "# Written by nuri slurm-dev.",
                "AuthType=auth/munge",
                "DbdHost=localhost",
                "DbdAddr=127.0.0.1",
                f"DbdPort={site.dbd_port}",
                "SlurmUser=root",
                "DebugLevel=info",
                f"LogFile={site.log_dir / 'slurmdbd.log'}",
                f"PidFile={site.pid_dir / 'slurmdbd.pid'}",
                "StorageType=accounting_storage/mysql",
                f"StorageHost={site.db_host}",
                f"StoragePort={site.db_port}",
                f"StorageUser={site.db_user}",
                f"StoragePass={site.db_password}",
                f"StorageLoc={site.db_name}",
            ]
        )
        + "\n"
    )
