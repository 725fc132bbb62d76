"""The compute estimator: 6ND training and 2N inference FLOPs, peaks with sources, H100e,
spreading over a period, request checks and the figures table itself."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from nuri.domain.commons import ACCELERATORS
from nuri.domain.errors import InvalidInput
from nuri.forecasting.forecast import Forecast, ForecastPoint
from nuri.planning.accelerator_figures import (
    FIGURES,
    Basis,
    Precision,
    figures_for,
    parse_precision,
)
from nuri.planning.compute_estimate import (
    ComputeTarget,
    Verdict,
    WorkloadKind,
    add_to_forecast,
    check_request,
    estimate_compute,
    parse_quantity,
)

LLAMA_70B = ComputeTarget(WorkloadKind.TRAINING, parameters=70e9, tokens=2e12)
H100_HOURS_70B_2T = 6 * 70e9 * 2e12 / (989e12 * 0.40 * 3600)  # 589,821 H100 hours


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("70B", 70e9),
        ("7.5B", 7.5e9),
        ("2T", 2e12),
        ("500G", 500e9),
        ("350m", 350e6),
        ("13k", 13e3),
        ("2e12", 2e12),
        ("1.5P", 1.5e15),
        (" 8b ", 8e9),
    ],
)
def test_quantities_take_the_usual_suffixes(text: str, value: float) -> None:
    """70B, 7.5B, 2T, 500G and friends are read as the numbers they name."""
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["70X", "", "B", "-5B", "0", "1,000", "seven"])
def test_bad_quantities_say_what_to_write(text: str) -> None:
    """Anything else is refused with examples of what works."""
    with pytest.raises(InvalidInput, match=r"70B|positive"):
        parse_quantity(text, "--params")


def test_training_is_six_n_d_at_the_h100_bf16_peak_and_forty_percent_mfu() -> None:
    """70B on 2T tokens: 8.4e23 FLOPs, 589,821 H100 hours at 989 TFLOPS and 40% MFU."""
    estimate = estimate_compute(LLAMA_70B, "H100")
    assert estimate.flops == pytest.approx(8.4e23)
    assert estimate.precision is Precision.BF16
    assert estimate.peak_tflops == 989.0
    assert estimate.peak_basis is Basis.DATASHEET
    assert estimate.utilisation == 0.40
    assert estimate.device_hours == pytest.approx(H100_HOURS_70B_2T)
    assert estimate.h100e_gpu_hours == pytest.approx(H100_HOURS_70B_2T)
    assert estimate.caveats == ()


def test_teams_multiply_and_a_period_spreads_the_work() -> None:
    """Five teams over a year keep 5 x 589,821 / 8,760 = 337 H100s busy on average."""
    five = ComputeTarget(WorkloadKind.TRAINING, 70e9, 2e12, teams=5)
    estimate = estimate_compute(five, "H100", period_s=365 * 86400)
    assert estimate.device_hours == pytest.approx(5 * H100_HOURS_70B_2T)
    assert estimate.devices_busy == pytest.approx(5 * H100_HOURS_70B_2T / 8760)
    assert estimate.h100e_per_hour == pytest.approx(estimate.devices_busy)


def test_faster_devices_need_fewer_hours_but_the_same_h100e() -> None:
    """H100e is on a peak basis: a B200 needs 989/2250 of the hours, the same H100e."""
    b200 = estimate_compute(LLAMA_70B, "B200")
    assert b200.device_hours == pytest.approx(H100_HOURS_70B_2T * 989 / 2250)
    assert b200.h100e_gpu_hours == pytest.approx(H100_HOURS_70B_2T)
    assert any("public report" in caveat for caveat in b200.caveats)  # not a datasheet figure


def test_training_on_an_inference_npu_carries_a_caveat() -> None:
    """RNGD can be estimated for training, but the estimate says its vendor targets inference."""
    rngd = estimate_compute(LLAMA_70B, "rngd")
    assert rngd.accelerator == "RNGD"
    assert rngd.device_hours == pytest.approx(H100_HOURS_70B_2T * 989 / 256)
    assert any("inference" in caveat for caveat in rngd.caveats)


def test_inference_is_two_n_per_token_at_fp8_where_the_device_has_it() -> None:
    """Serving 8B on 500G tokens: 8e21 FLOPs, at FP8 and 10% utilisation by default."""
    serving = ComputeTarget(WorkloadKind.INFERENCE, 8e9, 500e9)
    h100 = estimate_compute(serving, "H100")
    assert h100.flops == pytest.approx(8e21)
    assert h100.precision is Precision.FP8
    assert h100.utilisation == 0.10
    assert h100.device_hours == pytest.approx(8e21 / (1979e12 * 0.10 * 3600))
    atom = estimate_compute(serving, "ATOM")  # no FP8: its 16-bit peak
    assert atom.precision is Precision.BF16
    assert atom.peak_tflops == 32.0


def test_explicit_mfu_precision_and_peak_are_used() -> None:
    """Caller figures replace the defaults; a device without published peaks needs one."""
    assert estimate_compute(LLAMA_70B, "H100", utilisation=0.5).device_hours == pytest.approx(
        H100_HOURS_70B_2T * 0.4 / 0.5
    )
    fp8 = estimate_compute(LLAMA_70B, "H100", precision=Precision.FP8)
    assert fp8.device_hours == pytest.approx(H100_HOURS_70B_2T / 2, rel=1e-3)
    with pytest.raises(InvalidInput, match="peak-tflops"):
        estimate_compute(LLAMA_70B, "SAPEON-X330")
    given = estimate_compute(LLAMA_70B, "SAPEON-X330", peak_tflops=200.0)
    assert given.peak_basis is None and given.device_hours == pytest.approx(
        8.4e23 / (200e12 * 0.4 * 3600)
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: estimate_compute(LLAMA_70B, "H100", utilisation=0.0),
        lambda: estimate_compute(LLAMA_70B, "H100", utilisation=1.5),
        lambda: estimate_compute(LLAMA_70B, "H100", period_s=0.0),
        lambda: estimate_compute(LLAMA_70B, "TPU"),
        lambda: estimate_compute(LLAMA_70B, "A100", precision=Precision.FP8),
        lambda: ComputeTarget(WorkloadKind.TRAINING, 70e9, 2e12, teams=0),
        lambda: ComputeTarget(WorkloadKind.TRAINING, -1.0, 2e12),
    ],
    ids=["mfu 0", "mfu > 1", "period 0", "unknown accelerator", "no fp8 on A100", "0 teams", "neg"],
)
def test_out_of_range_inputs_are_refused(call) -> None:
    """Every bad number or name is an InvalidInput, not a silent wrong answer."""
    with pytest.raises(InvalidInput):
        call()


@pytest.mark.parametrize(
    ("requested", "verdict"),
    [
        (H100_HOURS_70B_2T, Verdict.WITHIN),
        (1.5 * H100_HOURS_70B_2T, Verdict.WITHIN),
        (H100_HOURS_70B_2T / 1.5, Verdict.WITHIN),
        (1.51 * H100_HOURS_70B_2T, Verdict.OVER_ASKS),
        (0.66 * H100_HOURS_70B_2T, Verdict.UNDER_ASKS),
        (0.0, Verdict.UNDER_ASKS),
    ],
    ids=["equal", "1.5x edge", "1/1.5 edge", "1.51x", "0.66x", "nothing"],
)
def test_requests_are_checked_against_a_documented_band(requested: float, verdict) -> None:
    """requested/estimated in [1/1.5, 1.5] is within; above over-asks; below under-asks."""
    check = check_request(requested, estimate_compute(LLAMA_70B, "H100"))
    assert check.verdict is verdict
    assert check.ratio == pytest.approx(requested / H100_HOURS_70B_2T)
    with pytest.raises(InvalidInput):
        check_request(-1.0, estimate_compute(LLAMA_70B, "H100"))


def test_a_scenario_adds_a_steady_load_to_a_forecast() -> None:
    """devices busy x step hours is added to each step's mean and bounds."""
    start = datetime(2027, 1, 1, tzinfo=UTC)
    forecast = Forecast(
        "h100",
        "device-hours",
        1800,
        "m",
        {},
        tuple(ForecastPoint(start + timedelta(minutes=30 * k), 10.0, 8.0, 12.0) for k in range(4)),
    )
    shifted = add_to_forecast(forecast, 20.0)
    assert [(p.mean, p.lo80, p.hi80) for p in shifted.points] == [(20.0, 18.0, 22.0)] * 4
    assert shifted.step_s == 1800 and forecast.points[0].mean == 10.0


