"""Erlang C: the textbook M/M/c queue, as a quick cross-check of the simulated plan.

Why a formula next to a simulator: a planner that only simulates is a black box. Erlang C
answers in microseconds what an M/M/c queue (Poisson arrivals, exponential service, ``c``
identical servers, first come first served) would wait, and if it disagrees wildly with the
simulation someone should ask why. It is a cross-check, not the plan: real jobs ask for
several devices at once and their run times are heavy-tailed, so Erlang C usually
under-estimates waits.

Formulas (Kleinrock, *Queueing Systems* vol. 1, 1975, section 3.5; Gross and Harris,
*Fundamentals of Queueing Theory*): with offered load ``a = lambda / mu`` Erlangs and ``c``
servers (stable only if ``a < c``),

- Erlang B by the stable recursion ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``;
- Erlang C, the probability of waiting: ``C = c B / (c - a (1 - B))``;
- ``P(W > t) = C exp(-(c mu - lambda) t)``, so the mean wait is ``C / (c mu - lambda)`` and the
  q-quantile of the wait is ``ln(C / (1 - q)) / (c mu - lambda)`` when ``C > 1 - q``, else 0.

Time-varying demand: :func:`pointwise_stationary_wait_quantile` applies the pointwise
stationary approximation (Green and Kolesar, "The pointwise stationary approximation for queues
with nonstationary arrivals", Management Science 37(1), 1991): each step is an M/M/c queue in
steady state at that step's load, and the wait distribution is the arrival-weighted mixture of
the steps'. Steps at or above capacity count as waiting longer than any bound.

Multi-device jobs are mapped onto servers by :func:`servers_for`: a job holding ``g`` devices
is one server of ``g`` devices, with ``g = E[devices x duration] / E[duration]``, so that the
utilisation ``a / c`` equals device demand / devices. :func:`erlang_p90_wait` and
:func:`erlang_devices` apply this to a pool's forecast and job shapes, at the mean load over the
horizon (optimistic) or step by step (pessimistic).
"""

import math
from collections.abc import Sequence
from typing import Final

from nuri.domain.errors import InvalidInput
from nuri.forecasting.forecast import Forecast
from nuri.planning.demand_sampling import JobShapes, mean_demand_devices

WAIT_QUANTILE: Final = 0.9
"""The plan's wait quantile: 90% of jobs start within the target."""


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of M/M/c/c with ``servers`` >= 0 and ``offered_load`` >= 0 Erlangs."""
    _check(servers, offered_load)
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c: 1.0 when ``offered_load >= servers``."""
    _check(servers, offered_load)
    if servers == 0 or offered_load >= servers:
        return 1.0
    if offered_load == 0:
        return 0.0
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1.0 - blocking))


def mean_wait(servers: int, offered_load: float, mean_service_s: float) -> float:
    """Mean wait in queue, seconds (``inf`` when unstable)."""
    if offered_load >= servers:
        return math.inf
    rate = (servers - offered_load) / mean_service_s
    return erlang_c(servers, offered_load) / rate


def wait_exceeds(servers: int, offered_load: float, mean_service_s: float, wait_s: float) -> float:
    """``P(W > wait_s)`` in M/M/c: ``C exp(-(c - a) t / service)``; 1.0 when unstable."""
    if offered_load >= servers:
        return 1.0
    decay = (servers - offered_load) / mean_service_s
    return erlang_c(servers, offered_load) * math.exp(-decay * wait_s)


def wait_quantile(servers: int, offered_load: float, mean_service_s: float, q: float) -> float:
    """The q-quantile of the wait, seconds: 0 when few enough wait, ``inf`` when unstable."""
    if not 0 < q < 1:
        raise InvalidInput(f"a quantile must be in (0, 1), got {q}")
    if offered_load >= servers:
        return math.inf
    waiting = erlang_c(servers, offered_load)
    if waiting <= 1 - q:
        return 0.0
    decay = (servers - offered_load) / mean_service_s
    return math.log(waiting / (1 - q)) / decay


