"""What devices cost in won: capital to buy them and running cost per year to keep them.

Why: a capacity plan is a budget request. Every figure here is an input a finance officer can
check and replace, and every total is an exact sum of whole won (``int``), never a float.

The model, per device::

    capital            = device_price_krw                      (server, network share included)
    IT power (kW)      = device_power_w x server_power_overhead / 1000
    energy per year    = IT power x pue x 8,760 h x electricity_krw_per_kwh
    hosting per year   = IT power x hosting_krw_per_kw_month x 12
    maintenance / year = capital x maintenance_fraction_per_year
    running per year   = energy + hosting + maintenance        (rounded half-up once, to won)

A pool's running cost is ``devices x`` the rounded per-device figure, so totals add up exactly.
Devices are assumed to draw their full board power all year: an upper bound that is the right
side to err on for a budget (average draw under training load is close to it).

Default assumptions (:class:`CostAssumptions`), all to be confirmed for a real hub:

=============================  =========  ===================================================
``electricity_krw_per_kwh``    180        about KEPCO's 2024 average industrial tariff
``pue``                        1.3        a modern air-cooled data centre (1.2-1.5 is typical)
``server_power_overhead``      1.5        server power / accelerator power: a DGX H100 is
                                          rated 10.2 kW for 8 x 700 W GPUs (1.8 at peak)
``hosting_krw_per_kw_month``   150,000    colocation space, cooling and operations per kW of
                                          IT load
``maintenance_fraction``       0.10       support contracts and spares, per year, of capital
``amortisation_years``         5          for cost per H100e-hour only
``fleet_utilisation``          0.70       share of device-hours delivered to jobs, for cost
                                          per H100e-hour only
=============================  =========  ===================================================

Device price and power default to :mod:`nuri.planning.accelerator_figures`.

Overrides, from least to most specific (each key optional)::

    # costs YAML (--costs), or the same mapping under a top-level `costs:` key of the cluster
    # spec; the --costs file wins over the cluster spec's `costs:`
    electricity_krw_per_kwh: 165
    pue: 1.25
    server_power_overhead: 1.5
    hosting_krw_per_kw_month: 120000
    maintenance_fraction_per_year: 0.08
    amortisation_years: 6
    fleet_utilisation: 0.75
    accelerators:
      H100: {device_price_krw: 48000000, device_power_w: 700}

    # in the cluster spec, on a pool (wins over everything above)
    - {name: h100, accelerator: H100, ..., device_price_krw: 50000000, device_power_w: 700}

Comparing accelerators per workload class (:func:`compare_classes`): the cost of one H100e
GPU-hour *delivered* on a device is its yearly cost (capital / amortisation years + running)
over the H100e GPU-hours it delivers in a year (8,760 h x fleet utilisation x its H100e per
device-hour *for that class*). Per class, H100e per device-hour is:

- **training**: the device's 16-bit dense peak over the H100's (989 TFLOPS), assuming equal MFU;
  devices their vendors do not offer for training show as not offered.
- **inference**: a published measured throughput relative to an H100 SXM where there is one
  (RNGD and L40S: FuriosaAI's Llama 3.1 8B serving figures), else the ratio of peaks at the best
  inference precision both devices have (FP8 where the device has it). Peak ratios ignore memory
  bandwidth, which decides LLM decoding, so they flatter compute-rich, bandwidth-poor devices.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import yaml

from nuri.domain.cluster_spec import PoolSpec
from nuri.domain.commons import accelerator_named
from nuri.domain.errors import InvalidInput
from nuri.planning.accelerator_figures import (
    FIGURES,
    AcceleratorFigures,
    Basis,
    Precision,
    figures_for,
)

HOURS_PER_YEAR: Final = 8760
WORKLOAD_CLASSES: Final = ("training", "inference")


@dataclass(frozen=True, slots=True)
class CostAssumptions:
    """Hub-wide cost assumptions (see the module docstring for defaults and their basis)."""

    electricity_krw_per_kwh: Decimal = Decimal("180")
    pue: Decimal = Decimal("1.3")
    server_power_overhead: Decimal = Decimal("1.5")
    hosting_krw_per_kw_month: Decimal = Decimal("150000")
    maintenance_fraction_per_year: Decimal = Decimal("0.10")
    amortisation_years: Decimal = Decimal("5")
    fleet_utilisation: Decimal = Decimal("0.70")


@dataclass(frozen=True, slots=True)
class DeviceCost:
    """What one device of an accelerator costs, in whole won, and why."""

    accelerator: str
    device_price_krw: int
    device_power_w: int
    running_krw_per_year: int
    price_basis: str
    power_basis: str


@dataclass(frozen=True, slots=True)
class CostBook:
    """Assumptions plus device price and power overrides per accelerator and per pool."""

    assumptions: CostAssumptions = field(default_factory=CostAssumptions)
    accelerator_overrides: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Accelerator model -> ``device_price_krw`` and/or ``device_power_w``."""
    pool_overrides: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Pool name -> ``device_price_krw`` and/or ``device_power_w`` (wins over the above)."""

    def device_cost(self, accelerator: str, pool: str | None = None) -> DeviceCost:
        """One device of ``accelerator`` (on ``pool``, whose own keys win), priced in won."""
        model = accelerator_named(accelerator).model
        figures = FIGURES.get(model)
        price: int | None = None
        power: int | None = None
        price_basis = power_basis = ""
        if figures is not None:
            price, price_basis = int(figures.device_price_krw.value), _basis(figures, "price")
            power, power_basis = int(figures.power_w.value), _basis(figures, "power")
        for origin, overrides in (
            (f"override for {model}", self.accelerator_overrides.get(model, {})),
            (f"set on pool {pool}", self.pool_overrides.get(pool or "", {})),
        ):
            if "device_price_krw" in overrides:
                price, price_basis = overrides["device_price_krw"], origin
            if "device_power_w" in overrides:
                power, power_basis = overrides["device_power_w"], origin
        if price is None or power is None:
            where = f"pool {pool}" if pool else f"accelerator {model}"
            raise InvalidInput(
                f"no device price or power for {where}; set device_price_krw and device_power_w"
                " on the pool in the cluster spec or under accelerators in a costs file"
            )
        return DeviceCost(
            accelerator=model,
            device_price_krw=price,
            device_power_w=power,
            running_krw_per_year=running_per_device_year(price, power, self.assumptions),
            price_basis=price_basis,
            power_basis=power_basis,
        )

    def pool_cost(self, pool: PoolSpec) -> DeviceCost:
        return self.device_cost(pool.accelerator, pool.name)


def running_per_device_year(
    device_price_krw: int, device_power_w: int, assumptions: CostAssumptions
) -> int:
    """Energy + hosting + maintenance of one device for a year, whole won (half-up, once)."""
    a = assumptions
    it_kw = Fraction(device_power_w) * Fraction(a.server_power_overhead) / 1000
    energy = it_kw * Fraction(a.pue) * HOURS_PER_YEAR * Fraction(a.electricity_krw_per_kwh)
    hosting = it_kw * Fraction(a.hosting_krw_per_kw_month) * 12
    maintenance = device_price_krw * Fraction(a.maintenance_fraction_per_year)
    return round_half_up(energy + hosting + maintenance)


def round_half_up(value: Fraction) -> int:
    """Whole won, halves rounded up (as the ledger rounds charges)."""
    return math.floor(value + Fraction(1, 2))


# -- comparison per workload class -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassCost:
    """Cost of one H100e GPU-hour delivered on an accelerator for one workload class.

    ``h100e_per_device_hour`` and ``krw_per_h100e_hour`` are None when the vendor does not offer
    the device for that class or no figure exists; ``basis`` says where the rate comes from.
    """

    accelerator: str
    domestic: bool
    workload_class: str
    h100e_per_device_hour: float | None
    basis: str
    device_price_krw: int
    running_krw_per_year: int
    krw_per_h100e_hour: int | None


def class_rate(figures: AcceleratorFigures, workload_class: str) -> tuple[float | None, str]:
    """H100e per device-hour of ``figures``' device for a workload class, and its basis."""
    h100 = figures_for("H100")
    if workload_class not in WORKLOAD_CLASSES:
        raise InvalidInput(f"unknown workload class {workload_class!r}; use training or inference")
    if figures.model == h100.model:
        return 1.0, "the reference"
    if workload_class == "training":
        if not figures.training:
            return None, "not offered for training by its vendor"
        if Precision.BF16 not in figures.peak_tflops:
            return None, "no published 16-bit peak"
        own = figures.peak_tflops[Precision.BF16]
        ratio = own.value / h100.peak_tflops[Precision.BF16].value
        return ratio, f"16-bit dense peak ratio ({own.basis.value}), equal MFU assumed"
    if figures.inference_vs_h100 is not None:
        measured = figures.inference_vs_h100
        return measured.ratio, f"measured: {measured.task} ({measured.basis.value})"
    for precision in (Precision.FP8, Precision.BF16, Precision.INT8):
        if precision in figures.peak_tflops and precision in h100.peak_tflops:
            own = figures.peak_tflops[precision]
            ratio = own.value / h100.peak_tflops[precision].value
            return ratio, f"{precision.value} dense peak ratio ({own.basis.value})"
    return None, "no published peak"


