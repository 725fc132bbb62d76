"""Admission: which jobs may join the queue, and which allocation they charge."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from nuri.domain.admission import Admission, admit, admit_class
from nuri.domain.commons import Allocation, Pool, Tier
from nuri.domain.errors import AdmissionRefused
from nuri.domain.ledger import Balance

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POOL = Pool(
    id=1,
    name="h100-ksc",
    hub_id=1,
    accelerator="H100",
    nodes=4,
    devices_per_node=8,
    rate_milli=1000,
    krw_per_device_hour=3000,
    max_time_limit_s=2 * 86400,
)
A100 = Pool(
    id=2,
    name="a100-snu",
    hub_id=2,
    accelerator="A100",
    nodes=2,
    devices_per_node=4,
    rate_milli=450,
    krw_per_device_hour=1500,
    max_time_limit_s=86400,
)


def allocation(
    allocation_id: int = 1,
    *,
    starts: datetime = NOW - 30 * DAY,
    ends: datetime = NOW + 30 * DAY,
    pools: frozenset[int] = frozenset({1, 2}),
) -> Allocation:
    """An allocation of project 10, active by default, allowing both pools."""
    return Allocation(
        id=allocation_id,
        project_id=10,
        awarded_units=10**12,
        starts_at=starts,
        ends_at=ends,
        tier=Tier.GENERAL,
        pool_ids=pools,
    )


def balance(remaining: int = 10**12) -> Balance:
    """A balance with exactly ``remaining`` units left (after some charges and holds)."""
    return Balance(
        awarded_units=remaining + 3000, charged_units=2000, held_units=1000, cost_krw=500
    )


def run_admit(
    *,
    pool: Pool | None = POOL,
    devices: int = 1,
    time_limit_s: int = 3600,
    command: Sequence[str] = ("python", "train.py"),
    allocations: Sequence[tuple[Allocation, Balance]] | None = None,
    now: datetime = NOW,
) -> Admission:
    """Call admit with sensible defaults: one active, well-funded allocation."""
    return admit(
        project_name="snu-nlp",
        pool_name="h100-ksc" if pool is None else pool.name,
        pool=pool,
        devices=devices,
        time_limit_s=time_limit_s,
        command=command,
        allocations=[(allocation(), balance())] if allocations is None else allocations,
        now=now,
    )


def test_accepts_a_valid_job() -> None:
    """A well-formed job on an active, funded allocation is admitted to that allocation."""
    result = run_admit(devices=2, time_limit_s=3600)
    assert result == Admission(
        allocation_id=1, hold_units=2 * 3600 * 1000, pool_ids=frozenset({POOL.id})
    )


@pytest.mark.parametrize(
    ("pool", "devices", "time_limit_s"),
    [(POOL, 1, 1), (POOL, 8, 3600), (POOL, 3, 2 * 86400), (A100, 4, 7200), (A100, 1, 59)],
)
def test_hold_units_is_devices_times_limit_times_rate(
    pool: Pool, devices: int, time_limit_s: int
) -> None:
    """The hold is devices x time limit x the pool's rate_milli."""
    result = run_admit(pool=pool, devices=devices, time_limit_s=time_limit_s)
    assert result.hold_units == devices * time_limit_s * pool.rate_milli


@pytest.mark.parametrize(
    "command",
    [(), [], ("",), ("   ",), ("", " ", "\t"), ("\n",)],
    ids=["empty-tuple", "empty-list", "empty-string", "spaces", "several-blank", "newline"],
)
def test_refuses_empty_command(command: Sequence[str]) -> None:
    """A job whose command is empty or only whitespace is refused as having no command."""
    with pytest.raises(AdmissionRefused, match="no command"):
        run_admit(command=command)


def test_command_with_one_non_blank_part_is_accepted() -> None:
    """Blank parts are fine as long as one part of the command is not blank."""
    assert run_admit(command=("", "python")).allocation_id == 1


def test_refuses_unknown_pool() -> None:
    """An unknown pool (pool=None) is refused naming the pool asked for."""
    with pytest.raises(AdmissionRefused, match=r"unknown pool 'h100-ksc'"):
        run_admit(pool=None)


