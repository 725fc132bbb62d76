"""Request bodies of API v1, validated here. Responses are the service's views.

Each field states its meaning, units and limits next to the constraint that enforces them.
"""

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nuri.api.v1.printable import LINE_BREAKS_AND_TABS, strings_in, text_problem

MAX_PAGE_SIZE = 1000
"""The most rows one list request returns; ``limit`` above it is refused with 422."""
PageSize = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"At most this many rows, newest first; 1 to {MAX_PAGE_SIZE}.",
    ),
]


MAX_ROW_ID = 2**31 - 1
"""The largest id a row can have: ids are INTEGER columns, 32 bits on PostgreSQL."""
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="An id, as the API returned it.")]
MAX_BYTE_OFFSET = 2**63 - 1
"""The largest offset a file can be read from (a signed 64-bit file position)."""
ByteOffset = Annotated[
    int, Query(ge=0, le=MAX_BYTE_OFFSET, description="A byte offset, as the API returned it.")
]


class Body(BaseModel):
    """A request body: no unknown fields, and no control characters in any string."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: object) -> object:
        for text in strings_in(value):
            problem = text_problem(text, allowed=LINE_BREAKS_AND_TABS)
            if problem is not None:
                raise ValueError(problem)
        return value


class HubCreate(Body):
    name: str = Field(description="Short unique slug, e.g. 'ksc'.", max_length=63)
    title: str = Field(default="", description="Full name shown to people.", max_length=200)
    operator: str = Field(
        description="national-centre, university, regional-data-centre or cloud-partner."
    )


class PoolCreate(Body):
    name: str = Field(description="Short unique slug, e.g. 'h100-ksc'.", max_length=63)
    hub: str = Field(description="Name of the hub hosting the pool.")
    accelerator: str = Field(description="Accelerator model, e.g. H100, A100, ATOM, RNGD.")
    nodes: int = Field(ge=1, le=100_000, description="Number of identical nodes.")
    devices_per_node: int = Field(ge=1, le=64, description="Accelerator devices in each node.")
    exchange_rate: str = Field(
        max_length=20,
        description="H100e per device-hour as a decimal with at most 3 places, e.g. '0.45'.",
    )
    krw_per_device_hour: int = Field(ge=0, description="Price of one device-hour in won.")
    max_time_limit_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="Longest time limit a job may ask for, seconds."
    )


class OrganisationCreate(Body):
    name: str = Field(max_length=63, description="Short unique slug, e.g. 'snu'.")
    title: str = Field(default="", max_length=200, description="Full name.")
    kind: str = Field(description="university, startup, sme, institute or public-agency.")


class UserCreate(Body):
    name: str = Field(max_length=63, description="Login name, a slug.")
    display_name: str = Field(default="", max_length=200, description="Name shown to people.")
    role: str = Field(description="admin, pi, member, manager or reviewer.")
    organisation: str | None = Field(default=None, description="Organisation name, if any.")


class TokenCreate(Body):
    label: str = Field(default="cli", max_length=100, description="What the token is for.")
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Days until the token stops signing anyone in; omit for a token that does not"
        " expire (revoke it when it is no longer needed).",
    )


class ProjectCreate(Body):
    name: str = Field(max_length=63, description="Short unique slug, e.g. 'snu-nlp'.")
    title: str = Field(default="", max_length=200, description="Full title.")
    field: str = Field(description="language, vision, speech, multimodal, science or other.")
    organisation: str = Field(description="Name of the organisation that runs the project.")
    pi: str = Field(description="User name of the principal investigator.")


class MemberAdd(Body):
    user: str = Field(description="User name to add to the project.")


class AllocationCreate(Body):
    project: str = Field(description="Project name.")
    gpu_hours: str = Field(
        max_length=40,
        description="Awarded H100e GPU-hours as a decimal string, e.g. '1500' or '0.5'.",
    )
    pools: list[str] = Field(min_length=1, description="Names of the pools the award may use.")
    starts_at: datetime = Field(description="Start of the award period, with time zone.")
    ends_at: datetime = Field(description="End of the award period (exclusive), with time zone.")
    tier: str = Field(default="general", description="strategic, hub-member or general.")
    note: str = Field(default="", max_length=2000, description="Why the award was made.")


class JobCreate(Body):
    project: str = Field(description="Project to charge.")
    pool: str | None = Field(default=None, description="Pool to run on (or give accelerator).")
    accelerator: str | None = Field(
        default=None,
        max_length=64,
        description="Instead of a pool: an accelerator class, e.g. 'H100' or 'A100|H100'; the"
        " scheduler picks a pool of it that the project's allocation allows.",
    )
    gpus: int = Field(ge=1, le=64, description="Devices to hold, all on one node.")
    time_limit_s: int = Field(
        ge=1, description="Wall-clock limit in seconds; the hold on the award is sized by it."
    )
    command: list[str] = Field(description="Program and arguments, run without a shell.")
    name: str | None = Field(
        default=None, max_length=200, description="Label; default from command."
    )
    preemptible: bool = Field(
        default=False,
        description="Accept preemption: the job may borrow reserved devices and be stopped with"
        " SIGTERM and a grace period, then requeued; NURI_CHECKPOINT_DIR survives attempts.",
    )
    workdir: str | None = Field(
        default=None, max_length=4096, description="Directory to run in (local backend)."
    )


class Health(BaseModel):
    status: str
    version: str
    database: str
    schema_revision: str | None


class TokenIssued(BaseModel):
    user: str
    token: str = Field(description="Shown once; only a digest is stored.")
    id: int | None = Field(default=None, description="The token's id, to list or revoke it by.")
    expires_at: datetime | None = Field(default=None, description="When it expires, if ever.")


class LogChunk(BaseModel):
    job_id: int
    offset: int = Field(description="Byte offset this chunk starts at.")
    next_offset: int = Field(description="Offset to ask for next to follow the log.")
    state: str
    text: str = Field(description="Captured output, decoded as UTF-8 with replacement.")


class ReservationCreate(Body):
    name: str = Field(max_length=63, description="Short unique slug, e.g. 'public-llm'.")
    pool: str = Field(description="Pool whose nodes are held.")
    nodes: int = Field(ge=1, description="Whole nodes to hold (the pool's next unreserved ones).")
    starts_at: datetime = Field(description="Start of the reservation, with time zone.")
    ends_at: datetime = Field(description="End of the reservation (exclusive), with time zone.")
    wanted: int | None = Field(
        default=None, ge=0, description="Devices the service needs now (default: all reserved)."
    )
    note: str = Field(default="", max_length=2000, description="What the service is.")


class ReservationDemand(Body):
    wanted: int = Field(ge=0, description="Devices of the reservation the service needs now.")
