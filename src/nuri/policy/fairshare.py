"""Fair-share accounting shared by the engine and the simulator: usage with half-life decay.

Slurm's multifactor priority weighs a project's *decayed* usage against its share: each
device-second counts ``2 ** (-age / half_life)`` of its value, so last week's burst matters half
as much as today's after one half-life (Slurm's ``PriorityDecayHalfLife``, 7 days by default).
The update is exact for usage accrued at a constant rate between two moments.
"""

import math

DEFAULT_HALF_LIFE_S = 7 * 24 * 3600.0


def decay(value: float, elapsed_s: float, half_life_s: float = DEFAULT_HALF_LIFE_S) -> float:
    """``value`` after ``elapsed_s`` seconds of exponential decay with the given half-life."""
    if elapsed_s <= 0:
        return value
    return value * math.exp(-math.log(2) * elapsed_s / half_life_s)


def accrued(rate: float, elapsed_s: float, half_life_s: float = DEFAULT_HALF_LIFE_S) -> float:
    """Decayed value, at the end of an interval, of usage accrued at ``rate`` per second during it.

    The integral of ``rate * 2 ** (-(elapsed - t) / half_life)`` for t in [0, elapsed].
    """
    if elapsed_s <= 0 or rate == 0:
        return 0.0
    k = math.log(2) / half_life_s
    return rate * (1.0 - math.exp(-k * elapsed_s)) / k
