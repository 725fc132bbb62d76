"""Integer units for GPU-hours and money, so sums never drift.

The ledger never stores a float. Its units are:

- **device-seconds**: one accelerator device held for one second, on its own pool.
- **H100e units**: thousandths of an H100-equivalent GPU-second. A pool's exchange rate is held in
  thousandths too (``rate_milli``; an A100 at 0.5 H100e is ``500``), so a charge
  ``devices x seconds x rate_milli`` is exact. One H100e GPU-hour is 3,600,000 units.
- **KRW**: whole won. A charge's cost is rounded half-up once, per charge; the ledger's total is
  the exact sum of the charges it holds.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from nuri.domain.errors import InvalidInput

SECONDS_PER_HOUR = 3600
RATE_SCALE = 1000
"""Exchange rates are stored as integer thousandths of an H100e per device-second."""
H100E_UNITS_PER_GPU_HOUR = SECONDS_PER_HOUR * RATE_SCALE
"""H100e units (thousandths of an H100e GPU-second) in one H100e GPU-hour."""


def parse_exchange_rate(text: str | Decimal | int) -> int:
    """Turn a decimal exchange rate such as ``"0.45"`` into integer thousandths (``450``).

    Refuses rates that are not positive or that need more than three decimal places, rather
    than rounding them silently.
    """
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise InvalidInput(
            f"exchange rate {text!r} is not a number; use e.g. 1.0 or 0.45"
        ) from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"exchange rate must be a positive number, got {text}")
    scaled = value * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"exchange rate {text} has more than three decimal places")
    return int(scaled)


def format_exchange_rate(rate_milli: int) -> str:
    """Show integer thousandths as a plain decimal (``450`` -> ``"0.45"``)."""
    return _plain(Decimal(rate_milli) / RATE_SCALE)


def parse_gpu_hours(text: str | Decimal | int) -> int:
    """Turn H100e GPU-hours (e.g. ``"1500"`` or ``"0.5"``) into H100e units, exactly."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise InvalidInput(f"GPU-hours {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"GPU-hours must be zero or more, got {text}")
    units = value * H100E_UNITS_PER_GPU_HOUR
    if units != units.to_integral_value():
        raise InvalidInput(f"GPU-hours {text} is finer than a thousandth of a GPU-second")
    return int(units)


def units_to_gpu_hours(units: int) -> Decimal:
    """Exact H100e GPU-hours for a number of H100e units (for display; never stored)."""
    return Decimal(units) / H100E_UNITS_PER_GPU_HOUR


def h100e_units(devices: int, seconds: int, rate_milli: int) -> int:
    """H100e units for ``devices`` of a pool held for ``seconds`` at the pool's exchange rate."""
    if devices < 0 or seconds < 0 or rate_milli < 0:
        raise InvalidInput("devices, seconds and exchange rate must not be negative")
    return devices * seconds * rate_milli


def cost_krw(devices: int, seconds: int, krw_per_device_hour: int) -> int:
    """Cost in whole won of ``devices`` held for ``seconds``, rounded half-up once."""
    if devices < 0 or seconds < 0 or krw_per_device_hour < 0:
        raise InvalidInput("devices, seconds and price must not be negative")
    numerator = devices * seconds * krw_per_device_hour
    return (2 * numerator + SECONDS_PER_HOUR) // (2 * SECONDS_PER_HOUR)


def round_hours(units: int, places: int = 4) -> float:
    """H100e GPU-hours rounded for display in JSON; the integer units stay authoritative."""
    quantum = Decimal(1).scaleb(-places)
    return float(units_to_gpu_hours(units).quantize(quantum, rounding=ROUND_HALF_UP))


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"
