"""A forecast of a demand series: the value type that forecasting produces and planning reads.

Forecasts are estimates, so they are floats; nothing here is ever posted to the ledger.
A point's ``mean``, ``lo80`` and ``hi80`` are in the series' own unit per step (for an hourly
pool series, device-hours per hour, i.e. devices demanded on average in that hour).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nuri.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    timestamp: datetime
    """Start of the step (aware, UTC)."""
    mean: float
    lo80: float
    hi80: float


@dataclass(frozen=True, slots=True)
class ModelScore:
    """How a model did in the rolling-origin backtest."""

    mase: float
    """Mean absolute error scaled by the in-sample seasonal-naive error (lower is better)."""
    coverage80: float
    """Share of backtest points inside the model's 80% interval (0.8 is calibrated)."""


@dataclass(frozen=True, slots=True)
class Forecast:
    series: str
    unit: str
    step_s: int
    model: str
    """The forecast chosen by backtest, whose points these are: a single model's name, or
    ``Median`` for the per-step median of the single models (a key of ``backtest``)."""
    backtest: Mapping[str, ModelScore]
    """Each candidate that ran, the ``Median`` combination included, by name."""
    points: tuple[ForecastPoint, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "unit": self.unit,
            "step_s": self.step_s,
            "model": self.model,
            "backtest": {
                name: {"mase": score.mase, "coverage": score.coverage80}
                for name, score in self.backtest.items()
            },
            "forecast": [
                {
                    "timestamp": point.timestamp.isoformat(),
                    "mean": point.mean,
                    "lo80": point.lo80,
                    "hi80": point.hi80,
                }
                for point in self.points
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> "Forecast":
        """Read what ``to_json`` wrote (e.g. ``nuri forecast --json``), or say what is wrong."""
        try:
            points = tuple(
                ForecastPoint(
                    timestamp=_utc(datetime.fromisoformat(str(item["timestamp"]))),
                    mean=float(item["mean"]),
                    lo80=float(item["lo80"]),
                    hi80=float(item["hi80"]),
                )
                for item in data["forecast"]
            )
            backtest = {
                str(name): ModelScore(
                    mase=float(score["mase"]), coverage80=float(score["coverage"])
                )
                for name, score in data.get("backtest", {}).items()
            }
            forecast = cls(
                series=str(data.get("series", "")),
                unit=str(data.get("unit", "")),
                step_s=int(data["step_s"]),
                model=str(data["model"]),
                backtest=backtest,
                points=points,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidInput(
                "not a forecast: expected the JSON object `nuri forecast --json` prints"
                f" (keys series, unit, step_s, model, backtest, forecast); problem: {error!r}"
            ) from None
        if not points:
            raise InvalidInput("the forecast has no points; forecast at least one step ahead")
        if forecast.step_s <= 0:
            raise InvalidInput(f"the forecast's step_s must be positive, got {forecast.step_s}")
        return forecast


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
