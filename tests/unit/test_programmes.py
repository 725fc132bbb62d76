"""The pure rules of allocation programmes: rubric, conflicts, normalisation, optimiser, gate."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.domain.errors import InvalidInput
from nuri.programmes.award_optimiser import AwardRequest, optimise_awards
from nuri.programmes.conflicts import ProposalFacts, ReviewerFacts, conflict
from nuri.programmes.normalisation import ReviewTotal, normalised_scores, ranking
from nuri.programmes.rubric import Rubric
from nuri.programmes.stage_gate import EvaluationResult, gate, leaderboard

RUBRIC = Rubric.of(
    [
        {"name": "excellence", "weight": 0.5},
        {"name": "impact", "weight": 0.3},
        {"name": "feasibility", "weight": 0.2, "lowest": 0, "highest": 10},
    ]
)


def test_scores_outside_the_rubric_are_refused_with_what_to_fix() -> None:
    with pytest.raises(InvalidInput, match="between 1 and 5; got 6"):
        RUBRIC.check({"excellence": 6, "impact": 3, "feasibility": 5})
    with pytest.raises(InvalidInput, match="missing: feasibility"):
        RUBRIC.check({"excellence": 4, "impact": 3})
    with pytest.raises(InvalidInput, match="no criterion novelty"):
        RUBRIC.check({"excellence": 4, "impact": 3, "feasibility": 5, "novelty": 2})
    with pytest.raises(InvalidInput, match="whole number"):
        RUBRIC.check({"excellence": 4.5, "impact": 3, "feasibility": 5})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="distinct names"):
        Rubric.of([{"name": "a", "weight": 1}, {"name": "a", "weight": 2}])


def test_the_total_is_the_weighted_mean_of_rescaled_scores() -> None:
    assert RUBRIC.total({"excellence": 5, "impact": 5, "feasibility": 10}) == pytest.approx(1.0)
    assert RUBRIC.total({"excellence": 1, "impact": 1, "feasibility": 0}) == pytest.approx(0.0)
    assert RUBRIC.total({"excellence": 3, "impact": 1, "feasibility": 10}) == pytest.approx(
        0.5 * 0.5 + 0.2
    )


def test_reviewers_from_the_proposing_organisation_or_with_declared_conflicts_may_not_review() -> (
    None
):
    proposal = ProposalFacts("p1", organisation="snu", pi="kim", team=("lee",))
    assert "belongs to snu" in (conflict(ReviewerFacts("han", "snu"), proposal) or "")
    assert "team" in (conflict(ReviewerFacts("lee", "kaist"), proposal) or "")
    declared = ReviewerFacts("cho", "kaist", frozenset({"kim"}))
    assert "declared a conflict with kim" in (conflict(declared, proposal) or "")
    assert conflict(ReviewerFacts("cho", "kaist"), proposal) is None


reviews_strategy = st.lists(
    st.tuples(
        st.sampled_from(["r1", "r2", "r3"]),
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda item: (item[0], item[1]),
)


@given(
    reviews_strategy,
    st.floats(0.01, 100, allow_nan=False),
    st.floats(-100, 100, allow_nan=False),
)
def test_normalisation_is_invariant_to_a_reviewers_scale(
    reviews: list[tuple[str, str, int]], scale: float, shift: float
) -> None:
    plain = [ReviewTotal(r, p, float(t)) for r, p, t in reviews]
    rescaled = [ReviewTotal(r, p, t * scale + shift if r == "r1" else t) for r, p, t in reviews]
    before, after = normalised_scores(plain), normalised_scores(rescaled)
    assert before.keys() == after.keys()
    for proposal in before:
        assert after[proposal] == pytest.approx(before[proposal], abs=1e-6)


def test_a_harsh_and_a_generous_reviewer_agree_once_normalised() -> None:
    reviews = [
        ReviewTotal("harsh", "a", 1),
        ReviewTotal("harsh", "b", 2),
        ReviewTotal("harsh", "c", 3),
        ReviewTotal("generous", "a", 4.0),
        ReviewTotal("generous", "b", 4.5),
        ReviewTotal("generous", "c", 5.0),
    ]
    scores = normalised_scores(reviews)
    assert ranking(scores) == ["c", "b", "a"]
    assert scores["b"] == pytest.approx(0.0)


def test_the_optimiser_funds_the_best_weighted_hours_and_respects_minimums() -> None:
    plan = optimise_awards(
        [
            AwardRequest("best", 3.0, {"h100": 600}, minimum=400),
            AwardRequest("good", 2.0, {"h100": 500, "rngd": 300}, minimum=500),
            AwardRequest("fair", 1.0, {"rngd": 800}, minimum=100),
            AwardRequest("unranked", 0.0, {"h100": 100}),
        ],
        {"h100": 1000, "rngd": 500},
    )
    assert plan.optimal
    assert plan.granted["best"] == {"h100": 600}
    assert plan.granted["good"] == {"h100": 400, "rngd": 300}
    assert plan.granted["fair"] == {"rngd": 200}
    assert "unranked" not in plan.granted


def test_a_proposal_whose_minimum_cannot_be_met_gets_nothing() -> None:
    plan = optimise_awards(
        [
            AwardRequest("big", 5.0, {"h100": 2000}, minimum=1500),
            AwardRequest("small", 1.0, {"h100": 300}),
        ],
        {"h100": 1000},
    )
    assert plan.granted == {"small": {"h100": 300}}


def test_the_optimiser_refuses_pools_the_call_does_not_fund() -> None:
    with pytest.raises(InvalidInput, match="no budget for: a100"):
        optimise_awards([AwardRequest("p", 1.0, {"a100": 10})], {"h100": 10})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 10.0, allow_nan=False),
            st.dictionaries(
                st.sampled_from(["h100", "a100", "rngd"]), st.integers(0, 5000), min_size=1
            ),
            st.integers(0, 6000),
        ),
        min_size=1,
        max_size=8,
    ),
    st.fixed_dictionaries(
        {"h100": st.integers(0, 8000), "a100": st.integers(0, 8000), "rngd": st.integers(0, 8000)}
    ),
)
def test_awards_never_exceed_a_pools_budget_nor_a_request(
    raw: list[tuple[float, dict[str, int], int]], budgets: dict[str, int]
) -> None:
    requests = [
        AwardRequest(f"p{index}", weight, requested, minimum)
        for index, (weight, requested, minimum) in enumerate(raw)
    ]
    plan = optimise_awards(requests, budgets)
    for pool, total in plan.pool_totals().items():
        assert total <= budgets[pool]
    for request in requests:
        granted = plan.granted.get(request.proposal, {})
        assert all(hours <= request.requested[pool] for pool, hours in granted.items())
        if granted:
            assert sum(granted.values()) >= request.minimum and request.weight > 0


def test_the_gate_advances_the_top_k_and_keeps_ties_together() -> None:
    results = [
        EvaluationResult("a", {"accuracy": 0.81}),
        EvaluationResult("a", {"accuracy": 0.86}),  # a team's best run counts
        EvaluationResult("b", {"accuracy": 0.84}),
        EvaluationResult("c", {"accuracy": 0.84}),
        EvaluationResult("d", {"accuracy": 0.70}),
    ]
    board = leaderboard(["a", "b", "c", "d", "e"], results, "accuracy")
    assert [(s.rank, s.team) for s in board] == [(1, "a"), (2, "b"), (2, "c"), (4, "d"), (5, "e")]
    decision = gate(board, top_k=2)
    assert decision.advance == ("a", "b", "c") and decision.stop == ("d", "e")
    assert gate(board, threshold=0.85).advance == ("a",)
    lower = leaderboard(
        ["a", "b"],
        [EvaluationResult("a", {"loss": 2.0}), EvaluationResult("b", {"loss": 1.5})],
        "loss",
        higher_is_better=False,
    )
    assert gate(lower, top_k=1, higher_is_better=False).advance == ("b",)
    with pytest.raises(InvalidInput, match="top_k, a threshold"):
        gate(board)
