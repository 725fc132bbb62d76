"""Gittins ranks from finished jobs' run times: hand-computed cases, bounds, and the history."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nuri.policy.gittins import MIN_SAMPLES, RankIndex, RankTables, rank_table
from nuri.policy.snapshot import RUN_TIMES_KEPT, RunTimeHistory


def test_a_certain_run_time_ranks_by_the_time_it_leaves() -> None:
    """When every job of a limit ran exactly 1 h, the rank is the time left (SRPT), read between
    tabulated ages too; past the longest run time only the limit is known."""
    table = rank_table(7_200, (3_600.0,) * MIN_SAMPLES)
    assert table is not None
    assert table.rank_s(0.0) == 3_600.0
    assert table.rank_s(1_000.0) == pytest.approx(2_600.0)
    assert table.rank_s(3_599.0) == pytest.approx(1.0)
    assert table.rank_s(4_000.0) == 3_200.0  # 7,200 s limit less 4,000 s run


def test_two_run_times_rank_by_the_chance_of_finishing_soon() -> None:
    """Half the jobs ran 100 s, half 1,000 s. At age 0 the best quantum is 100 s: 100 s of
    service expected per job for a chance of 1/2, so 200 s per completion (the mean, 550 s, is
    worse). At 50 s: 50 / (1/2) = 100. Once past 100 s, every survivor is a 1,000 s job."""
    table = rank_table(7_200, (100.0,) * 8 + (1_000.0,) * 8)
    assert table is not None
    assert table.rank_s(0.0) == pytest.approx(200.0)
    assert table.rank_s(50.0) == pytest.approx(100.0)
    assert table.rank_s(100.0) == pytest.approx(900.0)
    assert table.rank_s(150.0) == pytest.approx(850.0)


def test_too_few_run_times_give_no_table_and_the_limit_decides() -> None:
    """Under MIN_SAMPLES run times a limit has no table; the rank is then devices x limit less
    attained, the order LAS used before it learnt run times."""
    assert rank_table(3_600, (60.0,) * (MIN_SAMPLES - 1)) is None
    ranks = RankTables().of(RunTimeHistory({3_600: (60.0,) * (MIN_SAMPLES - 1)}))
    assert ranks.tables == {}
    assert ranks.left(3_600, 4, 1_000.0) == 4 * 3_600 - 1_000.0


def test_device_seconds_left_scales_the_rank_by_devices() -> None:
    """A 4-device job's rank is four times its class's rank at its per-device age."""
    ranks = RankTables().of(RunTimeHistory({7_200: (3_600.0,) * MIN_SAMPLES}))
    assert ranks.left(7_200, 4, 4 * 600.0) == pytest.approx(4 * 3_000.0)


run_times = st.lists(
    st.floats(min_value=1.0, max_value=1e6, allow_nan=False), min_size=MIN_SAMPLES, max_size=64
)


limits = st.sampled_from([1_800, 3_600, 86_400, 10**7])


@given(
    st.dictionaries(limits, run_times, max_size=3),
    st.lists(
        st.tuples(
            limits | st.integers(1, 10**7),
            st.integers(1, 8),
            st.floats(min_value=0.0, max_value=2e7),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_the_vectorised_rank_equals_the_one_job_rank(
    history: dict[int, list[float]], jobs: list[tuple[int, int, float]]
) -> None:
    """The numpy lookup that orders long queues gives each job exactly the one-job lookup's
    float, whether its limit has a table, and at any age (before, inside, past its class)."""
    ranks = RankIndex(
        {
            limit: table
            for limit, runs in history.items()
            if (table := rank_table(limit, tuple(runs))) is not None
        }
    )
    limit_array = np.array([float(limit) for limit, _, _ in jobs])
    devices = np.array([float(count) for _, count, _ in jobs])
    attained = np.array([count * age for _, count, age in jobs])
    vector = ranks.left_array(limit_array, devices, attained)
    one_by_one = [ranks.left(limit, count, count * age) for limit, count, age in jobs]
    assert vector.tolist() == one_by_one


@given(run_times)
def test_a_rank_lies_between_the_least_and_the_mean_time_left(runs: list[float]) -> None:
    """At every tabulated age, the rank is at least the least time any survivor has left (no
    quantum finishes sooner) and at most the mean time left (the quantum that runs to the end),
    to a microsecond: the rank is worked out from sums of run times, whose rounding is absolute."""
    table = rank_table(10**7, tuple(runs))
    assert table is not None
    ordered = np.sort(runs)
    for age, rank in zip(table.ages, table.ranks, strict=True):
        left = ordered[ordered > age] - age
        assert left.min() * (1 - 1e-9) - 1e-6 <= rank <= left.mean() * (1 + 1e-9) + 1e-6


@given(run_times)
def test_each_tabulated_rank_is_the_least_time_per_completion_over_every_quantum(
    runs: list[float],
) -> None:
    """At every tabulated age ``a``, the rank and its chance are the definition's, worked out
    quantum by quantum in plain Python: over every quantum ending at a run time above ``a``,
    the least of E[min(D, q) - a | D > a] / P(D <= q | D > a), and that quantum's chance."""
    table = rank_table(10**7, tuple(runs))
    assert table is not None
    for age, rank, chance in zip(table.ages, table.ranks, table.chances, strict=True):
        survivors = sorted(run for run in runs if run > age)
        options = []
        for quantum in sorted(set(survivors)):
            odds = sum(run <= quantum for run in survivors) / len(survivors)
            served = sum(min(run, quantum) for run in survivors) / len(survivors) - age
            options.append((served / odds, odds))
        least = min(value for value, _ in options)
        assert rank == pytest.approx(least, rel=1e-9, abs=1e-6)
        assert chance in {odds for value, odds in options if value <= least * (1 + 1e-9) + 1e-6}


def test_the_history_keeps_the_latest_run_times_of_each_limit_without_changing_itself() -> None:
    """with_finished appends in order, keeps the last RUN_TIMES_KEPT per limit, and returns a new
    history: a snapshot holding the old one sees no change."""
    old = RunTimeHistory({60: (1.0,)})
    new = old.with_finished(
        [(60, 2.0), (120, 5.0)] + [(60, float(i)) for i in range(RUN_TIMES_KEPT)]
    )
    assert old.run_times_s == {60: (1.0,)}
    assert new.run_times_s[120] == (5.0,)
    assert new.run_times_s[60] == tuple(float(i) for i in range(RUN_TIMES_KEPT))
    assert old.with_finished([]) is old
