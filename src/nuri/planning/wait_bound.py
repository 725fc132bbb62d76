"""How high the pooled p90 wait of a *fresh* set of samples could be, from the spread between
independent sections of the plan's own samples.

Why: the planner accepts a size when the pooled p90 wait of its samples is within the target.
What a plan promises is that the size will meet the target on demand it has not seen: a fresh
set of as many samples, drawn with other seeds. Near saturation the pooled p90 of a set of
samples varies a lot from set to set (a heavy right tail: one week above forecast queues for
hours), and a bootstrap over the plan's own few samples under-states that spread. Measured on
Helios vc6YE with 8 samples at 280 devices, the bootstrap implied a spread of about 4.5 min
where independent sets differed by 7-10 min, and plans missed their target on fresh sets.

The estimator: sectioning (Asmussen and Glynn, *Stochastic Simulation*, 2007, III.5a; Nakayama,
"Confidence intervals for quantiles using sectioning when applying variance-reduction
techniques", ACM TOMACS 24(4), 2014), turned into a prediction bound::

    samples  0 1 | 2 3 | 4 5 | 6 7      k independent sections (antithetic pairs), sizes m_j
    pooled   p90 over all n samples          xi      (the plan's point estimate)
    section  p90 over each section's samples xi_j
    c        sum_j m_j (xi_j - xi)^2 / (k - 1)       (a quantile estimator's variance falls as
                                                      1 / samples: Var(p90 of m samples) ~ c / m)
    bound    xi + t(confidence, k - 1) * sqrt(c * (1 / n + 1 / n_fresh))

A fresh set's p90 ``Y`` and the plan's ``xi`` are independent estimates of the same quantity,
each with variance about ``c / n``, so ``Y - xi`` has variance ``c (1/n + 1/n_fresh)``; with ``c``
estimated from ``k`` sections, ``(Y - xi) / sqrt(c (1/n + 1/n_fresh))`` is close to Student's t
with ``k - 1`` degrees of freedom, which is what the bound's quantile comes from (the textbook
prediction interval for a new observation, applied to a quantile estimator through its
sectioning variance). The spread is measured *between* independent groups of samples, so it is
the set-to-set spread a fresh set will show, and with few sections the t quantile widens the
bound for the uncertainty of that spread itself (3 degrees of freedom: 1.64 at 90% where a
normal gives 1.28).

Sections are the independent units of the samples: antithetic pairs (``2j, 2j + 1``) when the
samples are paired, since the two halves of a pair are not independent; each sample otherwise.
With paired samples but fewer than two pairs, each sample is its own section: the two halves of
a pair mirror each other's forecast errors, so their p90s move in opposite directions and the
spread between them over-states (never under-states) the spread between pairs. Fewer than two
sections give no spread at all and an unbounded bound (one sample cannot tell how lucky it was).

Everything here is pure: waits in, seconds out.
"""

import math
from collections.abc import Sequence

from nuri.domain.errors import InvalidInput


def sections(samples: int, *, paired: bool = True) -> tuple[tuple[int, ...], ...]:
    """The independent groups of sample indices whose p90s the bound compares.

    ``paired``: samples come in antithetic pairs ``(0, 1), (2, 3), ...`` (an odd last sample is
    a section alone). With fewer than two pairs, or unpaired samples, each sample is a section
    (see the module docstring for why that is conservative for pairs). ``samples >= 0``.
    """
    if samples < 0:
        raise InvalidInput(f"samples must be zero or more, got {samples}")
    if paired and samples >= 3:
        return tuple(tuple(range(start, min(start + 2, samples))) for start in range(0, samples, 2))
    return tuple((index,) for index in range(samples))


def student_t_quantile(q: float, dof: int) -> float:
    """The ``q``-quantile of Student's t with ``dof`` (>= 1, whole) degrees of freedom.

    Exact up to bisection (1e-12): the distribution function for whole degrees of freedom is the
    finite series of Abramowitz and Stegun 26.7.3-26.7.4, inverted by bisection. ``0 < q < 1``.
    """
    if dof < 1:
        raise InvalidInput(f"Student's t needs at least one degree of freedom, got {dof}")
    if not 0 < q < 1:
        raise InvalidInput(f"a quantile level must be in (0, 1), got {q}")
    if q < 0.5:
        return -student_t_quantile(1 - q, dof)
    if dof == 1:
        return math.tan(math.pi * (q - 0.5))
    low, high = 0.0, 1.0
    while _student_t_cdf(high, dof) < q:
        low, high = high, 2 * high
    while high - low > 1e-12 * max(1.0, high):
        middle = (low + high) / 2
        if _student_t_cdf(middle, dof) < q:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _student_t_cdf(t: float, dof: int) -> float:
    """P(T <= t) for t >= 0 and whole ``dof`` >= 2 (Abramowitz and Stegun 26.7.3-26.7.4)."""
    theta = math.atan(t / math.sqrt(dof))
    cos2 = math.cos(theta) ** 2
    if dof % 2 == 0:  # A = sin(theta) (1 + 1/2 cos^2 + 1.3/(2.4) cos^4 + ...), to cos^(dof-2)
        term = total = 1.0
        for j in range(1, dof // 2):
            term *= cos2 * (2 * j - 1) / (2 * j)
            total += term
        both_sides = math.sin(theta) * total
    else:  # A = 2/pi (theta + sin cos (1 + 2/3 cos^2 + 2.4/(3.5) cos^4 + ...)), to cos^(dof-2)
        term = total = 1.0
        for j in range(1, (dof - 1) // 2):
            term *= cos2 * (2 * j) / (2 * j + 1)
            total += term
        both_sides = 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    return 0.5 + both_sides / 2


def fresh_set_bound(
    pooled_s: float,
    section_p90_s: Sequence[float],
    section_sizes: Sequence[int],
    confidence: float,
    *,
    fresh_samples: int | None = None,
) -> float:
    """The ``confidence`` prediction bound on a fresh set's pooled p90 wait, in seconds.

    ``pooled_s``: the pooled p90 of all the plan's samples; ``section_p90_s[j]``: the pooled p90
    of section ``j``'s ``section_sizes[j]`` samples (see :func:`sections`). ``fresh_samples``:
    the size of the fresh set the bound speaks for (default: as many as the plan's). Returns
    ``inf`` when any p90 is unbounded (too many jobs never start) or there are fewer than two
    sections; never less than ``pooled_s``.
    """
    if len(section_p90_s) != len(section_sizes):
        raise InvalidInput("one size per section is needed")
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence must be in (0, 1), got {confidence}")
    k = len(section_sizes)
    if k < 2 or min(section_sizes) < 1:
        return math.inf
    if not math.isfinite(pooled_s) or not all(math.isfinite(p) for p in section_p90_s):
        return math.inf
    samples = sum(section_sizes)
    fresh = samples if fresh_samples is None else fresh_samples
    if fresh < 1:
        raise InvalidInput(f"a fresh set needs at least one sample, got {fresh}")
    spread = math.fsum(
        size * (p90 - pooled_s) ** 2 for p90, size in zip(section_p90_s, section_sizes, strict=True)
    ) / (k - 1)
    scale = math.sqrt(spread * (1 / samples + 1 / fresh))
    return pooled_s + max(0.0, student_t_quantile(confidence, k - 1)) * scale
