"""The compute estimator: R&D targets in, device-hours and H100e GPU-hours out.

Why: a commons is asked for compute in the language of research ("five teams each train a 70B
model on 2T tokens next year"), and must answer in device-hours per accelerator, check what
proposals ask for, and add planned programmes to a demand forecast. The arithmetic is simple
and well known; what matters is that every assumption is written down.

The model
---------
- **Training FLOPs** of a dense transformer: ``6 x parameters x tokens`` (forward 2, backward 4
  multiply-adds per parameter per token; Kaplan et al., "Scaling Laws for Neural Language
  Models", 2020, and Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022).
  Attention's extra FLOPs (a few percent at common context lengths) are left out, as is
  activation recomputation (which costs hardware FLOPs but not *model* FLOPs: MFU already
  counts it as overhead).
- **Inference FLOPs**: ``2 x parameters`` per token processed (prompt and generated alike; the
  forward pass only).
- **Device-hours** = FLOPs / (peak dense throughput at the chosen precision x utilisation x
  3,600 s). Peaks come from :mod:`nuri.planning.accelerator_figures`, each with its source.
  Utilisation defaults to :data:`~nuri.planning.accelerator_figures.DEFAULT_TRAINING_MFU` (0.40)
  for training and :data:`~nuri.planning.accelerator_figures.DEFAULT_INFERENCE_UTILISATION`
  (0.10) for inference.
- **H100e GPU-hours**: the H100 SXM hours the same FLOPs take at the same precision and
  utilisation, i.e. device-hours x (peak of the device / peak of an H100). This is an exchange
  rate on a *peak* basis; the commons' catalogue rates (a pool's ``h100_equivalent``) may be set
  from measurements instead.
- **Spread**: over a period (e.g. a year), device-hours / hours in the period is the number of
  devices the scenario keeps busy on average: device-hours per hour, the unit of an hourly pool
  forecast, so :func:`add_to_forecast` can add it to a trend forecast.

Checking a request: :func:`check_request` compares the H100e GPU-hours a proposal asks for with
the estimate. The ratio requested / estimated is *within* in ``[1/1.5, 1.5]``: the estimate's
own uncertainty (MFU of 30-50% against the 40% assumed is -25% to +33%) plus an allowance for
restarts after failures and small ablations. Above 1.5 the proposal *over-asks*; below 1/1.5
it *under-asks* (the team may run out before it finishes).
"""

import math
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from nuri.domain.errors import InvalidInput
from nuri.forecasting.forecast import Forecast, ForecastPoint
from nuri.planning.accelerator_figures import (
    DEFAULT_INFERENCE_UTILISATION,
    DEFAULT_TRAINING_MFU,
    Basis,
    Precision,
    figures_for,
)

TRAINING_FLOPS_PER_PARAMETER_TOKEN: Final = 6.0
INFERENCE_FLOPS_PER_PARAMETER_TOKEN: Final = 2.0
WITHIN_BAND: Final = (1 / 1.5, 1.5)
"""``check_request``'s ratio requested/estimated counts as *within* in this closed band."""

_SUFFIXES: Final = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtTpP]?)\s*$")


class WorkloadKind(StrEnum):
    TRAINING = "training"
    INFERENCE = "inference"


class Verdict(StrEnum):
    WITHIN = "within"
    OVER_ASKS = "over-asks"
    UNDER_ASKS = "under-asks"


