"""Slurm's command-line tools, called as subprocesses, and their output parsed into values.

nuri drives Slurm through ``sbatch``, ``squeue``, ``sacct``, ``scontrol``, ``scancel`` and
``sacctmgr`` rather than slurmrestd: the tools are in every Slurm installation and every
version, authenticate through munge as the service's own Unix user, and have stable
``--parsable`` output; slurmrestd's API changes with each Slurm release (Debian 12 serves only
v0.0.36-38, which later releases removed) and, without JWT in Debian's build, listens only on a
unix socket. A call costs a fork (about 10-30 ms), which the engine pays a few times per cycle.

Times are asked of Slurm in UTC (``TZ=UTC``) so that they compare with nuri's clock.
"""

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nuri.backends.protocol import BackendError

NO_TIME = ("Unknown", "None", "N/A", "")


class SlurmUnavailable(BackendError):
    """Slurm did not answer (slurmctld or slurmdbd down, or the tools missing)."""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A job as ``squeue`` shows it."""

    slurm_id: int
    name: str
    state: str
    partition: str
    nodes: str
    start: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class AccountingRecord:
    """A job's allocation as ``sacct -X`` records it."""

    slurm_id: int
    name: str
    account: str
    partition: str
    state: str
    exit_code: int | None
    submit: datetime | None
    start: datetime | None
    end: datetime | None
    elapsed_s: int
    nodes: str
    alloc_tres: dict[str, int]
    comment: str

    def devices(self, gres_name: str) -> int:
        """Devices of the GRES ``gres_name`` (``gpu`` or ``npu``) the job was given."""
        return self.alloc_tres.get(f"gres/{gres_name}", 0)


SACCT_FIELDS = (
    "JobIDRaw,JobName%200,Account,Partition,State,ExitCode,Submit,Start,End,ElapsedRaw,"
    "NodeList,AllocTRES%300,Comment%200"
)


class SlurmTools:
    """Runs Slurm's tools against one cluster (its ``slurm.conf``, or the system's)."""

    def __init__(self, slurm_conf: Path | None = None, timeout_s: float = 30.0) -> None:
        environment = {**os.environ, "TZ": "UTC", "SLURM_TIME_FORMAT": "standard"}
        if slurm_conf is not None:
            environment["SLURM_CONF"] = str(slurm_conf)
        self._env = environment
        self._timeout_s = timeout_s
        self.slurm_conf = slurm_conf

    def run(self, argv: Sequence[str], stdin: str | None = None) -> str:
        """Run a tool; its standard output, or SlurmUnavailable / BackendError with its words."""
        try:
            result = subprocess.run(
                list(argv),
                input=stdin,
                env=self._env,
                capture_output=True,
                text=True,
                timeout=self._timeout_s,
                check=False,
            )
        except FileNotFoundError:
            raise SlurmUnavailable(f"{argv[0]} is not installed; is Slurm installed?") from None
        except subprocess.TimeoutExpired:
            raise SlurmUnavailable(
                f"{argv[0]} did not answer within {self._timeout_s:.0f} s"
            ) from None
        if result.returncode != 0:
            message = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
            if _UNREACHABLE.search(message):
                raise SlurmUnavailable(f"{argv[0]}: {message}")
            raise BackendError(f"{argv[0]}: {message}")
        return result.stdout

    def sbatch(self, options: Sequence[str], script: str) -> int:
        """Submit a batch script; the new job's id."""
        out = self.run(["sbatch", "--parsable", *options], stdin=script).strip()
        return int(out.split(";")[0])

    def squeue(self) -> list[QueueEntry]:
        """Every job slurmctld still knows (pending, running, and recently ended)."""
        out = self.run(
            ["squeue", "-h", "--states=all", "-o", "%i\x1f%j\x1f%T\x1f%P\x1f%N\x1f%S\x1f%r"]
        )
        entries = []
        for line in out.splitlines():
            fields = line.split("\x1f")
            if len(fields) != 7 or not fields[0].isdigit():
                continue  # array or het job summaries: nuri submits neither
            slurm_id, name, state, partition, nodes, start, reason = fields
            entries.append(
                QueueEntry(int(slurm_id), name, state, partition, nodes, parse_time(start), reason)
            )
        return entries

    def sacct(
        self, *, job_ids: Sequence[int] = (), since: datetime | None = None
    ) -> list[AccountingRecord]:
        """Accounting records of whole jobs (not steps), by id or since a moment."""
        argv = ["sacct", "-a", "-X", "-n", "-P", "--delimiter=\x1f", "-o", SACCT_FIELDS]
        if job_ids:
            argv += ["-j", ",".join(str(job_id) for job_id in job_ids)]
        if since is not None:
            argv += ["-S", since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "-E", "now"]
        return parse_sacct(self.run(argv))

    def scancel(self, slurm_id: int) -> None:
        self.run(["scancel", str(slurm_id)])

    def scontrol(self, *args: str) -> str:
        return self.run(["scontrol", *args])

    def sacctmgr(self, *args: str) -> str:
        return self.run(["sacctmgr", "-i", *args])

    def sacctmgr_list(self, *args: str) -> list[list[str]]:
        out = self.run(["sacctmgr", "-n", "-P", *args])
        return [line.split("|") for line in out.splitlines() if line.strip()]


_UNREACHABLE = re.compile(
    r"Unable to contact slurm controller|Connection refused|Socket timed out|"
    r"slurm_persist_conn_open|Problem talking to the database|Zero Bytes were transmitted",
    re.IGNORECASE,
)


def parse_time(text: str) -> datetime | None:
    """A Slurm timestamp (printed in UTC, since nuri runs the tools with ``TZ=UTC``)."""
    text = text.strip()
    if text in NO_TIME:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse_tres(text: str) -> dict[str, int]:
    """``billing=1350,cpu=1,gres/gpu:a100=3,gres/gpu=3,node=1`` as a mapping."""
    tres: dict[str, int] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name and value.isdigit():
            tres[name] = int(value)
    return tres


def parse_exit_code(text: str) -> int | None:
    """``sacct``'s ``code:signal``: the code, or minus the signal if a signal ended the job."""
    code, _, sig = text.partition(":")
    if not code.isdigit():
        return None
    if sig.isdigit() and int(sig) != 0:
        return -int(sig)
    return int(code)


def parse_sacct(out: str) -> list[AccountingRecord]:
    records = []
    for line in out.splitlines():
        fields = line.split("\x1f")
        if len(fields) != 13 or not fields[0].isdigit():
            continue
        (slurm_id, name, account, partition, state, exit_code, submit, start, end, elapsed,
         nodes, tres, comment) = fields  # fmt: skip
        records.append(
            AccountingRecord(
                slurm_id=int(slurm_id),
                name=name,
                account=account,
                partition=partition,
                state=state.split()[0] if state else state,
                exit_code=parse_exit_code(exit_code),
                submit=parse_time(submit),
                start=parse_time(start),
                end=parse_time(end),
                elapsed_s=int(elapsed) if elapsed.isdigit() else 0,
                nodes=nodes,
                alloc_tres=parse_tres(tres),
                comment=comment,
            )
        )
    return records
