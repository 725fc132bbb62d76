"""The review form: a reviewer's scores on a call's rubric, checked field by field.

Each criterion of the rubric is one number input, named ``score.<criterion>``, whose value must
be a whole number within that criterion's scale; the comment is free text up to the service's
limit. Every failing field gets its own message, shown next to it, so a reviewer fixes all of
them at once. What only the service can judge (whether the caller is assigned to the proposal,
whether the call still takes reviews) comes back from ``Programmes.submit_review`` as one
message for the whole form.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from nuri.programmes.rubric import Criterion, Rubric
from nuri.service.programmes import MAX_TEXT

SCORE_PREFIX = "score."
COMMENT_FIELD = "comment"


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field: a catalogue key and its parameters."""

    key: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass
class ReviewForm:
    """The form's values as typed (or as last saved), per criterion name."""

    scores: dict[str, str] = field(default_factory=dict)
    comment: str = ""


@dataclass
class CheckedReview:
    scores: dict[str, int] | None
    """The scores to submit, or None when a field has a problem."""
    problems: dict[str, FieldProblem] = field(default_factory=dict)
    """Field id (``score-<n>`` or ``comment``) -> what is wrong with it."""


def score_field_id(index: int) -> str:
    """The HTML id of the ``index``-th criterion's input (criterion names may hold any text)."""
    return f"score-{index}"


def form_from_post(rubric: Rubric, posted: Mapping[str, str]) -> ReviewForm:
    """The form as posted: one value per criterion of ``rubric`` (others are ignored)."""
    return ReviewForm(
        scores={c.name: posted.get(SCORE_PREFIX + c.name, "") for c in rubric.criteria},
        comment=posted.get(COMMENT_FIELD, ""),
    )


def check_review_form(rubric: Rubric, form: ReviewForm) -> CheckedReview:
    """Every criterion scored with a whole number within its scale, and a comment that fits."""
    problems: dict[str, FieldProblem] = {}
    scores: dict[str, int] = {}
    for index, criterion in enumerate(rubric.criteria):
        value = _whole_number(form.scores.get(criterion.name, ""))
        if value is None or not criterion.lowest <= value <= criterion.highest:
            problems[score_field_id(index)] = _scale_problem(criterion, value is None)
        else:
            scores[criterion.name] = value
    if len(form.comment) > MAX_TEXT:
        problems[COMMENT_FIELD] = FieldProblem("review.error.comment", {"limit": MAX_TEXT})
    return CheckedReview(None if problems else scores, problems)


def _scale_problem(criterion: Criterion, not_a_number: bool) -> FieldProblem:
    key = "review.error.score_missing" if not_a_number else "review.error.score_range"
    return FieldProblem(key, {"lowest": criterion.lowest, "highest": criterion.highest})


def _whole_number(text: str) -> int | None:
    stripped = text.strip()
    sign = -1 if stripped.startswith("-") else 1
    digits = stripped.removeprefix("-")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 6:
        return None
    return sign * int(digits)