def servers_for(devices: int, mean_job_devices: float) -> int:
    """Servers of ``mean_job_devices`` devices each that ``devices`` make (at least 0)."""
    if mean_job_devices <= 0:
        raise InvalidInput(f"mean job devices must be positive, got {mean_job_devices}")
    return int(devices // mean_job_devices)


def pointwise_stationary_wait_quantile(
    servers: int,
    loads: Sequence[float],
    mean_service_s: float,
    q: float = 0.9,
) -> float:
    """The q-quantile of the wait when step ``k`` carries offered load ``loads[k]`` Erlangs.

    Steps have equal length, so arrivals in a step are proportional to its load (``lambda_k =
    a_k mu``). ``P(W > t) = sum_k a_k P_k(W > t) / sum_k a_k``; the quantile is found by
    bisection to 0.1 s. Returns 0.0 when no load at all, ``inf`` when more than ``1 - q`` of the
    arrivals fall in steps at or above capacity.
    """
    if not 0 < q < 1:
        raise InvalidInput(f"a quantile must be in (0, 1), got {q}")
    if mean_service_s <= 0:
        raise InvalidInput(f"the mean service time must be positive, got {mean_service_s}")
    total = math.fsum(loads)
    if total <= 0:
        return 0.0
    steps = [
        (load / total, erlang_c(servers, load), (servers - load) / mean_service_s)
        for load in loads
        if load > 0
    ]
    tail = 1 - q

    def exceeds(wait_s: float) -> float:
        return math.fsum(
            weight * (1.0 if decay <= 0 else waiting * math.exp(-decay * wait_s))
            for weight, waiting, decay in steps
        )

    if exceeds(0.0) <= tail:
        return 0.0
    unstable = math.fsum(weight for weight, _, decay in steps if decay <= 0)
    if unstable >= tail:
        return math.inf
    low, high = 0.0, mean_service_s
    while exceeds(high) > tail:
        high *= 2
    while high - low > 0.1:
        middle = (low + high) / 2
        if exceeds(middle) > tail:
            low = middle
        else:
            high = middle
    return high


# -- applied to a forecast ------------------------------------------------------------------


def erlang_p90_wait(
    devices: int, forecast: Forecast, shapes: JobShapes, *, pointwise: bool = False
) -> float:
    """Erlang C p90 wait of ``devices`` under the forecast's means.

    Stationary M/M/c at the mean load over the horizon (the back-of-envelope figure: optimistic,
    it ignores peaks), or with ``pointwise`` the pointwise stationary approximation over the
    steps (pessimistic: an hour above capacity counts as an unbounded wait).
    """
    size = shapes.duration_weighted_devices
    loads = [value / size for value in mean_demand_devices(forecast)]
    if not pointwise:
        loads = [math.fsum(loads) / len(loads)]
    return pointwise_stationary_wait_quantile(
        servers_for(devices, size), loads, shapes.mean_duration_s, WAIT_QUANTILE
    )


def erlang_devices(
    target_s: float,
    per_node: int,
    forecast: Forecast,
    shapes: JobShapes,
    *,
    pointwise: bool = False,
) -> int:
    """Devices (whole nodes) Erlang C alone would recommend for ``target_s``."""

    def meets(nodes: int) -> bool:
        return erlang_p90_wait(nodes * per_node, forecast, shapes, pointwise=pointwise) <= target_s

    high = 1
    while not meets(high):
        high *= 2
    low = high // 2  # meets(low) is False (or low is 0)
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high * per_node


def _check(servers: int, offered_load: float) -> None:
    if servers < 0:
        raise InvalidInput(f"servers must be zero or more, got {servers}")
    if not (offered_load >= 0 and math.isfinite(offered_load)):
        raise InvalidInput(f"offered load must be a finite number >= 0, got {offered_load}")
