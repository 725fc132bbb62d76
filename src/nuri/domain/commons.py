"""The commons' standing entities: hubs, pools, organisations, users, projects, allocations.

These are frozen values. Identity is the integer ``id`` the store gives; ``name`` is a short
unique slug people type (``h100-ksc``, ``snu-nlp``).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from nuri.domain.errors import InvalidInput
from nuri.domain.units import SECONDS_PER_HOUR

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid slug, else raise with what a valid one looks like."""
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            f"{kind} name {name!r} is not valid: use 1-63 lower-case letters, digits and '-',"
            " starting with a letter or digit (e.g. 'h100-ksc')"
        )
    return name


class HubOperator(StrEnum):
    """Who runs a hub."""

    NATIONAL_CENTRE = "national-centre"
    UNIVERSITY = "university"
    REGIONAL_DATA_CENTRE = "regional-data-centre"
    CLOUD_PARTNER = "cloud-partner"


class OrganisationKind(StrEnum):
    """The community an organisation belongs to; demand is reported per kind."""

    UNIVERSITY = "university"
    STARTUP = "startup"
    SME = "sme"
    INSTITUTE = "institute"
    PUBLIC_AGENCY = "public-agency"


class Role(StrEnum):
    """A user's role in the commons.

    ``admin`` operates the commons and sees everything; ``pi`` leads projects; ``member`` works in
    projects; ``manager`` runs allocation programmes (calls, reviewer assignments, awards, stage
    gates); ``reviewer`` scores the proposals assigned to them. Outside admin, a user sees only
    the projects they lead or belong to.
    """

    ADMIN = "admin"
    PI = "pi"
    MEMBER = "member"
    MANAGER = "manager"
    REVIEWER = "reviewer"


class ResearchField(StrEnum):
    """A project's research field; demand is reported per field."""

    LANGUAGE = "language"
    VISION = "vision"
    SPEECH = "speech"
    MULTIMODAL = "multimodal"
    SCIENCE = "science"
    OTHER = "other"


class Tier(StrEnum):
    """Priority tier of an allocation. Policies weigh tiers; a lower ``rank`` goes first."""

    STRATEGIC = "strategic"
    HUB_MEMBER = "hub-member"
    GENERAL = "general"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]


_TIER_RANK = {Tier.STRATEGIC: 0, Tier.HUB_MEMBER: 1, Tier.GENERAL: 2}


@dataclass(frozen=True, slots=True)
class Accelerator:
    """An accelerator model: what a pool's devices are and how processes are told which to use."""

    model: str
    vendor: str
    device_env_var: str
    """Environment variable that restricts a process to its assigned device indices."""


ACCELERATORS: dict[str, Accelerator] = {
    accelerator.model: accelerator
    for accelerator in (
        Accelerator("H100", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("H200", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("B200", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("A100", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("L40S", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("A10", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("T4", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("V100", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("P100", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("K80", "nvidia", "CUDA_VISIBLE_DEVICES"),
        Accelerator("ATOM", "rebellions", "RBLN_DEVICES"),
        Accelerator("REBEL", "rebellions", "RBLN_DEVICES"),
        Accelerator("RNGD", "furiosa", "FURIOSA_DEVICES"),
        Accelerator("WARBOY", "furiosa", "FURIOSA_DEVICES"),
        Accelerator("SAPEON-X330", "sapeon", "SAPEON_VISIBLE_DEVICES"),
    )
}


def accelerator_named(model: str) -> Accelerator:
    """Look up an accelerator model, case-insensitively, or say which ones exist."""
    found = ACCELERATORS.get(model.upper())
    if found is None:
        known = ", ".join(sorted(ACCELERATORS))
        raise InvalidInput(f"unknown accelerator {model!r}; known accelerators: {known}")
    return found


@dataclass(frozen=True, slots=True)
class Hub:
    id: int
    name: str
    title: str
    operator: HubOperator


@dataclass(frozen=True, slots=True)
class Pool:
    """A set of identical nodes at one hub.

    Capacity is ``nodes x devices_per_node`` devices. One device-hour counts as
    ``rate_milli / 1000`` H100e GPU-hours and costs ``krw_per_device_hour`` won.
    """

    id: int
    name: str
    hub_id: int
    accelerator: str
    nodes: int
    devices_per_node: int
    rate_milli: int
    krw_per_device_hour: int
    max_time_limit_s: int

    @property
    def devices(self) -> int:
        return self.nodes * self.devices_per_node

    def node_names(self) -> list[str]:
        """Stable node names, ``<pool>-n00`` onwards."""
        return [f"{self.name}-n{index:02d}" for index in range(self.nodes)]


def check_pool_shape(nodes: int, devices_per_node: int, krw_per_device_hour: int) -> None:
    """Refuse pool dimensions that cannot describe real hardware."""
    if nodes < 1 or nodes > 100_000:
        raise InvalidInput(f"a pool needs 1 to 100000 nodes, got {nodes}")
    if devices_per_node < 1 or devices_per_node > 64:
        raise InvalidInput(f"devices per node must be 1 to 64, got {devices_per_node}")
    if krw_per_device_hour < 0:
        raise InvalidInput(
            f"price must be zero or more won per device-hour, got {krw_per_device_hour}"
        )


DEFAULT_MAX_TIME_LIMIT_S = 7 * 24 * SECONDS_PER_HOUR


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    name: str
    title: str
    kind: OrganisationKind


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    display_name: str
    role: Role
    organisation_id: int | None


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    title: str
    field: ResearchField
    organisation_id: int
    pi_user_id: int
    member_ids: frozenset[int]

    def involves(self, user_id: int) -> bool:
        """True if the user leads or belongs to the project."""
        return user_id == self.pi_user_id or user_id in self.member_ids


@dataclass(frozen=True, slots=True)
class Allocation:
    """An award in force: H100e units to spend on the allowed pools within a period."""

    id: int
    project_id: int
    awarded_units: int
    starts_at: datetime
    ends_at: datetime
    tier: Tier
    pool_ids: frozenset[int]

    def active_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at

    def allows(self, pool_id: int) -> bool:
        return pool_id in self.pool_ids