def compare_classes(
    accelerators: Sequence[str], book: CostBook | None = None
) -> tuple[ClassCost, ...]:
    """Cost per H100e GPU-hour delivered, per accelerator and workload class.

    The H100 is always included (first) as the reference, then the given accelerators and every
    domestic NPU with figures, each once, in that order.
    """
    book = book or CostBook()
    a = book.assumptions
    ordered: list[str] = ["H100"]
    for name in [*accelerators, *(m for m, f in FIGURES.items() if f.domestic)]:
        model = accelerator_named(name).model
        if model not in ordered:
            ordered.append(model)
    rows: list[ClassCost] = []
    for model in ordered:
        device = book.device_cost(model)
        figures = FIGURES.get(model)
        yearly = Fraction(device.device_price_krw) / Fraction(a.amortisation_years) + (
            device.running_krw_per_year
        )
        for workload_class in WORKLOAD_CLASSES:
            rate, basis = class_rate(figures, workload_class) if figures else (None, "no figures")
            per_hour = None
            if rate is not None and rate > 0:
                delivered = (
                    HOURS_PER_YEAR * Fraction(a.fleet_utilisation) * Fraction(Decimal(str(rate)))
                )
                per_hour = round_half_up(yearly / delivered)
            rows.append(
                ClassCost(
                    accelerator=model,
                    domestic=bool(figures and figures.domestic),
                    workload_class=workload_class,
                    h100e_per_device_hour=rate,
                    basis=basis,
                    device_price_krw=device.device_price_krw,
                    running_krw_per_year=device.running_krw_per_year,
                    krw_per_h100e_hour=per_hour,
                )
            )
    return tuple(rows)


