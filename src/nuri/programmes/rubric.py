"""A call's review rubric: weighted criteria, each scored on its own whole-number scale."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nuri.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    weight: float
    lowest: int = 1
    highest: int = 5


@dataclass(frozen=True, slots=True)
class Rubric:
    """Criteria and their weights; a review scores every criterion within its scale."""

    criteria: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        if not self.criteria:
            raise InvalidInput("a rubric needs at least one criterion")
        names = [criterion.name for criterion in self.criteria]
        if len(set(names)) != len(names):
            raise InvalidInput(f"rubric criteria must have distinct names; got {', '.join(names)}")
        for criterion in self.criteria:
            if not criterion.name.strip():
                raise InvalidInput("every rubric criterion needs a name")
            if not criterion.weight > 0:
                raise InvalidInput(f"criterion {criterion.name}: the weight must be positive")
            if criterion.lowest >= criterion.highest:
                raise InvalidInput(
                    f"criterion {criterion.name}: the lowest score must be below the highest"
                )

    @classmethod
    def of(cls, criteria: Sequence[Mapping[str, object]]) -> "Rubric":
        """Build from plain mappings (``name``, ``weight``, optional ``lowest``/``highest``)."""
        built = []
        for raw in criteria:
            try:
                built.append(
                    Criterion(
                        name=str(raw["name"]),
                        weight=float(raw["weight"]),  # type: ignore[arg-type]
                        lowest=int(raw.get("lowest", 1)),  # type: ignore[call-overload]
                        highest=int(raw.get("highest", 5)),  # type: ignore[call-overload]
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise InvalidInput(
                    "each rubric criterion needs a name and a numeric weight"
                    " (and optionally whole-number lowest and highest scores)"
                ) from None
        return cls(tuple(built))

    def check(self, scores: Mapping[str, int]) -> dict[str, int]:
        """The scores if they cover every criterion within its scale; else say what is wrong."""
        known = {criterion.name for criterion in self.criteria}
        unknown = sorted(set(scores) - known)
        if unknown:
            raise InvalidInput(
                f"the rubric has no criterion {', '.join(unknown)}; it has {', '.join(sorted(known))}"
            )
        missing = [c.name for c in self.criteria if c.name not in scores]
        if missing:
            raise InvalidInput(f"score every criterion; missing: {', '.join(missing)}")
        checked = {}
        for criterion in self.criteria:
            value = scores[criterion.name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"the score for {criterion.name} must be a whole number")
            if not criterion.lowest <= value <= criterion.highest:
                raise InvalidInput(
                    f"the score for {criterion.name} must be between {criterion.lowest} and"
                    f" {criterion.highest}; got {value}"
                )
            checked[criterion.name] = value
        return checked

    def total(self, scores: Mapping[str, int]) -> float:
        """The weighted mean of the checked scores, each rescaled to 0..1 by its criterion."""
        checked = self.check(scores)
        weights = sum(c.weight for c in self.criteria)
        return (
            sum(
                c.weight * (checked[c.name] - c.lowest) / (c.highest - c.lowest)
                for c in self.criteria
            )
            / weights
        )