@pytest.mark.parametrize("devices", [0, -1])
def test_refuses_fewer_than_one_device(devices: int) -> None:
    """A job asking for fewer than one device is refused."""
    with pytest.raises(AdmissionRefused, match="at least one device"):
        run_admit(devices=devices)


@pytest.mark.parametrize(("pool", "devices"), [(POOL, 9), (POOL, 16), (A100, 5)])
def test_refuses_more_devices_than_one_node(pool: Pool, devices: int) -> None:
    """A job bigger than one node of its pool is refused, naming the per-node limit."""
    with pytest.raises(AdmissionRefused, match=f"{pool.devices_per_node} devices per node"):
        run_admit(pool=pool, devices=devices)


def test_accepts_exactly_one_node() -> None:
    """A job asking for exactly a whole node is admitted."""
    assert run_admit(devices=POOL.devices_per_node).hold_units == 8 * 3600 * 1000


@pytest.mark.parametrize("time_limit_s", [0, -60])
def test_refuses_non_positive_time_limit(time_limit_s: int) -> None:
    """A time limit below one second is refused."""
    with pytest.raises(AdmissionRefused, match="at least one second"):
        run_admit(time_limit_s=time_limit_s)


def test_refuses_time_limit_above_pool_maximum() -> None:
    """A time limit beyond the pool's maximum is refused, showing both durations."""
    with pytest.raises(AdmissionRefused, match=r"time limits up to 2d, got 2d1s"):
        run_admit(time_limit_s=POOL.max_time_limit_s + 1)


def test_accepts_time_limit_equal_to_pool_maximum() -> None:
    """A time limit exactly at the pool's maximum is admitted."""
    assert run_admit(time_limit_s=POOL.max_time_limit_s).allocation_id == 1


@pytest.mark.parametrize(
    "allocations",
    [
        [],
        [(allocation(starts=NOW - 60 * DAY, ends=NOW - DAY), balance())],
        [(allocation(starts=NOW - 60 * DAY, ends=NOW), balance())],
        [(allocation(starts=NOW + timedelta(seconds=1), ends=NOW + DAY), balance())],
        [(allocation(pools=frozenset({2, 3})), balance())],
        [
            (allocation(1, ends=NOW - DAY), balance()),
            (allocation(2, starts=NOW + DAY, ends=NOW + 9 * DAY), balance()),
            (allocation(3, pools=frozenset({2})), balance()),
        ],
    ],
    ids=[
        "none",
        "expired",
        "ends-exactly-now",
        "not-started",
        "other-pools-only",
        "all-unusable",
    ],
)
def test_refuses_without_active_allocation_for_pool(
    allocations: list[tuple[Allocation, Balance]],
) -> None:
    """Without an allocation active now that allows the pool, the job is refused."""
    with pytest.raises(
        AdmissionRefused, match="no allocation active now that allows pool h100-ksc"
    ):
        run_admit(allocations=allocations)


def test_allocation_starting_now_is_active() -> None:
    """An allocation whose period starts exactly now may be used."""
    result = run_admit(allocations=[(allocation(5, starts=NOW), balance())])
    assert result.allocation_id == 5


def test_refuses_hold_larger_than_remaining() -> None:
    """A hold bigger than every usable allocation's remainder is refused, saying what is left."""
    hold = 2 * 3600 * 1000
    allocations = [
        (allocation(1), balance(hold - 1)),
        (allocation(2, ends=NOW + 60 * DAY), balance(3_600_000)),
    ]
    with pytest.raises(AdmissionRefused) as caught:
        run_admit(devices=2, time_limit_s=3600, allocations=allocations)
    message = caught.value.message
    assert "has 2.0 H100e GPU-hours left on pool h100-ksc" in message
    assert "2 device(s) for 1h may use 2.0" in message
    assert "fewer devices or a shorter --time" in message


def test_hold_equal_to_remaining_is_accepted() -> None:
    """A hold that exactly uses up what remains is admitted."""
    hold = 2 * 3600 * 1000
    result = run_admit(devices=2, allocations=[(allocation(4), balance(hold))])
    assert result == Admission(allocation_id=4, hold_units=hold, pool_ids=frozenset({POOL.id}))


