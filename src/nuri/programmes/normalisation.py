"""Review scores normalised per reviewer before ranking.

Reviewers use scales differently: one gives everything 4-5, another 1-3. Each reviewer's
totals are turned into z-scores over the proposals *that reviewer* scored (``(x - mean) /
standard deviation``), and a proposal's score is the mean of its reviewers' z-scores. A
reviewer's z-scores do not change when all of that reviewer's totals are multiplied by a
positive number or shifted by a constant, so no reviewer's habits move the ranking. A reviewer
who scored one proposal, or gave every proposal the same total, says nothing about order: their
z-scores are 0.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReviewTotal:
    reviewer: str
    proposal: str
    total: float


def reviewer_z_scores(reviews: Iterable[ReviewTotal]) -> dict[tuple[str, str], float]:
    """``(reviewer, proposal)`` -> the reviewer's z-score for that proposal."""
    by_reviewer: dict[str, list[ReviewTotal]] = {}
    for review in reviews:
        by_reviewer.setdefault(review.reviewer, []).append(review)
    z: dict[tuple[str, str], float] = {}
    for reviewer, own in by_reviewer.items():
        totals = [review.total for review in own]
        mean = math.fsum(totals) / len(totals)
        spread = math.sqrt(math.fsum((t - mean) ** 2 for t in totals) / len(totals))
        # Tiny relative spreads are rounding noise, not an opinion.
        flat = spread <= 1e-9 * max(1.0, max(abs(t) for t in totals))
        for review in own:
            z[(reviewer, review.proposal)] = 0.0 if flat else (review.total - mean) / spread
    return z


def normalised_scores(reviews: Iterable[ReviewTotal]) -> dict[str, float]:
    """Each proposal's mean z-score over its reviewers."""
    sums: dict[str, list[float]] = {}
    for (_, proposal), value in reviewer_z_scores(reviews).items():
        sums.setdefault(proposal, []).append(value)
    return {proposal: math.fsum(values) / len(values) for proposal, values in sums.items()}


def ranking(scores: dict[str, float]) -> list[str]:
    """Proposals best first; equal scores in name order, so the ranking is reproducible."""
    return sorted(scores, key=lambda proposal: (-round(scores[proposal], 9), proposal))
