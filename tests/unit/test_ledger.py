"""The usage ledger: exact sums, idempotent posting, conflicts, balances and elapsed time."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.domain.commons import Pool
from nuri.domain.errors import Conflict, InvalidInput
from nuri.domain.ledger import (
    Balance,
    Charge,
    Ledger,
    balance_of,
    charge_for_attempt,
    elapsed_seconds,
    hold_units,
)
from nuri.domain.units import cost_krw

ALLOCATION_ID = 7
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_pool(rate_milli: int = 1000, krw: int = 3000, pool_id: int = 1) -> Pool:
    """A one-node pool with the given exchange rate and price."""
    return Pool(
        id=pool_id,
        name=f"pool-{pool_id}",
        hub_id=1,
        accelerator="H100",
        nodes=1,
        devices_per_node=64,
        rate_milli=rate_milli,
        krw_per_device_hour=krw,
        max_time_limit_s=7 * 86400,
    )


ChargeSpec = tuple[int, int, int, int]
"""(devices, seconds, rate_milli, krw_per_device_hour)."""

charge_specs = st.tuples(
    st.integers(min_value=1, max_value=64),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=0, max_value=10**6),
)


def charges_from(specs: list[ChargeSpec], allocation_id: int = ALLOCATION_ID) -> list[Charge]:
    """One charge per spec, each under its own (job_id, attempt) key."""
    return [
        charge_for_attempt(
            job_id=index // 3,
            attempt=index % 3,
            allocation_id=allocation_id,
            pool=make_pool(rate_milli=rate, krw=krw, pool_id=index + 1),
            devices=devices,
            seconds=seconds,
        )
        for index, (devices, seconds, rate, krw) in enumerate(specs)
    ]


def post_all(charges: list[Charge], ledger: Ledger | None = None) -> Ledger:
    """Post charges in order onto ``ledger`` (or an empty one)."""
    result = Ledger() if ledger is None else ledger
    for charge in charges:
        result = result.post(charge)
    return result


@settings(max_examples=200)
@given(st.lists(charge_specs, max_size=30), st.integers(min_value=0, max_value=10**15))
def test_balance_is_exact_sum_of_charges(specs: list[ChargeSpec], awarded: int) -> None:
    """Charged units and won are the exact sums of the per-charge amounts, never negative."""
    ledger = post_all(charges_from(specs))
    balance = ledger.balance(ALLOCATION_ID, awarded)
    assert balance.charged_units == sum(d * s * r for d, s, r, _ in specs)
    assert balance.cost_krw == sum(cost_krw(d, s, k) for d, s, _, k in specs)
    assert balance.charged_units >= 0
    assert balance.cost_krw >= 0
    assert balance.remaining_units >= 0
    assert balance.awarded_units == awarded
    assert balance.held_units == 0


@given(st.lists(charge_specs, max_size=20))
def test_balance_of_ignores_order(specs: list[ChargeSpec]) -> None:
    """Summing charges gives the same balance whatever their order."""
    charges = charges_from(specs)
    assert balance_of(0, charges) == balance_of(0, list(reversed(charges)))


@settings(max_examples=200)
@given(st.data())
def test_replayed_charges_are_never_double_counted(data: st.DataObject) -> None:
    """Posting charges any number of times in any interleaving equals posting each once."""
    specs = data.draw(st.lists(charge_specs, min_size=1, max_size=12), label="specs")
    charges = charges_from(specs)
    replays = data.draw(
        st.lists(st.sampled_from(charges), max_size=3 * len(charges)), label="replays"
    )
    order = data.draw(st.permutations(charges + replays), label="order")
    once = post_all(charges)
    replayed = post_all(order)
    assert replayed == once
    assert replayed.charges == {charge.key: charge for charge in charges}
    assert replayed.balance(ALLOCATION_ID, 10**12) == once.balance(ALLOCATION_ID, 10**12)


def test_posting_same_charge_twice_returns_same_ledger() -> None:
    """A second post of an identical charge is a no-op that returns the ledger unchanged."""
    charge = charges_from([(2, 100, 1000, 3600)])[0]
    once = Ledger().post(charge)
    assert once.post(charge) is once
    assert once.balance(ALLOCATION_ID, 10**9).charged_units == 200_000


def test_post_does_not_mutate_the_original_ledger() -> None:
    """Ledgers are values: posting returns a new ledger and leaves the old one as it was."""
    empty = Ledger()
    charge = charges_from([(1, 10, 1000, 0)])[0]
    after = empty.post(charge)
    assert dict(empty.charges) == {}
    assert dict(after.charges) == {charge.key: charge}


_ALTERABLE = ["allocation_id", "pool_id", "devices", "seconds", "h100e_units", "cost_krw"]


@settings(max_examples=200)
@given(charge_specs, st.sampled_from(_ALTERABLE), st.integers(min_value=1, max_value=10**6))
def test_different_charge_under_same_key_conflicts(
    spec: ChargeSpec, field_name: str, delta: int
) -> None:
    """Posting a charge that differs in any field under an existing key raises Conflict."""
    charge = charges_from([spec])[0]
    other = dataclasses.replace(charge, **{field_name: getattr(charge, field_name) + delta})
    assert other.key == charge.key and other != charge
    ledger = Ledger().post(charge)
    with pytest.raises(Conflict, match=f"job {charge.job_id} attempt {charge.attempt}"):
        ledger.post(other)
    assert dict(ledger.charges) == {charge.key: charge}


def test_same_job_new_attempt_is_a_separate_charge() -> None:
    """A later attempt of the same job is charged separately, not as a conflict."""
    pool = make_pool(rate_milli=500, krw=0)
    first = charge_for_attempt(
        job_id=1, attempt=0, allocation_id=ALLOCATION_ID, pool=pool, devices=1, seconds=10
    )
    second = charge_for_attempt(
        job_id=1, attempt=1, allocation_id=ALLOCATION_ID, pool=pool, devices=1, seconds=20
    )
    ledger = post_all([first, second])
    assert ledger.balance(ALLOCATION_ID, 0).charged_units == 500 * 30


def test_balance_counts_only_its_own_allocation() -> None:
    """An allocation's balance ignores charges made to other allocations."""
    mine = charges_from([(1, 100, 1000, 3600)], allocation_id=1)
    theirs = charges_from([(4, 100, 1000, 3600)], allocation_id=2)
    theirs = [dataclasses.replace(charge, job_id=charge.job_id + 100) for charge in theirs]
    ledger = post_all(mine + theirs)
    assert ledger.balance(1, 10**9).charged_units == 100_000
    assert ledger.balance(2, 10**9).charged_units == 400_000
    assert ledger.balance(3, 10**9).charged_units == 0


