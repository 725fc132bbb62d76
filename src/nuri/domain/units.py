"""Integer units for GPU-hours and money, so sums never drift.

The ledger never stores a float. Its units are:

- **device-seconds**: one accelerator device held for one second, on its own pool.
- **H100e units**: thousandths of an H100-equivalent GPU-second. A pool's exchange rate is held in
  thousandths too (``rate_milli``; an A100 at 0.5 H100e is ``500``), so a charge
  ``devices x seconds x rate_milli`` is exact. One H100e GPU-hour is 3,600,000 units.
- **KRW**: whole won. A charge's cost is rounded half-up once, per charge; the ledger's total is
  the exact sum of the charges it holds.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from nuri.domain.errors import InvalidInput

SECONDS_PER_HOUR = 3600
RATE_SCALE = 1000
"""Exchange rates are stored as integer thousandths of an H100e per device-second."""
H100E_UNITS_PER_GPU_HOUR = SECONDS_PER_HOUR * RATE_SCALE
"""H100e units (thousandths of an H100e GPU-second) in one H100e GPU-hour."""
MAX_EXCHANGE_RATE = 1000
"""No accelerator is a thousand H100s; larger rates are typing mistakes."""
MAX_GPU_HOURS = 10**12
"""A bound far above any award, so that decimal arithmetic on inputs is always exact."""


def parse_exchange_rate(text: str | Decimal | int) -> int:
    """Turn a decimal exchange rate such as ``"0.45"`` into integer thousandths (``450``).

    Refuses rates that are not positive or that need more than three decimal places, rather
    than rounding them silently.
    """
    value = _decimal(text, "exchange rate", "use e.g. 1.0 or 0.45")
    if value <= 0 or value > MAX_EXCHANGE_RATE:
        raise InvalidInput(
            f"exchange rate must be positive and at most {MAX_EXCHANGE_RATE}, got {text}"
        )
    scaled = _exact_product(value, RATE_SCALE)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"exchange rate {text} has more than three decimal places")
    return int(scaled)


def format_exchange_rate(rate_milli: int) -> str:
    """Show integer thousandths as a plain decimal (``450`` -> ``"0.45"``)."""
    return _plain(Decimal(rate_milli) / RATE_SCALE)


def parse_gpu_hours(text: str | Decimal | int) -> int:
    """Turn H100e GPU-hours (e.g. ``"1500"`` or ``"0.5"``) into H100e units, exactly."""
    value = _decimal(text, "GPU-hours", "use e.g. 1500 or 0.5")
    if value < 0 or value > MAX_GPU_HOURS:
        raise InvalidInput(
            f"GPU-hours must be zero or more and at most {MAX_GPU_HOURS}, got {text}"
        )
    units = _exact_product(value, H100E_UNITS_PER_GPU_HOUR)
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


def _decimal(text: str | Decimal | int, what: str, example: str) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidInput(f"{what} {text!r} is not a number; {example}") from None
    if not value.is_finite():
        raise InvalidInput(f"{what} must be a finite number, got {text}")
    return value


def _exact_product(value: Decimal, factor: int) -> Decimal:
    """``value * factor`` with enough precision that nothing is rounded away.

    The default context keeps 28 digits, which would silently round a long input; an input's
    digits plus the factor's always fit in the precision chosen here.
    """
    digits = len(value.as_tuple().digits) + len(str(factor)) + 2
    with localcontext() as context:
        context.prec = max(context.prec, digits)
        return value * factor


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"
