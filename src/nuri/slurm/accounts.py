"""Awards written into Slurm: one account and one QOS per project, so Slurm enforces them.

For each project with an award in force nuri keeps, in Slurm's database:

- an account named as the project, with ``Fairshare`` = its awarded H100e GPU-hours (so
  Slurm's fair share tracks the award sizes) and an association for the service's Unix user;
- a QOS ``nuri-<project>`` as that association's only and default QOS, carrying
  ``GrpTRESMins=billing=<award>`` with ``Flags=NoDecay,DenyOnLimit`` and ``Priority`` = the
  award's tier.

Why the QOS carries the budget: a QOS limit overrides the association's, so a budget on the
association alone would be silently replaced by any QOS limit; one QOS per project keeps the
limit where Slurm enforces it. ``NoDecay`` because Slurm otherwise decays the usage counted
against ``GrpTRESMins`` with ``PriorityDecayHalfLife``, and spent hours would come back.
``DenyOnLimit`` makes a job that cannot fit the remaining budget by its time limit fail at
``sbatch`` instead of pending forever.

Units: partitions bill ``rate_milli`` per device (:mod:`nuri.slurm.config`), so one
billing-minute is a thousandth of an H100-minute, and nuri's ledger unit (a thousandth of an
H100-second) is 1/60 of it. The QOS counts all usage since it was created, including what was
charged to awards that have since ended; the limit therefore is the awards in force plus what
ended awards consumed, so that Slurm's remaining (limit - used) equals nuri's (awarded -
charged) for the awards in force.
"""

import getpass
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nuri.domain.commons import Tier
from nuri.domain.units import H100E_UNITS_PER_GPU_HOUR
from nuri.slurm.commands import SlurmTools

UNITS_PER_BILLING_MINUTE = 60
"""Ledger units (thousandths of an H100-second) in one billing-minute (thousandth H100-minute)."""

TIER_PRIORITY = {Tier.STRATEGIC: 100, Tier.HUB_MEMBER: 50, Tier.GENERAL: 0}
"""QOS priority per tier: normalised by Slurm to 1, 0.5 and 0, as nuri's multifactor does."""

QOS_FLAGS = "DenyOnLimit,NoDecay"


@dataclass(frozen=True, slots=True)
class AwardFacts:
    """What the store knows of one of a project's allocations."""

    project: str
    awarded_units: int
    charged_units: int
    tier: Tier
    in_force: bool


@dataclass(frozen=True, slots=True)
class SlurmAccount:
    """The Slurm side of one project."""

    name: str
    fairshare: int
    qos: str
    billing_minutes: int
    priority: int


def qos_name(project: str) -> str:
    return f"nuri-{project}"


def desired_accounts(awards: Iterable[AwardFacts]) -> list[SlurmAccount]:
    """The accounts and QOS limits that make Slurm enforce the awards (see module docstring)."""
    by_project: dict[str, list[AwardFacts]] = {}
    for award in awards:
        by_project.setdefault(award.project, []).append(award)
    accounts = []
    for project, facts in sorted(by_project.items()):
        live = [f for f in facts if f.in_force]
        if not live:
            continue
        limit_units = sum(f.awarded_units for f in live) + sum(
            f.charged_units for f in facts if not f.in_force
        )
        best_tier = min((f.tier for f in live), key=lambda tier: tier.rank)
        accounts.append(
            SlurmAccount(
                name=project,
                fairshare=max(1, sum(f.awarded_units for f in live) // H100E_UNITS_PER_GPU_HOUR),
                qos=qos_name(project),
                billing_minutes=limit_units // UNITS_PER_BILLING_MINUTE,
                priority=TIER_PRIORITY[best_tier],
            )
        )
    return accounts


def apply_accounts(
    tools: SlurmTools, accounts: Sequence[SlurmAccount], users: Sequence[str] = ()
) -> None:
    """Create or update each account, QOS and user association with ``sacctmgr``."""
    users = tuple(users) or (getpass.getuser(),)
    existing_qos = {row[0] for row in tools.sacctmgr_list("list", "qos", "format=Name")}
    existing_accounts = {row[0] for row in tools.sacctmgr_list("list", "account", "format=Account")}
    associations = {
        (row[0], row[1])
        for row in tools.sacctmgr_list("list", "assoc", "format=Account,User")
        if len(row) >= 2 and row[1]
    }
    for account in accounts:
        qos_settings = (
            f"GrpTRESMins=billing={account.billing_minutes}",
            f"Priority={account.priority}",
            f"Flags={QOS_FLAGS}",
        )
        if account.qos in existing_qos:
            tools.sacctmgr("modify", "qos", account.qos, "set", *qos_settings)
        else:
            tools.sacctmgr("add", "qos", account.qos, *qos_settings)
        if account.name in existing_accounts:
            tools.sacctmgr(
                "modify", "account", account.name, "set", f"Fairshare={account.fairshare}"
            )
        else:
            tools.sacctmgr(
                "add",
                "account",
                account.name,
                f"Fairshare={account.fairshare}",
                f"Description=nuri project {account.name}",
                "Organization=nuri",
            )
        for user in users:
            if (account.name, user) in associations:
                continue
            tools.sacctmgr(
                "add",
                "user",
                user,
                f"Account={account.name}",
                f"QOS={account.qos}",
                f"DefaultQOS={account.qos}",
            )


@dataclass(frozen=True, slots=True)
class QosUsage:
    limit_billing_minutes: int | None
    used_billing_minutes: int


def qos_usage(tools: SlurmTools, qos: str) -> QosUsage:
    """The budget Slurm enforces on a QOS and what it has counted against it (minutes)."""
    out = tools.scontrol("show", "assoc_mgr", "flags=qos", f"qos={qos}")
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("GrpTRESMins="):
            continue
        for item in line.removeprefix("GrpTRESMins=").split(","):
            name, _, value = item.partition("=")
            if name == "billing":
                limit, _, used = value.partition("(")
                return QosUsage(None if limit == "N" else int(limit), int(used.rstrip(")") or 0))
    raise ValueError(f"Slurm shows no billing limit for QOS {qos}")
