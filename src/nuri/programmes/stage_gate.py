"""Leaderboards and the gate at the end of a stage: who continues, who stops.

A stage's evaluation task names the metric that ranks teams and whether higher or lower is
better. A team's standing is its best evaluation run on that metric (teams improve during a
stage; the gate judges what they achieved). Teams with no run rank last. The gate advances the
top ``k``, or every team at or beyond a threshold, or the top ``k`` of those beyond it when both
are given; a tie at the cut advances every tied team rather than drop one by name order.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nuri.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    team: str
    metrics: dict[str, float]


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    team: str
    value: float | None


@dataclass(frozen=True, slots=True)
class GateDecision:
    advance: tuple[str, ...]
    stop: tuple[str, ...]
    standings: tuple[Standing, ...]
    rule: str


def leaderboard(
    teams: Iterable[str],
    results: Iterable[EvaluationResult],
    metric: str,
    higher_is_better: bool = True,
) -> list[Standing]:
    """Every team's best value on ``metric``, best first; equal values share a rank."""
    best: dict[str, float] = {}
    for result in results:
        if metric not in result.metrics:
            continue
        value = float(result.metrics[metric])
        current = best.get(result.team)
        if current is None or (value > current if higher_is_better else value < current):
            best[result.team] = value
    sign = -1.0 if higher_is_better else 1.0
    ordered = sorted(
        set(teams),
        key=lambda team: (team not in best, sign * best.get(team, 0.0), team),
    )
    standings: list[Standing] = []
    for position, team in enumerate(ordered, start=1):
        standing = best.get(team)
        rank = position
        if standings and standing is not None and standings[-1].value == standing:
            rank = standings[-1].rank
        standings.append(Standing(rank, team, standing))
    return standings


def gate(
    standings: Sequence[Standing],
    *,
    top_k: int | None = None,
    threshold: float | None = None,
    higher_is_better: bool = True,
) -> GateDecision:
    """Split the teams into those who continue and those who stop (see module docstring)."""
    if top_k is None and threshold is None:
        raise InvalidInput("a gate needs top_k, a threshold, or both")
    if top_k is not None and top_k < 1:
        raise InvalidInput("top_k must be at least 1")
    eligible = [s for s in standings if s.value is not None]
    rules = []
    if threshold is not None:
        eligible = [
            s
            for s in eligible
            if s.value is not None
            and (s.value >= threshold if higher_is_better else s.value <= threshold)
        ]
        rules.append(f"{'at least' if higher_is_better else 'at most'} {threshold:g}")
    if top_k is not None:
        cut_rank = eligible[top_k - 1].rank if len(eligible) >= top_k else None
        if cut_rank is not None:
            eligible = [s for s in eligible if s.rank <= cut_rank]
        rules.append(f"top {top_k}")
    advance = tuple(s.team for s in eligible)
    stop = tuple(s.team for s in standings if s.team not in advance)
    return GateDecision(advance, stop, tuple(standings), " and ".join(rules))
