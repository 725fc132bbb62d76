"""Published figures per accelerator: peak dense throughput, power, and an assumed price.

Planning turns R&D targets into device-hours and capacity into won, so it needs, for every
accelerator a pool can hold, how fast it computes, how much power it draws and what it costs.
These figures are not nuri's to invent. Each carries its *basis*::

    Basis.DATASHEET   the vendor's own datasheet or specification page
    Basis.REPORTED    a public report (conference paper, vendor blog, press); confirm it against
                      a datasheet before quoting it in a decision
    Basis.ASSUMPTION  an order-of-magnitude placeholder: replace it with a procurement quote or
                      a measurement (prices are always assumptions: vendors publish none)

Peak throughput is the *dense* figure (no structured sparsity) in TFLOPS (TOPS for INT8) at a
stated :class:`Precision`. Vendors often print the sparse figure, twice the dense one; the
sources below say which was halved. ``Precision.BF16`` stands for the 16-bit floating-point
format the device offers (BF16 on NVIDIA Hopper and Blackwell and on RNGD, FP16 on ATOM and
REBEL); the source says which.

Power is the device's maximum board power (TDP) in watts, not the server's; :mod:`nuri.planning.costs`
adds the server's share. Prices are the capital per device *including its share of the server,
network and storage* (an 8-GPU H100 server of about US$300,000-400,000 is US$37,500-50,000 per
GPU; at about 1,400 KRW/US$ that is 52-70 million won), in whole won. Override any of them per
pool or per accelerator (see :mod:`nuri.planning.costs`).

Which workloads a device is for matters too: the Korean NPUs (FuriosaAI RNGD and WARBOY,
Rebellions ATOM and REBEL, Sapeon X330) are positioned by their vendors for inference, so
:attr:`AcceleratorFigures.training` is False for them and training comparisons show them as
not offered rather than inventing a training efficiency.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from nuri.domain.commons import accelerator_named
from nuri.domain.errors import InvalidInput


class Basis(StrEnum):
    """How far a figure can be trusted."""

    DATASHEET = "vendor datasheet"
    REPORTED = "public report; confirm against a datasheet"
    ASSUMPTION = "assumption to be confirmed"


class Precision(StrEnum):
    """The number format a peak throughput is quoted at."""

    FP32 = "fp32"
    BF16 = "bf16"
    """16-bit floating point: BF16 where the device has it, else FP16 (the source says which)."""
    FP8 = "fp8"
    INT8 = "int8"


def parse_precision(text: str) -> Precision:
    """``"bf16"``, ``"fp16"`` (same class), ``"fp8"``, ``"int8"`` or ``"fp32"``, any case."""
    wanted = text.strip().lower()
    if wanted == "fp16":
        return Precision.BF16
    try:
        return Precision(wanted)
    except ValueError:
        known = ", ".join([*(p.value for p in Precision), "fp16"])
        raise InvalidInput(f"unknown precision {text!r}; use one of {known}") from None


@dataclass(frozen=True, slots=True)
class Sourced:
    """A number with where it comes from and how far to trust it."""

    value: float
    source: str
    basis: Basis


@dataclass(frozen=True, slots=True)
class MeasuredRatio:
    """A measured throughput relative to an H100 SXM on the same task (1.0 = as fast)."""

    ratio: float
    task: str
    source: str
    basis: Basis


@dataclass(frozen=True, slots=True)
class AcceleratorFigures:
    """What planning knows about one accelerator model.

    ``peak_tflops`` maps a precision to the dense peak (TFLOPS, or TOPS for INT8); a precision
    the device lacks, or for which no figure is published, is absent. ``power_w`` is the device's
    board power in watts; ``device_price_krw`` the capital per device, server share included.
    ``training`` says whether the vendor offers the device for training. ``inference_vs_h100``
    is a measured inference throughput relative to an H100 SXM, where one is published.
    """

    model: str
    vendor: str
    domestic: bool
    """A Korean NPU (the commons' domestic-accelerator programme reports on these)."""
    peak_tflops: Mapping[Precision, Sourced]
    power_w: Sourced
    device_price_krw: Sourced
    training: bool
    inference_vs_h100: MeasuredRatio | None = None
    memory_bandwidth_tb_s: Sourced | None = None
    notes: str = ""

    def peak(self, precision: Precision) -> Sourced:
        """The dense peak at ``precision``, or InvalidInput naming the precisions known."""
        found = self.peak_tflops.get(precision)
        if found is None:
            known = ", ".join(p.value for p in self.peak_tflops) or "none"
            raise InvalidInput(
                f"no published {precision.value} peak for {self.model} (known: {known});"
                " choose another precision or give the peak yourself (--peak-tflops)"
            )
        return found

    def best_inference_precision(self) -> Precision:
        """FP8 where the device has it, else 16-bit float, else INT8, else FP32."""
        for precision in (Precision.FP8, Precision.BF16, Precision.INT8, Precision.FP32):
            if precision in self.peak_tflops:
                return precision
        raise InvalidInput(
            f"no published peak throughput for {self.model}; give it yourself (--peak-tflops)"
        )


_NVIDIA_PRICE = (
    "assumed street price per device incl. server share at ~1,400 KRW/US$; replace with a quote"
)


def _d(value: float, source: str) -> Sourced:
    return Sourced(value, source, Basis.DATASHEET)


def _r(value: float, source: str) -> Sourced:
    return Sourced(value, source, Basis.REPORTED)


def _a(value: float, source: str) -> Sourced:
    return Sourced(value, source, Basis.ASSUMPTION)


_H100_SHEET = "NVIDIA H100 Tensor Core GPU datasheet, SXM5 (sparse figures halved)"
_H200_SHEET = "NVIDIA H200 Tensor Core GPU datasheet, SXM (sparse figures halved)"
_A100_SHEET = "NVIDIA A100 Tensor Core GPU datasheet, SXM 80GB (sparse figures halved)"
_L40S_SHEET = "NVIDIA L40S datasheet (sparse figures halved)"
_RNGD_SHEET = "FuriosaAI RNGD hardware specification (developer documentation)"
_FURIOSA_LLAMA = (
    "FuriosaAI's published Llama 3.1 8B serving benchmark (1 card, FP8, 128 input / 4,096 output"
    " tokens): RNGD 3,935 tok/s (Furiosa SDK), H100 SXM 13,222 tok/s and L40S 2,989 tok/s"
    " (TensorRT-LLM 0.15.0): a vendor's own measurement"
)

FIGURES: Final[Mapping[str, AcceleratorFigures]] = {
    figures.model: figures
    for figures in (
        AcceleratorFigures(
            model="H100",
            vendor="nvidia",
            domestic=False,
            peak_tflops={
                Precision.FP32: _d(67.0, "NVIDIA H100 datasheet, SXM5 FP32 (non-tensor)"),
                Precision.BF16: _d(989.0, _H100_SHEET),
                Precision.FP8: _d(1979.0, _H100_SHEET),
                Precision.INT8: _d(1979.0, _H100_SHEET),
            },
            power_w=_d(700, "NVIDIA H100 datasheet: SXM5 max TDP up to 700 W"),
            device_price_krw=_a(52_000_000, _NVIDIA_PRICE),
            training=True,
            memory_bandwidth_tb_s=_d(3.35, _H100_SHEET),
        ),
        AcceleratorFigures(
            model="H200",
            vendor="nvidia",
            domestic=False,
            peak_tflops={
                Precision.BF16: _d(989.0, _H200_SHEET),
                Precision.FP8: _d(1979.0, _H200_SHEET),
                Precision.INT8: _d(1979.0, _H200_SHEET),
            },
            power_w=_d(700, "NVIDIA H200 datasheet: SXM max TDP up to 700 W"),
            device_price_krw=_a(60_000_000, _NVIDIA_PRICE),
            training=True,
            memory_bandwidth_tb_s=_d(4.8, _H200_SHEET),
            notes="same compute as H100 with more and faster memory: peak ratios under-rate it"
            " for memory-bound inference",
        ),
        AcceleratorFigures(
            model="B200",
            vendor="nvidia",
            domestic=False,
            peak_tflops={
                Precision.BF16: _r(
                    2250.0, "NVIDIA HGX/DGX B200 figures per GPU, sparse halved (~2.25 PFLOPS)"
                ),
                Precision.FP8: _r(
                    4500.0, "NVIDIA DGX B200: 72 PFLOPS FP8 for 8 GPUs, sparse, halved"
                ),
            },
            power_w=_r(1000, "NVIDIA HGX B200: about 1,000 W per GPU"),
            device_price_krw=_a(75_000_000, _NVIDIA_PRICE),
            training=True,
            memory_bandwidth_tb_s=_r(8.0, "NVIDIA DGX B200 specification, per GPU"),
        ),
        AcceleratorFigures(
            model="A100",
            vendor="nvidia",
            domestic=False,
            peak_tflops={
                Precision.FP32: _d(19.5, _A100_SHEET),
                Precision.BF16: _d(312.0, _A100_SHEET),
                Precision.INT8: _d(624.0, _A100_SHEET),
            },
            power_w=_d(400, "NVIDIA A100 datasheet: SXM max TDP 400 W"),
            device_price_krw=_a(25_000_000, _NVIDIA_PRICE),
            training=True,
            memory_bandwidth_tb_s=_d(2.039, _A100_SHEET),
        ),
        AcceleratorFigures(
            model="L40S",
            vendor="nvidia",
            domestic=False,
            peak_tflops={
                Precision.BF16: _d(362.0, _L40S_SHEET),
                Precision.FP8: _d(733.0, _L40S_SHEET),
                Precision.INT8: _d(733.0, _L40S_SHEET),
            },
            power_w=_d(350, "NVIDIA L40S datasheet: max power 350 W"),
            device_price_krw=_a(15_000_000, _NVIDIA_PRICE),
            training=True,
            inference_vs_h100=MeasuredRatio(
                round(2989.17 / 13222.06, 3), "Llama 3.1 8B serving", _FURIOSA_LLAMA, Basis.REPORTED
            ),
            memory_bandwidth_tb_s=_d(0.864, _L40S_SHEET),
        ),
        AcceleratorFigures(
            model="A10",
            vendor="nvidia",
            domestic=False,
            peak_tflops={Precision.BF16: _d(125.0, "NVIDIA A10 datasheet (sparse halved)")},
            power_w=_d(150, "NVIDIA A10 datasheet: max power 150 W"),
            device_price_krw=_a(6_000_000, _NVIDIA_PRICE),
            training=True,
        ),
        AcceleratorFigures(
            model="V100",
            vendor="nvidia",
            domestic=False,
            peak_tflops={Precision.BF16: _d(125.0, "NVIDIA V100 datasheet, SXM2 tensor FP16")},
            power_w=_d(300, "NVIDIA V100 datasheet: SXM2 300 W"),
            device_price_krw=_a(8_000_000, _NVIDIA_PRICE),
            training=True,
        ),
        AcceleratorFigures(
            model="T4",
            vendor="nvidia",
            domestic=False,
            peak_tflops={
                Precision.BF16: _d(65.0, "NVIDIA T4 datasheet: FP16 tensor (mixed precision)"),
                Precision.INT8: _d(130.0, "NVIDIA T4 datasheet"),
            },
            power_w=_d(70, "NVIDIA T4 datasheet: 70 W"),
            device_price_krw=_a(3_000_000, _NVIDIA_PRICE),
            training=False,
        ),
        AcceleratorFigures(
            model="P100",
            vendor="nvidia",
            domestic=False,
            peak_tflops={Precision.BF16: _d(21.2, "NVIDIA Tesla P100 datasheet, SXM2 FP16")},
            power_w=_d(300, "NVIDIA Tesla P100 datasheet: SXM2 300 W"),
            device_price_krw=_a(2_000_000, "assumed residual value of a retired device"),
            training=True,
        ),
        AcceleratorFigures(
            model="K80",
            vendor="nvidia",
            domestic=False,
            peak_tflops={Precision.FP32: _d(8.73, "NVIDIA Tesla K80 datasheet, FP32 with boost")},
            power_w=_d(300, "NVIDIA Tesla K80 datasheet: 300 W per board"),
            device_price_krw=_a(500_000, "assumed residual value of a retired device"),
            training=True,
            notes="one K80 board holds two GK210 GPUs; the figures are per board",
        ),
        AcceleratorFigures(
            model="RNGD",
            vendor="furiosa",
            domestic=True,
            peak_tflops={
                Precision.BF16: _d(256.0, _RNGD_SHEET),
                Precision.FP8: _d(512.0, _RNGD_SHEET),
                Precision.INT8: _d(512.0, _RNGD_SHEET),
            },
            power_w=_r(
                180, "FuriosaAI RNGD product page: 180 W TDP (the 2024 preview targeted 150 W)"
            ),
            device_price_krw=_a(15_000_000, "assumed; no public list price"),
            training=False,
            inference_vs_h100=MeasuredRatio(
                round(3935.25 / 13222.06, 3), "Llama 3.1 8B serving", _FURIOSA_LLAMA, Basis.REPORTED
            ),
            memory_bandwidth_tb_s=_d(1.5, _RNGD_SHEET),
            notes="positioned by FuriosaAI for LLM, multimodal and vision inference",
        ),
        AcceleratorFigures(
            model="WARBOY",
            vendor="furiosa",
            domestic=True,
            peak_tflops={Precision.INT8: _r(64.0, "FuriosaAI WARBOY product information")},
            power_w=_a(60, "assumed upper end of the reported 40-60 W card power"),
            device_price_krw=_a(3_000_000, "assumed; no public list price"),
            training=False,
            notes="first-generation vision inference NPU",
        ),
        AcceleratorFigures(
            model="ATOM",
            vendor="rebellions",
            domestic=True,
            peak_tflops={
                Precision.BF16: _r(32.0, "Rebellions ATOM product information: FP16 32 TFLOPS"),
                Precision.INT8: _r(128.0, "Rebellions ATOM product information: INT8 128 TOPS"),
            },
            power_w=_a(130, "assumed card power; confirm against the ATOM datasheet"),
            device_price_krw=_a(5_000_000, "assumed; no public list price"),
            training=False,
            memory_bandwidth_tb_s=_a(0.256, "16 GB GDDR6; bandwidth assumed, confirm"),
            notes="positioned by Rebellions for inference (16 GB GDDR6 per card)",
        ),
        AcceleratorFigures(
            model="REBEL",
            vendor="rebellions",
            domestic=True,
            peak_tflops={
                Precision.BF16: _r(
                    1000.0, "Rebel100 / REBEL-Quad at ISSCC 2026 (as reported): FP16 1 PFLOPS dense"
                ),
                Precision.FP8: _r(
                    2000.0, "Rebel100 / REBEL-Quad at ISSCC 2026 (as reported): FP8 2 PFLOPS dense"
                ),
            },
            power_w=_r(600, "Rebel100 / REBEL-Quad at ISSCC 2026 (as reported): 600 W"),
            device_price_krw=_a(45_000_000, "assumed; no public list price"),
            training=False,
            notes="one device is taken to be one four-chiplet REBEL-Quad package (144 GB HBM3E);"
            " positioned by Rebellions for LLM inference",
        ),
        AcceleratorFigures(
            model="SAPEON-X330",
            vendor="sapeon",
            domestic=True,
            peak_tflops={},
            power_w=_a(250, "placeholder: no datasheet figure found; confirm with Sapeon"),
            device_price_krw=_a(10_000_000, "assumed; no public list price"),
            training=False,
            notes="no public peak figures found: give --peak-tflops to estimate on it",
        ),
    )
}
"""Figures per accelerator model (the names of :data:`nuri.domain.commons.ACCELERATORS`)."""


DEFAULT_TRAINING_MFU: Final = 0.40
"""Expected model FLOPs utilisation of dense transformer training on H100-class GPUs: Meta,
"The Llama 3 Herd of Models" (2024), reports 38-43% BF16 MFU training Llama 3 405B on 8,192 to
16,384 H100s; Chowdhery et al., "PaLM" (2022), 46% on TPU v4. Smaller jobs on fewer devices
often do better, badly tuned ones far worse."""

DEFAULT_INFERENCE_UTILISATION: Final = 0.10
"""Share of peak that LLM serving achieves (decode is memory-bound). Derived from FuriosaAI's
published H100 SXM figure of 13,222 tokens/s for Llama 3.1 8B at FP8 on one card:
2 x 8.03e9 x 13,222 = 212 TFLOPS, 11% of the 1,979 TFLOPS FP8 dense peak. An assumption to be
confirmed on your own serving stack: prompt-heavy work reaches more, latency-bound work less."""


def figures_for(accelerator: str) -> AcceleratorFigures:
    """The figures of an accelerator model (any case); InvalidInput if there are none."""
    model = accelerator_named(accelerator).model
    found = FIGURES.get(model)
    if found is None:  # a model added to the domain list without figures here
        raise InvalidInput(
            f"no planning figures for accelerator {model}; give its peak (--peak-tflops) and set"
            " device_price_krw and device_power_w for its pools"
        )
    return found