def test_every_accelerator_has_sourced_figures() -> None:
    """Each accelerator model nuri knows has figures; every figure names a source, and prices
    are marked as assumptions (vendors publish none)."""
    assert set(ACCELERATORS) <= set(FIGURES)
    for figures in FIGURES.values():
        assert figures.power_w.source and figures.power_w.value > 0
        assert figures.device_price_krw.basis is Basis.ASSUMPTION
        for peak in figures.peak_tflops.values():
            assert peak.source and peak.value > 0
    assert figures_for("H100").peak(Precision.BF16).value == 989.0
    assert figures_for("RNGD").peak(Precision.FP8).value == 512.0
    assert figures_for("A100").peak(Precision.BF16).value == 312.0
    for npu in ("RNGD", "ATOM", "REBEL", "SAPEON-X330", "WARBOY"):
        assert FIGURES[npu].domestic and not FIGURES[npu].training


def test_precision_names() -> None:
    """fp16 is the 16-bit class; unknown names list the known ones."""
    assert parse_precision("FP16") is Precision.BF16
    assert parse_precision("fp8") is Precision.FP8
    with pytest.raises(InvalidInput, match="bf16"):
        parse_precision("fp4")
    assert math.isclose(figures_for("h200").peak(Precision.FP8).value, 1979.0)
