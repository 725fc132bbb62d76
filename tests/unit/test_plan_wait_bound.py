"""The planner's fresh-set bound: sections of independent samples, Student t quantiles, and a
prediction bound that grows with the spread between sections and shrinks with more samples."""

import math

import pytest

from nuri.domain.errors import InvalidInput
from nuri.planning.wait_bound import fresh_set_bound, sections, student_t_quantile


@pytest.mark.parametrize(
    ("q", "dof", "expected"),
    [
        (0.9, 1, 3.077684),
        (0.9, 2, 1.885618),
        (0.9, 3, 1.637744),
        (0.95, 5, 2.015048),
        (0.975, 10, 2.228139),
        (0.99, 4, 3.746947),
        (0.9, 30, 1.310415),
        (0.1, 3, -1.637744),
    ],
    ids=["90% 1", "90% 2", "90% 3", "95% 5", "97.5% 10", "99% 4", "90% 30", "10% 3"],
)
def test_student_t_quantiles_match_the_tables(q: float, dof: int, expected: float) -> None:
    """Textbook t-table values, to six decimals."""
    assert student_t_quantile(q, dof) == pytest.approx(expected, abs=1e-6)


def test_student_t_quantiles_approach_the_normal_with_many_degrees_of_freedom() -> None:
    """With 2,000 degrees of freedom the 90% quantile is the normal's 1.2816 (to 1e-3)."""
    assert student_t_quantile(0.9, 2000) == pytest.approx(1.281552, abs=1e-3)
    assert student_t_quantile(0.5, 4) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("samples", "paired", "expected"),
    [
        (8, True, ((0, 1), (2, 3), (4, 5), (6, 7))),
        (5, True, ((0, 1), (2, 3), (4,))),
        (3, True, ((0, 1), (2,))),
        (2, True, ((0,), (1,))),
        (1, True, ((0,),)),
        (4, False, ((0,), (1,), (2,), (3,))),
    ],
    ids=["8 paired", "5 paired", "3 paired", "one pair", "one sample", "4 unpaired"],
)
def test_sections_are_whole_antithetic_pairs(samples: int, paired: bool, expected) -> None:
    """Pairs stay together (their halves are not independent); an odd last sample is alone; a
    single pair is split into its samples (conservative); unpaired samples are each a section."""
    assert sections(samples, paired=paired) == expected


def test_the_bound_grows_with_the_spread_between_sections() -> None:
    """Same pooled p90, four sections of two: a wider spread gives a proportionally higher bound,
    none gives the pooled p90 itself."""
    pooled = 3000.0
    sizes = [2, 2, 2, 2]
    flat = fresh_set_bound(pooled, [pooled] * 4, sizes, 0.9)
    narrow = fresh_set_bound(pooled, [2800.0, 2900.0, 3100.0, 3200.0], sizes, 0.9)
    wide = fresh_set_bound(pooled, [2600.0, 2800.0, 3200.0, 3400.0], sizes, 0.9)
    assert flat == pooled
    assert pooled < narrow < wide
    assert wide - pooled == pytest.approx(2 * (narrow - pooled))


def test_the_bound_is_a_t_prediction_bound_by_hand() -> None:
    """Four sections of two, deviations -200, -100, 100, 200 s: c = 2 x 100,000 / 3; the
    scale is sqrt(c x (1/8 + 1/8)); the t quantile with 3 degrees of freedom at 90% is 1.6377."""
    bound = fresh_set_bound(3000.0, [2800.0, 2900.0, 3100.0, 3200.0], [2, 2, 2, 2], 0.9)
    c = 2 * (200.0**2 + 100.0**2 + 100.0**2 + 200.0**2) / 3
    assert bound == pytest.approx(3000.0 + 1.637744 * math.sqrt(c * 0.25), rel=1e-6)


def test_more_confidence_and_fewer_sections_widen_the_bound() -> None:
    """A higher confidence raises the bound; with the same deviations, fewer sections (fewer
    degrees of freedom, fewer samples) raise it too; a larger fresh set lowers it."""
    deviations = [-100.0, 100.0]
    two = fresh_set_bound(1000.0, [1000.0 + d for d in deviations], [2, 2], 0.9)
    four = fresh_set_bound(1000.0, [1000.0 + d for d in deviations * 2], [2] * 4, 0.9)
    assert two > four > 1000.0
    assert fresh_set_bound(1000.0, [900.0, 1100.0], [2, 2], 0.95) > two
    assert fresh_set_bound(1000.0, [900.0, 1100.0], [2, 2], 0.9, fresh_samples=400) < two


def test_a_section_that_never_starts_its_jobs_or_a_single_section_is_unbounded() -> None:
    """inf in any p90 makes the bound inf; so does one section (no spread to measure)."""
    assert math.isinf(fresh_set_bound(100.0, [100.0, math.inf], [2, 2], 0.9))
    assert math.isinf(fresh_set_bound(100.0, [100.0], [8], 0.9))


def test_bad_bound_inputs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="confidence"):
        fresh_set_bound(1.0, [1.0, 2.0], [1, 1], 1.0)
    with pytest.raises(InvalidInput, match="one size per section"):
        fresh_set_bound(1.0, [1.0, 2.0], [1], 0.9)
    with pytest.raises(InvalidInput, match="degree of freedom"):
        student_t_quantile(0.9, 0)
