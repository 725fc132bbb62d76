"""How much device-time a job will still use, judged from the run times of finished jobs that
asked for the same time limit: its Gittins rank.

Source: Gittins, "Bandit processes and dynamic allocation indices", J. Royal Statistical Society B
41(2), 1979; for scheduling, Aalto, Ayesta and Righter, "On the Gittins index in the M/G/1
queue", Queueing Systems 63, 2009, and Scully, Harchol-Balter and Scheller-Wolf, "SOAP: one
clean analysis of all age-based scheduling policies", POMACS 2(1), 2018. Among policies that do
not know job sizes, serving the job of highest Gittins index first minimises mean response time
in the M/G/1 queue; it is SRPT when sizes are known and LAS when the size distribution has a
decreasing hazard rate.

The rank
--------
A job that has run ``a`` seconds, of a class whose run times ``D`` are known as a distribution,
is worth serving for a further quantum ``q`` if it is likely to finish for little service::

    rank(a) = min over q > 0 of  E[min(D - a, q) | D > a] / P(D - a <= q | D > a)

seconds per completion: the inverse of the Gittins index. When ``D`` is known exactly the rank
is the time left, ``D - a``, so ordering by least rank is SRPT; when ``D`` is uncertain the rank
weighs the chance of finishing soon against the time it may take. Multiplied by the job's
devices it is in device-seconds, comparable with ``devices x time left`` of any job.

The distribution of one class is the run times of finished jobs with the same time limit
(:class:`~nuri.policy.snapshot.RunTimeHistory`): users pick limits from a few round values, so
a limit gathers many jobs, and a limit bounds the run time of every job that asked for it. For
speed the rank is tabulated once per class (:class:`RankTable`) and read from the tabulated age
just below a job's age. A class with fewer than :data:`MIN_SAMPLES` run times, and a job that
has already run longer than every run time of its class, have no history to go by: their rank
is the time the limit leaves (``time_limit_s - a``, at least 0), what a policy without history
uses.

Nothing here reads a job's own duration: only finished jobs' run times, which a live service
has in its accounting, and the job's limit and attained service.
"""

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nuri.policy.snapshot import RunTimeHistory

MIN_SAMPLES: Final = 16
"""A class needs at least this many finished jobs' run times before its history is used."""

FIRST_AGE_S: Final = 60.0
"""The smallest positive tabulated age, in seconds (below it the rank at age 0 is used)."""