# -- reading overrides --------------------------------------------------------------------------

_ASSUMPTION_KEYS: Final = {
    "electricity_krw_per_kwh",
    "pue",
    "server_power_overhead",
    "hosting_krw_per_kw_month",
    "maintenance_fraction_per_year",
    "amortisation_years",
    "fleet_utilisation",
}
_DEVICE_KEYS: Final = ("device_price_krw", "device_power_w")


def load_cost_book(cluster_yaml: Path, costs_yaml: Path | None = None) -> CostBook:
    """The cost book for a cluster spec file: its ``costs:`` and pool keys, then ``costs_yaml``."""
    cluster_data = _read_yaml(cluster_yaml, "cluster spec")
    costs_data = _read_yaml(costs_yaml, "costs file") if costs_yaml is not None else None
    return cost_book_from(cluster_data, costs_data)


def cost_book_from(cluster_data: Any, costs_data: Any = None) -> CostBook:
    """Build a :class:`CostBook` from a parsed cluster spec and an optional parsed costs file."""
    book = CostBook()
    if isinstance(cluster_data, Mapping) and cluster_data.get("costs") is not None:
        book = _apply_costs(book, cluster_data["costs"], "the cluster spec's costs")
    if costs_data is not None:
        book = _apply_costs(book, costs_data, "the costs file")
    pool_overrides: dict[str, dict[str, int]] = {}
    hubs = cluster_data.get("hubs") if isinstance(cluster_data, Mapping) else None
    for hub in hubs if isinstance(hubs, list) else []:
        pools = hub.get("pools") if isinstance(hub, Mapping) else None
        for pool in pools if isinstance(pools, list) else []:
            if isinstance(pool, Mapping) and "name" in pool:
                keys = _device_keys(pool, f"pool {pool['name']}")
                if keys:
                    pool_overrides[str(pool["name"])] = keys
    return replace(book, pool_overrides=pool_overrides)


def _apply_costs(book: CostBook, data: Any, origin: str) -> CostBook:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{origin} must be a mapping of cost assumptions")
    unknown = sorted(set(data) - _ASSUMPTION_KEYS - {"accelerators"})
    if unknown:
        known = ", ".join(sorted([*_ASSUMPTION_KEYS, "accelerators"]))
        raise InvalidInput(f"{origin}: unknown key(s) {', '.join(unknown)}; known keys: {known}")
    values = {}
    for key in _ASSUMPTION_KEYS & set(data):
        number = _decimal(data[key], f"{origin}: {key}")
        if number <= 0 or (key in ("pue", "server_power_overhead") and number < 1):
            raise InvalidInput(
                f"{origin}: {key} must be positive (pue and server_power_overhead at least 1),"
                f" got {data[key]}"
            )
        if key in ("maintenance_fraction_per_year", "fleet_utilisation") and number > 1:
            raise InvalidInput(f"{origin}: {key} is a fraction in (0, 1], got {data[key]}")
        values[key] = number
    accelerators = dict(book.accelerator_overrides)
    raw = data.get("accelerators") or {}
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{origin}: accelerators must map a model to its device keys")
    for name, keys in raw.items():
        model = accelerator_named(str(name)).model
        if not isinstance(keys, Mapping):
            raise InvalidInput(f"{origin}: accelerators.{name} must be a mapping")
        accelerators[model] = {**accelerators.get(model, {}), **_device_keys(keys, f"{name}")}
    return CostBook(
        assumptions=replace(book.assumptions, **values),
        accelerator_overrides=accelerators,
        pool_overrides=book.pool_overrides,
    )


def _device_keys(raw: Mapping[str, Any], where: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for key in _DEVICE_KEYS:
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"{where}: {key} must be a whole number >= 0, got {value!r}")
            found[key] = value
    return found


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidInput(f"{where} must be a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{where} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise InvalidInput(f"{where} must be a finite number, got {value!r}")
    return number


def _read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"no {what} at {path}") from None
    except yaml.YAMLError as error:
        raise InvalidInput(f"{path} is not valid YAML: {error}") from None


def _basis(figures: AcceleratorFigures, which: str) -> str:
    sourced = figures.device_price_krw if which == "price" else figures.power_w
    label = "assumption" if sourced.basis is Basis.ASSUMPTION else sourced.basis.value
    return f"{label}: {sourced.source}"