def test_chooses_allocation_ending_soonest() -> None:
    """Among usable allocations the one that ends soonest is charged, whatever the input order."""
    allocations = [
        (allocation(1, ends=NOW + 90 * DAY), balance()),
        (allocation(2, ends=NOW + 10 * DAY), balance()),
        (allocation(3, ends=NOW + 40 * DAY), balance()),
    ]
    assert run_admit(allocations=allocations).allocation_id == 2
    assert run_admit(allocations=list(reversed(allocations))).allocation_id == 2


def test_equal_end_dates_break_ties_by_lowest_id() -> None:
    """Allocations ending at the same moment are tried in id order."""
    allocations = [
        (allocation(9, ends=NOW + DAY), balance()),
        (allocation(4, ends=NOW + DAY), balance()),
    ]
    assert run_admit(allocations=allocations).allocation_id == 4


def test_skips_too_small_allocation_for_later_one() -> None:
    """An allocation too small for the hold is skipped in favour of one ending later."""
    hold = 4 * 3600 * 1000
    allocations = [
        (allocation(1, ends=NOW + 5 * DAY), balance(hold - 1)),
        (allocation(2, ends=NOW + 50 * DAY), balance(hold * 10)),
        (allocation(3, ends=NOW + 20 * DAY), balance(hold)),
    ]
    result = run_admit(devices=4, allocations=allocations)
    assert result == Admission(allocation_id=3, hold_units=hold, pool_ids=frozenset({POOL.id}))


def test_ignores_sooner_allocation_that_is_inactive_or_for_other_pool() -> None:
    """Expired, future and other-pool allocations are never chosen even if they end sooner."""
    allocations = [
        (allocation(1, ends=NOW - DAY), balance()),
        (allocation(2, starts=NOW + DAY, ends=NOW + 2 * DAY), balance()),
        (allocation(3, ends=NOW + 3 * DAY, pools=frozenset({2})), balance()),
        (allocation(4, ends=NOW + 80 * DAY), balance()),
    ]
    assert run_admit(allocations=allocations).allocation_id == 4


def test_command_is_checked_before_pool() -> None:
    """With several problems, the missing command is reported first."""
    with pytest.raises(AdmissionRefused, match="no command"):
        run_admit(command=(), pool=None, devices=0, allocations=[])


def run_admit_class(
    pools: list[Pool], *, devices: int = 1, time_limit_s: int = 3600, allocations=None
) -> Admission:
    return admit_class(
        project_name="nlp",
        accelerator="H100",
        pools=pools,
        devices=devices,
        time_limit_s=time_limit_s,
        command=["python", "train.py"],
        allocations=allocations if allocations is not None else [(allocation(1), balance())],
        now=NOW,
    )


def test_a_class_job_may_use_every_fitting_pool_its_allocation_allows() -> None:
    """Any H100: both H100 pools fit and are allowed; the hold is priced at the dearest rate."""
    other = replace(POOL, id=7, name="h100-b", rate_milli=1200)
    shared = replace(allocation(1), pool_ids=frozenset({POOL.id, other.id}))
    result = run_admit_class([POOL, other], devices=2, allocations=[(shared, balance())])
    assert result.pool_ids == frozenset({POOL.id, other.id})
    assert result.hold_units == 2 * 3600 * 1200


def test_a_class_job_is_confined_to_pools_its_allocation_allows() -> None:
    """A pool of the class that the award does not cover is not a candidate."""
    other = replace(POOL, id=7, name="h100-b")
    result = run_admit_class([POOL, other])
    assert result.pool_ids == frozenset({POOL.id})


@pytest.mark.parametrize(
    ("pools", "devices", "time_limit_s", "message"),
    [
        ([], 1, 3600, "no pool has accelerator H100"),
        ([POOL], POOL.devices_per_node + 1, 3600, "at most"),
        ([POOL], 1, POOL.max_time_limit_s + 1, "allow time limits up to"),
    ],
    ids=["no-such-class", "too-big-for-every-pool", "too-long-for-every-pool"],
)
def test_class_refusals_say_what_to_change(
    pools: list[Pool], devices: int, time_limit_s: int, message: str
) -> None:
    """A class no pool has, or a job no pool of it can take, is refused with the reason."""
    with pytest.raises(AdmissionRefused, match=message):
        run_admit_class(pools, devices=devices, time_limit_s=time_limit_s)