AGE_STEP: Final = 1.25
"""Tabulated ages grow by this factor (besides every run time of the class)."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RankTable:
    """One class's rank per device, tabulated at ``ages`` (increasing, the first 0).

    ``chances[i]`` is the chance of finishing within the best quantum at ``ages[i]``: between two
    tabulated ages no run time ends (every run time is one of them), so every quantum's
    expected service falls by exactly the time run since, and the rank at age ``a`` is at most
    ``ranks[i] - (a - ages[i]) / chances[i]``, with equality while the best quantum stays best.
    That is the value read. ``longest_s`` is the longest run time: beyond it the history says
    nothing.
    """

    time_limit_s: int
    ages: FloatArray
    ranks: FloatArray
    chances: FloatArray
    longest_s: float

    def rank_s(self, age_s: float) -> float:
        """Seconds per completion of a job of this class that has run ``age_s`` seconds.

        The table read on its own; policies read all tables at once through
        :class:`RankIndex`, which gives the same values."""
        if age_s >= self.longest_s:
            return max(0.0, self.time_limit_s - age_s)
        index = max(int(np.searchsorted(self.ages, age_s, side="right")) - 1, 0)
        since = age_s - float(self.ages[index])
        return max(0.0, float(self.ranks[index]) - since / float(self.chances[index]))


def rank_table(time_limit_s: int, run_times_s: tuple[float, ...]) -> RankTable | None:
    """The rank table of one class from its finished jobs' run times (seconds), or None when
    there are fewer than :data:`MIN_SAMPLES` of them.

    Exact at each tabulated age (0, ages a factor :data:`AGE_STEP` apart from
    :data:`FIRST_AGE_S`, and every run time): for every candidate quantum ending at a run time
    above the age, the expected service and the chance of finishing are computed from the run
    times alone (from their sums, so rounded by well under a microsecond).
    """
    if len(run_times_s) < MIN_SAMPLES:
        return None
    runs = np.sort(np.asarray(run_times_s, dtype=np.float64))
    longest = float(runs[-1])
    steps = max(0, math.ceil(math.log(max(longest, FIRST_AGE_S) / FIRST_AGE_S, AGE_STEP)))
    grid = FIRST_AGE_S * AGE_STEP ** np.arange(steps, dtype=np.float64)
    ages = np.unique(np.concatenate(([0.0], grid, runs)))
    ages = ages[ages < longest]
    # Row per age, column per run time: a column ends a candidate quantum at that run time.
    # The runs are sorted, so row i's survivors are the runs from the first one above its age
    # on (index f_i, N_i of them). A quantum ending at run j (j >= f_i) serves each survivor
    # its run time or r_j, whichever is less, beyond the age all of them have run:
    #     sum(r_f_i .. r_j) + (count - 1 - j) r_j - N_i a_i  =  ends[j] - base[i]
    # with ends[j] = r_0 + .. + r_j + (count - 1 - j) r_j and base[i] = r_0 + .. + r_(f_i - 1)
    # + N_i a_i; j + 1 - f_i survivors finish within it. Time per completion is the first over
    # the second: two vectors and one matrix, not a matrix per term (this is built again
    # whenever a class's run times change: in the simulator, thousands of times per trace).
    # Equal run times end one quantum: every column of such a group takes its last column's
    # figures (all of the group finish), as the definition has it. Otherwise, where the
    # rounding of the sums hides the tiny service left (ages just below a run time), an early
    # column of the group could tie the last and be chosen with too small a chance.
    count = len(runs)
    first = np.searchsorted(runs, ages, side="right")
    survivors = (count - first).astype(np.float64)
    prefix = np.cumsum(runs)
    ends = prefix + np.arange(count - 1, -1, -1) * runs
    done_by = np.searchsorted(runs, runs, side="right")  # runs no longer than each
    ends = ends[done_by - 1]
    base = np.concatenate(([0.0], prefix))[first] + survivors * ages
    finished = done_by[None, :] - first[:, None]
    per_quantum = np.full(finished.shape, np.inf)
    np.divide(ends[None, :] - base[:, None], finished, out=per_quantum, where=finished > 0)
    best = per_quantum.argmin(axis=1)
    rows = np.arange(len(ages))
    chance = finished[rows, best] / survivors
    return RankTable(time_limit_s, ages, per_quantum[rows, best], chance, longest)


_CLASS_SPAN_S: Final = float(2**32)
"""Room per class in :class:`RankIndex`'s key (136 years of age; a class with a longer run time
is not used)."""


class RankIndex:
    """Every rank table of one history, looked up together: a job's rank in device-seconds.

    The tables' ages are laid end to end in one sorted array, class ``c``'s shifted by ``c x``
    :data:`_CLASS_SPAN_S`, so one ``searchsorted`` finds the row of every job of a long queue
    whatever its class. The one-job lookup (:meth:`left`) computes the same shifted key and so
    finds the same row: both give the same floats.
    """

    def __init__(self, tables: Mapping[int, RankTable]) -> None:
        usable = {
            limit: table
            for limit, table in sorted(tables.items())
            if table.longest_s < _CLASS_SPAN_S / 2
        }
        self.tables: Mapping[int, RankTable] = usable
        """The rank tables, by time limit."""
        self._class_of = {limit: c for c, limit in enumerate(usable)}
        self._limits = np.array(list(usable), dtype=np.float64)
        self._longest = np.array([t.longest_s for t in usable.values()], dtype=np.float64)
        self._longest_s: list[float] = self._longest.tolist()
        parts = list(usable.values())
        self._keys = np.concatenate(
            [c * _CLASS_SPAN_S + t.ages for c, t in enumerate(parts)] or [np.empty(0)]
        )
        self._ages = np.concatenate([t.ages for t in parts] or [np.empty(0)])
        self._ranks = np.concatenate([t.ranks for t in parts] or [np.empty(0)])
        self._chances = np.concatenate([t.chances for t in parts] or [np.empty(0)])
        self._rows: tuple[list[float], list[float], list[float], list[float]] = (
            self._keys.tolist(),
            self._ages.tolist(),
            self._ranks.tolist(),
            self._chances.tolist(),
        )

    def left(self, time_limit_s: int, devices: int, attained_device_s: float) -> float:
        """A job's rank in device-seconds: ``devices x`` its class's rank at its age (attained
        device-seconds / devices); ``devices x time_limit_s - attained`` without a table."""
        c = self._class_of.get(time_limit_s)
        if c is None:
            return float(devices * time_limit_s) - attained_device_s
        age = attained_device_s / devices
        if age >= self._longest_s[c]:
            return devices * max(0.0, time_limit_s - age)
        keys, ages, ranks, chances = self._rows
        row = bisect_right(keys, c * _CLASS_SPAN_S + age) - 1
        rank = ranks[row] - (age - ages[row]) / chances[row]
        # max(0.0, rank) without the call (a pass judges dozens of jobs): the same float
        return devices * (rank if rank > 0.0 else 0.0)

    def left_array(
        self, time_limits_s: FloatArray, devices: FloatArray, attained_device_s: FloatArray
    ) -> FloatArray:
        """:meth:`left` of many jobs at once, with the same floating-point operations."""
        # devices x time limit in float64 is exact (both are integers far below 2**53), so it
        # equals left's float(devices * time_limit_s)
        plain: FloatArray = devices * time_limits_s - attained_device_s
        if not len(self._limits):
            return plain
        c = np.minimum(np.searchsorted(self._limits, time_limits_s), len(self._limits) - 1)
        known = self._limits[c] == time_limits_s
        if not known.any():
            return plain
        age = attained_device_s / devices
        inside = known & (age < self._longest[c])
        key = np.where(inside, c * _CLASS_SPAN_S + age, 0.0)
        row = np.maximum(np.searchsorted(self._keys, key, side="right") - 1, 0)
        tabulated = np.maximum(0.0, self._ranks[row] - (age - self._ages[row]) / self._chances[row])
        beyond = np.maximum(0.0, time_limits_s - age)
        ranked = devices * np.where(inside, tabulated, beyond)
        result: FloatArray = np.where(known, ranked, plain)
        return result


NO_RANKS: Final = RankIndex({})
"""The index of an empty history: every job ranked by its limit."""


class RankTables:
    """The rank index of a snapshot's history, its tables built once per class content.

    A memo, not state: a table depends only on its class's run times, so a decision is the same
    whether its table was built now or for an earlier snapshot.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._memo: dict[tuple[int, tuple[float, ...]], RankTable | None] = {}
        self._last: tuple[RunTimeHistory, RankIndex] | None = None

    def of(self, history: RunTimeHistory) -> RankIndex:
        """The index of every class of ``history`` with enough run times."""
        if self._last is not None and self._last[0] is history:
            return self._last[1]  # the simulator hands the same history to many passes
        tables: dict[int, RankTable] = {}
        for time_limit_s, runs in history.run_times_s.items():
            key = (time_limit_s, runs)
            if key not in self._memo:
                if len(self._memo) >= self._capacity:
                    self._memo.clear()
                self._memo[key] = rank_table(time_limit_s, runs)
            table = self._memo[key]
            if table is not None:
                tables[time_limit_s] = table
        index = RankIndex(tables) if tables else NO_RANKS
        self._last = (history, index)
        return index
