"""Synthetic job traces in the common schema, for tests and for sweeps beyond the real traces.

The model (every parameter is an argument of :func:`generate_trace`):

- **Arrivals**: a Poisson process, i.e. independent exponential gaps with mean
  ``mean_interarrival_s`` (60 s by default: 1,440 jobs a day). The first job arrives after one
  gap, so ``submit_time_s > 0``.
- **Durations**: log-normal, ``exp(N(ln median_duration_s, duration_sigma^2))``, clipped to
  ``[1 s, max_duration_s]``. The defaults (median 600 s, sigma 2.13, cap 7 days) give a median of
  10 minutes and a mean of about 1.5 hours: most jobs are short and a few run for days, the heavy
  tail reported for Microsoft's Philly cluster (Jeon et al., "Analysis of Large-Scale
  Multi-Tenant GPU Clusters for DNN Training Workloads", USENIX ATC'19). Without the cap the
  mean would be ``median * exp(sigma^2 / 2)``; the cap trims it slightly (about 0.06% of jobs are
  capped). Durations are rounded to whole milliseconds, so a seed gives the same trace on every
  CPU (numpy's vectorised ``exp`` may differ in the last bit between instruction sets).
- **GPUs**: drawn from :data:`GPU_COUNT_WEIGHTS`: 1 GPU 70%, 2 GPUs 4%, 4 GPUs 13%, 8 GPUs 10%,
  16 GPUs 2%, 32 GPUs 1%. These are the Philly-derived Gavel trace's shares (68.7%, 3.0%, 13.4%,
  12.5%, 1.7%, 0.6% over its 15,264 jobs), rounded, with its rare odd sizes folded into the
  nearest power of two.
- **Groups**: ``groups`` groups named ``g1``, ``g2``, ... with Zipf-like weights
  ``1 / rank ** zipf_exponent`` (default exponent 1: ``g1`` submits twice as many jobs as ``g2``).
  Each group has ``users_per_group`` users (``g1-u1``, ...), chosen uniformly within it.
- Every job is COMPLETED, may run in any pool (``gpu_type`` ``''``), and has no time limit (add
  one with :func:`nuri.traces.time_limits.with_time_limits`).

Determinism: one :func:`numpy.random.default_rng` seeded with ``seed`` draws everything, in a
fixed order, so the same arguments always give the same trace; the global RNGs are never used.
The work is vectorised: 100,000 jobs take well under a second.
"""

import logging
from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

from nuri.domain.errors import InvalidInput
from nuri.traces.schema import validate_trace

logger = logging.getLogger(__name__)

GPU_COUNT_WEIGHTS: Final[Mapping[int, float]] = {
    1: 0.70,
    2: 0.04,
    4: 0.13,
    8: 0.10,
    16: 0.02,
    32: 0.01,
}
"""Default probability of each GPU count (sums to 1)."""

SEVEN_DAYS_S: Final = 7 * 86_400.0


def generate_trace(
    jobs: int,
    *,
    seed: int,
    mean_interarrival_s: float = 60.0,
    groups: int = 8,
    users_per_group: int = 4,
    zipf_exponent: float = 1.0,
    median_duration_s: float = 600.0,
    duration_sigma: float = 2.13,
    max_duration_s: float = SEVEN_DAYS_S,
    gpu_count_weights: Mapping[int, float] = GPU_COUNT_WEIGHTS,
) -> pd.DataFrame:
    """A synthetic trace of ``jobs`` jobs drawn from the model in this module's docstring.

    Args:
        jobs: how many jobs (>= 0).
        seed: seeds :func:`numpy.random.default_rng`; the same seed gives the same trace.
        mean_interarrival_s: mean gap between submissions, seconds (> 0).
        groups: number of groups (>= 1); ``users_per_group``: users in each (>= 1).
        zipf_exponent: group weights are ``1 / rank ** zipf_exponent`` (>= 0; 0 = uniform).
        median_duration_s, duration_sigma: the log-normal's median (seconds) and log-space
            standard deviation; ``max_duration_s`` caps durations (>= 1 s).
        gpu_count_weights: GPU count -> relative weight (normalised here; counts >= 1).

    Returns:
        A validated trace (:mod:`nuri.traces.schema`) without optional columns, with job ids
        ``job-0``, ``job-1``, ... in submission order, zero-padded to one width (``job-00042``
        among 100,000 jobs) so that they also sort in that order.

    Raises:
        InvalidInput: for an out-of-range argument.
    """
    _check(jobs >= 0, f"jobs must be >= 0, not {jobs}")
    _check(mean_interarrival_s > 0, f"mean_interarrival_s must be > 0, not {mean_interarrival_s}")
    _check(groups >= 1 and users_per_group >= 1, "groups and users_per_group must be >= 1")
    _check(zipf_exponent >= 0, f"zipf_exponent must be >= 0, not {zipf_exponent}")
    _check(median_duration_s > 0 and duration_sigma >= 0, "the duration model needs median > 0")
    _check(max_duration_s >= 1, f"max_duration_s must be >= 1 s, not {max_duration_s}")
    sizes = np.array(sorted(gpu_count_weights), dtype="int64")
    weights = np.array([gpu_count_weights[int(s)] for s in sizes], dtype="float64")
    _check(
        len(sizes) > 0
        and bool((sizes >= 1).all())
        and bool((weights >= 0).all())
        and weights.sum() > 0,
        "gpu_count_weights needs GPU counts >= 1 with non-negative weights, not all zero",
    )

    rng = np.random.default_rng(seed)
    submit = np.cumsum(rng.exponential(mean_interarrival_s, size=jobs))
    duration = np.exp(np.log(median_duration_s) + duration_sigma * rng.standard_normal(jobs))
    # Whole milliseconds: numpy's vectorised exp differs in the last bit between CPUs (its
    # AVX-512 path is not its AVX2 one), and rounding keeps a seed's trace the same everywhere.
    duration = np.round(np.clip(duration, 1.0, max_duration_s), 3)
    gpus = rng.choice(sizes, size=jobs, p=weights / weights.sum())
    ranks = np.arange(1, groups + 1, dtype="float64")
    group_weights = ranks**-zipf_exponent
    group = rng.choice(groups, size=jobs, p=group_weights / group_weights.sum())
    user = rng.integers(0, users_per_group, size=jobs)

    group_names = np.array([f"g{k + 1}" for k in range(groups)], dtype=object)
    width = len(str(max(jobs - 1, 0)))
    frame = pd.DataFrame(
        {
            "job_id": [f"job-{i:0{width}d}" for i in range(jobs)],
            "user": [
                f"g{g + 1}-u{u + 1}" for g, u in zip(group.tolist(), user.tolist(), strict=True)
            ],
            "group": group_names[group],
            "submit_time_s": submit,
            "duration_s": duration,
            "num_gpus": gpus,
            "gpu_type": "",
            "status": "COMPLETED",
        }
    )
    trace = validate_trace(frame)
    logger.debug("generated %d synthetic jobs with seed %d", jobs, seed)
    return trace


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)