def test_charge_for_attempt_prices_devices_seconds_and_rate() -> None:
    """A charge records devices x seconds x rate in units and the half-up cost in won."""
    charge = charge_for_attempt(
        job_id=3,
        attempt=1,
        allocation_id=ALLOCATION_ID,
        pool=make_pool(rate_milli=450, krw=1800, pool_id=9),
        devices=2,
        seconds=1,
    )
    assert charge.key == (3, 1)
    assert charge.pool_id == 9
    assert charge.device_seconds == 2
    assert charge.h100e_units == 900
    assert charge.cost_krw == 1  # 2 x 1 s x 1800 won/h = 1 won exactly


@pytest.mark.parametrize("devices", [0, -1, -8])
def test_charge_for_attempt_refuses_fewer_than_one_device(devices: int) -> None:
    """A charge for fewer than one device is refused with InvalidInput."""
    with pytest.raises(InvalidInput, match="at least one device"):
        charge_for_attempt(
            job_id=1, attempt=0, allocation_id=1, pool=make_pool(), devices=devices, seconds=10
        )


def test_hold_units_is_devices_times_limit_times_rate() -> None:
    """A hold is the job's devices for its whole time limit at the pool's rate."""
    assert hold_units(make_pool(rate_milli=450), 4, 3600) == 4 * 3600 * 450


@settings(max_examples=200)
@given(
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=0, max_value=10**15),
)
def test_remaining_units_is_clamped_difference(awarded: int, charged: int, held: int) -> None:
    """remaining_units is max(0, awarded - charged - held) and never negative."""
    balance = Balance(awarded_units=awarded, charged_units=charged, held_units=held, cost_krw=0)
    assert balance.remaining_units == max(0, awarded - charged - held)
    assert balance.remaining_units >= 0


@pytest.mark.parametrize(
    ("awarded", "charged", "held", "expected"),
    [(100, 30, 20, 50), (100, 100, 0, 0), (100, 80, 40, 0), (0, 0, 0, 0), (100, 0, 100, 0)],
)
def test_remaining_units_examples(awarded: int, charged: int, held: int, expected: int) -> None:
    """Overshooting an award leaves zero remaining, not a negative number."""
    balance = Balance(awarded_units=awarded, charged_units=charged, held_units=held, cost_krw=0)
    assert balance.remaining_units == expected


def test_ledger_balance_passes_held_units_through() -> None:
    """Ledger.balance subtracts the given hold from what remains."""
    ledger = post_all(charges_from([(1, 10, 1000, 0)]))
    balance = ledger.balance(ALLOCATION_ID, awarded_units=50_000, held_units=15_000)
    assert balance.held_units == 15_000
    assert balance.remaining_units == 50_000 - 10_000 - 15_000


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), 0),
        (timedelta(seconds=10), 10),
        (timedelta(microseconds=1), 1),
        (timedelta(seconds=10, microseconds=1), 11),
        (timedelta(seconds=10, microseconds=999_999), 11),
        (timedelta(days=1), 86400),
        (timedelta(seconds=-5), 0),
        (timedelta(microseconds=-1), 0),
    ],
)
def test_elapsed_seconds_examples(delta: timedelta, expected: int) -> None:
    """Partial seconds round up; an end before the start gives zero."""
    assert elapsed_seconds(T0, T0 + delta) == expected


@settings(max_examples=200)
@given(
    st.integers(min_value=-(10**8), max_value=10**8),
    st.integers(min_value=0, max_value=999_999),
)
def test_elapsed_seconds_rounds_up_and_is_never_negative(seconds: int, micros: int) -> None:
    """elapsed_seconds is the ceiling of the interval in seconds, clamped at zero."""
    ended = T0 + timedelta(seconds=seconds, microseconds=micros)
    result = elapsed_seconds(T0, ended)
    exact_ceiling = seconds + (1 if micros else 0)
    assert result == max(0, exact_ceiling)
    assert result >= 0
