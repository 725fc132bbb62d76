"""Erlang B and C against textbook values, the closed-form sums, and M/M/1 formulas."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.domain.errors import InvalidInput
from nuri.planning.erlang import (
    erlang_b,
    erlang_c,
    mean_wait,
    pointwise_stationary_wait_quantile,
    servers_for,
    wait_exceeds,
    wait_quantile,
)


def erlang_c_by_sum(servers: int, load: float) -> float:
    """The closed form: (a^c/c! * c/(c-a)) / (sum_{k<c} a^k/k! + a^c/c! * c/(c-a))."""
    head = math.fsum(load**k / math.factorial(k) for k in range(servers))
    tail = load**servers / math.factorial(servers) * servers / (servers - load)
    return tail / (head + tail)


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [(5, 3.0, 0.1101), (10, 5.0, 0.01838), (1, 1.0, 0.5), (2, 1.0, 0.2)],
    ids=["B(5,3)", "B(10,5)", "B(1,1)", "B(2,1)"],
)
def test_erlang_b_matches_published_tables(servers: int, load: float, expected: float) -> None:
    """Erlang B agrees with the values printed in standard traffic tables."""
    assert erlang_b(servers, load) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [(1, 0.5, 0.5), (2, 1.0, 1 / 3), (10, 8.0, 0.4092), (3, 2.0, 4 / 9)],
    ids=["M/M/1 rho", "C(2,1)=1/3", "C(10,8)", "C(3,2)=4/9"],
)
def test_erlang_c_matches_textbook_values(servers: int, load: float, expected: float) -> None:
    """P(wait) is rho for M/M/1, 1/3 for two servers at one Erlang, 0.409 for 10 at 8."""
    assert erlang_c(servers, load) == pytest.approx(expected, abs=5e-5)


@settings(max_examples=80, deadline=None)
@given(servers=st.integers(1, 60), utilisation=st.floats(0.01, 0.99))
def test_erlang_c_recursion_equals_the_closed_form(servers: int, utilisation: float) -> None:
    """The stable recursion gives the closed-form Erlang C for any stable queue."""
    load = servers * utilisation
    assert erlang_c(servers, load) == pytest.approx(erlang_c_by_sum(servers, load), rel=1e-9)


def test_erlang_c_is_stable_for_large_pools() -> None:
    """A thousand servers at 95% load give a probability, not an overflow."""
    value = erlang_c(1000, 950.0)
    assert 0 < value < 1


def test_mm1_wait_formulas() -> None:
    """M/M/1 with lambda 0.5, mu 1: mean wait rho/(mu-lambda) = 1 s; p90 ln(10 rho)/(mu-lambda)."""
    assert mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)
    assert wait_exceeds(1, 0.5, 1.0, 0.0) == pytest.approx(0.5)
    assert wait_quantile(1, 0.5, 1.0, 0.9) == pytest.approx(math.log(5.0) / 0.5)
    assert wait_quantile(1, 0.05, 1.0, 0.9) == 0.0  # only 5% wait at all


def test_unstable_queues_wait_without_bound() -> None:
    """At or above capacity every arrival waits, and the quantile is unbounded."""
    assert erlang_c(4, 4.0) == 1.0
    assert math.isinf(wait_quantile(4, 5.0, 60.0, 0.9))
    assert math.isinf(mean_wait(4, 4.0, 60.0))


def test_pointwise_approximation_with_constant_load_is_the_stationary_quantile() -> None:
    """Equal loads in every step give exactly the steady-state M/M/c quantile."""
    stationary = wait_quantile(10, 8.0, 3600.0, 0.9)
    pointwise = pointwise_stationary_wait_quantile(10, [8.0] * 24, 3600.0, 0.9)
    assert pointwise == pytest.approx(stationary, abs=0.2)


def test_pointwise_approximation_weighs_overloaded_steps_by_arrivals() -> None:
    """One overloaded step in ten carries more than 10% of arrivals: unbounded; a quiet day: 0."""
    assert math.isinf(pointwise_stationary_wait_quantile(10, [12.0, *[1.0] * 9], 600.0))
    assert pointwise_stationary_wait_quantile(10, [0.5] * 24, 600.0) == 0.0
    assert pointwise_stationary_wait_quantile(10, [0.0] * 24, 600.0) == 0.0


def test_servers_and_bad_arguments() -> None:
    """Devices become servers of the mean job size; negative inputs are refused."""
    assert servers_for(64, 2.5) == 25
    with pytest.raises(InvalidInput):
        erlang_c(-1, 1.0)
    with pytest.raises(InvalidInput):
        erlang_b(3, -0.5)
    with pytest.raises(InvalidInput):
        wait_quantile(3, 1.0, 10.0, 1.5)
