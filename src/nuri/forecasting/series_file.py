"""Read a demand series from a ``timestamp,value`` CSV file, the format ``nuri forecast`` takes.

The file has a header naming (at least) the columns ``timestamp`` and ``value``, in any order
and case; other columns are ignored. A timestamp is ISO 8601 (``2026-03-02T09:00:00Z``,
``2026-03-02 09:00``, with or without a zone: no zone means UTC) or unix seconds (``1772442000``).
A value is a number. Files ending in ``.gz`` are decompressed. Blank lines are skipped.

Errors name the file and the line to fix (line 1 is the header), so a user can correct a file
of thousands of rows; regularity is checked by :func:`series_from_points` once all rows parse.
"""

import csv
import gzip
import io
import math
from datetime import UTC, datetime
from pathlib import Path

from nuri.domain.errors import InvalidInput
from nuri.forecasting.series import Series, series_from_points

TIMESTAMP_COLUMN = "timestamp"
VALUE_COLUMN = "value"


def read_series_csv(path: str | Path, name: str | None = None, *, unit: str = "GPUs") -> Series:
    """The series in the CSV file at ``path``.

    ``name`` defaults to the file name without ``.csv``/``.gz``; ``unit`` is the unit of the
    values (the file does not say). Raises :class:`InvalidInput` for a missing or unreadable
    file, a header without ``timestamp`` or ``value``, a file with no data rows, a row whose
    timestamp or value cannot be read (naming its line), and anything
    :func:`series_from_points` refuses (irregular or duplicate timestamps, NaN, negatives).
    """
    path = Path(path)
    series_name = name if name is not None else _stem(path)
    text = _read_text(path)
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or not any(cell.strip() for cell in header):
        raise InvalidInput(
            f"{path} is empty; expected a header line 'timestamp,value' and one row per step"
        )
    columns = [cell.strip().lower() for cell in header]
    missing = [column for column in (TIMESTAMP_COLUMN, VALUE_COLUMN) if column not in columns]
    if missing:
        raise InvalidInput(
            f"{path}, line 1: the header must name the columns 'timestamp' and 'value'; missing"
            f" {', '.join(map(repr, missing))} (found {', '.join(map(repr, columns))})"
        )
    time_at, value_at = columns.index(TIMESTAMP_COLUMN), columns.index(VALUE_COLUMN)
    timestamps: list[datetime] = []
    values: list[float] = []
    skipped = 0
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            skipped += 1
            continue
        if len(row) <= max(time_at, value_at):
            raise InvalidInput(
                f"{path}, line {line}: expected {len(columns)} fields, found {len(row)}"
            )
        timestamps.append(_timestamp(row[time_at], path, line))
        values.append(_value(row[value_at], path, line))
    if not values:
        raise InvalidInput(f"{path} has a header but no data rows; add one row per step")
    try:
        return series_from_points(series_name, unit, timestamps, values)
    except InvalidInput as error:
        where = "" if skipped else "; point n is on line n + 1"
        raise InvalidInput(f"{path}: {error.message}{where}") from None


def _read_text(path: Path) -> str:
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
                return handle.read()
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a CSV file") from None
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise InvalidInput(f"cannot read {path}: {error}") from None


def _timestamp(cell: str, path: Path, line: int) -> datetime:
    text = cell.strip()
    if not text:
        raise InvalidInput(f"{path}, line {line}: the timestamp is empty")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise InvalidInput(f"{path}, line {line}: the timestamp {text!r} is not a time")
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{path}, line {line}: cannot read the timestamp {text!r}; use ISO 8601"
            " (e.g. 2026-03-02T09:00:00Z) or unix seconds"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _value(cell: str, path: Path, line: int) -> float:
    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(
            f"{path}, line {line}: the value {text!r} is not a number"
            + (" (it is empty)" if not text else "")
        ) from None
    if not math.isfinite(value):
        raise InvalidInput(
            f"{path}, line {line}: the value {text!r} is not a finite number; fill the gap"
            " (e.g. interpolate) rather than leave it"
        )
    if value < 0:
        raise InvalidInput(f"{path}, line {line}: the value {text} is negative; demand cannot be")
    return value


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name