def parse_quantity(text: str, what: str = "count") -> float:
    """A positive count written ``70B``, ``7.5B``, ``2T``, ``500G``, ``350M``, ``13k`` or ``2e12``.

    Suffixes (any case): k = 10^3, M = 10^6, B or G = 10^9, T = 10^12, P = 10^15.
    Raises InvalidInput naming ``what`` and showing forms that work.
    """
    match = _QUANTITY.match(text)
    if match is None:
        raise InvalidInput(
            f"{what} {text!r} is not understood; write e.g. 70B, 7.5B, 2T, 500G or 2e12"
            " (suffixes k, M, B or G, T, P)"
        )
    number, suffix = match.groups()
    value = float(number) * (_SUFFIXES[suffix.lower()] if suffix else 1.0)
    if not (value > 0 and math.isfinite(value)):
        raise InvalidInput(f"{what} must be a positive number, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class ComputeTarget:
    """One R&D target: ``teams`` each train (or serve) a model of ``parameters`` on ``tokens``.

    For inference, ``tokens`` are all tokens processed (prompt and generated).
    """

    kind: WorkloadKind
    parameters: float
    tokens: float
    teams: int = 1

    def __post_init__(self) -> None:
        if not (self.parameters > 0 and math.isfinite(self.parameters)):
            raise InvalidInput(f"parameters must be positive, got {self.parameters}")
        if not (self.tokens > 0 and math.isfinite(self.tokens)):
            raise InvalidInput(f"tokens must be positive, got {self.tokens}")
        if self.teams < 1:
            raise InvalidInput(f"teams must be at least 1, got {self.teams}")

    @property
    def flops(self) -> float:
        """Model FLOPs of all teams together."""
        per_token = (
            TRAINING_FLOPS_PER_PARAMETER_TOKEN
            if self.kind is WorkloadKind.TRAINING
            else INFERENCE_FLOPS_PER_PARAMETER_TOKEN
        )
        return per_token * self.parameters * self.tokens * self.teams


@dataclass(frozen=True, slots=True)
class ComputeEstimate:
    """Device-hours on one accelerator for one target, with the figures used.

    ``device_hours`` and ``h100e_gpu_hours`` cover all teams. With a period, ``devices_busy``
    is device-hours per hour (devices kept busy on average) and ``h100e_per_hour`` the same in
    H100e; both are None without one.
    """

    target: ComputeTarget
    accelerator: str
    precision: Precision
    peak_tflops: float
    peak_source: str
    peak_basis: Basis | None
    """None when the caller gave the peak."""
    utilisation: float
    device_hours: float
    h100e_gpu_hours: float
    period_s: float | None = None
    devices_busy: float | None = None
    h100e_per_hour: float | None = None
    caveats: tuple[str, ...] = ()

    @property
    def flops(self) -> float:
        return self.target.flops


def estimate_compute(
    target: ComputeTarget,
    accelerator: str = "H100",
    *,
    utilisation: float | None = None,
    precision: Precision | None = None,
    peak_tflops: float | None = None,
    period_s: float | None = None,
) -> ComputeEstimate:
    """Device-hours and H100e GPU-hours for ``target`` on ``accelerator`` (see module docstring).

    ``utilisation`` (0 < u <= 1) defaults by kind (0.40 training MFU, 0.10 inference);
    ``precision`` defaults to 16-bit float for training and to the device's best of FP8, 16-bit
    float, INT8 for inference; ``peak_tflops`` replaces the published peak (needed where none
    is published, e.g. Sapeon X330). ``period_s`` (> 0) spreads the work evenly over a period.

    Raises InvalidInput for an unknown accelerator, a precision without a published peak (and no
    ``peak_tflops``), or an out-of-range number.
    """
    figures = figures_for(accelerator)
    if utilisation is None:
        utilisation = (
            DEFAULT_TRAINING_MFU
            if target.kind is WorkloadKind.TRAINING
            else DEFAULT_INFERENCE_UTILISATION
        )
    if not 0 < utilisation <= 1:
        raise InvalidInput(f"utilisation (MFU) must be in (0, 1], got {utilisation}")
    if period_s is not None and not (period_s > 0 and math.isfinite(period_s)):
        raise InvalidInput(f"the period must be positive, got {period_s} s")
    if precision is None:
        training = target.kind is WorkloadKind.TRAINING
        if training or (peak_tflops is not None and not figures.peak_tflops):
            precision = Precision.BF16
        else:
            precision = figures.best_inference_precision()
    caveats: list[str] = []
    if peak_tflops is not None:
        if not (peak_tflops > 0 and math.isfinite(peak_tflops)):
            raise InvalidInput(f"--peak-tflops must be positive, got {peak_tflops}")
        peak, source, basis = peak_tflops, "given by the caller", None
    else:
        sourced = figures.peak(precision)
        peak, source, basis = sourced.value, sourced.source, sourced.basis
        if basis is not Basis.DATASHEET:
            caveats.append(f"the {figures.model} {precision.value} peak is a {basis.value}")
    if target.kind is WorkloadKind.TRAINING and not figures.training:
        caveats.append(
            f"{figures.model} is positioned by its vendor for inference, not training; the"
            " assumed MFU is unproven on it"
        )
    device_hours = target.flops / (peak * 1e12 * utilisation * 3600.0)
    h100 = figures_for("H100")
    reference = h100.peak_tflops.get(precision)
    if reference is None:  # H100 lacks the precision: compare at its 16-bit peak
        reference = h100.peak(Precision.BF16)
        caveats.append(f"H100e uses the H100's bf16 peak (no {precision.value} figure)")
    h100e_gpu_hours = device_hours * peak / reference.value
    busy = per_hour = None
    if period_s is not None:
        hours = period_s / 3600.0
        busy, per_hour = device_hours / hours, h100e_gpu_hours / hours
    return ComputeEstimate(
        target=target,
        accelerator=figures.model,
        precision=precision,
        peak_tflops=peak,
        peak_source=source,
        peak_basis=basis,
        utilisation=utilisation,
        device_hours=device_hours,
        h100e_gpu_hours=h100e_gpu_hours,
        period_s=period_s,
        devices_busy=busy,
        h100e_per_hour=per_hour,
        caveats=tuple(caveats),
    )


@dataclass(frozen=True, slots=True)
class RequestCheck:
    """A proposal's request against the estimator: ratio requested / estimated and a verdict."""

    requested_h100e_gpu_hours: float
    estimated_h100e_gpu_hours: float
    ratio: float
    verdict: Verdict
    band: tuple[float, float] = WITHIN_BAND


def check_request(requested_h100e_gpu_hours: float, estimate: ComputeEstimate) -> RequestCheck:
    """Compare a requested number of H100e GPU-hours with ``estimate``.

    *within* if ``1/1.5 <= requested / estimated <= 1.5``, *over-asks* above, *under-asks*
    below (the band and its reasons are in the module docstring). Raises InvalidInput for a
    negative or non-finite request.
    """
    if not (requested_h100e_gpu_hours >= 0 and math.isfinite(requested_h100e_gpu_hours)):
        raise InvalidInput(
            f"requested H100e GPU-hours must be zero or more, got {requested_h100e_gpu_hours}"
        )
    estimated = estimate.h100e_gpu_hours
    ratio = requested_h100e_gpu_hours / estimated
    low, high = WITHIN_BAND
    if ratio > high:
        verdict = Verdict.OVER_ASKS
    elif ratio < low:
        verdict = Verdict.UNDER_ASKS
    else:
        verdict = Verdict.WITHIN
    return RequestCheck(requested_h100e_gpu_hours, estimated, ratio, verdict)


def add_to_forecast(forecast: Forecast, devices_busy: float) -> Forecast:
    """``forecast`` with a planned scenario's steady load added to every step.

    ``devices_busy`` is device-hours per hour (:attr:`ComputeEstimate.devices_busy`) on the
    forecast's pool; each step gains ``devices_busy x step_s / 3600`` device-hours, in its mean
    and both bounds (a planned programme shifts demand; its own uncertainty is not modelled).
    """
    if not (devices_busy >= 0 and math.isfinite(devices_busy)):
        raise InvalidInput(f"devices busy must be zero or more, got {devices_busy}")
    extra = devices_busy * forecast.step_s / 3600.0
    points = tuple(
        ForecastPoint(p.timestamp, p.mean + extra, p.lo80 + extra, p.hi80 + extra)
        for p in forecast.points
    )
    return replace(forecast, points=points)
